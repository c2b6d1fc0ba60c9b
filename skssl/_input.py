"""The kind of input: how its neighbours are mined, how a training view is drawn, which encoder.

Every estimator asks :func:`input_kind` for the object that knows its input, and asks
that object, never the rows themselves:

- ``image_shape``: None for a table, else what the graph stage mines under
  (:func:`skssl._graph.mining.mine_neighbors`);
- ``mining_space(X, mean, scale)``: the rows in which an estimator that standardises
  features mines;
- ``weak_view(x, generator)`` and ``strong_view(x, generator)``: random training views
  of a batch of rows (the consistency terms use weak ones, self-labelling strong ones);
- ``encoder(n_features, hidden_layer_sizes, convolutional=True)``: the layers that read
  the rows (an estimator whose objective cannot train convolutions asks for none).

:class:`TabularInput` is a table of features, today's behaviour: neighbours in the
given space, no weak view (a row is its own view) and an MLP. :class:`ImageInput`
reads each row as an image flattened in C order: neighbours are mined under one-pixel
shifts, views are random affine moves, and images of 16 pixels a side and more are read
by convolutions before the dense layers. A third kind is one more
class here and a parameter in the estimators.
"""

import math
from numbers import Integral

import numpy as np
import torch
from torch.nn import functional as F

from skssl._augment import _draw, gaussian_noise, neighbor_corrupt
from skssl._networks import MIN_CONV_MAP, encoder_from_architecture, mlp_encoder

#: Random affine views: the largest rotation (degrees), shift (fraction of a side) and
#: change of scale. The weak view is DEC-DA's augmentation of handwriting (Guo et al.,
#: 2018: shifts and rotations of 10%), the strong one about twice as far.
WEAK_VIEW = {"rotation": 10.0, "shift": 0.1, "scale": 0.1}
STRONG_VIEW = {"rotation": 20.0, "shift": 0.15, "scale": 0.2}


#: Output channels of the image encoder's convolution stages, each of which halves the
#: sides. Images with room for every stage at a 4 x 4 map or more (sides of 16 and up)
#: get them before the dense layers; SCAN on USPS (16 x 16) rose from 0.970 with the
#: MLP to 0.976 (seeds 0-2), where 16 and 32 channels scored 0.977 in 70% more
#: training time. Smaller images keep the MLP: on the digits (8 x 8) one stage scored
#: 0.937 and two 0.89, against the MLP's 0.944.
CONV_CHANNELS = (8, 16)


def check_image_shape(image_shape, n_features):
    """``image_shape`` as ``(height, width, channels)`` ints, checked against ``n_features``."""
    shape = image_shape
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) not in (2, 3):
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels), "
            f"got {image_shape!r}."
        )
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"image_shape must hold positive ints, got {image_shape!r}.")
    shape = tuple(int(s) for s in shape) + (1,) * (3 - len(shape))
    # Python ints: NumPy's product wraps round past 2**63 and could match n_features.
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={image_shape!r} holds {math.prod(shape)} values per image but X "
            f"has {n_features} features."
        )
    return shape


def input_kind(image_shape, n_features):
    """The :class:`TabularInput` or :class:`ImageInput` that reads rows of ``n_features``."""
    if image_shape is None:
        return TabularInput()
    return ImageInput(check_image_shape(image_shape, n_features))


class TabularInput:
    """Rows as tables of features: neighbours in the given space, an MLP, no weak view."""

    image_shape = None

    def mining_space(self, X, mean, scale):
        """The rows in which an estimator that standardises features mines: standardised."""
        return (X - mean) / scale

    def weak_view(self, x, generator):
        return x

    def strong_view(self, x, generator, *, index, data, neighbors, feature_std):
        """20% of the features swapped for those of the row's own neighbours, plus noise.

        The swapped values stay near the row's class, where a draw from the whole
        column's marginal (SCARF) can leave it.
        """
        corrupted = neighbor_corrupt(x, index, data, neighbors, 0.2, generator)
        return gaussian_noise(corrupted, 0.1, feature_std, generator)

    def encoder(self, n_features, hidden_layer_sizes, *, convolutional=True):
        return mlp_encoder(n_features, hidden_layer_sizes)


def affine_move(x, image_shape, theta):
    """Images ``x`` (rows, C order) moved by the affine maps ``theta`` of shape (B, 2, 3).

    ``theta`` maps output to input coordinates in [-1, 1] (:func:`torch.nn.functional.
    affine_grid`); pixels are interpolated bilinearly and the border is extended, so a
    shifted image keeps its background.
    """
    height, width, channels = image_shape
    images = x.reshape(-1, height, width, channels).permute(0, 3, 1, 2)
    grid = F.affine_grid(theta.to(x.dtype), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, padding_mode="border", align_corners=False)
    return moved.permute(0, 2, 3, 1).reshape(x.shape)


def affine_maps(rotation, shift_x, shift_y, scale):
    """``(B, 2, 3)`` maps of rotations (degrees), shifts (fractions of a side) and scales."""
    angle = torch.deg2rad(rotation)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # A move by s of the side is 2 s in affine_grid's [-1, 1] coordinates.
    row_x = torch.stack([cos, -sin, -2 * shift_x], dim=1)
    row_y = torch.stack([sin, cos, -2 * shift_y], dim=1)
    return torch.stack([row_x, row_y], dim=1)


def random_affine(x, image_shape, generator, *, rotation, shift, scale):
    """Each image of ``x`` moved at random: uniform rotation, shifts and log-scale within bounds.

    Pure, and drawn from ``generator`` only: the same state gives the same views.
    """
    size = (x.shape[0],)

    def uniform(bound):
        return (2 * _draw(torch.rand, size, generator, x.device) - 1) * bound

    factor = torch.exp(uniform(np.log1p(scale)))
    return affine_move(
        x, image_shape, affine_maps(uniform(rotation), uniform(shift), uniform(shift), factor)
    )


class ImageInput:
    """Rows as images of ``image_shape`` ``(height, width, channels)``, flattened in C order."""

    def __init__(self, image_shape):
        self.image_shape = image_shape

    def mining_space(self, X, mean, scale):
        """The images themselves: per-pixel standardising would move with every shift."""
        return X

    def weak_view(self, x, generator):
        return random_affine(x, self.image_shape, generator, **WEAK_VIEW)

    def strong_view(self, x, generator, **_):
        return random_affine(x, self.image_shape, generator, **STRONG_VIEW)

    def encoder(self, n_features, hidden_layer_sizes, *, convolutional=True):
        """:data:`CONV_CHANNELS` stages, then ``hidden_layer_sizes``, where the image has
        room for them; the MLP on smaller images, or when not ``convolutional``."""
        smallest_map = min(self.image_shape[:2]) // 2 ** len(CONV_CHANNELS)
        convolutions = {"image_shape": self.image_shape, "channels": CONV_CHANNELS}
        if not convolutional or smallest_map < MIN_CONV_MAP:
            convolutions = None
        return encoder_from_architecture(n_features, hidden_layer_sizes, convolutions)
