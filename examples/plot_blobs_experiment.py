"""
The seed experiment: ten Gaussian blobs
=======================================

The min-max ("SCANv2") loss was first shown on ten 2-D Gaussian blobs of 100
points each. This example repeats that experiment with
:class:`~skssl.SelfSupervisedClassifier` and compares it with
:class:`~sklearn.cluster.KMeans`.

An honest warning first: ``make_blobs`` draws isotropic Gaussian blobs of equal
spread, which is exactly the model KMeans fits, and with its default spread the
blobs overlap. KMeans is therefore the right tool here, and it is at least as
accurate as the neural objective (on some draws the two tie). The comparison
measured over several seeds is on the :doc:`/benchmarks` page (from
``benchmarks/results/objectives.md``). The neural estimators pay off on data whose
classes are not spherical, such as the digits (see the other examples).
"""

# %%
# The data
# --------
# ``y`` is only used to score the result: no estimator below sees it.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from skssl import SelfSupervisedClassifier
from skssl.metrics import hungarian_accuracy_score, matched_confusion_matrix
from skssl.plotting import MatchedConfusionMatrixDisplay, plot_embedding, plot_history

X, y = make_blobs(n_samples=1000, centers=10, n_features=2, random_state=0)

# %%
# Fit both estimators
# -------------------
# ``n_init`` trains several networks from different initialisations and keeps the
# one with the lowest final loss (like ``KMeans(n_init=...)``); labels are never
# used to choose.
model = SelfSupervisedClassifier(n_clusters=10, random_state=0).fit(X)
kmeans = KMeans(n_clusters=10, n_init=10, random_state=0).fit(X)

model_accuracy = hungarian_accuracy_score(y, model.labels_)
kmeans_accuracy = hungarian_accuracy_score(y, kmeans.labels_)
print(f"SelfSupervisedClassifier (min-max): {model_accuracy:.3f}")
print(f"KMeans:                             {kmeans_accuracy:.3f}")

# %%
# Predicted clusters beside the true blobs
# ----------------------------------------
# Cluster numbers are arbitrary, so each cluster is renamed after the class the
# Hungarian matching assigns it (:func:`skssl.metrics.matched_confusion_matrix`
# gives the cluster matched to each class): matching colours then mean matching
# groups. The errors sit where neighbouring blobs overlap; no clusterer can recover
# those points, since they lie nearer another blob's centre.


def rename_by_matched_class(y_true, labels):
    """Each cluster renamed after its matched class (-1 when it has none)."""
    classes = np.unique(y_true)
    _, column_clusters = matched_confusion_matrix(y_true, labels)
    renamed = np.full(labels.shape, -1)
    for cls, cluster in zip(classes, column_clusters):
        renamed[labels == cluster] = cls
    return renamed


fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharex=True, sharey=True)
plot_embedding(X, y, ax=axes[0], title="true blobs")
for ax, name, labels in [
    (axes[1], "SelfSupervisedClassifier", model.labels_),
    (axes[2], "KMeans", kmeans.labels_),
]:
    plot_embedding(X, rename_by_matched_class(y, labels), y_true=y, ax=ax, title=name)
fig.tight_layout()

# %%
# The matched confusion matrix
# ----------------------------
# Columns are the predicted clusters reordered by the Hungarian matching, so a
# perfect clustering is diagonal; off-diagonal counts show which blobs were merged
# or split.
fig, ax = plt.subplots(figsize=(6.5, 5))
MatchedConfusionMatrixDisplay.from_predictions(y, model.labels_, ax=ax)
fig.tight_layout()

# %%
# The training history
# --------------------
# ``history_`` holds one record per epoch of the kept initialisation;
# ``cluster_size_entropy`` (natural log, at most ``log(10) = 2.30`` here) shows
# whether all classes stay in use.
fig, ax = plt.subplots(figsize=(6, 3.5))
plot_history(model, keys=("loss", "cluster_size_entropy"), ax=ax)
fig.tight_layout()
plt.show()
