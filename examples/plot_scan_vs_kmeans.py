"""
SCAN against KMeans on the digits
=================================

:class:`~skssl.SCANClusterer` mines the nearest neighbours of every sample, lays
their graph out in a few dimensions, partitions the layout by density and trains a
softmax network on that partition. On scikit-learn's 8x8 digits, whose classes are
not spherical blobs, this beats centroid clustering: compare the two matched
confusion matrices below. The accuracies measured over several seeds, with more
baselines, are on the :doc:`/benchmarks` page (``benchmarks/results/suite.md``).
"""

# %%
# Fit SCAN and KMeans
# -------------------
# Both see only ``X``; ``y`` is used to score them.
import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from skssl import SCANClusterer
from skssl.metrics import hungarian_accuracy_score, neighbor_consistency_score
from skssl.plotting import MatchedConfusionMatrixDisplay

X, y = load_digits(return_X_y=True)

scan = SCANClusterer(n_clusters=10, random_state=0).fit(X)
kmeans = KMeans(n_clusters=10, n_init=10, random_state=0).fit(X)

print(f"SCANClusterer: {hungarian_accuracy_score(y, scan.labels_):.3f}")
print(f"KMeans:        {hungarian_accuracy_score(y, kmeans.labels_):.3f}")

# %%
# Matched confusion matrices
# --------------------------
# Columns are the clusters reordered by the Hungarian matching, so a perfect
# clustering is diagonal. KMeans mixes several pairs of digits (1 and 8, 5 and 9,
# 8 and 9, ...) that SCAN keeps apart; SCAN's errors gather in a few rows.
fig, axes = plt.subplots(1, 2, figsize=(13, 5))
MatchedConfusionMatrixDisplay.from_predictions(y, scan.labels_, ax=axes[0])
axes[0].set_title(f"SCANClusterer: {axes[0].get_title()}")
MatchedConfusionMatrixDisplay.from_predictions(y, kmeans.labels_, ax=axes[1])
axes[1].set_title(f"KMeans: {axes[1].get_title()}")
fig.tight_layout()

# %%
# What SCAN reports about its clusters
# ------------------------------------
# Without labels, ``cluster_sizes_`` and the entropy of the cluster sizes tell
# whether the clusters are balanced or some collapsed; ``noise_fraction_`` is the
# share of samples that the density hierarchy left out of every cluster (they join
# their nearest clustered neighbour's cluster), and ``min_cluster_size_`` the size at
# which the hierarchy had ``n_clusters`` leaves.
print("cluster sizes:", scan.cluster_sizes_)
print(f"cluster-size entropy: {scan.history_[-1]['cluster_size_entropy']:.3f}")
print(f"noise fraction: {scan.noise_fraction_:.3f}, min cluster size: {scan.min_cluster_size_}")

# %%
# A label-free score
# ------------------
# ``score(X)`` needs no labels either: it is the neighbour consistency of the
# clusters (:func:`skssl.metrics.neighbor_consistency_score`), the normalised mutual
# information between the cluster of each sample and those of its 10 nearest
# neighbours in ``X``. It is what ``GridSearchCV`` ranks by when no ``scoring`` is
# given; here it is computed for KMeans' clusters too.
print(f"neighbour consistency, SCANClusterer: {scan.score(X):.3f}")
print(f"neighbour consistency, KMeans:        {neighbor_consistency_score(X, kmeans.labels_):.3f}")

# %%
# SCAN's embedding
# ----------------
# ``transform`` returns what the cluster heads read, the network's last hidden layer
# (128 units by default), where ``KMeans.transform`` returns distances to the
# centres; ``get_feature_names_out`` names its columns, and
# ``scan.set_output(transform="pandas")`` would make it a DataFrame.
embedding = scan.transform(X)
print("embedding:", embedding.shape, "columns", scan.get_feature_names_out()[:3], "...")
plt.show()
