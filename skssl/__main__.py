"""Command line: ``skssl demo`` (and ``python -m skssl demo``)."""

import argparse
import sys
import time


def _demo(args):
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_digits
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    import skssl
    from skssl.metrics import hungarian_accuracy_score

    X, y = load_digits(return_X_y=True)
    candidates = {"KMeans": KMeans(n_clusters=10, n_init=10, random_state=args.random_state)}
    for name in ("SelfSupervisedClassifier", "SCANClusterer"):
        if hasattr(skssl, name):
            candidates[name] = getattr(skssl, name)(
                n_clusters=10, random_state=args.random_state, verbose=args.verbose
            )
    print(f"digits: {X.shape[0]} samples, {X.shape[1]} features, 10 classes; labels used for scoring only")
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
        print(f"| {name:<26} | {scores[0]:.3f} | {scores[1]:.3f} | {scores[2]:.3f} | {seconds:6.1f} |")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skssl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="compare skssl with KMeans on sklearn's digits")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--verbose", type=int, default=0)
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
