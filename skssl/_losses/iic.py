"""Invariant Information Clustering (IIC) loss."""

from ._common import check_positive, check_shape


def iic_loss(p_1, p_2, eps=1e-8):
    """Negative mutual information of the cluster assignments of two views.

    With the joint distribution of the predictions of a sample and its view::

        P = p_1^T p_2 / N,  P = (P + P^T) / 2,  P = P / sum(P)        (C, C)
        P_c = sum_c' P_cc'   (marginal, computed before clamping)
        I = sum_{c,c'} P_cc' log(P_cc' / (P_c P_c'))
        L = -I

    ``P`` and its marginals are clamped to at least ``eps`` out of place
    (``clamp(min=eps)``) before the logs. ``0 <= I <= log C`` up to that
    clamping.

    Parameters
    ----------
    p_1, p_2 : Tensor of shape (..., N, C)
        Class probabilities of the N samples and of their views. Leading axes (e.g.
        one per cluster head) are kept: every head's loss at once, in one graph.
    eps : float, default=1e-8
        Floor of the joint and marginal probabilities.

    Returns
    -------
    loss : Tensor of shape (...)
        The loss ``-I`` (a scalar for 2-d inputs).
    terms : dict of str to Tensor
        Detached ``"mutual_information"`` (``I``, non-negative).

    References
    ----------
    X. Ji, J. F. Henriques and A. Vedaldi, "Invariant Information Clustering
    for Unsupervised Image Classification and Segmentation", ICCV 2019; used
    as the class assignment loss by S. Han et al., "Mitigating Embedding and
    Class Assignment Mismatch in Unsupervised Image Classification",
    ECCV 2020.
    """
    check_positive("eps", eps)
    if p_1.ndim < 2:
        raise ValueError(f"p_1 must have shape (..., N, C), got {tuple(p_1.shape)}.")
    check_shape("p_2", p_2, tuple(p_1.shape), "(..., N, C)")

    joint = p_1.mT @ p_2 / p_1.shape[-2]
    joint = (joint + joint.mT) / 2
    joint = joint / joint.sum(dim=(-2, -1), keepdim=True)
    p_row = joint.sum(dim=-1, keepdim=True).clamp(min=eps)
    p_col = joint.sum(dim=-2, keepdim=True).clamp(min=eps)
    joint = joint.clamp(min=eps)
    mi = (joint * (joint.log() - p_row.log() - p_col.log())).sum(dim=(-2, -1))
    return -mi, {"mutual_information": mi.detach()}
