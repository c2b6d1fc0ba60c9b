"""A first fit in a fresh process, stage by stage: SCANClusterer beside EVoC, PyNNDescent, KMeans.

Every (data, method) pair runs in a fresh child process (``_harness.run_child``, one
thread per numerical library), so that imports, numba compilation and peak memory are
that fit's own; ``--repeats`` times (3 by default, the methods taking turns), and the
run whose first fit is the median is reported. Data: ``blobs32`` (10 Gaussian blobs
in 32-d, float32) at each ``--sizes`` row count and the real sets of ``--datasets``
(float32), all from ``benchmarks/datasets.py``. Methods (``--what``, from
``benchmarks/methods.py``):

- ``scan``: ``SCANClusterer(n_clusters=k, random_state=0)``, its defaults otherwise;
- ``scan+self_labeling``: the same with ``self_labeling=True``;
- ``evoc``: ``EVoC(approx_n_clusters=k, random_state=0)`` (its numba code is cached
  on disk, so its compilation is paid once per machine, not per process);
- ``pynndescent``: PyNNDescent alone, with the settings of skssl's approximate miner
  (15 neighbours), at every size;
- ``kmeans``: ``KMeans(k, n_init=10, random_state=0)``.

Stages, each with its wall seconds and the process's peak resident memory in it:
*imports* (the method's modules, after numpy and scikit-learn, which loading the data
imports), *compilation* (a first PyNNDescent call on 2000 rows, where the fit mines
approximately, and for ``pynndescent``: PyNNDescent's import and its numba code, loaded
from numba's on-disk cache where it is there), then the *fit*. For SCAN
the fit is split by its graph stage's own clock (``GraphStage.seconds``): *mining*,
*fuzzy graph*, *layout*, *hierarchy*, *partition*, read from ``graph_stage`` run again
after the fit, in the same process, as the fit runs it (same seed; one-off costs
already paid), and *training* (the rest of the fit: the network fitted to the partition,
self-labelling where on, labelling the rows). The graph steps' peaks come from a thread
that samples resident memory every 5 ms; training's is the peak of the fit's last
*training* seconds. *first fit* adds imports, compilation and fit: what a user waits for.
Self-labelling's own time is ``scan+self_labeling``'s training minus ``scan``'s.

    OMP_NUM_THREADS=1 python benchmarks/scale.py         # 10^4-10^6, USPS, Fashion-MNIST test
    python benchmarks/scale.py --sizes 10000 --datasets usps --repeats 1 --output /tmp/scale

Writes ``<output>.md`` and ``<output>.json`` (default ``benchmarks/results/scale``).
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    RssSampler,
    compile_pynndescent,
    cpu_model,
    peak_rss_mb,
    reset_peak_rss,
    run_child,
)
from _local import sibling  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RESULT_MARK = "SCALE-RESULT "
SIZES = (10_000, 100_000, 1_000_000)
REAL_SETS = ("usps", "fashion_test")
WHAT = ("scan", "scan+self_labeling", "evoc", "pynndescent", "kmeans")
GRAPH_STEPS = ("mining", "fuzzy_graph", "layout", "hierarchy", "partition")
STAGES = ("imports", "compilation", *GRAPH_STEPS, "training")
#: The stages a user waits for in a first fit.
FIRST_FIT = ("imports", "compilation", "fit")
#: The ratio column divides each first fit by this method's, on the same data.
REFERENCE = "evoc"


class Stages:
    """Seconds and peak resident memory (MB) of each stage, in the order they ran."""

    def __init__(self):
        self.table = {}

    def run(self, name, function, *args):
        """``function(*args)`` as stage ``name``: its seconds and the process's peak."""
        reset_peak_rss()
        start = time.perf_counter()
        result = function(*args)
        self.table[name] = {"seconds": time.perf_counter() - start, "peak_mb": peak_rss_mb()}
        return result


def mines_approximately(X):
    from skssl._graph.mining import search_method

    return search_method("auto", *X.shape) == "approximate"


def model_of(what, n_clusters):
    """The unfitted model of ``what`` (a ``methods`` key, ``+switch`` set to True)."""
    key, *switches = what.split("+")
    return sibling("methods").build(key, n_clusters, 0, **dict.fromkeys(switches, True))


def measure(data, n_samples, what):
    """One first fit of ``what`` on ``data`` in this (fresh) process, stage by stage."""
    import numpy as np

    X, y = sibling("datasets").load(data, n_samples=n_samples, dtype=np.float32)
    n_clusters = int(np.unique(y).size)
    stages = Stages()
    if what == "pynndescent":
        from skssl._graph.mining import mine_neighbors, resolve_metric

        metric = resolve_metric("auto", X.shape[1])
        stages.run("imports", __import__, "pynndescent")
        stages.run("compilation", compile_pynndescent, X)
        fit = lambda: mine_neighbors(X, 15, metric=metric, method="approximate", random_state=0)  # noqa: E731
        model = labels = None
    else:
        model = stages.run("imports", model_of, what, n_clusters)
        if what.startswith("scan"):
            import torch

            torch.set_num_threads(1)
            if mines_approximately(X):
                stages.run("compilation", compile_pynndescent, X)
        fit = lambda: model.fit(X)  # noqa: E731
    with RssSampler() as fit_memory:
        fit_start = time.perf_counter()
        stages.run("fit", fit)
        fit_end = time.perf_counter()
    if what.startswith("scan"):
        split_graph_stage(stages, X, n_clusters, fit_start, fit_end, fit_memory)
    if model is not None:
        labels = getattr(model, "labels_", None)
    from skssl.metrics import hungarian_accuracy_score

    return {
        "data": data,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "what": what,
        "stages": stages.table,
        "first_fit_seconds": sum(
            stages.table[name]["seconds"] for name in FIRST_FIT if name in stages.table
        ),
        "accuracy": None if labels is None else float(hungarian_accuracy_score(y, labels)),
        "load_average": os.getloadavg()[0],
    }


def split_graph_stage(stages, X, n_clusters, fit_start, fit_end, fit_memory):
    """Add SCAN's graph steps and training to ``stages`` (see the module docs)."""
    with RssSampler() as memory:
        start = time.perf_counter()
        graph = sibling("methods").scan_graph_stage(X, n_clusters, 0)
    for name, seconds in graph.seconds.items():  # in the order the steps ran
        stages.table[name] = {"seconds": seconds, "peak_mb": memory.peak(start, start + seconds)}
        start += seconds
    training = stages.table["fit"]["seconds"] - sum(graph.seconds.values())
    stages.table["training"] = {
        "seconds": training,
        "peak_mb": fit_memory.peak(fit_end - training, fit_end),
    }


def median_run(runs):
    """The run whose first fit is the median of ``runs`` (the lower middle of an even
    count), with every run's first fit in ``first_fit_runs``."""
    ordered = sorted(runs, key=lambda run: run["first_fit_seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["first_fit_runs"] = [run["first_fit_seconds"] for run in runs]
    return chosen


def cell(stage):
    if stage is None:
        return "-"
    peak = "" if stage["peak_mb"] is None else f" ({stage['peak_mb']:.0f})"
    return f"{stage['seconds']:.2f}{peak}"


def table(rows):
    """Markdown: one table per data set, a row per method, a column per stage."""
    lines = []
    for data in dict.fromkeys((row["data"], row["n_samples"], row["n_features"]) for row in rows):
        mine = [row for row in rows if (row["data"], row["n_samples"], row["n_features"]) == data]
        first = {row["what"]: row["first_fit_seconds"] for row in mine}
        trained = {row["what"]: row["stages"].get("training", {}).get("seconds") for row in mine}
        lines += [
            "",
            f"**{data[0]}, {data[1]:,} x {data[2]}**",
            "",
            "| method | "
            + " | ".join(name.replace("_", " ") for name in STAGES)
            + " | self-labelling | fit | first fit | × EVoC | ACC | load |",
            "|---" * (len(STAGES) + 7) + "|",
        ]
        for row in mine:
            stages = row["stages"]
            labelling = "-"
            if row["what"] == "scan+self_labeling" and trained.get("scan") is not None:
                labelling = f"{stages['training']['seconds'] - trained['scan']:.2f}"
            ratio = "-"
            if first.get(REFERENCE):
                ratio = f"{row['first_fit_seconds'] / first[REFERENCE]:.2f}"
            accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
            lines.append(
                f"| {row['what']} | "
                + " | ".join(cell(stages.get(name)) for name in STAGES)
                + f" | {labelling} | {cell(stages['fit'])} | {row['first_fit_seconds']:.2f} "
                f"| {ratio} | {accuracy} | {row['load_average']:.2f} |"
            )
    return lines


def header(argv, rows, repeats):
    import numpy
    import torch

    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return [
        # No heading: the docs include the table under headings of their own.
        "A first fit in a fresh process, stage by stage. Written by `benchmarks/scale.py` "
        "(its docstring defines each stage); do not edit "
        f"by hand. Command: `python benchmarks/scale.py {' '.join(argv)}`, started {started} "
        "UTC. Data run: "
        + ", ".join(
            f"{data} ({n:,} rows)"
            for data, n in dict.fromkeys((row["data"], row["n_samples"]) for row in rows)
        )
        + ".",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, {memory_gb:.0f} GB RAM, shared "
        "with other work (*load*: the 1-minute load average when each fit ended); Torch "
        f"{torch.__version__} on the CPU, numpy {numpy.__version__}, one thread per "
        "library in every child process.",
        "",
        f"Each method ran {repeats} times on each data set, each time in a fresh process; "
        "the row shown is the run whose first fit is the median of them.",
        "",
        "Cells: wall seconds (the process's peak resident memory in MB during the stage, "
        "data included). SCAN's graph steps are its `GraphStage.seconds`, from the graph "
        "stage run again after the fit (*hierarchy* is timed apart only when the count is "
        "searched; with `n_clusters` given, *partition* builds the hierarchy too); "
        "*training* is the rest of the fit. *compilation* (importing PyNNDescent and "
        "loading or compiling its numba code) runs only where SCAN mines approximately "
        "(where `search_method`'s cost model finds it faster than exact search). SCAN's "
        "descent, like EVoC's code, is compiled once per machine and kept on disk; the "
        "runs found it there. *first fit* = imports + compilation + fit; "
        "*× EVoC* divides it by EVoC's on the same data (EVoC's numba cache warm). ACC: "
        "Hungarian accuracy of the training labels. *self-labelling* is the difference "
        "of two fits' training (noise of a few tenths of a second on a loaded machine).",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="rows of blobs32")
    parser.add_argument("--datasets", nargs="*", default=list(REAL_SETS), help="real sets")
    parser.add_argument("--what", nargs="+", default=list(WHAT))
    parser.add_argument("--output", type=Path, default=RESULTS / "scale")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per method")
    parser.add_argument("--child", nargs=3, metavar=("DATA", "N", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        data, n_samples, what = args.child
        result = measure(data, int(n_samples) if n_samples != "all" else None, what)
        print(RESULT_MARK + json.dumps(result), flush=True)
        return
    jobs = [("blobs32", str(n)) for n in args.sizes] + [(d, "all") for d in args.datasets]
    rows = []
    for data, n_samples in jobs:
        runs = {what: [] for what in args.what}
        # Methods take turns within each repeat, so that a change of load reaches all.
        for _ in range(args.repeats):
            for what in args.what:
                command = [sys.executable, __file__, "--child", data, n_samples, what]
                result, wall = run_child(command, RESULT_MARK, args.timeout)
                if "error" in result:
                    print(f"{what} on {data} ({n_samples}) failed:\n{result['error']}", flush=True)
                    continue
                runs[what].append(result)
                print(
                    f"{data} {n_samples} {what}: first fit {result['first_fit_seconds']:.1f} s "
                    f"(process {wall:.0f} s)",
                    flush=True,
                )
        rows += [median_run(done) for done in runs.values() if done]
    lines = header(sys.argv[1:] if argv is None else argv, rows, args.repeats) + table(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    args.output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
