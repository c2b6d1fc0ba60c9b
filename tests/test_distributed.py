"""GridSearchCV through joblib's Dask backend on a local dask.distributed cluster."""

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

from skssl import SelfSupervisedClassifier
from skssl.metrics import hungarian_scorer

distributed = pytest.importorskip("distributed", reason="needs the 'distributed' extra")


def test_grid_search_on_a_local_dask_cluster():
    X, y = make_blobs(n_samples=150, centers=3, n_features=4, random_state=0)
    grid = {"entropy_weight": [1.0, 2.0]}
    estimator = SelfSupervisedClassifier(n_clusters=3, n_init=1, max_iter=60, random_state=0)
    local = GridSearchCV(estimator, grid, scoring=hungarian_scorer, cv=2).fit(X, y)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        distributed.Client(cluster),
        parallel_backend("dask"),
    ):
        remote = GridSearchCV(estimator, grid, scoring=hungarian_scorer, cv=2, n_jobs=-1).fit(X, y)
    # Seeded fits with the same thread count give the same scores, bit for bit,
    # wherever they run (docs/reproducibility.rst).
    for split in range(2):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(remote.cv_results_[key], local.cv_results_[key])
    assert remote.best_score_ > 0.9
