"""Fits repeat bit for bit with two Torch threads, in a process of their own.

The suite runs on one thread (conftest.py), where no kernel splits its work; users
run on every core. The subprocess sets two threads before Torch is imported.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    from skssl import SCANClusterer, SelfSupervisedClassifier
    from skssl._core import EpochLog
    from skssl._networks import ClusteringNetwork, LinearHeads, mlp_encoder, standardizer
    from skssl._graph.mining import mine_neighbors
    from skssl._objectives import TrainingInputs, minmax_objective

    assert torch.get_num_threads() == 2
    X = load_digits().data[:400]

    # The min-max step's gradients, twice from one state: its far samples repeat rows of
    # the batch, whose gradients a threaded accumulating kernel added in thread order.
    data = torch.tensor(X, dtype=torch.float32)
    neighbors = torch.tensor(mine_neighbors(X, 10))
    torch.manual_seed(0)
    encoder, width = mlp_encoder(64, (64,))
    network = ClusteringNetwork(standardizer(X), encoder, LinearHeads(width, 10, n_heads=5))

    def gradients():
        inputs = TrainingInputs(data, neighbors, torch.Generator().manual_seed(0))
        loss = minmax_objective(
            network, inputs, n_negatives=10, far_candidates=32, entropy_weight=2.0,
            far_weight=1.0, similarity="dot",
        )(torch.arange(256), EpochLog(0))
        network.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in network.parameters()]

    first = gradients()
    for _ in range(20):
        assert all(torch.equal(a, b) for a, b in zip(first, gradients())), "gradients differ"

    for estimator in (SelfSupervisedClassifier, SCANClusterer):
        fits = [estimator(10, max_iter=8, random_state=0).fit(X) for _ in range(2)]
        difference = np.abs(fits[0].predict_proba(X) - fits[1].predict_proba(X)).max()
        assert difference == 0, f"{estimator.__name__}: predict_proba differs by {difference}"
    print("identical")
    """
)


def test_two_fits_with_two_torch_threads_are_identical():
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["identical"]
