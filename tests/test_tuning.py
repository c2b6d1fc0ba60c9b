"""Hyperparameter search over SelfSupervisedClassifier, alone and in a Pipeline."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skssl import SCANClusterer, SelfSupervisedClassifier
from skssl._objectives import CLASSIFIER_OBJECTIVES
from skssl.metrics import hungarian_accuracy_score, hungarian_scorer

#: Tiny settings: the search itself is under test, not the quality of each fit.
SMALL = dict(n_clusters=3, n_init=1, max_iter=30, hidden_layer_sizes=(16,), device="cpu")
GRID = {"entropy_weight": [1.0, 2.0], "temperature": [0.1, 0.2]}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=120, centers=3, cluster_std=0.5, random_state=0)


def fitted_labels(estimator, X, y=None):
    return estimator.fit(X, y).predict(X)


@pytest.mark.parametrize("objective", sorted(CLASSIFIER_OBJECTIVES))
def test_fit_ignores_y(blobs, objective):
    X, y = blobs
    model = SelfSupervisedClassifier(objective=objective, random_state=0, **SMALL)
    shuffled = np.random.default_rng(0).permutation(y)
    expected = model.fit(X).predict_proba(X)
    np.testing.assert_array_equal(model.fit(X, y).predict_proba(X), expected)
    np.testing.assert_array_equal(model.fit(X, shuffled).predict_proba(X), expected)


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("objective", ["minmax", "self_classifier"])
def test_grid_search(blobs, objective, n_jobs):
    X, y = blobs
    model = SelfSupervisedClassifier(objective=objective, random_state=0, **SMALL)
    search = GridSearchCV(model, GRID, scoring=hungarian_scorer, cv=2, n_jobs=n_jobs).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores.shape == (4,)
    # Well-separated blobs: 30 steps a stage place them, where
    # chance is 1/3 and a broken search or fit scores near it.
    assert np.all((scores > 0.85) & (scores <= 1))
    # The refitted model is the one a plain, label-free fit with the best parameters gives.
    plain = SelfSupervisedClassifier(objective=objective, random_state=0, **SMALL)
    plain.set_params(**search.best_params_)
    np.testing.assert_array_equal(search.best_estimator_.labels_, fitted_labels(plain, X))


def test_grid_search_jobs_agree(blobs):
    X, y = blobs
    model = SelfSupervisedClassifier(objective="iic", random_state=0, **SMALL)
    grid = {"consistency_weight": [0.5, 1.0]}
    results = [
        GridSearchCV(model, grid, scoring=hungarian_scorer, cv=2, n_jobs=n_jobs)
        .fit(X, y)
        .cv_results_["mean_test_score"]
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_in_pipeline(blobs, n_jobs):
    X, y = blobs
    X = X * [1e3, 1e-3]  # features of very different scales, for the scaler to fix
    pipeline = make_pipeline(
        StandardScaler(),
        SelfSupervisedClassifier(objective="self_classifier", random_state=0, **SMALL),
    )
    grid = {f"selfsupervisedclassifier__{name}": values for name, values in GRID.items()}
    search = GridSearchCV(pipeline, grid, scoring=hungarian_scorer, cv=2, n_jobs=n_jobs).fit(X, y)
    assert search.best_score_ > 0.9
    assert search.best_estimator_.predict(X).shape == (X.shape[0],)


@pytest.mark.parametrize("scoring", [None, hungarian_scorer])
@pytest.mark.parametrize(
    "estimator, grid",
    [
        (
            SCANClusterer(**{**SMALL, "n_init": 2, "max_iter": "auto"}),
            {"entropy_weight": [0.5, 5.0]},
        ),
        (
            SelfSupervisedClassifier(objective="iic", **{**SMALL, "max_iter": "auto"}),
            {"entropy_weight": [0.5, 5.0], "temperature": [0.1, 0.3]},
        ),
    ],
    ids=["SCANClusterer", "SelfSupervisedClassifier-iic"],
)
def test_grid_search_over_entropy_weight_and_temperature(blobs, estimator, grid, scoring):
    """Stage two's lambda (and the heads' temperature) tune as any parameter, with or
    without labels; the chosen fit finds the blobs (chance is 1/3). ``max_iter="auto"``:
    120 rows make one step a pass, and five steps do not fit the partition."""
    X, y = blobs
    search = GridSearchCV(estimator.set_params(random_state=0), grid, scoring=scoring, cv=2)
    search.fit(X) if scoring is None else search.fit(X, y)
    n_candidates = int(np.prod([len(values) for values in grid.values()]))
    assert search.cv_results_["mean_test_score"].shape == (n_candidates,)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    if scoring is not None:
        assert search.best_score_ > 0.85
    assert hungarian_accuracy_score(y, search.best_estimator_.labels_) > 0.85
