"""Training objectives, one batch-loss builder each, in one registry: :data:`OBJECTIVES`.

Every builder has one signature, ``build(network, inputs, **settings)``: the network,
the fit's :class:`TrainingInputs` (its tensors and random stream), and the settings the
registry entry names, which are estimator parameters of the same names. It returns the
``batch_loss(index, log) -> loss`` closure that :func:`skssl._core.train_module` calls
once per step. Adding an objective is one builder and one entry; the estimators look
it up by name and never branch on it (as MLPClassifier's ``LOSS_FUNCTIONS``). The
losses themselves live in :mod:`skssl._losses`; this module draws the neighbours,
views and far samples they compare.
"""

from dataclasses import dataclass

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
from skssl._losses._common import prior_entropy

#: The ways ``views`` may build the two views of a sample, joined by "+" in this order.
VIEW_KINDS = ("neighbor", "noise", "mask", "scarf")

#: Every valid ``views`` string: a non-empty combination of VIEW_KINDS in their order.
VIEW_OPTIONS = frozenset(
    "+".join(kind for bit, kind in enumerate(VIEW_KINDS) if mask >> bit & 1)
    for mask in range(1, 2 ** len(VIEW_KINDS))
)


@dataclass
class TrainingInputs:
    """What a fit hands every objective's builder: its tensors and its random stream.

    Attributes
    ----------
    data : Tensor of shape (n_samples, n_features)
        The training rows, on the training device. Objectives gather a batch's rows
        with ``index_select``: ``data[index]`` took four times as long on the CPU
        (0.20 ms against 0.05 ms for 700 rows of 784 features), for the same values.
    neighbors : Tensor of shape (n_samples, k)
        Mined neighbours of every row (k may be 0 where nothing reads them).
    generator : torch.Generator
        The CPU generator every draw comes from.
    partition : LongTensor of shape (n_samples,) or None
        The graph stage's density partition, that stage one fits and stage two may
        keep to.
    trust : Tensor of shape (n_samples,) or None
        Weight of each row's partition target (1, or less where spread labels are
        certain).
    prior : Tensor of shape (n_clusters,) or None
        Target cluster shares of the entropy terms; None for equal shares.
    supervised : bool
        Whether the labels' terms are added to this loss.
    weak_view, strong_view : callable
        The input kind's views (:mod:`skssl._input`): ``weak_view(x, generator)``, and
        ``strong_view(x, index)`` for self-labelling.
    """

    data: torch.Tensor
    neighbors: torch.Tensor
    generator: torch.Generator
    partition: torch.Tensor = None
    trust: torch.Tensor = None
    prior: torch.Tensor = None
    supervised: bool = False
    weak_view: object = None
    strong_view: object = None


def cluster_counts(assignment, n_clusters):
    """Rows each head assigns to each cluster, ``(n_heads, n_clusters)``.

    From ``(n_heads, B)`` cluster numbers. A scatter-add: summing a one-hot tensor
    took about 0.25 of SCAN's 3.2 ms steps on 10^4 x 32 rows.
    """
    counts = assignment.new_zeros((assignment.shape[0], n_clusters))
    return counts.scatter_add_(1, assignment, torch.ones_like(assignment))


def _cluster_counts(scores):
    """:func:`cluster_counts` of the argmax of ``(n_heads, B, C)`` scores.

    ``max(...).indices``, not ``argmax``: the heads' scores are a transposed view, along
    whose short last axis Torch's CPU argmax took 0.71 ms at 1024 rows and 10 clusters,
    against 0.06 ms (the same first index of the largest value).
    """
    return cluster_counts(scores.detach().max(dim=2).indices, scores.shape[2])


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
    network, inputs, *, n_negatives, far_candidates, entropy_weight, far_weight, similarity
):
    """Batch loss of the min-max ("SCANv2") objective, summed over the heads.

    Each anchor meets ``NEIGHBOR_DRAWS`` of its mined neighbours and ``n_negatives``
    far samples chosen among the batch's other anchors (:func:`far_positions`, with
    ``near_fraction = 1 / n_clusters``): one forward pass of ``(1 + NEIGHBOR_DRAWS) B``
    rows serves every pair, where drawing all neighbours and fresh far samples took
    ``(1 + n_neighbors + n_negatives) B``. A supervised fit adds SCAN's consistency
    over the same neighbour pairs (:func:`skssl._losses.scan_loss` without its entropy;
    logged as ``consistency``), weighted :data:`SUPERVISED_CONSISTENCY_WEIGHT`. Each
    head's loss is logged as ``head_losses``.
    """
    data, neighbors, generator = inputs.data, inputs.neighbors, inputs.generator
    consistency_weight = SUPERVISED_CONSISTENCY_WEIGHT if inputs.supervised else 0.0
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
        rows = data.index_select(0, torch.cat([index, near_rows.reshape(-1)]))
        proba = network.heads.proba(network.embed(rows))
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
            prior=inputs.prior,
        )
        if consistency_weight:
            consistency = scan_loss(anchor, near, entropy_weight=0.0)[0]
            head_losses = head_losses + consistency_weight * consistency
            terms["consistency"] = consistency.detach()
        log.add(**terms, head_losses=head_losses, cluster_counts=_cluster_counts(anchor))
        return head_losses.sum()

    return batch_loss


def view_sampler(network, inputs, *, views, view_strength):
    """Return ``draw(index) -> (x_1, x_2)``: two views of the rows ``index``.

    With ``"neighbor"`` in ``views`` the second view starts from one mined neighbour
    drawn uniformly, else from the sample itself. The input kind's weak view (e.g. a
    random affine move of an image; a table's is the row itself) moves both.
    ``"noise"`` (Gaussian noise of ``view_strength`` times each feature's spread),
    ``"mask"`` (entries set to the feature mean with probability ``view_strength``) and
    ``"scarf"`` (entries replaced by draws from the feature's marginal with that
    probability) then corrupt both views independently. Means and spreads are the
    network's standardiser's. Every draw comes from a generator on the data's device
    seeded from the inputs' generator.
    """
    data, neighbors, first_view = inputs.data, inputs.neighbors, inputs.weak_view
    kinds = views.split("+")
    mean, scale = network.standardize.mean, network.standardize.scale
    seed = int(torch.randint(2**62, (1,), generator=inputs.generator))
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
        x_pair = [data.index_select(0, index), data.index_select(0, second)]
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


def self_classifier_objective(
    network, inputs, *, temperature, column_temperature, views, view_strength
):
    """Batch loss of Self-Classifier on two views (:func:`view_sampler`), summed over the heads.

    The heads are normalised (cosine) heads that already divide their logits by the
    row ``temperature``, so the column temperature is applied relative to it
    (``column_temperature / temperature``) to act at the requested value on the cosines.
    Each head's loss is logged as ``head_losses``.
    """
    draw = view_sampler(network, inputs, views=views, view_strength=view_strength)

    def loss_of(z_1, z_2):
        return self_classifier_loss(
            z_1, z_2, row_temperature=1.0, column_temperature=column_temperature / temperature
        )

    def batch_loss(index, log):
        if index.shape[0] < 2:  # the column softmax of one row says nothing
            return None
        (z_1, z_2), over, _ = _two_view_logits(network, draw, index)
        head_losses, terms = loss_of(z_1, z_2)
        log.add(**terms, head_losses=head_losses, cluster_counts=_cluster_counts(z_1))
        return head_losses.sum() + (0.0 if over is None else loss_of(*over)[0])

    return batch_loss


def iic_objective(
    network,
    inputs,
    *,
    entropy_weight,
    consistency_weight,
    consistency_temperature,
    views,
    view_strength,
):
    """Batch loss of IIC on two views plus consistency preservation, summed over the heads.

    Per head ``L_assign - entropy_weight * H(mean f(x_1))`` (or ``-KL`` from the
    inputs' prior), plus the over-clustering
    head's ``L_assign``, plus ``consistency_weight * L_cp`` on the embeddings that feed
    the heads. Each head's loss, its own terms plus the shared consistency term, is
    logged as ``head_losses``.
    """
    draw = view_sampler(network, inputs, views=views, view_strength=view_strength)

    def batch_loss(index, log):
        if index.shape[0] < 2:  # one row has no joint distribution and no other instance
            return None
        (z_1, z_2), over, (v_1, v_2) = _two_view_logits(network, draw, index)
        # The heads' logits are a transposed (n_heads, C, B) array: a softmax along its
        # middle axis runs several times faster on a CPU than along the short last one.
        p_1, p_2 = (torch.softmax(z.mT, dim=1).mT for z in (z_1, z_2))
        mutual_information = iic_loss(p_1, p_2)[0]
        # IIC's "lamb": extra weight on the entropy of the marginal, against empty clusters.
        marginal_entropy = prior_entropy(p_1.mean(dim=1), inputs.prior, 1e-8)
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


def _cross_entropy_by_head(logits, targets, weights):
    """Every head's mean of ``weights`` times its cross-entropy towards ``targets``: ``(H,)``."""
    n_heads, size = logits.shape[:2]
    fitted = F.cross_entropy(logits.flatten(0, 1), targets.repeat(n_heads), reduction="none")
    return (fitted.view(n_heads, size) * weights).mean(dim=1)


def partition_objective(network, inputs):
    """Batch loss that fits every head to the graph stage's partition: stage one.

    Each row's cross-entropy towards its cluster ``inputs.partition[i]`` is weighted by
    ``inputs.trust[i]``, on the input kind's weak view of the rows. A supervised fit
    adds SCAN's neighbour consistency ``-log <f(x), f(n)>`` for one drawn neighbour
    ``n``, which carries the labels along the graph. Each head's loss is logged as
    ``head_losses``.
    """
    data, generator, view = inputs.data, inputs.generator, inputs.weak_view

    def batch_loss(index, log):
        size = index.shape[0]
        if inputs.supervised:
            near = neighbor_view(index, inputs.neighbors, generator).to(index.device)
            index = torch.cat([index, near])
        logits = network.heads(network.embed(view(data.index_select(0, index), generator)))
        anchors = logits[:, :size]
        head_losses = _cross_entropy_by_head(
            anchors, inputs.partition[index[:size]], inputs.trust[index[:size]]
        )
        if inputs.supervised:
            proba = torch.softmax(logits, dim=2)
            agreement = (proba[:, :size] * proba[:, size:]).sum(dim=2)
            head_losses = head_losses - torch.log(agreement.clamp_min(1e-8)).mean(dim=1)
        log.add(head_losses=head_losses, cluster_counts=_cluster_counts(anchors))
        return head_losses.sum()

    return batch_loss


def scan_objective(network, inputs, *, entropy_weight, partition_weight):
    """Batch loss of SCAN's clustering step from stage one's network, summed over the heads.

    Per head, SCAN's loss (:func:`skssl._losses.scan_loss`): the consistency
    ``-log <f(x), f(n)>`` with one mined neighbour ``n`` drawn per anchor, minus
    ``entropy_weight`` times the entropy of the mean prediction (``-KL`` from the
    inputs' prior, the partition's cluster shares, where it is set), both on the input
    kind's weak view. Plus ``partition_weight`` times the cross-entropy towards the
    partition stage one fitted (weighted by the inputs' trust), which keeps the
    refinement near the partition as seed 002's ``L_cp`` keeps its stage two near
    stage one; 0 is the paper's loss. Each head's loss is logged as ``head_losses``.
    """
    data, generator, view = inputs.data, inputs.generator, inputs.weak_view

    def batch_loss(index, log):
        size = index.shape[0]
        near = neighbor_view(index, inputs.neighbors, generator).to(index.device)
        rows = data.index_select(0, torch.cat([index, near]))
        logits = network.heads(network.embed(view(rows, generator)))
        proba = torch.softmax(logits.mT, dim=1).mT
        head_losses, terms = scan_loss(
            proba[:, :size], proba[:, size:], entropy_weight=entropy_weight, prior=inputs.prior
        )
        if partition_weight:
            fitted = _cross_entropy_by_head(
                logits[:, :size], inputs.partition[index], inputs.trust[index]
            )
            head_losses = head_losses + partition_weight * fitted
            terms["partition"] = fitted.detach()
        log.add(**terms, head_losses=head_losses, cluster_counts=_cluster_counts(logits[:, :size]))
        return head_losses.sum()

    return batch_loss


def self_label_objective(network, inputs, *, confidence_threshold):
    """Batch loss of self-labelling: confident weak-view argmax as target of a strong view.

    A sample is confident when its largest probability on the rows themselves (without
    gradient) reaches ``confidence_threshold``. The cross-entropy of the input kind's
    strong view is class-balanced with ``w_c = n_confident / count_c`` over the batch's
    confident samples; a batch without a confident sample is skipped.
    """
    data = inputs.data

    def batch_loss(index, log):
        x = data.index_select(0, index)
        with torch.no_grad():
            proba = network(x)
        confidence, target = proba.max(dim=1)
        confident = confidence >= confidence_threshold
        log.add(cluster_counts=torch.bincount(target, minlength=proba.shape[1]))
        n_confident = int(confident.sum())
        if n_confident == 0:
            return None
        target = target[confident]
        counts = torch.bincount(target, minlength=proba.shape[1]).to(x.dtype)
        weight = torch.where(counts > 0, n_confident / counts.clamp(min=1), 0.0)
        strong = inputs.strong_view(x[confident], index[confident])
        logits = network.heads(network.embed(strong))[0]
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
        x = data.index_select(0, rows)
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


@dataclass(frozen=True)
class Objective:
    """An entry of :data:`OBJECTIVES`.

    Attributes
    ----------
    build : callable
        ``build(network, inputs, **settings) -> batch_loss``.
    settings : tuple of str
        The estimator parameters ``build`` takes, by name.
    two_view : bool
        Whether it compares two views through normalised (cosine) heads, which take a
        ``temperature`` and may carry an over-clustering head.
    """

    build: object
    settings: tuple = ()
    two_view: bool = False

    def batch_loss(self, network, inputs, estimator):
        """``build`` with its settings read off ``estimator``'s parameters."""
        settings = {name: getattr(estimator, name) for name in self.settings}
        return self.build(network, inputs, **settings)


_TWO_VIEWS = ("views", "view_strength")

#: Every objective by name, as MLPClassifier's ``LOSS_FUNCTIONS``. Stage one is
#: ``"partition"``; SelfSupervisedClassifier's ``objective`` names its stage two, and
#: SCANClusterer's stage two is ``"scan"``, followed by ``"self_label"``.
OBJECTIVES = {
    "partition": Objective(partition_objective),
    "scan": Objective(scan_objective, ("entropy_weight", "partition_weight")),
    "self_label": Objective(self_label_objective, ("confidence_threshold",)),
    "minmax": Objective(
        minmax_objective,
        ("n_negatives", "far_candidates", "entropy_weight", "far_weight", "similarity"),
    ),
    "self_classifier": Objective(
        self_classifier_objective, ("temperature", "column_temperature", *_TWO_VIEWS), True
    ),
    "iic": Objective(
        iic_objective,
        ("entropy_weight", "consistency_weight", "consistency_temperature", *_TWO_VIEWS),
        True,
    ),
}

#: The objectives SelfSupervisedClassifier's ``objective`` may name.
CLASSIFIER_OBJECTIVES = ("minmax", "self_classifier", "iic")
