"""What each reference objective adds on top of the graph stage: accuracy and time by stage.

Both clusterers fit in two stages: the graph stage's density partition, which every
head of the network learns (stage one), then the reference objective from that network
(stage two: SCAN's loss in ``SCANClusterer``, min-max, Self-Classifier or IIC in
``SelfSupervisedClassifier``). For each data set and objective, with the defaults and
seeds 0-2 (0-4 for the blobs), this script gives the accuracy of the partition that
stage one fits (``methods.scan_graph_stage``, seeded as the estimators seed it: both
clusterers build the same graph with their defaults) and of the fit after stage two,
with the seconds of the graph stage, of stage one's training and of stage two
(``history_``'s ``seconds`` per stage). Each fit runs in this one process on one
thread, after a warm-up fit.

Run: ``OMP_NUM_THREADS=1 python benchmarks/stage_two.py`` (about 15 minutes on two
cores); ``--datasets`` and ``--methods`` pick a part. Writes
``benchmarks/results/stage_two.md``.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local import sibling  # noqa: E402

from skssl.metrics import hungarian_accuracy_score  # noqa: E402

datasets, methods = sibling("datasets"), sibling("methods")

RESULTS = Path(__file__).resolve().parent / "results"

#: The objectives compared, as keys of the method registry.
METHODS = ("scan", "ssc-minmax", "ssc-self-classifier", "ssc-iic")
DATASETS = ("digits", "usps", "pendigits", "wine", "breast_cancer", "blobs")


def stage_seconds(history):
    """Seconds of each training stage: its epochs' ``seconds`` added up."""
    seconds = {}
    for record in history:
        seconds[record["stage"]] = seconds.get(record["stage"], 0.0) + record["seconds"]
    return seconds


def measure(dataset, key, seed):
    """One seed's stage-one and final accuracy, and the seconds of each stage."""
    X, y = datasets.load(dataset, seed=seed)
    k = len(np.unique(y))
    partition = methods.scan_graph_stage(X, k, seed, device="cpu").partition
    model = methods.build(key, k, seed, X.shape[1], device="cpu")
    started = time.perf_counter()
    model.fit(X)
    fit = time.perf_counter() - started
    seconds = stage_seconds(model.history_)
    stage_one, stage_two = seconds.pop("partition"), sum(seconds.values())
    return {
        "stage_one_acc": hungarian_accuracy_score(y, partition),
        "acc": hungarian_accuracy_score(y, model.labels_),
        "graph": fit - stage_one - stage_two,
        "stage_one": stage_one,
        "stage_two": stage_two,
        "fit": fit,
    }


def table(rows):
    """Markdown: accuracy after stage one and after stage two, and seconds per stage."""
    lines = [
        "| data | method | stage one (partition) | after stage two | change "
        "| graph stage s | stage one s | stage two s | fit s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, key), runs in rows.items():

        def mean(name, runs=runs):
            return float(np.mean([run[name] for run in runs]))

        change = mean("acc") - mean("stage_one_acc")
        lines.append(
            f"| {dataset} | {methods.REGISTRY[key].label} | {mean('stage_one_acc'):.3f} "
            f"| {mean('acc'):.3f} | {change:+.3f} | {np.median([r['graph'] for r in runs]):.2f} "
            f"| {np.median([r['stage_one'] for r in runs]):.2f} "
            f"| {np.median([r['stage_two'] for r in runs]):.2f} "
            f"| {np.median([r['fit'] for r in runs]):.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--output", default=str(RESULTS / "stage_two.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    measure("wine", args.methods[0], 0)  # warm-up: imports and Torch's first calls
    rows = {}
    for dataset in args.datasets:
        for key in args.methods:
            seeds = range(5 if dataset == "blobs" else 3)
            rows[dataset, key] = [measure(dataset, key, seed) for seed in seeds]
            print(table({(dataset, key): rows[dataset, key]}).splitlines()[-1], flush=True)
    text = (
        "Accuracy (mean over seeds 0-2, 0-4 for the blobs) of the graph stage's partition "
        "that stage one fits, and of the fit after stage two; median seconds of each "
        "stage, one thread, in one process.\n\n" + table(rows) + "\n"
    )
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
