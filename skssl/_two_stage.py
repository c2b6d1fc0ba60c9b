"""The two stages both clusterers fit: the graph stage's partition, then a reference objective.

Stage one is the "embedding" stage of the reference texts (seed 002's first stage,
SCAN's pretext and mining): :func:`~skssl._graph.graph_stage` mines the neighbours,
lays their graph out and partitions it by density, and a network learns that partition
(cross-entropy, every head). Stage two refines that network with the estimator's
reference objective (SCAN's loss, min-max, Self-Classifier or IIC), which would
otherwise start from a fresh network: heads compete on the objective, and the head
with the lowest loss in one deterministic pass over the data is kept, never one chosen
by labels. SCANClusterer then self-labels where asked.
"""

import math
import warnings
from dataclasses import replace
from functools import partial

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import _fit_context

from skssl._base import TorchClustererBase, check_hidden_layer_sizes, warn_small_batch
from skssl._core import evaluate, keep_head_history, train_module
from skssl._graph import graph_stage
from skssl._labels import propagated_labels, total_head_losses, with_label_terms
from skssl._objectives import OBJECTIVES, TrainingInputs

#: Stage one's passes with ``max_iter="auto"``, and the fewest optimiser steps they
#: make: small data sets take more passes of one batch, but never more than
#: ``PARTITION_MAX_EPOCHS``. A table without labels only fits the partition; fits that
#: learn more take ``EXTENDED_PARTITION_EPOCHS`` and ``EXTENDED_PARTITION_STEPS``:
#: moved images (``image_shape``), new copies at every pass, and labels
#: (``supervised=True``), spread along the graph as the network trains. The user
#: guide's SCAN page measures them.
PARTITION_EPOCHS = 15
PARTITION_STEPS = 150
#: On a table without labels, large data sets take fewer passes, enough for about
#: ``PARTITION_MAX_STEPS`` steps but at least ``PARTITION_MIN_EPOCHS``: fitting a given
#: partition takes a number of steps, not of passes. On Fashion-MNIST's 70,000 images
#: (as a table) 3 passes scored as 10 did (0.569 and 0.595, seeds 0-1).
PARTITION_MAX_STEPS = 300
PARTITION_MIN_EPOCHS = 3
EXTENDED_PARTITION_EPOCHS = 30
EXTENDED_PARTITION_STEPS = 300
#: Stage one's passes and steps on a table without labels where stage two goes on
#: fitting the partition (SCAN's ``partition_weight``): it makes up what a shorter
#: stage one leaves. At 8 passes of at least 75 steps SCAN's suite mean moved by
#: -0.07 point (seeds 0-2) and its fit on USPS took 0.5 s less, while min-max,
#: Self-Classifier and IIC, whose stage two does not read the partition, lost 0.3-0.4
#: point with the same stage one.
REFINED_PARTITION_EPOCHS = 8
REFINED_PARTITION_STEPS = 75
PARTITION_MAX_EPOCHS = 75

#: Stage two's learning rate, as a share of ``learning_rate_init``: it refines a
#: trained network, as self-labelling does at the same share.
REFINE_LEARNING_RATE = 0.1

#: Stage two's passes with ``max_iter="auto"``, as a share of stage one's (rounded up):
#: it refines a network that already holds the partition.
REFINE_EPOCH_SHARE = 1 / 3

#: Heads ``n_init="auto"`` trains on the shared encoder.
AUTO_N_INIT = 5

#: A cluster holding fewer than this fraction of its fair share ``n_samples / n_clusters``
#: of the training samples counts as collapsed (warned about).
COLLAPSE_FRACTION = 0.1


def align_to_labels(partition, labels, n_clusters):
    """Renumber a partition so that the cluster matched to labelled class ``c`` is ``c``.

    The matching maximises the labelled rows (``labels >= 0``) that agree (the
    Hungarian algorithm); clusters matched to no class take the remaining numbers.
    """
    labelled = labels >= 0
    table = np.zeros((n_clusters, n_clusters))
    np.add.at(table, (labels[labelled], partition[labelled]), 1)
    numbers, clusters = linear_sum_assignment(table, maximize=True)
    renumber = np.empty(n_clusters, dtype=np.int64)
    renumber[clusters] = numbers
    return renumber[partition]


class TwoStageClusterer(TorchClustererBase):
    """The fit both clusterers share; a subclass names its stage two and builds its network.

    Subclasses provide ``_stage_two`` (a key of :data:`~skssl._objectives.OBJECTIVES`),
    ``_graph_settings()`` (the graph stage's keyword arguments),
    ``_objective_neighbors(X, kind, stage, seed)`` (the neighbours the objectives read),
    ``_build_network(X, hidden_layer_sizes, kind)``, and may override
    :meth:`_stage_two_fits_partition` and :meth:`_after_stage_two`.
    """

    def _stage_schedule(self, n_samples, *, extended):
        """The :class:`~skssl._core.Schedule` of each stage.

        ``max_iter="auto"`` means ``PARTITION_EPOCHS`` passes (fewer where they
        would make more than ``PARTITION_MAX_STEPS`` steps, but at least
        ``PARTITION_MIN_EPOCHS``), or more to make ``PARTITION_STEPS`` optimiser
        steps, but at most ``PARTITION_MAX_EPOCHS``; ``EXTENDED_PARTITION_EPOCHS``
        and ``EXTENDED_PARTITION_STEPS`` where ``extended`` (images or labels), and
        ``REFINED_PARTITION_EPOCHS`` and ``REFINED_PARTITION_STEPS`` instead of the
        first two where stage two goes on fitting the partition.
        """
        schedule = self._schedule(n_samples)
        if self.max_iter != "auto":
            return schedule
        steps_per_epoch = -(-n_samples // schedule.batch_size)
        if extended:
            passes, steps = EXTENDED_PARTITION_EPOCHS, EXTENDED_PARTITION_STEPS
        else:
            passes, steps = (
                (REFINED_PARTITION_EPOCHS, REFINED_PARTITION_STEPS)
                if self._stage_two_fits_partition()
                else (PARTITION_EPOCHS, PARTITION_STEPS)
            )
            passes = min(
                passes, max(PARTITION_MIN_EPOCHS, -(-PARTITION_MAX_STEPS // steps_per_epoch))
            )
        epochs = max(min(schedule.max_iter, passes), -(-steps // steps_per_epoch))
        return replace(schedule, max_iter=min(epochs, PARTITION_MAX_EPOCHS))

    def _stage_two_fits_partition(self):
        """Whether stage two's objective keeps fitting stage one's partition."""
        return False

    def _after_stage_two(self, network, inputs, schedule, add_labels):
        """Training after stage two (SCAN's self-labelling); returns its history."""
        return []

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Cluster ``X``: the graph stage, a network fitted to its partition, then stage two.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or None, default=None
            Used only when ``supervised=True``: a label per row, -1 for unlabelled
            rows. Ignored otherwise: no label reaches training.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X = self._validate_fit_data(X)
        labels, classes = self._partial_labels(y, X.shape[0])
        hidden_layer_sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        n_samples = X.shape[0]
        kind = self._input_kind(X)
        schedule = self._stage_schedule(
            n_samples, extended=kind.image_shape is not None or labels is not None
        )
        device, seed, seeded_block = self._fit_setup()
        self.__dict__.pop("n_clusters_search_", None)
        self.n_init_ = AUTO_N_INIT if self.n_init == "auto" else self.n_init
        with seeded_block as generator:
            stage = graph_stage(
                X,
                self.n_clusters,
                image_shape=kind.image_shape,
                max_clusters=self.max_clusters,
                min_clusters=0 if classes is None else classes.shape[0],
                random_state=seed,
                generator=generator,
                device=device,
                **self._graph_settings(),
            )
            self.n_clusters_ = stage.n_clusters
            if stage.count_search is not None:
                self.n_clusters_search_ = stage.count_search
            self.noise_fraction_ = stage.noise_fraction
            self.min_cluster_size_ = stage.min_cluster_size
            neighbors = self._objective_neighbors(X, kind, stage, seed)
            self.neighbors_, self.n_neighbors_ = neighbors, neighbors.shape[1]
            self.metric_ = stage.metric
            network = self._build_network(X, hidden_layer_sizes, kind).to(device)
            heads = [network.heads, network.overclustering]
            widest = max(head.weight.shape[1] for head in heads if head is not None)
            warn_small_batch(schedule.batch_size, widest)
            data = torch.tensor(X, dtype=torch.float32, device=device)
            propagated = propagated_labels(neighbors, labels, classes, self.n_clusters_, device)
            partition = stage.partition
            if labels is not None:
                partition = align_to_labels(partition, labels, self.n_clusters_)
            shares = np.bincount(partition, minlength=self.n_clusters_) / n_samples
            inputs = TrainingInputs(
                data=data,
                neighbors=torch.tensor(neighbors, device=device),
                generator=generator,
                partition=torch.as_tensor(partition, dtype=torch.long, device=device),
                # Where spread labels are certain they, not the partition, say the class.
                trust=torch.ones(n_samples, device=device)
                if propagated is None
                else 1 - propagated[1],
                prior=None
                if self.entropy_target == "uniform"
                else torch.tensor(shares, dtype=torch.float32, device=device),
                supervised=labels is not None,
                weak_view=kind.weak_view,
            )
            add_labels = partial(
                with_label_terms,
                network=network,
                data=data,
                labels=None if labels is None else torch.tensor(labels, device=device),
                propagated=propagated,
                batch_size=schedule.batch_size,
            )

            def batch_loss(name, stream):
                """Objective ``name``'s batch loss, drawing from ``stream``."""
                objective = OBJECTIVES[name]
                loss = objective.batch_loss(network, replace(inputs, generator=stream), self)
                return add_labels(loss, generator=stream)

            self.history_, stop = train_module(
                network,
                batch_loss("partition", generator),
                n_samples,
                schedule,
                generator,
                verbose=self.verbose,
                description="partition",
            )
            refine = replace(
                schedule,
                learning_rate=schedule.learning_rate * REFINE_LEARNING_RATE,
                max_iter=schedule.max_iter
                if self.max_iter != "auto"
                else math.ceil(schedule.max_iter * REFINE_EPOCH_SHARE),
            )
            if stop != "interrupted":
                history, stop = train_module(
                    network,
                    batch_loss(self._stage_two, generator),
                    n_samples,
                    refine,
                    generator,
                    verbose=self.verbose,
                    description=self._stage_two,
                )
                self.history_ += history
            # Every head is ranked on the same draws, from a generator of its own: the
            # figures are deterministic and do not shift the training stream.
            evaluation = torch.Generator().manual_seed(seed)
            means = evaluate(
                network,
                batch_loss(self._stage_two, evaluation),
                n_samples,
                schedule.batch_size,
                evaluation,
            )
            self.init_losses_ = total_head_losses(means).reshape(-1)
            self.best_init_ = int(np.argmin(self.init_losses_))
            network.keep_head(self.best_init_, np.arange(self.n_clusters_))
            keep_head_history(self.history_, self.best_init_)
            if stop != "interrupted":
                self.history_ += self._after_stage_two(network, inputs, refine, add_labels)
        self.n_iter_ = len(self.history_)
        self._finish(network)
        self._order_clusters(X, classes)
        self._warn_collapse()
        return self

    def _warn_collapse(self):
        fair_share = self.labels_.shape[0] / self.n_clusters_
        collapsed = int((self.cluster_sizes_ < COLLAPSE_FRACTION * fair_share).sum())
        if collapsed:
            warnings.warn(
                f"{collapsed} of {self.n_clusters_} clusters are empty or nearly empty "
                f"(sizes {self.cluster_sizes_.tolist()}): n_clusters may exceed the number "
                "of groups in the data.",
                UserWarning,
                stacklevel=4,
            )
