"""SCAN semantic clustering loss."""

from ._common import check_nonnegative, check_positive, check_shape, entropy


def scan_loss(p_anchor, p_neighbor, entropy_weight=5.0, eps=1e-8):
    """SCAN loss: consistent predictions for neighbours, spread over classes.

    With ``p_bar = mean_b p_anchor[b]``::

        L = - mean_{b,k} log <p_anchor[b], p_neighbor[b, k]>
            - entropy_weight * H(p_bar)

    with ``H(p) = -sum_c p_c log p_c`` (natural log). The paper sums over the
    neighbours of each anchor; this averages over anchors and neighbours,
    which equals the public code for its one neighbour per anchor.

    Parameters
    ----------
    p_anchor : Tensor of shape (B, C)
        Class probabilities of the anchors (rows sum to 1).
    p_neighbor : Tensor of shape (B, C) or (B, K, C)
        Class probabilities of one or K neighbours of each anchor.
    entropy_weight : float, default=5.0
        Weight ``lambda >= 0`` of the entropy term (5 in the public configs,
        2 in the paper's summary).
    eps : float, default=1e-8
        The dot products and ``p_bar`` are clamped to at least ``eps``
        (out of place) inside the logs.

    Returns
    -------
    loss : Tensor of shape ()
        The loss ``L``.
    terms : dict of str to Tensor
        Detached components: ``"consistency"`` (the first term) and
        ``"entropy"`` (``H(p_bar)``, positive).

    References
    ----------
    W. Van Gansbeke, S. Vandenhende, S. Georgoulis, M. Proesmans and
    L. Van Gool, "SCAN: Learning to Classify Images without Labels",
    ECCV 2020, eq. 2.
    """
    check_nonnegative("entropy_weight", entropy_weight)
    check_positive("eps", eps)
    check_shape("p_anchor", p_anchor, (None, None), "(B, C)")
    n_samples, n_classes = p_anchor.shape
    if p_neighbor.ndim == 2:
        p_neighbor = p_neighbor.unsqueeze(1)
    check_shape("p_neighbor", p_neighbor, (n_samples, None, n_classes), "(B, K, C)")
    if p_neighbor.shape[1] == 0:
        raise ValueError("p_neighbor needs at least one neighbour per anchor.")

    dots = (p_anchor.unsqueeze(1) * p_neighbor).sum(dim=-1)
    consistency = -dots.clamp(min=eps).log().mean()
    ent = entropy(p_anchor.mean(dim=0), eps)
    loss = consistency - entropy_weight * ent
    return loss, {"consistency": consistency.detach(), "entropy": ent.detach()}
