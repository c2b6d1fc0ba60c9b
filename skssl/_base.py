"""What every skssl estimator shares: validation, seeding, prediction and pickling."""

import io
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skssl._core import draw_seed, predict_in_batches, resolve_device, seeded
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
        return X

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
