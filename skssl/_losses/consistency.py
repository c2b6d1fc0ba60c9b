"""Consistency preserving loss on L2-normalised embeddings."""

import torch
import torch.nn.functional as F

from ._common import check_positive, check_shape


def consistency_preserving_loss(v, v_view, temperature=0.1):
    """Consistency preserving loss: each sample is recognised in its view only.

    A non-parametric instance classifier whose N class weights are the
    L2-normalised embeddings ``v_1 .. v_N`` of the batch. A sample ``i`` is
    classified as instance ``j`` with probability::

        p_i^j = exp(v_j . v_i / tau) / sum_{k=1}^N exp(v_k . v_i / tau)      (j != i)
        p_i^i = exp(v_i . v'_i / tau) / sum_{k=1}^N exp(v_k . v'_i / tau)

    where ``v'_i`` is the embedding of the view of sample ``i``, and::

        L = (1/N) [ - sum_i sum_{j != i} log(1 - p_i^j) - sum_i log p_i^i ]

    Choices, where the reference formula leaves room:

    - the candidates ``k`` in every denominator are the N non-augmented
      embeddings (the reference formula; the views are only queries);
    - the denominator of ``p_i^j`` keeps the self term ``k = i``, so every
      row is a proper distribution over the N instances, the term
      ``-log(1 - p_i^j)`` keeps pushing ``v_j`` away from ``v_i`` (without the
      self term the ``p_i^j`` of a row would sum to 1 and the term would only
      equalise them), and ``p_i^j <= 1/2`` since ``v_i . v_i`` is the largest
      similarity: ``log(1 - p_i^j)`` is finite and its gradient bounded;
    - the sums are divided by N (as in the invariant-and-spreading code):
      the first term grows with the batch size like ``N - 1`` pairs per sample;
    - neither ``v`` nor ``v_view`` is detached.

    Parameters
    ----------
    v : Tensor of shape (N, D)
        Embeddings of the samples; L2-normalised here.
    v_view : Tensor of shape (N, D)
        Embeddings of their views (augmentations); L2-normalised here.
    temperature : float, default=0.1
        Softmax temperature ``tau > 0``.

    Returns
    -------
    loss : Tensor of shape ()
        The loss ``L``.
    terms : dict of str to Tensor
        Detached ``"negative"`` (``-(1/N) sum_i sum_{j != i} log(1 - p_i^j)``)
        and ``"positive"`` (``-(1/N) sum_i log p_i^i``).

    References
    ----------
    S. Han, S. Park, S. Park, S. Kim and M. Cha, "Mitigating Embedding and
    Class Assignment Mismatch in Unsupervised Image Classification",
    ECCV 2020, eq. 6; the same form is the AUG loss of Super-AND and the
    instance loss of M. Ye, X. Zhang, P. C. Yuen and S.-F. Chang,
    "Unsupervised Embedding Learning via Invariant and Spreading Instance
    Feature", CVPR 2019.
    """
    check_positive("temperature", temperature)
    check_shape("v", v, (None, None), "(N, D)")
    check_shape("v_view", v_view, tuple(v.shape), "(N, D)")

    v = F.normalize(v, dim=1)
    v_view = F.normalize(v_view, dim=1)
    n_samples = v.shape[0]
    log_p = F.log_softmax(v @ v.T / temperature, dim=1)
    log_p_view = F.log_softmax(v_view @ v.T / temperature, dim=1).diagonal()
    off_diagonal = ~torch.eye(n_samples, dtype=torch.bool, device=v.device)
    negative = -torch.log1p(-log_p[off_diagonal].exp()).sum() / n_samples
    positive = -log_p_view.mean()
    loss = negative + positive
    return loss, {"negative": negative.detach(), "positive": positive.detach()}
