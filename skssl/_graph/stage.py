"""The graph stage in one call: mining, fuzzy graph, layout, hierarchy, count and partition.

:func:`graph_stage` takes explicit arrays and returns a :class:`GraphStage`, as
scikit-learn's single-run helpers in ``cluster/_kmeans.py`` do: every estimator,
``n_clusters="auto"`` and the benchmarks call it, and a caller that needs one step
calls that step's module (:mod:`~skssl._graph.mining`, :mod:`~skssl._graph.fuzzy`,
:mod:`~skssl._graph.layout`, :mod:`~skssl._graph.hierarchy`,
:mod:`~skssl._graph.partition`, :mod:`~skssl._graph.count`).
"""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from skssl._graph.count import count_bounds, estimate_n_clusters
from skssl._graph.fuzzy import fuzzy_neighbor_graph
from skssl._graph.hierarchy import MIN_SAMPLES, layout_hierarchy
from skssl._graph.layout import graph_layout
from skssl._graph.mining import mine_neighbors, resolve_metric
from skssl._graph.partition import density_partition

#: Neighbours of the graph that is laid out, UMAP's and EVoC's default.
GRAPH_NEIGHBORS = 15


@dataclass
class GraphStage:
    """What :func:`graph_stage` found. Steps it did not run are None.

    Attributes
    ----------
    neighbors : ndarray of shape (n_samples, k), int32
        Each row's mined neighbours, nearest first.
    distances : ndarray of shape (n_samples, k), float64
        Their distances in ``metric``.
    metric : str
        The metric mined with (``"auto"`` resolved).
    layout : ndarray of shape (n_samples, 4) or None
        The graph's node embedding, in which the clusters are read.
    hierarchy : LeafHierarchy or None
        The layout's HDBSCAN hierarchy, when the count or the partition built it.
    n_clusters : int or None
        The count asked for, or the one ``"auto"`` found (None when not resolved).
    partition : ndarray of shape (n_samples,), int64, or None
        The density partition into ``n_clusters``, noise assigned.
    noise_fraction : float
        Share of the rows left out of every leaf cluster, before they were assigned.
    min_cluster_size : int
        The minimum cluster size whose leaves gave the partition (0 without a hierarchy).
    count_search : dict of ndarray or None
        Per candidate count, the criteria of ``"auto"``
        (:func:`~skssl._graph.count.estimate_n_clusters`).
    count_weakness : str or None
        Why the count is weak, when it is (the estimators warn with it).
    seconds : dict of float
        Wall time of each step run: ``mining``, ``fuzzy_graph``, ``layout``,
        ``hierarchy`` and ``partition`` (the count's included in ``hierarchy``).
    """

    neighbors: np.ndarray
    distances: np.ndarray
    metric: str
    layout: np.ndarray = None
    hierarchy: object = None
    n_clusters: int = None
    partition: np.ndarray = None
    noise_fraction: float = 0.0
    min_cluster_size: int = 0
    count_search: dict = None
    count_weakness: str = None
    seconds: dict = field(default_factory=dict)


def graph_stage(
    X,
    n_clusters,
    *,
    image_shape=None,
    n_neighbors=GRAPH_NEIGHBORS,
    metric="auto",
    min_samples=MIN_SAMPLES,
    max_clusters=None,
    min_clusters=2,
    until="partition",
    random_state=0,
    generator=None,
    device="cpu",
):
    """Mine ``X``'s neighbours, lay their graph out and partition it by density.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated rows (at least 2).
    n_clusters : int, "auto" or None
        Clusters of the partition; ``"auto"`` counts them in the layout
        (:func:`~skssl._graph.count.estimate_n_clusters`); None only with
        ``until="layout"`` or ``"neighbors"``.
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` to mine rows as images.
    n_neighbors : int, default=15
    metric : {"auto", "cosine", "euclidean"}, default="auto"
        ``"auto"`` is :func:`~skssl._graph.mining.resolve_metric`'s rule.
    min_samples : int, default=5
        Neighbours in the layout that define a point's density.
    max_clusters : int or None, default=None
        Largest count ``"auto"`` considers (:func:`~skssl._graph.count.count_bounds`).
    min_clusters : int, default=2
        Smallest count ``"auto"`` considers.
    until : {"neighbors", "layout", "count", "partition"}, default="partition"
        The last step to run: ``"count"`` resolves ``n_clusters`` without partitioning
        when it is an int (no layout is laid out then).
    random_state : int, default=0
        Seed of the miner, the spectral start, the count's sample and the partition's
        splits.
    generator : torch.Generator or None, default=None
        CPU generator of the layout's draws; None seeds one from ``random_state``.
    device : str or torch.device, default="cpu"
        Where the layout runs.

    Returns
    -------
    GraphStage
    """
    seconds = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    metric = resolve_metric(metric, X.shape[1])
    neighbors, distances = mine_neighbors(
        X,
        n_neighbors,
        metric=metric,
        image_shape=image_shape,
        random_state=random_state,
        return_distance=True,
    )
    lap("mining")
    stage = GraphStage(neighbors, distances, metric, seconds=seconds)
    if until == "neighbors" or (until == "count" and n_clusters != "auto"):
        stage.n_clusters = None if n_clusters == "auto" else n_clusters
        return stage
    if generator is None:
        generator = torch.Generator().manual_seed(random_state)
    # The fuzzy graph is not kept: the layout holds what it says, and at 10^6 rows it
    # would hold 0.4 GB through the partition and training.
    graph = fuzzy_neighbor_graph(distances, neighbors)
    lap("fuzzy_graph")
    stage.layout = graph_layout(graph, neighbors, generator, random_state, device)
    del graph
    lap("layout")
    stage.n_clusters = n_clusters
    if n_clusters == "auto":
        low, high = count_bounds(max_clusters, X.shape[0], min_clusters)
        stage.hierarchy = layout_hierarchy(stage.layout, min_samples)
        stage.n_clusters, stage.count_search, stage.count_weakness = estimate_n_clusters(
            stage.layout,
            stage.hierarchy,
            neighbors,
            high,
            min_clusters=low,
            random_state=random_state,
        )
        lap("hierarchy")
        if stage.count_weakness is not None:
            warnings.warn(
                f"n_clusters='auto' found {stage.n_clusters} clusters, a weak estimate: "
                f"{stage.count_weakness}. See n_clusters_search_.",
                UserWarning,
                stacklevel=4,
            )
    if until != "partition":
        return stage
    stage.partition, stage.noise_fraction, stage.min_cluster_size = density_partition(
        stage.layout,
        stage.n_clusters,
        neighbors,
        hierarchy=stage.hierarchy,
        min_samples=min_samples,
        random_state=random_state,
    )
    lap("partition")
    return stage
