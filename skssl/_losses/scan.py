"""SCAN semantic clustering loss."""

from ._common import check_nonnegative, check_positive, check_shape, prior_entropy


def scan_loss(p_anchor, p_neighbor, entropy_weight=5.0, prior=None, eps=1e-8):
    """SCAN loss: consistent predictions for neighbours, spread over classes.

    With ``p_bar = mean_b p_anchor[b]``::

        L = - mean_{b,k} log <p_anchor[b], p_neighbor[b, k]>
            - entropy_weight * H(p_bar)

    with ``H(p) = -sum_c p_c log p_c`` (natural log); with a ``prior`` ``pi`` the
    entropy becomes ``-KL(p_bar || pi)``, which pulls the cluster sizes towards
    ``pi`` instead of equal sizes (:func:`~skssl._losses._common.prior_entropy`).
    The paper sums over the neighbours of each anchor; this averages over anchors
    and neighbours, which equals the public code for its one neighbour per anchor.

    A leading axis of H heads may be given (``p_anchor`` of shape (H, B, C)): the
    loss and terms are then computed for every head at once, in one set of tensor
    operations instead of a Python loop, and have shape (H,).

    Parameters
    ----------
    p_anchor : Tensor of shape (B, C) or (H, B, C)
        Class probabilities of the anchors (rows sum to 1).
    p_neighbor : Tensor of shape (B, C) or (B, K, C), or (H, B, C) or (H, B, K, C)
        Class probabilities of one or K neighbours of each anchor.
    entropy_weight : float, default=5.0
        Weight ``lambda >= 0`` of the entropy term (5 in the public configs,
        2 in the paper's summary).
    prior : Tensor of shape (C,) or None, default=None
        Target cluster shares; None is the paper's uniform target.
    eps : float, default=1e-8
        The dot products and ``p_bar`` are clamped to at least ``eps``
        (out of place) inside the logs.

    Returns
    -------
    loss : Tensor of shape () or (H,)
        The loss ``L`` (of every head).
    terms : dict of str to Tensor
        Detached components: ``"consistency"`` (the first term) and
        ``"entropy"`` (``H(p_bar)``, or ``-KL(p_bar || prior)``).

    References
    ----------
    W. Van Gansbeke, S. Vandenhende, S. Georgoulis, M. Proesmans and
    L. Van Gool, "SCAN: Learning to Classify Images without Labels",
    ECCV 2020, eq. 2.
    """
    check_nonnegative("entropy_weight", entropy_weight)
    check_positive("eps", eps)
    if p_anchor.ndim not in (2, 3):
        raise ValueError(
            f"p_anchor must have shape (B, C) or (H, B, C), got {tuple(p_anchor.shape)}."
        )
    heads = tuple(p_anchor.shape[:-2])
    n_samples, n_classes = p_anchor.shape[-2:]
    if p_neighbor.ndim == p_anchor.ndim:
        p_neighbor = p_neighbor.unsqueeze(-2)
    names = "(H, B, K, C)" if heads else "(B, K, C)"
    check_shape("p_neighbor", p_neighbor, (*heads, n_samples, None, n_classes), names)
    if p_neighbor.shape[-2] == 0:
        raise ValueError("p_neighbor needs at least one neighbour per anchor.")

    dots = (p_anchor.unsqueeze(-2) * p_neighbor).sum(dim=-1)
    consistency = -dots.clamp(min=eps).log().mean(dim=(-2, -1))
    ent = prior_entropy(p_anchor.mean(dim=-2), prior, eps)
    loss = consistency - entropy_weight * ent
    return loss, {"consistency": consistency.detach(), "entropy": ent.detach()}
