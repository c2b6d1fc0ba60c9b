"""The shared training core: Ctrl-C handling, epoch and batch rules, devices."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

import skssl.objectives
from skssl import SelfSupervisedClassifier
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
            module, batch_loss, 64, batch_size=16, max_epochs=10, learning_rate=0.1,
            generator=torch.Generator().manual_seed(0), device=torch.device("cpu"),
        )
    assert interrupted and len(history) == 2  # two full epochs of four steps each


def test_ctrl_c_during_fit_leaves_a_usable_estimator(monkeypatch):
    X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    real_loss = skssl.objectives.minmax_loss
    calls = {"n": 0}

    def interrupted_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 30:  # inside the second initialisation
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(skssl.objectives, "minmax_loss", interrupted_loss)
    model = SelfSupervisedClassifier(n_clusters=3, n_init=3, max_epochs=20, random_state=0)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert len(model.init_losses_) == 2, "the finished and the interrupted initialisation"
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba)) and proba.shape == (200, 3)
