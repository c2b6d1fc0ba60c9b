"""The scikit-learn shape every estimator shares: label-free score, transform, light import."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import SCANClusterer, SelfSupervisedClassifier
from skssl.metrics import hungarian_accuracy_score, neighbor_consistency_score

CLUSTERERS = {
    "SelfSupervisedClassifier": lambda **kw: SelfSupervisedClassifier(
        3, **{"n_init": 1, "max_iter": 30, "hidden_layer_sizes": (16,), "device": "cpu", **kw}
    ),
    "SCANClusterer": lambda **kw: SCANClusterer(3, **{"device": "cpu", **kw}),
}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=150, centers=3, cluster_std=0.6, random_state=0)


def test_neighbor_consistency_score_ranks_partitions(blobs):
    X, y = blobs
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(y)) < 0.3, rng.integers(0, 3, len(y)), y)
    true, worse, random = (
        neighbor_consistency_score(X, labels) for labels in (y, noisy, rng.permutation(y))
    )
    assert true > 0.9 and true > worse + 0.3 and worse > random + 0.2 and random < 0.05
    assert neighbor_consistency_score(X, np.zeros(len(y))) == 0.0, "one cluster tells nothing"


@pytest.mark.parametrize("name", CLUSTERERS)
def test_score_needs_no_labels_and_follows_accuracy(blobs, name):
    X, y = blobs
    model = CLUSTERERS[name](random_state=0).fit(X)
    assert model.score(X) == model.score(X, y) == neighbor_consistency_score(X, model.predict(X))
    assert hungarian_accuracy_score(y, model.labels_) > 0.95
    # Over seeds: one barely trained network can be smooth enough on 2-d blobs to agree
    # with its neighbours by chance (SCAN's seed 0 scored 0.88 at 0.65 accuracy).
    barely_trained = [
        CLUSTERERS[name](random_state=seed, max_iter=1, learning_rate_init=1e-6).fit(X)
        for seed in range(5)
    ]
    assert np.mean([hungarian_accuracy_score(y, m.labels_) for m in barely_trained]) < 0.9
    assert model.score(X) > np.mean([m.score(X) for m in barely_trained]) + 0.15


@pytest.mark.parametrize("name", CLUSTERERS)
def test_grid_search_without_scoring_ranks_by_the_label_free_score(blobs, name):
    X, y = blobs
    grid = {"learning_rate_init": [1e-6, 1e-2]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = GridSearchCV(CLUSTERERS[name](random_state=0), grid, cv=2).fit(X)
    complaints = [
        w for w in caught if "score" in str(w.message).lower() or "fail" in str(w.message)
    ]
    assert not complaints, [str(w.message) for w in complaints]
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and scores[1] > scores[0] + 0.1
    assert search.best_params_ == {"learning_rate_init": 1e-2}
    assert hungarian_accuracy_score(y, search.best_estimator_.labels_) > 0.95


@pytest.mark.parametrize("name", CLUSTERERS)
def test_transform_is_the_embedding_with_feature_names(blobs, name):
    X = pd.DataFrame(blobs[0], columns=["a", "b"])
    model = CLUSTERERS[name](random_state=0).fit(X)
    embedding = model.transform(X)
    width = 16 if name == "SelfSupervisedClassifier" else 128
    assert embedding.shape == (150, width) and embedding.dtype == np.float64
    prefix = name.lower()
    np.testing.assert_array_equal(
        model.get_feature_names_out(), [f"{prefix}{i}" for i in range(width)]
    )
    frame = model.set_output(transform="pandas").transform(X)
    assert list(frame.columns) == list(model.get_feature_names_out())
    np.testing.assert_allclose(frame.to_numpy(), embedding)


def test_pipeline_keeps_pandas_column_names(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=["height", "width"])
    pipeline = make_pipeline(StandardScaler(), CLUSTERERS["SCANClusterer"](random_state=0))
    pipeline.set_output(transform="pandas").fit(frame)
    np.testing.assert_array_equal(pipeline[-1].feature_names_in_, ["height", "width"])
    assert hungarian_accuracy_score(y, pipeline.predict(frame)) > 0.95


def _modules_after(code):
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


OPTIONAL = ("torch", "pynndescent", "numba", "matplotlib", "dask")


@pytest.mark.parametrize(
    "code, absent",
    [
        ("import skssl", (*OPTIONAL, "pandas", "sklearn")),
        # scikit-learn's metrics import pandas themselves when it is installed.
        ("from skssl.metrics import hungarian_accuracy_score", OPTIONAL),
        ("from skssl import __main__", (*OPTIONAL, "pandas", "sklearn")),
    ],
)
def test_light_imports_load_no_torch_and_no_optional_dependency(code, absent):
    loaded = _modules_after(code)
    for module in absent:
        assert f"'{module}'" not in loaded, (module, code)


def test_cli_help_loads_no_torch():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "skssl", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "demo" in result.stdout
    assert " torch\n" not in result.stderr and "| torch" not in result.stderr
