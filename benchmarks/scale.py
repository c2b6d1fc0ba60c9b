"""Fit time, stage times and peak memory from 10^4 to 10^6 rows (float32, 32 features).

One command measures, at every size, SCANClusterer and SelfSupervisedClassifier with
their defaults (``n_clusters=10``, ``random_state=0``), SCANClusterer with
``self_labeling=True`` (``SCANClusterer+self_labeling``) and SNNLTransformer (defaults),
against KMeans (defaults), PyNNDescent alone (a 10-neighbour graph) and, up to 10^5
rows, UMAP + KMeans as in the suite, each in a fresh subprocess so that its peak
resident memory and any numba compilation are its own. Fit times are reported as
ratios to PyNNDescent's graph plus its numba compilation (which every skssl fit that
mines approximately pays too) and to UMAP + KMeans (its compilation left out)::

    OMP_NUM_THREADS=1 python benchmarks/scale.py                  # 10^4, 10^5, 10^6
    python benchmarks/scale.py --sizes 1000000 --what SCANClusterer kmeans \\
        --output /tmp/scale                                        # a quick look

Stages are timed by wrapping the functions ``fit`` calls (nothing in skssl changes):
neighbour mining (``mine_neighbors``, PyNNDescent's numba compilation included above
50,000 rows), SCAN's layout and partition, training (``train_module``, SCAN's
warm start included), self-labelling (its own ``train_module`` call, when on), model
choice (SCAN's normalised cut per head, the classifier's evaluation pass of its
heads), labelling (predicting the training rows at the end of ``fit``),
and, after ``fit``, ``predict`` on all rows. Writes ``<output>.md`` and ``<output>.json``
(default ``benchmarks/results/scale``).
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import peak_rss_mb, rss_mb, run_child  # noqa: E402

RESULTS = Path(__file__).parent / "results"
RESULT_MARK = "SCALE-RESULT "
SIZES = (10_000, 100_000, 1_000_000)
ESTIMATORS = (
    "SCANClusterer",
    "SCANClusterer+self_labeling",
    "SelfSupervisedClassifier",
    "SNNLTransformer",
)
BASELINES = ("kmeans", "pynndescent", "umap+kmeans")
#: UMAP, single-threaded by its random_state, takes minutes at 10^5 rows: larger sizes
#: skip it.
UMAP_MAX_SAMPLES = 100_000
N_FEATURES, N_CLUSTERS = 32, 10


def clustered_data(n):
    """``make_blobs``-like float32 data (10 centres in [-10, 10]^32, unit spread).

    Drawn directly in float32, so the float64 copy make_blobs would make never
    inflates the peak memory measured at 10^6 rows.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    centers = rng.uniform(-10, 10, size=(N_CLUSTERS, N_FEATURES)).astype(np.float32)
    y = rng.integers(N_CLUSTERS, size=n)
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    X += centers[y]
    return X, y


class StageTimer:
    """Accumulates wall time per stage by wrapping module-level functions.

    A wrapped call inside another one (the spectral start mining its own neighbours)
    counts in the outer stage only.
    """

    def __init__(self):
        self.seconds = {}
        self.depth = 0

    def add(self, stage, seconds):
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def wrap(self, owner, name, stage):
        function = getattr(owner, name)

        def timed(*args, **kwargs):
            label = stage(args, kwargs) if callable(stage) else stage
            start = time.perf_counter()
            self.depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.add(label, time.perf_counter() - start)

        setattr(owner, name, timed)


def timed(function, *args):
    """``function(*args)`` and the wall time it took."""
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def training_stage(args, kwargs):
    return "self-labelling" if kwargs.get("description") == "self-label" else "training"


def measure(n, what):
    import numpy as np
    import torch

    torch.set_num_threads(1)
    X, y = clustered_data(n)
    rss_data = rss_mb()
    timer = StageTimer()
    details = {}
    labels = None
    if what == "kmeans":
        from sklearn.cluster import KMeans

        labels, seconds = timed(KMeans(N_CLUSTERS, random_state=0).fit_predict, X)
    elif what == "pynndescent":
        from pynndescent import NNDescent

        # Compile numba's code on a small input first, so that the graph time and the
        # once-per-process compilation are reported apart.
        def graph(rows, **options):
            return NNDescent(rows, n_neighbors=11, random_state=0, **options).neighbor_graph

        timer.add("numba compile", timed(graph, X[:2000])[1])
        seconds = timed(lambda: graph(X, low_memory=True))[1]
        timer.add("graph", seconds)
    elif what == "umap+kmeans":
        from sklearn.cluster import KMeans
        from umap import UMAP

        def umap_kmeans(rows):
            embedding = UMAP(random_state=0).fit_transform(rows)
            return KMeans(N_CLUSTERS, n_init=10, random_state=0).fit_predict(embedding)

        # A first fit pays numba's compilation, which the timed fit then leaves out. It
        # takes 5000 rows: UMAP searches neighbours exactly below 4096 rows and compiles
        # PyNNDescent (about 25 s) only on its first larger input.
        timer.add("numba compile", timed(umap_kmeans, X[:5000])[1])
        labels, seconds = timed(umap_kmeans, X)
    elif what == "SNNLTransformer":
        from sklearn.cluster import KMeans

        import skssl
        import skssl._snnl

        timer.wrap(skssl._snnl, "mine_neighbors", "neighbours")
        timer.wrap(skssl._snnl, "train_module", "training")
        model = skssl.SNNLTransformer(random_state=0)
        seconds = timed(model.fit, X)[1]
        codes, predict_seconds = timed(model.transform, X)
        timer.add("predict after fit", predict_seconds)
        # ACC of KMeans on the codes; not part of any time.
        labels = KMeans(N_CLUSTERS, random_state=0).fit_predict(codes)
        details = {
            "batch_size": min(skssl._snnl.AUTO_BATCH_SIZE, n),
            "epochs_run": model.n_iter_,
        }
    else:
        import skssl
        import skssl._base
        import skssl._classifier
        import skssl._scan

        for module in (skssl._scan, skssl._classifier):
            timer.wrap(module, "mine_neighbors", "neighbours")
            timer.wrap(module, "train_module", training_stage)
        timer.wrap(skssl._scan, "node_embedding", "layout")
        timer.wrap(skssl._scan, "density_partition", "partition")
        timer.wrap(skssl._classifier, "evaluate", "model choice")
        timer.wrap(skssl._base.TorchClustererBase, "_order_clusters", "labelling")
        name, *switches = what.split("+")
        model = getattr(skssl, name)(n_clusters=N_CLUSTERS, random_state=0)
        model.set_params(**{switch: True for switch in switches})
        schedule = model._schedule(n)
        seconds = timed(model.fit, X)[1]
        predicted, predict_seconds = timed(model.predict, X)
        timer.add("predict after fit", predict_seconds)
        labels = model.labels_
        details = {
            "batch_size": schedule.batch_size,
            "max_iter": schedule.max_iter,
            "epochs_run": model.n_iter_,
            "n_init": getattr(model, "n_init_", None),
            "predict_matches_labels": bool(np.array_equal(predicted, labels)),
        }
    from skssl.metrics import hungarian_accuracy_score

    return {
        "n": n,
        "what": what,
        "seconds": seconds,
        "stages": timer.seconds,
        "details": details,
        "data_rss_mb": rss_data,
        "peak_rss_mb": peak_rss_mb(),
        "accuracy": None if labels is None else float(hungarian_accuracy_score(y, labels)),
        "load_average": os.getloadavg(),
    }


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import torch

    return (
        f"{model}, {os.cpu_count()} cores, {memory_gb:.0f} GB RAM; Python "
        f"{platform.python_version()}, Torch {torch.__version__} on CPU with one thread, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )


def stage_text(row):
    stages = row["stages"]
    if not stages:
        return "-"
    text = ", ".join(f"{name} {value:.1f}" for name, value in stages.items())
    fit_stages = sum(
        v for k, v in stages.items() if k not in ("predict after fit", "numba compile")
    )
    if row["what"] in ESTIMATORS:
        text += f", other {row['seconds'] - fit_stages:.1f}"
    return text


def schedule_text(row):
    details = row["details"]
    if not details:
        return "-"
    text = f"{details['epochs_run']} epochs x {details['batch_size']}"
    if details.get("n_init") is not None:
        text += f", n_init {details['n_init']}"
    return text


def table(rows, header):
    by_key = {(row["n"], row["what"]): row for row in rows}
    lines = [
        *header,
        "",
        "| n | what | fit s | µs per row | per-row growth | fit / KMeans "
        "| fit / (PyNNDescent + compile) | fit / UMAP+KMeans "
        "| schedule | stages (s) | peak RSS MB | ACC | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    sizes = sorted({row["n"] for row in rows})
    for row in rows:
        n, what, seconds = row["n"], row["what"], row["seconds"]
        smaller = [m for m in sizes if m < n and (m, what) in by_key]
        growth = "-"
        if smaller:
            previous = by_key[(smaller[-1], what)]
            growth = f"{(seconds / n) / (previous['seconds'] / previous['n']):.2f}x"
        ratios = []
        for baseline in BASELINES:
            other = by_key.get((n, baseline))
            if what not in ESTIMATORS or other is None or other["seconds"] <= 0:
                ratios.append("-")
                continue
            # PyNNDescent's numba compilation is paid by every process that mines
            # approximately (skssl's fits above 50,000 rows), UMAP's is left out as in
            # the suite: its warm-up fit pays it.
            compile_seconds = other["stages"].get("numba compile", 0.0)
            if baseline == "pynndescent":
                ratio = seconds / (other["seconds"] + compile_seconds)
            else:
                ratio = seconds / other["seconds"]
            ratios.append(f"{ratio:.2f}" if ratio < 10 else f"{ratio:.0f}")
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        lines.append(
            f"| {n:,} | {what} | {seconds:.1f} | {seconds / n * 1e6:.0f} | {growth} | "
            f"{ratios[0]} | {ratios[1]} | {ratios[2]} | {schedule_text(row)} | "
            f"{stage_text(row)} | "
            f"{row['peak_rss_mb']:.0f} | "
            f"{accuracy} | {row['load_average'][0]:.2f} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--what", nargs="+", default=[*ESTIMATORS, *BASELINES])
    parser.add_argument("--output", default=str(RESULTS / "scale"))
    parser.add_argument("--one", nargs=2, metavar=("N", "WHAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(RESULT_MARK + json.dumps(measure(int(args.one[0]), args.one[1])))
        return
    rows = []
    for n in args.sizes:
        for what in args.what:
            if what == "umap+kmeans" and n > UMAP_MAX_SAMPLES:
                continue
            result, _ = run_child([sys.executable, __file__, "--one", str(n), what], RESULT_MARK)
            if "error" in result:
                print(f"{what} at n={n} failed:\n{result['error']}", file=sys.stderr)
                continue
            rows.append(result)
            print(json.dumps(rows[-1]), flush=True)
    header = [
        f"Machine: {machine()}.",
        "",
        f"Data: float32, {N_FEATURES} features, {N_CLUSTERS} Gaussian blobs (unit spread, "
        "centres in [-10, 10]); each fit in a fresh process, estimators with their defaults "
        f"and n_clusters={N_CLUSTERS}, random_state=0 (SCANClusterer+self_labeling: "
        "self_labeling=True); 'schedule' is the epochs run (self-labelling's included) "
        "and the batch size; SNNLTransformer with its defaults (ACC: KMeans on its codes, "
        "untimed); KMeans with its defaults; PyNNDescent alone builds a 10-neighbour graph "
        "(its numba compilation, paid once per process, is timed apart; fit / "
        "(PyNNDescent + compile) divides by the sum, as every skssl fit above 50,000 rows "
        "pays both); UMAP() + KMeans(n_init=10) as in the suite, up to "
        f"{UMAP_MAX_SAMPLES:,} rows, after a warm-up fit on 5000 rows that pays its numba "
        "compilation, PyNNDescent's included (left out of its time). 'fit s' is the wall "
        "time of "
        "fit alone; its stages are neighbours (PyNNDescent's compilation included above "
        "50,000 rows), SCAN's layout of the graph and its partition, training, "
        "self-labelling (off by default), model choice, labelling "
        "of the training rows and 'other' (validation, setup); 'predict after fit' predicts "
        "all rows and is not part of 'fit s'. Per-row growth compares µs per row with the "
        "next smaller size. Peak RSS is the whole process's (data and predict included). "
        "Load is the 1-minute load average when the fit ended: the machine is shared.",
    ]
    lines = table(rows, header)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n"
    )
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
