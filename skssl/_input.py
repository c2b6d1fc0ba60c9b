"""The kind of input: how its neighbours are mined, how a training view is drawn, which encoder.

Every estimator asks :func:`input_kind` for the object that knows its input, and asks
that object, never the rows themselves:

- ``mine(X, n_neighbors, metric, random_state)``: the nearest neighbours of every row;
- ``mine_with_distances(...)``: the same with their distances, which weigh the graph;
- ``weak_view(x, generator)`` and ``strong_view(x, generator)``: random training views
  of a batch of rows (the consistency terms use weak ones, self-labelling strong ones);
- ``encoder(n_features, hidden_layer_sizes, convolutional=True)``: the layers that read
  the rows (an estimator whose objective cannot train convolutions asks for none).

:class:`TabularInput` is a table of features, today's behaviour: neighbours in the
given space, no weak view (a row is its own view) and an MLP. :class:`ImageInput`
reads each row as an image flattened in C order: neighbours are mined under one-pixel
shifts (the distance of two images is the smallest over the moved copies of one of
them), views are random affine moves, and images of 16 pixels a side and more are read
by convolutions before the dense layers. A third kind is one more
class here and a parameter in the estimators.
"""

import math
from numbers import Integral

import numpy as np
import torch
from sklearn import config_context
from sklearn.neighbors import NearestNeighbors
from torch.nn import functional as F

from skssl._augment import _draw, gaussian_noise, neighbor_corrupt
from skssl._embedding import neighbor_distances
from skssl._neighbors import (
    EXACT_SEARCH_WORKING_MEMORY_MB,
    approximate_index,
    check_neighbor_count,
    mine_neighbors,
    search_method,
    unit_rows,
)
from skssl._networks import MIN_CONV_MAP, encoder_from_architecture, mlp_encoder

#: The moved copies under which image neighbours are mined: the image itself and its 8
#: shifts by ``MINING_SHIFT_PIXELS`` along each axis and diagonal. Whole pixels, so the
#: copies are not blurred by interpolation; rotations of 6 or 10 degrees were measured
#: and cost Fashion-MNIST more purity than they gave USPS (the user guide's table).
MINING_SHIFT_PIXELS = 1

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

    def mine(self, X, n_neighbors, *, metric="euclidean", random_state=None):
        return mine_neighbors(X, n_neighbors, metric=metric, random_state=random_state)

    def mining_space(self, X, mean, scale):
        """The rows in which an estimator that standardises features mines: standardised."""
        return (X - mean) / scale

    def mine_with_distances(self, X, n_neighbors, *, metric="euclidean", random_state=None):
        neighbors = self.mine(X, n_neighbors, metric=metric, random_state=random_state)
        return neighbors, neighbor_distances(X, neighbors, metric)

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


def mining_shifts(*, opposites=True):
    """The fixed mining moves as whole-pixel ``(rows, columns)`` shifts, identity first:
    :data:`MINING_SHIFT_PIXELS` along each axis and diagonal.

    Without ``opposites``, one shift of each opposite pair (4 of the 8).
    """
    step = MINING_SHIFT_PIXELS
    shifts = [(rows, columns) for columns in (0, -step, step) for rows in (0, -step, step)]
    return [shift for shift in shifts if opposites or shift >= (0, 0)]


def _reverse_lists(indices, distances, width):
    """Row ``j``'s ``width`` nearest among the rows ``i`` whose lists hold ``j``.

    Padded with the row itself at an infinite distance, which the merge drops.
    """
    n_samples = indices.shape[0]
    sources = np.repeat(np.arange(n_samples), indices.shape[1])
    targets, distances = indices.ravel(), distances.ravel()
    order = np.lexsort((distances, targets))
    sources, targets, distances = sources[order], targets[order], distances[order]
    rank = np.arange(targets.shape[0]) - np.searchsorted(targets, targets)
    keep = rank < width
    reverse = np.tile(np.arange(n_samples)[:, None], (1, width))
    reverse_distances = np.full((n_samples, width), np.inf)
    reverse[targets[keep], rank[keep]] = sources[keep]
    reverse_distances[targets[keep], rank[keep]] = distances[keep]
    return reverse, reverse_distances


def _merge_candidates(candidates, distances, n_neighbors):
    """Each row's ``n_neighbors`` nearest candidates, a candidate counted once at its nearest."""
    n_samples = candidates.shape[0]
    distances = np.where(candidates == np.arange(n_samples)[:, None], np.inf, distances)
    # Sorted by candidate, then distance: the first of each run of one candidate is its nearest.
    order = np.lexsort((distances, candidates), axis=1)
    candidates = np.take_along_axis(candidates, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    repeat = np.zeros_like(candidates, dtype=bool)
    repeat[:, 1:] = candidates[:, 1:] == candidates[:, :-1]
    distances[repeat] = np.inf
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    return (
        np.take_along_axis(candidates, nearest, axis=1).astype(np.int32),
        np.take_along_axis(distances, nearest, axis=1),
    )


class ImageInput:
    """Rows as images of ``image_shape`` ``(height, width, channels)``, flattened in C order."""

    def __init__(self, image_shape):
        self.image_shape = image_shape

    def moved_copies(self, X, *, opposites=True):
        """Every image of ``X`` under each mining move in turn, identity first (float32).

        Whole-pixel shifts are slices of one edge-padded array (the border extended): on
        Fashion-MNIST's 70,000 images the nine copies took 30 s through
        :func:`affine_move`'s interpolation.
        """
        height, width, channels = self.image_shape
        pad = MINING_SHIFT_PIXELS
        images = np.asarray(X, dtype=np.float32).reshape(-1, height, width, channels)
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), "edge")
        for rows, columns in mining_shifts(opposites=opposites):
            top, left = pad - rows, pad - columns
            yield padded[:, top : top + height, left : left + width].reshape(X.shape)

    def mine_with_distances(
        self, X, n_neighbors, *, metric="euclidean", method="auto", random_state=None
    ):
        """Neighbours under the mining moves and their distances (the smallest over moves).

        The nearest ``n_neighbors + 1`` rows of each moved copy are searched among the
        unmoved rows, and a row's neighbours are the nearest of all those candidates
        but itself. This is exact: a row among the ``n_neighbors`` nearest at its best
        move is among that move's ``n_neighbors + 1`` nearest (the ``+ 1`` for the
        image itself). Exact search up to ``EXACT_SEARCH_MAX_SAMPLES`` rows (or with
        ``method="exact"``), above it PyNNDescent's index of the rows: its own graph
        gives the unmoved copy's candidates, and it is queried with one shift of each
        opposite pair, each pair found serving both of its rows.
        """
        n_samples = X.shape[0]
        n_neighbors = check_neighbor_count(n_neighbors, n_samples)
        cosine = metric == "cosine"

        def prepared(rows):
            # Single precision: the searches are matrix products, twice as fast in it.
            return np.asarray(unit_rows(rows) if cosine else rows, dtype=np.float32)

        base = prepared(X)
        width = min(n_samples, n_neighbors + 1)
        if search_method(method, n_samples) == "exact":
            search = NearestNeighbors(n_neighbors=width, algorithm="brute").fit(base)
            found = []
            for copy in self.moved_copies(X):
                with config_context(working_memory=EXACT_SEARCH_WORKING_MEMORY_MB):
                    distances, indices = search.kneighbors(prepared(copy))
                found.append((indices, distances.astype(np.float64)))
        else:
            index = approximate_index(base, width, random_state=random_state, queryable=True)
            # The unmoved copy's query would repeat the index's graph (Fashion-MNIST:
            # 99% the same neighbours and the same purity, for 9 s of the 80 s).
            indices, distances = index.neighbor_graph
            found = [(indices[:, :width], distances[:, :width].astype(np.float64))]
            # Row i moved by s near row j is row j moved by -s near row i (but for the
            # border), so half the shifts' queries serve both rows of each pair found.
            copies = self.moved_copies(X, opposites=False)
            next(copies)
            for copy in copies:
                indices, distances = index.query(prepared(copy), k=width)
                found.append((indices, distances.astype(np.float64)))
                found.append(_reverse_lists(*found[-1], width))
        candidates = np.concatenate([indices for indices, _ in found], axis=1)
        distances = np.concatenate([d for _, d in found], axis=1)
        neighbors, distances = _merge_candidates(candidates, distances, n_neighbors)
        # Cosine distance of unit rows is half their squared Euclidean distance.
        return neighbors, distances**2 / 2 if cosine else distances

    def mining_space(self, X, mean, scale):
        """The images themselves: per-pixel standardising would move with every shift."""
        return X

    def mine(self, X, n_neighbors, *, metric="euclidean", random_state=None):
        return self.mine_with_distances(X, n_neighbors, metric=metric, random_state=random_state)[0]

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
