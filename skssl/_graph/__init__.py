"""The graph stage: the mined neighbour graph, its layout and its density partition.

One module per step, each a set of pure functions on arrays, in the order they run:

- :mod:`~skssl._graph.mining`: nearest neighbours and their distances (tables and
  images, exact and approximate);
- :mod:`~skssl._graph.fuzzy`: UMAP's fuzzy graph of the neighbours;
- :mod:`~skssl._graph.adjacency`: the graph as a matrix (spectral start, label spreading);
- :mod:`~skssl._graph.layout`: the graph's node embedding;
- :mod:`~skssl._graph.hierarchy`: HDBSCAN's hierarchy of the layout;
- :mod:`~skssl._graph.partition`: the density partition into ``n_clusters``;
- :mod:`~skssl._graph.count`: the count of ``n_clusters="auto"``;
- :mod:`~skssl._graph.stage`: :func:`graph_stage`, all of them in one call.
"""

from skssl._graph.stage import GRAPH_NEIGHBORS, GraphStage, graph_stage

__all__ = ["GRAPH_NEIGHBORS", "GraphStage", "graph_stage"]
