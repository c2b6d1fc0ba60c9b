"""The one Torch training loop shared by every estimator, with seeding and devices.

Every estimator builds a network and a ``batch_loss`` closure, then calls
:func:`train_module`. Keeping the loop here means progress bars, history,
learning-rate schedule and Ctrl-C handling behave the same everywhere.
"""

import contextlib
import copy
import math
import time
import warnings
from collections import defaultdict

import numpy as np
import torch
from tqdm.auto import tqdm

#: Above this many rows ``max_epochs="auto"`` starts to shrink the number of passes.
AUTO_EPOCH_BUDGET = 1_000_000


def resolve_device(device):
    """Return the ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was requested but CUDA is not available.")
    return device


def draw_seed(random_state):
    """Draw a Torch seed from a ``random_state`` already passed through ``check_random_state``."""
    return int(random_state.randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(seed, device):
    """Seed Torch's global RNG for the block and restore the caller's state after it.

    Network initialisation draws from the global RNG; forking it keeps a fit from
    disturbing the user's own Torch random stream.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def auto_max_epochs(max_epochs, n_samples):
    """Resolve ``max_epochs="auto"``: 100 passes up to 10^4 rows, then about 10^6 sample visits.

    ``min(100, max(3, ceil(1e6 / n_samples)))``: a million rows mean 3 passes, not 100.
    """
    if max_epochs != "auto":
        return max_epochs
    return int(min(100, max(3, math.ceil(AUTO_EPOCH_BUDGET / n_samples))))


def auto_batch_size(batch_size, n_samples):
    """Resolve ``batch_size="auto"``: 256 rows, growing as ``n_samples / 250`` up to 4096."""
    if batch_size != "auto":
        return batch_size
    return int(min(4096, max(256, n_samples // 250)))


def entropy_of_counts(counts):
    """Shannon entropy (nats) of the distribution given by non-negative ``counts``."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def train_module(
    module,
    batch_loss,
    n_samples,
    *,
    batch_size,
    max_epochs,
    learning_rate,
    generator,
    device,
    parameters=None,
    weight_decay=0.0,
    n_clusters=None,
    verbose=0,
    description="fit",
    end_epoch=None,
):
    """Train ``module`` with Adam and a cosine learning-rate decay.

    Parameters
    ----------
    module : torch.nn.Module
        The network, already on ``device``; it is left in train mode.
    batch_loss : callable
        ``batch_loss(index) -> (loss, terms, assignments)`` for a LongTensor ``index``
        of row numbers. ``terms`` is a dict of scalar tensors recorded in the history;
        ``assignments`` is a LongTensor of cluster labels (or None) used for the
        entropy of the cluster sizes; a ``loss`` of None skips the step.
    n_samples : int
        Rows to shuffle and split into batches each epoch.
    batch_size, max_epochs : int
        Rows per step and passes over the rows.
    learning_rate, weight_decay : float
        Adam's settings; the learning rate decays to 0 along a half cosine.
    generator : torch.Generator
        CPU generator that draws the shuffles.
    device : torch.device
    parameters : iterable of tensors, default=None
        What to optimise; all of ``module``'s parameters when None.
    n_clusters : int, default=None
        When given, each epoch records ``cluster_size_entropy``.
    verbose : int
        Show a tqdm progress bar when positive.
    description : str
        Label of the progress bar and of the history records.
    end_epoch : callable, default=None
        ``end_epoch(history) -> bool`` is called after each epoch, once its record is
        in ``history`` (it may add fields to it); returning True stops training.

    Returns
    -------
    history : list of dict
        One record per epoch: ``stage``, ``epoch``, ``seconds``, ``loss``, every
        term and, with ``n_clusters``, ``cluster_size_entropy``.
    interrupted : bool
        True when Ctrl-C stopped the loop; the module keeps the state reached.
    """
    params = list(module.parameters() if parameters is None else parameters)
    optimizer = torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
    n_batches = max(1, math.ceil(n_samples / batch_size))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs * n_batches)
    history = []
    module.train()
    progress = tqdm(range(max_epochs), desc=description, disable=not verbose, leave=False)
    try:
        for epoch in progress:
            started = time.perf_counter()
            order = torch.randperm(n_samples, generator=generator).to(device)
            sums = defaultdict(float)
            counts = np.zeros(n_clusters or 1, dtype=np.int64)
            n_steps = 0
            for start in range(0, n_samples, batch_size):
                loss, terms, assignments = batch_loss(order[start : start + batch_size])
                if loss is None:
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                n_steps += 1
                sums["loss"] += loss.item()
                for name, value in terms.items():
                    sums[name] += float(value)
                if n_clusters is not None and assignments is not None:
                    counts += np.bincount(assignments.cpu().numpy(), minlength=n_clusters)
            record = {"stage": description, "epoch": epoch + 1}
            record["seconds"] = time.perf_counter() - started
            record.update({name: total / max(n_steps, 1) for name, total in sums.items()})
            if n_clusters is not None and counts.sum() > 0:
                record["cluster_size_entropy"] = entropy_of_counts(counts)
            history.append(record)
            if "loss" in record:
                progress.set_postfix(loss=f"{record['loss']:.4f}", refresh=False)
            if end_epoch is not None and end_epoch(history):
                break
    except KeyboardInterrupt:
        warnings.warn(
            f"Training ({description}) was interrupted; the estimator keeps the state "
            "reached so far.",
            RuntimeWarning,
            stacklevel=3,
        )
        return history, True
    finally:
        progress.close()
    return history, False


@torch.no_grad()
def predict_in_batches(module, X, batch_size, device, method="forward"):
    """Run ``module`` (float64, eval mode) over the NumPy array ``X`` in batches.

    The module is used as is when ``device`` is the CPU, else a copy is moved there,
    so prediction never changes fitted state.
    """
    if device.type != "cpu":
        module = copy.deepcopy(module).to(device)
    module.eval()
    function = getattr(module, method)
    outputs = []
    for start in range(0, X.shape[0], batch_size):
        batch = torch.tensor(X[start : start + batch_size], dtype=torch.float64, device=device)
        outputs.append(function(batch).cpu().numpy())
    return np.concatenate(outputs, axis=0)


@torch.no_grad()
def evaluate_loss(module, batch_loss, n_samples, batch_size, device):
    """Mean of ``batch_loss`` over every row once, in eval mode and without gradients.

    Restarts and heads are compared by this figure: the running loss of the last
    epoch mixes states along the way and is noisier.
    """
    module.eval()
    total, count = 0.0, 0
    for start in range(0, n_samples, batch_size):
        index = torch.arange(start, min(start + batch_size, n_samples), device=device)
        loss, _, _ = batch_loss(index)
        if loss is not None:
            total += loss.item() * index.shape[0]
            count += index.shape[0]
    module.train()
    return total / max(count, 1)
