"""Can a label-free test tell when KMeans' model, not the density partition, fits the data?

`SCANClusterer` reads its clusters from a density partition of the neighbour graph's
layout. On wine and the overlapping 2-d blobs, KMeans scores higher (Gaussian clusters,
KMeans' own model); on the digits, USPS and pen digits the density partition is far
ahead. This script measures, on the suite's tabular sets, the partitions a default could
start from and two label-free rules that might choose between them:

- *density*: the partition that `SCANClusterer` trains its network on: its graph stage
  (``graph_stage``), seeded as the estimator seeds it (``methods.scan_graph_stage``);
- *KMeans*: `KMeans(n_init=10)` on the input;
- *Lloyd from density* and *EM from density*: KMeans, and Gaussian mixtures with
  spherical, diagonal and full covariances, started from the density clusters' means;
- *G-means rejections*: G-means' test (Hamerly and Elkan, 2003) on each KMeans cluster.
  The cluster is split by 2-means, its rows projected on the line through the two
  centres, and the Anderson-Darling statistic (with Stephens' correction) compared with
  G-means' critical value 1.8692 (significance 0.0001). If no cluster rejects, the data
  look like a Gaussian mixture;
- *stability*: the mean adjusted Rand index between fits on two random 80% subsamples,
  on the rows that both hold (Ben-Hur, Elisseeff and Guyon, 2002), over 3 pairs.

Run: ``OMP_NUM_THREADS=1 python benchmarks/partition_choice.py`` (about 10 minutes on
two cores). Writes ``benchmarks/results/partition_choice.md``.
"""

import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import anderson  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local import sibling  # noqa: E402

from skssl.metrics import hungarian_accuracy_score  # noqa: E402

load, methods = sibling("datasets").load, sibling("methods")

RESULTS = Path(__file__).parent / "results"
DATA_SETS = ["wine", "breast_cancer", "iris", "blobs", "digits", "pendigits", "usps"]
#: G-means' critical value of the corrected Anderson-Darling statistic (alpha = 0.0001).
GMEANS_CRITICAL = 1.8692


def density(X, n_clusters, random_state):
    """The density partition that SCANClusterer(random_state=random_state) trains on."""
    return methods.scan_graph_stage(X, n_clusters, random_state).partition


def kmeans(X, n_clusters, random_state):
    return methods.build("kmeans", n_clusters, random_state).fit_predict(X)


def gmeans_rejections(X, labels, random_state):
    """How many clusters of ``labels`` G-means' Anderson-Darling test rejects as Gaussian."""
    rejected = 0
    for cluster in np.unique(labels):
        rows = X[labels == cluster]
        split = KMeans(2, n_init=3, random_state=random_state).fit(rows).cluster_centers_
        direction = split[0] - split[1]
        projected = rows @ direction
        projected = (projected - projected.mean()) / projected.std()
        n = len(projected)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            statistic = anderson(projected).statistic
        rejected += statistic * (1 + 4 / n - 25 / n**2) > GMEANS_CRITICAL
    return int(rejected)


def stability(method, X, n_clusters, random_state, n_pairs=3, fraction=0.8):
    rng = np.random.default_rng(random_state)
    size = int(fraction * X.shape[0])
    scores = []
    for pair in range(n_pairs):
        a, b = (np.sort(rng.choice(X.shape[0], size, replace=False)) for _ in range(2))
        labels_a = method(X[a], n_clusters, 2 * pair)
        labels_b = method(X[b], n_clusters, 2 * pair + 1)
        _, in_a, in_b = np.intersect1d(a, b, return_indices=True)
        scores.append(adjusted_rand_score(labels_a[in_a], labels_b[in_b]))
    return float(np.mean(scores))


def started_from(X, y, partition, n_clusters, seed):
    """Accuracy of Lloyd and of EM (three covariance types) started from ``partition``."""
    means = np.stack([X[partition == c].mean(axis=0) for c in range(n_clusters)])
    scores = {"Lloyd": KMeans(n_clusters, init=means, n_init=1).fit_predict(X)}
    for covariance in ("spherical", "diag", "full"):
        mixture = GaussianMixture(
            n_clusters, covariance_type=covariance, means_init=means, random_state=seed
        )
        scores[f"EM {covariance}"] = mixture.fit(X).predict(X)
    return {name: hungarian_accuracy_score(y, labels) for name, labels in scores.items()}


def measure(name, seed):
    X, y = load(name, seed=seed)
    n_clusters = len(np.unique(y))
    partition = density(X, n_clusters, seed)
    centroids = kmeans(X, n_clusters, seed)
    row = {
        "density": hungarian_accuracy_score(y, partition),
        "KMeans": hungarian_accuracy_score(y, centroids),
        **started_from(X, y, partition, n_clusters, seed),
        "rejections": f"{gmeans_rejections(X, centroids, seed)}/{n_clusters}",
        "stability density": stability(density, X, n_clusters, seed),
        "stability KMeans": stability(kmeans, X, n_clusters, seed),
    }
    print(name, seed, row, flush=True)
    return row


def main():
    torch.set_num_threads(1)
    columns = None
    lines = []
    for name in DATA_SETS:
        for seed in range(5) if name == "blobs" else range(3):
            row = measure(name, seed)
            if columns is None:
                columns = list(row)
                lines.append("| data | seed | " + " | ".join(columns) + " |")
                lines.append("|---" * (len(columns) + 2) + "|")
            cells = [f"{v:.3f}" if isinstance(v, float) else v for v in row.values()]
            lines.append(f"| {name} | {seed} | " + " | ".join(cells) + " |")
    text = "\n".join(
        [
            "# Label-free choice between the density partition and KMeans' model",
            "",
            "Written by `benchmarks/partition_choice.py` (see its docstring for each column);"
            " do not edit by hand. Hungarian accuracy; *rejections*: KMeans clusters that"
            " G-means' test rejects as Gaussian; *stability*: mean ARI between fits on two"
            " 80% subsamples. Data prepared as in the suite (`benchmarks/datasets.py`).",
            "",
            *lines,
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "partition_choice.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
