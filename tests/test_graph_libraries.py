"""The graph stage's steps against the libraries that define their maths.

The hierarchy against scikit-learn's HDBSCAN (leaf clusters), the fuzzy graph against
umap-learn's (skipped where umap-learn is absent: it is in the ``bench`` extra), and
the spectral start against :func:`sklearn.manifold.spectral_embedding`.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import HDBSCAN
from sklearn.datasets import make_blobs
from sklearn.manifold import spectral_embedding as sklearn_spectral_embedding
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

from skssl._graph.adjacency import neighbor_graph
from skssl._graph.fuzzy import fuzzy_neighbor_graph
from skssl._graph.hierarchy import layout_hierarchy
from skssl._graph.layout import spectral_embedding
from skssl._graph.mining import mine_neighbors


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("min_cluster_size", [10, 25])
def test_leaf_clusters_are_hdbscans(seed, min_cluster_size):
    """The same leaf clusters and noise as ``HDBSCAN(cluster_selection_method="leaf")``.

    HDBSCAN's ``min_samples`` counts the point itself, ours does not (6 against 5).
    Below a minimum cluster size of about 7 the two differ where mutual reachability
    distances tie (many equal a core distance), which the two trees order differently.
    """
    X, _ = make_blobs(
        200, centers=4, n_features=4, cluster_std=[0.5, 1, 1.5, 0.8], random_state=seed
    )
    hierarchy = layout_hierarchy(X, min_samples=5)
    ours = hierarchy.labels(hierarchy.leaves(min_cluster_size))
    theirs = (
        HDBSCAN(min_cluster_size=min_cluster_size, min_samples=6, cluster_selection_method="leaf")
        .fit(X)
        .labels_
    )
    np.testing.assert_array_equal(ours < 0, theirs < 0)
    assert adjusted_rand_score(ours, theirs) == 1.0


def test_fuzzy_graph_is_umaps():
    """UMAP's smooth k-NN memberships and fuzzy union, to umap-learn's float32 precision.

    umap-learn lists each point as its own first neighbour and aims the memberships at
    ``log2`` of that longer list; ours aims at ``log2(k)`` of the ``k`` others, which
    ``smooth_knn_dist``'s ``bandwidth`` expresses.
    """
    umap = pytest.importorskip("umap.umap_")
    X = np.random.default_rng(0).normal(size=(300, 5))
    k = 10
    neighbors, distances = mine_neighbors(X, k, return_distance=True)
    ours = fuzzy_neighbor_graph(distances, neighbors).tocsr()
    with_self = np.hstack([np.arange(300)[:, None], neighbors]).astype(np.int64)
    self_distances = np.hstack([np.zeros((300, 1)), distances]).astype(np.float32)
    sigmas, rhos = umap.smooth_knn_dist(
        self_distances, float(k + 1), local_connectivity=1.0, bandwidth=np.log2(k) / np.log2(k + 1)
    )
    rows, cols, values, _ = umap.compute_membership_strengths(
        with_self, self_distances, sigmas, rhos
    )
    directed = sp.coo_matrix((values, (rows, cols)), shape=(300, 300)).tocsr()
    directed.eliminate_zeros()
    theirs = directed + directed.T - directed.multiply(directed.T)
    assert ours.nnz == theirs.nnz
    assert abs(ours - theirs).max() < 1e-5


def test_spectral_start_is_sklearns_spectral_embedding():
    """The normalised affinity's top eigenvectors, rows scaled to unit length, are those of
    :func:`sklearn.manifold.spectral_embedding` (which divides them by the square root of
    the degrees). Kept as one ``eigsh`` call: on 2,000 rows it took 0.017 s against
    scikit-learn's 0.096 s, for the same start."""
    X, _ = make_blobs(2000, centers=6, n_features=8, cluster_std=3, random_state=0)
    neighbors = mine_neighbors(X, 15)
    ours = spectral_embedding(neighbors, 4, random_state=0)
    adjacency = neighbor_graph(neighbors)
    theirs = sklearn_spectral_embedding(
        adjacency, n_components=4, norm_laplacian=True, drop_first=False, random_state=0
    )
    theirs = normalize(theirs * np.sqrt(np.asarray(adjacency.sum(axis=1)))[:, :1])
    signs = np.sign((theirs * ours).sum(axis=0))
    # Both solve to a tolerance of 1e-4 or so; a wrong matrix or order is off by O(1).
    np.testing.assert_allclose(theirs * signs, ours, atol=2e-3)
