"""Soft nearest neighbour loss."""

import torch
import torch.nn.functional as F

from ._common import check_positive, check_shape


def soft_nearest_neighbor_loss(h, positive_mask, temperature=1.0, metric="cosine", eps=1e-8):
    """Soft nearest neighbour loss (SNNL) of a batch of representations.

    With a distance ``d_ij`` and temperature ``T``::

        p_ij = exp(-d_ij / T) / sum_{k != i} exp(-d_ik / T)        (j != i)
        SNNL = - mean_{i in A} log sum_{j != i, positive_mask[i, j]} p_ij

    computed as ``logsumexp_{j positive}(-d_ij / T) - logsumexp_{j != i}(-d_ij / T)``
    with the diagonal masked to ``-inf``; this stays finite and keeps its
    gradient where the plain ``exp(-d / T) + eps`` form underflows. ``A``
    holds the anchors with at least one positive (off the diagonal); the
    others carry no signal and are left out. If ``A`` is empty the loss is a
    zero that is still attached to the graph.

    Parameters
    ----------
    h : Tensor of shape (B, D)
        Representations of a batch.
    positive_mask : bool Tensor of shape (B, B)
        ``positive_mask[i, j]`` says whether ``j`` is a positive of ``i``
        (same label, or a mined neighbour); the diagonal is ignored.
    temperature : float or Tensor of shape (), default=1.0
        ``T > 0``; a tensor (e.g. a learned temperature) gets a gradient.
    metric : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"``: ``d_ij = 1 - cos(h_i, h_j)``; ``"euclidean"``: squared
        Euclidean distance ``||h_i - h_j||^2`` (computed on the batch-centred
        ``h``, which leaves it unchanged and limits cancellation).
    eps : float, default=1e-8
        Floor of the norms in the cosine similarity.

    Returns
    -------
    loss : Tensor of shape ()
        ``SNNL``.
    terms : dict of str to Tensor
        Detached ``"snnl"`` (the loss) and ``"n_anchors"`` (``|A|``, in the
        dtype of ``h``).

    References
    ----------
    N. Frosst, N. Papernot and G. Hinton, "Analyzing and Improving
    Representations with the Soft Nearest Neighbor Loss", ICML 2019;
    R. Salakhutdinov and G. Hinton, AISTATS 2007; A. F. Agarap and
    A. P. Azcarraga, "Improving k-means clustering performance with
    disentangled internal representations", IJCNN 2020.
    """
    check_positive("temperature", temperature)
    check_positive("eps", eps)
    check_shape("h", h, (None, None), "(B, D)")
    n_samples = h.shape[0]
    check_shape("positive_mask", positive_mask, (n_samples, n_samples), "(B, B)")
    if positive_mask.dtype != torch.bool:
        raise ValueError(f"positive_mask must be a bool tensor, got {positive_mask.dtype}.")

    if metric == "cosine":
        unit = F.normalize(h, dim=1, eps=eps)
        dist = 1 - unit @ unit.T
    elif metric == "euclidean":
        centred = h - h.mean(dim=0)
        sq_norm = centred.pow(2).sum(dim=1)
        dist = (sq_norm[:, None] + sq_norm[None, :] - 2 * centred @ centred.T).clamp(min=0)
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}.")

    diagonal = torch.eye(n_samples, dtype=torch.bool, device=h.device)
    logits = (-dist / temperature).masked_fill(diagonal, -torch.inf)
    positive = positive_mask.to(h.device) & ~diagonal
    has_positive = positive.any(dim=1)
    # Rows without a positive are replaced by zeros: they then add exactly 0
    # and no NaN gradient (a row of -inf would).
    rows = has_positive[:, None]
    log_all = torch.where(rows, logits, 0.0).logsumexp(dim=1)
    log_pos = torch.where(rows, logits.masked_fill(~positive, -torch.inf), 0.0).logsumexp(dim=1)
    n_anchors = has_positive.sum()
    snnl = (log_all - log_pos).sum() / n_anchors.clamp(min=1)
    return snnl, {"snnl": snnl.detach(), "n_anchors": n_anchors.to(h.dtype)}
