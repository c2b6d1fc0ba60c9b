"""Prediction over a Dask array or DataFrame, block by block, on any Dask scheduler.

A fitted estimator's ``predict``, ``predict_proba`` and ``transform`` applied to data
that do not fit in one process: the result is a lazy :class:`dask.array.Array`
whose blocks a `distributed <https://distributed.dask.org>`_ cluster computes in
parallel. It needs the ``distributed`` extra (``pip install "skssl[distributed]"``);
``import skssl`` does not import Dask.

The fitted estimator enters the task graph once, as one :func:`dask.delayed` object
that every block depends on: a worker receives it once, not once per block, and a
worker that is lost and restarted gets it again from the graph. The blocks are
rechunked so that each holds every column and a whole number of the 8192-row
chunks in which in-memory prediction runs, and both copy each chunk to a C-ordered
float64 array before the network: every block then does the same arithmetic as
``estimator.predict(X)`` in memory, whatever the input's chunks, memory order
(C or Fortran) or DataFrame partitions. With the same number of Torch threads on
both sides the results are equal bit for bit, labels, probabilities and
embeddings alike. On a ``distributed`` worker each block runs with one Torch thread,
so that the workers' threads, not Torch's, use the cores; against a client that
runs more, a matrix kernel may split its sums otherwise, and probabilities and
embeddings may then differ in their last bits (a relative 1e-15; the labels differ
only where two clusters tie to that precision).

Blocks of unknown size (a boolean-filtered array) are counted first, in one pass
over the data, as a DataFrame's partitions are; a block of no rows gives no rows.
"""

import math

import dask
import dask.array as da
import numpy as np

from skssl._core import FORWARD_CHUNK

__all__ = ["predict", "predict_proba", "transform"]


def predict(estimator, X):
    """Cluster of each row of a Dask array or DataFrame, computed block by block.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted :class:`~skssl.SCANClusterer` or
        :class:`~skssl.SelfSupervisedClassifier` (any fitted estimator with
        ``predict`` works).
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Numeric data. A DataFrame's partitions, and an array's blocks of unknown
        size, are counted (one pass over the data) so that its rows can be rechunked
        and named.

    Returns
    -------
    dask.array.Array of shape (n_samples,)
        Lazy; equal to ``estimator.predict(X)`` of the same data in memory (see the
        module's notes on threads).

    Raises
    ------
    ValueError
        Up front, when ``X`` has a number of columns (or feature names) the
        estimator was not fitted with, or a first row that is not numbers (strings,
        categories): the estimator's own message. When a block is
        computed, the estimator's own message of a bad block (NaN, infinity),
        preceded by the block's number and rows, for instance
        ``"block 2 (rows 16384-24575): Input X contains NaN..."``.

    See Also
    --------
    predict_proba : Cluster probabilities, block by block.
    transform : The network's embedding, block by block.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SCANClusterer
    >>> import skssl.dask
    >>> X, _ = make_blobs(n_samples=300, centers=3, n_features=4, random_state=0)
    >>> model = SCANClusterer(n_clusters=3, max_iter=5, random_state=0).fit(X)
    >>> labels = skssl.dask.predict(model, da.from_array(X, chunks=100))
    >>> labels
    dask.array<predict, shape=(300,), dtype=int64, chunksize=(300,), chunktype=numpy.ndarray>
    >>> bool((labels.compute() == model.predict(X)).all())
    True

    On a cluster, compute it there (``dask-scheduler`` listening on port 8786):

    >>> from distributed import Client
    >>> with Client("tcp://scheduler:8786"):  # doctest: +SKIP
    ...     labels = skssl.dask.predict(model, X_dask).compute()
    """
    return _map(estimator, X, "predict")


def predict_proba(estimator, X):
    """Cluster probabilities of each row of a Dask array or DataFrame, block by block.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted estimator with ``predict_proba``, such as
        :class:`~skssl.SCANClusterer`.
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Numeric data.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_clusters)
        Lazy; equal to ``estimator.predict_proba(X)`` in memory.

    Raises
    ------
    ValueError
        As :func:`predict`.

    See Also
    --------
    predict : The cluster of each row.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SCANClusterer
    >>> import skssl.dask
    >>> X, _ = make_blobs(n_samples=300, centers=3, n_features=4, random_state=0)
    >>> model = SCANClusterer(n_clusters=3, max_iter=5, random_state=0).fit(X)
    >>> skssl.dask.predict_proba(model, da.from_array(X, chunks=100)).shape
    (300, 3)
    """
    return _map(estimator, X, "predict_proba")


def transform(estimator, X):
    """``estimator.transform`` of each row of a Dask array or DataFrame, block by block.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted estimator with ``transform``: the clusterers' embedding, or
        :class:`~skssl.SNNLTransformer`'s codes.
    X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        Numeric data.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_components)
        Lazy; equal to ``estimator.transform(X)`` in memory (NumPy output, whatever
        ``set_output`` says).

    Raises
    ------
    ValueError
        As :func:`predict`.

    See Also
    --------
    predict : The cluster of each row.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import make_blobs
    >>> from skssl import SNNLTransformer
    >>> import skssl.dask
    >>> X, _ = make_blobs(n_samples=300, centers=3, n_features=4, random_state=0)
    >>> model = SNNLTransformer(n_components=2, max_iter=3, random_state=0).fit(X)
    >>> skssl.dask.transform(model, da.from_array(X, chunks=100)).shape
    (300, 2)
    """
    return _map(estimator, X, "transform")


def _map(estimator, X, method):
    columns = None
    if _is_dataframe(X):
        columns = X.columns
        # Known row counts let the blocks be aligned and named by their rows.
        X = X.to_dask_array(lengths=True)
    else:
        X = da.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-d array of shape (n_samples, n_features), got {X.ndim}-d."
            )
        if any(math.isnan(size) for size in X.shape + X.chunks[0]):
            # Unknown chunk sizes (a boolean-filtered array): counted in one pass, as a
            # DataFrame's partitions are, so that the blocks can be aligned and named.
            X = X.compute_chunk_sizes()
    # One row through the estimator on the client: the in-memory checks (fitted,
    # number of columns, feature names, values that are not numbers) fail here before
    # any block is sent, and the output gives the result's dtype and width.
    sample = np.asarray(getattr(estimator, method)(_probe(X, columns)))
    X = X.rechunk({0: _aligned_rows(X.chunks[0]), 1: -1})
    # One key in the graph: shipped to each worker once, recomputed after a loss.
    model = dask.delayed(estimator, traverse=False)
    kwargs = {"dtype": sample.dtype, "meta": np.empty((0,) * sample.ndim, sample.dtype)}
    if sample.ndim == 1:
        kwargs["drop_axis"] = 1
    else:
        kwargs["chunks"] = (X.chunks[0], (sample.shape[1],))
    columns = None if columns is None else list(columns)
    return X.map_blocks(_apply_block, model, method, columns, sample[:0], token=method, **kwargs)


def _probe(X, columns):
    """One row that the estimator checks as it would check ``X`` in memory.

    Zeros for numeric data; where the dtype is not numeric (strings, categories,
    objects) the data's first row, so that the message is the in-memory one, such as
    ``"could not convert string to float: 'a'"`` (it costs computing the first block).
    """
    numeric = X.dtype.kind in "biuf"
    row = np.zeros((1, X.shape[1]), dtype=X.dtype if numeric else np.float64)
    if not numeric and X.shape[0] > 0:
        row = X[:1].compute()
    if columns is None:
        return row
    import pandas as pd

    return pd.DataFrame(row, columns=columns)


def _is_dataframe(X):
    return hasattr(X, "to_dask_array") and hasattr(X, "columns")


def _aligned_rows(chunks):
    """Row chunks that are all whole multiples of FORWARD_CHUNK but the last.

    In-memory prediction runs chunks of FORWARD_CHUNK rows; a block that starts on
    such a boundary and spans whole chunks computes exactly the same products.
    """
    if all(size % FORWARD_CHUNK == 0 for size in chunks[:-1]):
        return chunks
    return max(FORWARD_CHUNK, math.ceil(chunks[0] / FORWARD_CHUNK) * FORWARD_CHUNK)


def _apply_block(block, estimator, method, columns, empty, block_info=None):
    location = block_info[0]
    start, stop = location["array-location"][0]
    if block.shape[0] == 0:
        # A block of no rows (a filtered partition): its part of the in-memory result.
        return empty
    _one_torch_thread_on_a_worker()
    if columns is not None:
        import pandas as pd

        # A DataFrame again, so that feature names are checked as in memory.
        block = pd.DataFrame(block, columns=columns, copy=False)
    try:
        result = getattr(estimator, method)(block)
    except ValueError as error:
        number = location["chunk-location"][0]
        raise ValueError(f"block {number} (rows {start}-{stop - 1}): {error}") from error
    return np.asarray(result)


def _one_torch_thread_on_a_worker():
    # A local (threaded) scheduler runs blocks in the caller's process, whose Torch
    # threads are the caller's business; a distributed worker's are ours.
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return
    import torch

    torch.set_num_threads(1)
