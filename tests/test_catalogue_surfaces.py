"""A catalogue of awkward inputs at the newer surfaces: images, ``n_clusters="auto"``,
``supervised=True``, :mod:`skssl.dask`, model files, the command line and extreme values.

Every case ends in a clear ``ValueError`` (or ``TypeError``) whose message names the
problem, or in a correct, finite result; no input is modified. The cases are tiny
(``max_iter=2``, a few dozen rows).
"""

import copy
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, make_blobs

import skssl.metrics
from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl.__main__ import main as cli

SMALL = {"max_iter": 2, "random_state": 0, "device": "cpu"}
MAKERS = {
    "SCANClusterer": lambda **kw: SCANClusterer(
        **{"n_clusters": 3, "n_neighbors": 3, **SMALL, **kw}
    ),
    "SelfSupervisedClassifier": lambda **kw: SelfSupervisedClassifier(
        **{"n_clusters": 3, "n_init": 1, **SMALL, **kw}
    ),
    "SNNLTransformer": lambda **kw: SNNLTransformer(
        **{"n_components": 2, "n_neighbors": 3, **SMALL, **kw}
    ),
}
CLUSTERERS = ["SCANClusterer", "SelfSupervisedClassifier"]


def blobs(n=40, d=4, seed=0):
    return make_blobs(n_samples=n, n_features=d, centers=3, random_state=seed)


def output_of(estimator, X):
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(X)
    return estimator.transform(X)


def fit_unchanged(estimator, X, y=None):
    """Fit on ``X`` (and ``y``), check neither was modified, and return the output on X."""
    before_X = X.copy()
    before_y = None if y is None else np.array(y, copy=True)
    estimator.fit(X, y)
    np.testing.assert_array_equal(X, before_X)
    if y is not None:
        np.testing.assert_array_equal(y, before_y)
    output = output_of(estimator, X)
    assert np.all(np.isfinite(output))
    return output


def assert_refused(estimator, X, match, y=None):
    before = X.copy()
    with pytest.raises(ValueError, match=match):
        estimator.fit(X, y)
    np.testing.assert_array_equal(X, before)


# --- extreme values -----------------------------------------------------------------

RESCALE = "Rescale X"
OUT_OF_RANGE = {
    "1e300": lambda X: X * 1e300,
    "float32 near its largest": lambda X: (X / np.abs(X).max() * 3e38).astype(np.float32),
    "1e20, squares beyond float32": lambda X: X * 1e20,
    "1e-300": lambda X: X * 1e-300,
    "one feature at 1e200": lambda X: np.c_[X[:, :3], X[:, 3] * 1e200],
}


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("case", OUT_OF_RANGE)
def test_values_beyond_float32_get_a_value_error_saying_to_rescale(name, case):
    X = OUT_OF_RANGE[case](blobs()[0])
    assert_refused(MAKERS[name](), X, f"too (large|small) for skssl.*{RESCALE}")


IN_RANGE = {
    "1e-13 (once taken for constant)": lambda X: X * 1e-13,
    "1e15": lambda X: X * 1e15,
    "columns 1e12 and 1e-12 apart": lambda X: X * np.array([1e12, 1e-12, 1.0, 1.0]),
    "a constant column at 1e18": lambda X: np.c_[X, np.full(len(X), 1e18)],
    "float32 at 1e15": lambda X: (X * 1e15).astype(np.float32),
}


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("case", IN_RANGE)
def test_extreme_but_representable_values_fit_to_finite_outputs(name, case):
    X, y = blobs()
    X = IN_RANGE[case](X)
    estimator = MAKERS[name]()
    fit_unchanged(estimator, X)
    assert all(np.isfinite(record["loss"]) for record in estimator.history_)
    if case.startswith("1e-13"):
        # Features that vary by 1e-13 are standardised, not taken for constant.
        spread = X.std(axis=0)
        if name == "SNNLTransformer":  # floored at the median spread
            spread = np.maximum(spread, np.median(spread))
        scale = estimator.module_.standardize.scale.numpy()
        np.testing.assert_allclose(scale, spread, rtol=1e-6)


@pytest.mark.parametrize("name", CLUSTERERS)
def test_a_fit_whose_loss_becomes_nan_stops_with_a_clear_error(name, monkeypatch):
    import skssl._core

    def poisoned(epoch_log_add):
        def add(self, **values):
            if "loss" in values:
                values["loss"] = values["loss"] * float("nan")
            return epoch_log_add(self, **values)

        return add

    monkeypatch.setattr(skssl._core.EpochLog, "add", poisoned(skssl._core.EpochLog.add))
    with pytest.raises(ValueError, match="diverged: the loss became nan at epoch 1.*Rescale X"):
        MAKERS[name]().fit(blobs()[0])


@pytest.mark.parametrize("name", CLUSTERERS)
def test_rows_far_outside_the_fitted_range_never_predict_nan(name):
    X = blobs()[0]
    estimator = MAKERS[name]().fit(X)
    try:
        proba = estimator.predict_proba(X * 1e306)
    except ValueError as error:
        assert "far outside the range" in str(error)
    else:
        assert np.all(np.isfinite(proba))


# --- images -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:60], y[:60]


BAD_IMAGE_SHAPES = {
    "product wraps round int64": ((2**61 + 8, 8), "holds 18446744073709551680 values"),
    "product far beyond int64": ((2**40, 2**40, 2**40), "image_shape=.*values per image"),
    "a bool side": ((8, True, 8), "image_shape must hold positive ints"),
    "a float side": ((8, 8.0), "image_shape must hold positive ints"),
    "four sides": ((2, 2, 4, 4), "image_shape must be"),
}


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("case", BAD_IMAGE_SHAPES)
def test_bad_image_shapes_are_value_errors_naming_image_shape(digits, name, case):
    shape, message = BAD_IMAGE_SHAPES[case]
    assert_refused(MAKERS[name](image_shape=shape), digits[0], message)


@pytest.mark.parametrize("name", MAKERS)
def test_images_near_1e20_are_refused_before_mining(digits, name):
    # Their float32 squared distances overflowed: a degenerate graph, other labels each run.
    assert_refused(MAKERS[name](image_shape=(8, 8)), digits[0] * 1e20, RESCALE)


@pytest.mark.parametrize("name", CLUSTERERS)
@pytest.mark.parametrize("scale", [1e-10, 1e15])
def test_images_at_extreme_scales_fit_finitely_and_repeat(digits, name, scale):
    X = digits[0] * scale
    first = fit_unchanged(MAKERS[name](image_shape=(8, 8)), X)
    np.testing.assert_array_equal(first, fit_unchanged(MAKERS[name](image_shape=(8, 8)), X))


# --- n_clusters="auto" and its bound -------------------------------------------------


@pytest.mark.parametrize("name", CLUSTERERS)
@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"n_clusters": True}, "n_clusters"),
        ({"n_clusters": np.bool_(True)}, "n_clusters"),
        ({"n_clusters": False}, "n_clusters"),
        ({"n_clusters": "auto", "max_clusters": True}, "max_clusters"),
    ],
    ids=["True", "np.True_", "False", "max_clusters=True"],
)
def test_bools_are_not_counts(name, params, parameter):
    with pytest.raises(ValueError, match=f"'{parameter}' parameter .* must be an int"):
        MAKERS[name](**params).fit(blobs()[0])


@pytest.mark.parametrize("name", CLUSTERERS)
def test_auto_on_values_beyond_float32_is_refused(name):
    assert_refused(MAKERS[name](n_clusters="auto"), blobs()[0] * 1e300, RESCALE)


@pytest.mark.parametrize("name", CLUSTERERS)
def test_auto_on_tiny_values_counts_as_on_the_originals(name):
    X = blobs(n=60)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a weak estimate on 60 rows may warn, alike
        original = MAKERS[name](n_clusters="auto").fit(X)
        tiny = MAKERS[name](n_clusters="auto").fit(X * 1e-13)
    assert tiny.n_clusters_ == original.n_clusters_
    assert np.all(np.isfinite(tiny.predict_proba(X * 1e-13)))


# --- supervised=True ------------------------------------------------------------------


def _named_labels(values):
    y = np.full(40, -1, dtype=object)
    y[:4] = values
    return y


EXTRA_NAME_CASES = {
    "a class named like an extra cluster": (
        _named_labels(["cluster_2", "cluster_2", "a", "a"]),
        5,
    ),
    "extreme int64 labels": (
        np.r_[[np.iinfo(np.int64).min] * 2, [np.iinfo(np.int64).max] * 2, [-1] * 36],
        4,
    ),
    "uint8 labels at 255": (np.r_[[0, 0, 255, 255], [0] * 36].astype(np.uint8), 4),
}


@pytest.mark.parametrize("name", CLUSTERERS)
@pytest.mark.parametrize("case", EXTRA_NAME_CASES)
def test_extra_clusters_never_repeat_a_class_name(name, case):
    y, n_clusters = EXTRA_NAME_CASES[case]
    estimator = MAKERS[name](n_clusters=n_clusters, supervised=True)
    fit_unchanged(estimator, blobs()[0], y)
    classes = estimator.classes_
    assert len(set(classes.tolist())) == n_clusters == len(classes)
    if y.dtype.kind in "iu":
        assert classes.dtype == y.dtype
    assert set(estimator.predict(blobs()[0]).tolist()) <= set(classes.tolist())


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("value", [1e19, -9.3e18, 2.0**63])
def test_whole_float_labels_beyond_int64_are_refused(name, value):
    y = np.r_[[value, value, 0.0, 0.0], [-1.0] * 36]
    with pytest.raises(ValueError, match="whole numbers in the int64 range"):
        MAKERS[name](supervised=True).fit(blobs()[0], y)


# --- skssl.dask ---------------------------------------------------------------------

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
skssl_dask = pytest.importorskip("skssl.dask")
BLOCK = 8192  # skssl._core.FORWARD_CHUNK


@pytest.fixture(scope="module")
def fitted():
    X = load_digits().data
    columns = [f"p{i}" for i in range(64)]
    frame = pd.DataFrame(X, columns=columns)
    return {
        "array": SCANClusterer(10, max_iter=2, random_state=0).fit(X),
        "frame": SCANClusterer(10, max_iter=2, random_state=0).fit(frame),
        "big": np.resize(X, (BLOCK + 900, 64)),
        "columns": columns,
    }


METHODS = ["predict", "predict_proba", "transform"]


@pytest.mark.parametrize("method", METHODS)
def test_dask_unknown_chunk_sizes_are_counted(fitted, method):
    big = fitted["big"]
    X = da.from_array(big, chunks=3000)
    kept = big[:, 20] > 4
    filtered = X[X[:, 20] > 4]
    assert np.isnan(filtered.shape[0])
    result = getattr(skssl_dask, method)(fitted["array"], filtered).compute()
    np.testing.assert_array_equal(result, getattr(fitted["array"], method)(big[kept]))


@pytest.mark.parametrize("method", METHODS)
def test_dask_zero_row_chunks_give_zero_rows(fitted, method):
    big = fitted["big"]
    X = da.from_array(big, chunks=((BLOCK, 0, 900), (64,)))
    result = getattr(skssl_dask, method)(fitted["array"], X).compute()
    np.testing.assert_array_equal(result, getattr(fitted["array"], method)(big))


@pytest.mark.parametrize("method", METHODS)
def test_dask_results_equal_in_memory_whatever_the_layout(fitted, method):
    big = fitted["big"]
    fortran = np.asfortranarray(big)
    result = getattr(skssl_dask, method)(fitted["array"], da.from_array(fortran, chunks=BLOCK))
    # Fortran order in memory too: each chunk is copied to C order before the network.
    np.testing.assert_array_equal(result.compute(), getattr(fitted["array"], method)(fortran))
    np.testing.assert_array_equal(result.compute(), getattr(fitted["array"], method)(big))


def test_dask_dataframe_partitions_equal_in_memory_bit_for_bit(fitted):
    frame = pd.DataFrame(fitted["big"], columns=fitted["columns"])
    result = skssl_dask.predict_proba(fitted["frame"], dd.from_pandas(frame, npartitions=7))
    np.testing.assert_array_equal(result.compute(), fitted["frame"].predict_proba(frame))


NON_NUMERIC = {
    "string column": lambda n: np.where(np.arange(n) % 2, "a", "b").astype(object),
    "categorical column": lambda n: pd.Categorical(np.where(np.arange(n) % 2, "a", "b")),
    "string dtype column": lambda n: pd.array(np.where(np.arange(n) % 2, "a", "b"), "string"),
}


@pytest.mark.parametrize("case", NON_NUMERIC)
def test_dask_dataframe_with_text_gets_the_in_memory_error(fitted, case):
    frame = pd.DataFrame(fitted["big"][:500], columns=fitted["columns"])
    frame["p5"] = NON_NUMERIC[case](len(frame))
    with pytest.raises(ValueError, match="could not convert string to float") as in_memory:
        fitted["frame"].predict(frame)
    with pytest.raises(ValueError, match="could not convert string to float") as on_dask:
        skssl_dask.predict(fitted["frame"], dd.from_pandas(frame, npartitions=3))
    assert str(on_dask.value) == str(in_memory.value)


@pytest.mark.parametrize(
    "X, message",
    [
        (lambda: da.zeros(10, chunks=5), "2-d array"),
        (lambda: da.zeros((10, 63), chunks=5), "63 features"),
        (lambda: da.from_array(np.array([["a"] * 64] * 3)), "could not convert string"),
    ],
    ids=["1-d", "a column short", "strings"],
)
def test_dask_bad_layouts_fail_up_front(fitted, X, message):
    with pytest.raises(ValueError, match=message):
        skssl_dask.predict(fitted["array"], X())


def test_dask_nan_in_an_unknown_chunk_is_named_by_block(fitted):
    big = fitted["big"].copy()
    big[BLOCK + 5, 2] = np.nan
    X = da.from_array(big, chunks=BLOCK)
    result = skssl_dask.predict(fitted["array"], X[X[:, 0] >= 0])
    with pytest.raises(ValueError, match=r"block 1 \(rows 8192-.*\): Input X contains NaN"):
        result.compute()


# --- model files ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    X, y = blobs(n=60, d=4)
    labelled = np.where(np.arange(60) % 3 == 0, y, -1)
    return {
        "SCANClusterer": SCANClusterer(3, n_neighbors=3, supervised=True, **SMALL).fit(X, labelled),
        "SelfSupervisedClassifier": SelfSupervisedClassifier(
            3, objective="iic", n_init=2, n_overclusters=6, **SMALL
        ).fit(X),
        "SNNLTransformer": SNNLTransformer(n_components=2, n_neighbors=3, **SMALL).fit(X),
        "image": SCANClusterer(
            3, n_neighbors=3, image_shape=(16, 16), hidden_layer_sizes=(), **SMALL
        ).fit(np.kron(load_digits().data[:40].reshape(-1, 8, 8), np.ones((2, 2))).reshape(40, -1)),
        "X": X,
    }


def _architecture(state):
    return state["module_"]["architecture"]


def _weights(state):
    return state["module_"]["state_dict"]


def _set(path, value):
    """A tampering: set ``state[path[0]][path[1]]...`` to ``value``."""

    def tamper(state):
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return tamper


ARCH = ("module_", "architecture")
WEIGHTS = ("module_", "state_dict")
TAMPERED = {
    "NaN weights": ("SCANClusterer", lambda s: _weights(s)["heads.weight"].fill(np.nan), "NaN"),
    "an infinite bias": (
        "SCANClusterer",
        lambda s: _weights(s)["heads.bias"].__setitem__((0, 0), np.inf),
        "'heads.bias' hold NaN or infinite",
    ),
    "a zero feature scale": (
        "SCANClusterer",
        lambda s: _weights(s)["standardize.scale"].__setitem__(0, 0.0),
        "feature scales",
    ),
    "integer weights": (
        "SCANClusterer",
        lambda s: _weights(s).__setitem__("heads.weight", np.zeros((1, 3, 128), dtype=np.int64)),
        "must be a float array",
    ),
    "a NaN temperature": (
        "SelfSupervisedClassifier",
        _set((*ARCH, "heads", "temperature"), float("nan")),
        "heads.temperature",
    ),
    "a string temperature": (
        "SelfSupervisedClassifier",
        _set((*ARCH, "heads", "temperature"), "0.1"),
        "heads.temperature",
    ),
    "a negative temperature": (
        "SelfSupervisedClassifier",
        _set((*ARCH, "heads", "temperature"), -0.1),
        "heads.temperature",
    ),
    "a bool temperature": (
        "SelfSupervisedClassifier",
        _set((*ARCH, "heads", "temperature"), True),
        "heads.temperature",
    ),
    "n_features_in_ that disagrees": (
        "SCANClusterer",
        _set(("n_features_in_",), 5),
        "n_features_in_=5 disagrees",
    ),
    "n_features_in_ as a string": (
        "SCANClusterer",
        _set(("n_features_in_",), "4"),
        "n_features_in_ must be a positive int",
    ),
    "n_clusters_ that disagrees": ("SCANClusterer", _set(("n_clusters_",), 4), "n_clusters_=4"),
    "classes_ with a repeated name": (
        "SCANClusterer",
        _set(("classes_",), np.array([0, 1, 1])),
        "classes_ must be an array of 3 distinct",
    ),
    "classes_ too short": (
        "SCANClusterer",
        _set(("classes_",), np.array([0, 1])),
        "classes_ must be an array of 3",
    ),
    "a head width unlike the encoder's": (
        "SCANClusterer",
        _set((*ARCH, "heads", "n_in"), 64),
        "heads.n_in",
    ),
    "a hidden layer of width 0": (
        "SCANClusterer",
        _set((*ARCH, "hidden_layer_sizes"), [0]),
        "hidden_layer_sizes",
    ),
    "a hidden width as a float": (
        "SCANClusterer",
        _set((*ARCH, "hidden_layer_sizes"), [128.0]),
        "hidden_layer_sizes",
    ),
    "n_features as a bool": ("SCANClusterer", _set((*ARCH, "n_features"), True), "n_features"),
    "two heads in a fitted model": (
        "SCANClusterer",
        lambda s: (
            _architecture(s)["heads"].__setitem__("n_heads", 2),
            _weights(s).__setitem__("heads.weight", np.zeros((2, 3, 128))),
            _weights(s).__setitem__("heads.bias", np.zeros((2, 3))),
        ),
        "one head a fit keeps",
    ),
    "an over-clustering head in a fitted model": (
        "SelfSupervisedClassifier",
        lambda s: (
            _architecture(s).__setitem__(
                "overclustering", {"n_in": 64, "n_out": 6, "n_heads": 1, "temperature": 0.1}
            ),
            _weights(s).__setitem__("overclustering.weight", np.zeros((1, 6, 64))),
        ),
        "no over-clustering",
    ),
    "SNNL codes of another width": (
        "SNNLTransformer",
        _set(("_n_features_out",), 3),
        "_n_features_out=3 disagrees",
    ),
    "SNNL unit_code as a string": (
        "SNNLTransformer",
        _set((*ARCH, "unit_code"), "yes"),
        "unit_code",
    ),
    "SNNL sizes of one layer": ("SNNLTransformer", _set((*ARCH, "sizes"), [4]), "sizes"),
    "stages no fit builds for the image": (
        "image",
        _set((*ARCH, "convolutions", "channels"), [8, 16, 32]),
        "convolutions.channels",
    ),
    "no convolution stage": (
        "image",
        _set((*ARCH, "convolutions", "channels"), []),
        "convolutions.channels",
    ),
    "an image of two sides": (
        "image",
        _set((*ARCH, "convolutions", "image_shape"), [16, 16]),
        "convolutions.image_shape",
    ),
}


@pytest.mark.parametrize("case", TAMPERED)
def test_a_tampered_record_fails_at_load_naming_the_field(models, case):
    name, tamper, message = TAMPERED[case]
    model = models[name]
    state = copy.deepcopy(model.__getstate__())
    tamper(state)
    blank = type(model).__new__(type(model))
    with pytest.raises(ValueError, match=message):
        blank.__setstate__(state)
    assert blank.__dict__ == {}, "a failed load left attributes behind"


@pytest.mark.parametrize(
    "case", ["NaN weights", "a string temperature", "n_clusters_ that disagrees"]
)
def test_a_tampered_skops_file_fails_at_load(models, case, monkeypatch):
    sio = pytest.importorskip("skops.io")
    name, tamper, message = TAMPERED[case]
    model = models[name]
    state = copy.deepcopy(model.__getstate__())
    tamper(state)
    with monkeypatch.context() as patch:
        patch.setattr(type(model), "__getstate__", lambda self: state)
        data = sio.dumps(model)
    assert sio.get_untrusted_types(data=data) == [f"skssl._{_module(name)}.{type(model).__name__}"]
    with pytest.raises(ValueError, match=message):
        sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def _module(name):
    return {"SCANClusterer": "scan", "SelfSupervisedClassifier": "classifier"}.get(name, "snnl")


@pytest.mark.parametrize("name", ["SCANClusterer", "SelfSupervisedClassifier", "image"])
def test_untampered_files_still_round_trip(models, name):
    model = models[name]
    restored = pickle.loads(pickle.dumps(model))
    X = models["X"] if name != "image" else np.zeros((2, 256))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))


# --- the command line ---------------------------------------------------------------


@pytest.fixture
def csv(tmp_path):
    def write(X, name="data.csv"):
        path = tmp_path / name
        header = ",".join(f"f{i}" for i in range(X.shape[1]))
        np.savetxt(path, X, delimiter=",", header=header, comments="")
        return str(path)

    return write


CLI_ERRORS = {
    "one data row": (lambda X: X[:1], [], "at least two data rows, has 1"),
    "values at 1e300": (lambda X: X * 1e300, [], "too large for skssl.*Rescale X"),
    "values at 1e-300": (lambda X: X * 1e-300, [], "too small for skssl"),
    "--output into a missing folder": (
        lambda X: X,
        ["--output", "{tmp}/missing/labels.csv"],
        "the folder .*missing does not exist",
    ),
    "--output onto a folder": (lambda X: X, ["--output", "{tmp}"], "is a folder"),
    "--plot into a missing folder": (
        lambda X: X,
        ["--plot", "{tmp}/missing/plot.png"],
        "the folder .*missing does not exist",
    ),
    "--plot in an unknown format": (
        lambda X: X,
        ["--plot", "{tmp}/plot.unknown"],
        "unknown image format 'unknown'",
    ),
    "--random-state too large": (lambda X: X, ["--random-state", str(2**40)], "random_state"),
    "--image-shape beyond int64": (
        lambda X: X,
        ["--image-shape", f"{2**61 + 1}x4"],
        "--image-shape: image_shape=.*values per image",
    ),
}


@pytest.mark.parametrize("case", CLI_ERRORS)
def test_cli_user_errors_are_one_line_and_status_2_before_the_fit(csv, tmp_path, capsys, case):
    transform, options, message = CLI_ERRORS[case]
    path = csv(transform(blobs(n=30)[0]))
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    status = cli(["cluster", path, "--n-clusters", "2", *options])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == "", "nothing is written before the error"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skssl: error: "), captured.err
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    "argv",
    [["cluster"], ["cluster", "x.csv", "--n-clusters", "two"], ["frobnicate"]],
    ids=["no file", "a count that is not one", "an unknown command"],
)
def test_cli_argument_errors_are_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        cli(argv)
    assert exit.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"skssl( cluster)?: error: ", lines[0])


# --- the smaller ones -----------------------------------------------------------------


@pytest.mark.parametrize(
    "y_true, y_pred, expected",
    [
        ([-1, -1, -1, 0, 0, 1, 1], [2, 2, 2, 0, 0, 1, 1], 1.0),
        ([-1, -1, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0], 0.75),
        (np.array([-1, "a", "a", "b"], dtype=object), [0, 1, 1, 0], 1.0),
        (["-1", "-1", "a"], [0, 0, 1], 1.0),  # the string "-1" is a class
    ],
    ids=["README's case", "a mistake among labelled rows", "object labels", "string -1"],
)
def test_hungarian_accuracy_leaves_unlabelled_rows_out(y_true, y_pred, expected):
    assert skssl.metrics.hungarian_accuracy_score(y_true, y_pred) == expected


def test_hungarian_scorer_on_partly_labelled_y_scores_the_labelled_rows():
    X, y = blobs(n=60)
    partial = np.where(np.arange(60) % 4 == 0, y, -1)
    model = SCANClusterer(3, n_neighbors=3, **SMALL).fit(X)
    labelled = partial >= 0
    expected = skssl.metrics.hungarian_accuracy_score(y[labelled], model.predict(X)[labelled])
    assert skssl.metrics.hungarian_scorer(model, X, partial) == expected
    with pytest.raises(ValueError, match="no labelled row"):
        skssl.metrics.hungarian_accuracy_score([-1, -1], [0, 1])


def test_the_label_free_score_seeds_its_approximate_search(monkeypatch):
    import skssl._graph.mining

    seeds = []
    real = skssl._graph.mining.mine_neighbors

    def spy(X, n_neighbors, **kwargs):
        seeds.append(kwargs.get("random_state"))
        return real(X, n_neighbors, **kwargs)

    monkeypatch.setattr(skssl._graph.mining, "mine_neighbors", spy)
    X, y = blobs(n=30)
    scores = {skssl.metrics.neighbor_consistency_score(X, y) for _ in range(2)}
    assert len(scores) == 1 and seeds == [0, 0]


@pytest.mark.parametrize("name", MAKERS)
def test_predicting_a_dataframe_prints_no_torch_warning(name):
    X = pd.DataFrame(blobs()[0], columns=list("abcd"))
    estimator = MAKERS[name]().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output_of(estimator, X)
        if hasattr(estimator, "transform"):
            estimator.transform(X)


@pytest.mark.parametrize("name", MAKERS)
def test_transform_keeps_float32(name):
    X = blobs()[0].astype(np.float32)
    estimator = MAKERS[name]().fit(X)
    assert estimator.transform(X).dtype == np.float32
    assert estimator.transform(X.astype(np.float64)).dtype == np.float64
