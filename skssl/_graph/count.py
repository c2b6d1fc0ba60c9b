"""The number of density clusters in a layout, for ``n_clusters="auto"``.

Every count of leaf clusters that the layout's hierarchy realises is a candidate; each
is scored by the silhouette of its partition in the layout, and partitions that tear a
neighbourhood of the mined graph rank last.
"""

import math
import warnings

import numpy as np
from sklearn.metrics import pairwise_distances, silhouette_score

from skssl._graph.partition import assign_noise

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


def count_bounds(max_clusters, n_samples, min_clusters=2):
    """The counts ``(low, high)`` that ``n_clusters="auto"`` considers.

    ``max_clusters=None`` means ``floor(sqrt(n_samples / 2))``, the rule of thumb for
    the number of clusters in ``n_samples`` points; at or above ``n_samples`` it is
    clipped, with a UserWarning. ``low`` is at least 2 (and the labelled classes of a
    supervised fit, passed as ``min_clusters``).
    """
    if max_clusters is None:
        max_clusters = max(2, math.isqrt(n_samples // 2))
    elif max_clusters >= n_samples:
        warnings.warn(
            f"max_clusters={max_clusters} is at least n_samples={n_samples}: "
            f"clipped to {n_samples - 1}.",
            UserWarning,
            stacklevel=5,
        )
        max_clusters = n_samples - 1
    low = max(2, min_clusters)
    return low, min(max(max_clusters, low), n_samples)
