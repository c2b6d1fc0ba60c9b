import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.model_selection import GridSearchCV

from skssl.metrics import hungarian_accuracy_score, hungarian_scorer, matched_confusion_matrix


def brute_force_accuracy(y_true, y_pred):
    """Best accuracy over every one-to-one assignment of clusters to classes."""
    classes, clusters = np.unique(y_true), np.unique(y_pred)
    best = 0
    if len(clusters) <= len(classes):
        for chosen in itertools.permutations(classes, len(clusters)):
            mapping = dict(zip(clusters, chosen))
            best = max(best, sum(mapping[p] == t for t, p in zip(y_true, y_pred)))
    else:
        for chosen in itertools.permutations(clusters, len(classes)):
            mapping = dict(zip(chosen, classes))
            best = max(best, sum(mapping.get(p) == t for t, p in zip(y_true, y_pred)))
    return best / len(y_true)


@pytest.mark.parametrize("seed", range(30))
def test_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_classes, n_clusters = rng.integers(1, 6, size=2)
    y_true = rng.integers(0, n_classes, size=25)
    y_pred = rng.integers(0, n_clusters, size=25) * 3 + 7  # arbitrary cluster numbers
    assert hungarian_accuracy_score(y_true, y_pred) == pytest.approx(
        brute_force_accuracy(y_true, y_pred)
    )


@pytest.mark.parametrize("seed", range(10))
def test_matched_confusion_matrix_diagonal_holds_matched_counts(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=40)
    y_pred = rng.integers(0, rng.integers(2, 7), size=40)
    matrix, clusters = matched_confusion_matrix(y_true, y_pred)
    assert matrix.sum() == 40
    assert np.trace(matrix) / 40 == pytest.approx(hungarian_accuracy_score(y_true, y_pred))
    assert matrix.shape == (4, max(4, len(np.unique(y_pred))))
    used = clusters[clusters != -1]
    assert sorted(used) == sorted(np.unique(y_pred))


def test_perfect_relabelled_partition_is_diagonal():
    y_true = np.repeat([0, 1, 2], [3, 4, 5])
    y_pred = np.choose(y_true, [9, 4, 6])
    matrix, clusters = matched_confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(matrix, np.diag([3, 4, 5]))
    np.testing.assert_array_equal(clusters, [9, 4, 6])
    assert hungarian_accuracy_score(y_true, y_pred) == 1.0


def test_more_clusters_than_classes_count_unmatched_as_errors():
    y_true = [0, 0, 0, 0, 1, 1, 1, 1]
    y_pred = [0, 0, 1, 1, 2, 2, 3, 3]
    assert hungarian_accuracy_score(y_true, y_pred) == 0.5
    matrix, clusters = matched_confusion_matrix(y_true, y_pred)
    assert matrix.shape == (2, 4)
    assert np.trace(matrix) == 4


def test_string_labels():
    assert hungarian_accuracy_score(["a", "a", "b"], ["x", "x", "y"]) == 1.0


@pytest.mark.parametrize(
    "y_true, y_pred, message",
    [([0, 1], [0], "inconsistent numbers of samples"), ([], [], "empty")],
)
def test_bad_input(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        hungarian_accuracy_score(y_true, y_pred)


labels = st.lists(st.integers(0, 4), min_size=1, max_size=40)


@settings(max_examples=50, deadline=None)
@given(labels, st.permutations(range(5)), st.data())
def test_metrics_invariant_to_relabelling(y_true, permutation, data):
    y_pred = data.draw(st.lists(st.integers(0, 4), min_size=len(y_true), max_size=len(y_true)))
    relabelled = [permutation[p] for p in y_pred]
    score = hungarian_accuracy_score(y_true, y_pred)
    assert score == hungarian_accuracy_score(y_true, relabelled)
    assert 0 < score <= 1
    assert np.trace(matched_confusion_matrix(y_true, relabelled)[0]) == round(score * len(y_true))


@settings(max_examples=50, deadline=None)
@given(labels)
def test_accuracy_of_a_perfect_partition_is_one(y_true):
    assert hungarian_accuracy_score(y_true, [10 - v for v in y_true]) == 1.0


class _Fixed(ClusterMixin, BaseEstimator):
    """Predicts labels shifted by ``offset`` (mod 3): every offset is a perfect partition."""

    def __init__(self, offset=0):
        self.offset = offset

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return (np.asarray(X)[:, 0].astype(int) + self.offset) % 3


def test_scorer_in_grid_search():
    X = np.repeat([[0.0], [1.0], [2.0]], 10, axis=0)
    y = X[:, 0].astype(int)
    search = GridSearchCV(_Fixed(), {"offset": [0, 1, 2]}, scoring=hungarian_scorer, cv=3)
    search.fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], 1.0)
