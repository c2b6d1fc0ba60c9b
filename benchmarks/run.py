"""The benchmark suite: skssl's estimators and classic clusterers on the same data and seeds.

Usage::

    python benchmarks/run.py                       # the full default run (~10 min on 2 cores)
    python benchmarks/run.py --quick               # a smoke run: seed 0, <= 300 rows per set
    python benchmarks/run.py --datasets digits wine --methods scan kmeans --seeds 0 1

Every (dataset, method) pair runs in a fresh child process (this script with ``--child``),
on one thread (``OMP_NUM_THREADS=1`` and friends, ``torch.set_num_threads(1)``); inside it
the seeds run one after the other. The child reports per seed the Hungarian-matched
accuracy (``skssl.metrics``), NMI, ARI and fit time, and for each fit the process's peak
resident memory (``VmHWM``, reset before the fit) and what the fit added to it.

Writes ``benchmarks/results/suite.json`` (every per-seed record and the machine),
``suite.md`` (mean ± std over seeds, written by this script only) and ``suite.png``
(accuracy against fit time). ``--quick`` writes ``suite_quick.*`` instead, so a smoke run
never overwrites the measured results. Needs umap-learn and matplotlib (the ``bench`` extra).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import traceback
from pathlib import Path

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
for _variable in THREAD_VARIABLES:  # before numpy / torch / numba are imported
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CHILD_MARK = "SUITE-RESULT "

#: name -> (description with preprocessing, default seeds)
DATASETS = {
    "digits": ("sklearn load_digits (1797 x 64, 10 classes), raw pixel values", (0, 1, 2)),
    "blobs": (
        "make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed): "
        "the data changes with the seed",
        (0, 1, 2, 3, 4),
    ),
    "wine": ("sklearn load_wine (178 x 13, 3 classes), StandardScaler", (0, 1, 2)),
    "breast_cancer": (
        "sklearn load_breast_cancer (569 x 30, 2 classes), StandardScaler",
        (0, 1, 2),
    ),
}

#: key -> label in the tables; the factories are in make_model.
METHODS = {
    "scan": "SCANClusterer()",
    "ssc-minmax": "SelfSupervisedClassifier() (minmax)",
    "ssc-self-classifier": "SelfSupervisedClassifier(objective='self_classifier')",
    "ssc-iic": "SelfSupervisedClassifier(objective='iic')",
    "snnl-kmeans": "SNNLTransformer() + KMeans(n_init=10)",
    "kmeans": "KMeans(n_init=10)",
    "gmm": "GaussianMixture (full)",
    "spectral": "SpectralClustering (nearest_neighbors)",
    "agglomerative": "AgglomerativeClustering (ward)",
    "hdbscan": "HDBSCAN(copy=True) (noise = own label)",
    "umap-kmeans": "UMAP(10 dims, 15 nn, min_dist 0) + KMeans(n_init=10)",
}
SKSSL_METHODS = {"scan", "ssc-minmax", "ssc-self-classifier", "ssc-iic", "snnl-kmeans"}
QUICK_ROWS = 300


# ----------------------------------------------------------------------------- child side


def load(dataset, seed, max_rows=None):
    """The data of one seed; wine and breast_cancer standardised, the others raw."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    if dataset == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif dataset == "blobs":
        X, y = datasets.make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed)
    elif dataset == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif dataset == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    if dataset in ("wine", "breast_cancer"):
        # The same preprocessing for every method, done once outside the estimators.
        X = StandardScaler().fit_transform(X)
    if max_rows is not None and len(y) > max_rows:
        from sklearn.model_selection import train_test_split

        X, _, y, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=0)
    return X, y


def make_model(method, n_clusters, seed):
    if method in SKSSL_METHODS:
        import torch

        torch.set_num_threads(1)
        from skssl import SCANClusterer, SelfSupervisedClassifier, SNNLTransformer
    from sklearn.cluster import (
        HDBSCAN,
        AgglomerativeClustering,
        KMeans,
        SpectralClustering,
    )
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import make_pipeline

    if method == "scan":
        return SCANClusterer(n_clusters, random_state=seed)
    if method.startswith("ssc-"):
        objective = method[4:].replace("-", "_")
        if objective == "minmax":  # the default objective: pass nothing
            return SelfSupervisedClassifier(n_clusters, random_state=seed)
        return SelfSupervisedClassifier(n_clusters, objective=objective, random_state=seed)
    if method == "snnl-kmeans":
        return make_pipeline(
            SNNLTransformer(random_state=seed),
            KMeans(n_clusters, n_init=10, random_state=seed),
        )
    if method == "kmeans":
        return KMeans(n_clusters, n_init=10, random_state=seed)
    if method == "gmm":
        return GaussianMixture(n_clusters, random_state=seed)
    if method == "spectral":
        return SpectralClustering(n_clusters, affinity="nearest_neighbors", random_state=seed)
    if method == "agglomerative":
        return AgglomerativeClustering(n_clusters, linkage="ward")
    if method == "hdbscan":
        return HDBSCAN(copy=True)  # never writes into X (the default changes in 1.10)
    if method == "umap-kmeans":
        from umap import UMAP

        return make_pipeline(
            UMAP(n_components=10, n_neighbors=15, min_dist=0.0, random_state=seed),
            KMeans(n_clusters, n_init=10, random_state=seed),
        )
    raise ValueError(f"unknown method {method!r}")


def _proc_status_mb(field):
    """A memory field of /proc/self/status in MB (Linux); None where unavailable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mb():
    """Current resident memory in MB."""
    return _proc_status_mb("VmRSS")


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if not possible.

    ``ru_maxrss`` alone would not do: after fork + exec it starts at the parent's peak,
    and it cannot be reset between seeds.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    """Peak resident memory since the last reset (VmHWM), else ru_maxrss."""
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB else


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
    n_clusters = int(np.unique(y).size)
    make_model(method, n_clusters, seeds[0])  # imports everything the method needs
    # The first fit in a process pays one-off costs: numba compiles UMAP's code (seconds),
    # Torch initialises its kernels (~0.7 s and ~90 MB here). Pay them on 100 rows before
    # the timed fits, as a user fitting many models would once; the time is reported apart.
    sample = np.random.default_rng(0).choice(len(X), size=min(100, len(X)), replace=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make_model(method, n_clusters, 0).fit(X[sample])
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
        model = make_model(method, n_clusters, seed)
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


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(job)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}, time.perf_counter() - start
    wall = time.perf_counter() - start
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(CHILD_MARK):
            return json.loads(line[len(CHILD_MARK) :]), wall
    return {"error": f"child exited {done.returncode}: {done.stderr[-2000:]}"}, wall


def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


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
        "- Data: the same rows and preprocessing for every method. digits and blobs raw; "
        "wine and breast_cancer standardised with `StandardScaler` (fitted on all rows) "
        "before any method sees them.",
        "- Fit time: wall clock of `fit_predict` alone, in a process that already imported "
        "the method's libraries, loaded the data and fitted the method once on 100 random "
        "rows (seed 0) to pay the one-off costs of a first fit in a process (UMAP: numba "
        "compilation; skssl: Torch's first-call initialisation, about 0.7 s and 90 MB). "
        "That warm-up fit is excluded; its time is the *warm-up (s)* column.",
        "- Memory: each (dataset, method) pair runs in a fresh child process that imports "
        "the method's libraries and skssl (for the metrics, so Torch is loaded in every "
        "child), loads the data, then fits the seeds one after the other. Before each fit "
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
            "| method | ACC | NMI | ARI | fit time (s) | peak RSS (MB) | Δ peak (MB) "
            "| warm-up (s) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for method in config["methods"]:
            run = runs.get(method)
            if run is None:
                continue
            if "error" in run:
                reason = run["error"].strip().splitlines()[-1][:120]
                lines.append(f"| {METHODS[method]} | failed: {reason} | | | | | | |")
                continue
            records = [
                r for r in suite["records"] if r["dataset"] == dataset and r["method"] == method
            ]
            cells = [mean_std([r[key] for r in records]) for key in ("acc", "nmi", "ari")]
            seconds = mean_std([r["fit_seconds"] for r in records], 2)
            memory = "n/a | n/a"
            if all(r["peak_rss_mb"] and r["rss_before_fit_mb"] for r in records):
                peak = max(r["peak_rss_mb"] for r in records)
                extra = max(r["peak_rss_mb"] - r["rss_before_fit_mb"] for r in records)
                memory = f"{peak:.0f} | {extra:.0f}"
            warmup = f"{run['warmup_seconds']:.1f}" if "warmup_seconds" in run else "n/a"
            lines.append(
                f"| {METHODS[method]} | {' | '.join(cells)} | {seconds} | {memory} | {warmup} |"
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
    figure, axes = plt.subplots(
        1, len(datasets), figsize=(4.2 * len(datasets), 4.2), squeeze=False, sharey=True
    )
    for ax, dataset in zip(axes[0], datasets):
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
    axes[0][0].set_ylabel("Hungarian accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # a method may be missing from the first panel
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.suptitle("skssl (circles) and peers (squares): mean ± std over seeds, seeds faint")
    figure.tight_layout(rect=(0, 0.06 + 0.025 * ((len(labels) + 2) // 3), 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
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
        for dataset, (_, default) in DATASETS.items()
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
                    f"fit {mean_std(seconds, 2)} s  peak {peak:.0f} MB  "
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
