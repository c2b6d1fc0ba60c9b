"""
A few labels: accuracy against the fraction of labelled rows
============================================================

Most users have some labels. scikit-learn marks the unlabelled rows of ``y`` with
``-1``, as :class:`~sklearn.semi_supervised.LabelSpreading` reads them. With
``supervised=True``, :class:`~skssl.SCANClusterer` reads them too: its network also
learns the labelled rows' classes by cross-entropy, the labels spread over the
neighbour graph override its density partition where they are certain, SCAN's
neighbour consistency carries them through the rest of the data, and ``predict``
returns the class labels.

Here a stratified 1% to 10% of the digits keep their label. Each method is scored on
the rows whose label it did not see. The unsupervised fit (no labels, clusters
matched to the classes by the Hungarian algorithm) is the floor the labels lift. The
same comparison over 3 seeds, on the digits and on USPS, with self-training peers, is
on the :doc:`/user_guide/semi_supervised` page.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading

from skssl import SCANClusterer
from skssl.metrics import hungarian_accuracy_score

X, y = load_digits(return_X_y=True)
fractions = [0.01, 0.02, 0.05, 0.1]
unsupervised = SCANClusterer(n_clusters=10, random_state=0).fit(X).labels_

scores = {"SCANClusterer(supervised=True)": [], "LabelSpreading (knn)": [], "no labels": []}
for fraction in fractions:
    labelled, _ = train_test_split(
        np.arange(len(y)), train_size=fraction, stratify=y, random_state=0
    )
    partial = np.full_like(y, -1)  # -1: unlabelled
    partial[labelled] = y[labelled]
    hidden = partial == -1

    model = SCANClusterer(n_clusters=10, supervised=True, random_state=0).fit(X, partial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows the graph never reaches
        spreading = LabelSpreading(kernel="knn").fit(X, partial)
    scores["SCANClusterer(supervised=True)"].append(np.mean(model.labels_[hidden] == y[hidden]))
    # predict() reads each row's neighbourhood of spread labels: more accurate here
    # than the transduction_ attribute, whose rows the graph never reached default to 0.
    scores["LabelSpreading (knn)"].append(np.mean(spreading.predict(X[hidden]) == y[hidden]))
    scores["no labels"].append(hungarian_accuracy_score(y[hidden], unsupervised[hidden]))

for name, values in scores.items():
    print(f"{name:32s}", " ".join(f"{v:.3f}" for v in values))

# %%
# ``predict`` now returns the classes themselves, and ``classes_`` lists them in the
# order of ``predict_proba``'s columns.
print(model.classes_, model.predict(X[:8]), y[:8])

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for name, values in scores.items():
    ax.plot([100 * f for f in fractions], values, marker="o", label=name)
ax.set_xlabel("labelled rows (%)")
ax.set_ylabel("accuracy on the unlabelled rows")
ax.set_title("Digits, random_state=0")
ax.legend()
plt.show()
