"""Command line: ``skssl demo`` and ``skssl cluster data.csv --n-clusters K`` (or ``auto``).

Also runnable as ``python -m skssl``. Every user error (arguments, the CSV file,
the paths written to, what the estimator refuses) ends the program with a one-line
message and exit status 2, never a traceback; paths are checked before the fit.
"""

import argparse
import os
import sys
import time


def _one_torch_thread():
    """Train on one Torch thread: the command owns its process, and on 2 cores the small
    batches trained here ran several times slower on two threads than on one."""
    import torch

    torch.set_num_threads(1)


def _demo(args):
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    import skssl
    from skssl.metrics import hungarian_accuracy_score

    _one_torch_thread()
    X, y = load_digits(return_X_y=True)
    candidates = {"KMeans": KMeans(n_clusters=10, n_init=10, random_state=args.random_state)}
    for name in ("SelfSupervisedClassifier", "SCANClusterer"):
        if hasattr(skssl, name):
            candidates[name] = getattr(skssl, name)(
                n_clusters=10, random_state=args.random_state, verbose=args.verbose
            )
    print(
        f"digits: {X.shape[0]} samples, {X.shape[1]} features, 10 classes "
        "(labels are used for scoring only)"
    )
    print(f"| {'estimator':<26} | {'ACC':>5} | {'NMI':>5} | {'ARI':>5} | {'fit s':>6} |")
    print(f"|{'-' * 28}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 8}|")
    for name, estimator in candidates.items():
        start = time.perf_counter()
        labels = estimator.fit(X).labels_
        seconds = time.perf_counter() - start
        scores = (
            hungarian_accuracy_score(y, labels),
            normalized_mutual_info_score(y, labels),
            adjusted_rand_score(y, labels),
        )
        print(
            f"| {name:<26} | {scores[0]:.3f} | {scores[1]:.3f} | {scores[2]:.3f} | {seconds:6.1f} |"
        )
    return 0


class DataError(Exception):
    """A problem with the user's CSV file, reported in one line."""


def read_numeric_csv(path):
    """Read a CSV file with a header row into a float array; name any bad cell."""
    import csv

    import numpy as np

    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} fields, the header has {len(header)}."
            )
    if len(body) < 2:  # a clusterer compares rows: one is not a data set
        raise DataError(f"{path} needs a header row and at least two data rows, has {len(body)}.")
    cells = np.array(body, dtype=object)
    cells[np.char.strip(cells.astype(str)) == ""] = "nan"
    try:
        values = cells.astype(float)
    except ValueError:
        # NumPy parsed the whole table at once; find the first cell it refused.
        for (row, column), cell in np.ndenumerate(cells):
            try:
                float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {row + 2}: column {header[column]!r} is not numeric ({cell!r})."
                ) from None
    if np.isnan(values).any():
        row, column = np.argwhere(np.isnan(values))[0]
        raise DataError(f"{path}, line {row + 2}: missing value in column {header[column]!r}.")
    if not np.all(np.isfinite(values)):
        raise DataError(f"{path}: infinite values are not allowed.")
    return values


def _n_clusters(text):
    """``--n-clusters``: an integer or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def _image_shape(text):
    """``--image-shape``: ``HxW`` or ``HxWxC``, e.g. ``16x16`` or ``32x32x3``."""
    try:
        shape = tuple(int(side) for side in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HxW or HxWxC with positive sides, e.g. 16x16, got {text!r}"
        )
    return shape


def check_writable(path, option):
    """Fail before the fit, not after it, when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DataError(f"{option} {path}: the folder {folder} does not exist.")
    if os.path.isdir(path):
        raise DataError(f"{option} {path}: is a folder, not a file.")
    writable = os.access(path, os.W_OK) if os.path.exists(path) else os.access(folder, os.W_OK)
    if not writable:
        raise DataError(f"{option} {path}: permission denied.")


def check_plot_path(path):
    """``--plot``'s path: writable, matplotlib installed, a format it can save."""
    check_writable(path, "--plot")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise DataError("--plot needs matplotlib: pip install matplotlib.") from None
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if extension not in formats:
        raise DataError(
            f"--plot {path}: unknown image format {extension!r}; use one of "
            f"{', '.join(sorted(formats))}."
        )


def _cluster(args):
    import numpy as np

    import skssl

    if args.output:
        check_writable(args.output, "--output")
    if args.plot:
        check_plot_path(args.plot)
    X = read_numeric_csv(args.data)
    if args.n_clusters != "auto" and not 1 <= args.n_clusters <= X.shape[0]:
        raise DataError(f"--n-clusters must be between 1 and the {X.shape[0]} rows of {args.data}.")
    make = {"scan": skssl.SCANClusterer, "ssc": skssl.SelfSupervisedClassifier}[args.estimator]
    if args.image_shape is not None:
        from skssl._input import check_image_shape

        try:
            check_image_shape(args.image_shape, X.shape[1])
        except ValueError as error:
            raise DataError(f"--image-shape: {error}") from None
    estimator = make(
        n_clusters=args.n_clusters,
        image_shape=args.image_shape,
        random_state=args.random_state,
        verbose=1,
    )
    labels = estimator.fit(X).labels_
    if args.output:
        np.savetxt(args.output, labels, fmt="%d", header="label", comments="")
    else:
        print("label")
        print("\n".join(map(str, labels)))
    if args.plot:
        _save_plot(X, labels, args.plot)
    sizes = ", ".join(map(str, estimator.cluster_sizes_))
    print(
        f"{len(labels)} rows in {estimator.n_clusters_} clusters (sizes {sizes})", file=sys.stderr
    )
    return 0


def _save_plot(X, labels, path):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.decomposition import PCA

    from skssl.plotting import plot_embedding

    points = X if X.shape[1] == 2 else PCA(n_components=2).fit_transform(X)
    ax = plot_embedding(points, labels, title="clusters (first two principal components)")
    ax.figure.savefig(path, dpi=120)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the command."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv=None):
    parser = _Parser(prog="skssl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="compare skssl with KMeans on sklearn's digits")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--verbose", type=int, default=1, help="0 hides the progress bars")
    demo.set_defaults(run=_demo)
    cluster = commands.add_parser("cluster", help="cluster the rows of a numeric CSV file")
    cluster.add_argument("data", help="CSV file with a header row and numeric columns")
    cluster.add_argument(
        "--n-clusters",
        type=_n_clusters,
        required=True,
        help='number of clusters, or "auto" to estimate it from the data',
    )
    cluster.add_argument("--estimator", choices=["scan", "ssc"], default="scan")
    cluster.add_argument(
        "--image-shape",
        type=_image_shape,
        help="read each row as an image of HxW (or HxWxC) pixels in C order, e.g. 16x16",
    )
    cluster.add_argument("--output", help="write one label per row here (default: stdout)")
    cluster.add_argument("--plot", help="save a 2-D scatter of the clusters (needs matplotlib)")
    cluster.add_argument("--random-state", type=int, default=0)
    cluster.set_defaults(run=_cluster)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (DataError, ValueError, ImportError, OSError) as error:
        # The one error path: the estimators raise ValueError naming what is wrong with
        # the data or a setting; a message of several lines is joined into one.
        print(f"skssl: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
