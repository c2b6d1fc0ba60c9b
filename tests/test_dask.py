"""skssl.dask on a LocalCluster of 2 worker processes: exact, shipped once, robust."""

import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skssl import SCANClusterer

distributed = pytest.importorskip("distributed", reason="needs the 'distributed' extra")
da = pytest.importorskip("dask.array")
skssl_dask = pytest.importorskip("skssl.dask")

BLOCK = 8192  # skssl._core.FORWARD_CHUNK: blocks span whole prediction chunks


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    X, _ = load_digits(return_X_y=True)
    # 2.5 blocks of rows, so that the blocks are several and the last one short.
    big = np.resize(X, (5 * BLOCK // 2, X.shape[1]))
    return X, big


@pytest.fixture(scope="module")
def model(data):
    return SCANClusterer(n_clusters=10, max_iter=3, random_state=0).fit(data[0])


def _on_cluster(client, array, chunks):
    """``array`` as a Dask array whose data wait on a worker, outside the graph."""
    return da.from_delayed(client.scatter(array), array.shape, array.dtype).rechunk(chunks)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "transform"])
def test_blocks_on_the_cluster_equal_in_memory(client, model, data, method):
    big = data[1]
    # Chunks not aligned to the prediction chunks and split by column: rechunked.
    X = _on_cluster(client, big, (5000, 40))
    result = getattr(skssl_dask, method)(model, X)
    assert result.numblocks[0] == 3
    np.testing.assert_array_equal(result.compute(), getattr(model, method)(big))


def test_dask_dataframe_of_numeric_columns(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    columns = [f"pixel{i}" for i in range(data[0].shape[1])]
    model = SCANClusterer(n_clusters=10, max_iter=1, random_state=0)
    model.fit(pd.DataFrame(data[0], columns=columns))
    frame = pd.DataFrame(data[1], columns=columns)
    bounds = np.linspace(0, len(frame), 5).astype(int)
    parts = [client.scatter(frame.iloc[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    labels = skssl_dask.predict(model, dd.from_delayed(parts, meta=frame.iloc[:0]))
    np.testing.assert_array_equal(labels.compute(), model.predict(frame))


def test_the_model_enters_the_graph_once(model):
    X = da.zeros((6 * BLOCK, 64), chunks=(BLOCK, 64))
    graph = dict(skssl_dask.predict_proba(model, X).__dask_graph__())
    # Were the model embedded in each of the 6 block tasks, the graph would be 6x it.
    assert len(pickle.dumps(graph)) < 1.5 * len(pickle.dumps(model))


def test_wrong_number_of_columns_fails_up_front_as_in_memory(model, data):
    with pytest.raises(ValueError) as in_memory:
        model.predict(data[1][:, :-1])
    with pytest.raises(ValueError) as on_dask:
        skssl_dask.predict(model, da.from_array(data[1][:, :-1], chunks=BLOCK))
    assert str(on_dask.value) == str(in_memory.value)


@pytest.mark.parametrize("method", ["predict", "transform"])
def test_nan_in_a_block_raises_the_in_memory_error_with_the_block_named(
    client, model, data, method
):
    bad = data[1].copy()
    bad[BLOCK + 10, 3] = np.nan
    with pytest.raises(ValueError) as in_memory:
        getattr(model, method)(bad)
    result = getattr(skssl_dask, method)(model, _on_cluster(client, bad, BLOCK))
    with pytest.raises(ValueError) as on_dask:
        result.compute()
    assert str(on_dask.value) == f"block 1 (rows {BLOCK}-{2 * BLOCK - 1}): {in_memory.value}"


def _slowly(block):
    time.sleep(0.4)
    return block


def test_a_worker_killed_mid_run_loses_no_block(client, model, data):
    import cloudpickle

    # Workers cannot import this test module: send _slowly by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    big = np.resize(data[0], (10 * BLOCK, data[0].shape[1]))
    X = _on_cluster(client, big, (BLOCK, -1)).map_blocks(_slowly)
    future = client.compute(skssl_dask.predict(model, X))
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    deadline = time.monotonic() + 30
    while not client.processing().get(victim) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.processing().get(victim), "the worker never started a block"
    os.kill(pids[victim], signal.SIGKILL)
    labels = future.result(timeout=120)
    # Dask ran the lost blocks again elsewhere: each row once, as in memory.
    np.testing.assert_array_equal(labels, model.predict(big))
    client.wait_for_workers(2, timeout=60)
    assert pids[victim] not in client.run(os.getpid).values()


def test_skssl_and_its_estimators_do_not_import_dask():
    code = (
        "import sys, skssl; from skssl import SCANClusterer; "
        "print('dask' in sys.modules, 'distributed' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "False"]
