"""The shared training core: Ctrl-C handling, epoch and batch rules, devices."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl._core import auto_batch_size, auto_max_epochs, resolve_device, train_module


def test_auto_epochs_shrink_with_n():
    assert auto_max_epochs("auto", 1_000) == 100
    assert auto_max_epochs("auto", 100_000) == 10
    assert auto_max_epochs("auto", 1_000_000) == 3
    assert auto_max_epochs(7, 1_000_000) == 7
    assert auto_batch_size("auto", 1_000) == 256
    assert auto_batch_size("auto", 1_000_000) == 4000


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_interrupt_keeps_state_reached_and_warns():
    module = torch.nn.Linear(2, 1)
    data = torch.randn(64, 2)
    calls = {"n": 0}

    def batch_loss(index):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return module(data[index]).pow(2).mean(), {}, None

    with pytest.warns(RuntimeWarning, match="interrupted"):
        history, interrupted = train_module(
            module,
            batch_loss,
            64,
            batch_size=16,
            max_epochs=10,
            learning_rate=0.1,
            generator=torch.Generator().manual_seed(0),
            device=torch.device("cpu"),
        )
    assert interrupted and len(history) == 2  # two full epochs of four steps each


@pytest.mark.parametrize(
    "estimator, interrupt_at",
    [
        # 200 rows make one step per epoch: step 30 falls in the second initialisation.
        (SelfSupervisedClassifier(n_clusters=3, n_init=3, max_epochs=20, random_state=0), 30),
        (SCANClusterer(n_clusters=3, max_epochs=20, self_labeling=True, random_state=0), 10),
        (SNNLTransformer(n_components=2, max_epochs=20, random_state=0), 10),
    ],
    ids=["classifier", "scan", "snnl"],
)
def test_ctrl_c_during_fit_leaves_a_usable_estimator(estimator, interrupt_at, monkeypatch):
    X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    real_step = torch.optim.Adam.step
    calls = {"n": 0}

    def interrupted_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == interrupt_at:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", interrupted_step)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        estimator.fit(X)
    assert calls["n"] == interrupt_at, "training, self-labelling included, stopped there"
    output = (
        estimator.transform(X) if hasattr(estimator, "transform") else estimator.predict_proba(X)
    )
    assert np.all(np.isfinite(output)) and output.shape[0] == 200
    if isinstance(estimator, SelfSupervisedClassifier):
        assert len(estimator.init_losses_) == 2, "the finished and the interrupted initialisation"
