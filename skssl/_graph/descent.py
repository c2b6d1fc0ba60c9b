"""PyNNDescent's neighbour descent, driven with one distance so that numba keeps it on disk.

:class:`pynndescent.NNDescent` hands its distance function to ``nn_descent`` as an
argument, and reads numba's thread count inside compiled code; numba can cache
neither, so every process compiled the descent again (about 10 s on 2 cores, more
than the search itself below 10^5 rows). :func:`descent_graph` runs the same steps
(PyNNDescent's random-projection forest, random start, candidate rounds) through
:func:`_descend`, whose distance (squared Euclidean; cosine through unit rows) and
work shares are fixed, so it compiles once per machine, as EVoC's code does.

The work is split into :data:`DESCENT_SHARES` shares whatever the number of numba
threads, so the graph is the same with one thread or many (PyNNDescent splits it by
the thread count, and its graphs differed between 1 and 2 threads).
"""

import os
from contextlib import suppress
from importlib.metadata import version

import numba
import numpy as np
from pynndescent import distances, kernels, utils
from pynndescent import pynndescent_ as descent
from pynndescent.hybrid_forest import make_hybrid_leaf_array

#: Shares the descent's updates are split into, on any number of threads.
DESCENT_SHARES = 8

#: Rows whose candidate updates are gathered at once. PyNNDescent's 16,384 reserves
#: about 0.9 GB of update buffers; 4096 reserves a quarter, at the same speed
#: (10^5 x 32 rows, 2 cores).
DESCENT_BLOCK_SIZE = 4096

#: Largest forest depth (PyNNDescent's ``max_rptree_depth``).
MAX_TREE_DEPTH = 200

#: PyNNDescent's convergence threshold: a round that changes fewer than
#: ``delta * n_neighbors * n_samples`` entries ends the descent.
DELTA = 0.001


@numba.njit
def _descend(data, n_neighbors, rng_state, max_candidates, n_iters, leaf_array, shares, block_size):
    """``pynndescent.nn_descent_internal`` on squared Euclidean distance, in ``shares`` shares."""
    distance = distances.squared_euclidean
    kernel = kernels.KERNEL_SQEUCLIDEAN
    n_vertices = data.shape[0]
    graph = utils.make_heap(n_vertices, n_neighbors)
    descent.init_rp_tree(data, distance, graph, leaf_array, shares)
    descent.init_random(n_neighbors, data, graph, distance, rng_state)
    n_blocks = n_vertices // block_size
    updates_per_share = (
        int((max_candidates**2 + max_candidates * (max_candidates - 1) / 2) * block_size / shares)
        + 1024
    )
    update_array = np.empty((shares, updates_per_share, 3), dtype=np.float32)
    n_updates = np.zeros(shares, dtype=np.int32)
    sorted_updates = np.empty((shares, 2 * updates_per_share, 3), dtype=np.float32)
    block_offsets = np.zeros((shares, shares + 1), dtype=np.int64)
    new_indices = np.full((n_vertices, max_candidates), -1, dtype=np.int32)
    new_priority = np.full((n_vertices, max_candidates), np.inf, dtype=np.float32)
    old_indices = np.full((n_vertices, max_candidates), -1, dtype=np.int32)
    old_priority = np.full((n_vertices, max_candidates), np.inf, dtype=np.float32)
    active = np.ones(n_vertices, dtype=np.uint8)
    reverse_dst = np.empty(n_vertices * n_neighbors, dtype=np.int32)
    reverse_src = np.empty(n_vertices * n_neighbors, dtype=np.int32)
    bucket_bounds = np.zeros((shares, shares + 1), dtype=np.int64)
    for _ in range(n_iters):
        new_candidates, old_candidates = utils.build_candidates_owner(
            graph,
            max_candidates,
            rng_state,
            shares,
            new_indices,
            new_priority,
            old_indices,
            old_priority,
            active,
            reverse_dst,
            reverse_src,
            bucket_bounds,
        )
        changed = descent.process_candidates(
            data,
            distance,
            graph,
            new_candidates,
            old_candidates,
            n_blocks,
            block_size,
            shares,
            update_array,
            n_updates,
            sorted_updates,
            block_offsets,
            kernel,
        )
        if changed <= DELTA * n_neighbors * n_vertices:
            break
    return utils.deheap_sort(graph[0], graph[1])


#: The file beside numba's cache of :func:`_descend` that names the PyNNDescent it holds.
PYNNDESCENT_STAMP = "descent.pynndescent-version"


def flush_if_compiled_for_another(cache, pynndescent_version):
    """Empty the descent's on-disk ``cache`` unless it was compiled with this PyNNDescent.

    Numba checks a cached function against its own source file only, and the descent
    compiles PyNNDescent's functions into itself: after an upgrade of PyNNDescent it
    would load the old ones. A stamp beside the cache names the version it holds.
    """
    stamp = os.path.join(cache.cache_path, PYNNDESCENT_STAMP)
    try:
        with open(stamp) as file:
            held = file.read()
    except OSError:
        held = None
    if held != pynndescent_version:
        cache.flush()
        with suppress(OSError), open(stamp, "w") as file:
            file.write(pynndescent_version)


# Where no cache folder is writable, the descent compiles in every process, as before.
with suppress(RuntimeError):
    _descend.enable_caching()
    flush_if_compiled_for_another(_descend._cache, version("pynndescent"))


def descent_graph(X, n_neighbors, *, max_candidates, angular, random_state):
    """The approximate ``n_neighbors`` nearest rows of each row of ``X`` (itself included).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32, C-contiguous
        Rows searched by squared Euclidean distance (unit rows for the cosine).
    n_neighbors : int
        Entries per row, the row itself among them.
    max_candidates : int
        Candidates each row compares per round.
    angular : bool
        Split the forest's trees by angle (for unit rows), as PyNNDescent does for
        the cosine.
    random_state : RandomState
        Draws the forest's and the descent's seeds.

    Returns
    -------
    indices : ndarray of shape (n_samples, n_neighbors), int32
        Nearest first.
    distances : ndarray of shape (n_samples, n_neighbors), float32
        Squared Euclidean distances.
    """
    n_samples = X.shape[0]
    # PyNNDescent's defaults for its forest and its number of rounds.
    n_trees = max(3, min(12, int(round(2.0 * np.log10(n_samples)))))
    n_iters = max(5, int(round(np.log2(n_samples))))
    leaf_size = max(60, min(256, 5 * n_neighbors))
    rng_state = random_state.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max, 3)
    rng_state = rng_state.astype(np.int64)
    leaf_array = make_hybrid_leaf_array(
        X,
        n_trees,
        leaf_size,
        int(random_state.randint(0, 2**62, dtype=np.int64)),
        angular=angular,
        max_depth=MAX_TREE_DEPTH,
    )
    return _descend(
        X,
        n_neighbors,
        rng_state,
        max_candidates,
        n_iters,
        leaf_array,
        DESCENT_SHARES,
        DESCENT_BLOCK_SIZE,
    )
