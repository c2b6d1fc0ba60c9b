"""Training objectives of SelfSupervisedClassifier, one batch-loss builder each.

A builder takes ``(estimator, network, data, neighbors, generator)`` and returns the
``batch_loss(index) -> (loss, terms, assignments)`` closure that
:func:`skssl._core.train_module` calls once per step. The losses themselves live in
:mod:`skssl.losses`; this module draws the views and negatives they compare.
"""

import torch

from skssl.losses import minmax_loss
from skssl.neighbors import sample_negatives


def minmax_objective(estimator, network, data, neighbors, generator):
    """Batch loss of the min-max ("SCANv2") objective: all k neighbours, far negatives."""
    n_neighbors = neighbors.shape[1]
    n_negatives = estimator.n_negatives

    def batch_loss(index):
        size = index.shape[0]
        negatives = sample_negatives(
            index, neighbors, n_negatives, generator, data=data, n_candidates=estimator.far_candidates
        )
        rows = torch.cat([index, neighbors[index].reshape(-1).long(), negatives.reshape(-1)])
        proba = torch.softmax(network.all_logits(data[rows])[0][0], dim=1)
        anchor = proba[:size]
        near = proba[size : size * (1 + n_neighbors)].view(size, n_neighbors, -1)
        far = proba[size * (1 + n_neighbors) :].view(size, n_negatives, -1)
        loss, terms = minmax_loss(anchor, near, far, entropy_weight=estimator.entropy_weight)
        return loss, terms, anchor.argmax(dim=1)

    return batch_loss


OBJECTIVES = {"minmax": minmax_objective}
