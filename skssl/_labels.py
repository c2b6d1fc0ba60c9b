"""The terms a few labels add to an unsupervised loss, shared by both clusterers.

With ``supervised=True`` a fit adds the labelled rows' cross-entropy at every step
(:func:`with_labelled_rows`) and, when every column is a labelled class, that of the
labels spread over the mined neighbour graph (:func:`with_propagated_labels`, from
:func:`skssl._graph.propagate_labels`). :func:`with_label_terms` adds both.
"""

import numpy as np
import torch
from torch.nn import functional as F

from skssl._graph.adjacency import normalized_affinity

#: Weight of the labelled rows' cross-entropy against the unsupervised loss. With SCAN
#: on USPS (seeds 1 and 2), 10 against 1 raised the accuracy on the unlabelled rows
#: from 0.943 and 0.929 to 0.957 and 0.945 at 5% labelled, from 0.948 and 0.948 to
#: 0.961 and 0.960 at 10%, and left 1% at 0.906 and 0.907 (0.890, 0.908). On digits
#: (seeds 0-2) it gave 0.911, 0.954 and 0.972 at 1%, 5% and 10% against 0.913, 0.958
#: and 0.968.
LABEL_WEIGHT = 10.0


def _head_cross_entropy(network, x, targets):
    """Every head's mean cross-entropy of rows ``x`` towards ``targets``: ``(n_heads, B)``."""
    logits = network.heads(network.embed(x))
    n_heads = logits.shape[0]
    return F.cross_entropy(logits.flatten(0, 1), targets.repeat(n_heads), reduction="none").view(
        n_heads, x.shape[0]
    )


def with_labelled_rows(batch_loss, *, network, data, labels, generator, batch_size):
    """``batch_loss`` plus every head's cross-entropy on a draw of the labelled rows.

    The semi-supervised term of ``supervised=True``: at every step
    ``min(batch_size, n_labelled)`` labelled rows (``labels >= 0``; -1 marks an
    unlabelled row) are drawn uniformly with replacement, apart from the batch, so that
    even 1% of labelled rows weighs at every step; head column ``c`` is trained towards
    class ``c``, weighted by :data:`LABEL_WEIGHT`. The unsupervised loss still shapes
    the rest: neighbours carry the labels through the data. Each head's cross-entropy
    is logged (unweighted) as ``label_losses``. With
    ``labels`` None, ``batch_loss`` is returned as it is.
    """
    if labels is None:
        return batch_loss
    labelled = torch.nonzero(labels >= 0).flatten()
    targets = labels[labelled]
    n_rows = min(batch_size, labelled.shape[0])

    def combined(index, log):
        loss = batch_loss(index, log)
        pick = torch.randint(labelled.shape[0], (n_rows,), generator=generator)
        pick = pick.to(labelled.device)
        rows = labelled[pick]
        label_losses = _head_cross_entropy(network, data[rows], targets[pick]).mean(dim=1)
        log.add(label_losses=label_losses)
        labelled_term = LABEL_WEIGHT * label_losses.sum()
        return labelled_term if loss is None else loss + labelled_term

    return combined


#: Weight of the propagated labels' cross-entropy against the unsupervised loss. In
#: SelfSupervisedClassifier (seeds 0-2) 1 gave 0.954 and 0.960 on USPS at 5% and 10%
#: labelled, 0.3 gave 0.938 and 0.950, 3 gave 0.952 and 0.957; on digits (with alpha
#: 0.99) 1 gave 0.912, 0.963 and 0.968 at 1%, 5% and 10%, 0.3 0.897, 0.951, 0.963,
#: and 3 0.916, 0.964, 0.965.
PROPAGATED_WEIGHT = 1.0


def with_propagated_labels(batch_loss, *, network, data, targets, weights):
    """``batch_loss`` plus every head's cross-entropy on the batch's propagated labels.

    The second semi-supervised term of ``SelfSupervisedClassifier(supervised=True)``:
    each row of the batch is pulled towards its class from :func:`propagate_labels`,
    weighted by its certainty (hard targets: on digits they gave 0.912, 0.963 and 0.968
    at 1%, 5% and 10% labelled against 0.899, 0.948 and 0.955 for the soft
    distributions, alpha 0.99, seeds 0-2), times :data:`PROPAGATED_WEIGHT`. Each
    head's weighted mean cross-entropy is logged as ``propagated_losses``.
    """

    def combined(index, log):
        loss = batch_loss(index, log)
        cross_entropy = _head_cross_entropy(network, data[index], targets[index])
        propagated_losses = (cross_entropy * weights[index]).mean(dim=1)
        log.add(propagated_losses=propagated_losses)
        term = PROPAGATED_WEIGHT * propagated_losses.sum()
        return term if loss is None else loss + term

    return combined


#: Share ``alpha`` of each row's propagated label distribution that comes from its
#: neighbours rather than from its own label (Zhou et al.'s label spreading). In
#: SelfSupervisedClassifier on digits (1%, 5%, 10% labelled, seeds 0-2), 0.9 gave
#: 0.917, 0.962 and 0.973 on the unlabelled rows; 0.2 (LabelSpreading's default)
#: 0.866, 0.939, 0.962; 0.5 0.887, 0.945, 0.965; 0.8 0.904, 0.958, 0.972; 0.99
#: 0.912, 0.963, 0.968; 0.999 0.906, 0.954, 0.962.
PROPAGATION_ALPHA = 0.9

#: Label-spreading iterations: ``PROPAGATION_ALPHA ** 100`` (3e-5) of the start is left.
PROPAGATION_ITERATIONS = 100


def propagate_labels(neighbors, labels, n_classes):
    """Spread the labelled rows' classes over the mined neighbour graph.

    Label spreading (Zhou et al., 2004) on :func:`skssl._graph.adjacency.neighbor_graph`,
    ``F <- alpha S F + (1 - alpha) Y`` with ``S = D^-1/2 W D^-1/2``, ``Y`` the one-hot
    labels (-1 marks an unlabelled row, a zero row of ``Y``) and ``alpha`` =
    :data:`PROPAGATION_ALPHA`, iterated :data:`PROPAGATION_ITERATIONS` times. As in
    Iscen et al. (2019), each row gets the class of its largest entry and a certainty
    weight ``1 - H(F_i / sum F_i) / log n_classes``; a labelled row keeps its own class
    with weight 1, and a row no label reaches gets weight 0.

    Parameters
    ----------
    neighbors : ndarray of shape (n_samples, k)
    labels : ndarray of shape (n_samples,)
        Class codes in ``[0, n_classes)``, -1 for an unlabelled row.
    n_classes : int

    Returns
    -------
    targets : ndarray of shape (n_samples,), int64
    weights : ndarray of shape (n_samples,), float64, in [0, 1]
    """
    affinity = normalized_affinity(neighbors)
    labelled = labels >= 0
    start = np.zeros((labels.shape[0], n_classes))
    start[labelled, labels[labelled]] = 1.0
    spread = start
    for _ in range(PROPAGATION_ITERATIONS):
        spread = PROPAGATION_ALPHA * (affinity @ spread) + (1 - PROPAGATION_ALPHA) * start
    total = spread.sum(axis=1, keepdims=True)
    reached = total[:, 0] > 0
    share = np.where(reached[:, None], spread / np.where(total > 0, total, 1.0), 1.0 / n_classes)
    entropy = -(share * np.log(np.where(share > 0, share, 1.0))).sum(axis=1)
    weights = np.where(reached, 1.0 - entropy / np.log(max(n_classes, 2)), 0.0)
    targets = share.argmax(axis=1)
    targets[labelled], weights[labelled] = labels[labelled], 1.0
    return targets, np.clip(weights, 0.0, 1.0)


def spreads_labels(labels, classes, n_clusters):
    """Whether a supervised fit adds the propagated labels' term.

    Only when every one of the ``n_clusters`` columns is a labelled class: spread
    labels name only labelled classes, so they would swallow the rows of any cluster
    beyond them.
    """
    return labels is not None and classes.shape[0] == n_clusters


def propagated_labels(neighbors, labels, classes, n_clusters, device):
    """:func:`propagate_labels` as ``(targets, weights)`` tensors on ``device``, or None.

    None unless :func:`spreads_labels`.
    """
    if not spreads_labels(labels, classes, n_clusters):
        return None
    targets, weights = propagate_labels(neighbors, labels, n_clusters)
    return (
        torch.tensor(targets, device=device),
        torch.tensor(weights, dtype=torch.float32, device=device),
    )


def total_head_losses(means):
    """Every head's loss as trained, from a log's ``means``.

    ``head_losses`` (the unsupervised objective) plus ``LABEL_WEIGHT`` times
    ``label_losses`` and ``PROPAGATED_WEIGHT`` times ``propagated_losses``, the terms
    :func:`with_label_terms` adds (0 for a term the fit did not add).
    """
    labelled_term = LABEL_WEIGHT * means.get("label_losses", 0.0)
    propagated_term = PROPAGATED_WEIGHT * means.get("propagated_losses", 0.0)
    return means["head_losses"] + labelled_term + propagated_term


def with_label_terms(batch_loss, *, network, data, labels, propagated, generator, batch_size):
    """``batch_loss`` plus the terms of a supervised fit, shared by both clusterers.

    :func:`with_labelled_rows` with ``labels`` (None: no term), then
    :func:`with_propagated_labels` with ``propagated`` (from :func:`propagated_labels`;
    None: no term).
    """
    batch_loss = with_labelled_rows(
        batch_loss,
        network=network,
        data=data,
        labels=labels,
        generator=generator,
        batch_size=batch_size,
    )
    if propagated is None:
        return batch_loss
    targets, weights = propagated
    return with_propagated_labels(
        batch_loss, network=network, data=data, targets=targets, weights=weights
    )
