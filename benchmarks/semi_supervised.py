"""A few labels: skssl's ``supervised=True`` against scikit-learn's semi-supervised peers.

On digits and USPS, a stratified 1%, 5% or 10% of the rows keep their label and the
rest get -1 (scikit-learn's convention). Every method gets the same ``y`` and is scored
by its accuracy on the unlabelled rows:

- ``LabelSpreading(kernel="knn")``;
- ``SelfTrainingClassifier(LogisticRegression(max_iter=1000))`` (raw input: it beat a
  standardised input on both data sets);
- ``SelfTrainingClassifier(SVC(probability=True))``;
- ``SCANClusterer(10, supervised=True)`` and ``SelfSupervisedClassifier(10,
  supervised=True)``, defaults otherwise;
- the same two estimators unsupervised (``fit(X)``), Hungarian-matched on the
  unlabelled rows: what the labels add;
- all four again with ``image_shape`` (the rows read as images).

Seeds 0, 1, 2 draw the labelled rows and seed the estimators. Writes
``benchmarks/results/semi_supervised.json`` (one record per fit, kept between runs so a
data set can be run alone) and ``semi_supervised.md``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/semi_supervised.py [--datasets digits usps]``
(digits: minutes; USPS: about an hour on one core, most of it the SVC peer).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local import sibling  # noqa: E402

from skssl.metrics import hungarian_accuracy_score  # noqa: E402

load, methods = sibling("datasets").load, sibling("methods")
RESULTS = Path(__file__).parent / "results"
FRACTIONS = (0.01, 0.05, 0.10)
SEEDS = (0, 1, 2)
#: Table name -> (method of ``benchmarks/methods.py``, parameters set on it). The skssl
#: estimators run on the CPU with ``n_clusters=10``; ``image_shape`` rows read the rows
#: as images; "no labels" rows are fitted on ``X`` alone (``fit(X)``).
METHODS = {
    "LabelSpreading (knn)": ("label-spreading", {}),
    "SelfTraining(LogisticRegression)": ("self-training-logistic", {}),
    "SelfTraining(SVC)": ("self-training-svc", {}),
    "SCANClusterer(supervised=True)": ("scan", {"supervised": True}),
    "SelfSupervisedClassifier(supervised=True)": ("ssc-minmax", {"supervised": True}),
    "SCANClusterer(image_shape, supervised=True)": ("scan-image", {"supervised": True}),
    "SelfSupervisedClassifier(image_shape, supervised=True)": (
        "ssc-minmax-image",
        {"supervised": True},
    ),
    "SCANClusterer, no labels": ("scan", {}),
    "SelfSupervisedClassifier, no labels": ("ssc-minmax", {}),
    "SCANClusterer(image_shape), no labels": ("scan-image", {}),
    "SelfSupervisedClassifier(image_shape), no labels": ("ssc-minmax-image", {}),
}
ALL_METHODS = list(METHODS)


def factory(method, n_features):
    """``seed -> unfitted model`` of ``method`` on rows of ``n_features``; and whether
    it is fitted with the partial labels (``(is_supervised, factory)``)."""
    key, params = METHODS[method]
    entry = methods.REGISTRY[key]
    if entry.skssl:
        params = dict(params, device="cpu")
    supervised = entry.kind == "semi-supervised" or params.get("supervised", False)
    return supervised, lambda seed: methods.build(key, 10, seed, n_features, **params)


def partly_labelled(y, fraction, seed):
    """``y`` with all but a stratified ``fraction`` of the rows set to -1."""
    keep, _ = train_test_split(
        np.arange(y.shape[0]), train_size=fraction, stratify=y, random_state=seed
    )
    partial = np.full_like(y, -1)
    partial[keep] = y[keep]
    return partial


def timed_fit(model, X, y=None):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SelfTraining's convergence chatter
        model.fit(X) if y is None else model.fit(X, y)
    return model, time.perf_counter() - start


def run(dataset, methods, records):
    X, y = load(dataset)
    done = {(r["dataset"], r["method"], r["fraction"], r["seed"]) for r in records}
    for seed in SEEDS:
        for method in methods:
            supervised, make = factory(method, X.shape[1])
            if not supervised:
                todo = [f for f in FRACTIONS if (dataset, method, f, seed) not in done]
                if not todo:
                    continue
                model, seconds = timed_fit(make(seed), X)
                for fraction in todo:
                    unlabelled = partly_labelled(y, fraction, seed) == -1
                    accuracy = hungarian_accuracy_score(y[unlabelled], model.labels_[unlabelled])
                    records.append(record(dataset, method, fraction, seed, accuracy, seconds))
                continue
            for fraction in FRACTIONS:
                if (dataset, method, fraction, seed) in done:
                    continue
                partial = partly_labelled(y, fraction, seed)
                model, seconds = timed_fit(make(seed), X, partial)
                unlabelled = partial == -1
                accuracy = float(np.mean(model.predict(X[unlabelled]) == y[unlabelled]))
                records.append(record(dataset, method, fraction, seed, accuracy, seconds))
            save(records)


def record(dataset, method, fraction, seed, accuracy, seconds):
    print(f"{dataset} {fraction:.0%} seed {seed} {method}: {accuracy:.3f} ({seconds:.1f} s)")
    return dict(
        dataset=dataset,
        method=method,
        fraction=fraction,
        seed=seed,
        accuracy=accuracy,
        seconds=seconds,
    )


def save(records):
    (RESULTS / "semi_supervised.json").write_text(json.dumps(records, indent=1))


def table(records, methods):
    lines = [
        "| data | method | "
        + " | ".join(f"{f:.0%} labelled" for f in FRACTIONS)
        + " | fit time (s) |",
        "|---|---|" + "---|" * (len(FRACTIONS) + 1),
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in records):
        for method in methods:
            rows = [r for r in records if r["dataset"] == dataset and r["method"] == method]
            if not rows:
                continue
            cells = []
            for fraction in FRACTIONS:
                accuracy = [r["accuracy"] for r in rows if r["fraction"] == fraction]
                cells.append(
                    f"{np.mean(accuracy):.3f} ({len(accuracy)})" if accuracy else "not run"
                )
            seconds = np.median([r["seconds"] for r in rows])
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "usps"])
    parser.add_argument("--methods", nargs="+", default=ALL_METHODS, choices=ALL_METHODS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = RESULTS / "semi_supervised.json"
    records = json.loads(path.read_text()) if path.exists() else []
    for dataset in args.datasets:
        run(dataset, args.methods, records)
        save(records)
    methods = ALL_METHODS
    text = (
        "Accuracy on the unlabelled rows, mean over seeds (their count in brackets); "
        "unsupervised rows are Hungarian-matched. Fit time: median over all its fits, "
        "one CPU thread.\n\n" + table(records, methods)
    )
    print(text)
    (RESULTS / "semi_supervised.md").write_text(text)


if __name__ == "__main__":
    main()
