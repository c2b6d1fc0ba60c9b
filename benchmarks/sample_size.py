"""How large a sample the fit needs: Fashion-MNIST, fitted on uniform samples.

:class:`~skssl.SCANClusterer` and :class:`~skssl.SelfSupervisedClassifier` (defaults,
``n_clusters=10``, ``random_state=seed``) are fitted on a uniform sample without
replacement of ``--fractions`` of the rows (seed ``seed`` draws it), and then
predict every row. The table gives, per estimator and fraction, the mean and
standard deviation over ``--seeds`` of the Hungarian accuracy on all rows, and the
mean fit and predict times; below it, the smallest fraction whose mean accuracy is
within 1 point of the full fit's. Data are float32 (pixels in [0, 1]); one Torch
thread; PyNNDescent's numba compilation (fits above 50,000 rows) is paid by a
warm-up, untimed::

    OMP_NUM_THREADS=1 python benchmarks/sample_size.py            # the full curve
    python benchmarks/sample_size.py --fractions 0.05 --seeds 0 \\
        --max-rows 5000 --output /tmp/sample_size.md               # a quick look

``--max-rows`` first takes a stratified sample of that many rows
(``benchmarks/datasets.py``) and treats it as the whole set.
Writes ``--output`` (default ``benchmarks/results/sample_size.md``).
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _harness import compile_pynndescent  # noqa: E402
from _local import sibling  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FRACTIONS = (0.05, 0.1, 0.2, 0.5, 1.0)
#: Table name -> method of ``benchmarks/methods.py``.
ESTIMATORS = {"SCANClusterer": "scan", "SelfSupervisedClassifier": "ssc-minmax"}
WITHIN = 0.01


def measure(name, X, y, fraction, seed):
    """(accuracy on all rows, fit seconds, predict seconds) of one sampled fit."""
    from skssl.metrics import hungarian_accuracy_score

    n = X.shape[0]
    rows = np.random.default_rng(seed).choice(n, size=round(fraction * n), replace=False)
    sample = X if fraction == 1 else X[np.sort(rows)]
    model = sibling("methods").build(ESTIMATORS[name], 10, seed)
    start = time.perf_counter()
    model.fit(sample)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    labels = model.predict(X)
    return hungarian_accuracy_score(y, labels), fit_seconds, time.perf_counter() - start


def smallest_within(results, fractions):
    """Per estimator, the smallest fraction within WITHIN of the full fit's accuracy."""
    if 1.0 not in fractions:
        return {}
    chosen = {}
    for name in ESTIMATORS:
        full = np.mean(results[name, 1.0][0])
        chosen[name] = min(f for f in fractions if np.mean(results[name, f][0]) >= full - WITHIN)
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "sample_size.md")
    args = parser.parse_args()

    import torch

    from skssl._graph.mining import search_method

    torch.set_num_threads(1)
    X, y = sibling("datasets").load("fashion_mnist", n_samples=args.max_rows, dtype=np.float32)
    fractions = sorted(args.fractions)
    if search_method("auto", int(max(fractions) * X.shape[0]), X.shape[1]) == "approximate":
        compile_pynndescent(X)

    results = {}
    for name in ESTIMATORS:
        for fraction in fractions:
            runs = [measure(name, X, y, fraction, seed) for seed in args.seeds]
            results[name, fraction] = np.array(runs).T
            accuracy, fit_seconds, _ = results[name, fraction].mean(axis=1)
            print(f"{name} {fraction}: ACC {accuracy:.3f}, fit {fit_seconds:.1f} s", flush=True)

    lines = [
        f"Fashion-MNIST, {X.shape[0]:,} rows x {X.shape[1]} (float32); seeds "
        f"{args.seeds}; {os.cpu_count()} cores, one Torch thread; 1-minute load average "
        f"at the end: {os.getloadavg()[0]:.2f}. ACC: Hungarian accuracy of predict on "
        "every row, mean (std) over seeds; times are means.",
        "",
        "| estimator | fraction | rows fitted | ACC | fit s | predict s |",
        "|---|---|---|---|---|---|",
    ]
    for (name, fraction), (accuracy, fit_seconds, predict_seconds) in results.items():
        lines.append(
            f"| {name} | {fraction:g} | {round(fraction * X.shape[0]):,} | "
            f"{accuracy.mean():.3f} ({accuracy.std():.3f}) | {fit_seconds.mean():.1f} | "
            f"{predict_seconds.mean():.1f} |"
        )
    lines.append("")
    chosen = smallest_within(results, fractions)
    if not chosen:
        lines.append("No full fit (fraction 1) was run, so no fraction is named.")
    for name, fraction in chosen.items():
        lines.append(
            f"- {name}: the smallest fraction within {100 * WITHIN:g} point of the full "
            f"fit's accuracy is {fraction:g} ({round(fraction * X.shape[0]):,} rows)."
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
