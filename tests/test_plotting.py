import matplotlib
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skssl import SelfSupervisedClassifier
from skssl.plotting import MatchedConfusionMatrixDisplay, plot_embedding, plot_history

matplotlib.use("Agg")


def test_matched_confusion_display_is_diagonal_for_a_relabelled_partition():
    y = np.repeat([0, 1, 2], 5)
    display = MatchedConfusionMatrixDisplay.from_predictions(y, (y + 1) % 3)
    np.testing.assert_array_equal(display.confusion_matrix, np.diag([5, 5, 5]))
    assert display.accuracy_ == 1.0
    assert display.ax_.get_xlabel().startswith("predicted cluster")


def test_from_estimator_history_and_embedding(tmp_path):
    X, y = make_blobs(n_samples=90, centers=3, n_features=2, random_state=0)
    model = SelfSupervisedClassifier(n_clusters=3, n_init=1, max_iter=30, random_state=0).fit(X)
    display = MatchedConfusionMatrixDisplay.from_estimator(model, X, y, normalize=True)
    assert display.confusion_matrix.sum() == 90
    ax = plot_history(model, keys=("loss", "cluster_size_entropy"))
    # One line per key and stage: stage one ("partition") and stage two ("minmax").
    assert len(ax.get_lines()) == 4
    assert {line.get_label() for line in ax.get_lines()} == {
        f"{stage}: {key}"
        for stage in ("partition", "minmax")
        for key in ("loss", "cluster_size_entropy")
    }
    ax = plot_embedding(X, model.labels_, y_true=y, title="blobs")
    assert ax.get_title().startswith("blobs: accuracy")
    ax.figure.savefig(tmp_path / "embedding.png")
    assert (tmp_path / "embedding.png").stat().st_size > 0


def test_embedding_needs_two_columns():
    with pytest.raises(ValueError, match="n_samples, 2"):
        plot_embedding(np.zeros((4, 3)), [0, 1, 0, 1])


def test_plot_n_clusters_search_marks_the_chosen_count():
    from skssl import SCANClusterer
    from skssl.plotting import plot_n_clusters_search

    X, _ = make_blobs(n_samples=300, centers=4, n_features=5, random_state=0)
    model = SCANClusterer(n_clusters="auto", max_iter=3, random_state=0).fit(X)
    ax = plot_n_clusters_search(model)
    line, star = ax.get_lines()[:2]
    np.testing.assert_array_equal(line.get_xdata(), model.n_clusters_search_["n_clusters"])
    assert list(star.get_xdata()) == [model.n_clusters_]
    with pytest.raises(ValueError, match="n_clusters='auto'"):
        plot_n_clusters_search(model.set_params(n_clusters=4).fit(X))
