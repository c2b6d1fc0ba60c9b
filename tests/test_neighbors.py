import warnings
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_blobs
from sklearn.neighbors import NearestNeighbors

from skssl import _objectives as objectives
from skssl._graph import mining
from skssl._graph.mining import exact_search, mine_neighbors, neighbor_recall
from skssl._objectives import far_positions


def brute_force_neighbors(X, k):
    distances = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def test_exact_search_matches_brute_force_and_excludes_self():
    X, _ = make_blobs(n_samples=300, n_features=5, random_state=0)
    found = mine_neighbors(X, 7, method="exact")
    assert found.dtype == np.int32 and found.shape == (300, 7)
    assert not (found == np.arange(300)[:, None]).any()
    assert neighbor_recall(found, brute_force_neighbors(X, 7)) == 1.0


@pytest.mark.parametrize("memory_mb", [1e-3, 8])
def test_exact_search_in_row_chunks_of_read_only_rows_matches_brute_force(monkeypatch, memory_mb):
    # 1e-3 MB holds one row of products: every row is its own chunk.
    monkeypatch.setattr(mining, "EXACT_SEARCH_WORKING_MEMORY_MB", memory_mb)
    X = make_blobs(n_samples=300, n_features=5, random_state=0)[0].astype(np.float32)
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the read-only rows
        found = exact_search(X, X, 7, leave_out_self=True)
    assert neighbor_recall(found, brute_force_neighbors(X.astype(np.float64), 7)) == 1.0
    queries = X[::7] + np.float32(0.05)
    distances = ((queries[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(exact_search(queries, X, 4), np.argsort(distances, axis=1)[:, :4])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # scikit-learn's, then Torch's
def test_duplicate_rows_never_list_themselves(dtype):
    X = np.repeat(np.arange(10.0, dtype=dtype)[:, None], 4, axis=0)  # every row 4 times
    found = mine_neighbors(X, 3, method="exact")
    assert not (found == np.arange(40)[:, None]).any()
    # The three other copies, at distance 0, are the neighbours.
    np.testing.assert_array_equal(X[found][..., 0], np.repeat(X, 3, axis=1))


def test_pynndescent_recall_against_exact_search():
    # A few thousand points of 32-d clustered data, as in DESIGN.md's measurements.
    X, _ = make_blobs(n_samples=3000, n_features=32, centers=10, random_state=0)
    X = X.astype(np.float32)
    exact = mine_neighbors(X, 10, method="exact")
    approximate = mine_neighbors(X, 10, method="approximate", random_state=0)
    assert approximate.dtype == np.int32 and approximate.shape == exact.shape
    assert not (approximate == np.arange(3000)[:, None]).any()
    recall = neighbor_recall(approximate, exact)
    assert recall > 0.95, recall
    again = mine_neighbors(X, 10, method="approximate", random_state=0)
    np.testing.assert_array_equal(approximate, again)


def test_pynndescent_compilation_is_kept_on_disk():
    import pynndescent
    from numba.core.caching import NullCache

    from skssl._graph.mining import approximate_index

    X = np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numba's "Cannot cache" warnings stay silent
        approximate_index(X, 5, random_state=0, queryable=True).query(X[:3], k=5)
    # A function PyNNDescent compiles without numba's cache=True, on the images' path.
    assert not isinstance(pynndescent.utils.deheap_sort._cache, NullCache)


def test_the_descent_loads_from_disk_in_a_fresh_process():
    import subprocess
    import sys

    X = np.random.default_rng(0).normal(size=(300, 8))
    mine_neighbors(X, 5, method="approximate", random_state=0)  # compiled and stored
    script = (
        "import numpy as np\n"
        "from skssl._graph import descent\n"
        "from skssl._graph.mining import mine_neighbors\n"
        "X = np.random.default_rng(0).normal(size=(300, 8))\n"
        "mine_neighbors(X, 5, method='approximate', random_state=0)\n"
        "print(sum(descent._descend.stats.cache_hits.values()), "
        "sum(descent._descend.stats.cache_misses.values()))\n"
    )
    hits, misses = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (int(hits), int(misses)) == (1, 0)


def test_the_descents_cache_is_emptied_when_pynndescent_changes(tmp_path):
    from skssl._graph.descent import flush_if_compiled_for_another

    class Cache:
        cache_path = str(tmp_path)
        flushes = 0

        def flush(self):
            self.flushes += 1

    cache = Cache()
    for pynndescent_version, flushes in [("0.7.0", 1), ("0.7.0", 1), ("0.7.1", 2)]:
        flush_if_compiled_for_another(cache, pynndescent_version)
        assert cache.flushes == flushes
        assert (tmp_path / "descent.pynndescent-version").read_text() == pynndescent_version


def test_the_approximate_graph_does_not_depend_on_the_thread_count():
    import numba

    # PyNNDescent's own split (one share a thread) gave different graphs here.
    X, _ = make_blobs(n_samples=5000, n_features=16, centers=8, random_state=0)
    threads = numba.get_num_threads()
    graphs = []
    try:
        for count in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(count)
            graphs.append(mine_neighbors(X, 10, method="approximate", random_state=0))
    finally:
        numba.set_num_threads(threads)
    for graph in graphs[1:]:
        np.testing.assert_array_equal(graph, graphs[0])


def test_auto_search_is_exact_for_small_and_approximate_for_large_tables():
    from skssl._graph.mining import search_method

    for n_features in (8, 64, 784):
        methods = [search_method("auto", n, n_features) for n in (500, 2000, 10**5, 10**6)]
        assert methods[:2] == ["exact", "exact"] and methods[2:] == ["approximate"] * 2
    # More features make exact search dearer, so the crossover comes at fewer rows.
    crossover = {
        d: next(n for n in range(1000, 10**5, 500) if search_method("auto", n, d) == "approximate")
        for d in (16, 256, 784)
    }
    assert crossover[16] > crossover[256] > crossover[784]
    assert search_method("auto", 10**5, 784, images=True) == "approximate"
    assert search_method("auto", 20_000, 784, images=True) == "exact"
    with pytest.raises(ValueError, match="method must be"):
        search_method("fast", 10, 2)


def test_cosine_metric():
    X = np.array([[1.0, 0.0], [10.0, 0.5], [0.0, 1.0], [0.3, 9.0]])
    np.testing.assert_array_equal(mine_neighbors(X, 1, metric="cosine")[:, 0], [1, 0, 3, 2])


def test_exact_cosine_search_matches_scikit_learns_cosine_search():
    # Unit rows searched by Euclidean distance must rank as cosine distances do.
    X = np.random.default_rng(0).normal(size=(400, 12))
    expected = NearestNeighbors(n_neighbors=8, algorithm="brute", metric="cosine")
    expected = expected.fit(X).kneighbors(return_distance=False)
    np.testing.assert_array_equal(mine_neighbors(X, 8, metric="cosine", method="exact"), expected)


def test_bad_n_neighbors():
    with pytest.raises(ValueError, match="n_neighbors=0 must be at least 1"):
        mine_neighbors(np.zeros((5, 2)), 0)


@pytest.mark.parametrize("k", [4, 5, 50])
def test_too_many_neighbors_means_every_other_sample(k):
    X = np.arange(10.0).reshape(5, 2)
    context = pytest.warns(UserWarning, match="every other") if k > 4 else nullcontext()
    with context:
        neighbors = mine_neighbors(X, k)
    assert neighbors.shape == (5, 4)
    for row, found in enumerate(neighbors):
        assert sorted(found) == [i for i in range(5) if i != row]


def _batch_far_samples(X, k, n_candidates, near_fraction, batch=256, seed=0):
    """Far samples of a random batch's anchors, as row numbers, and the anchors."""
    data = torch.tensor(X, dtype=torch.float32)
    neighbors = torch.tensor(mine_neighbors(X, k)).long()
    generator = torch.Generator().manual_seed(seed)
    anchors = torch.randperm(X.shape[0], generator=generator)[:batch]
    positions = far_positions(
        anchors,
        neighbors,
        data,
        generator,
        n_negatives=10,
        n_candidates=n_candidates,
        near_fraction=near_fraction,
    )
    return anchors[positions], anchors, neighbors


def test_far_samples_are_other_anchors_and_never_a_neighbour():
    X, _ = make_blobs(n_samples=600, random_state=0)
    far, anchors, neighbors = _batch_far_samples(X, 20, n_candidates=32, near_fraction=0.1)
    assert far.shape == (256, 10)
    assert not (far == anchors[:, None]).any()
    assert not (far[..., None] == neighbors[anchors][:, None, :]).any()
    assert set(far.flatten().tolist()) <= set(anchors.tolist())


def test_candidates_skip_the_anchors_own_class_share():
    """With near_fraction = 1 / n_clusters, far samples come from other blobs more often.

    They are the nearest candidates beyond the estimated quantile (hard negatives), so
    the estimate's noise lets some own-blob points through.
    """
    X, y = make_blobs(n_samples=600, centers=3, random_state=0)
    y = torch.tensor(y)

    def other_blob_fraction(**choice):
        far, anchors, _ = _batch_far_samples(X, 5, **choice)
        return float((y[far] != y[anchors][:, None]).float().mean())

    assert other_blob_fraction(n_candidates=10, near_fraction=0.0) == pytest.approx(2 / 3, abs=0.05)
    assert other_blob_fraction(n_candidates=32, near_fraction=1 / 3) > 0.75


def test_far_samples_of_large_batches_match_the_full_product(monkeypatch):
    """Above FULL_PRODUCT_MAX_BATCH the products come from shifted copies of the batch.

    On the digits' whole-number pixels both products are exact, so the far samples
    must be the same ones.
    """
    X = load_digits().data
    batch = objectives.FULL_PRODUCT_MAX_BATCH + 188
    shifted = _batch_far_samples(X, 10, n_candidates=32, near_fraction=0.1, batch=batch)[0]
    monkeypatch.setattr(objectives, "FULL_PRODUCT_MAX_BATCH", batch)
    full = _batch_far_samples(X, 10, n_candidates=32, near_fraction=0.1, batch=batch)[0]
    torch.testing.assert_close(shifted, full, rtol=0, atol=0)
