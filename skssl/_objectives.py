"""Training objectives of SelfSupervisedClassifier, one batch-loss builder each.

A builder takes the network, the training tensors and the objective's own settings as
explicit arguments, and returns the ``batch_loss(index, log) -> loss`` closure that
:func:`skssl._core.train_module` calls once per step. The losses themselves live in
:mod:`skssl._losses`; this module draws the views and far samples they compare.
"""

import numpy as np
import torch
from torch.nn import functional as F

from skssl._augment import feature_mask, gaussian_noise, neighbor_view, scarf_corrupt
from skssl._graph import normalized_affinity
from skssl._losses import (
    consistency_preserving_loss,
    iic_loss,
    minmax_loss,
    scan_loss,
    self_classifier_loss,
)
from skssl._losses._common import entropy

#: The objectives ``SelfSupervisedClassifier(objective=...)`` accepts.
OBJECTIVES = ("minmax", "self_classifier", "iic")

#: The ways ``views`` may build the two views of a sample, joined by "+" in this order.
VIEW_KINDS = ("neighbor", "noise", "mask", "scarf")

#: Every valid ``views`` string: a non-empty combination of VIEW_KINDS in their order.
VIEW_OPTIONS = frozenset(
    "+".join(kind for bit, kind in enumerate(VIEW_KINDS) if mask >> bit & 1)
    for mask in range(1, 2 ** len(VIEW_KINDS))
)


def needs_neighbors(objective, views):
    """Whether ``objective`` with ``views`` reads the mined neighbours at all."""
    return objective == "minmax" or "neighbor" in views.split("+")


def cluster_counts(assignment, n_clusters):
    """Rows each head assigns to each cluster, ``(n_heads, n_clusters)``.

    From ``(n_heads, B)`` cluster numbers. A scatter-add: summing a one-hot tensor
    took about 0.25 of SCAN's 3.2 ms steps on 10^4 x 32 rows.
    """
    counts = assignment.new_zeros((assignment.shape[0], n_clusters))
    return counts.scatter_add_(1, assignment, torch.ones_like(assignment))


def _cluster_counts(scores):
    """:func:`cluster_counts` of the argmax of ``(n_heads, B, C)`` scores."""
    return cluster_counts(scores.detach().argmax(dim=2), scores.shape[2])


#: Neighbours drawn per anchor at each min-max step, out of its ``n_neighbors``: the
#: loss's neighbour term is a mean over them, which two draws estimate without bias.
NEIGHBOR_DRAWS = 2


#: Largest batch whose far-sample distances come from one (B, B) product rather than
#: from gathered candidate rows. On one CPU thread, for 32 candidates: 0.1 ms against
#: 0.7 ms at B=256 x 64 features, 4 ms against 11 ms at 930 x 256, and 96 ms against
#: 7 ms at 4096 x 32.
FULL_DISTANCE_MAX_BATCH = 2048


def far_positions(anchors, neighbors, data, generator, *, n_negatives, n_candidates, near_fraction):
    """Far samples of each anchor among the other anchors of its batch, as batch positions.

    The rows of a batch are a uniform draw, so other anchors are far samples that cost
    no extra forward pass. Each anchor takes ``n_candidates`` of them (fixed offsets
    along the shuffled batch, drawn from ``generator``), skips its mined neighbours and
    the candidates inside the ``near_fraction`` quantile of their distances (with
    ``near_fraction = 1 / n_clusters`` the points that would share its class if
    classes were balanced), and keeps the ``n_negatives`` nearest of the rest.

    Parameters
    ----------
    anchors : LongTensor of shape (B,)
        Row numbers of the batch.
    neighbors : Tensor of shape (n_samples, k)
    data : Tensor of shape (n_samples, n_features)
        Points measured by Euclidean distance.
    generator : torch.Generator
        CPU generator for the offsets.
    n_negatives, n_candidates : int
        Far samples kept and candidates per anchor, each at most ``B - 1``; with
        ``n_candidates <= n_negatives`` the candidates are kept as drawn.
    near_fraction : float in [0, 1)

    Returns
    -------
    LongTensor of shape (B, min(n_negatives, B - 1)), positions in ``anchors``.
    """
    size = anchors.shape[0]
    n_candidates = min(max(n_candidates, n_negatives), size - 1)
    n_negatives = min(n_negatives, size - 1)
    offsets = 1 + torch.randperm(size - 1, generator=generator)[:n_candidates].to(anchors.device)
    candidates = (torch.arange(size, device=anchors.device)[:, None] + offsets) % size
    if n_candidates == n_negatives:
        return candidates
    points = data[anchors]
    norms = points.pow(2).sum(dim=1)
    if size <= FULL_DISTANCE_MAX_BATCH:
        products = (points @ points.T).gather(1, candidates)
    else:
        products = torch.einsum("bd,bmd->bm", points, points[candidates])
    distance = norms[:, None] + norms[candidates] - 2 * products
    is_neighbor = (anchors[candidates][..., None] == neighbors[anchors][:, None, :]).any(-1)
    distance = torch.where(is_neighbor, torch.zeros_like(distance), distance)
    threshold = torch.quantile(distance, near_fraction, dim=1, keepdim=True)
    # Candidates inside the quantile (and neighbours) sort last; the nearest of the rest first.
    ranked = torch.where(distance > threshold, distance, torch.full_like(distance, torch.inf))
    return candidates.gather(1, ranked.topk(n_negatives, dim=1, largest=False).indices)


#: Weight of SCAN's neighbour consistency ``-log <f(x), f(n)>`` that a supervised min-max
#: fit adds to each head's loss. The labels' terms are cross-entropies, unbounded where
#: a row contradicts its target, while the min-max neighbour term ``(1 - s)^2`` pulls
#: with a force of at most 2: the labels drowned the graph, and the network mostly
#: copied its spread labels (0.950 accurate on USPS's unlabelled rows at 5% labelled,
#: seeds 0-2, against 0.953 for the network). The log-likelihood speaks in the labels'
#: units. On USPS at 5% labelled (seeds 0-2) 1 gave 0.956 against 0.953 without it,
#: and 0.5 and 2 gave 0.956 too.
SUPERVISED_CONSISTENCY_WEIGHT = 1.0


def minmax_objective(
    network,
    data,
    neighbors,
    generator,
    *,
    n_negatives,
    far_candidates,
    entropy_weight,
    far_weight,
    similarity,
    consistency_weight=0.0,
):
    """Batch loss of the min-max ("SCANv2") objective, summed over the heads.

    Each anchor meets ``NEIGHBOR_DRAWS`` of its mined neighbours and ``n_negatives``
    far samples chosen among the batch's other anchors (:func:`far_positions`, with
    ``near_fraction = 1 / n_clusters``): one forward pass of ``(1 + NEIGHBOR_DRAWS) B``
    rows serves every pair, where drawing all neighbours and fresh far samples took
    ``(1 + n_neighbors + n_negatives) B``. A positive ``consistency_weight`` adds, times
    it, SCAN's consistency over the same neighbour pairs
    (:func:`skssl._losses.scan_loss` without its entropy; logged as ``consistency``;
    see :data:`SUPERVISED_CONSISTENCY_WEIGHT`). Each head's loss is logged as
    ``head_losses``.
    """
    near_fraction = 1.0 / network.heads.weight.shape[1]
    draws = min(NEIGHBOR_DRAWS, neighbors.shape[1])

    def batch_loss(index, log):
        size = index.shape[0]
        if size < 2:  # no other anchor to be far from
            return None
        column = torch.randint(neighbors.shape[1], (size, draws), generator=generator)
        near_rows = neighbors[index[:, None], column.to(index.device)].long()
        far = far_positions(
            index,
            neighbors,
            data,
            generator,
            n_negatives=n_negatives,
            n_candidates=far_candidates,
            near_fraction=near_fraction,
        )
        proba = network.heads.proba(network.embed(data[torch.cat([index, near_rows.reshape(-1)])]))
        anchor = proba[:, :size]
        near = proba[:, size:].view(proba.shape[0], size, draws, -1)
        head_losses, terms = minmax_loss(
            anchor,
            near,
            anchor[:, far],
            entropy_weight=entropy_weight,
            similarity=similarity,
            far_weight=far_weight,
        )
        if consistency_weight:
            consistency = scan_loss(anchor, near, entropy_weight=0.0)[0]
            head_losses = head_losses + consistency_weight * consistency
            terms["consistency"] = consistency.detach()
        log.add(**terms, head_losses=head_losses, cluster_counts=_cluster_counts(anchor))
        return head_losses.sum()

    return batch_loss


def view_sampler(network, data, neighbors, generator, *, views, view_strength):
    """Return ``draw(index) -> (x_1, x_2)``: two views of the rows ``index``.

    With ``"neighbor"`` in ``views`` the second view starts from one mined neighbour
    drawn uniformly, else from the sample itself. ``"noise"`` (Gaussian noise of
    ``view_strength`` times each feature's spread), ``"mask"`` (entries set to the
    feature mean with probability ``view_strength``) and ``"scarf"`` (entries
    replaced by draws from the feature's marginal with that probability) then corrupt
    both views independently. Means and spreads are the network's standardiser's.
    Every draw comes from a generator on the data's device seeded from ``generator``.
    """
    kinds = views.split("+")
    mean, scale = network.standardize.mean, network.standardize.scale
    seed = int(torch.randint(2**62, (1,), generator=generator))
    device_generator = torch.Generator(device=data.device).manual_seed(seed)
    corruptions = []
    if "noise" in kinds:
        corruptions.append(lambda x: gaussian_noise(x, view_strength, scale, device_generator))
    if "mask" in kinds:
        corruptions.append(lambda x: feature_mask(x, view_strength, device_generator, fill=mean))
    if "scarf" in kinds:
        corruptions.append(lambda x: scarf_corrupt(x, data, view_strength, device_generator))

    def draw(index):
        second = neighbor_view(index, neighbors, device_generator) if "neighbor" in kinds else index
        x_pair = [data[index], data[second]]
        for corrupt in corruptions:
            x_pair = [corrupt(x) for x in x_pair]
        return x_pair

    return draw


def _two_view_logits(network, draw, index):
    """Both views' logits, ``(n_heads, B, C)`` each, the over-clustering head's, and embeddings.

    The over-clustering logits are None without that head.
    """
    x_1, x_2 = draw(index)
    v = network.embed(torch.cat([x_1, x_2]))
    size = index.shape[0]
    logits = network.heads(v)
    over = None
    if network.overclustering is not None:
        z = network.overclustering(v)[0]
        over = (z[:size], z[size:])
    return (logits[:, :size], logits[:, size:]), over, (v[:size], v[size:])


def self_classifier_objective(network, draw, *, column_temperature):
    """Batch loss of Self-Classifier on two views, summed over the heads.

    The heads are normalised (cosine) heads that already divide their logits by the
    row temperature, so ``column_temperature`` is given relative to it
    (``column_temperature / temperature``) to act at the requested value on the cosines.
    Each head's loss is logged as ``head_losses``.
    """

    def loss_of(z_1, z_2):
        return self_classifier_loss(
            z_1, z_2, row_temperature=1.0, column_temperature=column_temperature
        )

    def batch_loss(index, log):
        if index.shape[0] < 2:  # the column softmax of one row says nothing
            return None
        (z_1, z_2), over, _ = _two_view_logits(network, draw, index)
        head_losses, terms = loss_of(z_1, z_2)
        log.add(**terms, head_losses=head_losses, cluster_counts=_cluster_counts(z_1))
        return head_losses.sum() + (0.0 if over is None else loss_of(*over)[0])

    return batch_loss


def iic_objective(network, draw, *, entropy_weight, consistency_weight, consistency_temperature):
    """Batch loss of IIC on two views plus consistency preservation, summed over the heads.

    Per head ``L_assign - entropy_weight * H(mean f(x_1))``, plus the over-clustering
    head's ``L_assign``, plus ``consistency_weight * L_cp`` on the embeddings that feed
    the heads. Each head's loss, its own terms plus the shared consistency term, is
    logged as ``head_losses``.
    """

    def batch_loss(index, log):
        if index.shape[0] < 2:  # one row has no joint distribution and no other instance
            return None
        (z_1, z_2), over, (v_1, v_2) = _two_view_logits(network, draw, index)
        # The heads' logits are a transposed (n_heads, C, B) array: a softmax along its
        # middle axis runs several times faster on a CPU than along the short last one.
        p_1, p_2 = (torch.softmax(z.mT, dim=1).mT for z in (z_1, z_2))
        mutual_information = iic_loss(p_1, p_2)[0]
        # IIC's "lamb": extra weight on the entropy of the marginal, against empty clusters.
        marginal_entropy = entropy(p_1.mean(dim=1), 1e-8)
        assignment = mutual_information - entropy_weight * marginal_entropy
        consistency, _ = consistency_preserving_loss(v_1, v_2, temperature=consistency_temperature)
        # Each head's loss as if it were alone; the shared term is trained once.
        head_losses = assignment + consistency_weight * consistency
        log.add(
            mutual_information=-mutual_information,
            marginal_entropy=marginal_entropy,
            consistency=consistency,
            head_losses=head_losses,
            cluster_counts=_cluster_counts(z_1),
        )
        loss = assignment.sum() + consistency_weight * consistency
        if over is not None:
            loss = loss + iic_loss(*(torch.softmax(z, dim=1) for z in over))[0]
        return loss

    return batch_loss


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


#: Share ``alpha`` of each row's propagated label distribution that comes from its
#: neighbours rather than from its own label (Zhou et al.'s label spreading). In
#: SelfSupervisedClassifier on digits (1%, 5%, 10% labelled, seeds 0-2), 0.9 gave
#: 0.917, 0.962 and 0.973 on the unlabelled rows; 0.2 (LabelSpreading's default)
#: 0.866, 0.939, 0.962; 0.5 0.887, 0.945, 0.965; 0.8 0.904, 0.958, 0.972; 0.99
#: 0.912, 0.963, 0.968; 0.999 0.906, 0.954, 0.962.
PROPAGATION_ALPHA = 0.9

#: Label-spreading iterations: ``PROPAGATION_ALPHA ** 100`` (3e-5) of the start is left.
PROPAGATION_ITERATIONS = 100

#: Weight of the propagated labels' cross-entropy against the unsupervised loss. In
#: SelfSupervisedClassifier (seeds 0-2) 1 gave 0.954 and 0.960 on USPS at 5% and 10%
#: labelled, 0.3 gave 0.938 and 0.950, 3 gave 0.952 and 0.957; on digits (with alpha
#: 0.99) 1 gave 0.912, 0.963 and 0.968 at 1%, 5% and 10%, 0.3 0.897, 0.951, 0.963,
#: and 3 0.916, 0.964, 0.965.
PROPAGATED_WEIGHT = 1.0


def propagate_labels(neighbors, labels, n_classes):
    """Spread the labelled rows' classes over the mined neighbour graph.

    Label spreading (Zhou et al., 2004) on :func:`skssl._graph.neighbor_graph`,
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
