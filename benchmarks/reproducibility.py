"""Which seeded results are bit-identical: repeated fits, Torch thread counts, joblib backends.

Run: ``OMP_NUM_THREADS=1 python benchmarks/reproducibility.py``. Every comparison is
exact (``np.array_equal`` on labels, probabilities and fitted weights; no tolerance).
Prints a markdown table and writes it to ``benchmarks/results/reproducibility.md``;
docs/reproducibility.rst reports what it saw.

- Repeated fits: each estimator is fitted on digits in four fresh processes, two with
  one Torch thread and two with two threads; labels, probabilities (or codes) and every
  fitted weight are compared. The approximate neighbour graph (PyNNDescent's descent,
  used where the cost model finds it faster than exact search) is built on 60,000 blob
  rows with as many numba threads.
- Hyperparameter search: ``GridSearchCV`` with ``n_jobs=1``, with ``n_jobs=2`` (loky
  processes) and through joblib's Dask backend on a local ``dask.distributed`` cluster
  (two single-threaded workers) must give the same score on every split.
- Persistence: ``pickle`` and ``joblib`` round trips predict bit-identical probabilities.
"""

import argparse
import io
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local import sibling  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: Table name -> (method of ``benchmarks/methods.py``, parameters set on it).
ESTIMATORS = {
    "SelfSupervisedClassifier": ("ssc-minmax", {"n_init": 2, "max_iter": 20}),
    "SCANClusterer (self-labelling)": ("scan", {"max_iter": 20, "self_labeling": True}),
    "SNNLTransformer": ("snnl", {"n_components": 2, "max_iter": 20}),
}


def estimators():
    build = sibling("methods").build
    return {name: build(key, 10, 0, **params) for name, (key, params) in ESTIMATORS.items()}


def fitted(X):
    """Each estimator fitted on ``X``: its name, model, output method and output on ``X``."""
    for name, model in estimators().items():
        model.fit(X)
        # The clusterers' probabilities; the transformer's codes.
        method = "predict_proba" if hasattr(model, "predict_proba") else "transform"
        yield name, model, method, getattr(model, method)(X)


def digits():
    X, y = sibling("datasets").load("digits")
    return X / 16.0, y


def flat_weights(module):
    """Every parameter and buffer of ``module``, in state-dict order, as one float64 vector."""
    import numpy as np

    tensors = module.state_dict().values()
    return np.concatenate([t.detach().cpu().double().flatten().numpy() for t in tensors])


def fit_all(n_threads, path):
    """Fit every estimator with ``n_threads`` Torch threads; save what came out to ``path``."""
    import numpy as np
    import torch

    from skssl._graph.mining import mine_neighbors

    torch.set_num_threads(n_threads)
    X, _ = digits()
    arrays = {}
    for name, model, _, output in fitted(X):
        if hasattr(model, "labels_"):
            arrays[f"{name}/labels"] = model.labels_
        arrays[f"{name}/output"] = output
        arrays[f"{name}/weights"] = flat_weights(model.module_)
    # The approximate graph (PyNNDescent's descent), built with as many numba threads.
    blobs, _ = sibling("datasets").load("blobs32", n_samples=60_000, dtype=np.float32)
    graph = mine_neighbors(blobs, 10, method="approximate", random_state=0)
    arrays[f"{GRAPH}/output"] = graph
    np.savez(path, **arrays)


GRAPH = "mine_neighbors (PyNNDescent, 60,000 rows)"


def in_fresh_process(n_threads, path):
    env = {**os.environ, "OMP_NUM_THREADS": str(n_threads), "NUMBA_NUM_THREADS": str(n_threads)}
    subprocess.run([sys.executable, __file__, "--fit", str(n_threads), path], env=env, check=True)
    import numpy as np

    with np.load(path) as saved:
        return dict(saved)


def compare(key, a, b):
    """'identical', or how far apart two results are."""
    import numpy as np

    from skssl._graph.mining import neighbor_recall
    from skssl.metrics import hungarian_accuracy_score

    if np.array_equal(a, b):
        return "identical"
    if key.endswith("/labels"):
        return f"DIFFERENT ({1 - hungarian_accuracy_score(a, b):.1%} of rows after matching)"
    if key.startswith(GRAPH):
        return f"DIFFERENT (neighbour overlap {neighbor_recall(a, b):.3f})"
    return f"DIFFERENT (max abs difference {np.abs(a - b).max():.1e})"


def grid_search_scores():
    """Per-split test scores of one seeded search under three joblib set-ups."""
    import numpy as np
    import torch
    from distributed import Client, LocalCluster
    from joblib import parallel_backend
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import GridSearchCV

    from skssl.metrics import hungarian_scorer

    torch.set_num_threads(1)
    X, y = make_blobs(n_samples=600, centers=5, n_features=8, cluster_std=2.0, random_state=0)
    model = sibling("methods").build("ssc-minmax", 5, 0, n_init=1, max_iter=20)
    grid = {"entropy_weight": [1.0, 2.0], "n_neighbors": [5, 10]}

    def scores(search):
        results = search.cv_results_
        splits = [results[f"split{i}_test_score"] for i in range(3)]
        return np.stack(splits), search.best_estimator_.labels_

    runs = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(model, grid, scoring=hungarian_scorer, cv=3, n_jobs=n_jobs)
        runs[f"n_jobs={n_jobs}"] = scores(search.fit(X, y))
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        Client(cluster),
        parallel_backend("dask"),
    ):
        search = GridSearchCV(model, grid, scoring=hungarian_scorer, cv=3, n_jobs=-1)
        runs["dask"] = scores(search.fit(X, y))
    return runs


def round_trips():
    import joblib
    import numpy as np
    import torch

    torch.set_num_threads(1)
    X, _ = digits()
    identical = {}
    for name, model, method, expected in fitted(X):
        buffer = io.BytesIO()
        joblib.dump(model, buffer)
        buffer.seek(0)
        restored = {"pickle": pickle.loads(pickle.dumps(model)), "joblib": joblib.load(buffer)}
        identical[name] = all(
            np.array_equal(getattr(copy, method)(X), expected) for copy in restored.values()
        )
    return identical


def main():
    import numba
    import numpy as np
    import pynndescent
    import sklearn
    import torch

    lines = [
        f"{os.cpu_count()} CPU cores; Torch {torch.__version__}, scikit-learn "
        f"{sklearn.__version__}, PyNNDescent {pynndescent.__version__}, numba "
        f"{numba.__version__}. Thread counts set through torch.set_num_threads, "
        "OMP_NUM_THREADS and NUMBA_NUM_THREADS in fresh processes.",
        "",
        "| comparison | estimator | labels | outputs | fitted weights |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        one, one_again, two, two_again = (
            in_fresh_process(threads, str(Path(folder) / f"{i}.npz"))
            for i, threads in enumerate((1, 1, 2, 2))
        )
    pairs = (("1 thread, twice", one, one_again), ("2 threads, twice", two, two_again))
    pairs += (("1 vs 2 threads", one, two),)
    names = list(dict.fromkeys(key.split("/")[0] for key in one))
    for label, first, second in pairs:
        for name in names:
            cells = [
                compare(f"{name}/{part}", first[key], second[key])
                if (key := f"{name}/{part}") in first
                else "-"
                for part in ("labels", "output", "weights")
            ]
            lines.append(f"| {label} | {name} | " + " | ".join(cells) + " |")
    runs = grid_search_scores()
    reference_scores, reference_labels = runs["n_jobs=1"]
    for setup in ("n_jobs=2", "dask"):
        split_scores, labels = runs[setup]
        same_scores = np.array_equal(split_scores, reference_scores)
        same_labels = np.array_equal(labels, reference_labels)
        lines.append(
            f"| GridSearchCV n_jobs=1 vs {setup} | SelfSupervisedClassifier | "
            f"{'identical' if same_labels else 'DIFFERENT'} (refit) | "
            f"{'identical' if same_scores else 'DIFFERENT'} (12 split scores) | - |"
        )
    for name, same in round_trips().items():
        lines.append(
            f"| pickle and joblib round trip | {name} | - | "
            f"{'identical' if same else 'DIFFERENT'} | - |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reproducibility.md").write_text(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Internal: the fresh child process that fits with N_THREADS and saves to PATH.
    parser.add_argument("--fit", nargs=2, metavar=("N_THREADS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit:
        fit_all(int(args.fit[0]), args.fit[1])
    else:
        main()
