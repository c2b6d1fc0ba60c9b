"""The one method registry of the benchmarks: every method once, built by ``build``.

A method is a key, a label for the tables and a factory ``(n_clusters, seed,
n_features) -> unfitted model``. ``build(key, n_clusters, seed, n_features, **params)``
makes one and sets ``params`` on it (``set_params``), so that a script asks for
``build("scan", 10, seed, device="cpu", supervised=True)`` instead of keeping a table
of its own. Every script in ``benchmarks/`` imports its methods from here
(``_local.sibling("methods")``); ``tests/test_bench_scripts.py`` builds and fits
every entry on a tiny input, so that a renamed parameter fails there.

Kinds: ``"clusterer"`` (``fit_predict(X)``; the suite, ``run.py``, runs these),
``"transformer"`` (``fit(X).transform(X)``) and ``"semi-supervised"`` (``fit(X, y)``
with -1 for unlabelled rows, then ``predict``). An ``images`` method reads the rows
as images of ``IMAGE_SHAPES`` (its factory gets the shape from the feature count);
``max_rows`` is the most rows the suite runs it on.
"""

import numpy as np

#: key -> Method, in the order of the suite's tables.
REGISTRY = {}

#: The image sets, as ``image_shape`` (height, width) of their rows.
IMAGE_SHAPES = {"digits": (8, 8), "usps": (16, 16), "fashion_mnist": (28, 28)}

#: GaussianMixture uses covariance_type="diag" above this many features.
GMM_FULL_MAX_FEATURES = 100


class Method:
    """One registered method: its label, its factory, its kind and the most rows it runs on."""

    def __init__(self, label, factory, max_rows=None, skssl=False, images=False, kind="clusterer"):
        self.label, self.factory, self.max_rows, self.skssl = label, factory, max_rows, skssl
        self.images, self.kind = images, kind


def method(key, label, **options):
    """Register the decorated factory as method ``key`` (``options``: see :class:`Method`)."""

    def register(factory):
        REGISTRY[key] = Method(label, factory, **options)
        return factory

    return register


def build(key, n_clusters, seed=0, n_features=None, **params):
    """An unfitted model of method ``key``, with ``params`` set on it."""
    entry = REGISTRY.get(key)
    if entry is None:
        raise ValueError(f"unknown method {key!r}; choose one of {list(REGISTRY)}")
    model = entry.factory(n_clusters, seed, n_features)
    return model.set_params(**params) if params else model


def keys(kind="clusterer"):
    """The registered keys of one kind, in registry order."""
    return [key for key, entry in REGISTRY.items() if entry.kind == kind]


def image_shape_of(n_features):
    """The ``IMAGE_SHAPES`` entry of rows with ``n_features`` pixels."""
    return next(shape for shape in IMAGE_SHAPES.values() if shape[0] * shape[1] == n_features)


# ------------------------------------------------------------------------------- skssl


def _skssl(name, images=False, **fixed):
    """Factory of skssl estimator ``name`` with its defaults (``n_clusters`` where it takes one)."""

    def factory(k, seed, n_features):
        import skssl

        options = dict(fixed, random_state=seed)
        if images:
            options["image_shape"] = image_shape_of(n_features)
        if name != "SNNLTransformer":
            options["n_clusters"] = k
        return getattr(skssl, name)(**options)

    return factory


def _then_kmeans(first):
    """``first`` followed by KMeans(n_init=10): a clusterer from a transformer's factory."""

    def factory(k, seed, n_features):
        from sklearn.pipeline import make_pipeline

        return make_pipeline(first(k, seed, n_features), _kmeans(k, seed, n_features))

    return factory


method("scan", "SCANClusterer()", skssl=True)(_skssl("SCANClusterer"))
method("scan-image", "SCANClusterer(image_shape=...)", skssl=True, images=True)(
    _skssl("SCANClusterer", images=True)
)
method("ssc-minmax-image", "SelfSupervisedClassifier(image_shape=...)", skssl=True, images=True)(
    _skssl("SelfSupervisedClassifier", images=True)
)
method("ssc-minmax", "SelfSupervisedClassifier() (minmax)", skssl=True)(
    _skssl("SelfSupervisedClassifier")
)
for _objective in ("self_classifier", "iic"):
    method(
        f"ssc-{_objective.replace('_', '-')}",
        f"SelfSupervisedClassifier(objective='{_objective}')",
        skssl=True,
    )(_skssl("SelfSupervisedClassifier", objective=_objective))
method("snnl-kmeans", "SNNLTransformer() + KMeans(n_init=10)", skssl=True)(
    _then_kmeans(_skssl("SNNLTransformer"))
)
method(
    "snnl-image-kmeans",
    "SNNLTransformer(image_shape=...) + KMeans(n_init=10)",
    skssl=True,
    images=True,
)(_then_kmeans(_skssl("SNNLTransformer", images=True)))
method("snnl", "SNNLTransformer()", skssl=True, kind="transformer")(_skssl("SNNLTransformer"))


# ------------------------------------------------------------------------ classic peers


@method("kmeans", "KMeans(n_init=10)")
def _kmeans(k, seed, n_features):
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed)


@method("kmeans-std", "StandardScaler() + KMeans(n_init=10)")
def _kmeans_std(k, seed, n_features):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), _kmeans(k, seed, n_features))


@method("gmm", "GaussianMixture (full; diag on > 100 features)")
def _gmm(k, seed, n_features):
    from sklearn.mixture import GaussianMixture

    # Full covariance on 784 features is infeasible (and singular on constant pixels).
    full = n_features is None or n_features <= GMM_FULL_MAX_FEATURES
    return GaussianMixture(k, covariance_type="full" if full else "diag", random_state=seed)


# Spectral takes minutes on 10^4 rows; ward's distance matrix on Fashion-MNIST's 70000
# rows is 20 GB; HDBSCAN takes 25 s on USPS's 9298 x 256, n^2 d: an hour on 70000 x 784.
@method("spectral", "SpectralClustering (nearest_neighbors)", max_rows=2999)
def _spectral(k, seed, n_features):
    from sklearn.cluster import SpectralClustering

    return SpectralClustering(k, affinity="nearest_neighbors", random_state=seed)


@method("agglomerative", "AgglomerativeClustering (ward)", max_rows=20000)
def _agglomerative(k, seed, n_features):
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(k, linkage="ward")


@method("hdbscan", "HDBSCAN(copy=True) (noise = own label)", max_rows=20000)
def _hdbscan(k, seed, n_features):
    from sklearn.cluster import HDBSCAN

    return HDBSCAN(copy=True)  # never writes into X (the default changes in 1.10)


def _umap_then(last, **umap_options):
    def factory(k, seed, n_features):
        from sklearn.pipeline import make_pipeline
        from umap import UMAP  # its defaults: 2 components, 15 neighbours, min_dist 0.1

        clusterer = REGISTRY[last].factory(k, seed, None)  # full covariance on 2 components
        return make_pipeline(UMAP(random_state=seed, **umap_options), clusterer)

    return factory


method("umap-kmeans", "UMAP() + KMeans(n_init=10)")(_umap_then("kmeans"))
method("umap-gmm", "UMAP() + GaussianMixture (full)")(_umap_then("gmm"))
# umap-learn's guide "Using UMAP for Clustering": more neighbours, points packed densely.
method("umap-clustering-kmeans", "UMAP(n_neighbors=30, min_dist=0) + KMeans(n_init=10)")(
    _umap_then("kmeans", n_neighbors=30, min_dist=0.0)
)


class OnMovedImageGraph:
    """UMAP(n_neighbors=30, min_dist=0) + KMeans on the graph ``SCANClusterer`` mines for images.

    The same 15 neighbours under one-pixel shifts (``graph_stage(..., until="neighbors")``
    with ``SCANClusterer``'s defaults) that ``scan-image`` lays out, given to UMAP as
    ``precomputed_knn`` (each row first, at distance 0, as UMAP lists it): the two
    partition stages on one graph.
    """

    def __init__(self, k, seed, n_features):
        self.k, self.seed, self.n_features = k, seed, n_features

    def set_params(self, **params):
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def fit(self, X):
        from umap import UMAP

        from skssl._graph import graph_stage

        shape = (*image_shape_of(self.n_features), 1)
        stage = graph_stage(X, None, image_shape=shape, until="neighbors", random_state=self.seed)
        rows = np.arange(len(X))[:, None]
        knn = (
            np.hstack([rows, stage.neighbors]),
            np.hstack([np.zeros((len(X), 1)), stage.distances]),
        )
        umap = UMAP(n_neighbors=16, min_dist=0.0, precomputed_knn=knn, random_state=self.seed)
        layout = umap.fit_transform(X)
        self.labels_ = _kmeans(self.k, self.seed, None).fit_predict(layout)
        return self

    def fit_predict(self, X):
        return self.fit(X).labels_


method(
    "umap-kmeans-moved-graph",
    "UMAP(min_dist=0) + KMeans(n_init=10) on scan-image's graph",
    images=True,
)(OnMovedImageGraph)


class NoiseAssigned:
    """EVoC with each noise point given the cluster of its nearest clustered neighbour.

    The neighbours are EVoC's own (``nn_inds_``, nearest first); a noise point whose
    neighbours are all noise takes the label that spreads to it over repeated passes.
    """

    def __init__(self, model):
        self.model = model

    def set_params(self, **params):
        self.model.set_params(**params)
        return self

    def fit(self, X):
        from skssl._graph.partition import assign_noise

        labels = self.model.fit(X).labels_
        self.labels_ = assign_noise(labels, self.model.nn_inds_[:, 1:], np.asarray(X))
        return self

    def fit_predict(self, X):
        return self.fit(X).labels_


def _evoc(assign):
    def factory(k, seed, n_features):
        from evoc import EVoC

        model = EVoC(approx_n_clusters=k, random_state=seed)
        return NoiseAssigned(model) if assign else model

    return factory


method("evoc", "EVoC(approx_n_clusters=k) (noise = own label)")(_evoc(False))
method("evoc-assigned", "EVoC(approx_n_clusters=k), noise to nearest clustered neighbour")(
    _evoc(True)
)


# ------------------------------------------------------------- semi-supervised peers


@method("label-spreading", "LabelSpreading (knn)", kind="semi-supervised")
def _label_spreading(k, seed, n_features):
    from sklearn.semi_supervised import LabelSpreading

    return LabelSpreading(kernel="knn")


@method("self-training-logistic", "SelfTraining(LogisticRegression)", kind="semi-supervised")
def _self_training_logistic(k, seed, n_features):
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import SelfTrainingClassifier

    return SelfTrainingClassifier(LogisticRegression(max_iter=1000))


@method("self-training-svc", "SelfTraining(SVC)", kind="semi-supervised")
def _self_training_svc(k, seed, n_features):
    from sklearn.semi_supervised import SelfTrainingClassifier
    from sklearn.svm import SVC

    return SelfTrainingClassifier(SVC(probability=True, random_state=seed))


def scan_graph_stage(X, n_clusters, random_state, *, image_shape=None, device="auto"):
    """The graph stage that ``SCANClusterer(n_clusters, random_state=random_state)`` runs.

    Called as the estimator's ``fit`` calls it, with its defaults: the seed drawn from
    ``random_state`` (``draw_seed``) and ``graph_stage`` run inside ``seeded`` with that
    block's generator, so ``.partition`` is the density partition its network trains on
    and ``.seconds`` the time of each step.
    """
    from sklearn.utils import check_random_state

    from skssl._core import draw_seed, resolve_device, seeded
    from skssl._graph import graph_stage
    from skssl._input import input_kind

    device = resolve_device(device)
    seed = draw_seed(check_random_state(random_state))
    shape = input_kind(image_shape, X.shape[1]).image_shape
    with seeded(seed, device) as generator:
        return graph_stage(
            X,
            n_clusters,
            image_shape=shape,
            min_clusters=0,  # unsupervised: no labelled classes to count
            random_state=seed,
            generator=generator,
            device=device,
        )
