"""N2D on Fashion-MNIST with its autoencoder cut to the passes a laptop affords.

N2D (McConville et al., 2020) reports 0.672 on Fashion-MNIST: an autoencoder
784-500-500-2000-10 (ReLU, batch 256, Adam, mean squared error) pretrained for 1000
passes, then UMAP(n_components=10, n_neighbors=20, min_dist=0) of its codes and a
full-covariance Gaussian mixture. This script times one pass of that autoencoder over
all 70,000 rows, and runs the whole recipe with ``--passes`` passes (default 10), so that
its accuracy can be read beside its time, and KMeans on the codes beside it.

Run: ``python benchmarks/n2d_budget.py [--passes 10] [--seeds 0 1]`` (about 4 minutes a
seed on two cores at 10 passes). Writes ``benchmarks/results/n2d_budget.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import load  # noqa: E402

from skssl.metrics import hungarian_accuracy_score  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LAYERS = [784, 500, 500, 2000, 10]
PUBLISHED_PASSES = 1000


def dense_stack(sizes):
    layers = []
    for width_in, width_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(width_in, width_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def n2d(X, y, passes, seed):
    import umap

    torch.manual_seed(seed)
    encoder, decoder = dense_stack(LAYERS), dense_stack(LAYERS[::-1])
    autoencoder = torch.nn.Sequential(encoder, decoder)
    optimizer = torch.optim.Adam(autoencoder.parameters())
    data = torch.from_numpy(X.astype(np.float32))
    started = time.perf_counter()
    pass_times = []
    for _ in range(passes):
        pass_started = time.perf_counter()
        for batch in torch.randperm(len(data)).split(256):
            x = data[batch]
            loss = ((autoencoder(x) - x) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        pass_times.append(time.perf_counter() - pass_started)
    with torch.no_grad():
        codes = encoder(data).numpy()
    trained = time.perf_counter()
    embedding = umap.UMAP(
        n_components=10, n_neighbors=20, min_dist=0.0, random_state=seed
    ).fit_transform(codes)
    labels = GaussianMixture(10, covariance_type="full", random_state=seed).fit_predict(embedding)
    finished = time.perf_counter()
    on_codes = KMeans(10, n_init=10, random_state=seed).fit_predict(codes)
    return {
        "seed": seed,
        "pass (s)": float(np.median(pass_times)),
        "autoencoder (s)": trained - started,
        "N2D ACC": hungarian_accuracy_score(y, labels),
        "N2D fit (s)": finished - started,
        "KMeans on the codes ACC": hungarian_accuracy_score(y, on_codes),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    X, y = load("fashion_mnist")
    rows = [n2d(X, y, args.passes, seed) for seed in args.seeds]
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        cells = [
            f"{v:.3f}" if "ACC" in k else f"{v:.1f}" if isinstance(v, float) else str(v)
            for k, v in row.items()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    pass_seconds = np.median([row["pass (s)"] for row in rows])
    text = "\n".join(
        [
            "# N2D on Fashion-MNIST within a laptop's time",
            "",
            "Written by `benchmarks/n2d_budget.py`; do not edit by hand. All 70,000 rows,"
            f" {args.passes} autoencoder passes instead of the published {PUBLISHED_PASSES},"
            f" Torch threads: {torch.get_num_threads()}. Published: 0.672.",
            "",
            *lines,
            "",
            f"At {pass_seconds:.1f} s a pass, the published {PUBLISHED_PASSES} passes would"
            f" take about {PUBLISHED_PASSES * pass_seconds / 3600:.1f} hours here.",
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "n2d_budget.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
