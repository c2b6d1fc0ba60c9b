"""The mined neighbour graph as a matrix: its adjacency and normalised affinity.

Pure functions on arrays of mined neighbours (:mod:`skssl._graph.mining`). The
affinity's eigenvectors start the layout (:mod:`skssl._graph.layout`), and it carries
the labels of supervised fits (:func:`skssl._labels.propagate_labels`).
"""

import numpy as np
import scipy.sparse as sp


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
