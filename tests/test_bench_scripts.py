"""Every script in benchmarks/ imports, and every method it uses builds and fits on 60 rows.

A renamed or removed parameter then fails here, in CI, not in the next long run. The
rows are few enough that every neighbour search is exact: PyNNDescent's numba code
never compiles. Methods that need umap-learn or EVoC (the ``bench`` extra) skip where
it is absent.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(path.stem for path in BENCHMARKS.glob("*.py") if not path.stem.startswith("_"))
#: What each registered method needs beyond the test extra.
NEEDS = {"umap": "umap", "evoc": "evoc"}
#: Few epochs for every skssl estimator (a pipeline's SNNL step by its prefix).
FAST = {"max_iter": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def sibling():
    sys.path.insert(0, str(BENCHMARKS))
    from _local import sibling

    return sibling


@pytest.fixture(scope="module")
def methods(sibling):
    return sibling("methods")


@pytest.fixture(scope="module")
def data(sibling):
    """60 stratified rows of the digits: 64 features, read as 8 x 8 images where asked."""
    X, y = sibling("datasets").load("digits", n_samples=60)
    return X, y


def available(methods, key):
    """Whether the optional package that method ``key`` needs (if any) is installed."""
    words = (methods.REGISTRY[key].label + " " + key).lower()
    for word, module in NEEDS.items():
        if word in words:
            try:
                __import__(module)
            except ImportError:
                return False
    return True


def fast(methods, key, **params):
    """``params`` plus few epochs on the CPU where ``key`` is skssl's (a pipeline by prefix)."""
    entry = methods.REGISTRY[key]
    if not entry.skssl:
        return params
    if key.endswith("-kmeans"):  # SNNLTransformer then KMeans
        return {**params, **{f"snnltransformer__{name}": v for name, v in FAST.items()}}
    return {**FAST, **params}


def fit(model, kind, X, y):
    """Fit ``model`` as its kind is fitted; what it returns for the 60 rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few epochs, few rows: convergence chatter
        if kind == "semi-supervised" or y is not None:
            return model.fit(X, y).predict(X)
        if kind == "transformer":
            return model.fit(X).transform(X)
        return model.fit_predict(X)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_imports(sibling, name):
    module = sibling(name)
    assert name in ("datasets", "methods") or callable(module.main)


def test_registry_methods_build_and_fit(methods, data):
    X, y = data
    partial = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    for key, entry in methods.REGISTRY.items():
        if not available(methods, key):
            continue
        model = methods.build(key, 3, 0, X.shape[1], **fast(methods, key))
        out = fit(model, entry.kind, X, partial if entry.kind == "semi-supervised" else None)
        assert len(out) == len(X), key


def test_script_tables_name_registered_methods(sibling, methods):
    registered = set(methods.REGISTRY)
    assert set(sibling("run").METHODS) == set(methods.keys("clusterer"))
    assert {key for key, _ in sibling("semi_supervised").METHODS.values()} <= registered
    for script in ("n_clusters", "sample_size", "gpu_check"):
        assert set(sibling(script).ESTIMATORS.values()) <= registered, script
    assert {key for key, _ in sibling("reproducibility").ESTIMATORS.values()} <= registered
    scale = sibling("scale")
    assert {what.split("+")[0] for what in scale.WHAT} - {"pynndescent"} <= registered


def test_semi_supervised_methods_fit(sibling, data):
    script = sibling("semi_supervised")
    X, y = data
    partial = script.partly_labelled(y, 0.5, 0)
    for method in script.METHODS:
        supervised, make = script.factory(method, X.shape[1])
        model = make(0)
        if "max_iter" in model.get_params():
            model.set_params(max_iter=2)
        assert len(fit(model, None, X, partial if supervised else None)) == len(X), method


def test_n_clusters_rules_and_fits(sibling, data):
    script = sibling("n_clusters")
    X, _ = data
    for rule, count_of in script.PEERS.items():
        if rule in ("UMAP + HDBSCAN", "EVoC default layer"):
            pytest.importorskip("umap" if rule.startswith("UMAP") else "evoc")
        assert count_of(X, 0) >= 0, rule
    for key in script.ESTIMATORS.values():
        script.methods.build(key, "auto", 0)
    model, seconds, weak = script.skssl_fit("SCANClusterer", 3, X, 0)
    assert model.n_clusters_ == 3 and seconds > 0


def test_reproducibility_and_gpu_check_estimators_fit(sibling, data):
    X, _ = data
    for name, model in sibling("reproducibility").estimators().items():
        kind = "clusterer" if hasattr(model, "n_clusters") else "transformer"
        assert len(fit(model.set_params(max_iter=2), kind, X, None)) == len(X), name
    gpu_check = sibling("gpu_check")
    for name in gpu_check.ESTIMATORS:
        model, _ = gpu_check.timed_fit(gpu_check.make(name, "cpu", 0, True), X)
        assert 0 <= gpu_check.accuracy(model, X, data[1]) <= 1


def test_partition_choice_density_and_kmeans(sibling, data):
    script = sibling("partition_choice")
    X, _ = data
    assert script.density(X, 3, 0).shape == (len(X),)
    assert np.unique(script.kmeans(X, 3, 0)).size == 3


def test_scale_measures_a_first_fit_by_stage(sibling):
    scale = sibling("scale")
    rows = [scale.measure("blobs32", 60, what) for what in ("scan", "kmeans")]
    stages = rows[0]["stages"]
    for name in ("imports", "mining", "fuzzy_graph", "layout", "partition", "training", "fit"):
        assert stages[name]["seconds"] >= 0, name
    assert "compilation" not in stages  # 60 rows: exact search, no numba
    assert rows[0]["first_fit_seconds"] >= stages["fit"]["seconds"]
    table = "\n".join(scale.table(rows))
    assert "| scan |" in table and "| kmeans |" in table
    runs = [{"first_fit_seconds": seconds} for seconds in (3.0, 1.0, 2.0)]
    median = scale.median_run(runs)
    assert median["first_fit_seconds"] == 2.0 and median["first_fit_runs"] == [3.0, 1.0, 2.0]
