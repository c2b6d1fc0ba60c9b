"""What every skssl estimator shares: validation, seeding, prediction and pickling."""

import io
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skssl._core import (
    auto_batch_size,
    auto_max_epochs,
    draw_seed,
    predict_in_batches,
    resolve_device,
    seeded,
)
from skssl.metrics import hungarian_accuracy_score
from skssl.networks import Standardize

#: Largest chunk of rows pushed through a network at once when predicting.
PREDICT_BATCH_SIZE = 8192


class TorchEstimatorBase(BaseEstimator):
    """Shared plumbing of the Torch estimators; subclasses implement ``fit``.

    The fitted network lives in ``module_`` on the CPU in float64 and eval mode:
    float64 makes predictions on one row and on many agree to 1e-12, and CPU
    storage makes a model trained on a GPU load anywhere.
    """

    _parameter_constraints: dict = {
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _validate_fit_data(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n_clusters = getattr(self, "n_clusters", None)
        if n_clusters is not None and n_clusters > X.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} must be <= n_samples={X.shape[0]}.")
        return X

    def _schedule(self, n_samples):
        """``(batch_size, max_epochs)`` for this fit, with ``"auto"`` resolved from n."""
        batch_size = min(auto_batch_size(self.batch_size, n_samples), n_samples)
        return batch_size, auto_max_epochs(self.max_epochs, n_samples)

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def _fit_setup(self):
        """Resolve the device and draw this fit's seed (a fresh draw at every fit)."""
        device = resolve_device(self.device)
        seed = draw_seed(check_random_state(self.random_state))
        return device, seed, seeded(seed, device)

    def _finish(self, module):
        """Store ``module`` as the fitted CPU, float64, eval-mode network."""
        self.module_ = module.to("cpu", torch.float64).eval()

    def _run(self, X, method="forward"):
        device = resolve_device(self.device)
        return predict_in_batches(self.module_, X, PREDICT_BATCH_SIZE, device, method)

    def _order_clusters(self, X):
        """Number the clusters by decreasing training size, so ``labels_`` has no gaps.

        scikit-learn's clustering check wants labels 0..k-1; the kept head's columns
        are permuted so that predictions on new data use the same numbers.
        """
        proba = self._run(X)
        counts = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
        order = np.argsort(-counts, kind="stable")
        self.module_.keep_head(self.module_.selected_head, self.module_.output_order[order])
        self.labels_ = proba[:, order].argmax(axis=1).astype(np.int64)
        self.cluster_sizes_ = counts[order]

    def __getstate__(self):
        state = self.__dict__.copy()
        if "module_" in state:
            buffer = io.BytesIO()
            torch.save(state["module_"], buffer)
            state["module_"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("module_"), bytes):
            # map_location keeps models whose state was saved on a GPU loadable on a CPU.
            state["module_"] = torch.load(
                io.BytesIO(state["module_"]), map_location="cpu", weights_only=False
            )
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class TorchClustererBase(ClusterMixin, TorchEstimatorBase):
    """Prediction and scoring shared by the clusterers (``labels_``, ``predict_proba``)."""

    def _embed(self, X):
        """Map validated inputs to what the network reads; the identity by default."""
        return X

    def predict_proba(self, X):
        """Cluster probabilities of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
            Rows sum to 1; columns follow the cluster numbers of ``labels_``.
        """
        return self._run(self._embed(self._validate_predict_data(X)))

    def predict(self, X):
        """Cluster of each sample (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), dtype int64
        """
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)

    def score(self, X, y):
        """Hungarian-matched accuracy of ``predict(X)`` against the labels ``y``.

        Unlike the training loss, which depends on ``entropy_weight`` and the
        objective, this score is comparable across hyperparameters, so
        ``GridSearchCV`` with its default scoring selects by it. It needs labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True classes.

        Returns
        -------
        float
            See :func:`skssl.metrics.hungarian_accuracy_score`.
        """
        if y is None:
            raise ValueError("score needs the true labels y to match classes against.")
        return hungarian_accuracy_score(y, self.predict(X))


def standardizer(X):
    """A :class:`Standardize` layer fitted on ``X``; constant features keep scale 1."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
    return Standardize(mean, scale)


def warn_small_batch(batch_size, n_clusters):
    """Batch statistics (entropy of the mean prediction, column softmax) need rows per cluster."""
    if batch_size < 2 * n_clusters:
        warnings.warn(
            f"batch_size={batch_size} is small for n_clusters={n_clusters}: "
            "batch statistics become noisy below about 2 rows per cluster.",
            UserWarning,
            stacklevel=3,
        )
