"""SCAN's graph stage against EVoC's, step by step, and each layout on the same neighbours.

Usage::

    python benchmarks/stage_isolation.py                   # USPS, Fashion test, pen digits
    python benchmarks/stage_isolation.py --datasets usps --seeds 0

One process, one thread for Torch and numba, float32 rows. Each data set's steps run
once first (imports, numba's caches and Torch's first calls paid), then once per seed,
timed warm:

- *EVoC*: its own steps, from its modules (``knn_graph``, ``neighbor_graph_matrix``,
  ``label_propagation_init``, ``node_embedding`` with EVoC's defaults: 50 epochs, 4
  dimensions at 15 neighbours, and ``binary_search_for_n_clusters`` for ``k``
  clusters), as ``EVoC(approx_n_clusters=k)`` runs them;
- *SCAN's graph stage*: skssl's mining, fuzzy graph (the *graph* column), layout
  (its spectral start included) and density partition;
- *EVoC's layout on SCAN's neighbours*: EVoC's graph, start and embedding built from
  skssl's neighbour lists (each row first, at distance 0, as EVoC's lists hold it),
  then skssl's density partition of that embedding, so that the two layouts differ
  and nothing else;
- *SCAN's fit*: ``SCANClusterer(n_clusters=k)``'s whole fit, warm; its *training* is
  the fit less its graph stage's steps.

Accuracy is the Hungarian accuracy of the partition (of the fit's labels for the fit),
mean over seeds. Writes ``<output>.md`` (default ``benchmarks/results/stage_isolation``).
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import cpu_model  # noqa: E402
from _local import sibling  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NEIGHBORS = 15
#: EVoC's defaults in ``evoc_clusters`` (its node embedding's dimensions at 15
#: neighbours, its start's parts and iterations, its noise and step size).
EVOC_COMPONENTS = 4
EVOC_EPOCHS = 50
EVOC_NOISE = 0.5


def timed(seconds, name, function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds[name] = time.perf_counter() - start
    return result


def evoc_steps(X, k, seed, neighbors=None):
    """EVoC's steps (from its own lists unless ``neighbors`` = (indices, distances))."""
    from evoc.clustering_utilities import binary_search_for_n_clusters
    from evoc.graph_construction import neighbor_graph_matrix
    from evoc.knn_graph import knn_graph
    from evoc.label_propagation import label_propagation_init
    from evoc.node_embedding import node_embedding

    random_state, seconds = np.random.RandomState(seed), {}
    own_lists = neighbors is None
    if own_lists:
        neighbors = timed(
            seconds, "mining", knn_graph, X, n_neighbors=NEIGHBORS, random_state=random_state
        )
    graph = timed(seconds, "graph", neighbor_graph_matrix, float(NEIGHBORS), *neighbors, True)
    start = timed(
        seconds,
        "start",
        label_propagation_init,
        graph,
        n_components=EVOC_COMPONENTS,
        approx_n_parts=int(np.clip(8 * np.sqrt(X.shape[0]), 256, 16384)),
        random_scale=0.1,
        scaling=0.5,
        noise_level=EVOC_NOISE,
        random_state=random_state,
        data=X,
        n_label_prop_iter=20,
    )
    layout = timed(
        seconds,
        "layout",
        node_embedding,
        graph,
        n_components=EVOC_COMPONENTS,
        n_epochs=EVOC_EPOCHS,
        initial_embedding=start,
        negative_sample_rate=1.0,
        noise_level=EVOC_NOISE,
        random_state=random_state,
        verbose=False,
        reproducible_flag=True,
        initial_alpha=0.1,
    )
    labels = None
    if own_lists:
        labels = timed(seconds, "partition", binary_search_for_n_clusters, layout, k, 1)[0]
    return layout, labels, seconds


def scan_steps(X, k, seed):
    """skssl's graph stage, step by step (``GraphStage.seconds``)."""
    from skssl._graph import graph_stage

    stage = graph_stage(X, k, random_state=seed)
    return stage, dict(stage.seconds)


def measure(data, seeds):
    import numba
    import torch

    from skssl import SCANClusterer
    from skssl._graph.partition import density_partition
    from skssl.metrics import hungarian_accuracy_score

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    X, y = sibling("datasets").load(data, dtype=np.float32)
    k = int(np.unique(y).size)
    rows = {}

    def add(name, seconds, accuracy):
        rows.setdefault(name, []).append({**seconds, "accuracy": accuracy})

    for run, seed in enumerate([seeds[0], *seeds]):
        _, evoc_labels, evoc_seconds = evoc_steps(X, k, seed)
        stage, scan_seconds = scan_steps(X, k, seed)
        own = np.arange(X.shape[0])[:, None]
        lists = (
            np.hstack([own, stage.neighbors]).astype(np.int32),
            np.hstack([np.zeros_like(own, dtype=np.float32), stage.distances]).astype(np.float32),
        )
        crossed, _, crossed_seconds = evoc_steps(X, k, seed, neighbors=lists)
        partition = timed(
            crossed_seconds,
            "partition",
            density_partition,
            crossed,
            k,
            stage.neighbors,
            random_state=seed,
        )[0]
        fit_seconds = {}
        model = timed(fit_seconds, "fit", SCANClusterer(n_clusters=k, random_state=seed).fit, X)
        fit_seconds["training"] = fit_seconds["fit"] - sum(scan_seconds.values())
        if run == 0:
            continue  # the warm-up: imports, caches and first calls
        add("EVoC", evoc_seconds, hungarian_accuracy_score(y, evoc_labels))
        add("SCAN's graph stage", scan_seconds, hungarian_accuracy_score(y, stage.partition))
        add(
            "EVoC's layout on SCAN's neighbours, SCAN's partition",
            crossed_seconds,
            hungarian_accuracy_score(y, partition),
        )
        add("SCAN's fit", fit_seconds, hungarian_accuracy_score(y, model.labels_))
    return X.shape, rows


STEPS = ("mining", "graph", "start", "layout", "partition", "training", "fit")
#: skssl's names for its steps in this table's columns.
SCAN_NAMES = {"fuzzy_graph": "graph", "hierarchy": "partition"}


def table(results):
    lines = [
        "| data | steps | " + " | ".join(STEPS) + " | steps' sum | accuracy |",
        "|---" * (len(STEPS) + 4) + "|",
    ]
    for (data, shape), rows in results.items():
        for name, runs in rows.items():
            means = {}
            for step in STEPS:
                values = [
                    sum(v for key, v in run.items() if SCAN_NAMES.get(key, key) == step)
                    for run in runs
                    if any(SCAN_NAMES.get(key, key) == step for key in run)
                ]
                means[step] = np.mean(values) if values else None
            total = sum(v for step, v in means.items() if v is not None and step != "fit")
            accuracy = np.mean([run["accuracy"] for run in runs])
            cells = " | ".join("-" if v is None else f"{v:.2f}" for v in means.values())
            lines.append(
                f"| {data} ({shape[0]:,} x {shape[1]}) | {name} | {cells} | "
                f"{'-' if means['fit'] is not None else f'{total:.2f}'} | {accuracy:.4f} |"
            )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["usps", "fashion_test", "pendigits"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--output", default=str(RESULTS / "stage_isolation"))
    args = parser.parse_args()
    results = {}
    for data in args.datasets:
        shape, rows = measure(data, args.seeds)
        results[data, shape] = rows
        print(data, "done", flush=True)
    command = " ".join(["python benchmarks/stage_isolation.py", *sys.argv[1:]])
    lines = [
        "Written by `benchmarks/stage_isolation.py` (its docstring defines each row); do not "
        f"edit by hand. Command: `{command}`."
        f" Machine: {cpu_model()}, {os.cpu_count()} cores, one thread for Torch and numba. "
        f"Seconds (warm) and accuracy are means over seeds {', '.join(map(str, args.seeds))}.",
        "",
        *table(results),
    ]
    Path(args.output).with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
