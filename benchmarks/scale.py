"""Fit time and peak memory from 10^4 to 10^6 rows (float32, 32 features, 10 blobs).

Each size runs in a fresh subprocess so that peak resident memory is that fit's own.
For every size it times neighbour mining alone (the method ``fit`` uses), each
estimator's fit with its stages from ``history_``, KMeans, and PyNNDescent alone.

    python benchmarks/scale.py 10000 100000 1000000

writes benchmarks/results/scale.md (and .json).
"""

import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def measure(n, what):
    import numpy as np
    import torch
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs

    # One thread: on 2 cores, two Torch threads ran several times slower under load.
    torch.set_num_threads(1)
    X, y = make_blobs(n_samples=n, n_features=32, centers=10, random_state=0)
    X = X.astype(np.float32)
    start = time.perf_counter()
    stages = {}
    if what == "kmeans":
        labels = KMeans(10, n_init=1, random_state=0).fit_predict(X)
    elif what == "pynndescent":
        from pynndescent import NNDescent

        compile_start = time.perf_counter()
        NNDescent(X[:2000], n_neighbors=11, random_state=0)  # numba compile, timed apart
        stages["numba compile"] = time.perf_counter() - compile_start
        start = time.perf_counter()
        graph = NNDescent(X, n_neighbors=11, random_state=0, low_memory=True).neighbor_graph
        del graph
        labels = None
    elif what == "mine_neighbors":
        from skssl.neighbors import mine_neighbors

        mine_neighbors(X, 10, random_state=0)
        labels = None
    else:
        import skssl

        model = getattr(skssl, what)(n_clusters=10, random_state=0)
        model.fit(X)
        labels = model.labels_
        for record in model.history_:
            stage = record.get("stage", "fit").split(" init")[0]
            stages[stage] = stages.get(stage, 0.0) + record.get("seconds", 0.0)
    seconds = time.perf_counter() - start
    from skssl.metrics import hungarian_accuracy_score

    return {
        "n": n,
        "what": what,
        "seconds": seconds,
        "stages": stages,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "accuracy": None if labels is None else hungarian_accuracy_score(y, labels),
    }


def main(sizes):
    rows = []
    for n in sizes:
        for what in (
            "mine_neighbors",
            "SelfSupervisedClassifier",
            "SCANClusterer",
            "kmeans",
            "pynndescent",
        ):
            result = subprocess.run(
                [sys.executable, __file__, "--one", str(n), what], capture_output=True, text=True
            )
            if result.returncode != 0:
                print(result.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(result.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(rows, indent=1))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores; one Torch thread.",
        "",
        "| n | what | fit s | s per 10^4 rows | stages (s) | peak RSS MB | ACC |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in row["stages"].items()) or "-"
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        lines.append(
            f"| {row['n']:,} | {row['what']} | {row['seconds']:.1f} | "
            f"{row['seconds'] / row['n'] * 1e4:.2f} | {stages} | "
            f"{row['peak_rss_mb']:.0f} | {accuracy} |"
        )
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(int(sys.argv[2]), sys.argv[3])))
    else:
        main([int(arg) for arg in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
