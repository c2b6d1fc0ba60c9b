"""The command line, end to end in a subprocess."""

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from skssl import SCANClusterer
from skssl.metrics import hungarian_accuracy_score


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "skssl", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def blobs_csv(tmp_path):
    X, y = make_blobs(n_samples=120, centers=3, n_features=3, random_state=0)
    np.savetxt(tmp_path / "data.csv", X, delimiter=",", header="a,b,c", comments="")
    return tmp_path / "data.csv", y


@pytest.mark.parametrize("estimator", ["scan", "ssc"])
def test_cluster_writes_one_label_per_row(blobs_csv, tmp_path, estimator):
    path, y = blobs_csv
    result = run(
        "cluster",
        str(path),
        "--n-clusters",
        "3",
        "--estimator",
        estimator,
        "--output",
        "labels.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    labels = np.loadtxt(tmp_path / "labels.csv", skiprows=1)
    assert labels.shape == (120,)
    assert hungarian_accuracy_score(y, labels) > 0.95
    assert "120 rows in 3 clusters" in result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b\n1,x\n2,3\n", "column 'b' is not numeric"),
        ("a,b\n1,\n2,3\n", "missing value in column 'b'"),
        ("a,b\n1,2,3\n", "3 fields"),
        (None, "cannot read"),
    ],
)
def test_bad_files_get_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    result = run("cluster", str(path), "--n-clusters", "2", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cluster_auto_reports_the_count_found(blobs_csv, tmp_path):
    path, y = blobs_csv
    result = run(
        "cluster", str(path), "--n-clusters", "auto", "--output", "labels.csv", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    labels = np.loadtxt(tmp_path / "labels.csv", skiprows=1)
    assert hungarian_accuracy_score(y, labels) > 0.95
    assert "120 rows in 3 clusters" in result.stderr


def test_cluster_rejects_a_count_that_is_neither_an_integer_nor_auto(blobs_csv, tmp_path):
    path, _ = blobs_csv
    result = run("cluster", str(path), "--n-clusters", "many", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected an integer or 'auto', got 'many'" in result.stderr


@pytest.fixture
def digits_csv(tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=3, return_X_y=True)
    header = ",".join(f"p{i}" for i in range(X.shape[1]))
    np.savetxt(tmp_path / "digits.csv", X, delimiter=",", header=header, comments="")
    return tmp_path / "digits.csv", y


def test_cluster_reads_rows_as_images(digits_csv, tmp_path, monkeypatch):
    path, y = digits_csv
    # One Torch thread in the command, as in this process, so that the fits are the same.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = run(
        "cluster",
        str(path),
        "--n-clusters",
        "3",
        "--image-shape",
        "8x8",
        "--output",
        "labels.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    labels = np.loadtxt(tmp_path / "labels.csv", skiprows=1)
    X = np.loadtxt(path, delimiter=",", skiprows=1)
    expected = SCANClusterer(3, image_shape=(8, 8), random_state=0).fit(X).labels_
    np.testing.assert_array_equal(labels, expected)
    # Read as tables, the same rows cluster otherwise.
    assert not np.array_equal(labels, SCANClusterer(3, random_state=0).fit(X).labels_)


@pytest.mark.parametrize(
    "shape, message",
    [
        ("8x9", "holds 72 values per image but X has 64 features"),
        ("8", "expected HxW or HxWxC"),
        ("0x8", "positive"),
    ],
)
def test_cluster_rejects_an_image_shape_that_does_not_fit(digits_csv, tmp_path, shape, message):
    path, _ = digits_csv
    result = run("cluster", str(path), "--n-clusters", "3", "--image-shape", shape, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "options, content, message",
    [
        (["--output", "missing/labels.csv"], None, "folder .*missing does not exist"),
        (["--plot", "missing/plot.png"], None, "folder .*missing does not exist"),
        ([], "a,b\n1,2\n", "at least two data rows, has 1"),
        ([], "a,b\n1e300,2\n3,-1e300\n5,6\n", "too large for skssl.*Rescale X"),
    ],
    ids=["--output", "--plot", "one data row", "values beyond float32"],
)
def test_user_errors_end_in_one_line_before_the_fit(blobs_csv, tmp_path, options, content, message):
    path = blobs_csv[0]
    if content is not None:
        path = tmp_path / "bad.csv"
        path.write_text(content)
    result = run("cluster", str(path), "--n-clusters", "2", *options, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "", "no label is written before the error"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line: no traceback, no progress bar of a fit
    assert re.search(message, lines[0])
