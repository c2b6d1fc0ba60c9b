"""The neighbour graph laid out in a few dimensions: UMAP's and EVoC's node embedding.

Why: SCAN's partition stage read the mined graph one hop at a time (a sample and one
neighbour agree) and lost its classes (0.79 on USPS), while a UMAP layout of the same
graph followed by a clustering kept them (0.97). Laying the graph out pulls every
sample towards the members of its connected region and pushes it from random others,
so regions that are joined only by a few links drift apart: what the graph says many
hops away shows as a gap in the layout, where a density clustering finds it.

The layout follows UMAP's and EVoC's node embedding of the fuzzy graph
(:mod:`skssl._graph.fuzzy`): edges are sampled in proportion to their weight, each
pulling its ends together, and each sampled edge pushes its head away from random
samples. Unlike UMAP's per-edge loop (numba, compiled once per process), every epoch
here is a few batches of Torch operations over its sampled edges, on any device.
"""

from functools import cache

import numpy as np
import torch
from scipy.sparse.linalg import eigsh
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state

from skssl._graph.adjacency import normalized_affinity

#: Above this many rows the layout starts from uniform noise instead of the graph's
#: spectral embedding: at 10^6 x 32 its eigenvectors took 47 s.
SPECTRAL_START_MAX_SAMPLES = 100_000

#: Dimensions of the graph's layout: EVoC's ``min(max(n_neighbors // 4, 4), 15)`` at its
#: 15 neighbours.
LAYOUT_COMPONENTS = 4

#: Epochs of the layout, UMAP's count above 10,000 rows. With 100, one seed in three
#: split a USPS class (mean 0.909 against 0.957) and 150 rows of 3 blobs lost a blob.
LAYOUT_EPOCHS = 200

#: Random samples each sampled edge pushes away (UMAP: 5, EVoC: 1). 2 instead of 5
#: halved the layout's time, kept USPS at 0.956 and raised pen digits from 0.864 to
#: 0.882 (seeds 0-2).
NEGATIVE_SAMPLE_RATE = 2

#: Sampled edges whose moves are computed at once. An epoch's moves over all its edges
#: at once made temporaries of about 1.5 GB at 10^6 rows, and took 4.2 s an epoch
#: against 1.5 s in chunks of 65,536, whose temporaries (4 MB each) stay in cache.
#: Graphs of up to about 10^4 rows take one chunk.
LAYOUT_CHUNK_EDGES = 65_536


@cache
def curve_parameters(min_dist=0.0, spread=1.0):
    """UMAP's ``(a, b)``: ``1 / (1 + a d^(2b))`` fitted to the membership curve of ``min_dist``."""
    from scipy.optimize import curve_fit

    d = np.linspace(0, 3 * spread, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda d, a, b: 1.0 / (1.0 + a * d ** (2 * b)), d, target)
    return float(a), float(b)


def node_embedding(graph, init, n_epochs, generator, *, negative_sample_rate=5, device="cpu"):
    """Lay out ``graph`` in the dimensions of ``init`` by UMAP's edge and negative sampling.

    Every epoch samples each edge ``{i, j}`` with probability ``w / max(w)``; a sampled
    edge moves both ends along the gradient of ``log q(d_ij)``, and each end away from
    ``negative_sample_rate`` uniformly drawn samples along that of ``log(1 - q)``, with
    ``q(d) = 1 / (1 + a d^(2b))`` for ``min_dist=0`` (points packed tightly, UMAP's
    setting for clustering). Gradients are clipped to [-4, 4] as in UMAP, and the step
    falls linearly from 1 to 0. All moves of an epoch are computed from the layout at
    its start and added at its end.

    Parameters
    ----------
    graph : scipy.sparse.coo_matrix of shape (n_samples, n_samples)
        Symmetric, non-negative edge weights; the upper triangle is read.
    init : ndarray of shape (n_samples, n_components)
        The starting layout.
    n_epochs : int
    generator : torch.Generator
        CPU generator for every draw.
    negative_sample_rate : int, default=5
    device : str or torch.device, default="cpu"

    Returns
    -------
    embedding : ndarray of shape (n_samples, n_components), float64
    """
    # Each edge drawn once for both of its ends, as UMAP moves both: drawing (i, j)
    # and (j, i) apart cost a fifth more time for the same expected pull, and split a
    # USPS class in one seed of five (the density partition's accuracy, seeds 0-4:
    # USPS 0.927 against 0.956, Fashion-MNIST's test split 0.581 against 0.591,
    # digits, pen digits and 10 blobs within 0.1 point).
    upper = graph.row < graph.col
    weight = torch.as_tensor(graph.data[upper] / graph.data.max(), dtype=torch.float32)
    # Stored as int32, half the memory of int64; each chunk's ends become int64 before
    # ``index_add_``, which took 9 times as long with int32 indices.
    edges = torch.as_tensor(np.stack([graph.row[upper], graph.col[upper]]), dtype=torch.int32)
    # Row-major: the spectral start comes column-major from eigsh, and gathering rows of
    # a column-major layout took a quarter of USPS's layout time.
    layout = torch.as_tensor(np.ascontiguousarray(init), dtype=torch.float32).to(device)
    n_samples, n_components = layout.shape
    rate = negative_sample_rate
    # A product with ones sums each row's few squares in a third of the time of
    # ``sum(dim=1)`` (the same bits on CPU).
    ones = torch.ones(n_components, 1, device=device)
    for epoch in range(n_epochs):
        # The sampled edges' positions once, then one index_select: a boolean mask per
        # end took 2.2 ms an epoch on pen digits' 220,000 edges, against 0.9 ms.
        # NumPy's flatnonzero finds the same positions in a tenth of torch.nonzero's time
        # (0.05 ms against 0.55 ms on Fashion-MNIST's 125,000 edges).
        drawn = torch.rand(weight.shape[0], generator=generator) < weight
        taken = torch.from_numpy(np.flatnonzero(drawn.numpy()))
        n_taken = taken.shape[0]
        # Row (r, e, i): the r-th random sample that end e of the i-th sampled edge pushes.
        others = torch.randint(
            0, n_samples, (rate, 2, n_taken), generator=generator, dtype=torch.int32
        )
        step = torch.zeros_like(layout)
        for start in range(0, n_taken, LAYOUT_CHUNK_EDGES):
            part = taken[start : start + LAYOUT_CHUNK_EDGES]
            pushed = others[:, :, start : start + part.shape[0]]
            pull, push, ends = _edge_moves(layout, edges.index_select(1, part), pushed, ones)
            step.index_add_(0, ends, torch.cat([pull, -pull]))
            step.index_add_(0, ends.repeat(rate), push)
        layout.add_(step, alpha=1.0 - epoch / n_epochs)
    return layout.cpu().numpy().astype(np.float64)


def _edge_moves(layout, edges, others, ones):
    """The moves of one chunk of sampled ``edges`` (2, m), read from ``layout``.

    Returns the pull on each edge's first end (its second end takes the opposite), the
    push of each end away from its random ``others`` (rate, 2, m), and the ends
    (first ends, then second ends) the pulls apply to, repeated per rate for the pushes.
    """
    a, b = curve_parameters()
    n_taken = edges.shape[1]
    ends = edges.reshape(-1).to(layout.device, torch.int64)
    # index_select, not layout[ends]: a quarter of the time at 10^5 rows.
    at_ends = layout.index_select(0, ends)
    pull = at_ends[:n_taken] - at_ends[n_taken:]
    log_d2 = ((pull * pull) @ ones).clamp_min(1e-12).log()
    pull_scale = (-2 * a * b) * torch.exp((b - 1) * log_d2) / (a * torch.exp(b * log_d2) + 1)
    # In place, and each end subtracted from its pushed samples by broadcasting rather
    # than repeated first: the same numbers, in 0.62 s of USPS's layout against 0.70 s.
    pull = pull.mul_(pull_scale).clamp_(-4, 4)
    rate, n_components = others.shape[0], layout.shape[1]
    push = layout.index_select(0, others.reshape(-1).to(layout.device))
    push = push.view(rate, 2 * n_taken, n_components)
    push = torch.sub(at_ends, push, out=push).view(-1, n_components)
    d2 = (push * push) @ ones
    push_scale = (2 * b) / ((1e-3 + d2) * (a * torch.exp(b * d2.clamp_min(1e-12).log()) + 1))
    return pull, push.mul_(push_scale).clamp_(-4, 4), ends


def spectral_embedding(neighbors, n_components, random_state=None):
    """Rows of the top ``n_components`` eigenvectors of :func:`normalized_affinity`, unit norm.

    The row normalisation is that of Ng, Jordan and Weiss (2002), after which k-means
    finds the graph's clusters.
    """
    affinity = normalized_affinity(neighbors)
    v0 = check_random_state(random_state).uniform(-1, 1, affinity.shape[0])
    values, vectors = eigsh(affinity, k=n_components, which="LA", tol=1e-4, v0=v0)
    return normalize(vectors[:, np.argsort(-values)])


def layout_start(neighbors, n_components, random_state):
    """UMAP's start: the graph's spectral embedding scaled to [-10, 10], else uniform noise.

    The spectral start places connected regions apart from the first epoch; above
    ``SPECTRAL_START_MAX_SAMPLES`` rows (where its eigenvectors cost more than the
    layout) and on graphs too small for ``n_components`` eigenvectors, the start is
    uniform in [-10, 10] as in UMAP's ``init="random"``.
    """
    n_samples = neighbors.shape[0]
    rng = np.random.default_rng(random_state)
    start = rng.uniform(-10, 10, (n_samples, n_components))
    if n_components + 2 <= n_samples <= SPECTRAL_START_MAX_SAMPLES:
        spectral = spectral_embedding(neighbors, n_components, random_state)
        # A little noise parts samples that share an eigenvector row (duplicates).
        start = 10 * spectral / np.abs(spectral).max() + 1e-4 * start
    return start


def graph_layout(graph, neighbors, generator, seed, device):
    """The layout of a mined neighbour graph in which the clusters are read.

    The fuzzy ``graph`` of the ``neighbors`` (:func:`skssl._graph.fuzzy.fuzzy_neighbor_graph`),
    laid out in ``LAYOUT_COMPONENTS`` dimensions from its spectral start by
    :func:`node_embedding`.
    """
    return node_embedding(
        graph,
        layout_start(neighbors, LAYOUT_COMPONENTS, seed),
        LAYOUT_EPOCHS,
        generator,
        negative_sample_rate=NEGATIVE_SAMPLE_RATE,
        device=device,
    )
