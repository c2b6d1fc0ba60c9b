"""GPU check: the three estimators fitted on a GPU and on the CPU, same seeds.

On digits and USPS, :class:`~skssl.SCANClusterer`,
:class:`~skssl.SelfSupervisedClassifier` (both ``n_clusters=10``) and
:class:`~skssl.SNNLTransformer` (defaults; scored by ``KMeans(10, n_init=10)`` on
its codes, untimed) are fitted with ``device=--device`` and with ``device="cpu"``,
``random_state`` from ``--seeds``. The table gives each fit's Hungarian accuracy and
time and the CPU / device time ratio (a warm-up fit first pays the device's start).
Two checks follow it, each in a fresh process with ``CUDA_VISIBLE_DEVICES=""``:

- a SCANClusterer fitted on the device (digits) is pickled, loaded where no GPU is
  seen, and its ``predict`` compared with the device model's;
- ``device="cuda"`` where no GPU is seen raises the ``ValueError`` that says so.

Run on a CUDA machine (under 5 minutes on one GPU); ``--tiny`` (small data, 2
epochs) is what ``tests/test_gpu_check.py`` runs on the CPU so that this script
does not rot::

    python benchmarks/gpu_check.py                                    # one GPU
    python benchmarks/gpu_check.py --device cpu --tiny --output /tmp/gpu_check.md

Writes ``--output`` (default ``benchmarks/results/gpu_check.md``). USPS is read as
``benchmarks/datasets.py`` says (``--data-home``, ``$SKSSL_DATA`` or
``../shared/data`` beside the repository).
"""

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _local import sibling

RESULTS = Path(__file__).parent / "results"
DATASETS = ("digits", "usps")
#: Table name -> method of ``benchmarks/methods.py``.
ESTIMATORS = {
    "SCANClusterer": "scan",
    "SelfSupervisedClassifier": "ssc-minmax",
    "SNNLTransformer": "snnl",
}
TINY_ROWS = 400
NO_CUDA = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}

# Run in a fresh process that sees no GPU: load the pickle, predict, save the labels.
LOAD_AND_PREDICT = """
import pickle, sys
import numpy as np
with open(sys.argv[1], "rb") as file:
    model, X = pickle.load(file)
try:
    labels = model.predict(X)
    how = "as pickled"
except ValueError as error:  # device='cuda' kept: a clear error, then the CPU
    labels = model.set_params(device="cpu").predict(X)
    how = "after set_params(device='cpu'); as pickled: " + str(error).split(":")[0]
np.save(sys.argv[2], labels)
print(how)
"""

FIT_ON_CUDA = """
import numpy as np
from skssl import SCANClusterer
try:
    SCANClusterer(n_clusters=2, max_iter=1, device="cuda").fit(np.eye(20))
except ValueError as error:
    print("ValueError:", error)
else:
    print("no error")
"""


def make(name, device, seed, tiny):
    params = {"device": device, "max_iter": 2} if tiny else {"device": device}
    return sibling("methods").build(ESTIMATORS[name], 10, seed, **params)


def accuracy(model, X, y):
    from sklearn.cluster import KMeans

    from skssl.metrics import hungarian_accuracy_score

    if hasattr(model, "labels_"):
        labels = model.labels_
    else:
        codes = model.transform(X)
        labels = KMeans(10, n_init=10, random_state=0).fit_predict(codes)
    return hungarian_accuracy_score(y, labels)


def timed_fit(model, X):
    start = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - start


def pickle_check(model, X):
    """Labels of ``model`` loaded in a process with no GPU: (equal, rows differing, how)."""
    with tempfile.TemporaryDirectory() as folder:
        path, out = Path(folder) / "model.pkl", Path(folder) / "labels.npy"
        path.write_bytes(pickle.dumps((model, X)))
        how = subprocess.run(
            [sys.executable, "-c", LOAD_AND_PREDICT, str(path), str(out)],
            env=NO_CUDA,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        loaded = np.load(out)
    differing = int((loaded != model.predict(X)).sum())
    return differing == 0, differing, how


def no_cuda_error():
    return subprocess.run(
        [sys.executable, "-c", FIT_ON_CUDA], env=NO_CUDA, capture_output=True, text=True, check=True
    ).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tiny", action="store_true", help=f"{TINY_ROWS} rows, 2 epochs")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "gpu_check.md")
    args = parser.parse_args()

    import torch

    datasets = sibling("datasets")
    make("SCANClusterer", args.device, 0, True).fit(np.random.default_rng(0).normal(size=(200, 8)))
    rows, kept = [], None
    for data in args.datasets:
        X, y = datasets.load(data, data_home=args.data_home)
        if args.tiny:
            X, y = X[:TINY_ROWS], y[:TINY_ROWS]
        for name in ESTIMATORS:
            fits = {}
            for device in ("cpu", args.device):
                results = []
                for seed in args.seeds:
                    model, seconds = timed_fit(make(name, device, seed, args.tiny), X)
                    results.append((accuracy(model, X, y), seconds))
                    if (data, name, device) == ("digits", "SCANClusterer", args.device):
                        kept = model
                fits[device] = np.mean(results, axis=0)
            (cpu_acc, cpu_s), (dev_acc, dev_s) = fits["cpu"], fits[args.device]
            rows.append(
                f"| {data} | {name} | {cpu_acc:.3f} | {dev_acc:.3f} | {cpu_s:.2f} | "
                f"{dev_s:.2f} | {cpu_s / dev_s:.2f} |"
            )
            print(rows[-1], flush=True)
    X, _ = datasets.load("digits", data_home=args.data_home)
    equal, differing, how = pickle_check(kept, X)
    error = no_cuda_error()

    device_name = args.device
    if args.device.startswith("cuda") and torch.cuda.is_available():
        device_name += f" ({torch.cuda.get_device_name(args.device)})"
    lines = [
        f"Python {platform.python_version()}, Torch {torch.__version__}, "
        f"Torch CPU threads: {torch.get_num_threads()}; device: {device_name}. "
        f"Seeds {args.seeds} (means); "
        f"{'tiny: ' + str(TINY_ROWS) + ' rows, 2 epochs; ' if args.tiny else ''}"
        "defaults otherwise; ACC is the Hungarian accuracy of the training labels "
        "(SNNLTransformer: of KMeans on its codes, untimed); fit times in seconds.",
        "",
        f"| data | estimator | CPU ACC | {args.device} ACC | CPU s | {args.device} s | "
        f"CPU / {args.device} time |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- Pickled SCANClusterer fitted on {args.device} (digits), loaded with "
        f'CUDA_VISIBLE_DEVICES="": predict {how}; equal to the {args.device} '
        f"model's: {'yes' if equal else f'NO ({differing} rows differ)'}.",
        f'- device="cuda" with CUDA_VISIBLE_DEVICES="": {error}',
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-2:]))


if __name__ == "__main__":
    main()
