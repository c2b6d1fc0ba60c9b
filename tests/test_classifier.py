import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.preprocessing import StandardScaler

from skssl import SCANClusterer, SelfSupervisedClassifier
from skssl.metrics import hungarian_accuracy_score

FAST = dict(max_iter=20, n_init=1, device="cpu")


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=300, centers=3, n_features=4, random_state=0)


def test_learns_separated_blobs(blobs):
    X, y = blobs
    model = SelfSupervisedClassifier(n_clusters=3, random_state=0, **FAST).fit(X)
    assert hungarian_accuracy_score(y, model.labels_) > 0.95
    assert model.labels_.dtype == np.int64
    assert sorted(np.unique(model.labels_)) == [0, 1, 2]
    assert model.cluster_sizes_.sum() == 300
    assert np.all(np.diff(model.cluster_sizes_) <= 0), "classes are numbered by size"
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.labels_)
    # Stage one (the graph stage's partition) then stage two (the objective), 20 each.
    assert model.n_iter_ == 40 and len(model.history_) == 40
    assert [r["stage"] for r in model.history_] == ["partition"] * 20 + ["minmax"] * 20
    assert {"loss", "neighbor", "far", "entropy", "cluster_size_entropy"} <= set(model.history_[20])


def test_same_seed_same_labels_and_global_rng_untouched(blobs):
    X, _ = blobs
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = SelfSupervisedClassifier(n_clusters=3, random_state=7, **FAST).fit(X)
    after = torch.rand(1)
    second = SelfSupervisedClassifier(n_clusters=3, random_state=7, **FAST).fit(X)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert before == after, "fit must not consume the caller's Torch random stream"


@pytest.mark.parametrize("dump, load", [(pickle.dumps, pickle.loads), (None, None)])
def test_pickle_and_joblib_round_trip_bit_identical(blobs, tmp_path, dump, load):
    X, _ = blobs
    model = SelfSupervisedClassifier(n_clusters=3, random_state=0, **FAST).fit(X)
    if dump is None:
        joblib.dump(model, tmp_path / "model.joblib")
        restored = joblib.load(tmp_path / "model.joblib")
    else:
        restored = load(dump(model))
    np.testing.assert_array_equal(model.predict_proba(X), restored.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), restored.predict(X))


def _blob_case_accuracies(**params):
    """The seed's experiment, 10 overlapping 2-d blobs of 100 points, seeds 0 to 4:
    mean accuracy of SelfSupervisedClassifier(**params), KMeans and the nearest-true-
    centre (Bayes) classifier."""
    ours, kmeans, bayes = [], [], []
    for seed in range(5):
        X, y, centers = make_blobs(
            n_samples=1000, centers=10, n_features=2, random_state=seed, return_centers=True
        )
        model = SelfSupervisedClassifier(n_clusters=10, random_state=seed, **params).fit(X)
        ours.append(hungarian_accuracy_score(y, model.labels_))
        kmeans.append(
            hungarian_accuracy_score(y, KMeans(10, n_init=10, random_state=seed).fit_predict(X))
        )
        nearest_centre = ((X[:, None, :] - centers[None]) ** 2).sum(-1).argmin(axis=1)
        bayes.append(hungarian_accuracy_score(y, nearest_centre))
    return np.mean(ours), np.mean(kmeans), np.mean(bayes)


def test_blob_case_keeps_the_graph_stage():
    """One head on the 10 overlapping blobs, seeds 0-4: stage two keeps what the graph
    stage found, as SCANClusterer (its stage one, then SCAN's anchored loss) does.
    Measured 0.808 against SCANClusterer's 0.806; KMeans' own model scores 0.885 here
    (a cold min-max fit scored 0.848 before the two stages)."""
    ours, kmeans, _ = _blob_case_accuracies(n_init=1)
    scan = []
    for seed in range(5):
        X, y = make_blobs(n_samples=1000, centers=10, n_features=2, random_state=seed)
        scan.append(
            hungarian_accuracy_score(y, SCANClusterer(10, random_state=seed).fit_predict(X))
        )
    assert ours >= np.mean(scan) - 0.005 and ours > 0.7, (ours, scan, kmeans)


def test_beats_kmeans_on_digits():
    """Defaults, seeds 0-2: 0.851, 0.929, 0.845 (mean 0.875) against the better KMeans,
    0.792 on the raw pixels (0.589 standardised)."""
    X, y = load_digits(return_X_y=True)
    kmeans = max(
        hungarian_accuracy_score(y, KMeans(10, n_init=10, random_state=0).fit_predict(Z))
        for Z in (X, StandardScaler().fit_transform(X))
    )
    ours = [
        hungarian_accuracy_score(
            y, SelfSupervisedClassifier(n_clusters=10, random_state=seed).fit(X).labels_
        )
        for seed in range(3)
    ]
    assert np.mean(ours) > kmeans + 0.05, (ours, kmeans)


def test_heads_are_ranked_by_a_deterministic_pass(blobs):
    """n_init heads share one encoder; the kept one has the lowest evaluation loss, and
    that evaluation draws nothing from the training stream."""
    X, _ = blobs
    model = SelfSupervisedClassifier(n_clusters=3, n_init=4, max_iter=5, random_state=0).fit(X)
    assert model.n_init_ == 4 and model.init_losses_.shape == (4,)
    assert model.best_init_ == np.argmin(model.init_losses_)
    again = SelfSupervisedClassifier(n_clusters=3, n_init=4, max_iter=5, random_state=0).fit(X)
    np.testing.assert_array_equal(model.init_losses_, again.init_losses_)
    auto = SelfSupervisedClassifier(n_clusters=3, max_iter=1, random_state=0).fit(X)
    assert auto.n_init == "auto" and auto.n_init_ == 5


def test_input_is_not_modified(blobs):
    X, _ = blobs
    X = X.copy()
    X.setflags(write=False)
    SelfSupervisedClassifier(n_clusters=3, random_state=0, max_iter=2, n_init=1).fit(X)


@pytest.mark.parametrize(
    "X, params, error, match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0], [0.0, 1.0]]), {}, ValueError, "NaN"),
        (np.array([[np.inf, 1.0], [1.0, 2.0], [0.0, 1.0]]), {}, ValueError, "infinity"),
        (np.ones((3, 2)) + 1j, {}, ValueError, "[Cc]omplex"),
        (np.empty((0, 2)), {}, ValueError, "0 sample"),
        (np.ones(5), {}, ValueError, "2D array"),
        (np.ones((1, 2)), {"n_clusters": 1}, ValueError, "1 sample"),
        (np.random.rand(5, 2), {"n_clusters": 6}, ValueError, "n_clusters=6"),
        (np.random.rand(5, 2), {"n_clusters": 0}, ValueError, "n_clusters"),
        (np.random.rand(5, 2), {"objective": "nope"}, ValueError, "objective"),
        pytest.param(
            np.random.rand(5, 2),
            {"device": "cuda"},
            ValueError,
            "CUDA",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available"),
        ),
    ],
)
def test_bad_input_gets_a_clear_error(X, params, error, match):
    with pytest.raises(error, match=match):
        SelfSupervisedClassifier(**{"n_clusters": 2, "max_iter": 1, **params}).fit(X)


def test_sparse_input_says_to_densify():
    from scipy import sparse

    with pytest.raises(TypeError, match="dense"):
        SelfSupervisedClassifier(n_clusters=2, max_iter=1).fit(sparse.random(10, 3, format="csr"))
