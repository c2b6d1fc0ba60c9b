"""The benchmark suite: skssl's estimators and classic clusterers on the same data and seeds.

Usage::

    python benchmarks/run.py                       # the full default run (30-45 min)
    python benchmarks/run.py --quick               # a smoke run: seed 0, <= 300 rows per set
    python benchmarks/run.py --datasets digits wine --methods scan kmeans --seeds 0 1

    # Fashion-MNIST (70000 x 784) is not in the default run: a separate, longer run
    # (an estimated 1-2 h; minutes per fit) with its own output files:
    python benchmarks/run.py --datasets fashion_mnist --timeout 7200 \
        --output benchmarks/results/suite_fashion_mnist

The data sets (``benchmarks/datasets.py``): digits, wine, breast_cancer, blobs, usps,
pendigits (the default run) and fashion_mnist (only when named in ``--datasets``). usps
and pendigits are read from ``../shared/data`` beside the repository (or ``$SKSSL_DATA``),
Fashion-MNIST from ``/usr/share/datasets/fashion-mnist``; each is fetched from OpenML
when its local file is missing. The methods (the clusterers of ``benchmarks/methods.py``,
the registry every script shares): skssl's estimators with their defaults, KMeans on
the raw and on the standardised input (the better of the two is the baseline to beat),
GaussianMixture, UMAP + KMeans, UMAP + GMM, and the classic peers spectral,
agglomerative and HDBSCAN on the data sets where they are cheap (``MAX_ROWS``).

Every (dataset, method) pair runs in a fresh child process (this script with ``--child``),
on one thread (``OMP_NUM_THREADS=1`` and friends, ``torch.set_num_threads(1)``); inside it
the seeds run one after the other. The child reports per seed the Hungarian-matched
accuracy (``skssl.metrics``), NMI, ARI and fit time, and for each fit the process's peak
resident memory (``VmHWM``, reset before the fit) and what the fit added to it.

Writes ``benchmarks/results/suite.json`` (every per-seed record and the machine),
``suite.md`` (scores' mean ± std and fit time's median over seeds, written by this
script only) and ``suite.png`` (accuracy against fit time). ``--quick`` writes
``suite_quick.*`` instead, so a smoke run never overwrites the measured results. Needs
umap-learn and matplotlib (the ``bench`` extra).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    THREAD_VARIABLES,
    cpu_model,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
)
from _harness import run_child as run_in_child  # noqa: E402
from _local import sibling  # noqa: E402

for _variable in THREAD_VARIABLES:  # before numpy / torch / numba are imported
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

methods = sibling("methods")
RESULTS = Path(__file__).resolve().parent / "results"
CHILD_MARK = "SUITE-RESULT "

#: name -> (description with preprocessing, default seeds, rows); see datasets.py
DATASETS = {
    "digits": ("sklearn load_digits (1797 x 64, 10 classes), raw pixel values", (0, 1, 2), 1797),
    "blobs": (
        "make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed): "
        "the data changes with the seed",
        (0, 1, 2, 3, 4),
        1000,
    ),
    "wine": ("sklearn load_wine (178 x 13, 3 classes), StandardScaler", (0, 1, 2), 178),
    "breast_cancer": (
        "sklearn load_breast_cancer (569 x 30, 2 classes), StandardScaler",
        (0, 1, 2),
        569,
    ),
    "usps": (
        "USPS handwritten digits (9298 x 256, 10 classes; 7291 train then 2007 test rows), "
        "raw grey levels in [0, 2] (`shared/data/usps.npz`)",
        (0, 1, 2),
        9298,
    ),
    "pendigits": (
        "UCI pen-based handwritten digits (10992 x 16, 10 classes; train then test rows), "
        "raw coordinates 0..100 (`shared/data/pendigits.npz`)",
        (0, 1, 2),
        10992,
    ),
    "fashion_mnist": (
        "Fashion-MNIST (70000 x 784, 10 classes; train then test rows), pixels scaled to "
        "[0, 1] (Debian dataset-fashion-mnist idx files)",
        (0, 1, 2),
        70000,
    ),
}
#: the data sets of a run without --datasets: Fashion-MNIST only when asked for
DEFAULT_DATASETS = [name for name in DATASETS if name != "fashion_mnist"]

#: The suite's methods (``benchmarks/methods.py``): key -> label in the tables.
REGISTRY, IMAGE_SHAPES = methods.REGISTRY, methods.IMAGE_SHAPES
METHODS = {key: REGISTRY[key].label for key in methods.keys("clusterer")}
SKSSL_METHODS = {key for key in METHODS if REGISTRY[key].skssl}
#: method -> the most rows it runs on
MAX_ROWS = {key: REGISTRY[key].max_rows for key in METHODS if REGISTRY[key].max_rows}
#: the fit-time column divides by this method's median fit time on the same data set
REFERENCE_METHOD = "umap-kmeans"
GMM_FULL_MAX_FEATURES = methods.GMM_FULL_MAX_FEATURES
QUICK_ROWS = 300

#: published (or otherwise run) deep clustering results: dataset -> (method, ACC, NMI, source)
PUBLISHED = {
    "digits": [
        ("DEC", 0.711, None, "ClustPy's DEC, run on sklearn digits by an earlier session"),
        ("IDEC", 0.791, None, "ClustPy's IDEC, run on sklearn digits by an earlier session"),
        ("N2D", 0.865, None, "ClustPy's N2D, run on sklearn digits by an earlier session"),
    ],
    "usps": [
        ("DEC (DEC-keras)", 0.76, None, "DEC-keras"),
        ("N2D (autoencoder + UMAP + GMM)", 0.95, 0.901, "N2D paper; ACC about 0.95"),
    ],
    "pendigits": [("N2D", 0.885, None, "N2D paper")],
    "fashion_mnist": [
        ("DEC (DEC-keras)", 0.62, None, "DEC-keras"),
        ("N2D", 0.672, None, "N2D paper"),
    ],
}
#: published KMeans accuracies on the same sets (shared/data/README.md)
PUBLISHED_KMEANS = {"usps": 0.668, "pendigits": 0.67, "fashion_mnist": 0.476}


def effective_rows(dataset, max_rows=None):
    """The rows a job on ``dataset`` fits (after ``--quick``'s subsampling)."""
    rows = DATASETS[dataset][2]
    return rows if max_rows is None else min(rows, max_rows)


def skip_reason(dataset, method, max_rows=None):
    """Why ``method`` does not run on ``dataset``, or None where it runs."""
    if REGISTRY[method].images and dataset not in IMAGE_SHAPES:
        return "skipped: not an image set"
    limit = MAX_ROWS.get(method)
    rows = effective_rows(dataset, max_rows)
    if limit is not None and rows > limit:
        return f"skipped: {rows} rows, runs on at most {limit}"
    return None


# ----------------------------------------------------------------------------- child side


def load(dataset, seed, max_rows=None):
    """The data of one seed (``benchmarks/datasets.py``), subsampled to ``max_rows``."""
    # The same preprocessing for every method, done once outside the estimators.
    return sibling("datasets").load(dataset, seed=seed, n_samples=max_rows)


def make_model(method, n_clusters, seed, n_features=None):
    """An unfitted model of registered ``method`` (one Torch thread for skssl's)."""
    if REGISTRY[method].skssl:
        import torch

        torch.set_num_threads(1)
    return methods.build(method, n_clusters, seed, n_features)


def score(y, labels):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from skssl.metrics import hungarian_accuracy_score

    labels = np.asarray(labels)
    record = {
        "acc": hungarian_accuracy_score(y, labels),
        "nmi": normalized_mutual_info_score(y, labels),
        "ari": adjusted_rand_score(y, labels),
        "n_labels_found": int(np.unique(labels).size),
    }
    noise = labels == -1
    if noise.any():
        # HDBSCAN's noise: the scores above count it as one more label; here it counts
        # as wrong (matched on the clustered rows, divided by all rows).
        record["noise_fraction"] = float(noise.mean())
        clustered = ~noise
        record["acc_noise_wrong"] = (
            hungarian_accuracy_score(y[clustered], labels[clustered]) * clustered.mean()
            if clustered.any()
            else 0.0
        )
    return record


def run_child(job):
    """Fit one method on one dataset for every seed; return the records."""
    import gc
    import warnings

    dataset, method, seeds = job["dataset"], job["method"], job["seeds"]
    X, y = load(dataset, seeds[0], job["max_rows"])
    n_clusters, n_features = int(np.unique(y).size), int(X.shape[1])
    make_model(method, n_clusters, seeds[0], n_features)  # imports everything the method needs
    # The first fit in a process pays one-off costs: numba compiles UMAP's code (seconds),
    # Torch initialises its kernels (~0.7 s and ~90 MB here). Pay them on 100 rows before
    # the timed fits, as a user fitting many models would once; the time is reported apart.
    sample = np.random.default_rng(0).choice(len(X), size=min(100, len(X)), replace=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_model(method, n_clusters, 0, n_features).fit(X[sample])
    warmup_seconds = time.perf_counter() - start
    torch_threads = cuda_available = None
    if "torch" in sys.modules:
        torch_threads = sys.modules["torch"].get_num_threads()
        cuda_available = sys.modules["torch"].cuda.is_available()
    score(y, y)  # imports the metrics (and skssl) before the baseline is taken
    gc.collect()
    run = {
        "dataset": dataset,
        "method": method,
        "rss_after_setup_mb": rss_mb(),
        "peak_reset": reset_peak_rss(),
        "warmup_seconds": warmup_seconds,
        "torch_threads": torch_threads,
        "cuda_available": cuda_available,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_clusters": n_clusters,
    }
    records = []
    for seed in seeds:
        if seed != seeds[0]:
            X, y = load(dataset, seed, job["max_rows"])
        model = make_model(method, n_clusters, seed, n_features)
        gc.collect()
        rss_before = rss_mb()
        reset_peak_rss()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # kept in the record, not printed
            start = time.perf_counter()
            labels = model.fit_predict(X)
            seconds = time.perf_counter() - start
        peak = peak_rss_mb()
        record = {"dataset": dataset, "method": method, "seed": seed, "fit_seconds": seconds}
        record.update(score(y, labels))
        messages = {f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught}
        record["warnings"] = sorted(messages)
        record.update(rss_before_fit_mb=rss_before, peak_rss_mb=peak)
        records.append(record)
        del model, labels
    return run, records


def child_main(job_text):
    job = json.loads(job_text)
    try:
        run, records = run_child(job)
        result = {"run": run, "records": records}
    except Exception:  # reported to the parent, which records the failure and goes on
        result = {"error": traceback.format_exc()}
    print(CHILD_MARK + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------- parent side


def version_of(package):
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info():
    """The machine and library versions (without importing Torch into this process)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=RESULTS.parent,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": version_of("torch"),
        "sklearn": version_of("scikit-learn"),
        "numpy": np.__version__,
        "umap": version_of("umap-learn"),
        "skssl": version_of("skssl"),
        "git_commit": commit or None,
        "thread_env": {name: "1" for name in THREAD_VARIABLES},
    }


def run_job(job, timeout):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)]
    return run_in_child(command, CHILD_MARK, timeout)


def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def by_method(suite, dataset):
    """method -> the per-seed records of ``dataset`` (methods with records only)."""
    records = {}
    for record in suite["records"]:
        if record["dataset"] == dataset:
            records.setdefault(record["method"], []).append(record)
    return records


def markdown(suite):
    """The suite's tables, from suite.json's content only."""
    machine, config = suite["machine"], suite["config"]
    threads = {run["torch_threads"] for run in suite["runs"] if run.get("torch_threads")}
    cuda = {run["cuda_available"] for run in suite["runs"] if run.get("cuda_available") is not None}
    lines = [
        "# skssl benchmark suite",
        "",
        "Written by `benchmarks/run.py`; do not edit by hand. Command:",
        "",
        f"    {suite['command']}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, "
        f"Torch {machine['torch']}, scikit-learn {machine['sklearn']}, "
        f"umap-learn {machine['umap']}, skssl {machine['skssl']} (commit {machine['git_commit']}"
        f", working tree may differ); CUDA available to Torch: {sorted(cuda) or 'n/a'}.",
        f"Started {suite['started']} UTC, took {suite['wall_seconds'] / 60:.1f} min; load "
        f"average at start {suite['load_start']}, at end {suite['load_end']}.",
        "",
        "Notes:",
        "",
        "- Every method runs with one thread: `OMP_NUM_THREADS`, `MKL_NUM_THREADS`, "
        "`OPENBLAS_NUM_THREADS`, `NUMBA_NUM_THREADS` = 1, and `torch.set_num_threads(1)` "
        f"(Torch threads seen in the children: {sorted(threads) or 'n/a'}).",
        "- Every method gets `n_clusters` = the true number of classes where it takes one "
        "and `random_state` = the seed; everything else is the default. The skssl "
        "estimators run with their defaults (`device='auto'`).",
        "- ACC = Hungarian-matched accuracy (`skssl.metrics.hungarian_accuracy_score`); "
        "NMI, ARI from scikit-learn. Mean ± std (population) over the seeds.",
        "- Data (`benchmarks/datasets.py`): the same rows and preprocessing for every "
        "method. digits, blobs, usps and pendigits raw; fashion_mnist scaled to [0, 1]; "
        "wine and breast_cancer standardised with `StandardScaler` (fitted on all rows) "
        "before any method sees them.",
        "- Baselines: KMeans(n_init=10) runs on the input as given (*raw input*) and behind "
        "a `StandardScaler` (its time included); the better of the two rows is the "
        "baseline to beat, named under each table. On wine and breast_cancer, already "
        "standardised, the two rows coincide.",
        "- GaussianMixture: `covariance_type='full'` (the default) on at most "
        f"{GMM_FULL_MAX_FEATURES} features, `'diag'` above (usps, 256; fashion_mnist, "
        "784): full covariance matrices on 784 features are infeasible (and singular on "
        "the constant border pixels).",
        "- UMAP: `umap.UMAP(random_state=seed)`, all else default (2 components, 15 "
        "neighbours, `min_dist=0.1`), then KMeans(n_init=10) or a full-covariance "
        "GaussianMixture on the embedding. Setting `random_state` makes UMAP "
        "single-threaded (its warning below), as every method here is anyway. "
        "`UMAP(n_neighbors=30, min_dist=0)` has the settings of umap-learn's guide "
        "*Using UMAP for Clustering* (more neighbours for a more global view, points "
        "packed densely), still 2 components.",
        "- Peers that are slow or too big on large data run only up to a number of rows: "
        + ", ".join(f"{METHODS[m]} on at most {n} rows" for m, n in MAX_ROWS.items())
        + "; their rows read *skipped* elsewhere.",
        "- Fit time: the median over the seeds of the wall clock of `fit_predict` alone; "
        f"*× {METHODS[REFERENCE_METHOD]}* divides it by the median fit time of "
        f"{METHODS[REFERENCE_METHOD]} on the same data set in the same run. Each fit "
        "runs in a process that already imported "
        "the method's libraries, loaded the data and fitted the method once on 100 random "
        "rows (seed 0) to pay the one-off costs of a first fit in a process (UMAP: numba "
        "compilation; skssl: Torch's first-call initialisation, about 0.7 s and 90 MB). "
        "That warm-up fit is excluded; its time is the *warm-up (s)* column.",
        "- Memory: each (dataset, method) pair runs in a fresh child process that imports "
        "the method's libraries and `skssl.metrics` (which does not import Torch: only "
        "the skssl methods' children load it), loads the data, then fits the seeds one "
        "after the other. Before each fit "
        "the kernel's peak-RSS mark is reset "
        "(`/proc/self/clear_refs`); *peak RSS* is the process's peak resident memory "
        "during a fit (`VmHWM`, imports and data included), *Δ peak* that peak minus the "
        "resident memory just before the fit, i.e. what the fit added on top of a warm "
        "process (memory the warm-up left allocated, e.g. Torch's, is in peak RSS only); "
        "both the largest over the seeds.",
        "- HDBSCAN takes no `n_clusters` and labels noise `-1`: in the table the noise "
        "counts as one more label (Hungarian matching may match it to a class); the "
        "HDBSCAN section below also gives ACC with every noise row counted wrong.",
    ]
    if any(run.get("peak_reset") is False for run in suite["runs"]):
        lines.append(
            "- **The peak-RSS mark could not be reset here**: peak RSS is the process's "
            "peak since it started (`ru_maxrss`, which may include the parent's)."
        )
    if config.get("max_rows"):
        lines.append(
            f"- **Quick run**: every data set subsampled to at most {config['max_rows']} "
            "rows (stratified); the numbers only show that the script works."
        )
    for dataset in config["datasets"]:
        runs = {run["method"]: run for run in suite["runs"] if run["dataset"] == dataset}
        if not runs:
            continue
        any_run = next(iter(r for r in runs.values() if "n_samples" in r), None)
        shape = (
            f"{any_run['n_samples']} x {any_run['n_features']}, {any_run['n_clusters']} classes"
            if any_run
            else "not run"
        )
        lines += [
            "",
            f"## {dataset} ({shape})",
            "",
            f"{DATASETS[dataset][0]}. Seeds {config['seeds'][dataset]}.",
            "",
            f"| method | ACC | NMI | ARI | fit time (s) | × {METHODS[REFERENCE_METHOD]} "
            "| peak RSS (MB) | Δ peak (MB) | warm-up (s) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        medians = {
            method: float(np.median([r["fit_seconds"] for r in records]))
            for method, records in by_method(suite, dataset).items()
        }
        reference = medians.get(REFERENCE_METHOD)
        for method in config["methods"]:
            run = runs.get(method)
            if run is None:
                continue
            if "skipped" in run:
                lines.append(f"| {METHODS[method]} | {run['skipped']} | | | | | | | |")
                continue
            if "error" in run:
                reason = run["error"].strip().splitlines()[-1][:120]
                lines.append(f"| {METHODS[method]} | failed: {reason} | | | | | | | |")
                continue
            records = by_method(suite, dataset)[method]
            cells = [mean_std([r[key] for r in records]) for key in ("acc", "nmi", "ari")]
            seconds = f"{medians[method]:.2f}"
            ratio = f"{medians[method] / reference:.3g}" if reference else "n/a"
            memory = "n/a | n/a"
            if all(r["peak_rss_mb"] and r["rss_before_fit_mb"] for r in records):
                peak = max(r["peak_rss_mb"] for r in records)
                extra = max(r["peak_rss_mb"] - r["rss_before_fit_mb"] for r in records)
                memory = f"{peak:.0f} | {extra:.0f}"
            warmup = f"{run['warmup_seconds']:.1f}" if "warmup_seconds" in run else "n/a"
            lines.append(
                f"| {METHODS[method]} | {' | '.join(cells)} | {seconds} | {ratio} | {memory} "
                f"| {warmup} |"
            )
        baselines = {
            m: np.mean([r["acc"] for r in records])
            for m, records in by_method(suite, dataset).items()
            if m in ("kmeans", "kmeans-std")
        }
        if baselines:
            best = max(baselines, key=baselines.get)
            lines += ["", f"Baseline to beat: {METHODS[best]}, ACC {baselines[best]:.3f}."]
    published = [d for d in config["datasets"] if d in PUBLISHED]
    if published:
        lines += [
            "",
            "## Published deep clustering",
            "",
            "For orientation only: other code, preprocessing, architectures and protocols "
            "(often the best of several runs, some with tuned hyper-parameters), not run "
            "here. From `shared/data/README.md` (DEC-keras: Guo et al.'s Keras DEC; N2D: "
            "McConville et al., 2020); the digits rows are ClustPy's implementations run "
            "on sklearn's digits by an earlier session, not a paper's.",
            "",
            "| data | method | ACC | NMI | source |",
            "|---|---|---|---|---|",
        ]
        for dataset in published:
            for method, acc, nmi, source in PUBLISHED[dataset]:
                nmi = "" if nmi is None else f"{nmi:.3f}"
                lines.append(f"| {dataset} | {method} | {acc:.3f} | {nmi} | {source} |")
            if dataset in PUBLISHED_KMEANS:
                lines.append(
                    f"| {dataset} | KMeans (published) | {PUBLISHED_KMEANS[dataset]:.3f} | "
                    "| shared/data/README.md |"
                )
    hdbscan = [r for r in suite["records"] if r["method"] == "hdbscan"]
    if hdbscan:
        lines += [
            "",
            "## HDBSCAN: noise",
            "",
            "| data | labels found (incl. noise) | noise fraction | ACC, noise = own label "
            "| ACC, noise = wrong |",
            "|---|---|---|---|---|",
        ]
        for dataset in config["datasets"]:
            records = [r for r in hdbscan if r["dataset"] == dataset]
            if not records:
                continue
            found = mean_std([r["n_labels_found"] for r in records], 1)
            noise = mean_std([r.get("noise_fraction", 0.0) for r in records])
            acc = mean_std([r["acc"] for r in records])
            wrong = mean_std([r.get("acc_noise_wrong", r["acc"]) for r in records])
            lines.append(f"| {dataset} | {found} | {noise} | {acc} | {wrong} |")
    warned = {}
    for record in suite["records"]:
        for message in record.get("warnings", []):
            key = (record["dataset"], record["method"], message)
            warned[key] = warned.get(key, 0) + 1
    if warned:
        lines += ["", "## Warnings raised during the fits", ""]
        for (dataset, method, message), count in warned.items():
            lines.append(f"- {dataset}, {METHODS[method]} ({count} seeds): {message}")
    return "\n".join(lines) + "\n"


def plot(suite, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [
        d for d in suite["config"]["datasets"] if any(r["dataset"] == d for r in suite["records"])
    ]
    methods = suite["config"]["methods"]
    colors = {m: plt.cm.tab20(i / max(len(methods) - 1, 1)) for i, m in enumerate(methods)}
    markers = {m: ("o" if m in SKSSL_METHODS else "s") for m in methods}
    n_columns = max(min(4, len(datasets)), 1)
    n_rows = max(-(-len(datasets) // n_columns), 1)
    figure, axes = plt.subplots(
        n_rows, n_columns, figsize=(4.2 * n_columns, 4.2 * n_rows), squeeze=False, sharey=True
    )
    axes = axes.ravel()
    for ax in axes[len(datasets) :]:
        ax.set_visible(False)
    for ax, dataset in zip(axes, datasets):
        for method in methods:
            records = [
                r for r in suite["records"] if r["dataset"] == dataset and r["method"] == method
            ]
            if not records:
                continue
            seconds = np.array([r["fit_seconds"] for r in records])
            accuracy = np.array([r["acc"] for r in records])
            ax.scatter(
                seconds, accuracy, color=colors[method], marker=markers[method], alpha=0.3, s=12
            )
            ax.errorbar(
                seconds.mean(),
                accuracy.mean(),
                xerr=seconds.std(),
                yerr=accuracy.std(),
                color=colors[method],
                marker=markers[method],
                markersize=7,
                label=METHODS[method],
            )
        ax.set_xscale("log")
        ax.set_title(dataset)
        ax.set_xlabel("fit time (s, log scale)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[::n_columns]:
        ax.set_ylabel("Hungarian accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:  # a method may be missing from the first panel
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.suptitle("skssl (circles) and peers (squares): mean ± std over seeds, seeds faint")
    legend_height = (0.07 + 0.035 * ((len(labels) + 2) // 3)) / n_rows  # as for one row
    figure.tight_layout(rect=(0, legend_height, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=DEFAULT_DATASETS,
        help=f"default: {' '.join(DEFAULT_DATASETS)} (fashion_mnist only when named)",
    )
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        help="seeds for every data set (default: 0 1 2, and 0..4 for blobs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"seed 0 only, at most {QUICK_ROWS} rows per data set; writes suite_quick.*",
    )
    parser.add_argument("--output", type=Path, help="output path without suffix")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per child process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        child_main(args.child)
        return
    seeds = {
        dataset: list(args.seeds or ([0] if args.quick else default))
        for dataset, (_, default, _) in DATASETS.items()
    }
    output = args.output or RESULTS / ("suite_quick" if args.quick else "suite")
    output.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "datasets": args.datasets,
        "methods": args.methods,
        "seeds": {d: seeds[d] for d in args.datasets},
        "max_rows": QUICK_ROWS if args.quick else None,
    }
    started = datetime.datetime.now(datetime.timezone.utc)
    suite = {
        "command": "python " + shlex.join([os.path.relpath(sys.argv[0]), *sys.argv[1:]]),
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "machine": machine_info(),
        "config": config,
        "runs": [],
        "records": [],
    }
    start = time.perf_counter()
    for dataset in args.datasets:
        for method in args.methods:
            job = {"dataset": dataset, "method": method, "seeds": seeds[dataset]}
            job["max_rows"] = config["max_rows"]
            reason = skip_reason(dataset, method, config["max_rows"])
            if reason is not None:
                print(f"{dataset:14s} {method:20s} {reason}", flush=True)
                suite["runs"].append({"dataset": dataset, "method": method, "skipped": reason})
                continue
            result, wall = run_job(job, args.timeout)
            if "error" in result:
                run = {"dataset": dataset, "method": method, "error": result["error"]}
                print(f"{dataset:14s} {method:20s} FAILED ({wall:.0f} s)\n{result['error']}")
            else:
                run = result["run"]
                suite["records"] += result["records"]
                accuracy = [r["acc"] for r in result["records"]]
                seconds = [r["fit_seconds"] for r in result["records"]]
                peak = max(r["peak_rss_mb"] or 0 for r in result["records"])
                print(
                    f"{dataset:14s} {method:20s} ACC {mean_std(accuracy)}  "
                    f"fit {np.median(seconds):.2f} s (median)  peak {peak:.0f} MB  "
                    f"(process {wall:.0f} s)",
                    flush=True,
                )
            run["process_seconds"] = wall
            suite["runs"].append(run)
    suite["wall_seconds"] = time.perf_counter() - start
    suite["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    output.with_suffix(".json").write_text(json.dumps(suite, indent=1) + "\n")
    table = markdown(suite)
    output.with_suffix(".md").write_text(table)
    plot(suite, output.with_suffix(".png"))
    print(table)
    print(f"wrote {output}.json, .md, .png")


if __name__ == "__main__":
    main()
