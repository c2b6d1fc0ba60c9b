"""``n_clusters="auto"`` against the label-free counts a user would otherwise try.

Writes ``results/n_clusters.md`` and ``.json`` (the user guide includes the table).
On each data set and seed, in one run:

- ``SCANClusterer(n_clusters="auto")`` and ``SelfSupervisedClassifier(n_clusters="auto")``:
  the count found, the Hungarian accuracy, and the fit time, beside the same
  estimator given the true count;
- the peers, each over the same candidates ``2..floor(sqrt(n / 2))`` where it takes a
  range: GaussianMixture's lowest BIC (full covariance, diagonal above 100 features,
  as in the suite), KMeans' best silhouette (``n_init=10``, raw input), HDBSCAN's
  defaults, UMAP's clustering settings (``n_neighbors=30, min_dist=0``) + HDBSCAN
  with umap-learn's guide's ``min_samples=10`` and its ``min_cluster_size`` of 500 in
  70,000 rows scaled to the data, and EVoC's default layer. HDBSCAN's and EVoC's noise
  is not counted as a cluster.

Silhouettes above 5000 rows use a seeded 5000-row sample, as the estimators do.

    python benchmarks/n_clusters.py                        # every part, then the tables
    python benchmarks/n_clusters.py --part peers --data usps --seeds 0   # one part
"""

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local import sibling  # noqa: E402

load, methods = sibling("datasets").load, sibling("methods")

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("digits", "wine", "breast_cancer", "blobs", "usps", "pendigits", "iris")
SEEDS = (0, 1, 2)
SAMPLE = 5000


def candidate_range(n_samples):
    return range(2, max(2, math.isqrt(n_samples // 2)) + 1)


def gmm_bic(X, seed):
    bics = {
        k: methods.build("gmm", k, seed, X.shape[1]).fit(X).bic(X)
        for k in candidate_range(X.shape[0])
    }
    return min(bics, key=bics.get)


def kmeans_silhouette(X, seed):
    from sklearn.metrics import silhouette_score

    size = min(SAMPLE, X.shape[0])
    scores = {}
    for k in candidate_range(X.shape[0]):
        labels = methods.build("kmeans", k, seed).fit_predict(X)
        scores[k] = silhouette_score(X, labels, sample_size=size, random_state=seed)
    return max(scores, key=scores.get)


def count(labels):
    return int(np.unique(labels[labels >= 0]).shape[0])


def hdbscan(X, seed):
    return count(methods.build("hdbscan", None, seed).fit_predict(X))


def umap_hdbscan(X, seed):
    from sklearn.cluster import HDBSCAN
    from umap import UMAP

    layout = UMAP(n_neighbors=30, min_dist=0.0, random_state=seed).fit_transform(X)
    size = max(5, round(500 * X.shape[0] / 70000))
    return count(HDBSCAN(min_samples=10, min_cluster_size=size).fit_predict(layout))


def evoc_default(X, seed):
    return count(methods.build("evoc", None, seed).fit(X).labels_)  # no approx_n_clusters


PEERS = {
    "GMM BIC": gmm_bic,
    "KMeans silhouette": kmeans_silhouette,
    "HDBSCAN": hdbscan,
    "UMAP + HDBSCAN": umap_hdbscan,
    "EVoC default layer": evoc_default,
}


#: The estimators compared, by name: their method in ``benchmarks/methods.py``.
ESTIMATORS = {"SCANClusterer": "scan", "SelfSupervisedClassifier": "ssc-minmax"}


def skssl_fit(name, n_clusters, X, seed):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = methods.build(ESTIMATORS[name], n_clusters, seed).fit(X)
    seconds = time.perf_counter() - start
    weak = any("weak estimate" in str(w.message) for w in caught)
    return model, seconds, weak


def measure(part, names, seeds):
    import torch

    from skssl.metrics import hungarian_accuracy_score

    torch.set_num_threads(1)
    if part != "peers":
        # A first fit pays Torch's one-off start-up; it is timed in neither column.
        warm_up, _ = load("iris")
        skssl_fit(part, "auto", warm_up, 0)
    rows = []
    for name in names:
        for seed in seeds:
            X, y = load(name, seed)
            true = int(np.unique(y).shape[0])
            row = {"data": name, "seed": seed, "true": true, "n_samples": X.shape[0]}
            if part == "peers":
                for peer, count_of in PEERS.items():
                    start = time.perf_counter()
                    try:
                        row[peer] = count_of(X, seed)
                    except Exception as error:  # EVoC fails on 2-d input
                        row[peer] = f"error: {type(error).__name__}"
                    row[peer + " s"] = time.perf_counter() - start
            else:
                auto, auto_s, weak = skssl_fit(part, "auto", X, seed)
                fixed, fixed_s, _ = skssl_fit(part, true, X, seed)
                row.update(
                    count=int(auto.n_clusters_),
                    weak=weak,
                    auto_acc=hungarian_accuracy_score(y, auto.labels_),
                    true_acc=hungarian_accuracy_score(y, fixed.labels_),
                    auto_s=auto_s,
                    true_s=fixed_s,
                )
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def summarise(rows_by_part):
    """Markdown tables: counts per data set and method, then skssl's accuracy and time."""
    data = [d for d in DATASETS if any(r["data"] == d for r in rows_by_part["peers"])]
    methods = [p for p in ("SCANClusterer", "SelfSupervisedClassifier") if rows_by_part.get(p)]
    columns = [f"{m}(n_clusters='auto')" for m in methods] + list(PEERS)

    def counts(column, name):
        if column in PEERS:
            return [r[column] for r in rows_by_part["peers"] if r["data"] == name]
        method = column.split("(")[0]
        return [r["count"] for r in rows_by_part[method] if r["data"] == name]

    def median(values):
        numbers = [v for v in values if isinstance(v, int)]
        return None if len(numbers) < len(values) else int(np.median(numbers))

    lines = ["| data | true | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    exact = dict.fromkeys(columns, 0)
    near = dict.fromkeys(columns, 0)
    for name in data:
        true = next(r["true"] for r in rows_by_part["peers"] if r["data"] == name)
        cells = []
        for column in columns:
            values = counts(column, name)
            found = median(values)
            exact[column] += found == true
            near[column] += found is not None and abs(found - true) <= 2
            shown = ", ".join(str(v) if isinstance(v, int) else "error" for v in values)
            cells.append(f"**{shown}**" if found == true else shown)
        lines.append(f"| {name} | {true} | " + " | ".join(cells) + " |")
    lines.append(
        "| exact (median of seeds) | | " + " | ".join(str(exact[c]) for c in columns) + " |"
    )
    lines.append("| within 2 | | " + " | ".join(str(near[c]) for c in columns) + " |")
    tables = ["\n".join(lines)]
    for method in methods:
        rows = rows_by_part[method]
        table = [
            f"**{method}**: accuracy with `n_clusters='auto'` and with the true count "
            "(mean over seeds), and the median ratio of their fit times.",
            "",
            "| data | counts found | weak-estimate warnings | ACC auto | ACC true count "
            "| fit time auto / true count |",
            "|---|---|---|---|---|---|",
        ]
        for name in data:
            mine = [r for r in rows if r["data"] == name]
            table.append(
                f"| {name} | {', '.join(str(r['count']) for r in mine)} "
                f"| {sum(r['weak'] for r in mine)} of {len(mine)} "
                f"| {np.mean([r['auto_acc'] for r in mine]):.3f} "
                f"| {np.mean([r['true_acc'] for r in mine]):.3f} "
                f"| {np.median([r['auto_s'] / r['true_s'] for r in mine]):.2f} |"
            )
        tables.append("\n".join(table))
    return "\n\n".join(tables)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["peers", "SCANClusterer", "SelfSupervisedClassifier"])
    parser.add_argument("--data", nargs="*", default=list(DATASETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=list(SEEDS))
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.part:
        # One file per part and data sets, so that parts run side by side.
        rows = measure(args.part, args.data, args.seeds)
        name = f"n_clusters_{args.part}_{'-'.join(args.data)}.json"
        (RESULTS / name).write_text(json.dumps(rows, indent=1))
        return
    parts = {}
    for part in ("peers", "SCANClusterer", "SelfSupervisedClassifier"):
        files = sorted(RESULTS.glob(f"n_clusters_{part}_*.json"))
        if not files:
            rows = measure(part, args.data, args.seeds)
            (RESULTS / f"n_clusters_{part}_all.json").write_text(json.dumps(rows, indent=1))
            files = [RESULTS / f"n_clusters_{part}_all.json"]
        parts[part] = [row for path in files for row in json.loads(path.read_text())]
    header = (
        "# n_clusters='auto' against label-free peers\n\n"
        "Written by `benchmarks/n_clusters.py`; do not edit by hand. Seeds 0-2 (for blobs "
        "they are also the data seeds); a count in bold is the true one, in the median "
        "over seeds. Where a cell holds one figure, only seed 0 ran (`--seeds 0`: the "
        "GMM and KMeans scans over USPS's 68 candidates took about 12 minutes a seed). "
        "EVoC rejects 2-D input (`n_components=4 must be between 0 and min(n_samples, "
        "n_features)=2`).\n\n"
    )
    (RESULTS / "n_clusters.md").write_text(header + summarise(parts) + "\n")
    print(header + summarise(parts))


if __name__ == "__main__":
    main()
