"""A density partition of a low-dimensional layout into a given number of clusters.

Why: on a UMAP-style layout of the USPS neighbour graph, KMeans scored 0.80 and a
density partition 0.96. The classes are dense regions of unequal size and shape, which
KMeans' equal-variance cells split and merge; HDBSCAN's hierarchy follows the gaps.

The method is HDBSCAN's (Campello, Moulavi and Sander, 2013) with the cluster count
of EVoC (the Tutte Institute): distances become mutual reachability distances
``max(core_i, core_j, d_ij)``, ``core`` being the distance to the ``min_samples``-th
neighbour; their minimum spanning tree gives a single-linkage hierarchy; with a
minimum cluster size ``m``, a merge whose two sides both hold ``m`` points is a true
split, and the clusters with no true split below them are the leaves. A binary search
over ``m`` finds the leaves closest in number to ``n_clusters``. Points that fell out
of the hierarchy above every leaf are its noise; they join the cluster of their
nearest clustered neighbour in the mined graph (a label-free rule: a noise point is
rarely a class of its own).

Everything is vectorised over the tree: a subtree is one contiguous range of its
leaves in the dendrogram's order, so "is there a true split below" is a prefix sum.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, silhouette_score
from sklearn.neighbors import NearestNeighbors

#: Neighbours in the layout that define a point's density (its core distance): EVoC's
#: and HDBSCAN's default.
MIN_SAMPLES = 5

#: Neighbours per point in the layout from which the spanning tree is built.
TREE_NEIGHBORS = 15


def mutual_reachability_tree(layout, min_samples):
    """Edges ``(a, b, distance)`` of a minimum spanning tree of mutual reachability.

    Built on the layout's ``TREE_NEIGHBORS`` nearest neighbours; components that this
    graph leaves apart are joined through their closest pair of points.
    """
    n_samples = layout.shape[0]
    n_neighbors = min(max(min_samples, TREE_NEIGHBORS), n_samples - 1)
    # kneighbors() without X leaves each point out of its own list.
    distances, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(layout).kneighbors()
    core = distances[:, min(min_samples, n_neighbors) - 1]
    rows = np.repeat(np.arange(n_samples), n_neighbors)
    cols = indices.ravel()
    # A tiny offset keeps zero distances (duplicates) as stored edges.
    reach = np.maximum(np.maximum(core[rows], core[cols]), distances.ravel()) + 1e-12
    graph = sp.csr_matrix((reach, (rows, cols)), shape=(n_samples, n_samples))
    tree = minimum_spanning_tree(graph.maximum(graph.T)).tocoo()
    edges = [np.column_stack([tree.row, tree.col, tree.data])]
    n_components, component = connected_components(tree, directed=False)
    if n_components > 1:
        edges.append(_joining_edges(layout, core, component, n_components))
    edges = np.concatenate(edges)
    return edges[np.argsort(edges[:, 2], kind="stable")]


def _joining_edges(layout, core, component, n_components):
    """Edges joining components along a spanning tree of their centroids."""
    members = [np.flatnonzero(component == c) for c in range(n_components)]
    centroids = np.array([layout[m].mean(axis=0) for m in members])
    gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=2) + 1e-12
    links = minimum_spanning_tree(sp.csr_matrix(gaps)).tocoo()
    joins = []
    for c, d in zip(links.row, links.col):
        search = NearestNeighbors(n_neighbors=1).fit(layout[members[d]])
        distance, nearest = search.kneighbors(layout[members[c]])
        a = int(np.argmin(distance[:, 0]))
        i, j = members[c][a], members[d][nearest[a, 0]]
        joins.append((i, j, max(distance[a, 0], core[i], core[j]) + 1e-12))
    return np.array(joins)


def single_linkage(edges, n_samples):
    """Merge tree of sorted spanning-tree edges: ``(left, right, size)`` of nodes ``n..2n-2``.

    Node ``n + m`` is the ``m``-th merge; ``size`` covers every node, points included.
    """
    parent = np.arange(2 * n_samples - 1)
    size = np.ones(2 * n_samples - 1, dtype=np.int64)
    left = np.empty(n_samples - 1, dtype=np.int64)
    right = np.empty(n_samples - 1, dtype=np.int64)

    def root(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m, (a, b) in enumerate(edges[:, :2].astype(np.int64)):
        node = n_samples + m
        left[m], right[m] = root(a), root(b)
        size[node] = size[left[m]] + size[right[m]]
        parent[left[m]] = parent[right[m]] = node
    return left, right, size


class LeafHierarchy:
    """A single-linkage tree read at any minimum cluster size, vectorised.

    Parameters
    ----------
    left, right, size : ndarray
        From :func:`single_linkage`.
    """

    def __init__(self, left, right, size):
        n_samples = left.shape[0] + 1
        self.n_samples, self.left, self.right, self.size = n_samples, left, right, size
        # First position of every node's points in the dendrogram's leaf order.
        start = np.zeros(2 * n_samples - 1, dtype=np.int64)
        for m in range(n_samples - 2, -1, -1):
            start[left[m]] = start[n_samples + m]
            start[right[m]] = start[n_samples + m] + size[left[m]]
        self.start = start
        self.order = np.empty(n_samples, dtype=np.int64)
        self.order[start[:n_samples]] = np.arange(n_samples)
        # Merge m's boundary between its two sides: a position in 1..n-1, one per merge.
        self.boundary = start[right]

    def leaves(self, min_cluster_size):
        """The nodes that start leaf clusters at ``min_cluster_size``."""
        n = self.n_samples
        big_left = self.size[self.left] >= min_cluster_size
        big_right = self.size[self.right] >= min_cluster_size
        split = big_left & big_right
        # Splits whose boundary lies strictly inside a node's range lie below it.
        splits_before = np.concatenate(
            [[0], np.cumsum(np.bincount(self.boundary[split], minlength=n))]
        )
        first, end = self.start + 1, self.start + self.size
        has_split = splits_before[end] - splits_before[np.minimum(first, end)] > 0
        starts = np.concatenate([self.left[split], self.right[split]])
        if starts.size == 0:
            return np.array([2 * n - 2])
        return starts[~has_split[starts]]

    def labels(self, leaves):
        """Cluster of every point in the subtree of each leaf, -1 for the rest (noise)."""
        labels = np.full(self.n_samples, -1, dtype=np.int64)
        for c, node in enumerate(leaves):
            labels[self.order[self.start[node] : self.start[node] + self.size[node]]] = c
        return labels

    def closest_count(self, n_clusters):
        """Leaves of the minimum cluster size whose leaf count is nearest ``n_clusters``.

        EVoC's bisection: the count falls, roughly, as the size grows. Ties go to the
        smaller size, which leaves fewer points as noise.
        """
        low, high = 2, max(self.n_samples // 2, 3)
        low_leaves, high_leaves = self.leaves(low), self.leaves(high)
        while high - low > 1:
            mid = (low + high) // 2
            mid_leaves = self.leaves(mid)
            if len(mid_leaves) < n_clusters:
                high, high_leaves = mid, mid_leaves
            else:
                low, low_leaves = mid, mid_leaves
        if abs(len(low_leaves) - n_clusters) <= abs(len(high_leaves) - n_clusters):
            return low_leaves, low
        return high_leaves, high


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
        search = NearestNeighbors(n_neighbors=1).fit(layout[~noise])
        labels[noise] = labels[~noise][search.kneighbors(layout[noise])[1][:, 0]]
    labels[labels < 0] = 0
    return labels


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
        halves = KMeans(2, n_init=3, random_state=random_state).fit_predict(layout[members])
        labels[members[halves == 1]] = new
    return labels


def layout_hierarchy(layout, min_samples=MIN_SAMPLES):
    """The :class:`LeafHierarchy` of ``layout``'s mutual reachability spanning tree."""
    n_samples = layout.shape[0]
    edges = mutual_reachability_tree(layout, min(min_samples, n_samples - 1))
    return LeafHierarchy(*single_linkage(edges, n_samples))


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
        labels = KMeans(n_clusters, n_init=3, random_state=random_state).fit_predict(layout)
        return labels.astype(np.int64), 0.0, 0
    if hierarchy is None:
        hierarchy = layout_hierarchy(layout, min_samples)
    leaves, min_cluster_size = hierarchy.closest_count(n_clusters)
    labels = exactly(hierarchy.labels(leaves), n_clusters, layout, random_state)
    noise_fraction = float((labels < 0).mean())
    return assign_noise(labels, neighbors, layout), noise_fraction, min_cluster_size


#: Points of the layout on which each candidate's silhouette is computed (a seeded
#: sample above it), their distances computed once for every candidate: with 5000
#: points and distances recomputed, the estimate took 8 s of a 15 s USPS fit.
SILHOUETTE_SAMPLE = 3000

#: Minimum cluster sizes tried when counting, spaced evenly in log from 2 to ``n / 2``.
COUNT_GRID = 80

#: A runner-up count whose silhouette is within this of the best makes the estimate
#: weak (warned about). On the layouts measured, the best led its runner-up by 0.25 on
#: wine and breast cancer and by 0.001-0.04 on USPS, the digits and the 2-d blobs.
NEAR_TIE = 0.02

#: Kaufman and Rousseeuw's bound between weak and reasonable structure, applied to the
#: best silhouette discounted by the mined graph's edges its partition cuts (see
#: :func:`structure_score`). Below it the data may hold no clusters, and the fewest
#: candidate clusters are kept. Measured: 0.66-0.80 on the seven data sets of the user
#: guide, 0.44-0.49 on uniform and Gaussian noise in 2-d, at most 0.2 from 5-d up.
MIN_STRUCTURE = 0.5


def structure_score(silhouette, labels, neighbors):
    """``silhouette * (1 - cut / cut_random)``: separation that the mined graph backs.

    ``cut`` is the share of mined neighbour pairs that ``labels`` puts in different
    clusters, and ``cut_random = 1 - sum_c p_c^2`` that of a random partition with the
    same cluster shares ``p_c``. The layout can tear a region that the graph holds
    together (uniform noise lays out as clusters); the tear then cuts many edges.
    """
    cut = float((labels[neighbors] != labels[:, None]).mean())
    shares = np.bincount(labels) / labels.shape[0]
    return silhouette * (1 - cut / max(1 - float((shares**2).sum()), 1e-12))


def largest_pair_share(labels, neighbors):
    """The largest share of one cluster's mined neighbour pairs that lead into one other.

    Pairs are counted both ways (``i`` lists ``j`` or ``j`` lists ``i``). Above
    ``1 / k`` for ``k`` neighbours, the points of some cluster have on average more
    than one neighbour in one other cluster: the two are one neighbourhood, which the
    layout tore (measured: 0.09-0.10 where a compact 100-point blob tore in two,
    0.004-0.059 for the partitions chosen on the seven data sets of the user guide).
    """
    n_clusters = int(labels.max()) + 1
    pair_index = (labels[:, None] * n_clusters + labels[neighbors]).ravel()
    pairs = np.bincount(pair_index, minlength=n_clusters**2).reshape(n_clusters, n_clusters)
    pairs = pairs + pairs.T
    shares = pairs / np.maximum(pairs.sum(axis=1, keepdims=True), 1)
    np.fill_diagonal(shares, 0)
    return float(shares.max())


def count_candidates(layout, neighbors, hierarchy, low, high):
    """Every count of leaf clusters in ``[low, high]`` that the hierarchy realises.

    Each count is read at the smallest minimum cluster size of ``COUNT_GRID`` that gives
    it, noise assigned. Returns ``{count: (min_cluster_size, labels, noise_fraction)}``.
    """
    grid = np.geomspace(2, max(hierarchy.n_samples // 2, 3), COUNT_GRID)
    candidates = {}
    for min_cluster_size in np.unique(grid.astype(np.int64)):
        leaves = hierarchy.leaves(min_cluster_size)
        count = leaves.shape[0]
        if low <= count <= high and count not in candidates:
            labels = hierarchy.labels(leaves)
            noise_fraction = float((labels < 0).mean())
            labels = assign_noise(labels, neighbors, layout)
            candidates[count] = (int(min_cluster_size), labels, noise_fraction)
    return candidates


def estimate_n_clusters(
    layout, hierarchy, neighbors, max_clusters, *, min_clusters=2, random_state=None
):
    """The count of density clusters whose partition of ``layout`` has the best silhouette.

    Candidates are the counts in ``[min_clusters, max_clusters]`` that the layout's
    HDBSCAN hierarchy (:func:`layout_hierarchy`) holds at some minimum cluster size
    (:func:`count_candidates`).
    Each is scored by the mean silhouette (Rousseeuw, 1987) of its partition in the
    layout, where the clusters are read: compact, well-apart groups score near 1.
    Candidates in which two clusters share a neighbourhood of the mined graph
    (:func:`largest_pair_share` above ``1 / k``) rank after the others: the layout
    can tear a region the graph holds together, and the silhouette rewards the tear.

    Returns ``(n_clusters, search, weakness)``: ``search`` is a dict of arrays
    ``n_clusters``, ``silhouette``, ``min_cluster_size``, ``noise_fraction`` and
    ``largest_pair_share`` over the candidates, by increasing count; ``weakness`` is
    None or a sentence saying why the estimate is weak (weak structure, a near tie, or
    the bound), naming the runner-up.
    """
    n_samples = layout.shape[0]
    candidates = count_candidates(layout, neighbors, hierarchy, min_clusters, max_clusters)
    counts = np.array(sorted(candidates), dtype=np.int64)
    scores = np.empty(0)
    if counts.size:
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(n_samples, min(n_samples, SILHOUETTE_SAMPLE), replace=False))
        distances = pairwise_distances(layout[sample])
        scores = np.array([_silhouette(distances, candidates[k][1][sample]) for k in counts])
    search = {
        "n_clusters": counts,
        "silhouette": scores,
        "min_cluster_size": np.array([candidates[k][0] for k in counts], dtype=np.int64),
        "noise_fraction": np.array([candidates[k][2] for k in counts]),
        "largest_pair_share": np.array(
            [largest_pair_share(candidates[k][1], neighbors) for k in counts]
        ),
    }
    if counts.size == 0:
        return (
            min_clusters,
            search,
            (
                f"the layout's hierarchy holds no count of clusters between {min_clusters} and "
                f"{max_clusters}; {min_clusters} is used"
            ),
        )
    # A partition with a torn neighbourhood ranks after every other (if any is left).
    torn = search["largest_pair_share"] > 1 / max(neighbors.shape[1], 1)
    ranked = np.lexsort((-scores, torn))
    best = counts[ranked[0]]
    if counts.size == 1:
        return int(best), search, None
    runner_up, gap = counts[ranked[1]], scores[ranked[0]] - scores[ranked[1]]
    if torn[ranked[1]] != torn[ranked[0]]:
        gap = np.inf  # the runner-up was set back for its torn pair, not outscored
    structure = structure_score(scores[ranked[0]], candidates[best][1], neighbors)
    if structure < MIN_STRUCTURE:
        return (
            int(counts[0]),
            search,
            (
                f"the best partition ({best} clusters, silhouette {scores[ranked[0]]:.3f}) "
                f"shows weak structure ({structure:.3f} < {MIN_STRUCTURE} once the mined "
                "neighbour pairs it separates are counted): the data may hold no clusters; "
                f"the fewest, {counts[0]}, is used, and the runner-up is {best}"
            ),
        )
    if gap < NEAR_TIE:
        return (
            int(best),
            search,
            (
                f"{runner_up} clusters score nearly as well (silhouette "
                f"{scores[ranked[1]]:.3f} against {scores[ranked[0]]:.3f})"
            ),
        )
    if best == max_clusters:
        return (
            int(best),
            search,
            (
                f"the count is at the bound max_clusters={max_clusters}; the runner-up is "
                f"{runner_up}. Raise max_clusters to look further"
            ),
        )
    return int(best), search, None


def _silhouette(distances, labels):
    """Mean silhouette from pairwise ``distances``; -1 for a single cluster."""
    if np.unique(labels).shape[0] < 2:
        return -1.0
    return float(silhouette_score(distances, labels, metric="precomputed"))
