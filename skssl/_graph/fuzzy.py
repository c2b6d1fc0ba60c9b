"""UMAP's fuzzy graph of the mined neighbours: the weights the layout samples edges by.

The graph weights are UMAP's (McInnes, Healy and Melville, 2018): each sample's
neighbours get memberships ``exp(-(d - rho) / sigma)``, ``rho`` its nearest distance
and ``sigma`` set so that the memberships sum to ``log2(k)``; the two directions of an
edge combine as a fuzzy union ``a + b - a b``.
"""

import numpy as np
import scipy.sparse as sp

#: Bisection steps for each sample's ``sigma`` (UMAP uses 64).
SIGMA_STEPS = 64


def fuzzy_neighbor_graph(distances, neighbors):
    """UMAP's fuzzy union of smooth k-NN memberships, a symmetric sparse matrix in [0, 1].

    Parameters
    ----------
    distances, neighbors : ndarray of shape (n_samples, k)
        Each row's neighbours, nearest first, and their distances.
    """
    n_samples, k = neighbors.shape
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
    sigma = np.maximum(sigma, 1e-3 * max(distances.mean(), 1e-12))
    memberships = np.exp(-gap / sigma[:, None])
    rows = np.repeat(np.arange(n_samples), k)
    directed = sp.csr_matrix(
        (memberships.ravel(), (rows, neighbors.ravel())), shape=(n_samples, n_samples)
    )
    return (directed + directed.T - directed.multiply(directed.T)).tocoo()
