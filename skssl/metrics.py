"""Clustering quality: against known labels, and without them.

A clusterer's label numbers are arbitrary, so accuracy is measured after the
one-to-one matching of clusters to classes that maximises agreement (the Hungarian
algorithm, ``scipy.optimize.linear_sum_assignment``).
:func:`neighbor_consistency_score` needs no labels: it is what the clusterers'
``score`` returns.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import make_scorer, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.validation import check_consistent_length

#: Neighbours per sample that :func:`neighbor_consistency_score` compares by default.
SCORE_NEIGHBORS = 10


#: The package's mark of an unlabelled row (as in ``LabelSpreading``), which the
#: label-based scores leave out.
UNLABELLED = -1


def _contingency(y_true, y_pred):
    """The class-by-cluster counts of the labelled rows (``y_true != -1``)."""
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty.")
    labelled = _labelled(y_true)
    if not labelled.any():
        raise ValueError("y_true has no labelled row: every row is -1 (unlabelled).")
    y_true, y_pred = y_true[labelled], y_pred[labelled]
    table = contingency_matrix(y_true, y_pred)
    return table, np.unique(y_true), np.unique(y_pred)


def _labelled(y_true):
    """Rows whose label is not the integer -1 (a string "-1" is a class)."""
    if y_true.dtype.kind in "iuf":
        return y_true != UNLABELLED
    if y_true.dtype.kind == "O":
        return np.array(
            [
                not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v == -1)
                for v in y_true
            ],
            dtype=bool,
        )
    return np.ones(y_true.shape[0], dtype=bool)


def _matching(table):
    """Rows (classes) and columns (clusters) of the count-maximising one-to-one matching."""
    return linear_sum_assignment(table, maximize=True)


def hungarian_accuracy_score(y_true, y_pred):
    """Accuracy after matching each predicted cluster to at most one class.

    Clusters left without a class (more clusters than classes) and classes left
    without a cluster count as errors, so over-clustering is not rewarded. Rows whose
    true label is ``-1``, the package's mark of an unlabelled row, are left out, so
    that ``GridSearchCV(..., scoring=hungarian_scorer)`` on partly labelled ``y``
    scores the labelled rows only and does not reward a cluster of unlabelled ones.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth class labels; ``-1`` for unlabelled rows.
    y_pred : array-like of shape (n_samples,)
        Cluster labels; their numbering does not matter.

    Returns
    -------
    float
        Matched labelled samples divided by the number of labelled samples, in [0, 1].

    Raises
    ------
    ValueError
        When every row of ``y_true`` is ``-1``.

    Examples
    --------
    >>> from skssl.metrics import hungarian_accuracy_score
    >>> hungarian_accuracy_score([0, 0, 1, 1, 2], [1, 1, 0, 0, 0])
    0.8
    >>> hungarian_accuracy_score([-1, -1, 0, 0, 1, 1], [2, 2, 0, 0, 1, 0])
    0.75
    """
    table, _, _ = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    return float(table[rows, cols].sum() / table.sum())


def matched_confusion_matrix(y_true, y_pred):
    """Confusion matrix with predicted clusters reordered to match the classes.

    Column ``j`` holds the cluster matched to class ``j`` (rows are the sorted
    classes), so a perfect clustering gives a diagonal matrix. Clusters matched to
    no class come last, ordered by size. Rows whose true label is ``-1``
    (unlabelled) are left out, as in :func:`hungarian_accuracy_score`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,)

    Returns
    -------
    matrix : ndarray of shape (n_classes, max(n_classes, n_clusters))
        Counts; columns of classes with no matched cluster are zero.
    column_clusters : ndarray of shape (matrix.shape[1],)
        The cluster label of each column, or -1 for an all-zero filler column.

    Examples
    --------
    >>> from skssl.metrics import matched_confusion_matrix
    >>> matrix, clusters = matched_confusion_matrix([0, 0, 1, 1], [5, 5, 3, 3])
    >>> matrix
    array([[2, 0],
           [0, 2]])
    >>> clusters
    array([5, 3])
    """
    table, classes, clusters = _contingency(y_true, y_pred)
    rows, cols = _matching(table)
    width = max(classes.size, clusters.size)
    matrix = np.zeros((classes.size, width), dtype=np.int64)
    column_clusters = np.full(
        width, -1, dtype=clusters.dtype if clusters.dtype.kind in "iu" else object
    )
    matrix[:, rows] = table[:, cols]
    column_clusters[rows] = clusters[cols]
    unmatched = np.setdiff1d(np.arange(clusters.size), cols)
    unmatched = unmatched[np.argsort(-table[:, unmatched].sum(axis=0), kind="stable")]
    matrix[:, classes.size : classes.size + unmatched.size] = table[:, unmatched]
    column_clusters[classes.size : classes.size + unmatched.size] = clusters[unmatched]
    return matrix, column_clusters


#: Scorer for ``GridSearchCV(..., scoring=hungarian_scorer)``: calls the estimator's
#: ``predict`` and scores it with :func:`hungarian_accuracy_score`.
hungarian_scorer = make_scorer(hungarian_accuracy_score)


def neighbor_consistency_score(X, labels, *, n_neighbors=SCORE_NEIGHBORS, random_state=0):
    """Label-free clustering score: how well a sample's cluster predicts its neighbours'.

    For every sample ``i`` and each of its ``n_neighbors`` nearest neighbours ``j``
    (Euclidean, in ``X``), the pair of clusters ``(c_i, c_j)`` is counted in both
    orders, and the score is the normalised mutual information of that pair::

        score = I(c_i; c_j) / H(c)

    It is 1 when no neighbour pair is cut and every cluster is used, falls as more
    neighbour pairs cross clusters, and is 0 for a single cluster (which tells
    nothing) or clusters that ignore the neighbourhoods. Unlike a training loss it
    does not depend on an estimator's hyperparameters, so it can rank them at a
    fixed number of clusters. It does not choose that number: merging two true
    classes cuts few neighbour pairs, and on digits ``SCANClusterer`` scored 0.911
    with 4 clusters as with 10.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The samples, in the space whose neighbourhoods should be respected.
    labels : array-like of shape (n_samples,)
        Cluster of each sample.
    n_neighbors : int, default=10
        Neighbours per sample; ``n_samples - 1`` when the data has fewer (with a
        warning).
    random_state : int, default=0
        Seed of the approximate neighbour search (PyNNDescent) above 50,000 samples;
        fixed, so that the same labels of the same data always get the same score.

    Returns
    -------
    float
        In [0, 1]; greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from skssl.metrics import neighbor_consistency_score
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> neighbor_consistency_score(X, [0, 0, 0, 1, 1, 1], n_neighbors=2)
    1.0
    >>> round(neighbor_consistency_score(X, [0, 1, 0, 1, 0, 1], n_neighbors=2), 3)
    0.082
    """
    from skssl._graph.mining import mine_neighbors

    X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
    labels = column_or_1d(labels)
    check_consistent_length(X, labels)
    if np.unique(labels).size < 2:
        return 0.0
    neighbors = mine_neighbors(X, n_neighbors, random_state=random_state)
    own = np.repeat(labels, neighbors.shape[1])
    theirs = labels[neighbors].ravel()
    return float(
        normalized_mutual_info_score(np.concatenate([own, theirs]), np.concatenate([theirs, own]))
    )
