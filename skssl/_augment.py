"""Tabular views for self-supervised training.

Every function is pure (its inputs are never modified) and draws its
randomness from the ``torch.Generator`` it is given: the same generator state gives
the same view. The draws happen on the generator's device and move to the data's,
so a CPU generator serves data on a GPU too.
"""

import torch


def _draw(sampler, shape, generator, device, **kwargs):
    """``sampler(shape)`` drawn on ``generator``'s device, then moved to ``device``."""
    return sampler(*kwargs.values(), shape, generator=generator, device=generator.device).to(device)


def _check_rate(rate):
    if not 0 <= rate < 1:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}.")


def gaussian_noise(x, scale, feature_std, generator):
    """Add Gaussian noise scaled per feature.

    ``x + scale * feature_std * N(0, 1)``, one independent draw per entry.

    Parameters
    ----------
    x : Tensor of shape (B, D)
        Floating-point samples.
    scale : float
        Noise level ``>= 0`` relative to each feature's spread.
    feature_std : float or Tensor of shape (D,)
        Standard deviation of each feature (e.g. over the training set).
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    Tensor of shape (B, D)
        The noisy copy of ``x``.
    """
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale!r}.")
    noise = _draw(torch.randn, x.shape, generator, x.device).to(x.dtype)
    return x + scale * feature_std * noise


def feature_mask(x, rate, generator, fill=None):
    """Mask a random subset of entries.

    Each entry is replaced independently with probability ``rate`` by 0, or by
    ``fill`` for its feature (e.g. the feature means).

    Parameters
    ----------
    x : Tensor of shape (B, D)
        Samples.
    rate : float
        Probability in [0, 1) that an entry is masked.
    generator : torch.Generator
        Source of randomness.
    fill : float or Tensor of shape (D,), default=None
        Value of the masked entries per feature; None means 0.

    Returns
    -------
    Tensor of shape (B, D)
        The masked copy of ``x``.
    """
    _check_rate(rate)
    mask = _draw(torch.rand, x.shape, generator, x.device) < rate
    fill = torch.as_tensor(0.0 if fill is None else fill, dtype=x.dtype, device=x.device)
    return torch.where(mask, fill, x)


def scarf_corrupt(x, pool, rate, generator):
    """SCARF corruption: replace entries by draws from their feature's marginal.

    Each entry ``x[b, d]`` is replaced independently with probability
    ``rate`` by ``pool[r, d]``, with ``r`` a row of ``pool`` drawn uniformly
    and independently for each entry, which is a draw from the empirical
    marginal distribution of feature ``d`` (D. Bahri, H. Jiang, Y. Tay and
    D. Metzler, "SCARF: Self-Supervised Contrastive Learning using Random
    Feature Corruption", ICLR 2022).

    Parameters
    ----------
    x : Tensor of shape (B, D)
        Samples.
    pool : Tensor of shape (M, D)
        Rows to draw replacement values from (e.g. the training set).
    rate : float
        Probability in [0, 1) that an entry is replaced.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    Tensor of shape (B, D)
        The corrupted copy of ``x``.
    """
    _check_rate(rate)
    if pool.ndim != 2 or pool.shape[1] != x.shape[-1] or pool.shape[0] == 0:
        raise ValueError(
            f"pool must have shape (M, {x.shape[-1]}) with M >= 1, got {tuple(pool.shape)}."
        )
    mask = _draw(torch.rand, x.shape, generator, x.device) < rate
    rows = _draw(torch.randint, x.shape, generator, x.device, high=pool.shape[0])
    replacement = torch.gather(pool, 0, rows.to(pool.device)).to(device=x.device, dtype=x.dtype)
    return torch.where(mask, replacement, x)


def neighbor_view(index, neighbors, generator):
    """Draw one neighbour of each anchor uniformly from a neighbours table.

    Parameters
    ----------
    index : LongTensor of shape (B,)
        Row indices of the anchors.
    neighbors : Tensor of shape (n, k), int32 or int64
        ``neighbors[i]`` lists the k neighbours of sample ``i``.
    generator : torch.Generator
        Source of randomness.

    Returns
    -------
    LongTensor of shape (B,)
        The index of one neighbour per anchor.
    """
    if neighbors.ndim != 2 or neighbors.shape[1] == 0:
        raise ValueError(
            f"neighbors must have shape (n, k) with k >= 1, got {tuple(neighbors.shape)}."
        )
    index = index.to(neighbors.device)
    column = _draw(torch.randint, index.shape, generator, neighbors.device, high=neighbors.shape[1])
    return neighbors[index, column].long()


def neighbor_corrupt(x, index, data, neighbors, rate, generator):
    """SCARF corruption from the sample's own neighbours instead of the whole data.

    Each entry is replaced with probability ``rate`` by the same feature of one of
    the sample's mined neighbours (drawn per entry): the view stays near the
    sample's class, where a draw from the global marginal can leave it.

    Parameters
    ----------
    x : Tensor of shape (B, D)
        The rows ``data[index]``, possibly already transformed.
    index : LongTensor of shape (B,)
    data : Tensor of shape (n, D)
    neighbors : Tensor of shape (n, k)
    rate : float in [0, 1)
    generator : torch.Generator

    Returns
    -------
    Tensor of shape (B, D)
    """
    _check_rate(rate)
    mask = _draw(torch.rand, x.shape, generator, x.device) < rate
    column = _draw(torch.randint, x.shape, generator, x.device, high=neighbors.shape[1])
    rows = torch.gather(neighbors[index].long(), 1, column)
    features = torch.arange(x.shape[1], device=x.device).expand_as(rows)
    return torch.where(mask, data[rows, features], x)
