"""The partition stage's parts: fuzzy graph, node embedding, density hierarchy, noise."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from skssl._graph.fuzzy import fuzzy_neighbor_graph
from skssl._graph.hierarchy import LeafHierarchy, mutual_reachability_tree, single_linkage
from skssl._graph.layout import LAYOUT_EPOCHS, layout_start, node_embedding
from skssl._graph.mining import mine_neighbors, neighbor_distances
from skssl._graph.partition import assign_noise, density_partition, exactly
from skssl.metrics import hungarian_accuracy_score


def test_neighbor_distances_match_a_loop():
    X = np.random.default_rng(0).normal(size=(40, 5))
    neighbors = mine_neighbors(X, 4)
    euclidean = neighbor_distances(X, neighbors, "euclidean")
    cosine = neighbor_distances(X, neighbors, "cosine")
    for i in range(40):
        for k, j in enumerate(neighbors[i]):
            assert euclidean[i, k] == pytest.approx(np.linalg.norm(X[i] - X[j]))
            expected = 1 - X[i] @ X[j] / np.linalg.norm(X[i]) / np.linalg.norm(X[j])
            assert cosine[i, k] == pytest.approx(expected)


def test_fuzzy_graph_against_a_root_finder():
    """UMAP's memberships: each row's sum to log2(k), then the fuzzy union a + b - ab."""
    from scipy.optimize import brentq

    X = np.random.default_rng(1).normal(size=(60, 3))
    neighbors = mine_neighbors(X, 8)
    distances = neighbor_distances(X, neighbors, "euclidean")
    graph = fuzzy_neighbor_graph(distances, neighbors).toarray()
    directed = np.zeros((60, 60))
    for i in range(60):
        gap = distances[i] - distances[i, 0]
        sigma = brentq(lambda s, gap=gap: np.exp(-gap / s).sum() - np.log2(8), 1e-6, 1e3)
        directed[i, neighbors[i]] = np.exp(-gap / sigma)
    expected = directed + directed.T - directed * directed.T
    np.testing.assert_allclose(graph, expected, atol=1e-6)


def test_node_embedding_is_seeded_and_separates_blobs():
    X, y = make_blobs(300, centers=3, cluster_std=0.5, random_state=0)
    neighbors = mine_neighbors(X, 10)
    graph = fuzzy_neighbor_graph(neighbor_distances(X, neighbors, "euclidean"), neighbors)
    start = layout_start(neighbors, 4, 0)
    first = node_embedding(graph, start, 30, torch.Generator().manual_seed(0))
    again = node_embedding(graph, start, 30, torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (300, 4) and np.isfinite(first).all()
    # At the layout's own epoch count every seed separates them (30 epochs did not).
    for seed in range(3):
        layout = node_embedding(graph, start, LAYOUT_EPOCHS, torch.Generator().manual_seed(seed))
        labels, noise, _ = density_partition(layout, 3, neighbors, random_state=0)
        assert hungarian_accuracy_score(y, labels) == 1.0


def test_layout_starts_at_random_where_no_spectral_embedding_fits():
    neighbors = np.array([[1], [0], [0]])
    start = layout_start(neighbors, 4, 0)
    assert start.shape == (3, 4) and np.abs(start).max() <= 10


def _hierarchy(X, min_samples=3):
    edges = mutual_reachability_tree(X, min_samples)
    assert edges.shape == (X.shape[0] - 1, 3), "a spanning tree"
    assert np.all(np.diff(edges[:, 2]) >= 0), "sorted by distance"
    return LeafHierarchy(*single_linkage(edges, X.shape[0]))


def test_leaves_follow_the_minimum_cluster_size():
    """Three groups of 50, 30 and 10 points: leaves appear only above the size bar."""
    rng = np.random.default_rng(0)
    X = np.concatenate(
        [rng.normal(c, 0.1, (n, 2)) for c, n in (((0, 0), 50), ((5, 0), 30), ((0, 5), 10))]
    )
    hierarchy = _hierarchy(X)
    labels = hierarchy.labels(hierarchy.leaves(8))
    truth = np.repeat([0, 1, 2], [50, 30, 10])
    clustered = labels >= 0
    assert len(np.unique(labels[clustered])) == 3
    assert hungarian_accuracy_score(truth[clustered], labels[clustered]) == 1.0
    assert clustered.mean() > 0.8
    # With a bar above 10, the smallest group is no longer a cluster of its own.
    assert len(hierarchy.leaves(20)) == 2
    leaves, size = hierarchy.closest_count(3)
    assert len(leaves) == 3 and 2 <= size <= 10


def test_leaves_match_a_brute_force_condensed_tree():
    """The vectorised leaf rule agrees with walking the tree node by node."""
    X, _ = make_blobs(120, centers=4, cluster_std=1.5, random_state=3)
    hierarchy = _hierarchy(X)
    n = X.shape[0]

    def subtree_has_split(node, m):
        if node < n:
            return False
        left, right = hierarchy.left[node - n], hierarchy.right[node - n]
        split = hierarchy.size[left] >= m and hierarchy.size[right] >= m
        return split or subtree_has_split(left, m) or subtree_has_split(right, m)

    for m in (3, 5, 10, 20):
        starts = []
        for k in range(n - 1):
            left, right = hierarchy.left[k], hierarchy.right[k]
            if hierarchy.size[left] >= m and hierarchy.size[right] >= m:
                starts += [left, right]
        expected = sorted(s for s in starts if not subtree_has_split(s, m)) or [2 * n - 2]
        assert sorted(hierarchy.leaves(m)) == expected


def test_noise_takes_its_nearest_clustered_neighbour():
    labels = np.array([0, -1, -1, 1, -1])
    neighbors = np.array([[1, 2], [2, 0], [4, 1], [4, 2], [2, 3]])
    layout = np.arange(5.0)[:, None]
    # Pass 1: 1 -> 0 (its first clustered neighbour), 4 -> 1 (via 3); 2 sees only noise.
    # Pass 2: 2's nearest neighbour 4 is now clustered -> 1.
    np.testing.assert_array_equal(assign_noise(labels, neighbors, layout), [0, 0, 1, 1, 1])


def test_exactly_keeps_the_largest_and_splits_when_short():
    layout = np.array([[0.0], [0.1], [5.0], [5.1], [9.0]])
    np.testing.assert_array_equal(exactly(np.array([0, 0, 1, 1, 2]), 2, layout, 0)[4], -1)
    split = exactly(np.array([0, 0, 0, 0, -1]), 2, layout, 0)
    assert set(split[:4]) == {0, 1} and split[4] == -1


def test_density_partition_on_tiny_data_gives_every_cluster():
    layout = np.random.default_rng(0).normal(size=(5, 2))
    neighbors = mine_neighbors(layout, 2)
    labels, noise, size = density_partition(layout, 3, neighbors, random_state=0)
    assert labels.min() >= 0 and len(np.unique(labels)) == 3 and size == 0


def _distinct_lists(n_samples, k, seed):
    """Random neighbour lists, distinct and without the row itself, and their weights."""
    rng = np.random.default_rng(seed)
    others = [np.delete(np.arange(n_samples), i) for i in range(n_samples)]
    lists = np.array([rng.choice(row, k, replace=False) for row in others])
    return lists, rng.uniform(0.01, 1.0, lists.shape)


@pytest.mark.parametrize(
    "combine, algebra",
    [
        (np.add, lambda D: D + D.T),
        (np.maximum, lambda D: D.maximum(D.T)),
        (lambda a, b: a + b - a * b, lambda D: D + D.T - D.multiply(D.T)),
    ],
)
def test_symmetric_graph_matches_sparse_algebra(monkeypatch, combine, algebra):
    """Written in chunks of rows (37, so lists cross chunks), the graph SciPy's algebra gives."""
    import scipy.sparse as sp

    from skssl._graph import adjacency

    monkeypatch.setattr(adjacency, "CHUNK_ROWS", 37)
    # Few rows for the lists' length: most pairs are found both ways, many one way.
    lists, weights = _distinct_lists(120, 9, seed=0)
    rows = np.repeat(np.arange(120), 9)
    directed = sp.csr_matrix((weights.ravel(), (rows, lists.ravel())), shape=(120, 120))
    expected = algebra(directed).tocsr()
    graph = adjacency.symmetric_neighbor_graph(lists, weights, combine)
    mutual = directed.multiply(directed.T).nnz
    assert 0 < mutual < directed.nnz, "both kinds of pair are exercised"
    assert graph.has_sorted_indices
    np.testing.assert_array_equal(graph.indptr, expected.indptr)
    np.testing.assert_array_equal(graph.indices, expected.indices)
    np.testing.assert_array_equal(graph.data, expected.data)


def test_symmetric_graph_rejects_repeated_or_own_entries():
    from skssl._graph.adjacency import symmetric_neighbor_graph

    lists, weights = _distinct_lists(20, 3, seed=1)
    for bad in (0, 1):
        broken = lists.copy()
        broken[5, 1] = broken[5, 0] if bad else 5
        with pytest.raises(ValueError, match="distinct"):
            symmetric_neighbor_graph(broken, weights, np.add)


def test_spanning_tree_does_not_depend_on_the_row_chunks(monkeypatch):
    from skssl._graph import adjacency

    X, _ = make_blobs(500, centers=4, n_features=4, random_state=0)
    whole = mutual_reachability_tree(X, 5)
    monkeypatch.setattr(adjacency, "CHUNK_ROWS", 64)
    np.testing.assert_array_equal(mutual_reachability_tree(X, 5), whole)


def test_layout_in_chunks_of_edges_matches_one_chunk(monkeypatch):
    """Chunks change only the order in which an epoch's moves are summed."""
    from skssl._graph import layout

    X, _ = make_blobs(300, centers=3, cluster_std=0.5, random_state=0)
    neighbors = mine_neighbors(X, 10)
    graph = fuzzy_neighbor_graph(neighbor_distances(X, neighbors, "euclidean"), neighbors)
    start = layout_start(neighbors, 4, 0)

    def embedding():
        return node_embedding(
            graph, start, 10, torch.Generator().manual_seed(0), negative_sample_rate=2
        )

    whole = embedding()
    monkeypatch.setattr(layout, "LAYOUT_CHUNK_EDGES", 97)
    chunked = embedding()
    assert not np.array_equal(chunked, start)
    np.testing.assert_allclose(chunked, whole, atol=1e-4)
