"""Saving and loading fitted estimators: pickle, deepcopy and skops, and model files
that try to run code when loaded."""

import copy
import io
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl._networks import FORMAT_VERSION, ConvEncoder

SMALL = {"max_iter": 3, "random_state": 0, "device": "cpu"}
FACTORIES = {
    "SCANClusterer": lambda **kw: SCANClusterer(10, n_neighbors=5, **SMALL, **kw),
    # The IIC objective with an over-clustering head: cosine heads with a temperature.
    "SelfSupervisedClassifier": lambda **kw: SelfSupervisedClassifier(
        10, n_init=2, objective="iic", n_overclusters=20, **SMALL, **kw
    ),
    "SNNLTransformer": lambda **kw: SNNLTransformer(n_components=3, n_neighbors=5, **SMALL, **kw),
}
METHODS = {
    "SCANClusterer": ("predict", "predict_proba", "transform"),
    "SelfSupervisedClassifier": ("predict", "predict_proba", "transform"),
    "SNNLTransformer": ("transform",),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    return X, np.where(np.arange(300) % 5 == 0, y, -1)  # a fifth labelled


@pytest.fixture(scope="module")
def fitted(digits):
    """Every estimator fitted once without labels and once with ``supervised=True``."""
    X, y = digits
    return {
        (name, supervised): factory(supervised=supervised).fit(X, y)
        for name, factory in FACTORIES.items()
        for supervised in (False, True)
    }


def assert_same_outputs(model, restored, X):
    for method in METHODS[type(model).__name__]:
        np.testing.assert_array_equal(getattr(model, method)(X), getattr(restored, method)(X))


@pytest.mark.parametrize("supervised", [False, True])
@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize(
    "round_trip",
    [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy],
    ids=["pickle", "deepcopy"],
)
def test_pickle_and_deepcopy_are_exact(fitted, digits, name, supervised, round_trip):
    model = fitted[name, supervised]
    restored = round_trip(model)
    assert not restored.module_.training
    assert all(p.dtype == torch.float64 for p in restored.module_.state_dict().values())
    assert_same_outputs(model, restored, digits[0])


@pytest.mark.parametrize("supervised", [False, True])
@pytest.mark.parametrize("name", FACTORIES)
def test_skops_audit_lists_only_the_estimator_and_loads_exactly(fitted, digits, name, supervised):
    sio = pytest.importorskip("skops.io")
    model = fitted[name, supervised]
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [f"{type(model).__module__}.{name}"]
    restored = sio.loads(data, trusted=untrusted)
    assert_same_outputs(model, restored, digits[0])


def test_a_convolutional_image_fit_round_trips_exactly(digits):
    # The digits drawn at 16 x 16 (each pixel 2 x 2): room for the convolution stages.
    X = np.kron(digits[0].reshape(-1, 8, 8), np.ones((2, 2))).reshape(len(digits[0]), -1)
    model = SCANClusterer(10, n_neighbors=5, image_shape=(16, 16), **SMALL).fit(X)
    assert isinstance(model.module_.encoder, ConvEncoder)
    assert_same_outputs(model, pickle.loads(pickle.dumps(model)), X)
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(model)
    assert_same_outputs(model, sio.loads(data, trusted=sio.get_untrusted_types(data=data)), X)
    state = copy.deepcopy(model.__getstate__())
    state["module_"]["architecture"]["convolutions"]["image_shape"] = [8, 8, 1]
    blank = SCANClusterer.__new__(SCANClusterer)
    with pytest.raises(ValueError, match="architecture is invalid.*image_shape.*256 values"):
        blank.__setstate__(state)


def test_loading_draws_no_torch_random_numbers(fitted):
    before = torch.get_rng_state()
    pickle.loads(pickle.dumps(fitted["SCANClusterer", False]))
    assert torch.equal(torch.get_rng_state(), before)


def test_a_model_fitted_for_cuda_loads_and_predicts_on_the_cpu(fitted, digits):
    """The weights are stored as CPU arrays whatever the device of the fit.

    A fit on ``device="cuda"`` keeps that parameter: a CPU-only machine predicts after
    ``set_params(device="cpu")``. The GPU fit itself is run by the GPU check script.
    """
    model = fitted["SCANClusterer", False]
    gpu_model = copy.deepcopy(model).set_params(device="cuda")
    restored = pickle.loads(pickle.dumps(gpu_model))
    assert all(p.device.type == "cpu" for p in restored.module_.state_dict().values())
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            restored.predict(digits[0])
    restored.set_params(device="cpu")
    assert_same_outputs(model, restored, digits[0])


class _Touch:
    """Unpickles to a call that creates ``marker``: the payload of a malicious model file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _payload(marker):
    """``_Touch`` saved as older skssl saved its network, with ``torch.save``."""
    buffer = io.BytesIO()
    torch.save(_Touch(marker), buffer)
    return buffer.getvalue()


def test_the_payload_runs_when_fully_unpickled(tmp_path):
    # The control: the payload of the next test does run code under full unpickling.
    marker = tmp_path / "ran"
    torch.load(io.BytesIO(_payload(marker)), weights_only=False)
    assert marker.exists()


def _dump_poisoned(model, state, monkeypatch):
    """``model`` written with skops as if ``state`` were its own."""
    sio = pytest.importorskip("skops.io")
    with monkeypatch.context() as patch:
        patch.setattr(type(model), "__getstate__", lambda self: state)
        return sio.dumps(model)


def _refusal(data, marker):
    """The error of loading ``data`` with its audited types trusted, once it is
    checked that the payload did not run."""
    sio = pytest.importorskip("skops.io")
    try:
        sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    except ValueError as error:
        refusal = str(error)
    else:
        refusal = None
    assert not marker.exists(), "the payload ran"
    assert refusal is not None, "the poisoned file loaded"
    return refusal


@pytest.mark.parametrize("name", FACTORIES)
def test_a_pickled_callable_in_place_of_the_network_never_runs(fitted, name, tmp_path, monkeypatch):
    model = fitted[name, False]
    marker = tmp_path / "ran"
    poisoned = {**model.__getstate__(), "module_": _payload(marker)}
    assert "older skssl" in _refusal(_dump_poisoned(model, poisoned, monkeypatch), marker)


@pytest.mark.parametrize("name", FACTORIES)
def test_a_pickled_callable_in_place_of_any_weight_never_runs(fitted, name, tmp_path, monkeypatch):
    model = fitted[name, False]
    marker = tmp_path / "ran"
    state = model.__getstate__()
    for key in state["module_"]["state_dict"]:
        poisoned = copy.deepcopy(state)
        poisoned["module_"]["state_dict"][key] = _payload(marker)
        refusal = _refusal(_dump_poisoned(model, poisoned, monkeypatch), marker)
        assert f"layer {key!r} must be a float array" in refusal


def _state(fitted, name="SCANClusterer"):
    return copy.deepcopy(fitted[name, False].__getstate__())


def _load(state, name="SCANClusterer"):
    """``__setstate__`` on a blank estimator, which must stay blank if it raises."""
    cls = type(FACTORIES[name]())
    blank = cls.__new__(cls)
    try:
        blank.__setstate__(state)
    except ValueError:
        assert blank.__dict__ == {}, "a failed load left attributes behind"
        raise
    return blank


def test_a_changed_shape_names_the_layer(fitted):
    state = _state(fitted)
    weights = state["module_"]["state_dict"]
    weights["encoder.0.weight"] = weights["encoder.0.weight"][:, :-1]
    with pytest.raises(ValueError, match=r"'encoder.0.weight' have shape \(128, 63\)"):
        _load(state)


def test_a_missing_layer_is_named(fitted):
    state = _state(fitted)
    del state["module_"]["state_dict"]["heads.bias"]
    with pytest.raises(ValueError, match="no weights for layers \\['heads.bias'\\]"):
        _load(state)


def test_an_unexpected_layer_is_named(fitted):
    state = _state(fitted)
    state["module_"]["state_dict"]["encoder.9.weight"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"unknown layers \['encoder.9.weight'\]"):
        _load(state)


def test_an_architecture_that_does_not_match_the_weights_is_refused(fitted):
    state = _state(fitted, "SNNLTransformer")
    # So wide that building it for real would exhaust memory: the check comes first.
    state["module_"]["architecture"]["sizes"][1] = 10**12
    with pytest.raises(ValueError, match="'encoder.0.weight' have shape"):
        _load(state, "SNNLTransformer")
    state["module_"]["architecture"] = {"kind": "transformer"}
    with pytest.raises(ValueError, match="architecture is invalid"):
        _load(state, "SNNLTransformer")


def test_a_file_from_an_older_skssl_says_how_to_resave(fitted):
    state = _state(fitted)
    state["module_"] = b"torch.save bytes of the module"
    with pytest.raises(ValueError, match="older skssl.*Refit the estimator"):
        _load(state)


def test_another_format_version_is_refused(fitted):
    state = _state(fitted)
    state["module_"]["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}"):
        _load(state)


def test_import_skssl_does_not_import_skops():
    code = "import skssl, sys; assert 'skops' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
