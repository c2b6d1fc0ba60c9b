"""Small Torch networks: MLP and convolutional encoders, cluster heads and the autoencoder.

Every network starts with :class:`Standardize`, whose buffers hold the training
data's mean and spread, so that inputs of any scale (1e-8 or 1e8) reach the first
layer near unit scale and the fitted module is self-contained for prediction.

A fitted network is saved as plain data (:func:`network_record`) and rebuilt from it
(:func:`network_from_record`), so that loading a model file never unpickles objects.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Single precision, in which the networks train and images are searched for neighbours.
FLOAT32 = np.finfo(np.float32)

#: A feature whose std is at most this fraction of its largest magnitude is constant:
#: relative, so that features measured in 1e-13 are standardised like any other, and
#: above the rounding error of a std of identical values.
CONSTANT_FEATURE_SPREAD = 1e-12


def value_range_limits(n_features):
    """Smallest and largest magnitude of X that every stage of a fit can represent.

    The networks train in float32 and the image and approximate neighbour searches sum
    ``n_features`` squared differences in float32 (largest 3.4e38, smallest normal
    1.2e-38): the largest magnitude ``m`` needs ``4 n_features m^2`` below the largest
    float32, and a nonzero one ``m^2`` above the smallest normal one.
    """
    return math.sqrt(FLOAT32.tiny), math.sqrt(float(FLOAT32.max) / (4 * n_features))


def check_value_range(X):
    """Raise ValueError unless the magnitudes of ``X`` lie in :func:`value_range_limits`.

    Beyond them float32 overflows (or underflows) in training and mining, and a fit
    would return NaN or a degenerate neighbour graph; the message says to rescale.
    """
    if X.size == 0:
        return
    # Compared in float64: float32 input near its own limit is what this looks for.
    largest = max(float(X.max()), -float(X.min()))
    low, high = value_range_limits(X.shape[1])
    if largest == 0.0 or low <= largest <= high:
        return
    side = "large" if largest > high else "small"
    raise ValueError(
        f"X holds values of magnitude up to {largest:.3g}, too {side} for skssl: it trains "
        f"and searches neighbours in float32, where X's largest magnitude must lie between "
        f"{low:.2g} and {high:.2g} with {X.shape[1]} features. Rescale X, for instance with "
        "sklearn.preprocessing.StandardScaler."
    )


def feature_spread(X):
    """Per-feature mean, std and whether the feature varies, in float64, without overflow.

    The moments are those of ``X`` divided by a power of two near each feature's
    largest magnitude, scaled back: powers of two scale exactly, so for ordinary data
    they equal ``X.mean(0)`` and ``X.std(0)`` bit for bit, and squares of values near
    float64's limit (or float32's, for float32 input) cannot overflow.

    Returns
    -------
    mean, std : ndarray of shape (n_features,), float64
    varying : ndarray of shape (n_features,), bool
        False for constant features (see :data:`CONSTANT_FEATURE_SPREAD`).
    """
    largest = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
    unit = np.exp2(np.frexp(np.where(largest > 0, largest, 1.0))[1].astype(np.float64))
    scaled = X / unit
    mean, std = scaled.mean(axis=0) * unit, scaled.std(axis=0) * unit
    return mean, std, std > CONSTANT_FEATURE_SPREAD * largest


def standardizer(X):
    """A :class:`Standardize` layer fitted on the array ``X``; constant features keep scale 1.

    Its ``scale`` is the one measure of a feature's spread that every view and noise
    level uses.
    """
    mean, scale, varying = feature_spread(X)
    scale[~varying] = 1.0
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


#: Smallest side of the last convolution stage's maps: images whose maps would end
#: smaller are read by the MLP (:meth:`skssl._input.ImageInput.encoder`), so no fit
#: builds such stages and no model file may hold them.
MIN_CONV_MAP = 4


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
    if math.prod(encoder.image_shape) != n_features:
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


def _field(name, value, valid, expected):
    """Raise ValueError naming the architecture field ``name`` unless ``valid``."""
    if not valid:
        raise ValueError(f"field {name!r} must be {expected}, got {value!r}.")


def _is_count(value):
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)) and value > 0


def _check_counts(name, values, *, min_length=0):
    _field(
        name,
        values,
        isinstance(values, (list, tuple))
        and len(values) >= min_length
        and all(_is_count(v) for v in values),
        f"a list of at least {min_length} positive ints",
    )


def _check_heads(name, heads):
    _field(name, heads, isinstance(heads, dict), "a dict")
    _field(
        name,
        sorted(heads),
        sorted(heads) == ["n_heads", "n_in", "n_out", "temperature"],
        "a dict of n_in, n_out, n_heads and temperature",
    )
    for key in ("n_in", "n_out", "n_heads"):
        _field(f"{name}.{key}", heads[key], _is_count(heads[key]), "a positive int")
    temperature = heads["temperature"]
    _field(
        f"{name}.temperature",
        temperature,
        temperature is None
        or (
            isinstance(temperature, Real)
            and not isinstance(temperature, (bool, np.bool_))
            and math.isfinite(temperature)
            and temperature > 0
        ),
        "None or a finite float > 0",
    )


def check_architecture(architecture):
    """Raise ValueError, naming the field, unless ``architecture`` is one a fit builds.

    Types and ranges of every field, and the widths that must agree: the convolution
    stages' image holds ``n_features`` values and leaves maps of
    :data:`MIN_CONV_MAP` pixels a side, and the heads read the encoder's width.
    """
    _field("architecture", architecture, isinstance(architecture, dict), "a dict")
    kind = architecture.get("kind")
    if kind == "autoencoder":
        _check_counts("sizes", architecture.get("sizes"), min_length=2)
        unit_code = architecture.get("unit_code")
        _field("unit_code", unit_code, isinstance(unit_code, (bool, np.bool_)), "a bool")
        return
    _field("kind", kind, kind == "clustering", "'clustering' or 'autoencoder'")
    n_features = architecture.get("n_features")
    _field("n_features", n_features, _is_count(n_features), "a positive int")
    hidden = architecture.get("hidden_layer_sizes")
    _check_counts("hidden_layer_sizes", hidden)
    width = hidden[-1] if hidden else n_features
    convolutions = architecture.get("convolutions")
    if convolutions is not None:
        _field("convolutions", convolutions, isinstance(convolutions, dict), "a dict")
        shape = convolutions.get("image_shape")
        _check_counts("convolutions.image_shape", shape, min_length=3)
        _field("convolutions.image_shape", shape, len(shape) == 3, "(height, width, channels)")
        channels = convolutions.get("channels")
        _check_counts("convolutions.channels", channels, min_length=1)
        _field(
            "convolutions.image_shape",
            shape,
            math.prod(shape) == n_features,
            f"an image of n_features={n_features} values",
        )
        side = min(shape[:2]) >> len(channels)
        _field(
            "convolutions.channels",
            channels,
            side >= MIN_CONV_MAP,
            f"stages that leave maps of {MIN_CONV_MAP} pixels a side or more of a "
            f"{shape[0]}x{shape[1]} image",
        )
        if not hidden:
            width = channels[-1] * (shape[0] >> len(channels)) * (shape[1] >> len(channels))
    _check_heads("heads", architecture.get("heads"))
    _field(
        "heads.n_in",
        architecture["heads"]["n_in"],
        architecture["heads"]["n_in"] == width,
        f"the encoder's width {width}",
    )
    overclustering = architecture.get("overclustering")
    if overclustering is not None:
        _check_heads("overclustering", overclustering)
        _field(
            "overclustering.n_in",
            overclustering["n_in"],
            overclustering["n_in"] == width,
            f"the encoder's width {width}",
        )


def _widths_of(architecture):
    """Input width, output width and number of heads of a checked architecture."""
    if architecture["kind"] == "autoencoder":
        return architecture["sizes"][0], architecture["sizes"][-1], 1
    heads = architecture["heads"]
    return architecture["n_features"], heads["n_out"], heads["n_heads"]


def check_fitted_widths(architecture, fitted):
    """Raise ValueError unless the network agrees with the estimator's fitted attributes.

    ``fitted`` maps attribute names to values: ``n_features_in_`` is the network's
    input width; ``n_clusters_`` (clusterers) and ``_n_features_out`` (transformers)
    its output width, and ``classes_`` (supervised fits) names each output column once.
    A fitted clusterer keeps one head and no over-clustering head.
    """
    n_in, n_out, n_heads = _widths_of(architecture)
    widths = {"n_features_in_": n_in, "n_clusters_": n_out, "_n_features_out": n_out}
    fitted = dict(fitted)
    classes = fitted.pop("classes_", None)
    if classes is not None and not (
        isinstance(classes, np.ndarray)
        and classes.shape == (n_out,)
        and len(set(classes.tolist())) == n_out
    ):
        raise ValueError(
            f"The fitted attribute classes_ must be an array of {n_out} distinct labels, one "
            "per column of the network's head."
        )
    for name, value in fitted.items():
        if not _is_count(value):
            raise ValueError(f"The fitted attribute {name} must be a positive int, got {value!r}.")
        if value != widths[name]:
            raise ValueError(
                f"The fitted attribute {name}={value} disagrees with the fitted network, "
                f"whose width there is {widths[name]}."
            )
    if "n_clusters_" in fitted and (n_heads != 1 or architecture.get("overclustering")):
        raise ValueError(
            "The fitted network must hold the one head a fit keeps, and no over-clustering "
            f"head; it holds {n_heads} heads."
        )


def network_from_record(record, fitted=None):
    """The float64, eval-mode CPU network a :func:`network_record` describes.

    Everything the record holds is checked before any weight is loaded, so a bad
    record raises ``ValueError`` naming the field and never gives a half-built
    network, nor one that fails or predicts NaN later.

    Parameters
    ----------
    record : dict
        From :func:`network_record`.
    fitted : dict, default=None
        The estimator's fitted attributes that the network must agree with (see
        :func:`check_fitted_widths`).

    Raises
    ------
    ValueError
        For a record of another format (the pickled module of older skssl versions
        included), an architecture no fit builds (:func:`check_architecture`), widths
        that disagree with ``fitted``, a missing or unexpected weight, or a weight
        that is not a finite float array of the expected shape (feature scales
        positive).
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
        check_architecture(record["architecture"])
        module = build_network(record["architecture"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"The fitted network's architecture is invalid: {error}") from None
    check_fitted_widths(record["architecture"], fitted or {})
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
        if not np.isfinite(array).all():
            raise ValueError(f"The weights of layer {name!r} hold NaN or infinite values.")
        if name.endswith("standardize.scale") and not (array > 0).all():
            raise ValueError(f"The weights of layer {name!r} (feature scales) must be > 0.")
    module = module.to_empty(device="cpu").to(torch.float64)
    # np.array copies: a read-only array (a memory-mapped joblib file) stays untouched.
    weights = {name: torch.from_numpy(np.array(arrays[name], np.float64)) for name in expected}
    module.load_state_dict(weights, strict=True)
    return module.eval()
