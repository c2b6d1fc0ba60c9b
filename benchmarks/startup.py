"""What a new user waits for before the first result: imports, the CLI's help, the first fit.

Usage::

    python benchmarks/startup.py            # 7 fresh processes per command, ~2 min
    python benchmarks/startup.py --runs 3

Each command runs in a fresh Python process, alternating with the others, and its wall
time (interpreter start included) is divided by that of ``import torch, sklearn.base``
measured in the same rounds; the table gives the median ratio. A last process fits
``SCANClusterer()`` and ``SelfSupervisedClassifier()`` on digits three times each, to
show what the first fit in a process pays that later ones do not. Writes
``benchmarks/results/startup.md``.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = "import torch, sklearn.base"
COMMANDS = {
    REFERENCE: [sys.executable, "-c", REFERENCE],
    "import skssl": [sys.executable, "-c", "import skssl"],
    "from skssl.metrics import hungarian_accuracy_score": [
        sys.executable,
        "-c",
        "from skssl.metrics import hungarian_accuracy_score",
    ],
    "from skssl import SCANClusterer": [sys.executable, "-c", "from skssl import SCANClusterer"],
    "skssl --help": [sys.executable, "-m", "skssl", "--help"],
}
#: Run in a fresh process with the benchmarks' folder as its argument.
FIRST_FITS = """
import sys, time, warnings
warnings.simplefilter("ignore")
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from _local import sibling
X, _ = sibling("datasets").load("digits")
for name, key in (("SCANClusterer", "scan"), ("SelfSupervisedClassifier", "ssc-minmax")):
    for run in range(3):
        start = time.perf_counter()
        sibling("methods").build(key, 10, 0).fit(X)
        print(name, run, time.perf_counter() - start)
"""


def wall_time(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for command in COMMANDS.values():  # warm the file cache
        wall_time(command)
    times = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    median = {name: sorted(values)[len(values) // 2] for name, values in times.items()}
    ratios = {
        name: sorted(t / r for t, r in zip(values, times[REFERENCE]))[len(values) // 2]
        for name, values in times.items()
    }
    fits = subprocess.run(
        [sys.executable, "-c", FIRST_FITS, str(Path(__file__).resolve().parent)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    lines = [
        "# Start-up: imports, the CLI's help and the first fit",
        "",
        f"Fresh processes, {args.runs} rounds, median wall time and median ratio to "
        f"`{REFERENCE}` in the same round (`benchmarks/startup.py`).",
        "",
        "| command | median s | × `import torch, sklearn.base` |",
        "|---|---|---|",
        *(f"| `{name}` | {median[name]:.2f} | {ratios[name]:.2f} |" for name in COMMANDS),
        "",
        "Fits on digits in one process (one thread), seconds: the first pays Torch's "
        "one-off costs.",
        "",
        "| estimator | run | fit s |",
        "|---|---|---|",
        *(
            f"| {name} | {int(run) + 1} | {float(seconds):.2f} |"
            for name, run, seconds in (line.split() for line in fits if line)
        ),
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
