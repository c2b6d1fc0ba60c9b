"""The shared training core: Ctrl-C handling, epoch and batch rules, devices."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
from skssl import _core as core
from skssl._core import Schedule, auto_batch_size, auto_max_iter, resolve_device, train_module


def test_auto_epochs_shrink_with_n():
    assert auto_max_iter("auto", 1_000) == 100
    assert auto_max_iter("auto", 7_000) == 100
    assert auto_max_iter("auto", 10_000) == 70
    assert auto_max_iter("auto", 100_000) == 7
    assert auto_max_iter("auto", 1_000_000) == 3
    assert auto_max_iter(7, 1_000_000) == 7
    assert auto_batch_size("auto", 1_000, 100) == 256
    assert auto_batch_size("auto", 10_000, 100) == 1000
    assert auto_batch_size("auto", 100_000, 10) == 1000
    assert auto_batch_size("auto", 1_000_000, 3) == 3000
    assert auto_batch_size("auto", 10**8, 3) == 4096
    assert auto_batch_size(64, 10**8, 3) == 64


@pytest.mark.parametrize("device", ["gpu", "cuda:x", 3.5])
def test_unknown_device_is_a_value_error_naming_it(device):
    with pytest.raises(ValueError, match="is not a Torch device"):
        resolve_device(device)


def test_torch_device_objects_are_accepted():
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    X, _ = make_blobs(n_samples=40, centers=2, random_state=0)
    model = SCANClusterer(n_clusters=2, max_iter=2, device=torch.device("cpu"), random_state=0)
    assert model.fit(X).labels_.shape == (40,)


def test_auto_device_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_interrupt_keeps_state_reached_and_warns():
    module = torch.nn.Linear(2, 1)
    data = torch.randn(64, 2)
    calls = {"n": 0}

    def batch_loss(index, log):
        calls["n"] += 1
        if calls["n"] == 9:
            raise KeyboardInterrupt
        return module(data[index]).pow(2).mean()

    with pytest.warns(RuntimeWarning, match="interrupted"):
        history, stop = train_module(
            module,
            batch_loss,
            64,
            Schedule(batch_size=16, max_iter=10, learning_rate=0.1),
            torch.Generator().manual_seed(0),
        )
    assert stop == "interrupted" and len(history) == 2  # two full epochs of four steps each


def test_interrupt_before_one_epoch_raises():
    module = torch.nn.Linear(2, 1)

    def batch_loss(index, log):
        raise KeyboardInterrupt

    with pytest.raises(RuntimeError, match="before one epoch"):
        train_module(module, batch_loss, 8, Schedule(4, 3, 0.1), torch.Generator())


def _quadratic_fit(tol, max_iter):
    module = torch.nn.Linear(2, 1)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))

    def batch_loss(index, log):
        log.add(cluster_counts=torch.tensor([[3, 1], [2, 2]]))
        return (module(data[index]) - 1).pow(2).mean()

    schedule = Schedule(16, max_iter, 0.1, tol=tol, n_iter_no_change=3)
    return train_module(module, batch_loss, 64, schedule, torch.Generator().manual_seed(0))


def test_tol_stops_when_the_loss_stops_improving():
    history, stop = _quadratic_fit(tol=1e-2, max_iter=500)
    assert stop == "converged" and len(history) < 500
    losses = [record["loss"] for record in history]
    assert min(losses[-3:]) > min(losses) - 1e-2, "the last 3 epochs gained less than tol"


def test_max_iter_before_tol_warns_convergence():
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        history, stop = _quadratic_fit(tol=1e-12, max_iter=2)
    assert stop == "max_iter" and len(history) == 2


def test_epoch_log_keeps_vectors_and_turns_counts_into_entropy():
    history, _ = _quadratic_fit(tol=None, max_iter=1)
    entropies = history[0]["cluster_size_entropy"]
    np.testing.assert_allclose(entropies, [-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), np.log(2)])


@pytest.mark.parametrize(
    "estimator, interrupt_at, epochs_kept",
    [
        # 200 rows make one step per epoch: step 10 falls in the tenth epoch; SCAN's
        # step 23 in the third epoch of self-labelling, after its 20 partition epochs.
        (SelfSupervisedClassifier(n_clusters=3, n_init=3, max_iter=20, random_state=0), 10, 9),
        (SCANClusterer(n_clusters=3, max_iter=20, self_labeling=True, random_state=0), 10, 9),
        (SCANClusterer(n_clusters=3, max_iter=20, self_labeling=True, random_state=0), 23, 22),
        (SNNLTransformer(n_components=2, max_iter=20, random_state=0), 10, 9),
    ],
    ids=["classifier", "scan", "scan-self-label", "snnl"],
)
def test_ctrl_c_during_fit_leaves_a_usable_estimator(
    estimator, interrupt_at, epochs_kept, monkeypatch
):
    X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    real_step = core.adam_step
    calls = {"n": 0}

    def interrupted_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == interrupt_at:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(core, "adam_step", interrupted_step)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        estimator.fit(X)
    assert calls["n"] == interrupt_at, "training, self-labelling included, stopped there"
    output = (
        estimator.transform(X) if hasattr(estimator, "transform") else estimator.predict_proba(X)
    )
    assert np.all(np.isfinite(output)) and output.shape[0] == 200
    assert estimator.n_iter_ == epochs_kept, "the finished epochs are kept"
    if isinstance(estimator, SelfSupervisedClassifier):
        assert len(estimator.init_losses_) == 3, "every head is still ranked"


def test_adam_steps_follow_torchs_adam_and_cosine_schedule():
    # The same network trained 60 steps by adam_step and by torch.optim.Adam with
    # CosineAnnealingLR; the hidden layer's weights miss a step now and then (no
    # gradient), which Adam skips without counting it.
    def network():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))

    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(1))
    target = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(2))
    ours, theirs = network(), network()
    optimizer = torch.optim.Adam(theirs.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=60)
    moments = [[torch.zeros_like(p), torch.zeros_like(p), 0] for p in ours.parameters()]
    for step in range(60):
        for model in (ours, theirs):
            for param in model.parameters():
                param.grad = None
            loss = torch.nn.functional.cross_entropy(model(x), target)
            loss.backward()
            if step % 7 == 3:
                model[0].weight.grad = None
        core.adam_step(list(ours.parameters()), moments, core.cosine_learning_rate(0.05, step, 60))
        optimizer.step()
        scheduler.step()
    for mine, torchs in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(mine, torchs, rtol=1e-5, atol=1e-6)
    assert moments[0][2] == 60 - len(range(3, 60, 7)) and moments[1][2] == 60
    assert torch.any(ours[0].weight != network()[0].weight)


def test_training_never_imports_torchs_compiler():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from sklearn.datasets import make_blobs\n"
        "from skssl import SCANClusterer\n"
        "X, _ = make_blobs(n_samples=100, random_state=0)\n"
        "SCANClusterer(3, max_iter=2, random_state=0).fit(X)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False"
