"""Small Torch networks: MLP encoders, cluster heads and the autoencoder.

Every network starts with :class:`Standardize`, whose buffers hold the training
data's mean and spread, so that inputs of any scale (1e-8 or 1e8) reach the first
layer near unit scale and the fitted module is self-contained for prediction.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def standardizer(X):
    """A :class:`Standardize` layer fitted on the array ``X``; constant features keep scale 1.

    Its ``scale`` is the one measure of a feature's spread that every view and noise
    level uses.
    """
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
    return Standardize(mean, scale)


class Standardize(nn.Module):
    """Subtract a per-feature mean and divide by a per-feature scale (fixed buffers)."""

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale


def mlp(sizes, activate_last=False):
    """``Linear -> ReLU`` layers through ``sizes`` (input size first).

    The last linear layer is followed by a ReLU only when ``activate_last``.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if activate_last or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def mlp_encoder(n_features, hidden_layer_sizes):
    """ReLU layers of ``hidden_layer_sizes`` (``nn.Identity`` for none) and their output width."""
    if not hidden_layer_sizes:
        return nn.Identity(), n_features
    return mlp((n_features, *hidden_layer_sizes), activate_last=True), hidden_layer_sizes[-1]


class LinearHeads(nn.Module):
    """``n_heads`` cluster heads of one width on a shared embedding, in one product.

    Plain heads are affine, ``logits = W_h v + b_h``. With a ``temperature`` they are
    the normalised fully connected heads of Han et al. (the IIC + consistency
    preserving paper), ``logits_j = (w_j / ||w_j||) . (v / ||v||) / temperature``:
    with both sides of unit norm the temperature alone sets how peaked the softmax
    is. One batched product for all heads replaced a Python loop over them, whose
    calls and backward passes dominated SCAN's steps.

    Parameters
    ----------
    n_in, n_out : int
        Embedding width and number of clusters.
    n_heads : int, default=1
    temperature : float or None, default=None
        None for plain heads.
    """

    def __init__(self, n_in, n_out, n_heads=1, temperature=None):
        super().__init__()
        self.temperature = temperature
        bound = 1 / n_in**0.5  # nn.Linear's initialisation, head by head
        self.weight = nn.Parameter(torch.empty(n_heads, n_out, n_in).uniform_(-bound, bound))
        self.bias = None
        if temperature is None:
            self.bias = nn.Parameter(torch.empty(n_heads, n_out).uniform_(-bound, bound))

    def _logits_by_cluster(self, v):
        """Logits laid out as ``(n_heads, n_out, B)``, from one flat matrix product."""
        n_heads, n_out, n_in = self.weight.shape
        weight = self.weight
        if self.temperature is not None:
            weight, v = F.normalize(weight, dim=2), F.normalize(v, dim=1) / self.temperature
        flat = weight.reshape(n_heads * n_out, n_in) @ v.mT
        if self.bias is not None:
            flat = flat + self.bias.reshape(n_heads * n_out, 1)
        return flat.view(n_heads, n_out, v.shape[0])

    def forward(self, v):
        """Logits of every head, shape ``(n_heads, B, n_out)``."""
        return self._logits_by_cluster(v).mT

    def proba(self, v):
        """Softmax of every head, shape ``(n_heads, B, n_out)``.

        The softmax runs along the middle axis of ``(n_heads, n_out, B)`` logits: Torch's
        CPU softmax along a short last axis is several times slower.
        """
        return torch.softmax(self._logits_by_cluster(v), dim=1).mT

    def keep(self, head, order):
        """Keep head ``head`` alone, its outputs permuted to ``order``."""
        order = torch.as_tensor(order, device=self.weight.device)
        self.weight = nn.Parameter(self.weight.data[head : head + 1, order].clone())
        if self.bias is not None:
            self.bias = nn.Parameter(self.bias.data[head : head + 1, order].clone())


class ClusteringNetwork(nn.Module):
    """Standardise, encode, then cluster heads giving logits.

    ``forward`` returns the probabilities of the first head; estimators keep one
    head after training (:meth:`LinearHeads.keep`), its clusters numbered by size.

    Parameters
    ----------
    standardize : Standardize
    encoder : nn.Module
        Maps standardised inputs to the embedding ``v``; ``nn.Identity()`` for none.
    heads : LinearHeads
        The cluster heads.
    overclustering : LinearHeads or None, default=None
        An auxiliary head of another width, trained alongside and never predicted.
    """

    def __init__(self, standardize, encoder, heads, overclustering=None):
        super().__init__()
        self.standardize = standardize
        self.encoder = encoder
        self.heads = heads
        self.overclustering = overclustering

    def embed(self, x):
        return self.encoder(self.standardize(x))

    def all_logits(self, x):
        """Logits of every head (main heads, then the over-clustering head) and the embedding."""
        v = self.embed(x)
        logits = list(self.heads(v).unbind(0))
        if self.overclustering is not None:
            logits += list(self.overclustering(v).unbind(0))
        return logits, v

    def forward(self, x):
        return self.heads.proba(self.embed(x))[0]

    def keep_head(self, head, order):
        """Keep only main head ``head`` for prediction, its columns in ``order``."""
        self.heads.keep(head, order)
        self.overclustering = None


class Autoencoder(nn.Module):
    """Standardise, encode to a code through ReLU layers, and decode back (mirrored).

    ``forward`` returns the code: linear, or scaled to unit length with
    ``unit_code=True`` (for a cosine loss on the codes).

    Parameters
    ----------
    standardize : Standardize
    sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_components)``; the decoder runs them
        in reverse.
    unit_code : bool, default=False
    """

    def __init__(self, standardize, sizes, unit_code=False):
        super().__init__()
        self.standardize = standardize
        self.encoder = mlp(sizes)
        self.decoder = mlp(sizes[::-1])
        self.unit_code = unit_code

    def forward(self, x):
        code = self.encoder(self.standardize(x))
        return F.normalize(code, dim=1) if self.unit_code else code

    def reconstruct_standardized(self, code):
        """The decoder's output, in the standardised space the reconstruction loss uses."""
        return self.decoder(code)

    def decode(self, code):
        """Map codes back to the original feature scale."""
        return self.decoder(code) * self.standardize.scale + self.standardize.mean
