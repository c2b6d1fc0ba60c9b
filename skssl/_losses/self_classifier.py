"""Self-Classifier loss."""

import math

import torch
import torch.nn.functional as F

from ._common import check_positive


def _cross_entropy(log_target, log_pred, eps):
    """``-1/N sum_n sum_c Q_nc log((N/C) P_nc + eps)`` from log Q and log P."""
    n_samples, n_classes = log_pred.shape[-2:]
    scaled = log_pred + math.log(n_samples / n_classes)
    log_scaled = torch.logaddexp(scaled, scaled.new_tensor(math.log(eps)))
    return -(log_target.exp() * log_scaled).sum(dim=-1).mean(dim=-1)


def self_classifier_loss(
    logits_1, logits_2, row_temperature=0.1, column_temperature=0.05, eps=1e-8
):
    """Self-Classifier loss: cross-entropy between two views with a uniform prior.

    For an ordered pair of views ``(i, j)`` with logits ``z_i, z_j`` (N, C)::

        Q = row-normalise(softmax over the batch (dim 0) of z_i / column_temperature)
        P = column-normalise(softmax over classes (dim 1) of z_j / row_temperature)
        l_ij = -1/N sum_n sum_c Q_nc log((N/C) P_nc + eps)
        L = (l_12 + l_21) / 2

    ``Q`` is the target, ``P`` the prediction. ``N/C`` is Bayes' rule with a
    uniform class prior, which keeps the samples from collapsing into one
    class. As in the published code, the target is not detached. The
    softmaxes and normalisations are computed in log space (log-sum-exp), and
    ``log(a + eps)`` as ``logaddexp(log a, log eps)``: this equals the
    published formula (whose L1 normalisation floors the sums at 1e-12) and
    stays finite for extreme logits. The column softmax is a batch
    statistic, so the batch should be large relative to C.

    Parameters
    ----------
    logits_1, logits_2 : Tensor of shape (..., N, C)
        Logits of the two views of the same N samples. Leading axes (e.g. one per
        cluster head) are kept: every head's loss at once, in one graph.
    row_temperature : float, default=0.1
        Temperature of the softmax over classes (the prediction).
    column_temperature : float, default=0.05
        Temperature of the softmax over the batch (the target); the published
        loss class defaults to 0.1, its training script uses 0.05.
    eps : float, default=1e-8
        Added inside the log, as in the published code.

    Returns
    -------
    loss : Tensor of shape (...)
        The loss ``L`` (a scalar for 2-d logits).
    terms : dict of str to Tensor
        Detached ``"l12"`` (target from view 1, prediction from view 2) and
        ``"l21"``.

    References
    ----------
    E. Amrani, L. Karlinsky and A. Bronstein, "Self-Supervised Classification
    Network", ECCV 2022 (https://github.com/elad-amrani/self-classifier).
    """
    check_positive("row_temperature", row_temperature)
    check_positive("column_temperature", column_temperature)
    check_positive("eps", eps)
    if logits_1.ndim < 2:
        raise ValueError(f"logits_1 must have shape (..., N, C), got {tuple(logits_1.shape)}.")
    if logits_1.shape != logits_2.shape:
        raise ValueError(
            "logits_1 and logits_2 must have the same shape, got "
            f"{tuple(logits_1.shape)} and {tuple(logits_2.shape)}."
        )

    def log_target(z):
        log_col = F.log_softmax(z / column_temperature, dim=-2)
        return log_col - log_col.logsumexp(dim=-1, keepdim=True)

    def log_pred(z):
        log_row = F.log_softmax(z / row_temperature, dim=-1)
        return log_row - log_row.logsumexp(dim=-2, keepdim=True)

    l12 = _cross_entropy(log_target(logits_1), log_pred(logits_2), eps)
    l21 = _cross_entropy(log_target(logits_2), log_pred(logits_1), eps)
    loss = (l12 + l21) / 2
    return loss, {"l12": l12.detach(), "l21": l21.detach()}
