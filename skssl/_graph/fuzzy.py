"""UMAP's fuzzy graph of the mined neighbours: the weights the layout samples edges by.

The graph weights are UMAP's (McInnes, Healy and Melville, 2018): each sample's
neighbours get memberships ``exp(-(d - rho) / sigma)``, ``rho`` its nearest distance
and ``sigma`` set so that the memberships sum to ``log2(k)``; the two directions of an
edge combine as a fuzzy union ``a + b - a b``.
"""

import numpy as np

from skssl._graph.adjacency import row_chunks, symmetric_neighbor_graph

#: Bisection steps for each sample's ``sigma`` (UMAP uses 64).
SIGMA_STEPS = 64


def fuzzy_neighbor_graph(distances, neighbors):
    """UMAP's fuzzy union of smooth k-NN memberships, a symmetric sparse matrix in [0, 1].

    Parameters
    ----------
    distances, neighbors : ndarray of shape (n_samples, k)
        Each row's neighbours (distinct, the row itself excluded), nearest first, and
        their distances.
    """
    memberships = np.empty(distances.shape)
    floor = 1e-3 * max(distances.mean(), 1e-12)
    # A chunk of rows at a time: each row's scale is its own, and the bisection's
    # temporaries over all rows at once held a third of a GB at 10^6 rows.
    for _, rows in row_chunks(distances.shape[0]):
        memberships[rows] = _memberships(distances[rows], floor)
    return symmetric_neighbor_graph(neighbors, memberships, _fuzzy_union).tocoo()


def _fuzzy_union(a, b):
    return a + b - a * b


def _memberships(distances, floor):
    """Each row's ``exp(-(d - rho) / sigma)``, ``sigma`` bisected to a sum of ``log2(k)``."""
    n_samples, k = distances.shape
    gap = np.maximum(distances - distances[:, :1], 0.0)
    target = np.log2(k) if k > 1 else 1.0
    low, high = np.zeros(n_samples), np.full(n_samples, np.inf)
    sigma = np.ones(n_samples)
    for _ in range(SIGMA_STEPS):
        too_wide = np.exp(-gap / sigma[:, None]).sum(axis=1) > target
        high = np.where(too_wide, sigma, high)
        low = np.where(too_wide, low, sigma)
        sigma = np.where(np.isinf(high), sigma * 2, (low + high) / 2)
    # UMAP's floor: a sample whose neighbours are all at one distance still gets a scale.
    sigma = np.maximum(sigma, floor)
    return np.exp(-gap / sigma[:, None])
