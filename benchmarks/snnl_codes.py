"""SNNLTransformer's codes against the raw input, PCA, UMAP, NCA and LDA.

Unsupervised: KMeans(10, n_init=10) on the raw input, the standardised input,
PCA(10), UMAP(10) and the default SNNLTransformer codes (10 wide), on digits, USPS
and pendigits; Hungarian accuracy and NMI, and each fit time as a ratio to UMAP's
(measured in the same run). Supervised (``supervised=True``): a 5-NN classifier
fitted on the labelled training rows and scored on 30% held-back rows never seen in
fit, against the raw and standardised input, NeighborhoodComponentsAnalysis(10) and
LinearDiscriminantAnalysis (9 components, the most 10 classes allow), with all
training rows labelled and with 15% (the rest passed as -1), on digits and USPS.

Both UMAP and SNNLTransformer get ``random_state=seed``, which makes each run on one
thread (UMAP turns off its parallel code for a seeded fit; Torch is set to one
thread here). UMAP's numba code (PyNNDescent's included) is compiled before the
timed fits.

Run from the repository root: ``OMP_NUM_THREADS=1 python -m benchmarks.snnl_codes``
(about 15 minutes on one core, most of it NCA on USPS); the tables are printed and
written to benchmarks/results/snnl_codes.md.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402

from benchmarks.datasets import load  # noqa: E402
from skssl import SNNLTransformer  # noqa: E402
from skssl.metrics import hungarian_accuracy_score  # noqa: E402

SEEDS = (0, 1, 2)
WIDTH = 10
UNSUPERVISED_DATA = ("digits", "usps", "pendigits")
SUPERVISED_DATA = ("digits", "usps")
RESULTS = Path(__file__).parent / "results" / "snnl_codes.md"


def umap_model(seed):
    import umap  # imported here: numba compiles on first use

    return umap.UMAP(n_components=WIDTH, random_state=seed)


def unsupervised_methods(seed):
    return {
        "raw input": FunctionTransformer(),
        "standardised input": StandardScaler(),
        f"PCA({WIDTH})": PCA(WIDTH, random_state=seed),
        f"UMAP({WIDTH})": umap_model(seed),
        f"SNNLTransformer({WIDTH})": SNNLTransformer(WIDTH, random_state=seed, device="cpu"),
    }


def mean(values, digits=3):
    return f"{np.mean(values):.{digits}f}"


def unsupervised_table(name):
    X, y = load(name)
    scores = {}
    for seed in SEEDS:
        for method, model in unsupervised_methods(seed).items():
            start = time.perf_counter()
            codes = model.fit_transform(X)
            fit = time.perf_counter() - start
            labels = KMeans(n_clusters=10, n_init=10, random_state=seed).fit_predict(codes)
            row = scores.setdefault(method, {"ACC": [], "NMI": [], "fit": []})
            row["ACC"].append(hungarian_accuracy_score(y, labels))
            row["NMI"].append(normalized_mutual_info_score(y, labels))
            row["fit"].append(fit)
            print(name, seed, method, f"ACC {row['ACC'][-1]:.3f} fit {fit:.1f}s", flush=True)
    umap_fit = np.mean(scores[f"UMAP({WIDTH})"]["fit"])
    lines = [
        f"### {name} ({X.shape[0]:,} rows, {X.shape[1]} features)",
        "",
        "| input to KMeans | ACC | ACC per seed | NMI | fit time (s) | per seed | / UMAP's |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, row in scores.items():
        per_seed = ", ".join(f"{value:.3f}" for value in row["ACC"])
        fit_per_seed = ", ".join(f"{value:.1f}" for value in row["fit"])
        ratio = np.mean(row["fit"]) / umap_fit
        lines.append(
            f"| {method} | {mean(row['ACC'])} | {per_seed} | {mean(row['NMI'])} "
            f"| {mean(row['fit'], 1)} | {fit_per_seed} | {ratio:.2f} |"
        )
    return lines + [""]


def supervised_methods(seed):
    return {
        "raw input": FunctionTransformer(),
        "standardised input": StandardScaler(),
        f"NCA({WIDTH})": NeighborhoodComponentsAnalysis(n_components=WIDTH, random_state=seed),
        "LDA(9)": LinearDiscriminantAnalysis(n_components=9),
        f"SNNLTransformer({WIDTH}, supervised=True)": SNNLTransformer(
            WIDTH, supervised=True, random_state=seed, device="cpu"
        ),
    }


def supervised_table(name, labelled_fraction):
    X, y = load(name)
    scores = {}
    for seed in SEEDS:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y
        )
        y_fit = y_train.copy()
        if labelled_fraction < 1:
            # The labelled rows come first; the others are passed as -1.
            X_lab, X_unlab, y_lab, _ = train_test_split(
                X_train, y_train, train_size=labelled_fraction, random_state=seed, stratify=y_train
            )
            X_train = np.vstack([X_lab, X_unlab])
            y_fit = np.concatenate([y_lab, np.full(len(X_unlab), -1)])
        labelled = y_fit != -1
        for method, model in supervised_methods(seed).items():
            start = time.perf_counter()
            if isinstance(model, SNNLTransformer):
                model.fit(X_train, y_fit)  # sees the unlabelled rows too
            else:
                model.fit(X_train[labelled], y_fit[labelled])
            fit = time.perf_counter() - start
            knn = KNeighborsClassifier(n_neighbors=5)
            knn.fit(model.transform(X_train[labelled]), y_fit[labelled])
            row = scores.setdefault(method, {"acc": [], "fit": []})
            row["acc"].append(knn.score(model.transform(X_test), y_test))
            row["fit"].append(fit)
            print(name, labelled_fraction, seed, method, f"{row['acc'][-1]:.3f}", flush=True)
    lines = [
        f"### {name}, {labelled_fraction:.0%} of the training rows labelled",
        "",
        "| representation | 5-NN accuracy | per seed | fit time (s) |",
        "|---|---|---|---|",
    ]
    for method, row in scores.items():
        per_seed = ", ".join(f"{value:.3f}" for value in row["acc"])
        lines.append(f"| {method} | {mean(row['acc'])} | {per_seed} | {mean(row['fit'], 1)} |")
    return lines + [""]


def main():
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)  # umap-learn's deprecations
    warnings.filterwarnings("ignore", message=".*n_jobs value.*")
    # Above 4,096 rows UMAP searches neighbours with PyNNDescent, whose numba code
    # compiles on its first call too: warm both paths.
    start = time.perf_counter()
    for n_rows in (300, 5000):
        umap_model(0).fit_transform(np.random.default_rng(0).normal(size=(n_rows, 5)))
    compile_time = time.perf_counter() - start
    lines = [
        "# SNNLTransformer codes against the raw input, PCA, UMAP, NCA and LDA",
        "",
        f"Means over seeds {SEEDS}; one CPU thread for every method; default",
        "SNNLTransformer settings. Fit times were taken on a shared 2-core machine and are",
        "noisy; the ratio to UMAP compares fits of the same run. UMAP's numba code was",
        f"compiled before the timed fits (those first calls took {compile_time:.0f} s).",
        "",
        f"## Unsupervised: KMeans(n_clusters=10, n_init=10) on {WIDTH}-wide codes",
        "",
        "ACC is the Hungarian-matched accuracy.",
        "",
    ]
    for name in UNSUPERVISED_DATA:
        lines += unsupervised_table(name)
    lines += [
        "## Supervised: 5-NN accuracy on 30% held-back rows",
        "",
        "The k-NN classifier is fitted on the labelled training rows' codes; the held-back",
        "rows are never seen by fit. NCA and LDA see only the labelled rows;",
        "SNNLTransformer sees the unlabelled ones too (as -1).",
        "",
    ]
    for name in SUPERVISED_DATA:
        for fraction in (1.0, 0.15):
            lines += supervised_table(name, fraction)
    table = "\n".join(lines)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    main()
