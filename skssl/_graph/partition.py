"""A density partition of a layout into a given number of clusters, its noise assigned.

Why: on a UMAP-style layout of the USPS neighbour graph, KMeans scored 0.80 and a
density partition 0.96. The classes are dense regions of unequal size and shape, which
KMeans' equal-variance cells split and merge; HDBSCAN's hierarchy follows the gaps.

The method is HDBSCAN's leaf clusters (:mod:`skssl._graph.hierarchy`) with the cluster
count of EVoC (the Tutte Institute): a binary search over the minimum cluster size
finds the leaves closest in number to ``n_clusters``. Points that fell out of the
hierarchy above every leaf are its noise; they join the cluster of their nearest
clustered neighbour in the mined graph (a label-free rule: a noise point is rarely a
class of its own).
"""

import numpy as np
from scipy.spatial import cKDTree

from skssl._graph.hierarchy import MIN_SAMPLES, layout_hierarchy


def assign_noise(labels, neighbors, layout):
    """Give each noise point (-1) the cluster of its nearest clustered mined neighbour.

    Repeated, so that labels spread into noise regions; points whose whole
    neighbourhood stays noise take the cluster of the nearest clustered point in
    ``layout``.
    """
    labels = labels.copy()
    for _ in range(neighbors.shape[1]):
        noise = np.flatnonzero(labels < 0)
        if noise.size == 0:
            return labels
        found = labels[neighbors[noise]]
        clustered = found >= 0
        has = clustered.any(axis=1)
        if not has.any():
            break
        labels[noise[has]] = found[has, np.argmax(clustered[has], axis=1)]
    noise = labels < 0
    if noise.any() and not noise.all():
        nearest = cKDTree(layout[~noise]).query(layout[noise])[1]
        labels[noise] = labels[~noise][nearest]
    labels[labels < 0] = 0
    return labels


def _kmeans_labels(points, n_clusters, random_state):
    """KMeans' labels of ``points`` (3 starts), for the partitions a hierarchy cannot give."""
    # Imported here: with sklearn.neighbors, which the graph stage no longer uses,
    # sklearn.cluster brought linear_model and model_selection, about 0.35 s of every
    # fit's imports, for a fallback that ordinary fits never reach.
    from sklearn.cluster import KMeans

    return KMeans(n_clusters, n_init=3, random_state=random_state).fit_predict(points)


def exactly(labels, n_clusters, layout, random_state):
    """Renumber ``labels`` into exactly ``n_clusters`` clusters (0..k-1, -1 kept).

    Extra clusters beyond the ``n_clusters`` largest become noise; while too few,
    the largest is split in two by KMeans on its layout.
    """
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    keep = found[np.argsort(-counts, kind="stable")[:n_clusters]]
    renumber = np.full(labels.max(initial=-1) + 2, -1)
    renumber[keep + 1] = np.arange(keep.shape[0])
    labels = renumber[labels + 1]
    for new in range(keep.shape[0], n_clusters):
        counts = np.bincount(labels[labels >= 0], minlength=new)
        largest = int(np.argmax(counts)) if counts.size else -1
        members = np.flatnonzero(labels == largest)
        if members.shape[0] < 2:
            break
        halves = _kmeans_labels(layout[members], 2, random_state)
        labels[members[halves == 1]] = new
    return labels


def density_partition(
    layout, n_clusters, neighbors, *, hierarchy=None, min_samples=MIN_SAMPLES, random_state=None
):
    """Partition ``layout`` into ``n_clusters`` density clusters, noise assigned.

    ``hierarchy`` is :func:`layout_hierarchy` of ``layout`` when already built (by
    :func:`estimate_n_clusters`). Returns ``(labels, noise_fraction, min_cluster_size)``.
    """
    n_samples = layout.shape[0]
    if n_clusters == 1 or n_samples <= 2 * n_clusters:
        # Too few points for a hierarchy to hold n_clusters leaves of 2.
        labels = _kmeans_labels(layout, n_clusters, random_state)
        return labels.astype(np.int64), 0.0, 0
    if hierarchy is None:
        hierarchy = layout_hierarchy(layout, min_samples)
    leaves, min_cluster_size = hierarchy.closest_count(n_clusters)
    labels = exactly(hierarchy.labels(leaves), n_clusters, layout, random_state)
    noise_fraction = float((labels < 0).mean())
    return assign_noise(labels, neighbors, layout), noise_fraction, min_cluster_size
