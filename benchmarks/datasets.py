"""Benchmark data sets as ``(X, y)`` arrays: ``load(name, seed=0, ...)``, the one loader.

Every script in ``benchmarks/`` reads its data here (through ``_local.sibling``).

=================  ===========================================================  ==========
name               what                                                         rows x d
=================  ===========================================================  ==========
``digits``         sklearn ``load_digits``, raw pixels 0..16                    1797 x 64
``wine``           sklearn ``load_wine``, StandardScaler (as a user would)      178 x 13
``breast_cancer``  sklearn ``load_breast_cancer``, StandardScaler               569 x 30
``blobs``          ``make_blobs(1000, centers=10, n_features=2, random_state)``  1000 x 2
``usps``           USPS 16x16 digits, grey levels in [0, 2] (``usps.npz``)      9298 x 256
``pendigits``      UCI pen digits, coordinates 0..100 (``pendigits.npz``)       10992 x 16
``fashion_mnist``  Fashion-MNIST 28x28, pixels scaled to [0, 1] (idx files)     70000 x 784
``fashion_test``   its published test split (the last 10,000 rows)              10000 x 784
``iris``           sklearn ``load_iris``, StandardScaler                        150 x 4
``blobs32``        10 Gaussian blobs in 32-d (unit spread, centres in [-10, 10])  n x 32
=================  ===========================================================  ==========

Rows are in the published order (train rows, then test rows) and every set has 10
classes except wine (3), iris (3) and breast_cancer (2). ``X`` is float64 (or
``dtype``), ``y`` int64 (labels ``0 .. k-1``). Only ``blobs`` and ``blobs32`` depend on
``seed`` (the data are drawn anew per seed).

``n_samples`` asks for fewer rows: a stratified sample (``train_test_split`` with
``random_state=0``) of a set that holds more. ``blobs32`` is drawn with ``n_samples``
rows (10,000 by default) directly in ``dtype``, so that 10^6 float32 rows never pass
through a float64 copy (the scaling benchmark measures peak memory).

``usps`` and ``pendigits`` are read from ``<data_home>/<name>.npz`` (arrays ``X`` and
``y``, raw values); ``data_home`` defaults to ``$SKSSL_DATA`` or else the ``shared/data``
folder beside the repository (``<repository>/../shared/data``). Fashion-MNIST is read
from the four idx files of the Debian package ``dataset-fashion-mnist``
(``$SKSSL_FASHION_MNIST`` or ``/usr/share/datasets/fashion-mnist``; train rows, then test
rows). When a local file is missing the set is fetched from OpenML with
:func:`sklearn.datasets.fetch_openml` (``usps``, ``pendigits``, ``Fashion-MNIST``; needs a
connection once, then sklearn's cache). OpenML's copies hold the same data sets but
may differ in scale and row order from the local files.
"""

import gzip
import os
from pathlib import Path

import numpy as np

NAMES = (
    "digits",
    "wine",
    "breast_cancer",
    "blobs",
    "usps",
    "pendigits",
    "fashion_mnist",
    "fashion_test",
    "iris",
    "blobs32",
)
#: Rows of ``blobs32`` when ``n_samples`` is not given.
BLOBS32_ROWS = 10_000
DEFAULT_DATA_HOME = Path(__file__).resolve().parents[2] / "shared" / "data"
FASHION_MNIST_HOME = Path("/usr/share/datasets/fashion-mnist")
#: Rows of Fashion-MNIST's test split, which the idx files hold after the training rows.
FASHION_MNIST_TEST_ROWS = 10_000
FASHION_MNIST_FILES = (
    ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
)
OPENML_NAMES = {"usps": "usps", "pendigits": "pendigits", "fashion_mnist": "Fashion-MNIST"}


def _openml(name):
    """``(X, y)`` of an OpenML data set, labels recoded to ``0 .. k-1``."""
    from sklearn.datasets import fetch_openml

    X, y = fetch_openml(OPENML_NAMES[name], version=1, return_X_y=True, as_frame=False)
    return np.asarray(X, dtype=np.float64), np.unique(y, return_inverse=True)[1].astype(np.int64)


def _read_idx(path):
    """The uint8 array stored in a gzipped idx file (the MNIST format)."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    n_dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _fashion_mnist():
    home = Path(os.environ.get("SKSSL_FASHION_MNIST", FASHION_MNIST_HOME))
    if all((home / name).exists() for pair in FASHION_MNIST_FILES for name in pair):
        X = np.concatenate([_read_idx(home / images) for images, _ in FASHION_MNIST_FILES])
        y = np.concatenate([_read_idx(home / labels) for _, labels in FASHION_MNIST_FILES])
        X, y = X.reshape(len(X), -1).astype(np.float64), y.astype(np.int64)
    else:
        X, y = _openml("fashion_mnist")
    return X / 255.0, y


def blobs32(n_samples, seed=0, dtype=np.float64):
    """10 Gaussian blobs in 32-d, drawn directly in ``dtype`` (no float64 copy)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(10, 32)).astype(dtype)
    y = rng.integers(10, size=n_samples)
    X = rng.standard_normal((n_samples, 32), dtype=dtype)
    X += centers[y]
    return X, y.astype(np.int64)


def load(name, seed=0, data_home=None, n_samples=None, dtype=np.float64):
    """Return ``(X, y)`` (``dtype``, int64) of the data set ``name`` (see the module docs).

    ``seed`` is the ``random_state`` of ``blobs`` and ``blobs32`` and ignored by the
    other sets; ``data_home`` is the folder of ``usps.npz`` and ``pendigits.npz``;
    ``n_samples`` the rows of ``blobs32``, or a stratified sample of the other sets.
    """
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    if name == "blobs32":
        return blobs32(n_samples or BLOBS32_ROWS, seed, dtype)
    if name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif name in ("wine", "breast_cancer", "iris"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    elif name == "blobs":
        X, y = datasets.make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed)
    elif name in ("fashion_mnist", "fashion_test"):
        X, y = _fashion_mnist()
        if name == "fashion_test":
            X, y = X[-FASHION_MNIST_TEST_ROWS:], y[-FASHION_MNIST_TEST_ROWS:]
    elif name in ("usps", "pendigits"):
        home = Path(data_home or os.environ.get("SKSSL_DATA") or DEFAULT_DATA_HOME)
        path = home / f"{name}.npz"
        if not path.exists():
            X, y = _openml(name)
        else:
            with np.load(path) as data:
                X, y = data["X"], data["y"]
    else:
        raise ValueError(f"Unknown data set {name!r}; choose one of {NAMES}.")
    X, y = np.asarray(X, dtype=dtype), np.asarray(y, dtype=np.int64)
    if n_samples is not None and n_samples < len(y):
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(X, y, train_size=n_samples, stratify=y, random_state=0)
    return X, y
