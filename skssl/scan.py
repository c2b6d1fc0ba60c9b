"""SCANClusterer: semantic clustering by adopting nearest neighbours, then self-labelling."""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from torch.nn import functional as F

from skssl._base import (
    PREDICT_BATCH_SIZE,
    TorchClustererBase,
    TorchEstimatorBase,
    standardizer,
    warn_small_batch,
)
from skssl._core import entropy_of_counts, train_module
from skssl.augment import gaussian_noise, neighbor_corrupt, neighbor_view
from skssl.losses import scan_loss
from skssl.neighbors import mine_neighbors
from skssl.networks import ClusteringNetwork, linear_head, mlp_encoder

#: A cluster holding fewer than this fraction of its fair share ``n_samples / n_clusters``
#: of the training samples counts as collapsed (warned about).
COLLAPSE_FRACTION = 0.1


#: Per-head statistics of the SCAN stage, averaged over each epoch's steps.
HEAD_TERMS = ("loss", "consistency", "entropy", "confident_fraction")


def stacked_head_proba(network, x):
    """Probabilities of every (linear) head at once, shape ``(n_heads, B, C)``.

    One matrix product instead of a Python loop over the heads: with many
    heads the per-head calls (and their backward) dominated the step time. The
    softmax runs along a leading axis of a ``(n_heads, C, B)`` array: Torch's CPU
    softmax along a short last axis is several times slower.
    """
    n_heads = len(network.heads)
    weight = torch.cat([head.weight for head in network.heads])
    bias = torch.cat([head.bias for head in network.heads])
    logits = torch.addmm(bias.unsqueeze(1), weight, network.embed(x).mT)
    logits = logits.view(n_heads, -1, x.shape[0])
    return torch.softmax(logits, dim=1).mT


def scan_objective(network, data, neighbors, generator, entropy_weight, threshold):
    """Batch loss of the SCAN stage: every head at once, one drawn neighbour per anchor.

    The loss is the sum of the heads' SCAN losses (the heads share the encoder but
    not their weights, so each follows its own path to a partition). Every head's
    :data:`HEAD_TERMS` and cluster sizes are summed, without leaving the device, in
    ``stats`` (returned alongside the closure) and read once per epoch.
    """
    n_heads = len(network.heads)
    n_clusters = network.output_order.shape[0]
    stats = {
        "terms": torch.zeros(len(HEAD_TERMS), n_heads, device=data.device),
        "counts": torch.zeros(n_heads, n_clusters, dtype=torch.long, device=data.device),
        "steps": 0,
    }

    def batch_loss(index):
        size = index.shape[0]
        neighbor = neighbor_view(index, neighbors, generator).to(index.device)
        proba = stacked_head_proba(network, data[torch.cat([index, neighbor])])
        losses, parts = scan_loss(proba[:, :size], proba[:, size:], entropy_weight)
        confidence, assignment = proba[:, :size].detach().max(dim=2)
        fractions = (confidence >= threshold).float().mean(dim=1)
        stats["terms"] += torch.stack(
            [losses.detach(), parts["consistency"], parts["entropy"], fractions]
        )
        stats["counts"] += F.one_hot(assignment, n_clusters).sum(dim=1)
        stats["steps"] += 1
        return losses.sum(), {}, None

    return batch_loss, stats


#: Anchors per chunk when the exact loss gathers all their neighbours' probabilities.
EVALUATION_CHUNK = 1024


@torch.no_grad()
def full_scan_losses(network, data, neighbors, entropy_weight):
    """Exact SCAN loss of every head: all samples, all their mined neighbours, no noise.

    The neighbours are rows of ``data``, so one forward pass over ``data`` gives
    every probability the loss needs; the entropy is that of the mean prediction
    over all samples (not per batch). Returns an array of shape (n_heads,).
    """
    network.eval()
    proba = torch.cat(
        [
            stacked_head_proba(network, data[start : start + PREDICT_BATCH_SIZE])
            for start in range(0, data.shape[0], PREDICT_BATCH_SIZE)
        ],
        dim=1,
    )
    network.train()
    consistency = 0.0
    for start in range(0, data.shape[0], EVALUATION_CHUNK):
        anchors = proba[:, start : start + EVALUATION_CHUNK]
        neighbor = proba[:, neighbors[start : start + EVALUATION_CHUNK].long()]
        _, parts = scan_loss(anchors, neighbor, entropy_weight=0.0)
        consistency = consistency + parts["consistency"] * anchors.shape[1]
    _, parts = scan_loss(proba, proba, entropy_weight=0.0)
    loss = consistency / data.shape[0] - entropy_weight * parts["entropy"]
    return loss.cpu().numpy().astype(np.float64)


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
        logits = network.heads[0](network.embed(strong_view(x[confident], index[confident])))
        loss = F.cross_entropy(logits, target, weight=weight)
        return loss, {}, proba.argmax(dim=1)

    return batch_loss


class SCANClusterer(TorchClustererBase):
    """SCAN clustering: neighbours in an embedding share a class, then self-labelling.

    The three stages of SCAN (Van Gansbeke et al., 2020) for tabular data:

    1. **Embedding and neighbours.** The ``n_neighbors`` nearest neighbours of every
       sample are mined in ``X`` as given (or in the output of the ``embedding``
       transformer). Like :class:`~sklearn.cluster.KMeans`, SCAN measures distances
       in the user's space: rescaling features changes which samples are near, so it
       is left to the user (a ``StandardScaler`` in a ``Pipeline``). The network
       itself standardises its inputs, which only eases optimisation.
    2. **SCAN loss.** An MLP with ``n_heads`` softmax heads is trained so that each
       sample and one of its neighbours, drawn at every step, get the same class,
       while the entropy of the mean prediction keeps all classes in use::

           L = - mean log <f(x), f(n)> - entropy_weight * H(mean f(x))

       All heads train at once on a shared encoder. The head kept is the one with
       the lowest loss in a deterministic pass over all samples, measured on the
       nearest half of their neighbours, the ones most likely to share a class
       (labels are never used to choose).
    3. **Self-labelling** (``self_labeling=True``). Samples whose largest probability
       reaches ``confidence_threshold`` take their class as a pseudo-label, and the
       network is trained with class-balanced cross-entropy on a strongly augmented
       view of them (20% of the features replaced by those of the sample's own
       neighbours, plus noise), until the confident set stops growing.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters (softmax outputs of each head).
    entropy_weight : float, default=2.0
        Weight ``lambda`` of the entropy of the mean prediction (natural log). Larger
        values push towards clusters of equal size.
    n_neighbors : int, default=10
        Nearest neighbours mined per sample in the embedding; each step draws one of
        them per sample. Must be below the number of samples. Fewer, closer
        neighbours are more often of the same class; more propagate further.
    n_heads : int, default=10
        Heads trained at once on a shared encoder; the lowest exact loss wins. Heads
        are cheap (one matrix product for all), and more of them make it likelier
        that one reaches the better partition.
    self_labeling : bool, default=False
        Whether to run the self-labelling stage after the SCAN stage. Off by default:
        on tabular data (digits) it changed accuracy by at most about -0.01 to +0.01,
        lacking the strong image augmentations that make it pay off on images.
    confidence_threshold : float, default=0.99
        Largest probability from which a sample counts as confident, in (0, 1).
    embedding : transformer or None, default=None
        The pretext representation. None mines the neighbours in ``X`` as given; a
        scikit-learn transformer (for instance ``PCA``) is cloned and fitted on ``X``
        in ``fit``, the neighbours are mined in its output, and the network works on
        that output.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance used to mine the neighbours (cosine, as in the public SCAN code).
        The cosine sees only directions from the origin, which suits
        high-dimensional features such as pixels (digits: 0.940 against 0.913 with
        ``"euclidean"``, 3 seeds) but not low-dimensional data: on the 10 overlapping
        2-d blobs, ``"euclidean"`` gave 0.844 against 0.661 (5 seeds).
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
        SCAN loss of every head after the SCAN stage, over all samples and the nearest
        ``ceil(n_neighbors / 2)`` of their neighbours, in eval mode.
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
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
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
        n_neighbors=10,
        n_heads=10,
        self_labeling=False,
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
        encoder, width = mlp_encoder(Z.shape[1], self.hidden_layer_sizes)
        heads = [linear_head(width, self.n_clusters) for _ in range(self.n_heads)]
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
        if self.n_neighbors >= n_samples:
            raise ValueError(f"n_neighbors={self.n_neighbors} must be below n_samples={n_samples}.")
        batch_size, max_epochs = self._schedule(n_samples)
        warn_small_batch(batch_size, self.n_clusters)
        device, seed, seeded_block = self._fit_setup()

        self.embedding_ = None if self.embedding is None else clone(self.embedding).fit(X)
        Z = self._embed(X)
        # Neighbours are mined in the space the user gives, as KMeans measures distances
        # there: rescaling axes (standardising pixels, whitening PCA components) changes
        # which samples are near, and a StandardScaler in a Pipeline does it on request.
        self.neighbors_ = mine_neighbors(Z, self.n_neighbors, metric=self.metric, random_state=seed)
        with seeded_block as generator:
            train = {
                "batch_size": batch_size,
                "generator": generator,
                "device": device,
                "verbose": self.verbose,
            }
            data = torch.tensor(Z, dtype=torch.float32, device=device)
            neighbors = torch.tensor(self.neighbors_, device=device)
            network = self._build_network(Z).to(device)
            self.history_, interrupted = self._train_scan(
                network, data, neighbors, max_epochs, train
            )
            if self.self_labeling and not interrupted:
                self.history_ += self._self_label(network, data, neighbors, max_epochs, train)
        self.n_iter_ = len(self.history_)
        self._finish(network)
        self._order_clusters(Z)
        self._warn_collapse()
        return self

    def _train_scan(self, network, data, neighbors, max_epochs, train):
        """SCAN stage; keeps the head with the lowest exact loss.

        Returns its history and whether Ctrl-C stopped it.
        """
        batch_loss, stats = scan_objective(
            network,
            data,
            neighbors,
            train["generator"],
            self.entropy_weight,
            self.confidence_threshold,
        )

        def record_heads(history):
            # Every head's statistics are read once per epoch (one device sync).
            terms = (stats["terms"] / max(stats["steps"], 1)).cpu().numpy()
            counts = stats["counts"].cpu().numpy()
            for h in range(self.n_heads):
                for name, values in zip(HEAD_TERMS, terms):
                    history[-1][f"{name}_{h}"] = float(values[h])
                history[-1][f"cluster_size_entropy_{h}"] = entropy_of_counts(counts[h])
            stats["terms"].zero_()
            stats["counts"].zero_()
            stats["steps"] = 0
            return False

        history, interrupted = train_module(
            network,
            batch_loss,
            data.shape[0],
            max_epochs=max_epochs,
            learning_rate=self.learning_rate,
            description="scan",
            end_epoch=record_heads,
            **train,
        )
        if not history:
            raise RuntimeError("fit was interrupted before one epoch finished.")
        # The running loss of the last epoch mixes states along the way and draws one
        # neighbour per anchor: too noisy to rank heads by. Rank them by their exact loss
        # on the nearest half of the neighbours, the ones most likely to share a class
        # (training uses all of them, which smooths the partition).
        nearest = neighbors[:, : max(1, (self.n_neighbors + 1) // 2)]
        self.head_losses_ = full_scan_losses(network, data, nearest, self.entropy_weight)
        self.best_head_ = int(np.argmin(self.head_losses_))
        network.keep_head(self.best_head_, np.arange(self.n_clusters))
        names = ("loss", "consistency", "entropy", "confident_fraction", "cluster_size_entropy")
        history = [
            {
                "stage": "scan",
                "epoch": record["epoch"],
                "seconds": record["seconds"],
                **{name: record[f"{name}_{self.best_head_}"] for name in names},
            }
            for record in history
        ]
        return history, interrupted

    def _self_label(self, network, data, neighbors, max_epochs, train):
        """Self-labelling stage, until the confident set stops growing. Returns its history."""
        generator = train["generator"]
        feature_std = data.std(dim=0)

        def strong_view(x, index):
            corrupted = neighbor_corrupt(x, index, data, neighbors, 0.2, generator)
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
            end_epoch=stopped_growing,
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
