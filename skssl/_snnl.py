"""SNNLTransformer: an autoencoder whose layers are shaped by the soft nearest neighbour loss."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from torch.nn import functional as F

from skssl._augment import gaussian_noise
from skssl._base import TorchEstimatorBase, check_hidden_layer_sizes
from skssl._core import train_module
from skssl._losses import soft_nearest_neighbor_loss
from skssl._neighbors import mine_neighbors
from skssl._networks import Autoencoder, standardizer

#: ``batch_size="auto"`` is capped here: the loss compares every pair of rows in a
#: batch (an anchor and its partner each), so its cost grows with the batch squared.
MAX_AUTO_BATCH_SIZE = 512

#: Most passes ``max_iter="auto"`` makes: 30 passes fit digits (1,797 rows) in about
#: 10 s on one core; 100 passes moved the KMeans accuracy on the codes by less than its
#: spread over seeds (0.71 +- 0.04 against 0.73 +- 0.01, batch 128, T=2).
MAX_AUTO_EPOCHS = 30

#: Temperatures that ``temperature="auto"`` resolves to. Mined-neighbour positives
#: need a wide kernel: on digits T of 1 to 5 gave the best KMeans accuracy and 0.1
#: broke the codes into fragments. Labels need a sharp one: with all training rows
#: labelled, 5-NN on held-back rows' codes scored 0.958 at T=2, 0.968 at 0.3, 0.974
#: at 0.1, 0.977 at 0.05 and 0.974 at 0.02 (seeds 0 and 1, no input noise).
AUTO_TEMPERATURE = {False: 2.0, True: 0.05}

#: Gaussian input noise (relative to each feature's spread) that ``input_noise="auto"``
#: resolves to. In supervised mode it keeps the label clusters from fitting the training
#: rows only: with all digits training rows labelled and T=0.05, 5-NN on held-back rows
#: scored 0.974 without noise, about 0.98 at 0.5 and 1.0, 0.985 at 0.75 and 0.96 at 2.0
#: (3 seeds; 2 for 2.0). With 15% labelled, T=0.05 needs it: 0.860 without, 0.918 with.
#: Unsupervised KMeans accuracy did not move with 0.5 (0.729 against 0.727): it stays off.
AUTO_INPUT_NOISE = {False: 0.0, True: 0.75}

#: Exponent of the annealed temperature ``T = temperature / (1 + epoch) ** 0.55``
#: (Agarap & Azcarraga, 2020).
ANNEALING_EXPONENT = 0.55


def auto_hidden_layer_sizes(n_features):
    """Two hidden layers of width ``2 * n_features``, kept within [64, 500].

    The seed's x-500-500-2000-d network is sized for 784 MNIST pixels; tabular inputs
    are usually far narrower, so the width follows the input.
    """
    width = int(min(500, max(64, 2 * n_features)))
    return (width, width)


def positive_mask(rows, neighbors, labels=None):
    """Which rows of a batch are positives of which: ``mask[a, b]`` for rows ``a, b``.

    Two rows are positives when one is among the other's mined neighbours, or when
    they are the same sample drawn twice. With ``labels`` (-1 = unlabelled), two
    labelled rows are positives exactly when their labels agree; a pair with an
    unlabelled row keeps the neighbour rule.
    """
    n_rows = rows.shape[0]
    # Batch position of each sample (one copy when drawn twice), -1 when absent:
    # memory O(n + B^2 + B k), where comparing every neighbour with every row is O(B^2 k).
    position = torch.full((neighbors.shape[0],), -1, dtype=torch.long, device=rows.device)
    position[rows] = torch.arange(n_rows, device=rows.device)
    neighbor_position = position[neighbors[rows]]
    near = torch.zeros(n_rows, n_rows + 1, dtype=torch.bool, device=rows.device)
    # Absent neighbours (-1) land in the spare last column, which is then dropped.
    near[torch.arange(n_rows, device=rows.device)[:, None], neighbor_position] = True
    near = near[:, position[rows]]  # every copy of a sample gets its edges
    mask = near | near.T | (rows[:, None] == rows[None, :])
    if labels is not None:
        batch_labels = labels[rows]
        labelled = batch_labels >= 0
        both = labelled[:, None] & labelled[None, :]
        mask = torch.where(both, batch_labels[:, None] == batch_labels[None, :], mask)
    return mask


class _PartnerSampler:
    """Draw one positive partner per anchor, so that every anchor meets a positive.

    Unlabelled anchors get one of their mined neighbours, drawn uniformly; labelled
    anchors (supervised mode) get a row of the same label, drawn uniformly (itself
    when it is its label's only row).
    """

    def __init__(self, neighbors, labels, generator):
        if labels is not None and not (labels >= 0).any():
            labels = None  # nothing labelled: every anchor takes a neighbour
        self.neighbors = neighbors
        self.labels = labels
        self.generator = generator
        if labels is not None:
            labelled = torch.nonzero(labels >= 0).flatten()
            order = torch.argsort(labels[labelled], stable=True)
            self.rows_by_label = labelled[order]
            self.counts = torch.bincount(labels[labelled])  # every code 0..C-1 occurs
            self.starts = torch.cumsum(self.counts, 0) - self.counts

    def __call__(self, index):
        device = index.device
        n_neighbors = self.neighbors.shape[1]
        pick = torch.randint(n_neighbors, (index.shape[0],), generator=self.generator)
        partners = self.neighbors[index, pick.to(device)].long()
        if self.labels is None:
            return partners
        draw = torch.rand(index.shape[0], generator=self.generator).to(device)
        label = self.labels[index]
        labelled = label >= 0
        safe = label.clamp(min=0)  # unlabelled anchors draw from label 0, then are ignored
        offset = (draw * self.counts[safe]).long().clamp(max=self.counts[safe] - 1)
        same_label = self.rows_by_label[self.starts[safe] + offset]
        return torch.where(labelled, same_label, partners)


class SNNLTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TorchEstimatorBase):
    """Autoencoder whose codes are shaped by the soft nearest neighbour loss (SNNL).

    The network standardises its input, encodes it through ReLU layers to a linear
    code of ``n_components`` units, and decodes the code with the mirrored layers.
    It minimises::

        L = MSE(decoder(code), standardised x) + snnl_weight * sum_layers SNNL(h_layer)

    summed over every encoder layer (each hidden layer after its ReLU, and the code).
    Each layer is used whole: the seed's code keeps only the first ``n_components``
    units of every hidden layer, a cut this class does not make.
    For a batch of activations ``h``, a distance ``d`` and temperature ``T``::

        SNNL = - mean_i log( sum_{j positive of i} exp(-d_ij / T) / sum_{k != i} exp(-d_ik / T) )

    which pulls each row towards its positives and away from the rest of the batch.

    **Positives and labels.** By default (``supervised=False``) training is
    unsupervised and ``y`` is ignored completely: the positives of a row are its
    ``n_neighbors`` nearest neighbours in ``X`` as given (Euclidean, as KMeans measures
    distances; symmetrised: ``j`` is a positive of ``i`` when either is among the
    other's neighbours). With
    ``supervised=True``, ``y`` is required and ``-1`` marks an unlabelled row (the
    scikit-learn semi-supervised convention): two labelled rows are positives exactly
    when their labels agree (a neighbour known to carry another label is not a
    positive), and every pair involving an unlabelled row keeps the neighbour rule.

    **Batches.** Each step takes ``batch_size`` anchors and adds one partner per
    anchor: a random mined neighbour, or for a labelled anchor a random row of the
    same label, so that every anchor has a positive in its batch (one without would
    carry no signal) and every label drawn appears at least twice.

    Parameters
    ----------
    n_components : int, default=10
        Size of the code returned by :meth:`transform`.
    hidden_layer_sizes : array-like of int or "auto", default="auto"
        Widths of the encoder's hidden layers (the decoder mirrors them). ``"auto"``
        means two layers of width ``2 * n_features`` kept within [64, 500]; the
        seed's ``(500, 500, 2000)`` suits MNIST-sized inputs.
    snnl_weight : float, default=1.0
        Weight of the summed soft nearest neighbour loss against the reconstruction.
    temperature : float or "auto", default="auto"
        Temperature ``T`` of the loss (its starting value for the annealed and
        learned schedules). Small values look only at the closest rows. ``"auto"``
        means 2.0 when ``supervised=False`` and 0.05 when ``supervised=True``: with
        cosine distances (in [0, 2]) and mined-neighbour positives, ``T`` of 1 to 5
        gave the best KMeans accuracy on digits and 0.1 broke the codes into
        fragments, while labels did best with 0.05.
    temperature_schedule : {"fixed", "annealed", "learned"}, default="fixed"
        ``"fixed"`` keeps ``temperature``. ``"annealed"`` uses
        ``T = temperature / (1 + epoch) ** 0.55`` (epoch counted from 0): the
        ``1 / (1 + epoch) ** 0.55`` schedule of Agarap & Azcarraga (2020), scaled by
        ``temperature``. ``"learned"`` optimises ``log T`` with the network (Frosst et
        al., 2019), starting at ``temperature``.
    distance : {"cosine", "euclidean"}, default="cosine"
        Distance ``d`` of the loss between two rows' activations: ``1 - cos(h_i, h_j)``
        or the squared Euclidean distance. (``metric`` in the other estimators names
        the neighbour search's distance; here neighbours are always Euclidean.)
    supervised : bool, default=False
        Use the labels ``y`` passed to :meth:`fit` to choose positives (see above).
        When False, ``y`` is ignored.
    input_noise : float or "auto", default="auto"
        Standard deviation of the Gaussian noise added to every training input, as a
        fraction of each feature's standard deviation (the reconstruction target stays
        clean). ``"auto"`` means 0 when ``supervised=False`` and 0.75 when
        ``supervised=True``, where it keeps the label clusters from fitting only the
        training rows (5-NN on held-back digits: 0.974 without noise, 0.984 with).
    n_neighbors : int, default=10
        Nearest neighbours mined per row (Euclidean, in ``X`` as given). With fewer
        rows, every other row is a neighbour (with a warning).
    max_iter : int or "auto", default="auto"
        Most passes over the data (epochs), as in
        :class:`~sklearn.neural_network.MLPClassifier`. ``"auto"`` means
        ``min(30, max(3, ceil(10**6 / n_samples)))``.
    batch_size : int or "auto", default="auto"
        Anchors per step (each brings one partner). ``"auto"`` means
        ``ceil(n_samples * max_iter / 1000)`` clipped to [256, 512].
    learning_rate_init : float, default=3e-3
        Adam's initial learning rate, decayed to 0 along a half cosine over
        ``max_iter`` epochs.
    tol : float or None, default=None
        With a float, training stops when the epoch's mean loss has not improved on
        the best by at least ``tol`` for ``n_iter_no_change`` epochs in a row, as in
        :class:`~sklearn.neural_network.MLPClassifier`, and reaching ``max_iter``
        first warns with a :class:`~sklearn.exceptions.ConvergenceWarning`. None (the
        default, unlike MLPClassifier's 1e-4) runs the whole cosine schedule: its
        loss flattens while the learning rate is still high, and on digits
        ``SCANClusterer(tol=1e-4)`` stopped after 24 to 39 of 100 epochs at 0.866
        mean accuracy against 0.907 for the whole schedule (7 seeds).
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` after which training stops.
    device : str or torch.device, default="auto"
        Torch device for training (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``);
        ``"auto"`` picks CUDA when available. The fitted network is kept on the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the network, the shuffles and every random draw of the fit. An int
        gives the same result at every fit on the same data on CPU.
    verbose : int, default=0
        Show a progress bar when positive.

    Attributes
    ----------
    module_ : Autoencoder
        The trained network (CPU, float64, eval mode).
    hidden_layer_sizes_ : tuple of int
        The hidden layer widths used.
    n_neighbors_ : int
        Neighbours mined per row.
    temperature_ : float
        Temperature at the end of training (the learned one with ``"learned"``).
    input_noise_ : float
        The input noise used (``input_noise`` with ``"auto"`` resolved).
    history_ : list of dict
        Per-epoch records: ``loss``, ``reconstruction``, ``snnl`` (summed over layers)
        and ``temperature``.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : Linear codes without neighbourhood structure.
    SelfSupervisedClassifier : Classes learned from mined neighbours.

    References
    ----------
    N. Frosst, N. Papernot and G. Hinton, "Analyzing and Improving Representations
    with the Soft Nearest Neighbor Loss", ICML 2019. A. F. Agarap and A. P. Azcarraga,
    "Improving k-means clustering performance with disentangled internal
    representations", IJCNN 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SNNLTransformer
    >>> X, y = make_blobs(n_samples=200, centers=3, n_features=5, random_state=0)
    >>> snnl = SNNLTransformer(n_components=2, max_iter=10, random_state=0)
    >>> codes = snnl.fit_transform(X)
    >>> codes.shape
    (200, 2)
    >>> snnl.inverse_transform(codes).shape
    (200, 5)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "snnl_weight": [Interval(Real, 0, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "temperature_schedule": [StrOptions({"fixed", "annealed", "learned"})],
        "distance": [StrOptions({"cosine", "euclidean"})],
        "supervised": ["boolean"],
        "input_noise": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=10,
        *,
        hidden_layer_sizes="auto",
        snnl_weight=1.0,
        temperature="auto",
        temperature_schedule="fixed",
        distance="cosine",
        supervised=False,
        input_noise="auto",
        n_neighbors=10,
        max_iter="auto",
        batch_size="auto",
        learning_rate_init=3e-3,
        tol=None,
        n_iter_no_change=10,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.snnl_weight = snnl_weight
        self.temperature = temperature
        self.temperature_schedule = temperature_schedule
        self.distance = distance
        self.supervised = supervised
        self.input_noise = input_noise
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _hidden_sizes(self, n_features):
        if isinstance(self.hidden_layer_sizes, str):  # "auto", the one string allowed
            return auto_hidden_layer_sizes(n_features)
        return check_hidden_layer_sizes(self.hidden_layer_sizes)

    def _encode_labels(self, y, n_samples):
        """Labels as int64 codes 0..C-1, with -1 for the unlabelled rows."""
        if y is None:
            raise ValueError("supervised=True needs labels y (-1 marks an unlabelled row).")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_samples), y)
        # Strings cannot be -1; numbers and objects (e.g. mixed labels) can.
        unlabelled = (y == -1) if y.dtype.kind in "iufO" else np.zeros(n_samples, dtype=bool)
        codes = np.full(n_samples, -1, dtype=np.int64)
        codes[~unlabelled] = np.unique(y[~unlabelled], return_inverse=True)[1]
        return codes

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Used only when ``supervised=True`` (then required; -1 = unlabelled).
            Ignored otherwise: no label reaches training.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = self._validate_fit_data(X)
        n_samples = X.shape[0]
        labels = self._encode_labels(y, n_samples) if self.supervised else None
        self.hidden_layer_sizes_ = self._hidden_sizes(X.shape[1])
        # "auto" is resolved per mode here and never written back to the parameters.
        temperature = self._resolve_auto(self.temperature, AUTO_TEMPERATURE)
        self.input_noise_ = float(self._resolve_auto(self.input_noise, AUTO_INPUT_NOISE))
        schedule = self._schedule(
            n_samples, auto_batch_size_cap=MAX_AUTO_BATCH_SIZE, auto_max_iter_cap=MAX_AUTO_EPOCHS
        )
        device, seed, seeded_block = self._fit_setup()
        neighbors = mine_neighbors(X, self.n_neighbors, random_state=seed)
        self.n_neighbors_ = neighbors.shape[1]

        with seeded_block as generator:
            sizes = (X.shape[1], *self.hidden_layer_sizes_, self.n_components)
            network = Autoencoder(standardizer(X), sizes).to(device)
            log_temperature = torch.nn.Parameter(torch.tensor(math.log(temperature), device=device))
            parameters = list(network.parameters())
            if self.temperature_schedule == "learned":
                parameters.append(log_temperature)
            data = torch.tensor(X, dtype=torch.float32, device=device)
            neighbor_table = torch.tensor(neighbors, device=device).long()
            label_table = None if labels is None else torch.tensor(labels, device=device)
            batch_loss = self._batch_loss(
                network,
                data,
                neighbor_table,
                label_table,
                _PartnerSampler(neighbor_table, label_table, generator),
                temperature,
                log_temperature,
                generator=generator,
            )
            self.history_, _ = train_module(
                network,
                batch_loss,
                n_samples,
                schedule,
                generator,
                parameters=parameters,
                verbose=self.verbose,
                description="snnl",
            )
        self.n_iter_ = len(self.history_)
        self.temperature_ = self._final_temperature(temperature, log_temperature)
        self._n_features_out = self.n_components
        self._finish(network)
        return self

    def _resolve_auto(self, value, auto_by_mode):
        return auto_by_mode[bool(self.supervised)] if value == "auto" else value

    def _final_temperature(self, temperature, log_temperature):
        if self.temperature_schedule == "learned":
            return float(log_temperature.detach().exp())
        if self.temperature_schedule == "annealed":
            return temperature / self.n_iter_**ANNEALING_EXPONENT
        return float(temperature)

    def _batch_loss(
        self,
        network,
        data,
        neighbors,
        labels,
        partners,
        start_temperature,
        log_temperature,
        generator,
    ):
        """The ``batch_loss`` closure (reconstruction + weighted SNNL summed over layers)."""
        feature_std = network.standardize.scale

        def temperature_at(epoch):
            if self.temperature_schedule == "learned":
                return log_temperature.exp()
            if self.temperature_schedule == "annealed":
                return start_temperature / (1 + epoch) ** ANNEALING_EXPONENT
            return start_temperature

        def noisy(x):
            if self.input_noise_ == 0:
                return x  # draws nothing, so the generator's stream is unchanged
            return gaussian_noise(x, self.input_noise_, feature_std, generator)

        def batch_loss(index, log):
            rows = torch.cat([index, partners(index)])
            x = data[rows]
            activations = network.encode_layers(noisy(x))
            reconstruction = F.mse_loss(
                network.reconstruct_standardized(activations[-1]), network.standardize(x)
            )
            temperature = temperature_at(log.epoch)
            mask = positive_mask(rows, neighbors, labels)
            snnl = sum(
                soft_nearest_neighbor_loss(h, mask, temperature, self.distance)[0]
                for h in activations
            )
            log.add(
                reconstruction=reconstruction,
                snnl=snnl,
                temperature=torch.as_tensor(temperature, dtype=torch.float64, device=x.device),
            )
            return reconstruction + self.snnl_weight * snnl

        return batch_loss

    def transform(self, X):
        """Codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            In the dtype of ``X`` (float32 stays float32, anything else is float64).
        """
        X = self._validate_predict_data(X)
        return self._run(X).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes back to the original feature scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, `n_features_in_`)
            In the dtype of ``X``.
        """
        check_is_fitted(self)
        codes = check_array(X, dtype=[np.float64, np.float32])
        if codes.shape[1] != self.n_components:
            raise ValueError(
                f"X has {codes.shape[1]} columns, but codes have n_components={self.n_components}."
            )
        return self._run(codes, method="decode").astype(codes.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
