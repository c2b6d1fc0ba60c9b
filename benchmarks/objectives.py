"""Compare SelfSupervisedClassifier's objectives with KMeans on digits and on 10 blobs.

Each objective runs with its default parameters (only ``objective`` and
``n_clusters`` are given), as a new user would. KMeans uses ``n_init=10``.

- digits: ``sklearn.datasets.load_digits`` (1797 x 64, 10 classes), seeds 0, 1, 2;
- blobs: ``make_blobs(n_samples=1000, centers=10, n_features=2, random_state=s)``,
  s = 0..4, the estimator seeded with the same s.

ACC is the Hungarian-matched accuracy. Writes benchmarks/results/objectives.md.

Run: ``OMP_NUM_THREADS=1 python benchmarks/objectives.py`` (about 10 minutes on one core).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from skssl import SelfSupervisedClassifier
from skssl._objectives import OBJECTIVES
from skssl.metrics import hungarian_accuracy_score

RESULTS = Path(__file__).parent / "results" / "objectives.md"
DATASETS = {"digits": [0, 1, 2], "blobs": [0, 1, 2, 3, 4]}


def load(name, seed):
    if name == "digits":
        return load_digits(return_X_y=True)
    return make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed)


def make_model(method, seed):
    if method == "KMeans":
        return KMeans(n_clusters=10, n_init=10, random_state=seed)
    return SelfSupervisedClassifier(
        n_clusters=10, objective=method, random_state=seed, device="cpu"
    )


def measure(method, dataset, seeds):
    rows = []
    for seed in seeds:
        X, y = load(dataset, seed)
        start = time.perf_counter()
        labels = make_model(method, seed).fit(X).labels_
        seconds = time.perf_counter() - start
        rows.append(
            (
                hungarian_accuracy_score(y, labels),
                normalized_mutual_info_score(y, labels),
                adjusted_rand_score(y, labels),
                seconds,
            )
        )
        print(f"  {dataset} seed {seed} {method}: ACC {rows[-1][0]:.3f} ({seconds:.1f} s)")
    return np.array(rows)


def cell(values, digits=3):
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=[*OBJECTIVES, "KMeans"])
    args = parser.parse_args()
    torch.set_num_threads(1)

    lines = [
        "# SelfSupervisedClassifier objectives vs KMeans",
        "",
        "Default parameters (`objective=...`, `n_clusters=10`); KMeans with `n_init=10`. "
        "Mean ± std over seeds (digits: 3, blobs: 5); fit time in seconds on one CPU thread "
        f"(`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}`).",
        "",
        "| data | method | ACC | NMI | ARI | fit time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for dataset, seeds in DATASETS.items():
        for method in args.methods:
            scores = measure(method, dataset, seeds)
            acc, nmi, ari, seconds = scores.T
            lines.append(
                f"| {dataset} | {method} | {cell(acc)} | {cell(nmi)} | {cell(ari)} "
                f"| {cell(seconds, 1)} |"
            )
    table = "\n".join(lines) + "\n"
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table)


if __name__ == "__main__":
    main()
