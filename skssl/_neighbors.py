"""Nearest-neighbour mining: the one place every estimator (and ``score``) finds neighbours.

Exact search (scikit-learn's chunked brute force, never an n x n matrix in memory)
is used up to :data:`EXACT_SEARCH_MAX_SAMPLES` rows; above it PyNNDescent builds an
approximate graph. PyNNDescent is imported only then: its numba code compiles on
the first call in every process (25-45 s), which small fits should never pay.
"""

import warnings

import numpy as np
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors

#: Largest input searched exactly by ``method="auto"``. Measured on 2 cores with 32
#: features (benchmarks/results/scale.md): exact Euclidean search takes 0.3 s at 10^4
#: rows and 24 s at 10^5, and the cosine search SCAN uses several times that (most of
#: a 95 s fit at 10^5), against PyNNDescent's 1-4 s plus an 18-45 s numba compile per
#: process. Exact search is quadratic in n, so it stops at 5 x 10^4 rows.
EXACT_SEARCH_MAX_SAMPLES = 50_000

#: Memory (MB) for one chunk of exact distances.
EXACT_SEARCH_WORKING_MEMORY_MB = 128

#: PyNNDescent builds its graph with at least this many neighbours, each row comparing
#: up to ``APPROXIMATE_MAX_CANDIDATES`` candidates per round, and keeps the first
#: ``n_neighbors``. Cosine, 32-d blobs, 10^5 rows, 2 cores: recall@10 0.737 in 2.0 s
#: with PyNNDescent's defaults for 11 neighbours, 0.947 in 3.5 s with 16 and 32
#: candidates, 0.991 in 6.8 s with 31 neighbours.
APPROXIMATE_BUILD_NEIGHBORS = 16
APPROXIMATE_MAX_CANDIDATES = 32


def unit_rows(X):
    """The rows of ``X`` scaled to unit length; rows of zeros stay zero.

    Not :func:`sklearn.preprocessing.normalize`, which leaves rows whose norm is below
    ten machine epsilons unscaled: rows of values near 1e-10 (float32) or 1e-16 then
    stayed tiny and every cosine distance came out as 1/2.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))[:, None]
    return X / np.where(norms > 0, norms, 1)


def _drop_self(indices):
    """Remove each row's own index from its list (or its last entry when absent)."""
    n, width = indices.shape
    is_self = indices == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, width - 1] = True
    # Exactly one entry per row is flagged, so every row keeps width - 1 entries.
    return indices[~is_self].reshape(n, width - 1)


#: ``metric="auto"`` mines cosine neighbours from this many features up, else Euclidean.
AUTO_COSINE_MIN_FEATURES = 10


def resolve_metric(metric, n_features):
    """``metric`` with ``"auto"`` resolved: cosine from ``AUTO_COSINE_MIN_FEATURES`` up."""
    if metric != "auto":
        return metric
    return "cosine" if n_features >= AUTO_COSINE_MIN_FEATURES else "euclidean"


def check_neighbor_count(n_neighbors, n_samples):
    """``n_neighbors`` that ``n_samples`` rows can supply, with a UserWarning when clipped."""
    if n_neighbors < 1 or n_samples < 2:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be at least 1, and X needs 2 rows (has {n_samples})."
        )
    if n_neighbors >= n_samples:
        warnings.warn(
            f"n_neighbors={n_neighbors} is not below n_samples={n_samples}: every other "
            f"sample is used as a neighbour ({n_samples - 1}).",
            UserWarning,
            stacklevel=4,
        )
        n_neighbors = n_samples - 1
    return n_neighbors


def search_method(method, n_samples):
    """``method`` with ``"auto"`` resolved: exact up to ``EXACT_SEARCH_MAX_SAMPLES`` rows."""
    if method == "auto":
        return "exact" if n_samples <= EXACT_SEARCH_MAX_SAMPLES else "approximate"
    if method not in ("exact", "approximate"):
        raise ValueError(f"method must be 'auto', 'exact' or 'approximate', got {method!r}.")
    return method


def approximate_index(X, n_neighbors, *, metric="euclidean", random_state=None, queryable=False):
    """PyNNDescent's index of ``X``, its graph built with at least ``n_neighbors`` (self included).

    Imported here only: its numba code compiles on the first call in every process.
    ``queryable`` keeps the search tree that ``query`` needs (``compressed=False``).
    """
    from pynndescent import NNDescent

    build = min(X.shape[0] - 1, max(APPROXIMATE_BUILD_NEIGHBORS, n_neighbors))
    return NNDescent(
        np.asarray(X, dtype=np.float32),
        n_neighbors=build + 1,
        max_candidates=max(APPROXIMATE_MAX_CANDIDATES, build + 1),
        metric=metric,
        random_state=random_state,
        low_memory=True,
        compressed=not queryable,
    )


def mine_neighbors(X, n_neighbors, *, metric="euclidean", method="auto", random_state=None):
    """Return the ``n_neighbors`` nearest neighbours of every row of ``X``, self excluded.

    The one policy for a neighbour count the data cannot supply: with ``n_neighbors``
    at or above ``n_samples`` every other row is a neighbour (``n_samples - 1`` of
    them) and a UserWarning says so. The estimators record the count used in their
    fitted attributes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        At least 2 rows.
    n_neighbors : int
        Neighbours per row, at least 1.
    metric : {"euclidean", "cosine"}, default="euclidean"
    method : {"auto", "exact", "approximate"}, default="auto"
        ``"auto"`` searches exactly up to ``EXACT_SEARCH_MAX_SAMPLES`` rows.
    random_state : int, default=None
        Seed passed to PyNNDescent.

    Returns
    -------
    neighbors : ndarray of shape (n_samples, min(n_neighbors, n_samples - 1)), dtype int32
        Row ``i`` lists its neighbours from nearest to farthest.

    Examples
    --------
    >>> import numpy as np
    >>> from skssl._neighbors import mine_neighbors
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> mine_neighbors(X, 1)
    array([[1],
           [0],
           [3],
           [2]], dtype=int32)
    """
    n_samples = X.shape[0]
    n_neighbors = check_neighbor_count(n_neighbors, n_samples)
    method = search_method(method, n_samples)
    if method == "exact":
        if metric == "cosine":
            # Euclidean distances between unit rows rank as cosine distances do, and
            # scikit-learn's compiled Euclidean search found them in 0.3 s against 0.9 s
            # for its cosine path (10^4 x 32), which clips a full distance chunk.
            X, metric = unit_rows(X), "euclidean"
        search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute", metric=metric)
        # kneighbors() without X leaves each point out of its own list, ties included.
        # Distances are computed in row chunks; scikit-learn's default allows 1 GB of
        # them at once, which dominated peak memory of 10^4-row cosine fits.
        with config_context(working_memory=EXACT_SEARCH_WORKING_MEMORY_MB):
            return search.fit(X).kneighbors(return_distance=False).astype(np.int32)
    index = approximate_index(X, n_neighbors + 1, metric=metric, random_state=random_state)
    indices, _ = index.neighbor_graph
    return _drop_self(indices)[:, :n_neighbors].astype(np.int32)


def neighbor_recall(found, exact):
    """Fraction of the exact neighbours that ``found`` recovers, averaged over rows."""
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(found, exact))
    return hits / exact.size
