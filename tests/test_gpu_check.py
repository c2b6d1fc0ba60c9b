"""benchmarks/gpu_check.py runs on the CPU with tiny settings, so that it does not rot."""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_gpu_check_runs_on_the_cpu_and_writes_its_table(tmp_path):
    # The digits are embedded in scikit-learn, so the check never needs a download.
    output = tmp_path / "gpu_check.md"
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--datasets", "digits"]
    subprocess.run(
        [*command, "--output", str(output)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = output.read_text().splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == ("| data | estimator | CPU ACC | cpu ACC | CPU s | cpu s | CPU / cpu time |")
    rows = [line.split(" | ") for line in table[1:]]
    assert [(row[0], row[1]) for row in rows] == [
        (f"| {data}", name)
        for data in ("digits",)
        for name in ("SCANClusterer", "SelfSupervisedClassifier", "SNNLTransformer")
    ]
    for row in rows:
        cpu_acc, device_acc = float(row[2]), float(row[3])
        assert 0.1 <= cpu_acc <= 1
        assert cpu_acc == device_acc  # the same seeds on the same device
    assert any("equal to the cpu model's: yes" in line for line in lines)
    assert any("ValueError: device='cuda' is not available" in line for line in lines)
