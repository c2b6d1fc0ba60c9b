"""Helpers shared by the loss functions: entropy and argument checks."""

import torch


def entropy(p, eps):
    """Entropy ``H(p) = -sum_c p_c log p_c`` (natural log) along the last axis.

    The log is taken of ``p.clamp(min=eps)`` (out of place), so zero
    probabilities contribute 0 and give finite gradients.
    """
    return -(p * p.clamp(min=eps).log()).sum(dim=-1)


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
