"""Training objectives of SelfSupervisedClassifier, one batch-loss builder each.

A builder takes ``(estimator, network, data, neighbors, generator)`` and returns the
``batch_loss(index) -> (loss, terms, assignments)`` closure that
:func:`skssl._core.train_module` calls once per step. The losses themselves live in
:mod:`skssl.losses`; this module draws the views and negatives they compare.
"""

import torch

from skssl.augment import feature_mask, gaussian_noise, neighbor_view, scarf_corrupt
from skssl.losses import (
    consistency_preserving_loss,
    iic_loss,
    minmax_loss,
    self_classifier_loss,
)
from skssl.losses._common import entropy
from skssl.neighbors import sample_negatives


def minmax_objective(estimator, network, data, neighbors, generator):
    """Batch loss of the min-max ("SCANv2") objective: all k neighbours, far negatives."""
    n_neighbors = neighbors.shape[1]
    n_negatives = estimator.n_negatives

    def batch_loss(index):
        size = index.shape[0]
        negatives = sample_negatives(
            index,
            neighbors,
            n_negatives,
            generator,
            data=data,
            n_candidates=estimator.far_candidates,
            near_fraction=1.0 / estimator.n_clusters,
        )
        rows = torch.cat([index, neighbors[index].reshape(-1).long(), negatives.reshape(-1)])
        proba = torch.softmax(network.all_logits(data[rows])[0][0], dim=1)
        anchor = proba[:size]
        near = proba[size : size * (1 + n_neighbors)].view(size, n_neighbors, -1)
        far = proba[size * (1 + n_neighbors) :].view(size, n_negatives, -1)
        loss, terms = minmax_loss(
            anchor,
            near,
            far,
            entropy_weight=estimator.entropy_weight,
            similarity=estimator.similarity,
            far_weight=estimator.far_weight,
        )
        return loss, terms, anchor.argmax(dim=1)

    return batch_loss


#: The ways ``views`` may build the two views of a sample, joined by "+" in this order.
VIEW_KINDS = ("neighbor", "noise", "mask", "scarf")

#: Every valid ``views`` string: a non-empty combination of VIEW_KINDS in their order.
VIEW_OPTIONS = frozenset(
    "+".join(kind for bit, kind in enumerate(VIEW_KINDS) if mask >> bit & 1)
    for mask in range(1, 2 ** len(VIEW_KINDS))
)


def view_sampler(estimator, network, data, neighbors, generator):
    """Return ``draw(index) -> (x_1, x_2)``: two views of the rows ``index``.

    With ``"neighbor"`` in ``estimator.views`` the second view starts from one mined
    neighbour drawn uniformly, else from the sample itself. ``"noise"`` (Gaussian
    noise of ``view_strength`` times each feature's spread), ``"mask"`` (entries set
    to the feature mean with probability ``view_strength``) and ``"scarf"`` (entries
    replaced by draws from the feature's marginal with that probability) then corrupt
    both views independently. Every draw comes from a generator on the data's device
    seeded from the fit's ``generator``.
    """
    kinds = estimator.views.split("+")
    strength = estimator.view_strength
    mean, scale = network.standardize.mean, network.standardize.scale
    seed = int(torch.randint(2**62, (1,), generator=generator))
    device_generator = torch.Generator(device=data.device).manual_seed(seed)
    corruptions = []
    if "noise" in kinds:
        corruptions.append(lambda x: gaussian_noise(x, strength, scale, device_generator))
    if "mask" in kinds:
        corruptions.append(lambda x: feature_mask(x, strength, device_generator, fill=mean))
    if "scarf" in kinds:
        corruptions.append(lambda x: scarf_corrupt(x, data, strength, device_generator))

    def draw(index):
        second = neighbor_view(index, neighbors, device_generator) if "neighbor" in kinds else index
        views = [data[index], data[second]]
        for corrupt in corruptions:
            views = [corrupt(x) for x in views]
        return views

    return draw


def _head_logits(network, draw, index):
    """Logits of both views for every head, each split into (view 1, view 2), and embeddings."""
    x_1, x_2 = draw(index)
    logits, embedding = network.all_logits(torch.cat([x_1, x_2]))
    size = index.shape[0]
    return [(z[:size], z[size:]) for z in logits], (embedding[:size], embedding[size:])


def self_classifier_objective(estimator, network, data, neighbors, generator):
    """Batch loss of Self-Classifier on two views, summed over the heads.

    The heads are normalised (cosine) heads whose temperature is ``estimator.temperature``,
    so their logits are already divided by the row temperature; the column softmax gets
    ``column_temperature / temperature`` to act at ``column_temperature`` on the cosines.
    """
    draw = view_sampler(estimator, network, data, neighbors, generator)
    column_temperature = estimator.column_temperature / estimator.temperature

    def batch_loss(index):
        if index.shape[0] < 2:  # the column softmax of one row says nothing
            return None, {}, None
        head_logits, _ = _head_logits(network, draw, index)
        losses = [
            self_classifier_loss(
                z_1, z_2, row_temperature=1.0, column_temperature=column_temperature
            )
            for z_1, z_2 in head_logits
        ]
        loss = sum(head_loss for head_loss, _ in losses)
        return loss, losses[0][1], head_logits[0][0].argmax(dim=1)

    return batch_loss


def iic_objective(estimator, network, data, neighbors, generator):
    """Batch loss of IIC on two views (summed over the heads) plus consistency preservation.

    ``L = sum_heads L_assign - entropy_weight * H(mean f(x_1)) + consistency_weight * L_cp``,
    with the entropy on the main head and ``L_cp`` on the embeddings that feed the heads.
    """
    draw = view_sampler(estimator, network, data, neighbors, generator)

    def batch_loss(index):
        if index.shape[0] < 2:  # one row has no joint distribution and no other instance
            return None, {}, None
        head_logits, (v_1, v_2) = _head_logits(network, draw, index)
        losses = [
            iic_loss(torch.softmax(z_1, dim=1), torch.softmax(z_2, dim=1))
            for z_1, z_2 in head_logits
        ]
        assignment = sum(head_loss for head_loss, _ in losses)
        # IIC's "lamb": extra weight on the entropy of the marginal, against empty clusters.
        marginal = torch.softmax(head_logits[0][0], dim=1).mean(dim=0)
        marginal_entropy = entropy(marginal, 1e-8)
        assignment = assignment - estimator.entropy_weight * marginal_entropy
        consistency, _ = consistency_preserving_loss(
            v_1, v_2, temperature=estimator.consistency_temperature
        )
        loss = assignment + estimator.consistency_weight * consistency
        terms = {
            **losses[0][1],
            "marginal_entropy": marginal_entropy.detach(),
            "consistency": consistency.detach(),
        }
        return loss, terms, head_logits[0][0].argmax(dim=1)

    return batch_loss


OBJECTIVES = {
    "minmax": minmax_objective,
    "self_classifier": self_classifier_objective,
    "iic": iic_objective,
}
