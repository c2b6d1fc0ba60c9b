"""The mined neighbour graph as a matrix: its adjacency and normalised affinity.

Pure functions on arrays of mined neighbours (:mod:`skssl._graph.mining`). The
affinity's eigenvectors start the layout (:mod:`skssl._graph.layout`), and it carries
the labels of supervised fits (:func:`skssl._labels.propagate_labels`).
"""

import numpy as np
import scipy.sparse as sp

#: Rows the graph's row-wise steps take at once (:func:`row_chunks`): the symmetric
#: graph gathers each row's neighbours' lists (``k * k`` entries a row), the fuzzy
#: graph bisects its bandwidths and the hierarchy queries its k-d tree a chunk at a time.
CHUNK_ROWS = 16_384

LISTS_HELP = "Neighbour lists must be distinct and leave each row out."


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


def symmetric_neighbor_graph(neighbors, weights, combine):
    """The symmetric graph of directed, weighted neighbour lists: canonical CSR.

    Row ``i`` of ``neighbors`` lists the heads ``j`` of ``i``'s edges (distinct, ``i``
    itself excluded) and ``weights`` their weights ``w_ij``. Every pair found both ways
    weighs ``combine(w_ij, w_ji)`` in both entries, a pair found one way keeps its
    weight in both, and zero weights are dropped: ``D + D.T`` for ``combine=np.add``,
    ``D.maximum(D.T)`` for ``np.maximum``, UMAP's fuzzy union for ``a + b - a b``.

    Written into the matrix's own arrays, a chunk of rows at a time: the same graph by
    SciPy's sparse algebra made temporaries of about 1 GB at 10^6 rows and 15
    neighbours.
    """
    n_samples, k = neighbors.shape
    neighbors = np.asarray(neighbors, dtype=np.int32)
    combined = np.empty(neighbors.shape)
    mutual = np.empty(neighbors.shape, dtype=bool)
    for start, rows in row_chunks(n_samples):
        heads = neighbors[rows]
        tails = np.arange(start, start + heads.shape[0])[:, None]
        if (heads == tails).any():
            raise ValueError(LISTS_HELP)
        found = neighbors[heads] == tails[:, :, None]
        mutual[rows] = found.any(axis=2)
        back = weights[heads, found.argmax(axis=2)]
        combined[rows] = np.where(mutual[rows], combine(weights[rows], back), weights[rows])
    # Row j holds its own k entries, then the entry (j, i) of every i whose list holds
    # j while j's lacks i, in the order of i.
    one_way = np.flatnonzero(~mutual)
    del mutual
    heads = neighbors.ravel()[one_way]
    order = np.argsort(heads, kind="stable")
    one_way, heads = one_way[order], heads[order]
    del order
    counts = np.bincount(heads, minlength=n_samples)
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(k + counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int32)
    data = np.empty(indptr[-1])
    for _, rows in row_chunks(n_samples):
        place = indptr[:-1][rows, None] + np.arange(k)
        indices[place], data[place] = neighbors[rows], combined[rows]
    # The one-way entries of head j, numbered from 0 in order, follow its own k.
    place = (indptr[:-1] + k - (np.cumsum(counts) - counts))[heads]
    place += np.arange(place.shape[0])
    del heads
    indices[place] = one_way // k
    data[place] = combined.ravel()[one_way]
    del place, one_way, combined
    graph = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_samples))
    graph.has_sorted_indices = False
    graph.sort_indices()
    # A list's repeated entry is a column twice in its row.
    repeated = graph.indices[1:] == graph.indices[:-1]
    repeated[indptr[1:-1] - 1] = False
    if repeated.any():
        raise ValueError(LISTS_HELP)
    graph.eliminate_zeros()
    return graph


def row_chunks(n_samples):
    """``(start, slice)`` of each chunk of ``CHUNK_ROWS`` rows."""
    for start in range(0, n_samples, CHUNK_ROWS):
        yield start, slice(start, start + CHUNK_ROWS)
