"""The mined neighbour graph seen whole: its adjacency, normalised affinity and spectral embedding.

Pure functions on arrays of mined neighbours (:func:`skssl._neighbors.mine_neighbors`).
The spectral embedding starts the layout of :mod:`skssl._embedding`; the normalised
affinity carries the labels of supervised fits (:func:`skssl._objectives.propagate_labels`).
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state


def neighbor_graph(neighbors):
    """Symmetric sparse adjacency of a k-nearest-neighbour list (1 one way, 2 both ways)."""
    n_samples, n_neighbors = neighbors.shape
    rows = np.repeat(np.arange(n_samples), n_neighbors)
    adjacency = sp.csr_matrix(
        (np.ones(rows.shape[0]), (rows, np.asarray(neighbors).ravel())),
        shape=(n_samples, n_samples),
    )
    return (adjacency + adjacency.T).tocsr()


def normalized_affinity(neighbors):
    """``D^-1/2 W D^-1/2``, with ``W`` the :func:`neighbor_graph` and ``D`` its degrees."""
    adjacency = neighbor_graph(neighbors)
    scale = sp.diags(1.0 / np.sqrt(np.asarray(adjacency.sum(axis=1)).ravel()))
    return scale @ adjacency @ scale


def spectral_embedding(neighbors, n_components, random_state=None):
    """Rows of the top ``n_components`` eigenvectors of :func:`normalized_affinity`, unit norm.

    The row normalisation is that of Ng, Jordan and Weiss (2002), after which k-means
    finds the graph's clusters.
    """
    affinity = normalized_affinity(neighbors)
    v0 = check_random_state(random_state).uniform(-1, 1, affinity.shape[0])
    values, vectors = eigsh(affinity, k=n_components, which="LA", tol=1e-4, v0=v0)
    return normalize(vectors[:, np.argsort(-values)])
