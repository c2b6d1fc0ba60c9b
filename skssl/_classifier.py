"""SelfSupervisedClassifier: a softmax network that learns classes without labels."""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from skssl._base import (
    N_CLUSTERS_CONSTRAINTS,
    TorchEstimatorBase,
    with_shared_parameter_docs,
)
from skssl._graph.mining import mine_neighbors
from skssl._networks import ClusteringNetwork, LinearHeads, standardizer
from skssl._objectives import CLASSIFIER_OBJECTIVES, OBJECTIVES, VIEW_OPTIONS
from skssl._two_stage import TwoStageClusterer


@with_shared_parameter_docs
class SelfSupervisedClassifier(TwoStageClusterer):
    """Classify samples into ``n_clusters`` classes learned without labels.

    An MLP with softmax heads is trained on unlabelled data in two stages, as the
    reference texts train (seed 002's embedding then assignment stages, SCAN's pretext
    then clustering): **stage one** fits every head to the density partition of the
    neighbour graph's layout, as :class:`~skssl.SCANClusterer`'s first stage builds it
    (15 neighbours, metric ``"auto"``); **stage two** refines that network with
    ``objective``, whose loss alone, from a fresh network, lands in poorer optima (the
    user guide's stage-two table measures both). With
    ``objective="minmax"`` (the "SCANv2" loss) the k nearest neighbours of each sample
    are pulled into its class, far samples are pushed to orthogonal classes, and the
    entropy of the mean prediction keeps every class in use::

        L = mean (1 - s(f(x), f(n)))^2 + far_weight * mean s(f(x), f(m))^2
            - entropy_weight * H(mean f(x))

    where ``s`` is the dot product of two probability vectors (``similarity="dot"``)
    or their cosine, ``n`` runs over the mined neighbours of ``x`` and ``m`` over far
    samples.

    The two-view objectives compare two views ``x_1, x_2`` of each sample (by default
    the sample and one of its mined neighbours; see ``views``) through normalised
    (cosine) heads, ``logits = (w_c / ||w_c||) . (v / ||v||) / temperature``:

    - ``objective="self_classifier"`` (Amrani et al., 2022): cross-entropy between the
      column-softmaxed logits of one view and the row-softmaxed logits of the other,
      with the ``N/C`` uniform-prior factor, symmetrised
      (``skssl._losses.self_classifier_loss``);
    - ``objective="iic"`` (Ji et al., 2019; Han et al., 2020): the negative mutual
      information of the two views' assignments, minus ``entropy_weight`` times the
      entropy of the mean prediction (IIC's extra marginal weight; without it, fits on
      tabular data left clusters empty), plus ``consistency_weight`` times the
      consistency preserving loss on the embeddings feeding the heads
      (``skssl._losses.iic_loss``, ``skssl._losses.consistency_preserving_loss``).

    Parameters not used by the chosen objective are ignored by it:

    - all objectives: ``n_clusters``, ``hidden_layer_sizes``, ``n_init`` and the
      training parameters from ``max_iter`` on;
    - ``"minmax"``: ``entropy_weight``, ``n_neighbors``, ``n_negatives``,
      ``far_weight``, ``far_candidates``, ``similarity``;
    - ``"self_classifier"``: ``views``, ``view_strength``, ``n_neighbors`` (with
      ``"neighbor"`` views), ``temperature``, ``column_temperature``, ``n_overclusters``;
    - ``"iic"``: ``entropy_weight``, ``views``, ``view_strength``, ``n_neighbors``
      (with ``"neighbor"`` views), ``temperature``, ``consistency_weight``,
      ``consistency_temperature``, ``n_overclusters``.

    The loss has local optima, so ``n_init`` cluster heads are trained from different
    initialisations on one encoder and the one with the lowest loss is kept (labels
    count only in a fit with ``supervised=True``, through its terms of the loss).
    Inputs are standardised inside the network.

    Parameters
    ----------
    n_clusters : int or "auto", default=8
        Number of classes to learn; 8 is :class:`~sklearn.cluster.KMeans`' default.
        ``"auto"`` counts the density clusters of the neighbour graph's layout as
        :class:`~skssl.SCANClusterer` builds it (15 neighbours, metric ``"auto"``), at
        the cost of one layout before training:
        %(n_clusters_auto)s
    objective : {"minmax", "self_classifier", "iic"}, default="minmax"
        Training objective (see above); the min-max loss ("SCANv2") is the default
        as the package's original objective.
    entropy_weight : float, default=2.0
        Weight ``lambda`` of the entropy of the mean prediction (natural log), read by
        ``"minmax"`` and ``"iic"``. Larger values pull the class sizes harder towards
        ``entropy_target``. The reference's value does not carry
        over (its Keras regulariser divides it by the batch size); 2 is skssl's own
        setting, and the user guide's *Min-max loss* page explains when to change it.
    entropy_target : {"partition", "uniform"}, default="partition"
        The class sizes the entropy term pulls towards: ``"uniform"`` is the
        references' entropy ``H(mean f(x))`` (equal sizes); ``"partition"`` is
        ``-KL(mean f(x) || pi)`` with ``pi`` the stage-one partition's sizes, chosen
        because equal sizes flatten unequal classes (USPS) when refining the
        partition. Self-Classifier reads no entropy term (its column softmax makes the
        sizes uniform).
    n_neighbors : int, default=10
        Nearest neighbours pulled into each sample's class (each step draws 2 of them
        per sample), or drawn as its second view, and over which a supervised fit
        spreads its labels: the nearest of those stage one mined in ``X`` as given
        (metric ``"auto"``), mined further when more are asked for; with fewer
        samples, every other sample is a neighbour (with a warning). 10 is the
        reference example's number of near samples.
    n_negatives : int, default=10
        Far samples pushed away from each sample per step; as many as its
        neighbours, where the reference's example pairs each sample with 900.
    far_weight : float, default=1.0
        Weight of the far term against the neighbour term; 1 is the reference
        formula's. Larger neighbourhoods with a heavier push did better on the
        overlapping blobs (the *Min-max loss* page measures it).
    far_candidates : int, default=32
        Other samples of the same batch (a uniform draw of the data), outside the
        sample's neighbour list, from which its far samples are chosen: the nearest
        candidates beyond the ``1 / n_clusters`` quantile of their distances, so that
        far samples skip the points that would share the sample's class if classes
        were balanced. When it is not above ``n_negatives``, the candidates are the
        far samples. Taking them from the batch costs no forward pass; 32 leaves at
        least 16 candidates past the quantile, more than ``n_negatives`` (the
        *Min-max loss* page measures the time this saved).
    similarity : {"dot", "cosine"}, default="dot"
        Similarity ``s`` of two probability vectors in the min-max loss. The
        reference text's formula uses the dot product and its code the cosine; the
        dot product is the default because the cosine ignores confidence, so class
        boundaries drift (the *Min-max loss* page measures it).
    views : str, default="neighbor"
        How the two views of a sample are made (two-view objectives): ``"neighbor"``
        makes the second view one of its ``n_neighbors`` mined neighbours, drawn
        uniformly; ``"noise"`` adds Gaussian noise of ``view_strength`` times each
        feature's standard deviation; ``"mask"`` sets entries to their feature's mean
        with probability ``view_strength``; ``"scarf"`` replaces entries, with that
        probability, by the same feature of random training rows. Combine them with
        ``"+"`` in this order, e.g. ``"neighbor+noise"``: the corruptions apply to both
        views, independently. Every draw is seeded from ``random_state``. Neighbours
        are the default because, unlike images, tabular rows have no standard
        augmentation that keeps their class.
    view_strength : float in [0, 1), default=0.2
        Noise scale (``"noise"``) or corruption probability (``"mask"``,
        ``"scarf"``); 0.2 matches the share of features that
        :class:`~skssl.SCANClusterer`'s self-labelling views replace.
    temperature : float, default=0.1
        Temperature of the normalised heads' softmax over classes: Self-Classifier's
        row temperature, and ``tau_c`` of IIC's normalised FC head (the min-max
        objective's plain heads read none); 0.1 is the row
        temperature of Self-Classifier's published training script.
    column_temperature : float, default=0.05
        Self-Classifier's temperature of the softmax over the batch (the target);
        0.05 is the value of its published training script.
    consistency_weight : float, default=1.0
        IIC: weight ``lambda`` of the consistency preserving loss; 1 weighs it as
        the assignment loss.
    consistency_temperature : float, default=0.5
        IIC: temperature of the consistency preserving loss's instance softmax. The
        reference uses 0.1; 0.5 scored higher on the digits (the user guide's *IIC*
        page).
    n_overclusters : int or None, default=None
        Two-view objectives: width of an auxiliary over-clustering head trained on
        the same loss alongside the main head (IIC's recommendation); only the main
        head is kept for prediction. None trains no auxiliary head, so that the
        default fit trains the one head it predicts with.
    supervised : bool, default=False
        %(supervised_description)s
        On, ``predict`` returns class labels and every head learns column ``c`` as
        class ``classes_[c]`` from terms added to its loss (also when the heads are
        ranked): the cross-entropy of a draw of labelled rows at every step
        (weighted 10); when every one of the ``n_clusters`` columns is a labelled
        class, the cross-entropy towards the labels spread over the mined neighbour
        graph (label spreading, ``alpha=0.9``, weighted by their certainty); and with
        ``objective="minmax"``, SCAN's neighbour consistency
        ``-mean log s(f(x), f(n))`` (weighted 1), without which the labels drowned
        the graph. Clusters beyond the labelled classes stay clusters (see
        ``classes_``).
    hidden_layer_sizes : array-like of int, default=(64,)
        %(hidden_layer_sizes_description)s
        One layer of 64 is a small network for tables of tens of features; no
        measurement of other widths is recorded.
    %(image_shape)s
    n_init : int or "auto", default="auto"
        Cluster heads trained at once on one shared encoder, each from its own
        initialisation; the head with the lowest loss in one deterministic pass over
        the data is kept, as ``KMeans(n_init=...)`` keeps its best run. They share
        every forward and backward pass of the encoder, so they cost little;
        ``"auto"`` means 5, as restarts beat longer training on the digits (the
        *Min-max loss* page measures both).
    max_iter : int or "auto", default="auto"
        %(max_iter_two_stage)s
    %(batch_size)s
    learning_rate_init : float, default=1e-2
        %(learning_rate_init_description)s
        Stage two uses a tenth of it, as it refines a trained network. 1e-2 is the
        rate the estimator was written with; no measurement of other rates is
        recorded.
    %(tol)s
    %(n_iter_no_change)s
    %(device)s
    %(random_state)s
    %(verbose)s

    Attributes
    ----------
    %(clusterer_attributes)s
    history_ : list of dict
        Per-epoch records of the kept head, stage one's (``stage="partition"``) then
        stage two's (``stage`` the objective): ``loss``, its terms and
        ``cluster_size_entropy``.
    neighbors_ : ndarray of shape (n_samples, `n_neighbors_`)
        The ``n_neighbors`` nearest mined neighbours of every training sample.
    n_neighbors_ : int
        Neighbours mined per sample: ``n_neighbors``, or ``n_samples - 1`` when the
        data has fewer samples.
    metric_ : str
        The metric of stage one's graph (``"auto"`` resolved).

    See Also
    --------
    SCANClusterer : Mined neighbours, a density partition of their graph, a network
        trained on it, optional self-labelling.
    sklearn.cluster.KMeans : Centroid clustering.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SelfSupervisedClassifier
    >>> from skssl.metrics import hungarian_accuracy_score
    >>> X, y = make_blobs(n_samples=300, centers=3, random_state=1)
    >>> model = SelfSupervisedClassifier(n_clusters=3, n_init=2, random_state=0).fit(X)
    >>> hungarian_accuracy_score(y, model.labels_) > 0.9
    True
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        **N_CLUSTERS_CONSTRAINTS,
        "objective": [StrOptions(set(CLASSIFIER_OBJECTIVES))],
        "entropy_target": [StrOptions({"partition", "uniform"})],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "far_weight": [Interval(Real, 0, None, closed="left")],
        "far_candidates": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions({"dot", "cosine"})],
        "views": [StrOptions(set(VIEW_OPTIONS))],
        "view_strength": [Interval(Real, 0, 1, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "column_temperature": [Interval(Real, 0, None, closed="neither")],
        "consistency_weight": [Interval(Real, 0, None, closed="left")],
        "consistency_temperature": [Interval(Real, 0, None, closed="neither")],
        "n_overclusters": [Interval(Integral, 1, None, closed="left"), None],
        "supervised": ["boolean"],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "image_shape": ["array-like", None],
        "n_init": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        max_clusters=None,
        objective="minmax",
        entropy_weight=2.0,
        entropy_target="partition",
        n_neighbors=10,
        n_negatives=10,
        far_weight=1.0,
        far_candidates=32,
        similarity="dot",
        views="neighbor",
        view_strength=0.2,
        temperature=0.1,
        column_temperature=0.05,
        consistency_weight=1.0,
        consistency_temperature=0.5,
        n_overclusters=None,
        supervised=False,
        hidden_layer_sizes=(64,),
        image_shape=None,
        n_init="auto",
        max_iter="auto",
        batch_size="auto",
        learning_rate_init=1e-2,
        tol=None,
        n_iter_no_change=10,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.objective = objective
        self.entropy_weight = entropy_weight
        self.entropy_target = entropy_target
        self.n_neighbors = n_neighbors
        self.n_negatives = n_negatives
        self.far_weight = far_weight
        self.far_candidates = far_candidates
        self.similarity = similarity
        self.views = views
        self.view_strength = view_strength
        self.temperature = temperature
        self.column_temperature = column_temperature
        self.consistency_weight = consistency_weight
        self.consistency_temperature = consistency_temperature
        self.n_overclusters = n_overclusters
        self.supervised = supervised
        self.hidden_layer_sizes = hidden_layer_sizes
        self.image_shape = image_shape
        self.n_init = n_init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @property
    def _stage_two(self):
        return self.objective

    def _graph_settings(self):
        return {}

    def _objective_neighbors(self, X, kind, stage, seed):
        # The graph stage's neighbours, nearest first, when it mined enough: a second
        # search cost a sixth of a USPS fit.
        if self.n_neighbors <= stage.neighbors.shape[1]:
            return stage.neighbors[:, : self.n_neighbors]
        return mine_neighbors(
            X,
            self.n_neighbors,
            metric=stage.metric,
            image_shape=kind.image_shape,
            random_state=seed,
        )

    def _build_network(self, X, hidden_layer_sizes, kind):
        # On images the MLP, not the convolutional encoder (the images guide measures it).
        encoder, width = kind.encoder(X.shape[1], hidden_layer_sizes, convolutional=False)
        # The two-view objectives use normalised (cosine) heads: the temperature alone
        # sets how peaked their softmax is, as in both references.
        two_view = OBJECTIVES[self.objective].two_view
        temperature = self.temperature if two_view else None
        heads = LinearHeads(width, self.n_clusters_, n_heads=self.n_init_, temperature=temperature)
        overclustering = None
        if two_view and self.n_overclusters is not None:
            overclustering = LinearHeads(width, self.n_overclusters, temperature=temperature)
        return ClusteringNetwork(standardizer(X), encoder, heads, overclustering)
