"""What every skssl estimator shares: validation, seeding, prediction, scoring and pickling."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from skssl._core import (
    Schedule,
    auto_batch_size,
    auto_max_iter,
    draw_seed,
    predict_in_batches,
    resolve_device,
    seeded,
)
from skssl._input import input_kind
from skssl._networks import check_value_range, network_from_record, network_record
from skssl.metrics import neighbor_consistency_score


def check_hidden_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints, as MLPClassifier accepts it.

    A single int means one layer; a list or tuple lists the layers; every width must
    be a positive integer.
    """
    sizes = hidden_layer_sizes
    if isinstance(sizes, Integral) and not isinstance(sizes, bool):
        sizes = [sizes]
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(
            f"hidden_layer_sizes must be an int or a sequence of ints, got {hidden_layer_sizes!r}."
        ) from None
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold ints > 0, got {hidden_layer_sizes!r}.")
    return tuple(int(s) for s in sizes)


def encode_partial_labels(y, n_samples):
    """Partly labelled ``y`` as codes, scikit-learn's semi-supervised way.

    ``-1`` marks an unlabelled row, as for :class:`~sklearn.semi_supervised.LabelSpreading`.
    Labels are integers (floats holding whole numbers count) or strings; an object array
    may mix strings with the integer ``-1``. A string array has no unlabelled row.

    Returns
    -------
    codes : ndarray of shape (n_samples,), int64
        Index of each row's label in ``classes``, -1 for unlabelled rows.
    classes : ndarray
        The labels that occur, sorted.
    """
    if y is None:
        raise ValueError("supervised=True needs labels y, with -1 for unlabelled rows.")
    y = column_or_1d(y, warn=True)
    if y.shape[0] != n_samples:
        raise ValueError(f"y has {y.shape[0]} labels but X has {n_samples} rows.")
    if y.dtype.kind == "f":
        # 2**63 is exact in float64: whole floats below it in magnitude fit in int64.
        if not np.all(np.isfinite(y) & (y == np.round(y)) & (np.abs(y) < 2.0**63)):
            raise ValueError(
                "y must hold integer or string labels (-1 for unlabelled rows); got "
                "floats that are not whole numbers in the int64 range."
            )
        y = y.astype(np.int64)
    if y.dtype.kind in "iu":
        unlabelled = y == -1
    elif y.dtype.kind in "US":
        unlabelled = np.zeros(n_samples, dtype=bool)
    elif y.dtype.kind == "O":
        is_string = np.array([isinstance(v, str) for v in y])
        is_integer = np.array([isinstance(v, Integral) and not isinstance(v, bool) for v in y])
        if not (is_string | is_integer).all():
            raise ValueError("y must hold integer or string labels (-1 for unlabelled rows).")
        unlabelled = is_integer & np.array([v == -1 for v in y])
        if is_string.any() and (is_integer & ~unlabelled).any():
            raise ValueError("y mixes string and integer labels; use one kind, and -1.")
        y = y.astype(str) if is_string.any() else y.astype(np.int64)
    else:
        raise ValueError(
            f"y must hold integer or string labels (-1 for unlabelled rows), got dtype {y.dtype}."
        )
    codes = np.full(n_samples, -1, dtype=np.int64)
    classes, codes[~unlabelled] = np.unique(y[~unlabelled], return_inverse=True)
    return codes, classes


def read_partial_labels(supervised, y, n_samples):
    """Label codes and classes of a fit: ``(None, None)`` unless ``supervised``.

    ``y`` is ignored unless ``supervised=True``, so ``GridSearchCV`` passing it changes
    nothing. Opted in, ``y`` is read by :func:`encode_partial_labels`; with no labelled
    row the codes are None, with a warning: the fit is the unsupervised one, its
    ``"auto"`` settings included.
    """
    if not supervised:
        return None, None
    codes, classes = encode_partial_labels(y, n_samples)
    if classes.shape[0] == 0:
        warnings.warn(
            "supervised=True but every row of y is -1 (unlabelled): fitting without labels.",
            UserWarning,
            stacklevel=4,
        )
        return None, classes
    return codes, classes


#: Fitted attributes that give the network's widths, checked when a model is loaded.
FITTED_WIDTHS = ("n_features_in_", "n_clusters_", "_n_features_out", "classes_")


class TorchEstimatorBase(BaseEstimator):
    """Shared plumbing of the Torch estimators; subclasses implement ``fit``.

    The fitted network lives in ``module_`` on the CPU in float64 and eval mode:
    float64 makes predictions on one row and on many agree to 1e-12, and CPU
    storage makes a model trained on a GPU load anywhere. Pickling stores it as a
    plain record, its architecture and NumPy weights (:func:`~skssl._networks.network_record`).
    """

    _parameter_constraints: dict = {
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _input_kind(self, X):
        """The :mod:`~skssl._input` kind that reads this fit's rows (``image_shape``)."""
        return input_kind(getattr(self, "image_shape", None), X.shape[1])

    def _validate_fit_data(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        # The one check of scale every fit makes: beyond it float32 overflows in
        # training and mining, and the fit would end in NaN or a degenerate graph.
        check_value_range(X)
        n_clusters = getattr(self, "n_clusters", None)
        if n_clusters not in (None, "auto") and n_clusters > X.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} must be <= n_samples={X.shape[0]}.")
        return X

    def _schedule(self, n_samples):
        """This fit's :class:`~skssl._core.Schedule`, with ``"auto"`` resolved from n."""
        max_iter = auto_max_iter(self.max_iter, n_samples)
        batch_size = auto_batch_size(self.batch_size, n_samples, max_iter)
        return Schedule(
            batch_size=min(batch_size, n_samples),
            max_iter=max_iter,
            learning_rate=self.learning_rate_init,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
        )

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _fit_setup(self):
        """Resolve the device and draw this fit's seed (a fresh draw at every fit)."""
        device = resolve_device(self.device)
        seed = draw_seed(check_random_state(self.random_state))
        return device, seed, seeded(seed, device)

    def _finish(self, module):
        """Store ``module`` as the fitted CPU, float64, eval-mode network."""
        self.module_ = module.to("cpu", torch.float64).eval()

    def _run(self, X, method="forward"):
        return predict_in_batches(self.module_, X, resolve_device(self.device), method)

    def __getstate__(self):
        # The network is stored as plain data (sizes and NumPy weights), never as a
        # pickled module: skops can then audit a model file, and loading it runs no code.
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = network_record(state["module_"])
        return state

    def __setstate__(self, state):
        if "module_" in state:
            # Rebuilt and checked against the fitted attributes before anything is set:
            # a bad record leaves no half-loaded estimator, and a loaded one predicts.
            fitted = {name: state[name] for name in FITTED_WIDTHS if name in state}
            state = {**state, "module_": network_from_record(state["module_"], fitted)}
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class IntInterval(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` of ints that refuses bools.

    ``True`` is an ``Integral`` to Python, but ``n_clusters=True`` is a mistake, not
    one cluster; scikit-learn's estimators fail on it too.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


#: ``n_clusters`` and its bound, as both clusterers take them.
N_CLUSTERS_CONSTRAINTS = {
    "n_clusters": [IntInterval(1, None, closed="left"), StrOptions({"auto"})],
    "max_clusters": [IntInterval(2, None, closed="left"), None],
}


#: Docstring text the estimators share, written once. A key named after a parameter
#: (``%(tol)s``) is that parameter's whole entry, its ``name : type, default=...`` line
#: included, for parameters whose type and default every estimator that uses the mark
#: shares. A key ending in ``_description`` is the shared part of an entry whose default
#: differs between estimators: each estimator writes the entry's first line with its
#: own default and puts the mark on the line below. ``%(n_clusters_auto)s`` is the rest
#: of ``n_clusters``' entry and that of ``max_clusters``; ``%(n_clusters_attributes)s``
#: the entries of the fitted count and its table.
SHARED_PARAMETER_DOCS = {
    "clusterer_attributes": """labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample, numbered by decreasing cluster size; with
        ``supervised=True``, its label from ``classes_``.
    cluster_sizes_ : ndarray of shape (n_clusters,)
        Training samples per cluster (in the order of ``classes_`` when supervised).
    classes_ : ndarray of shape (n_clusters,)
        Only after a fit with ``supervised=True``: the label of each output column.
        The labelled classes come first, sorted; the remaining clusters follow by
        decreasing size, numbered on from the largest integer class (or named
        ``"cluster_<column>"`` when the classes are strings).
    %(n_clusters_attributes)s
    noise_fraction_ : float
        Fraction of the training samples left out of every leaf cluster of stage
        one's hierarchy (then given their nearest clustered neighbour's cluster).
    min_cluster_size_ : int
        The minimum cluster size at which stage one's hierarchy had ``n_clusters``
        leaves (or the nearest count; 0 when the data were too small for a hierarchy).
    init_losses_ : ndarray of shape (`n_init_`,)
        Stage-two loss of every head after training, in one pass over the data whose
        random draws are the same for every head.
    best_init_ : int
        Index of the kept head.
    n_init_ : int
        Heads trained (``n_init`` with ``"auto"`` resolved).
    module_ : torch.nn.Module
        The fitted network, its kept head alone (CPU, float64, eval mode).
    n_iter_ : int
        Epochs run over every stage.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.""",
    "image_shape": """image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(height, width, channels)`` to read each row as an
        image flattened in C order (``load_digits().images.reshape(n, -1)``); its
        product must equal ``n_features``. With a shape, neighbours are mined under
        one-pixel shifts, drawn views are random affine moves of the images
        (DEC-DA's), and SCAN reads images of 16 pixels a side and more through two
        3x3 convolution stages before ``hidden_layer_sizes``. None, the default,
        reads rows as tables; the user guide's *Images given as rows* page describes
        and measures the image choices.""",
    "n_clusters_attributes": """n_clusters_ : int
        The number of clusters: ``n_clusters``, or the count ``"auto"`` found.
    n_clusters_search_ : dict of ndarray
        Only after ``n_clusters="auto"``: per candidate count (``"n_clusters"``, by
        increasing count), the ``"silhouette"`` of its partition in the layout, the
        ``"min_cluster_size"`` of the hierarchy that gave it, its ``"noise_fraction"``
        and its ``"largest_pair_share"`` (of one cluster's mined neighbour pairs, into
        one other cluster; above one over the graph's neighbours per point, the pair is
        one torn neighbourhood, ranked last);
        :func:`skssl.plotting.plot_n_clusters_search` draws it.""",
    "n_clusters_auto": """of the counts between 2 and ``max_clusters`` that the layout's
        hierarchy holds, the one whose partition has the best silhouette in the layout,
        partitions that tear a neighbourhood of the graph ranking last. The count goes in
        ``n_clusters_`` and the table in ``n_clusters_search_``. A warning names the
        runner-up when the estimate is weak: a near tie, the count at the bound, or weak
        structure (the silhouette, discounted by the mined neighbour pairs the partition
        separates, below 0.5), where the fewest candidate clusters are kept, as on uniform
        noise. With ``supervised=True`` the count is at least the number of labelled
        classes, the rest chosen in the same way. The user guide's *Choosing n_clusters*
        page compares it with GMM's BIC, KMeans' silhouette, HDBSCAN and EVoC, and says
        where counts and classes differ.
    max_clusters : int or None, default=None
        Largest count ``n_clusters="auto"`` considers; None means
        ``floor(sqrt(n_samples / 2))``, the rule of thumb for the number of clusters
        in ``n_samples`` points. At or above ``n_samples`` it is clipped, with a
        warning. Ignored with an integer ``n_clusters``.""",
    "hidden_layer_sizes_description": """Widths of the encoder's hidden ReLU layers
        before the softmax head, as in :class:`~sklearn.neural_network.MLPClassifier`;
        empty for none.""",
    "supervised_description": """Whether ``fit(X, y)`` uses the labelled rows of
        ``y`` (-1 marks an unlabelled row, as for
        :class:`~sklearn.semi_supervised.LabelSpreading`). Off by default, as
        scikit-learn's unsupervised estimators ignore ``y``, so that ``GridSearchCV``
        passing it changes nothing. With every row unlabelled the fit is the
        unsupervised one, with a warning. The user guide's *A few labels* page
        measures what the labels add.""",
    "max_iter_two_stage": """Most passes over the data (epochs) of each stage, as in
        :class:`~sklearn.neural_network.MLPClassifier`. ``"auto"``: stage one makes 15
        passes of at least 150 optimiser steps in all (8 of at least 75 for
        SCANClusterer with ``partition_weight > 0``, whose stage two goes on fitting
        the partition), fewer on large tables (enough for about 300 steps, at least
        3); 30 passes of at least 300 steps with
        ``image_shape`` or ``supervised=True``, which learn more than the partition;
        never more than 75 passes, nor more than
        ``min(100, max(3, ceil(7 * 10**5 / n_samples)))`` unless the steps need them.
        Stage two then makes a third as many passes (rounded up). The *SCAN* page
        measures these counts.""",
    "batch_size": """batch_size : int or "auto", default="auto"
        Samples per step. ``"auto"`` means ``ceil(n_samples * max_iter / 1000)``
        clipped to [256, 4096], about 1000 steps in all: the budget that kept the
        accuracy of 256-row batches in less time (the *Scaling up and out* page).""",
    "learning_rate_init_description": """Adam's initial learning rate, decayed to 0
        along a half cosine over ``max_iter`` epochs.""",
    "tol": """tol : float or None, default=None
        With a float, training stops once the epoch's mean loss has not improved on
        the best by ``tol`` for ``n_iter_no_change`` epochs, and warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning` if ``max_iter`` comes first,
        as :class:`~sklearn.neural_network.MLPClassifier` does. None (unlike its 1e-4)
        runs the whole cosine schedule, whose loss flattens while the learning rate
        is still high; the user guide's *SCAN* page measures what stopping early cost.""",
    "n_iter_no_change": """n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` after which training stops; 10 is
        :class:`~sklearn.neural_network.MLPClassifier`'s default.""",
    "device": """device : str or torch.device, default="auto"
        Torch device for training (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``);
        ``"auto"`` picks CUDA when available, so a GPU is used without asking. The
        fitted network is kept on the CPU.""",
    "random_state": """random_state : int, RandomState instance or None, default=None
        Seeds the network, the shuffles and every random draw of the fit. An int
        gives the same result at every fit on the same data on CPU; None, as in
        scikit-learn, draws new seeds at every fit.""",
    "verbose": """verbose : int, default=0
        Show a progress bar when positive; silent by default, as in scikit-learn.""",
}


def with_shared_parameter_docs(cls):
    """Class decorator: fill the ``%(name)s`` marks of ``SHARED_PARAMETER_DOCS``."""
    if cls.__doc__:  # None under python -OO
        for name, text in SHARED_PARAMETER_DOCS.items():
            cls.__doc__ = cls.__doc__.replace(f"%({name})s", text)
    return cls


class TorchClustererBase(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, TorchEstimatorBase
):
    """Prediction, embedding and label-free scoring shared by the clusterers."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]  # transform's embedding
        return tags

    def _partial_labels(self, y, n_samples):
        """:func:`read_partial_labels`, with at most ``n_clusters`` labelled classes."""
        self.__dict__.pop("classes_", None)  # left from an earlier supervised fit
        codes, classes = read_partial_labels(self.supervised, y, n_samples)
        if classes is not None and self.n_clusters != "auto" and classes.shape[0] > self.n_clusters:
            raise ValueError(
                f"y has {classes.shape[0]} labelled classes, more than "
                f"n_clusters={self.n_clusters}."
            )
        return codes, classes

    def _order_clusters(self, X, classes=None):
        """Number the clusters, so ``labels_`` has no gaps.

        Unsupervised, by decreasing training size (scikit-learn's clustering check
        wants labels 0..k-1). With the labelled ``classes`` of a supervised fit, head
        column ``c`` is class ``classes[c]``; the remaining clusters follow by
        decreasing size and are named after them (see :func:`extra_cluster_names`).
        The kept head's columns are permuted so that predictions on new data use the
        same order.
        """
        proba = self._run(X)
        counts = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
        n_classes = 0 if classes is None else classes.shape[0]
        order = n_classes + np.argsort(-counts[n_classes:], kind="stable")
        order = np.concatenate([np.arange(n_classes), order])
        self.module_.keep_head(0, order)
        self.cluster_sizes_ = counts[order]
        if classes is not None:
            self.classes_ = np.concatenate(
                [classes, extra_cluster_names(classes, self.n_clusters_)]
            )
        self.labels_ = self._as_labels(proba[:, order].argmax(axis=1))

    def _as_labels(self, columns):
        """Head columns as labels: cluster numbers, or ``classes_`` after a supervised fit."""
        classes = getattr(self, "classes_", None)
        return columns.astype(np.int64) if classes is None else classes[columns]

    @property
    def _n_features_out(self):
        """Width of the embedding :meth:`transform` returns."""
        return self.module_.heads.weight.shape[2]

    def predict_proba(self, X):
        """Cluster probabilities of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Rows sum to 1; columns follow the cluster numbers of ``labels_`` (the
            order of ``classes_`` after a fit with ``supervised=True``).
        """
        return self._run(self._validate_predict_data(X))

    def predict(self, X):
        """Cluster of each sample (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Cluster numbers (int64), or labels from ``classes_`` after a fit with
            ``supervised=True``.
        """
        return self._as_labels(self.predict_proba(X).argmax(axis=1))

    def transform(self, X):
        """The network's embedding of ``X``: what its cluster heads read.

        Where :meth:`sklearn.cluster.KMeans.transform` gives distances to the centres,
        a network's natural features are the activations of its last hidden layer
        (the standardised input when ``hidden_layer_sizes`` is empty); the cluster
        probabilities are :meth:`predict_proba`. Feature names are
        ``<estimator name in lower case>0, 1, ...`` (:meth:`get_feature_names_out`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_embedding)
            In the dtype of ``X`` (float32 stays float32, anything else is float64).
        """
        X = self._validate_predict_data(X)
        return self._run(X, method="embed").astype(X.dtype, copy=False)

    def score(self, X, y=None):
        """Label-free quality of the clusters on ``X``: greater is better, in [0, 1].

        :func:`skssl.metrics.neighbor_consistency_score` of ``predict(X)``: the
        normalised mutual information between the cluster of a sample and the
        clusters of its 10 nearest neighbours in ``X`` (Euclidean). It needs no
        labels, is measured in the input space whatever the hyperparameters, and so
        ranks the settings a ``GridSearchCV`` without ``scoring`` tries, at a fixed
        ``n_clusters`` (it does not choose the number of clusters). To tune against
        known labels instead, pass ``scoring=skssl.metrics.hungarian_scorer``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            At least 2 samples.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        float
        """
        X = self._validate_predict_data(X)
        return neighbor_consistency_score(X, self._run(X).argmax(axis=1))


def extra_cluster_names(classes, n_clusters):
    """Names of the clusters beyond the labelled ``classes`` of a supervised fit.

    Integer classes continue after the largest (``classes.max() + 1``, ...; from 0
    when nothing was labelled), so every label stays an integer of the classes' dtype;
    with string classes the extra clusters are ``"cluster_<column>"``. A name a class
    already holds is skipped (a class named ``"cluster_2"``; integers wrap round to
    the dtype's smallest value past its largest), so ``classes_`` never repeats one.
    """
    n_extra = n_clusters - classes.shape[0]
    taken = set(classes.tolist())
    if classes.dtype.kind in "iu" or classes.shape[0] == 0:
        dtype = classes.dtype if classes.dtype.kind in "iu" else np.dtype(np.int64)
        limits = np.iinfo(dtype)
        # Python ints: classes.max() + 1 overflows at the dtype's largest value.
        start = int(classes.max()) + 1 if classes.shape[0] else 0
        width = int(limits.max) - int(limits.min) + 1
        names, candidate = [], start
        while len(names) < n_extra:
            value = (candidate - int(limits.min)) % width + int(limits.min)
            if value not in taken:
                names.append(value)
            candidate += 1
        return np.array(names, dtype=dtype)
    names, column = [], classes.shape[0]
    while len(names) < n_extra:
        name = f"cluster_{column}"
        if name not in taken:
            names.append(name)
        column += 1
    return np.array(names, dtype=object)


def warn_small_batch(batch_size, n_clusters):
    """Batch statistics (entropy of the mean prediction, column softmax) need rows per cluster."""
    if batch_size < 2 * n_clusters:
        warnings.warn(
            f"batch_size={batch_size} is small for n_clusters={n_clusters}: "
            "batch statistics become noisy below about 2 rows per cluster.",
            UserWarning,
            stacklevel=3,
        )
