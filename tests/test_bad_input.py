"""Every public estimator on a catalogue of awkward inputs: a clear error or a correct result.

Whatever happens, the output holds no NaN and the input array is left as it was.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer

SMALL = {"max_iter": 2, "random_state": 0, "device": "cpu"}
FACTORIES = {
    "SelfSupervisedClassifier": lambda k: SelfSupervisedClassifier(k, n_init=1, **SMALL),
    "SCANClusterer": lambda k: SCANClusterer(k, n_neighbors=3, **SMALL),
    "SNNLTransformer": lambda k: SNNLTransformer(n_components=2, n_neighbors=3, **SMALL),
}


def fit_output(estimator, X):
    """Fit, then return what the estimator hands back for X."""
    if hasattr(estimator, "transform"):
        return estimator.fit(X).transform(X)
    return estimator.fit(X).predict_proba(X)


def rng_data(n=40, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def with_value(value, dtype=float):
    X = rng_data().astype(dtype)
    X[3, 1] = value
    return X


ERRORS = {
    "NaN": (with_value(np.nan), ValueError, "NaN"),
    "+inf": (with_value(np.inf), ValueError, "infinity"),
    "-inf": (with_value(-np.inf), ValueError, "infinity"),
    "complex": (rng_data() + 1j, ValueError, "[Cc]omplex"),
    "strings": (
        np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object),
        ValueError,
        "convert",
    ),
    "sparse": (sparse.random(40, 3, density=0.5, format="csr", random_state=0), TypeError, "dense"),
    "empty": (np.empty((0, 3)), ValueError, "0 sample"),
    "one sample": (rng_data(1), ValueError, "1 sample"),
    "1-d": (np.arange(10.0), ValueError, "2D"),
}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_gets_a_clear_error(name, case):
    X, error, message = ERRORS[case]
    with pytest.raises(error, match=message):
        FACTORIES[name](2).fit(X)


def memmap(tmp_path):
    X = rng_data()
    path = tmp_path / "X.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


WORKING = {
    "one feature": lambda tmp: rng_data(d=1),
    "constant feature": lambda tmp: np.c_[rng_data(), np.full(40, 7.0)],
    "all rows identical": lambda tmp: np.ones((40, 3)),
    "duplicate rows": lambda tmp: np.repeat(rng_data(10), 4, axis=0),
    "tiny values": lambda tmp: rng_data() * 1e-8,
    "huge values": lambda tmp: rng_data() * 1e8,
    "int": lambda tmp: np.random.default_rng(0).integers(0, 5, size=(40, 3)),
    "float16": lambda tmp: rng_data().astype(np.float16),
    "float32": lambda tmp: rng_data().astype(np.float32),
    "bool": lambda tmp: rng_data() > 0,
    "read-only memmap": memmap,
    "DataFrame": lambda tmp: pd.DataFrame(rng_data(), columns=["a", "b", "c"]),
}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("case", WORKING)
def test_awkward_input_gives_a_finite_result_and_is_not_modified(name, case, tmp_path):
    X = WORKING[case](tmp_path)
    before = X.copy()
    estimator = FACTORIES[name](3)
    output = fit_output(estimator, X)
    assert np.all(np.isfinite(np.asarray(output, dtype=float)))
    assert len(output) == len(X)
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, before)
        np.testing.assert_array_equal(estimator.feature_names_in_, ["a", "b", "c"])
    else:
        np.testing.assert_array_equal(X, before)
    if hasattr(estimator, "labels_"):
        labels = estimator.labels_
        assert labels.min() == 0 and np.array_equal(np.unique(labels), np.arange(labels.max() + 1))


@pytest.mark.parametrize("name", ["SelfSupervisedClassifier", "SCANClusterer"])
def test_more_clusters_than_distinct_rows(name):
    """Five distinct rows, eight clusters: allowed (n_samples >= 8); finite, gap-free labels."""
    X = np.repeat(rng_data(5), 4, axis=0)
    estimator = FACTORIES[name](8).fit(X)
    assert np.all(np.isfinite(estimator.predict_proba(X)))
    assert len(np.unique(estimator.labels_)) <= 5


@pytest.mark.parametrize("name", ["SelfSupervisedClassifier", "SCANClusterer"])
def test_more_clusters_than_samples(name):
    with pytest.raises(ValueError, match="n_clusters"):
        FACTORIES[name](50).fit(rng_data())


@pytest.mark.parametrize("name", FACTORIES)
def test_hidden_layer_sizes_as_mlp_classifier_takes_them(name):
    X = rng_data()
    as_list = FACTORIES[name](2).set_params(hidden_layer_sizes=[8, 4]).fit(X)
    as_int = FACTORIES[name](2).set_params(hidden_layer_sizes=8).fit(X)
    assert np.all(np.isfinite(fit_output(as_list, X))) and np.all(
        np.isfinite(fit_output(as_int, X))
    )
    for bad in [(8, 0), (8, -1), (8, 2.5), ("8",)]:
        with pytest.raises(ValueError, match="hidden_layer_sizes"):
            FACTORIES[name](2).set_params(hidden_layer_sizes=bad).fit(X)


@pytest.mark.parametrize("name", FACTORIES)
def test_too_many_neighbors_use_every_other_sample_with_a_warning(name):
    X = rng_data(n=6)
    estimator = FACTORIES[name](2).set_params(n_neighbors=10)
    with pytest.warns(UserWarning, match="n_neighbors=10 is not below n_samples=6"):
        estimator.fit(X)
    assert estimator.n_neighbors_ == 5 and estimator.n_neighbors == 10


@pytest.mark.parametrize("name", FACTORIES)
def test_unknown_device_names_the_parameter(name):
    with pytest.raises(ValueError, match="device='gpu' is not a Torch device"):
        FACTORIES[name](2).set_params(device="gpu").fit(rng_data())
