"""Small Torch networks: MLP encoders, cluster heads and the autoencoder.

Every network starts with :class:`Standardize`, whose buffers hold the training
data's mean and spread, so that inputs of any scale (1e-8 or 1e8) reach the first
layer near unit scale and the fitted module is self-contained for prediction.
"""

import torch
from torch import nn
from torch.nn import functional as F


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


class NormalizedHead(nn.Module):
    """Normalised fully connected head: ``logits_j = (w_j / ||w_j||) . (v / ||v||) / tau``.

    The cosine classifier of Han et al. (the IIC + consistency-preserving paper):
    with both sides of unit norm, ``temperature`` alone sets how peaked the softmax is.
    """

    def __init__(self, n_in, n_out, temperature):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_out, n_in))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.temperature = temperature

    def forward(self, v):
        return F.normalize(v, dim=1) @ F.normalize(self.weight, dim=1).T / self.temperature


class ClusteringNetwork(nn.Module):
    """Standardise, encode, then one or more cluster heads giving logits.

    ``forward`` returns the probabilities of the selected head with its columns in
    ``output_order``: estimators sort clusters by size after training so that the
    training labels run 0..k-1 without gaps.

    Parameters
    ----------
    standardize : Standardize
    encoder : nn.Module
        Maps standardised inputs to the embedding ``v``; ``nn.Identity()`` for none.
    heads : list of nn.Module
        Each maps ``v`` to logits of its own width.
    """

    def __init__(self, standardize, encoder, heads):
        super().__init__()
        self.standardize = standardize
        self.encoder = encoder
        self.heads = nn.ModuleList(heads)
        self.selected_head = 0
        n_out = heads[0].weight.shape[0] if hasattr(heads[0], "weight") else None
        self.register_buffer("output_order", torch.arange(n_out))

    def embed(self, x):
        return self.encoder(self.standardize(x))

    def all_logits(self, x):
        """Logits of every head, as a list, and the embedding they share."""
        v = self.embed(x)
        return [head(v) for head in self.heads], v

    def forward(self, x):
        logits = self.heads[self.selected_head](self.embed(x))
        return torch.softmax(logits, dim=1)[:, self.output_order]

    def keep_head(self, index, output_order):
        """Keep only head ``index`` for prediction, its columns reordered."""
        self.heads = nn.ModuleList([self.heads[index]])
        self.selected_head = 0
        self.output_order = torch.as_tensor(output_order, device=self.output_order.device)


def linear_head(n_in, n_out, normalized_temperature=None):
    """A plain linear head, or a :class:`NormalizedHead` when a temperature is given."""
    if normalized_temperature is None:
        return nn.Linear(n_in, n_out)
    return NormalizedHead(n_in, n_out, normalized_temperature)


class Autoencoder(nn.Module):
    """Standardise, encode to a code through ReLU layers, and decode back (mirrored).

    ``forward`` returns the code (linear, no activation). ``encode_layers`` returns
    the activations of every encoder layer (each hidden layer after its ReLU, then
    the code), which is what the soft nearest neighbour loss is summed over.

    Parameters
    ----------
    standardize : Standardize
    sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_components)``; the decoder runs them
        in reverse.
    """

    def __init__(self, standardize, sizes):
        super().__init__()
        self.standardize = standardize
        self.encoder = mlp(sizes)
        self.decoder = mlp(sizes[::-1])

    def encode_layers(self, x):
        """Activations of each hidden layer (after its ReLU) and, last, the code."""
        h = self.standardize(x)
        activations = []
        for layer in self.encoder:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                activations.append(h)
        return [*activations, h]

    def forward(self, x):
        return self.encoder(self.standardize(x))

    def reconstruct_standardized(self, code):
        """The decoder's output, in the standardised space the reconstruction loss uses."""
        return self.decoder(code)

    def decode(self, code):
        """Map codes back to the original feature scale."""
        return self.decoder(code) * self.standardize.scale + self.standardize.mean
