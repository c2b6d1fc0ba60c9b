"""Soft nearest neighbour loss."""

import torch
import torch.nn.functional as F

from ._common import check_positive, check_shape

#: Floor of the logits after the row maximum is subtracted: anything lower (under
#: 1e-26 of the largest term once exponentiated) is raised to it. Below about -87,
#: float32 ``exp`` leaves its vectorised path (measured ~40x slower per element on CPU)
#: and underflowing results slow the matrix products of the backward pass; far squared
#: Euclidean distances and the -inf of masked entries land there all the time.
LOGIT_FLOOR = -60.0


def _masked_logsumexp(logits, keep):
    """``log sum_{j: keep[i, j]} exp(logits[i, j])`` per row, without -inf or underflow.

    Equals ``logits.masked_fill(~keep, -inf).logsumexp(1)`` up to a relative
    ``n * exp(LOGIT_FLOOR)``. Rows with nothing kept give a finite value to be
    discarded by the caller.
    """
    masked = logits.masked_fill(~keep, -torch.inf)
    peak = masked.amax(dim=1, keepdim=True).detach()
    peak = torch.where(torch.isfinite(peak), peak, 0.0)
    # Masked entries become exactly LOGIT_FLOOR (no gradient): one fill, not two.
    return peak.squeeze(1) + (masked - peak).clamp(min=LOGIT_FLOOR).exp().sum(dim=1).log()


def soft_nearest_neighbor_loss(h, positive_mask, temperature=1.0, distance="cosine", eps=1e-8):
    """Soft nearest neighbour loss (SNNL) of a batch of representations.

    With a distance ``d_ij`` and temperature ``T``::

        p_ij = exp(-d_ij / T) / sum_{k != i} exp(-d_ik / T)        (j != i)
        SNNL = - mean_{i in A} log sum_{j != i, positive_mask[i, j]} p_ij

    computed as ``logsumexp_{j positive}(-d_ij / T) - logsumexp_{j != i}(-d_ij / T)``
    over the masked rows, each shifted by its maximum and floored at -60 (a change
    of at most ``B * exp(-60)``, far below float precision); this stays finite,
    keeps its gradient where the plain ``exp(-d / T) + eps`` form underflows, and
    keeps ``exp`` on its fast path. ``A`` holds the anchors with at least one
    positive (off the diagonal); the others carry no signal and are left out. If
    ``A`` is empty the loss is a zero that is still attached to the graph.

    A mask of shape ``(n_anchors, B)`` makes only the first ``n_anchors`` rows
    anchors; every row is still a candidate neighbour. Training with one partner per
    anchor (``n_anchors = B / 2``) halves the cost of the loss.

    Parameters
    ----------
    h : Tensor of shape (B, D)
        Representations of a batch.
    positive_mask : bool Tensor of shape (B, B) or (n_anchors, B)
        ``positive_mask[i, j]`` says whether ``j`` is a positive of ``i``
        (same label, or a mined neighbour); the diagonal is ignored. Only the first
        ``n_anchors <= B`` rows of ``h`` are anchors.
    temperature : float or Tensor of shape (), default=1.0
        ``T > 0``; a tensor (e.g. a learned temperature) gets a gradient.
    distance : {"cosine", "euclidean"}, default="cosine"
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
    check_shape("positive_mask", positive_mask, (None, n_samples), "(n_anchors, B)")
    n_rows = positive_mask.shape[0]
    if n_rows > n_samples:
        raise ValueError(f"positive_mask has {n_rows} rows, more than h ({n_samples}).")
    if positive_mask.dtype != torch.bool:
        raise ValueError(f"positive_mask must be a bool tensor, got {positive_mask.dtype}.")

    if distance == "cosine":
        unit = F.normalize(h, dim=1, eps=eps)
        dist = 1 - unit[:n_rows] @ unit.T
    elif distance == "euclidean":
        centred = h - h.mean(dim=0)
        sq_norm = centred.pow(2).sum(dim=1)
        cross = centred[:n_rows] @ centred.T
        dist = (sq_norm[:n_rows, None] + sq_norm[None, :] - 2 * cross).clamp(min=0)
    else:
        raise ValueError(f"distance must be 'cosine' or 'euclidean', got {distance!r}.")

    diagonal = torch.eye(n_rows, n_samples, dtype=torch.bool, device=h.device)
    logits = -dist / temperature
    positive = positive_mask.to(h.device) & ~diagonal
    has_positive = positive.any(dim=1)
    log_all = _masked_logsumexp(logits, ~diagonal)
    log_pos = _masked_logsumexp(logits, positive)
    n_anchors = has_positive.sum()
    # Rows without a positive add exactly 0 (and no gradient).
    snnl = torch.where(has_positive, log_all - log_pos, 0.0).sum() / n_anchors.clamp(min=1)
    return snnl, {"snnl": snnl.detach(), "n_anchors": n_anchors.to(h.dtype)}
