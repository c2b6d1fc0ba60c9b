"""Nearest-neighbour mining: the one place every estimator (and ``score``) finds neighbours.

:func:`mine_neighbors` finds each row's nearest rows and their distances, in tables
and in images (``image_shape``: neighbours under one-pixel shifts). The search is
exact (:func:`exact_search`: chunked brute force, never an n x n matrix in memory)
or approximate (PyNNDescent's), whichever :func:`search_method`'s cost model finds
faster. Tables are searched approximately through :mod:`skssl._graph.descent`, which
numba compiles once per machine and keeps on disk; images through PyNNDescent's
index, whose query code compiles again in every process (about 10 s). PyNNDescent is
imported only when it is used."""

import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

#: Images are searched exactly up to this many rows. Their approximate search queries
#: PyNNDescent's index, whose numba code compiles in every process (about 10 s).
EXACT_SEARCH_MAX_SAMPLES = 50_000

#: The cost model of ``method="auto"`` for tables, in seconds on 2 cores (AMD EPYC,
#: each search with its library's default threads; measured on Fashion-MNIST's pixels,
#: every 4th and every 12th of them, and 32-d blobs, 5,000 to 100,000 rows; within a
#: fifth of each measurement). It reads only the shape, so a seeded fit makes the same
#: choice on any machine and thread count. Exact search costs
#: ``n^2 (EXACT_PAIR_SECONDS + EXACT_FEATURE_SECONDS d)``. The approximate search pays
#: ``APPROXIMATE_START_SECONDS`` once (importing numba and PyNNDescent and loading the
#: descent compiled on disk), then ``(n / 10^4)^1.2 (APPROXIMATE_ROW_SECONDS +
#: APPROXIMATE_FEATURE_SECONDS d)``. The faster is chosen: USPS (9,298 x 256) and pen
#: digits are searched exactly, Fashion-MNIST's test split (10^4 x 784) and 10^5 x 32
#: approximately.
EXACT_PAIR_SECONDS = 1.4e-9
EXACT_FEATURE_SECONDS = 2.3e-11
APPROXIMATE_START_SECONDS = 0.9
APPROXIMATE_ROW_SECONDS = 0.12
APPROXIMATE_FEATURE_SECONDS = 4.3e-4
APPROXIMATE_GROWTH = 1.2

#: Memory (MB) for one chunk of exact distances. Torch's search of single-precision
#: rows took 0.68 s in chunks of 8 MB against 0.85 s in chunks of 128 MB on USPS,
#: 0.24 s against 0.42 s on 10^4 x 32 and 1.9 s against 2.1 s on Fashion-MNIST's
#: test split (one thread, best of 5; 2 MB and 32 MB were slower); scikit-learn's
#: double-precision lists and speed were the same with either.
EXACT_SEARCH_WORKING_MEMORY_MB = 8


def _shared_tensor(array, dtype=None):
    """``array`` (C order, ``dtype``) as a tensor on its memory, read-only arrays included."""
    array = np.ascontiguousarray(array, dtype=dtype)
    with warnings.catch_warnings():
        # A read-only input (a memory map, a frozen array) is shared as it is: the
        # search only reads it, so Torch's warning about writes does not apply.
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        return torch.from_numpy(array)


def exact_search(queries, base, n_neighbors, *, leave_out_self=False):
    """The ``n_neighbors`` nearest rows of ``base`` to each row of ``queries`` (Euclidean).

    Brute force in row chunks of at most ``EXACT_SEARCH_WORKING_MEMORY_MB`` of
    distances, in the precision of ``base``: scikit-learn's
    :class:`~sklearn.neighbors.NearestNeighbors` for double precision, and a matrix
    product in Torch for single precision, where scikit-learn computes in double and
    was slower on many features. Single precision, one thread, Torch against
    scikit-learn: USPS's 9,298 x 256 unit rows 0.94 s against 1.10 s, Fashion-MNIST's
    test split 2.3 s against 3.5 s, pen digits 0.37 s against 0.34 s, with the same
    neighbours but in 0.01-0.03% of rows, where two distances agree to about 7
    digits. In double precision Torch took 1.2 to 2.4 times as long as scikit-learn
    (pen digits 0.82 s against 0.34 s), for the same lists. Importing
    :mod:`sklearn.neighbors` costs 0.3 s, so only a double-precision search imports
    it. With ``leave_out_self`` (``queries`` is ``base``), row ``i`` is left out of
    its own list, its duplicates kept. Returns int64 indices of shape
    ``(n_queries, n_neighbors)``, nearest first.
    """
    if np.asarray(base).dtype == np.float64:
        from sklearn import config_context
        from sklearn.neighbors import NearestNeighbors

        search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute").fit(base)
        with config_context(working_memory=EXACT_SEARCH_WORKING_MEMORY_MB):
            # kneighbors() without X leaves each point out of its own list, ties included.
            rows = None if leave_out_self else np.asarray(queries, dtype=np.float64)
            return search.kneighbors(rows, return_distance=False)
    base = _shared_tensor(base, np.float32)
    queries = base if leave_out_self else _shared_tensor(queries, np.float32)
    half_norms = (base * base).sum(dim=1) / 2
    row_bytes = base.element_size() * base.shape[0]
    chunk = max(1, int(EXACT_SEARCH_WORKING_MEMORY_MB * 2**20 / row_bytes))
    found = []
    for start in range(0, queries.shape[0], chunk):
        # Half of |b|^2 - 2 q.b: the ranking of |q - b|^2, without the query's own norm.
        scores = torch.addmm(half_norms, queries[start : start + chunk], base.T, alpha=-1)
        if leave_out_self:
            rows = torch.arange(scores.shape[0])
            scores[rows, rows + start] = torch.inf
        found.append(torch.topk(scores, n_neighbors, dim=1, largest=False).indices)
    return torch.cat(found).numpy()


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


def own_entries(indices, first_row=0):
    """Mask of each row's own index in its neighbour list, or of its last entry when absent.

    Exactly one entry per row is flagged, so dropping them keeps ``width - 1`` a row.
    ``indices`` are the lists of rows ``first_row, first_row + 1, ...``.
    """
    n, width = indices.shape
    is_self = indices == np.arange(first_row, first_row + n)[:, None]
    is_self[~is_self.any(axis=1), width - 1] = True
    return is_self


def _drop_self(indices):
    """Remove each row's own index from its list (or its last entry when absent)."""
    n, width = indices.shape
    return indices[~own_entries(indices)].reshape(n, width - 1)


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


def search_method(method, n_samples, n_features, *, images=False):
    """``method`` with ``"auto"`` resolved to the faster search (the cost model above).

    Images are searched exactly up to ``EXACT_SEARCH_MAX_SAMPLES`` rows.
    """
    if method not in ("auto", "exact", "approximate"):
        raise ValueError(f"method must be 'auto', 'exact' or 'approximate', got {method!r}.")
    if method != "auto":
        return method
    if images:
        return "exact" if n_samples <= EXACT_SEARCH_MAX_SAMPLES else "approximate"
    exact = n_samples**2 * (EXACT_PAIR_SECONDS + EXACT_FEATURE_SECONDS * n_features)
    approximate = APPROXIMATE_START_SECONDS + (n_samples / 1e4) ** APPROXIMATE_GROWTH * (
        APPROXIMATE_ROW_SECONDS + APPROXIMATE_FEATURE_SECONDS * n_features
    )
    return "exact" if exact <= approximate else "approximate"


def cache_pynndescent_compilation():
    """Let numba keep PyNNDescent's compiled functions on disk, as EVoC keeps its own.

    PyNNDescent compiles most of its functions without numba's ``cache=True``, so
    every process paid their compilation again: 23.5 s before a first 2000-row graph
    in a fresh process (2 cores), 10.2 s once the cache held them. What stays is the
    functions that take the distance function as an argument (``nn_descent`` and
    those it calls), which numba cannot cache; it warns so on each compilation, and
    :func:`approximate_index` silences that warning. Numba checks each cached entry
    against its source file, so an upgraded PyNNDescent compiles afresh.
    """
    import sys

    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "pynndescent":
            continue
        for function in vars(module).values():
            if isinstance(function, Dispatcher) and isinstance(function._cache, NullCache):
                try:
                    function.enable_caching()
                except RuntimeError:  # no writable cache folder: compile as before
                    return


@contextmanager
def uncacheable_quietly():
    """Silence numba's warning that a PyNNDescent function cannot be cached."""
    from numba.core.errors import NumbaWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Cannot cache compiled function", NumbaWarning)
        yield


def approximate_index(X, n_neighbors, *, metric="euclidean", random_state=None, queryable=False):
    """PyNNDescent's index of ``X``, its graph built with at least ``n_neighbors`` (self included).

    Imported here only: its numba code compiles on the first call in every process
    that :func:`cache_pynndescent_compilation` finds no cache for.
    ``queryable`` keeps the search tree that ``query`` needs (``compressed=False``).
    """
    from pynndescent import NNDescent

    cache_pynndescent_compilation()
    build = min(X.shape[0] - 1, max(APPROXIMATE_BUILD_NEIGHBORS, n_neighbors))
    with uncacheable_quietly():
        return NNDescent(
            np.asarray(X, dtype=np.float32),
            n_neighbors=build + 1,
            max_candidates=max(APPROXIMATE_MAX_CANDIDATES, build + 1),
            metric=metric,
            random_state=random_state,
            low_memory=True,
            compressed=not queryable,
        )


#: Floats of neighbour differences computed at once (``rows x k x n_features``): 2 MB
#: stay in cache. Chunks of 2048 rows took 1.6 s of a Fashion-MNIST fit (10^4 x 784),
#: the time of the search itself; 2 MB chunks took 0.2 s.
DISTANCE_CHUNK_FLOATS = 2**18

#: The moved copies under which image neighbours are mined: the image itself and its 8
#: shifts by ``MINING_SHIFT_PIXELS`` along each axis and diagonal. Whole pixels, so the
#: copies are not blurred by interpolation; rotations of 6 or 10 degrees were measured
#: and cost Fashion-MNIST more purity than they gave USPS (the user guide's table).
MINING_SHIFT_PIXELS = 1


def mine_neighbors(
    X,
    n_neighbors,
    *,
    metric="euclidean",
    image_shape=None,
    method="auto",
    random_state=None,
    return_distance=False,
):
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
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` to read rows as images, mined under one-pixel
        shifts (:func:`_mine_images`); None reads them as tables.
    method : {"auto", "exact", "approximate"}, default="auto"
        ``"auto"`` picks the faster by :func:`search_method`'s cost model.
    random_state : int, default=None
        Seed passed to PyNNDescent.
    return_distance : bool, default=False
        Whether to return the distances too.

    Returns
    -------
    neighbors : ndarray of shape (n_samples, min(n_neighbors, n_samples - 1)), dtype int32
        Row ``i`` lists its neighbours from nearest to farthest.
    distances : ndarray of shape (n_samples, min(n_neighbors, n_samples - 1)), float64
        Only with ``return_distance``: the distance to each neighbour (for the cosine,
        ``1 - cos``).

    Examples
    --------
    >>> import numpy as np
    >>> from skssl._graph.mining import mine_neighbors
    >>> X = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> mine_neighbors(X, 1)
    array([[1],
           [0],
           [3],
           [2]], dtype=int32)
    """
    n_samples = X.shape[0]
    n_neighbors = check_neighbor_count(n_neighbors, n_samples)
    method = search_method(method, n_samples, X.shape[1], images=image_shape is not None)
    if image_shape is not None:
        neighbors, distances = _mine_images(
            X, image_shape, n_neighbors, metric=metric, method=method, random_state=random_state
        )
        return (neighbors, distances) if return_distance else neighbors
    neighbors = _mine_rows(X, n_neighbors, metric=metric, method=method, random_state=random_state)
    if not return_distance:
        return neighbors
    # The searches' distances come from |a|^2 + |b|^2 - 2ab, which loses the digits of
    # near pairs, the very ones the graph's weights read: the pairs found are measured
    # directly instead (n x k x d operations, a small share of any search).
    return neighbors, neighbor_distances(X, neighbors, metric)


def _mine_rows(X, n_neighbors, *, metric, method, random_state):
    """:func:`mine_neighbors` of a table, by ``method`` ("exact" or "approximate")."""
    if method == "exact":
        if metric == "cosine":
            # The exact search is Euclidean, and Euclidean distances between unit rows
            # rank as cosine distances do (scikit-learn's cosine path, which clips a
            # full distance chunk, took 0.9 s against 0.3 s on 10^4 x 32).
            X = unit_rows(X)
        return exact_search(X, X, n_neighbors, leave_out_self=True).astype(np.int32)
    from skssl._graph.descent import descent_graph

    cosine = metric == "cosine"
    build = min(X.shape[0] - 1, max(APPROXIMATE_BUILD_NEIGHBORS, n_neighbors + 1))
    indices, _ = descent_graph(
        # Squared Euclidean distances between unit rows rank as cosine distances do.
        np.ascontiguousarray(unit_rows(X) if cosine else X, dtype=np.float32),
        build + 1,
        max_candidates=max(APPROXIMATE_MAX_CANDIDATES, build + 1),
        angular=cosine,
        random_state=check_random_state(random_state),
    )
    return _drop_self(indices)[:, :n_neighbors].astype(np.int32)


def neighbor_distances(X, neighbors, metric):
    """Distance from every row of ``X`` to each of its ``neighbors``, ``(n_samples, k)``."""
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1.0)
    distances = pair_distances(X, X, neighbors)
    # Cosine distance of unit rows is half their squared Euclidean distance.
    return distances**2 / 2 if metric == "cosine" else distances


def pair_distances(queries, base, neighbors):
    """Euclidean distance (float64) from each row of ``queries`` to each of its ``neighbors``
    in ``base``, measured directly."""
    distances = np.empty(neighbors.shape)
    chunk = max(1, DISTANCE_CHUNK_FLOATS // max(1, neighbors.shape[1] * queries.shape[1]))
    for start in range(0, queries.shape[0], chunk):
        rows = slice(start, start + chunk)
        gap = queries[rows, None, :] - base[neighbors[rows]]
        distances[rows] = np.sqrt(np.einsum("ikj,ikj->ik", gap, gap))
    return distances


def mining_shifts(*, opposites=True):
    """The fixed mining moves as whole-pixel ``(rows, columns)`` shifts, identity first:
    :data:`MINING_SHIFT_PIXELS` along each axis and diagonal.

    Without ``opposites``, one shift of each opposite pair (4 of the 8).
    """
    step = MINING_SHIFT_PIXELS
    shifts = [(rows, columns) for columns in (0, -step, step) for rows in (0, -step, step)]
    return [shift for shift in shifts if opposites or shift >= (0, 0)]


def moved_copies(X, image_shape, *, opposites=True):
    """Every image of ``X`` under each mining move in turn, identity first (float32).

    Whole-pixel shifts are slices of one edge-padded array (the border extended): on
    Fashion-MNIST's 70,000 images the nine copies took 30 s through
    :func:`affine_move`'s interpolation.
    """
    height, width, channels = image_shape
    pad = MINING_SHIFT_PIXELS
    images = np.asarray(X, dtype=np.float32).reshape(-1, height, width, channels)
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), "edge")
    for rows, columns in mining_shifts(opposites=opposites):
        top, left = pad - rows, pad - columns
        yield padded[:, top : top + height, left : left + width].reshape(X.shape)


def _reverse_lists(indices, distances, width):
    """Row ``j``'s ``width`` nearest among the rows ``i`` whose lists hold ``j``.

    Padded with the row itself at an infinite distance, which the merge drops.
    """
    n_samples = indices.shape[0]
    sources = np.repeat(np.arange(n_samples), indices.shape[1])
    targets, distances = indices.ravel(), distances.ravel()
    order = np.lexsort((distances, targets))
    sources, targets, distances = sources[order], targets[order], distances[order]
    rank = np.arange(targets.shape[0]) - np.searchsorted(targets, targets)
    keep = rank < width
    reverse = np.tile(np.arange(n_samples)[:, None], (1, width))
    reverse_distances = np.full((n_samples, width), np.inf)
    reverse[targets[keep], rank[keep]] = sources[keep]
    reverse_distances[targets[keep], rank[keep]] = distances[keep]
    return reverse, reverse_distances


def _merge_candidates(candidates, distances, n_neighbors):
    """Each row's ``n_neighbors`` nearest candidates, a candidate counted once at its nearest."""
    n_samples = candidates.shape[0]
    distances = np.where(candidates == np.arange(n_samples)[:, None], np.inf, distances)
    # Sorted by candidate, then distance: the first of each run of one candidate is its nearest.
    order = np.lexsort((distances, candidates), axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    repeat = np.zeros_like(candidates, dtype=bool)
    repeat[:, 1:] = candidates[:, 1:] == candidates[:, :-1]
    distances[repeat] = np.inf
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    return (
        np.take_along_axis(candidates, nearest, axis=1).astype(np.int32),
        np.take_along_axis(distances, nearest, axis=1),
    )


def _mine_images(X, image_shape, n_neighbors, *, metric, method, random_state):
    """Neighbours of images under the mining moves, and their distances (the smallest over moves).

    The nearest ``n_neighbors + 1`` rows of each moved copy are searched among the
    unmoved rows, and a row's neighbours are the nearest of all those candidates
    but itself. This is exact: a row among the ``n_neighbors`` nearest at its best
    move is among that move's ``n_neighbors + 1`` nearest (the ``+ 1`` for the
    image itself). With ``method="exact"`` the search is scikit-learn's; with
    ``"approximate"`` PyNNDescent's index of the rows: its own graph gives the
    unmoved copy's candidates, and it is queried with one shift of each opposite
    pair, each pair found serving both of its rows.
    """
    n_samples = X.shape[0]
    cosine = metric == "cosine"

    def prepared(rows):
        # Single precision: the searches are matrix products, twice as fast in it.
        return np.asarray(unit_rows(rows) if cosine else rows, dtype=np.float32)

    base = prepared(X)
    width = min(n_samples, n_neighbors + 1)
    if method == "exact":
        found = []
        for copy in moved_copies(X, image_shape):
            moved = prepared(copy)
            indices = exact_search(moved, base, width)
            found.append((indices, pair_distances(moved, base, indices)))
    else:
        index = approximate_index(base, width, random_state=random_state, queryable=True)
        # The unmoved copy's query would repeat the index's graph (Fashion-MNIST:
        # 99% the same neighbours and the same purity, for 9 s of the 80 s).
        indices, distances = index.neighbor_graph
        found = [(indices[:, :width], distances[:, :width].astype(np.float64))]
        # Row i moved by s near row j is row j moved by -s near row i (but for the
        # border), so half the shifts' queries serve both rows of each pair found.
        copies = moved_copies(X, image_shape, opposites=False)
        next(copies)
        for copy in copies:
            with uncacheable_quietly():
                indices, distances = index.query(prepared(copy), k=width)
            found.append((indices, distances.astype(np.float64)))
            found.append(_reverse_lists(*found[-1], width))
    candidates = np.concatenate([indices for indices, _ in found], axis=1)
    distances = np.concatenate([d for _, d in found], axis=1)
    neighbors, distances = _merge_candidates(candidates, distances, n_neighbors)
    # Cosine distance of unit rows is half their squared Euclidean distance.
    return neighbors, distances**2 / 2 if cosine else distances


def neighbor_recall(found, exact):
    """Fraction of the exact neighbours that ``found`` recovers, averaged over rows."""
    hits = sum(len(np.intersect1d(a, b)) for a, b in zip(found, exact))
    return hits / exact.size
