"""``n_clusters="auto"``: the count, its table and warning, and its bad input."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs

from skssl import SCANClusterer, SelfSupervisedClassifier
from skssl.metrics import hungarian_accuracy_score


def _fit_quietly(estimator, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return estimator.fit(X, y)


def test_auto_counts_the_digits_and_keeps_the_true_count_accuracy_band():
    X, y = load_digits(return_X_y=True)
    model = _fit_quietly(SCANClusterer(n_clusters="auto", random_state=0), X)
    # The digits' layout holds 9 groups at its coarse level (ones and eights merge)
    # and 11 finer: a count off by more than one is a regression.
    assert abs(model.n_clusters_ - 10) <= 1
    assert model.cluster_sizes_.shape == (model.n_clusters_,)
    assert hungarian_accuracy_score(y, model.labels_) > 0.84
    search = model.n_clusters_search_
    assert set(search) == {
        "n_clusters",
        "silhouette",
        "min_cluster_size",
        "noise_fraction",
        "largest_pair_share",
    }
    whole = search["largest_pair_share"] <= 1 / model.n_neighbors_
    best = search["n_clusters"][whole][np.argmax(search["silhouette"][whole])]
    assert best == model.n_clusters_
    assert search["n_clusters"].max() <= np.sqrt(X.shape[0] / 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_auto_finds_the_blobs_count_for_both_estimators(seed):
    X, y = make_blobs(n_samples=600, centers=5, n_features=10, random_state=seed)
    for estimator in (
        SCANClusterer(n_clusters="auto", random_state=seed),
        SelfSupervisedClassifier(n_clusters="auto", n_init=1, random_state=seed),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # a clear count: no warning
            model = estimator.fit(X)
        assert model.n_clusters_ == 5
        assert hungarian_accuracy_score(y, model.labels_) > 0.95
        assert model.n_clusters == "auto"  # the parameter is never written back


@pytest.mark.parametrize("data_seed", [1, 3])
def test_a_blob_the_layout_tears_is_counted_once(data_seed):
    # On these blobs the layout tears one blob of 100 points in two, and the
    # silhouette alone counted 4 (both fit seeds); the torn pair shares 9-10% of its
    # mined neighbour pairs.
    X, y = make_blobs(n_samples=300, centers=3, random_state=data_seed)
    for seed in (0, 1):
        model = SCANClusterer(n_clusters="auto", random_state=seed).fit(X)
        assert model.n_clusters_ == 3
        assert hungarian_accuracy_score(y, model.labels_) > 0.98


def test_uniform_noise_gives_a_small_count_and_a_warning_naming_the_runner_up():
    X = np.random.default_rng(0).uniform(size=(600, 5))
    with pytest.warns(UserWarning, match="weak estimate.*runner-up is \\d+"):
        model = SCANClusterer(n_clusters="auto", random_state=0).fit(X)
    assert model.n_clusters_ <= 3


def test_integer_n_clusters_is_kept_and_has_no_search_table():
    X, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    model = SCANClusterer(n_clusters="auto", max_iter=3, random_state=0).fit(X)
    assert hasattr(model, "n_clusters_search_")
    model.set_params(n_clusters=4).fit(X)
    assert model.n_clusters_ == 4 and not hasattr(model, "n_clusters_search_")


@pytest.mark.parametrize("max_clusters", [1, 0, -3, 2.5, "10"])
def test_bad_max_clusters_is_a_value_error_naming_it(max_clusters):
    X, _ = make_blobs(n_samples=60, centers=3, random_state=0)
    for estimator in (SCANClusterer, SelfSupervisedClassifier):
        with pytest.raises(ValueError, match="max_clusters"):
            estimator(n_clusters="auto", max_clusters=max_clusters).fit(X)


def test_max_clusters_at_n_samples_is_clipped_with_a_warning():
    X, _ = make_blobs(n_samples=40, centers=2, random_state=0)
    with pytest.warns(UserWarning, match=re.escape("max_clusters=40 is at least n_samples=40")):
        model = SCANClusterer(n_clusters="auto", max_clusters=40, max_iter=3, random_state=0).fit(X)
    assert 2 <= model.n_clusters_ < 40


def test_supervised_auto_count_is_at_least_the_labelled_classes():
    # Two blobs, but four labelled classes: the count may not fall below four.
    X, blob = make_blobs(n_samples=300, centers=2, random_state=0)
    y = np.full(300, -1)
    y[:20] = np.arange(20) % 4
    for estimator in (
        SCANClusterer(n_clusters="auto", supervised=True, max_iter=5, random_state=0),
        SelfSupervisedClassifier(
            n_clusters="auto", supervised=True, n_init=1, max_iter=5, random_state=0
        ),
    ):
        model = _fit_quietly(estimator, X, y)
        assert model.n_clusters_ >= 4
        assert set(np.arange(4)) <= set(model.classes_)


def test_auto_is_reproducible_and_leaves_the_input_unchanged():
    X, _ = make_blobs(n_samples=300, centers=4, random_state=3)
    before = X.copy()
    first = SCANClusterer(n_clusters="auto", max_iter=3, random_state=1).fit(X)
    second = SCANClusterer(n_clusters="auto", max_iter=3, random_state=1).fit(X)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(
        first.n_clusters_search_["silhouette"], second.n_clusters_search_["silhouette"]
    )
    np.testing.assert_array_equal(X, before)
