"""
Tuning entropy_weight and temperature with GridSearchCV
=======================================================

Every skssl hyperparameter is a constructor parameter, so
:class:`~sklearn.model_selection.GridSearchCV` tunes it like any other, in one of two
ways:

- **without labels**: leave ``scoring`` out and fit on ``X`` alone. The search then
  ranks the candidates by the clusterers' ``score``, the label-free
  :func:`skssl.metrics.neighbor_consistency_score`: how well the cluster of a
  held-out sample predicts the clusters of its 10 nearest neighbours in the held-out
  data (normalised mutual information, in [0, 1], greater is better);
- **with labels** for (some of) the data: pass ``scoring=hungarian_scorer``
  (:data:`skssl.metrics.hungarian_scorer`). The estimators still ignore
  ``y`` in ``fit``; the labels only score the predictions on each held-out fold
  (Hungarian-matched accuracy), so no label leaks into training.

Both clusterers fit in two stages: the graph stage's partition, then a reference
objective refining the network. ``entropy_weight`` (lambda) weighs the entropy term of
that objective in both: SCAN's loss in :class:`~skssl.SCANClusterer`, and ``"minmax"``
and ``"iic"`` in :class:`~skssl.SelfSupervisedClassifier`; ``temperature`` is read by
``"self_classifier"`` and ``"iic"``. The IIC objective reads both, so it is the one
tuned on a grid here; SCAN's lambda follows.

To keep the example under a minute on one CPU core, each fit trains a single head
(``n_init=1``) for 20 epochs a stage and the folds are two; the defaults train longer.
"""

# %%
# Tuning without labels
# ---------------------
# ``GridSearchCV`` without ``scoring`` calls the estimator's ``score`` on every
# held-out fold; ``fit(X)`` never needs ``y``.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold

from skssl import SCANClusterer, SelfSupervisedClassifier
from skssl.metrics import hungarian_scorer

X, y = load_digits(return_X_y=True)

model = SelfSupervisedClassifier(
    n_clusters=10, objective="iic", n_init=1, max_iter=20, random_state=0
)
grid = {"entropy_weight": [0.5, 5.0], "temperature": [0.1, 0.3]}
folds = KFold(n_splits=2, shuffle=True, random_state=0)

label_free = GridSearchCV(model, grid, cv=folds).fit(X)

print("label-free choice:", label_free.best_params_)
print(f"its mean held-out neighbour consistency: {label_free.best_score_:.3f}")

# %%
# Tuning against known labels
# ---------------------------
# The same search scored by Hungarian-matched accuracy. The folds and seeds are the
# same, so every candidate is fitted exactly as above: only the scores differ.
with_labels = GridSearchCV(model, grid, scoring=hungarian_scorer, cv=folds).fit(X, y)

print("choice with labels:", with_labels.best_params_)
print(f"its mean held-out accuracy: {with_labels.best_score_:.3f}")
accuracy_of_label_free_choice = with_labels.cv_results_["mean_test_score"][label_free.best_index_]
print(f"mean held-out accuracy of the label-free choice: {accuracy_of_label_free_choice:.3f}")

# %%
# Both scores over the grid
# -------------------------
# ``entropy_weight`` (lambda) rewards using all classes equally; ``temperature``
# sets how peaked the normalised head's softmax is. The two interact: the best
# temperature at one entropy weight need not be the best at another, so tune them
# together and read the whole grid, not only the best cell.
#
# The two scores measure different things: the label-free one rewards clusters
# that keep neighbourhoods of ``X`` whole (the assumption every skssl objective
# makes), the accuracy rewards agreement with these particular classes. They need
# not pick the same cell; with labels for even a sample of the data, prefer them.
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, search, label in [
    (axes[0], label_free, "neighbour consistency (no labels)"),
    (axes[1], with_labels, "Hungarian accuracy (labels)"),
]:
    scores = search.cv_results_["mean_test_score"].reshape(
        len(grid["entropy_weight"]), len(grid["temperature"])
    )
    image = ax.imshow(scores, cmap="viridis")
    fig.colorbar(image, ax=ax, label=f"mean held-out {label}")
    middle = (scores.min() + scores.max()) / 2
    for (row, column), value in np.ndenumerate(scores):
        color = "black" if value > middle else "white"  # readable on viridis' light end
        ax.text(column, row, f"{value:.3f}", ha="center", va="center", color=color)
    ax.set_xticks(range(len(grid["temperature"])), grid["temperature"])
    ax.set_yticks(range(len(grid["entropy_weight"])), grid["entropy_weight"])
    ax.set_xlabel("temperature")
    ax.set_ylabel("entropy_weight")
    ax.set_title(f"IIC on digits, 2-fold search:\n{label}")
fig.tight_layout()
plt.show()

# %%
# SCAN's lambda
# -------------
# :class:`~skssl.SCANClusterer` reads ``entropy_weight`` in its stage two, SCAN's loss.
# The same two searches, over lambda alone:
scan = SCANClusterer(n_clusters=10, n_init=1, max_iter=20, random_state=0)
scan_grid = {"entropy_weight": [0.5, 5.0]}
scan_label_free = GridSearchCV(scan, scan_grid, cv=folds).fit(X)
scan_with_labels = GridSearchCV(scan, scan_grid, scoring=hungarian_scorer, cv=folds).fit(X, y)
for name, search in [("label-free", scan_label_free), ("with labels", scan_with_labels)]:
    scores = ", ".join(f"{score:.3f}" for score in search.cv_results_["mean_test_score"])
    print(f"SCAN {name}: scores {scores} for lambda {scan_grid['entropy_weight']}")
