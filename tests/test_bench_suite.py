"""benchmarks/run.py writes its table and figure from the per-seed records alone."""

import importlib.util
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def suite_module():
    spec = importlib.util.spec_from_file_location("bench_suite_run", RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_suite():
    records, runs = [], []
    for method, accuracies in (("scan", [0.9, 0.8]), ("hdbscan", [0.5, 0.7])):
        runs.append(
            {
                "dataset": "wine",
                "method": method,
                "n_samples": 178,
                "n_features": 13,
                "n_clusters": 3,
                "torch_threads": 1,
                "cuda_available": False,
                "peak_reset": True,
                "warmup_seconds": 0.5,
            }
        )
        for seed, accuracy in enumerate(accuracies):
            record = {
                "dataset": "wine",
                "method": method,
                "seed": seed,
                "acc": accuracy,
                "nmi": 0.5,
                "ari": 0.4,
                "fit_seconds": 1.0 + seed,
                "n_labels_found": 3,
                "rss_before_fit_mb": 300.0,
                "peak_rss_mb": 350.0 + seed,
            }
            if method == "hdbscan":
                record.update(noise_fraction=0.25, acc_noise_wrong=accuracy - 0.1)
            records.append(record)
    runs.append({"dataset": "wine", "method": "kmeans", "error": "Traceback\nValueError: boom"})
    return {
        "command": "python benchmarks/run.py --datasets wine",
        "started": "2026-11-23 00:00",
        "wall_seconds": 60.0,
        "load_start": "0.1",
        "load_end": "0.2",
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "python": "3.11",
            "torch": "2.13.0",
            "sklearn": "1.9.1",
            "umap": None,
            "skssl": "0.1.0",
            "git_commit": "abc",
        },
        "config": {
            "datasets": ["wine"],
            "methods": ["scan", "kmeans", "hdbscan"],
            "seeds": {"wine": [0, 1]},
            "max_rows": None,
        },
        "runs": runs,
        "records": records,
    }


def test_markdown_table_from_records(suite_module):
    table = suite_module.markdown(fake_suite())
    assert "Test CPU, 2 cores" in table
    assert "python benchmarks/run.py --datasets wine" in table
    assert "| SCANClusterer() | 0.850 ± 0.050 | 0.500 ± 0.000 | 0.400 ± 0.000 " in table
    assert "| 1.50 | n/a | 351 | 51 | 0.5 |" in table  # median; no UMAP + KMeans here
    assert "| KMeans(n_init=10) | failed: ValueError: boom |" in table
    assert "| wine | 3.0 ± 0.0 | 0.250 ± 0.000 | 0.600 ± 0.100 | 0.500 ± 0.100 |" in table


def test_time_ratio_skips_and_published(suite_module):
    suite = fake_suite()
    suite["config"]["methods"].append("umap-kmeans")
    suite["runs"].append({"dataset": "wine", "method": "umap-kmeans", "warmup_seconds": 5.0})
    for seed in (0, 1):
        record = dict(suite["records"][0], method="umap-kmeans", seed=seed, fit_seconds=3.0)
        suite["records"].append(record)
    suite["config"]["methods"].append("spectral")
    suite["runs"].append({"dataset": "wine", "method": "spectral", "skipped": "skipped: why"})
    table = suite_module.markdown(suite)
    assert "| 1.50 | 0.5 | 351 | 51 | 0.5 |" in table  # SCAN: median 1.5 s, UMAP 3 s
    assert "| 3.00 | 1 |" in table
    assert "| SpectralClustering (nearest_neighbors) | skipped: why |" in table
    assert suite_module.skip_reason("usps", "spectral") is not None
    assert suite_module.skip_reason("usps", "spectral", max_rows=300) is None
    assert suite_module.skip_reason("usps", "hdbscan") is None
    assert "| wine |" in table and "Published deep clustering" not in table
    suite["config"]["datasets"] = ["wine", "usps"]
    assert "| usps | N2D (autoencoder + UMAP + GMM) | 0.950 | 0.901 |" in (
        suite_module.markdown(suite)
    )


def test_plot_writes_png(suite_module, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "suite.png"
    suite_module.plot(fake_suite(), path)
    assert path.read_bytes()[:4] == b"\x89PNG"
