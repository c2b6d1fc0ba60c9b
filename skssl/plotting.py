"""Plots for skssl results (the optional ``plot`` extra: ``pip install skssl[plot]``).

- :class:`MatchedConfusionMatrixDisplay`: the confusion matrix with predicted clusters
  reordered by the Hungarian matching, so that a perfect clustering is diagonal;
- :func:`plot_history`: the training history of a fitted estimator;
- :func:`plot_embedding`: a 2-D scatter coloured by cluster or label;
- :func:`plot_n_clusters_search`: the criterion of ``n_clusters="auto"`` over its
  candidate counts.
"""

import numpy as np

from skssl.metrics import hungarian_accuracy_score, matched_confusion_matrix


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - exercised without matplotlib
        raise ImportError(
            "skssl.plotting needs matplotlib: install the plot extra, pip install 'skssl[plot]'."
        ) from error
    return plt


class MatchedConfusionMatrixDisplay:
    """Confusion matrix of classes against clusters matched by the Hungarian algorithm.

    Build it with :meth:`from_predictions` or :meth:`from_estimator`.

    Parameters
    ----------
    confusion_matrix : ndarray of shape (n_classes, n_columns)
        From :func:`skssl.metrics.matched_confusion_matrix`.
    display_labels : array-like of shape (n_classes,)
        Class names (rows).
    column_clusters : array-like of shape (n_columns,)
        Cluster label of each column (-1 for an empty filler column).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    accuracy_ : float
        Hungarian-matched accuracy (the diagonal over the total).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skssl.plotting import MatchedConfusionMatrixDisplay
    >>> display = MatchedConfusionMatrixDisplay.from_predictions([0, 0, 1, 1], [1, 1, 0, 0])
    >>> display.accuracy_
    1.0
    """

    def __init__(self, confusion_matrix, display_labels, column_clusters):
        self.confusion_matrix = confusion_matrix
        self.display_labels = display_labels
        self.column_clusters = column_clusters

    @classmethod
    def from_predictions(cls, y_true, y_pred, *, ax=None, cmap="Blues", normalize=False):
        """Plot the matched confusion matrix of ``y_true`` against cluster labels ``y_pred``.

        ``normalize=True`` divides each row by its class size.
        """
        matrix, clusters = matched_confusion_matrix(y_true, y_pred)
        display = cls(matrix, np.unique(y_true), clusters)
        return display.plot(ax=ax, cmap=cmap, normalize=normalize)

    @classmethod
    def from_estimator(cls, estimator, X, y, **kwargs):
        """Plot the matched confusion matrix of ``estimator.predict(X)`` against ``y``."""
        return cls.from_predictions(y, estimator.predict(X), **kwargs)

    def plot(self, *, ax=None, cmap="Blues", normalize=False):
        """Draw the matrix; returns ``self``."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        values = self.confusion_matrix.astype(float)
        if normalize:
            values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        ax.figure.colorbar(image, ax=ax)
        if values.size <= 400:
            threshold = values.max() / 2
            for (row, column), value in np.ndenumerate(values):
                text = f"{value:.2f}" if normalize else f"{int(value)}"
                color = "white" if value > threshold else "black"
                ax.text(column, row, text, ha="center", va="center", color=color, fontsize=8)
        columns = ["-" if c == -1 else str(c) for c in self.column_clusters]
        ax.set_xticks(range(len(columns)), columns)
        ax.set_yticks(range(len(self.display_labels)), [str(c) for c in self.display_labels])
        ax.set_xlabel("predicted cluster (matched order)")
        ax.set_ylabel("true class")
        self.accuracy_ = float(np.trace(self.confusion_matrix) / self.confusion_matrix.sum())
        ax.set_title(f"Hungarian-matched accuracy {self.accuracy_:.3f}")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def plot_history(estimator, *, keys=("loss",), ax=None):
    """Plot per-epoch values of ``estimator.history_`` (one line per key and stage).

    Parameters
    ----------
    estimator : fitted skssl estimator
    keys : tuple of str, default=("loss",)
        History fields to plot, e.g. ``("loss", "cluster_size_entropy")``.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    history = estimator.history_
    stages = list(dict.fromkeys(record.get("stage", "fit") for record in history))
    for stage in stages:
        records = [r for r in history if r.get("stage", "fit") == stage]
        for key in keys:
            points = [(r["epoch"], r[key]) for r in records if key in r]
            if points:
                epochs, values = zip(*points)
                label = key if len(stages) == 1 else f"{stage}: {key}"
                ax.plot(epochs, values, marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.legend()
    return ax


def plot_embedding(X_2d, labels, *, y_true=None, ax=None, title=None, s=8):
    """Scatter 2-D points coloured by ``labels`` (clusters or classes).

    With ``y_true``, the title reports the Hungarian-matched accuracy of ``labels``.

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    X_2d = np.asarray(X_2d)
    if X_2d.ndim != 2 or X_2d.shape[1] != 2:
        raise ValueError(f"X_2d must have shape (n_samples, 2), got {X_2d.shape}.")
    if ax is None:
        _, ax = plt.subplots()
    ax.scatter(
        X_2d[:, 0], X_2d[:, 1], c=np.unique(labels, return_inverse=True)[1], cmap="tab10", s=s
    )
    if y_true is not None:
        accuracy = hungarian_accuracy_score(y_true, labels)
        title = f"{title + ': ' if title else ''}accuracy {accuracy:.3f}"
    if title:
        ax.set_title(title)
    return ax


def plot_n_clusters_search(estimator, *, ax=None):
    """Plot the silhouette of each candidate count of a fit with ``n_clusters="auto"``.

    The count chosen (``n_clusters_``) is marked; the share of points the hierarchy
    left as noise at each count is drawn on a second axis.

    Parameters
    ----------
    estimator : skssl estimator fitted with ``n_clusters="auto"``
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
        The silhouette's axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SCANClusterer
    >>> from skssl.plotting import plot_n_clusters_search
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=2)
    >>> model = SCANClusterer(n_clusters="auto", max_iter=5, random_state=0).fit(X)
    >>> model.n_clusters_
    3
    >>> ax = plot_n_clusters_search(model)
    """
    search = getattr(estimator, "n_clusters_search_", None)
    if search is None:
        raise ValueError(
            "plot_n_clusters_search needs an estimator fitted with n_clusters='auto' "
            "(it has no n_clusters_search_)."
        )
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    counts, scores = search["n_clusters"], search["silhouette"]
    ax.plot(counts, scores, marker="o", label="silhouette in the layout")
    chosen = counts == estimator.n_clusters_
    ax.plot(counts[chosen], scores[chosen], "r*", markersize=14, label="n_clusters_")
    ax.set_xlabel("number of clusters")
    ax.set_ylabel("silhouette")
    noise = ax.twinx()
    noise.bar(counts, search["noise_fraction"], alpha=0.2, color="grey")
    noise.set_ylabel("noise fraction")
    ax.legend(loc="upper right")
    return ax
