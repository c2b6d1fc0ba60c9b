"""Prediction throughput: a LocalCluster of 2 workers against one process.

A :class:`~skssl.SCANClusterer` (defaults, ``n_clusters=10``, ``random_state=0``)
is fitted on 10^4 rows of 32-d float32 Gaussian blobs (the centres of
``benchmarks/scale.py``), then predicts ``--rows`` rows of the same distribution in
blocks of ``--block-rows``:

- in this process, one Torch thread, block after block;
- with :func:`skssl.dask.predict` on a ``LocalCluster`` of ``--workers`` worker
  processes of one thread each, with ``MALLOC_TRIM_THRESHOLD_`` unset in the workers and
  with distributed's default (65536).

Each block is drawn where it is predicted, from its own seed, so the data never
have to fit in the client's memory and both runs see the same rows; the timed work
is drawing plus predicting, in both. Warm-ups (imports, the model's transfer) are
not timed. Rows per second, their ratio, each worker's peak resident memory
(``VmHWM``) and whether the two runs' labels are equal go to ``--output``
(default ``benchmarks/results/throughput.md``)::

    OMP_NUM_THREADS=1 python benchmarks/throughput.py                  # 10^7 rows
    OMP_NUM_THREADS=1 python benchmarks/throughput.py --rows 1000000   # a quick run

The 10^7-row run needs both cores free and about 4 GB of memory.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _local import sibling  # noqa: E402

RESULTS = Path(__file__).parent / "results"
N_FEATURES, N_CLUSTERS, FIT_ROWS = 32, 10, 10_000
FIT_STREAM, PREDICT_STREAM = 1, 2


def draw(stream, index, n):
    """Rows ``n`` of block ``index`` of a stream: blobs, float32, seeded by both."""
    centers = np.random.default_rng(0).uniform(-10, 10, size=(N_CLUSTERS, N_FEATURES))
    rng = np.random.default_rng([stream, index])
    X = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    X += centers.astype(np.float32)[rng.integers(N_CLUSTERS, size=n)]
    return X


def _draw_block(block_info=None):
    location = block_info[None]
    start, stop = location["array-location"][0]
    return draw(PREDICT_STREAM, location["chunk-location"][0], stop - start)


def peak_rss_mb():
    """This process's peak resident memory (VmHWM).

    Not ru_maxrss: Linux carries it over from the parent into a spawned worker, whose
    own figure would then read as the client's.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _import_skssl():
    import skssl._scan  # noqa: F401


def block_sizes(rows, block_rows):
    tail = (rows % block_rows,) if rows % block_rows else ()
    return (block_rows,) * (rows // block_rows) + tail


def one_process(model, sizes):
    model.predict(draw(PREDICT_STREAM, 0, 8192))  # warm-up
    start = time.perf_counter()
    labels = np.concatenate(
        [model.predict(draw(PREDICT_STREAM, index, n)) for index, n in enumerate(sizes)]
    )
    return labels, time.perf_counter() - start


def on_cluster(model, sizes, n_workers, trim_threshold=None):
    """Labels, seconds and peak RSS per worker; ``trim_threshold``: the workers' own."""
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    import skssl.dask

    # distributed's nanny gives its workers MALLOC_TRIM_THRESHOLD_=65536, which also
    # turns off glibc's adaptive mmap threshold: every chunk's activations are then
    # fresh pages from the kernel, and predict ran 2.3x slower (131,072 rows).
    environ = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": trim_threshold}
    with (
        dask.config.set(environ),
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_import_skssl)
        X = da.map_blocks(_draw_block, chunks=(sizes, (N_FEATURES,)), dtype=np.float32)
        skssl.dask.predict(model, X[: 2 * sizes[0]]).compute()  # the model reaches the workers
        start = time.perf_counter()
        labels = skssl.dask.predict(model, X).compute()
        seconds = time.perf_counter() - start
        peaks = client.run(peak_rss_mb)
    return labels, seconds, [peaks[worker] for worker in sorted(peaks)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--block-rows", type=int, default=2**17, help="a multiple of 8192")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "throughput.md")
    args = parser.parse_args()

    import torch

    from skssl import SCANClusterer

    torch.set_num_threads(1)
    start = time.perf_counter()
    model = SCANClusterer(n_clusters=N_CLUSTERS, random_state=0)
    model.fit(draw(FIT_STREAM, 0, FIT_ROWS))
    fit_seconds = time.perf_counter() - start
    sizes = block_sizes(args.rows, args.block_rows)
    local_labels, local_seconds = one_process(model, sizes)
    local_peak = peak_rss_mb()
    runs = {}
    for trim_threshold in (None, 65536):
        labels, seconds, peaks = on_cluster(model, sizes, args.workers, trim_threshold)
        runs[trim_threshold] = seconds, peaks, np.array_equal(labels, local_labels)
        del labels
    equal = all(run[2] for run in runs.values())

    local_rate = args.rows / local_seconds
    load = os.getloadavg()[0]
    lines = [
        f"Machine: {sibling('scale').machine()}; 1-minute load average at the end: "
        f"{load:.2f} (the machine is shared).",
        "",
        f"SCANClusterer(n_clusters={N_CLUSTERS}, random_state=0) fitted on {FIT_ROWS:,} "
        f"rows of 32-d float32 blobs in {fit_seconds:.1f} s predicts {args.rows:,} rows "
        f"of the same distribution in {len(sizes)} blocks of {args.block_rows:,} rows, "
        "each drawn where it is predicted (drawing is timed with predicting); warm-ups "
        "untimed. Peak memory is VmHWM of each process, one figure per worker (the "
        "one process's includes the fit). "
        f"Labels of the two runs equal: {'yes' if equal else 'NO'}.",
        "",
        "| run | seconds | rows / s | ratio to one process | peak RSS MB |",
        "|---|---|---|---|---|",
        f"| one process, 1 Torch thread | {local_seconds:.1f} | {local_rate:,.0f} | 1.00 "
        f"| {local_peak:.0f} |",
    ]
    for trim_threshold, (seconds, peaks, _) in runs.items():
        setting = "unset" if trim_threshold is None else f"{trim_threshold} (distributed's default)"
        lines.append(
            f"| LocalCluster, {args.workers} workers x 1 thread, MALLOC_TRIM_THRESHOLD_ "
            f"{setting} | {seconds:.1f} | {args.rows / seconds:,.0f} | "
            f"{local_seconds / seconds:.2f} | {', '.join(f'{peak:.0f}' for peak in peaks)} |"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
