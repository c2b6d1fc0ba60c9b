"""Helpers shared by the loss functions: entropy and argument checks."""

import torch


def entropy(p, eps):
    """Entropy ``H(p) = -sum_c p_c log p_c`` (natural log) along the last axis.

    The log is taken of ``p.clamp(min=eps)`` (out of place), so zero
    probabilities contribute 0 and give finite gradients.
    """
    return -(p * p.clamp(min=eps).log()).sum(dim=-1)


def prior_entropy(p_bar, prior, eps):
    """What an entropy term maximises: ``H(p_bar)``, or ``-KL(p_bar || prior)`` with a prior.

    ``-KL(p || pi) = H(p) + sum_c p_c log pi_c``: with the uniform prior it is
    ``H(p) - log C``, so the two differ by a constant and pull alike; with the cluster
    sizes of a partition as ``prior`` the mean prediction is pulled towards those
    sizes instead of equal ones.

    Parameters
    ----------
    p_bar : Tensor of shape (..., C)
        Mean predictions.
    prior : Tensor of shape (C,) or None
        Target cluster shares (positive, summing to 1); None for the plain entropy.
    eps : float
        Clamp inside the logs.
    """
    if prior is None:
        return entropy(p_bar, eps)
    return entropy(p_bar, eps) + (p_bar * prior.clamp(min=eps).log()).sum(dim=-1)


def check_positive(name, value):
    """Raise ValueError unless ``value > 0`` (NaN is rejected)."""
    if torch.is_tensor(value) and value.numel() != 1:
        raise ValueError(f"{name} must be a scalar, got shape {tuple(value.shape)}.")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}.")


def check_nonnegative(name, value):
    """Raise ValueError unless ``value >= 0`` (NaN is rejected)."""
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}.")


def check_shape(name, tensor, shape, names):
    """Raise ValueError unless ``tensor.shape`` matches ``shape``.

    ``shape`` holds sizes or None (any size); ``names`` spells the expected
    shape for the message, e.g. ``"(B, K, C)"``.
    """
    if tensor.ndim != len(shape) or any(
        want is not None and want != got for want, got in zip(shape, tensor.shape)
    ):
        raise ValueError(
            f"{name} must have shape {names} = {tuple('?' if s is None else s for s in shape)}, "
            f"got {tuple(tensor.shape)}."
        )
