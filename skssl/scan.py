"""SCANClusterer: semantic clustering by adopting nearest neighbours, then self-labelling."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClusterMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from torch.nn import functional as F

from skssl._base import (
    PREDICT_BATCH_SIZE,
    TorchEstimatorBase,
    standardizer,
    warn_small_batch,
)
from skssl._core import auto_batch_size, auto_max_epochs, entropy_of_counts, train_module
from skssl.augment import gaussian_noise, neighbor_view, scarf_corrupt
from skssl.losses import scan_loss
from skssl.metrics import hungarian_accuracy_score
from skssl.networks import ClusteringNetwork, linear_head, mlp
from skssl.neighbors import mine_neighbors

#: A cluster holding fewer than this fraction of its fair share ``n_samples / n_clusters``
#: of the training samples counts as collapsed (warned about).
COLLAPSE_FRACTION = 0.1


def scan_objective(network, data, neighbors, generator, entropy_weight, threshold):
    """Batch loss of the SCAN stage: every head at once, one drawn neighbour per anchor.

    The loss is the sum of the heads' SCAN losses (the heads share the encoder but
    not their weights, so each follows its own path to a partition). ``terms``
    records every head's loss, consistency, entropy and confident fraction, so that
    the head with the lowest loss can be kept; ``counts`` (returned alongside the
    closure) accumulates every head's cluster sizes over an epoch.
    """
    n_heads = len(network.heads)
    n_clusters = network.output_order.shape[0]
    counts = np.zeros((n_heads, n_clusters), dtype=np.int64)

    def batch_loss(index):
        size = index.shape[0]
        neighbor = neighbor_view(index, neighbors, generator).to(index.device)
        logits, _ = network.all_logits(data[torch.cat([index, neighbor])])
        total, terms = 0.0, {}
        for h, head_logits in enumerate(logits):
            proba = torch.softmax(head_logits, dim=1)
            loss, parts = scan_loss(proba[:size], proba[size:], entropy_weight=entropy_weight)
            total = total + loss
            anchor = proba[:size].detach()
            terms[f"loss_{h}"] = loss.detach()
            terms[f"consistency_{h}"] = parts["consistency"]
            terms[f"entropy_{h}"] = parts["entropy"]
            confident = anchor.max(dim=1).values >= threshold
            terms[f"confident_fraction_{h}"] = confident.float().mean()
            counts[h] += np.bincount(anchor.argmax(dim=1).cpu().numpy(), minlength=n_clusters)
        return total, terms, None

    return batch_loss, counts


def self_label_objective(network, data, threshold, strong_view):
    """Batch loss of self-labelling: confident weak-view argmax as target of a strong view.

    A sample is confident when its largest probability on the weak view (the
    sample itself, without gradient) reaches ``threshold``. The cross-entropy is
    class-balanced with ``w_c = n_confident / count_c`` over the batch's confident
    samples; a batch without a confident sample is skipped.
    """

    def batch_loss(index):
        x = data[index]
        with torch.no_grad():
            proba = network(x)
        confidence, target = proba.max(dim=1)
        confident = confidence >= threshold
        n_confident = int(confident.sum())
        if n_confident == 0:
            return None, {}, None
        target = target[confident]
        counts = torch.bincount(target, minlength=proba.shape[1]).to(x.dtype)
        weight = torch.where(counts > 0, n_confident / counts.clamp(min=1), 0.0)
        logits = network.heads[0](network.embed(strong_view(x[confident])))
        loss = F.cross_entropy(logits, target, weight=weight)
        return loss, {}, proba.argmax(dim=1)

    return batch_loss


class SCANClusterer(ClusterMixin, TorchEstimatorBase):
    """SCAN clustering: neighbours in an embedding share a class, then self-labelling.

    The three stages of SCAN (Van Gansbeke et al., 2020) for tabular data:

    1. **Embedding and neighbours.** ``X`` is mapped to a pretext representation
       (the standardised input, or the output of the ``embedding`` transformer),
       and the ``n_neighbors`` nearest neighbours of every sample are mined there.
    2. **SCAN loss.** An MLP with ``n_heads`` softmax heads is trained so that each
       sample and one of its neighbours, drawn at every step, get the same class,
       while the entropy of the mean prediction keeps all classes in use::

           L = - mean log <f(x), f(n)> - entropy_weight * H(mean f(x))

       All heads train at once; the head with the lowest loss is kept (labels are
       never used to choose).
    3. **Self-labelling** (``self_labeling=True``). Samples whose largest probability
       reaches ``confidence_threshold`` take their class as a pseudo-label, and the
       network is trained with class-balanced cross-entropy on a strongly augmented
       view of them (feature corruption plus noise), until the confident set stops
       growing.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (softmax outputs of each head).
    entropy_weight : float, default=2.0
        Weight ``lambda`` of the entropy of the mean prediction (natural log). Larger
        values push towards clusters of equal size.
    n_neighbors : int, default=20
        Nearest neighbours mined per sample in the embedding; each step draws one of
        them per sample. Must be below the number of samples.
    n_heads : int, default=5
        Heads trained at once on a shared encoder; the lowest loss wins.
    self_labeling : bool, default=True
        Whether to run the self-labelling stage after the SCAN stage.
    confidence_threshold : float, default=0.99
        Largest probability from which a sample counts as confident, in (0, 1).
    embedding : transformer or None, default=None
        The pretext representation. None uses the standardised input; a
        scikit-learn transformer (for instance ``PCA``) is cloned and fitted on ``X``
        in ``fit``, and the network then works on its output.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance used to mine the neighbours (cosine, as in the public SCAN code).
    hidden_layer_sizes : tuple of int, default=(128,)
        Widths of the encoder's hidden ReLU layers.
    max_epochs : int or "auto", default="auto"
        Passes over the data in the SCAN stage; ``"auto"`` means
        ``min(100, max(3, ceil(10**6 / n_samples)))``. Self-labelling runs at most
        as many passes.
    batch_size : int or "auto", default="auto"
        Samples per step; ``"auto"`` means ``min(4096, max(256, n_samples // 250))``.
    learning_rate : float, default=1e-2
        Adam's initial learning rate (decayed along a cosine) in the SCAN stage; the
        self-labelling stage uses a tenth of it.
    device : str, default="auto"
        Torch device for training; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the network, the shuffles, the neighbour draws and the augmentations.
        An int gives the same labels at every fit on the same data on CPU.
    verbose : int, default=0
        Show a progress bar when positive.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each training sample, numbered by decreasing cluster size.
    cluster_sizes_ : ndarray of shape (n_clusters,)
        Training samples per cluster.
    embedding_ : transformer or None
        The fitted clone of ``embedding``.
    neighbors_ : ndarray of shape (n_samples, n_neighbors)
        The mined neighbours of every training sample.
    head_losses_ : ndarray of shape (n_heads,)
        Final SCAN loss of every head.
    best_head_ : int
        Index of the kept head.
    module_ : torch.nn.Module
        The fitted network (CPU, float64, eval mode).
    history_ : list of dict
        One record per stage (``"scan"`` or ``"self-label"``) and epoch: ``loss``,
        ``consistency`` and ``entropy`` (SCAN stage, kept head), ``confident_fraction``
        and ``cluster_size_entropy``.
    n_iter_ : int
        Epochs run over both stages.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    SelfSupervisedClassifier : Min-max neighbour loss with far samples.
    sklearn.cluster.KMeans : Centroid clustering.

    Notes
    -----
    **Choosing n_clusters.** Use the number of classes when it is known. When it is
    not, compare fits over a range of ``n_clusters`` by their final
    ``history_[-1]["cluster_size_entropy"]`` and ``cluster_sizes_``: a value of
    ``n_clusters`` above the natural number of groups leaves clusters (nearly) empty
    or split evenly at random, and the fit warns when a cluster collapses. Setting
    ``n_clusters`` somewhat above the expected number of classes (over-clustering)
    is safe: classes then split into several clusters rather than merge, and
    :func:`skssl.metrics.hungarian_accuracy_score` scores the extra clusters as
    errors. On imbalanced data lower ``entropy_weight``, which otherwise pushes
    towards equal cluster sizes.

    References
    ----------
    W. Van Gansbeke, S. Vandenhende, S. Georgoulis, M. Proesmans and L. Van Gool,
    "SCAN: Learning to Classify Images without Labels", ECCV 2020.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SCANClusterer
    >>> from skssl.metrics import hungarian_accuracy_score
    >>> X, y = make_blobs(n_samples=300, centers=3, random_state=1)
    >>> model = SCANClusterer(n_clusters=3, max_epochs=20, random_state=0).fit(X)
    >>> hungarian_accuracy_score(y, model.labels_) > 0.9
    True
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "self_labeling": ["boolean"],
        "confidence_threshold": [Interval(Real, 0, 1, closed="neither")],
        "embedding": [None, HasMethods(["fit", "transform"])],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "hidden_layer_sizes": [tuple],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        entropy_weight=2.0,
        n_neighbors=20,
        n_heads=5,
        self_labeling=True,
        confidence_threshold=0.99,
        embedding=None,
        metric="cosine",
        hidden_layer_sizes=(128,),
        max_epochs="auto",
        batch_size="auto",
        learning_rate=1e-2,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.entropy_weight = entropy_weight
        self.n_neighbors = n_neighbors
        self.n_heads = n_heads
        self.self_labeling = self_labeling
        self.confidence_threshold = confidence_threshold
        self.embedding = embedding
        self.metric = metric
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _embed(self, X):
        """The network's input: ``X`` itself, or its pretext representation."""
        if self.embedding_ is None:
            return X
        return np.asarray(self.embedding_.transform(X), dtype=np.float64)

    def _build_network(self, Z):
        sizes = (Z.shape[1], *self.hidden_layer_sizes)
        encoder = mlp(sizes, activate_last=True) if self.hidden_layer_sizes else torch.nn.Identity()
        heads = [linear_head(sizes[-1], self.n_clusters) for _ in range(self.n_heads)]
        return ClusteringNetwork(standardizer(Z), encoder, heads)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency: no label reaches training.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X = self._validate_fit_data(X)
        n_samples = X.shape[0]
        if self.n_clusters > n_samples:
            raise ValueError(f"n_clusters={self.n_clusters} must be <= n_samples={n_samples}.")
        if self.n_neighbors >= n_samples:
            raise ValueError(f"n_neighbors={self.n_neighbors} must be below n_samples={n_samples}.")
        batch_size = min(auto_batch_size(self.batch_size, n_samples), n_samples)
        max_epochs = auto_max_epochs(self.max_epochs, n_samples)
        warn_small_batch(batch_size, self.n_clusters)
        device, seed, seeded_block = self._fit_setup()

        self.embedding_ = None if self.embedding is None else clone(self.embedding).fit(X)
        Z = self._embed(X)
        if self.embedding is None:
            space = standardizer(X)(torch.tensor(X, dtype=torch.float32)).numpy()
        else:
            # A learned representation is used as is: rescaling its axes (e.g. whitening
            # PCA components) would change which samples are near.
            space = Z
        self.neighbors_ = mine_neighbors(
            space, self.n_neighbors, metric=self.metric, random_state=seed
        )
        train = dict(batch_size=batch_size, generator=None, device=device, verbose=self.verbose)
        with seeded_block as generator:
            train["generator"] = generator
            data = torch.tensor(Z, dtype=torch.float32, device=device)
            network = self._build_network(Z).to(device)
            self.history_ = self._train_scan(network, data, max_epochs, train)
            if self.self_labeling:
                self.history_ += self._self_label(network, data, max_epochs, train)
        self.n_iter_ = len(self.history_)
        self._finish(network)
        self._order_clusters(Z)
        self._warn_collapse()
        return self

    def _train_scan(self, network, data, max_epochs, train):
        """SCAN stage; keeps the head with the lowest final loss. Returns its history."""
        neighbors = torch.tensor(self.neighbors_, device=data.device)
        batch_loss, counts = scan_objective(
            network,
            data,
            neighbors,
            train["generator"],
            self.entropy_weight,
            self.confidence_threshold,
        )

        def end_epoch(history):
            # Cluster sizes per head are known only at the end of an epoch.
            for h, head_counts in enumerate(counts):
                history[-1][f"cluster_size_entropy_{h}"] = entropy_of_counts(head_counts)
            counts[:] = 0
            return False

        history, _ = train_module(
            network,
            batch_loss,
            data.shape[0],
            max_epochs=max_epochs,
            learning_rate=self.learning_rate,
            description="scan",
            stop_early=end_epoch,
            **train,
        )
        if not history:
            raise RuntimeError("fit was interrupted before one epoch finished.")
        self.head_losses_ = np.array([history[-1][f"loss_{h}"] for h in range(self.n_heads)])
        self.best_head_ = int(np.argmin(self.head_losses_))
        network.keep_head(self.best_head_, np.arange(self.n_clusters))
        names = ("loss", "consistency", "entropy", "confident_fraction", "cluster_size_entropy")
        return [
            {
                "stage": "scan",
                "epoch": record["epoch"],
                **{name: record[f"{name}_{self.best_head_}"] for name in names},
            }
            for record in history
        ]

    def _self_label(self, network, data, max_epochs, train):
        """Self-labelling stage, until the confident set stops growing. Returns its history."""
        generator = train["generator"]
        feature_std = data.std(dim=0)

        def strong_view(x):
            corrupted = scarf_corrupt(x, data, 0.2, generator)
            return gaussian_noise(corrupted, 0.1, feature_std, generator)

        def stopped_growing(history):
            # The confident set is measured on all samples at the end of each epoch.
            with torch.no_grad():
                confident = torch.cat(
                    [
                        network(data[start : start + PREDICT_BATCH_SIZE]).max(dim=1).values
                        >= self.confidence_threshold
                        for start in range(0, data.shape[0], PREDICT_BATCH_SIZE)
                    ]
                )
            history[-1]["confident_fraction"] = confident.float().mean().item()
            fractions = [record["confident_fraction"] for record in history]
            return len(fractions) > 1 and fractions[-1] <= fractions[-2]

        batch_loss = self_label_objective(network, data, self.confidence_threshold, strong_view)
        history, _ = train_module(
            network,
            batch_loss,
            data.shape[0],
            max_epochs=max_epochs,
            learning_rate=self.learning_rate / 10,
            n_clusters=self.n_clusters,
            description="self-label",
            stop_early=stopped_growing,
            **train,
        )
        if all("loss" not in record for record in history):
            warnings.warn(
                f"Self-labelling found no sample with confidence >= "
                f"confidence_threshold={self.confidence_threshold}; the SCAN stage's "
                "clusters are kept. Lower confidence_threshold or train longer.",
                UserWarning,
                stacklevel=4,
            )
        return history

    def _order_clusters(self, Z):
        """Number the clusters by decreasing training size, so labels_ has no gaps."""
        proba = self._run(Z)
        counts = np.bincount(proba.argmax(axis=1), minlength=self.n_clusters)
        order = np.argsort(-counts, kind="stable")
        self.module_.keep_head(0, self.module_.output_order[order])
        self.labels_ = proba[:, order].argmax(axis=1).astype(np.int64)
        self.cluster_sizes_ = counts[order]

    def _warn_collapse(self):
        fair_share = self.labels_.shape[0] / self.n_clusters
        collapsed = int((self.cluster_sizes_ < COLLAPSE_FRACTION * fair_share).sum())
        if collapsed:
            warnings.warn(
                f"{collapsed} of {self.n_clusters} clusters are empty or nearly empty "
                f"(sizes {self.cluster_sizes_.tolist()}): n_clusters may exceed the number "
                "of groups in the data, or entropy_weight is too low.",
                UserWarning,
                stacklevel=4,
            )

    def predict_proba(self, X):
        """Cluster probabilities of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Rows sum to 1; columns follow the cluster numbers of ``labels_``.
        """
        return self._run(self._embed(self._validate_predict_data(X)))

    def predict(self, X):
        """Cluster of each sample (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), dtype int64
        """
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def score(self, X, y):
        """Hungarian-matched accuracy of ``predict(X)`` against the labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True classes.

        Returns
        -------
        float
            See :func:`skssl.metrics.hungarian_accuracy_score`.
        """
        if y is None:
            raise ValueError("score needs the true labels y to match classes against.")
        return hungarian_accuracy_score(y, self.predict(X))
