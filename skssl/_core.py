"""The one Torch training loop shared by every estimator, with seeding and devices.

Every estimator builds a network and a ``batch_loss(index, log)`` closure, then calls
:func:`train_module`. Keeping the loop here means progress bars, history, the
learning-rate schedule, stopping and Ctrl-C handling behave the same everywhere.
"""

import contextlib
import copy
import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

#: Sample visits ``max_iter="auto"`` aims at: above 7000 rows the passes shrink. From
#: 10^6, SCAN's fits at 10^4 rows took a quarter less time (blobs, 10^4 x 32) at the same
#: accuracy (70 passes against 100, 3 seeds: pen digits 0.877 against 0.874, USPS 0.785
#: against 0.768).
AUTO_EPOCH_BUDGET = 700_000

#: Largest chunk of rows pushed through a network at once outside training.
FORWARD_CHUNK = 8192

DEVICE_HELP = "use 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device"


def resolve_device(device):
    """The ``torch.device`` meant by ``device`` (``"auto"`` picks CUDA when present).

    Raises ValueError, naming the parameter, for anything Torch cannot parse or a
    device this machine lacks, so the error never surfaces from inside Torch.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a Torch device: {DEVICE_HELP}.") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(resolved.type, False):
        raise ValueError(
            f"device={device!r} is not available on this machine (no {resolved.type.upper()} "
            f"found): {DEVICE_HELP}."
        )
    return resolved


def draw_seed(random_state):
    """Draw a Torch seed from a ``random_state`` already passed through ``check_random_state``."""
    return int(random_state.randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(seed, device):
    """Seed Torch's global RNG for the block and restore the caller's state after it.

    Network initialisation draws from the global RNG; forking it keeps a fit from
    disturbing the user's own Torch random stream. Yields the CPU generator that
    every training draw comes from.
    """
    devices = [device] if device.type == "cuda" else []
    # The training generator gets a seed of its own: seeded like the global RNG, its
    # draws (shuffles, neighbours, views) would repeat the numbers that initialised
    # the network, a coupling that moved SCAN's digits accuracy by 9 points.
    training_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(training_seed)


def auto_max_iter(max_iter, n_samples):
    """Resolve ``max_iter="auto"``: 100 passes up to 7000 rows, then about 7 x 10^5 visits.

    ``min(100, max(3, ceil(7e5 / n_samples)))``: a million rows mean 3 passes, not 100.
    """
    if max_iter != "auto":
        return max_iter
    return int(min(100, max(3, math.ceil(AUTO_EPOCH_BUDGET / n_samples))))


#: Optimiser steps a fit aims at when ``batch_size="auto"``.
AUTO_STEP_BUDGET = 1000


def auto_batch_size(batch_size, n_samples, max_iter):
    """Resolve ``batch_size="auto"``: about 1000 steps in all, 256 to 4096 rows each.

    ``ceil(n_samples * max_iter / 1000)`` clipped to [256, 4096]: 256 rows up to 2,560
    samples at 100 passes, ``n_samples / 10`` (10 steps a pass) up to 7000 rows, then
    about 700 (700 at 10^4 and 10^5 with ``max_iter="auto"``). On pen digits and USPS
    (about 10^4 rows) SCAN's accuracy held (0.875 against 0.876, and 0.787 against
    0.790, 3 seeds) while its fit took half the time of 256-row batches.
    """
    if batch_size != "auto":
        return batch_size
    return int(min(4096, max(256, math.ceil(n_samples * max_iter / AUTO_STEP_BUDGET))))


@dataclass(frozen=True)
class Schedule:
    """How one network is optimised: rows per step, passes, Adam's step size and stopping.

    ``tol`` and ``n_iter_no_change`` follow :class:`~sklearn.neural_network.MLPClassifier`:
    training stops when the epoch's mean loss has not fallen below the best so far by
    at least ``tol`` for ``n_iter_no_change`` epochs in a row; ``tol=None`` never stops
    early.
    """

    batch_size: int
    max_iter: int
    learning_rate: float
    tol: float | None = None
    n_iter_no_change: int = 10


class EpochLog:
    """What one epoch's steps report, summed on the device and read once at its end.

    ``batch_loss(index, log)`` calls :meth:`add` with detached tensors of any shape;
    reading them once per epoch avoids a device-to-host sync per step.

    Attributes
    ----------
    epoch : int
        The epoch being run, counted from 0.
    n_steps : int
        Optimiser steps taken so far in the epoch.
    """

    def __init__(self, epoch):
        self.epoch = epoch
        self.n_steps = 0
        self._sums = {}

    def add(self, **values):
        for name, value in values.items():
            value = value.detach().double()
            self._sums[name] = value if name not in self._sums else self._sums[name] + value

    def means(self):
        """Every statistic averaged over the epoch's steps: floats, or arrays for vectors."""
        if not self._sums:
            return {}
        flat = torch.cat([value.reshape(-1) for value in self._sums.values()]).cpu().numpy()
        flat /= max(self.n_steps, 1)
        means, start = {}, 0
        for name, value in self._sums.items():
            part = flat[start : start + value.numel()].reshape(value.shape)
            means[name] = float(part) if value.dim() == 0 else part
            start += value.numel()
        return means


def count_entropy(counts):
    """Entropy (natural log) of the shares that ``counts`` give, along the last axis.

    As :func:`scipy.stats.entropy` of the counts, without its argument handling, which
    took a fifth of a 178-row fit when called every epoch.
    """
    shares = counts / np.maximum(counts.sum(axis=-1, keepdims=True), 1e-300)
    return -np.sum(shares * np.log(np.where(shares > 0, shares, 1.0)), axis=-1)


#: Adam's decay rates of the gradient's first and second moments, and the guard added
#: to the denominator (Kingma and Ba, 2015; Torch's and MLPClassifier's defaults).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPSILON = 1e-8


@torch.no_grad()
def adam_step(params, moments, learning_rate, betas=ADAM_BETAS, epsilon=ADAM_EPSILON):
    """One Adam step (Kingma and Ba, 2015, Algorithm 1) on each parameter with a gradient.

    With ``t`` the parameter's own step count, ``g`` its gradient::

        m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g^2
        p <- p - lr (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)

    ``moments`` holds ``[m, v, t]`` per parameter (zeros and 0 to start) and is updated
    in place, as are the parameters; one without a gradient is skipped, its ``t`` kept.

    Not ``torch.optim.Adam``: every Torch optimiser imports Torch's compiler on first use
    (``torch._dynamo``, with sympy), 1.1 to 1.5 s of each new process, a fifth of a
    first fit on USPS, for the same steps.
    """
    beta_1, beta_2 = betas
    for param, moment in zip(params, moments):
        if param.grad is None:
            continue
        first, second, steps = moment
        steps += 1
        moment[2] = steps
        first.lerp_(param.grad, 1 - beta_1)
        second.mul_(beta_2).addcmul_(param.grad, param.grad, value=1 - beta_2)
        denominator = (second.sqrt() / math.sqrt(1 - beta_2**steps)).add_(epsilon)
        param.addcdiv_(first, denominator, value=-learning_rate / (1 - beta_1**steps))


def cosine_learning_rate(learning_rate, step, n_steps):
    """The learning rate at ``step`` of ``n_steps``, falling from ``learning_rate`` to 0 on a
    half cosine (SGDR without restarts, Loshchilov and Hutter, 2017)."""
    return learning_rate * (1 + math.cos(math.pi * step / n_steps)) / 2


def train_module(
    module,
    batch_loss,
    n_samples,
    schedule,
    generator,
    *,
    parameters=None,
    verbose=0,
    description="fit",
    on_epoch_end=None,
):
    """Train ``module`` with Adam and a cosine learning-rate decay.

    Parameters
    ----------
    module : torch.nn.Module
        The network, already on its device; it is left in train mode.
    batch_loss : callable
        ``batch_loss(index, log) -> loss`` for a LongTensor ``index`` of row numbers on
        the module's device; it may record statistics with ``log.add`` (an
        :class:`EpochLog`). A statistic named ``cluster_counts`` (cluster sizes, one
        row per head) is recorded as ``cluster_size_entropy``, the entropy of the
        epoch's cluster sizes. A loss of None skips the step.
    n_samples : int
        Rows to shuffle and split into batches each epoch.
    schedule : Schedule
    generator : torch.Generator
        CPU generator that draws the shuffles.
    parameters : iterable of tensors, default=None
        What to optimise; all of ``module``'s parameters when None.
    verbose : int
        Show a tqdm progress bar when positive.
    description : str
        Label of the progress bar and of the history records.
    on_epoch_end : callable, default=None
        ``on_epoch_end(record) -> bool`` after each epoch, with that epoch's record
        (which it may edit); returning True stops training.

    Returns
    -------
    history : list of dict
        One record per epoch: ``stage``, ``epoch``, ``seconds``, ``loss`` and what the
        steps logged, averaged over them.
    stop : {"max_iter", "converged", "callback", "interrupted"}
        Why training ended. With ``schedule.tol`` set, ``"max_iter"`` warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`; ``"interrupted"`` (Ctrl-C)
        warns and keeps the state reached, and raises when no epoch finished.
    """
    device = next(module.parameters()).device
    params = list(module.parameters() if parameters is None else parameters)
    moments = [[torch.zeros_like(p), torch.zeros_like(p), 0] for p in params]
    n_steps = schedule.max_iter * max(1, math.ceil(n_samples / schedule.batch_size))
    step = 0
    history, stop = [], "max_iter"
    best_loss, epochs_without_progress = math.inf, 0
    module.train()
    progress = tqdm(range(schedule.max_iter), desc=description, disable=not verbose, leave=False)
    try:
        for epoch in progress:
            started = time.perf_counter()
            order = torch.randperm(n_samples, generator=generator).to(device)
            log = EpochLog(epoch)
            for start in range(0, n_samples, schedule.batch_size):
                loss = batch_loss(order[start : start + schedule.batch_size], log)
                if loss is None:
                    continue
                for param in params:
                    param.grad = None
                loss.backward()
                adam_step(
                    params, moments, cosine_learning_rate(schedule.learning_rate, step, n_steps)
                )
                step += 1
                log.add(loss=loss)
                log.n_steps += 1
            record = {"stage": description, "epoch": epoch + 1, **log.means()}
            counts = record.pop("cluster_counts", None)
            if counts is not None:  # one figure per head, from its summed cluster sizes
                entropies = count_entropy(counts)
                record["cluster_size_entropy"] = entropies if counts.ndim > 1 else float(entropies)
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            _check_finite_loss(record, description)
            if "loss" in record:
                progress.set_postfix(loss=f"{record['loss']:.4f}", refresh=False)
            if on_epoch_end is not None and on_epoch_end(record):
                stop = "callback"
                break
            if schedule.tol is not None and "loss" in record:
                if record["loss"] > best_loss - schedule.tol:
                    epochs_without_progress += 1
                else:
                    epochs_without_progress = 0
                best_loss = min(best_loss, record["loss"])
                if epochs_without_progress >= schedule.n_iter_no_change:
                    stop = "converged"
                    break
    except KeyboardInterrupt:
        stop = "interrupted"
    finally:
        progress.close()
    # A last step can turn the weights non-finite while its epoch's loss was finite.
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise ValueError(
            f"Training ({description}) diverged: the weights became non-finite. {_DIVERGED}"
        )
    if stop == "interrupted":
        if not history:
            raise RuntimeError(f"fit was interrupted ({description}) before one epoch finished.")
        warnings.warn(
            f"Training ({description}) was interrupted; the estimator keeps the state "
            "reached so far.",
            RuntimeWarning,
            stacklevel=3,
        )
    elif stop == "max_iter" and schedule.tol is not None:
        warnings.warn(
            f"Training ({description}) reached max_iter={schedule.max_iter} epochs before "
            f"the loss stopped improving by tol={schedule.tol}; raise max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return history, stop


_DIVERGED = (
    "Rescale X (for instance with sklearn.preprocessing.StandardScaler) or lower "
    "learning_rate_init."
)


def _check_finite_loss(record, description):
    """Stop a fit whose epoch loss is NaN or infinite: its network would predict NaN.

    Read from the epoch's record, which is already on the host: checking each step
    would cost a device sync per step.
    """
    loss = record.get("loss")
    if loss is not None and not np.all(np.isfinite(loss)):
        raise ValueError(
            f"Training ({description}) diverged: the loss became {loss} at epoch "
            f"{record['epoch']}. {_DIVERGED}"
        )


@torch.no_grad()
def forward_in_chunks(function, data, chunk_size=FORWARD_CHUNK):
    """``function`` applied to ``data`` chunk by chunk along the first axis, concatenated."""
    return torch.cat(
        [
            function(data[start : start + chunk_size])
            for start in range(0, data.shape[0], chunk_size)
        ]
    )


def predict_in_batches(module, X, device, method="forward"):
    """Run ``module`` (float64, eval mode) over the NumPy array ``X``; a NumPy result.

    The module is used as is when ``device`` is the CPU, else a copy is moved there,
    so prediction never changes fitted state. Each chunk is copied into a C-ordered
    float64 array first: Torch warns on a read-only array (a pandas DataFrame's
    values), and the memory layout of the input (Fortran order, a DataFrame's
    columns) would otherwise pick other matrix kernels and change the last bits.

    Raises
    ------
    ValueError
        When the output is not finite: rows of ``X`` far outside
        the range the network was fitted on overflow it.
    """
    if device.type != "cpu":
        module = copy.deepcopy(module).to(device)
    module.eval()

    def run(chunk):
        chunk = torch.from_numpy(np.array(chunk, dtype=np.float64, order="C"))
        return getattr(module, method)(chunk.to(device)).cpu()

    result = forward_in_chunks(run, X).numpy()
    if not np.isfinite(result).all():
        raise ValueError(
            "The network's output is not finite for some rows of X: their values are "
            "far outside the range the estimator was fitted on."
        )
    return result


@torch.no_grad()
def evaluate(module, batch_loss, n_samples, batch_size, generator):
    """What ``batch_loss`` logs over one shuffled pass of every row, in eval mode.

    Heads are compared by these figures: the running loss of the last epoch mixes
    states along the way. ``generator`` must be of its own, seeded the same for
    everything compared, so the figures are deterministic, every head sees the same
    batches, and the training stream is not shifted. Returns :meth:`EpochLog.means`,
    each batch weighted by its rows: a plain mean over batches let a last batch of 5
    rows (digits) weigh as much as a full one and changed the kept head on 4 of 9
    digits fits (3 objectives, 3 seeds).
    """
    device = next(module.parameters()).device
    module.eval()
    order = torch.randperm(n_samples, generator=generator).to(device)
    log = EpochLog(0)
    for start in range(0, n_samples, batch_size):
        index = order[start : start + batch_size]
        if batch_loss(index, _Weighted(log, index.shape[0])) is not None:
            log.n_steps += index.shape[0]
    module.train()
    return log.means()


class _Weighted:
    """An :class:`EpochLog` view that adds every statistic times a weight."""

    def __init__(self, log, weight):
        self.epoch, self._log, self._weight = log.epoch, log, weight

    def add(self, **values):
        self._log.add(**{name: value.detach() * self._weight for name, value in values.items()})


def keep_head_history(history, head):
    """Reduce every record's per-head vectors to head ``head``'s value, in place.

    Multi-head objectives log each statistic as a vector over the heads, and their
    losses as ``head_losses``; after the choice of a head, its ``head_losses`` entry
    becomes the record's ``loss``, replacing the sum over heads that was trained.
    """
    for record in history:
        record["loss"] = record.pop("head_losses")
        for name, value in record.items():
            if isinstance(value, np.ndarray):
                record[name] = float(value[head])
    return history
