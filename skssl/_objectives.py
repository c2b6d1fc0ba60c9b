"""Training objectives, one batch-loss builder each: SelfSupervisedClassifier's and SCAN's.

A builder takes the network, the training tensors and the objective's own settings as
explicit arguments, and returns the ``batch_loss(index, log) -> loss`` closure that
:func:`skssl._core.train_module` calls once per step. The losses themselves live in
:mod:`skssl._losses`; this module draws the views and far samples they compare.
"""

import torch
from torch.nn import functional as F

from skssl._augment import feature_mask, gaussian_noise, neighbor_view, scarf_corrupt
from skssl._losses import (
    consistency_preserving_loss,
    iic_loss,
    minmax_loss,
    scan_loss,
    self_classifier_loss,
    soft_nearest_neighbor_loss,
)
from skssl._losses._common import entropy

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


#: Largest batch whose far-sample products come from one (B, B) matrix product. Above
#: it each candidate offset's products are one row-wise product of the batch with
#: itself shifted by that offset: B x n_candidates x d multiplications instead of
#: B x B x d. On one CPU thread, for 32 candidates, (B, B) against shifted: 0.10 ms
#: against 0.29 ms at B=256 x 64 features, 0.36 against 0.42 ms at 512 x 64, 1.3
#: against 1.0 ms at 512 x 256, 2.2 against 1.3 ms at 664 x 256 (USPS) and 46 against
#: 1.8 ms at 4096 x 32. Gathering the candidates' rows instead took 6.2 ms at 664 x 256.
FULL_PRODUCT_MAX_BATCH = 512


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
    # Drawn on the CPU (the generator's device), where the shifted products read them.
    offsets = 1 + torch.randperm(size - 1, generator=generator)[:n_candidates]
    candidates = (
        torch.arange(size, device=anchors.device)[:, None] + offsets.to(anchors.device)
    ) % size
    if n_candidates == n_negatives:
        return candidates
    points = data[anchors]
    norms = points.pow(2).sum(dim=1)
    if size <= FULL_PRODUCT_MAX_BATCH:
        products = (points @ points.T).gather(1, candidates)
    else:
        # Candidate m of anchor i is anchor (i + offsets[m]) % size, a row of the
        # batch's doubled copy shifted by offsets[m].
        doubled = torch.cat([points, points])
        products = torch.stack(
            [(points * doubled[offset : offset + size]).sum(dim=1) for offset in offsets.tolist()],
            dim=1,
        )
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
        # index_select, not anchor[:, far]: the backward of advanced indexing is an
        # accumulating index_put_, whose CPU kernel adds the repeated far positions in
        # thread order, so fits with two Torch threads differed in the last bits (and
        # then in their probabilities); index_select's backward adds them in order.
        far_anchor = anchor.index_select(1, far.reshape(-1)).unflatten(1, far.shape)
        head_losses, terms = minmax_loss(
            anchor,
            near,
            far_anchor,
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


def view_sampler(network, data, neighbors, generator, *, views, view_strength, first_view=None):
    """Return ``draw(index) -> (x_1, x_2)``: two views of the rows ``index``.

    With ``"neighbor"`` in ``views`` the second view starts from one mined neighbour
    drawn uniformly, else from the sample itself. ``first_view(x, generator)``, when
    given (the input kind's weak view, e.g. a random affine move of an image), moves
    both. ``"noise"`` (Gaussian noise of
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
        if first_view is not None:
            x_pair = [first_view(x, device_generator) for x in x_pair]
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


def partition_objective(network, data, partition, trust, generator, *, neighbors=None, view=None):
    """Batch loss that fits the network to a partition: SCANClusterer's second stage.

    Each row's cross-entropy towards its cluster ``partition[i]`` is weighted by
    ``trust[i]``. With ``neighbors`` (supervised fits), SCAN's neighbour consistency
    ``-log <f(x), f(n)>`` for one drawn neighbour ``n`` is added. ``view(x, generator)``
    draws what the network sees of the rows (the input kind's weak view).
    """

    def batch_loss(index, log):
        size = index.shape[0]
        if neighbors is not None:
            index = torch.cat([index, neighbor_view(index, neighbors, generator).to(index.device)])
        x = data[index] if view is None else view(data[index], generator)
        logits = network.heads(network.embed(x))[0]
        anchors = logits[:size]
        counts = torch.bincount(anchors.argmax(dim=1), minlength=logits.shape[1])
        log.add(cluster_counts=counts)
        fitted = F.cross_entropy(anchors, partition[index[:size]], reduction="none")
        loss = (fitted * trust[index[:size]]).mean()
        if neighbors is not None:
            proba = torch.softmax(logits, dim=1)
            agreement = (proba[:size] * proba[size:]).sum(dim=1)
            loss = loss - torch.log(agreement.clamp_min(1e-8)).mean()
        return loss

    return batch_loss


def self_label_objective(network, data, threshold, strong_view):
    """Batch loss of self-labelling: confident weak-view argmax as target of a strong view.

    A sample is confident when its largest probability on the weak view (the
    sample itself, without gradient) reaches ``threshold``. The cross-entropy is
    class-balanced with ``w_c = n_confident / count_c`` over the batch's confident
    samples; a batch without a confident sample is skipped.
    """

    def batch_loss(index, log):
        x = data[index]
        with torch.no_grad():
            proba = network(x)
        confidence, target = proba.max(dim=1)
        confident = confidence >= threshold
        log.add(cluster_counts=torch.bincount(target, minlength=proba.shape[1]))
        n_confident = int(confident.sum())
        if n_confident == 0:
            return None
        target = target[confident]
        counts = torch.bincount(target, minlength=proba.shape[1]).to(x.dtype)
        weight = torch.where(counts > 0, n_confident / counts.clamp(min=1), 0.0)
        logits = network.heads(network.embed(strong_view(x[confident], index[confident])))[0]
        return F.cross_entropy(logits, target, weight=weight)

    return batch_loss


def snnl_objective(
    network,
    data,
    partners,
    positives,
    temperature_at,
    generator,
    *,
    snnl_weight,
    distance,
    input_noise,
):
    """Batch loss of SNNLTransformer: reconstruction plus ``snnl_weight`` times the SNNL.

    Each anchor of the batch brings a partner (``partners(index)``); ``positives(rows)``
    marks which rows count as each row's neighbours, and the soft nearest neighbour loss
    of the anchors' codes runs at ``temperature_at(epoch)``. The network encodes
    the rows plus Gaussian noise of ``input_noise`` times each feature's spread, and
    reconstructs them.
    """
    feature_std = network.standardize.scale

    def noisy(x):
        if input_noise == 0:
            return x  # draws nothing, so the generator's stream is unchanged
        return gaussian_noise(x, input_noise, feature_std, generator)

    def batch_loss(index, log):
        rows = torch.cat([index, partners(index)])
        x = data[rows]
        code = network(noisy(x))
        reconstruction = F.mse_loss(network.reconstruct_standardized(code), network.standardize(x))
        temperature = temperature_at(log.epoch)
        # The anchors are the first rows; their partners only serve as candidates.
        mask = positives(rows)[: index.shape[0]]
        snnl = soft_nearest_neighbor_loss(code, mask, temperature, distance)[0]
        log.add(
            reconstruction=reconstruction,
            snnl=snnl,
            temperature=torch.as_tensor(temperature, dtype=torch.float64, device=x.device),
        )
        return reconstruction + snnl_weight * snnl

    return batch_loss


#: SelfSupervisedClassifier's objectives by name, as MLPClassifier's ``LOSS_FUNCTIONS``:
#: ``objective=...`` picks the batch-loss builder. The min-max builder reads the rows and
#: their mined neighbours, the two-view ones a :func:`view_sampler`.
OBJECTIVES = {
    "minmax": minmax_objective,
    "self_classifier": self_classifier_objective,
    "iic": iic_objective,
}
