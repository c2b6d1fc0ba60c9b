"""Small Torch networks: MLP and convolutional encoders, cluster heads and the autoencoder.

Every network starts with :class:`Standardize`, whose buffers hold the training
data's mean and spread, so that inputs of any scale (1e-8 or 1e8) reach the first
layer near unit scale and the fitted module is self-contained for prediction.

A fitted network is saved as plain data (:func:`network_record`) and rebuilt from it
(:func:`network_from_record`), so that loading a model file never unpickles objects.
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


class ConvEncoder(nn.Module):
    """Images through 3x3 convolution stages, then ReLU layers of ``hidden_layer_sizes``.

    Each stage is ``Conv2d(3x3, padding 1) -> ReLU -> MaxPool2d(2)``, halving the sides.
    Rows come flattened in C order, ``(height, width, channels)``, as every estimator
    takes them.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width, channels)``.
    channels : sequence of int
        Output channels of each stage.
    hidden_layer_sizes : sequence of int
        Widths of the ReLU layers on the flattened maps; empty for none.
    """

    def __init__(self, image_shape, channels, hidden_layer_sizes):
        super().__init__()
        self.image_shape = tuple(int(side) for side in image_shape)
        self.channels = tuple(int(n) for n in channels)
        height, width, n_in = self.image_shape
        layers = []
        for n_out in self.channels:
            layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            n_in, height, width = n_out, height // 2, width // 2
        self.stages = nn.Sequential(*layers)
        self.dense, self.width = mlp_encoder(n_in * height * width, hidden_layer_sizes)

    def forward(self, x):
        height, width, channels = self.image_shape
        images = x.reshape(-1, height, width, channels).permute(0, 3, 1, 2)
        return self.dense(self.stages(images).flatten(1))

    def architecture(self):
        """The arguments that rebuild these stages (the dense widths are the network's)."""
        return {"image_shape": list(self.image_shape), "channels": list(self.channels)}


def encoder_from_architecture(n_features, hidden_layer_sizes, convolutions=None):
    """The MLP encoder, or with ``convolutions`` (a :meth:`ConvEncoder.architecture`) the
    convolutional one, and its output width."""
    if convolutions is None:
        return mlp_encoder(n_features, hidden_layer_sizes)
    encoder = ConvEncoder(convolutions["image_shape"], convolutions["channels"], hidden_layer_sizes)
    if int(np.prod(encoder.image_shape)) != n_features:
        raise ValueError(f"image_shape {encoder.image_shape} does not hold {n_features} features")
    return encoder, encoder.width


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

    def architecture(self):
        """The arguments that rebuild these heads, at their current shape."""
        n_heads, n_out, n_in = self.weight.shape
        temperature = None if self.temperature is None else float(self.temperature)
        return {"n_in": n_in, "n_out": n_out, "n_heads": n_heads, "temperature": temperature}

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

    def architecture(self):
        """What :func:`build_network` needs to rebuild this network, as plain data."""
        overclustering = self.overclustering
        return {
            "kind": "clustering",
            "n_features": self.standardize.mean.shape[0],
            "hidden_layer_sizes": _widths(self.encoder),
            # Absent from the records of MLP networks, older files included.
            **(
                {"convolutions": self.encoder.architecture()}
                if isinstance(self.encoder, ConvEncoder)
                else {}
            ),
            "heads": self.heads.architecture(),
            "overclustering": None if overclustering is None else overclustering.architecture(),
        }


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

    def architecture(self):
        """What :func:`build_network` needs to rebuild this network, as plain data."""
        sizes = [self.standardize.mean.shape[0], *_widths(self.encoder)]
        return {"kind": "autoencoder", "sizes": sizes, "unit_code": bool(self.unit_code)}


def _widths(module):
    """Output widths of the linear layers of ``module``, in order (none for ``nn.Identity``)."""
    return [layer.out_features for layer in module.modules() if isinstance(layer, nn.Linear)]


#: Version of the record :func:`network_record` writes; raised when its layout changes.
FORMAT_VERSION = 1

# This skssl cannot convert an old file: reading it needs the full unpickling it refuses.
_RESAVE = (
    "Refit the estimator with this skssl (a seeded fit on the same data gives the same "
    "model), or keep loading the file with the skssl version that wrote it."
)


def build_network(architecture):
    """An untrained network of ``architecture`` (from ``architecture()``), on the meta device.

    Meta tensors hold no memory and draw no random numbers, so a record's sizes are
    checked against its weights before anything is allocated, and loading does not
    consume the caller's Torch random stream.
    """
    kind = architecture["kind"]
    with torch.device("meta"):
        if kind == "autoencoder":
            sizes = tuple(architecture["sizes"])
            standardize = Standardize(torch.zeros(sizes[0]), torch.ones(sizes[0]))
            return Autoencoder(standardize, sizes, unit_code=architecture["unit_code"])
        if kind == "clustering":
            n_features = architecture["n_features"]
            standardize = Standardize(torch.zeros(n_features), torch.ones(n_features))
            encoder, _ = encoder_from_architecture(
                n_features,
                tuple(architecture["hidden_layer_sizes"]),
                architecture.get("convolutions"),
            )
            heads = LinearHeads(**architecture["heads"])
            overclustering = architecture["overclustering"]
            if overclustering is not None:
                overclustering = LinearHeads(**overclustering)
            return ClusteringNetwork(standardize, encoder, heads, overclustering)
    raise ValueError(f"unknown network kind {kind!r}")


def network_record(module):
    """A fitted network as plain data: format version, architecture and NumPy weights.

    The weights are copied to the CPU, so a network trained on a GPU loads on any
    machine, and copied so that the record shares no memory with ``module``.
    """
    return {
        "format_version": FORMAT_VERSION,
        "architecture": module.architecture(),
        "state_dict": {
            name: tensor.detach().cpu().numpy().copy()
            for name, tensor in module.state_dict().items()
        },
    }


def network_from_record(record):
    """The float64, eval-mode CPU network a :func:`network_record` describes.

    Every weight is checked against the rebuilt architecture before any is loaded, so
    a bad record raises ``ValueError`` and never gives a half-built network.

    Raises
    ------
    ValueError
        For a record of another format (the pickled module of older skssl versions
        included), an invalid architecture, a missing or unexpected weight, or a
        weight that is not a float array of the expected shape.
    """
    if isinstance(record, bytes):
        raise ValueError(
            "This model file was written by an older skssl, which stored the network as "
            f"a pickled Torch module; skssl no longer unpickles it. {_RESAVE}"
        )
    if not isinstance(record, dict) or record.get("format_version") != FORMAT_VERSION:
        version = record.get("format_version") if isinstance(record, dict) else None
        raise ValueError(
            f"The fitted network is stored in format version {version!r}; this skssl "
            f"reads version {FORMAT_VERSION}. {_RESAVE}"
        )
    try:
        module = build_network(record["architecture"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"The fitted network's architecture is invalid: {error!r}.") from None
    arrays = record.get("state_dict")
    if not isinstance(arrays, dict):
        raise ValueError("The fitted network's state_dict must be a dict of arrays.")
    expected = module.state_dict()
    missing = sorted(expected.keys() - arrays.keys())
    if missing:
        raise ValueError(f"The fitted network has no weights for layers {missing}.")
    unexpected = sorted(str(name) for name in arrays.keys() - expected.keys())
    if unexpected:
        raise ValueError(f"The fitted network has weights for unknown layers {unexpected}.")
    for name, empty in expected.items():
        array = arrays[name]
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise ValueError(
                f"The weights of layer {name!r} must be a float array, got {type(array).__name__}."
            )
        if array.shape != tuple(empty.shape):
            raise ValueError(
                f"The weights of layer {name!r} have shape {array.shape}; the architecture "
                f"needs {tuple(empty.shape)}."
            )
    module = module.to_empty(device="cpu").to(torch.float64)
    # np.array copies: a read-only array (a memory-mapped joblib file) stays untouched.
    weights = {name: torch.from_numpy(np.array(arrays[name], np.float64)) for name in expected}
    module.load_state_dict(weights, strict=True)
    return module.eval()
