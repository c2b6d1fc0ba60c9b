"""Min-max ("SCANv2") loss for self-supervised classification."""

import torch.nn.functional as F

from ._common import check_nonnegative, check_positive, check_shape, prior_entropy


def minmax_loss(
    p_anchor,
    p_neighbors,
    p_far,
    entropy_weight=1.0,
    similarity="cosine",
    eps=1e-8,
    far_weight=1.0,
    prior=None,
):
    """Min-max loss: neighbours share a class, far samples get orthogonal ones.

    With ``s`` the cosine (or dot product) similarity of two probability vectors
    and ``p_bar = mean_b p_anchor[b]``::

        L = mean_{b,k} (1 - s(p_anchor[b], p_neighbors[b, k]))^2
          + far_weight * mean_{b,m} s(p_anchor[b], p_far[b, m])^2
          - entropy_weight * H(p_bar)

    with ``H(p) = -sum_c p_c log p_c`` (natural log), or ``-KL(p_bar || prior)`` with a
    ``prior`` (:func:`~skssl._losses._common.prior_entropy`). The first two terms lie
    in [0, 1] because probability vectors are non-negative.

    Leading axes before ``B`` (e.g. one per cluster head) are kept: each head's loss
    is computed at once, in one graph, rather than in a Python loop over heads.

    Parameters
    ----------
    p_anchor : Tensor of shape (..., B, C)
        Class probabilities of the anchors (rows sum to 1).
    p_neighbors : Tensor of shape (..., B, K, C)
        Class probabilities of K near samples (neighbours) of each anchor.
    p_far : Tensor of shape (..., B, M, C)
        Class probabilities of M far samples (negatives) of each anchor.
    entropy_weight : float, default=1.0
        Weight ``lambda >= 0`` of the entropy of the mean prediction. The
        reference blog post uses 10 with log base 2 in a Keras activity
        regulariser, which Keras divides by the batch size.
    similarity : {"cosine", "dot"}, default="cosine"
        ``s``: the cosine of two probability vectors, or their dot product.
    eps : float, default=1e-8
        Floor of the norms in the cosine similarity and of ``p`` inside the log.
    far_weight : float, default=1.0
        Weight ``>= 0`` of the far term against the neighbour term. The reference's
        synthetic example sums over 900 far and 10 near pairs per sample.
    prior : Tensor of shape (C,) or None, default=None
        Target cluster shares of the entropy term; None for equal shares.

    Returns
    -------
    loss : Tensor of shape (...)
        The loss ``L`` (a scalar for 2-d ``p_anchor``).
    terms : dict of str to Tensor
        Detached components: ``"neighbor"``, ``"far"`` and ``"entropy"``
        (``H(p_bar)``, or ``-KL(p_bar || prior)``).

    References
    ----------
    Pawan, "Min-Max Loss, Self Supervised Classification" (blog post,
    "SCANv2"), extending W. Van Gansbeke et al., "SCAN: Learning to Classify
    Images without Labels", ECCV 2020.
    """
    check_nonnegative("entropy_weight", entropy_weight)
    check_nonnegative("far_weight", far_weight)
    check_positive("eps", eps)
    if p_anchor.ndim < 2:
        raise ValueError(f"p_anchor must have shape (..., B, C), got {tuple(p_anchor.shape)}.")
    lead = tuple(p_anchor.shape[:-2])
    n_samples, n_classes = p_anchor.shape[-2:]
    check_shape("p_neighbors", p_neighbors, (*lead, n_samples, None, n_classes), "(..., B, K, C)")
    check_shape("p_far", p_far, (*lead, n_samples, None, n_classes), "(..., B, M, C)")
    if p_neighbors.shape[-2] == 0 or p_far.shape[-2] == 0:
        raise ValueError("p_neighbors and p_far need at least one sample per anchor.")

    if similarity not in ("cosine", "dot"):
        raise ValueError(f"similarity must be 'cosine' or 'dot', got {similarity!r}.")
    anchor = p_anchor.unsqueeze(-2)
    if similarity == "cosine":
        near_similarity = F.cosine_similarity(anchor, p_neighbors, dim=-1, eps=eps)
        far_similarity = F.cosine_similarity(anchor, p_far, dim=-1, eps=eps)
    else:
        near_similarity = (anchor * p_neighbors).sum(-1)
        far_similarity = (anchor * p_far).sum(-1)
    neighbor = (1 - near_similarity).pow(2).mean(dim=(-2, -1))
    far = far_similarity.pow(2).mean(dim=(-2, -1))
    ent = prior_entropy(p_anchor.mean(dim=-2), prior, eps)
    loss = neighbor + far_weight * far - entropy_weight * ent
    terms = {"neighbor": neighbor.detach(), "far": far.detach(), "entropy": ent.detach()}
    return loss, terms
