"""skssl: scikit-learn compatible self-supervised classification.

The estimators are imported on first use, so ``import skssl``, ``skssl.metrics`` and
the command line's help do not pay for importing Torch.
"""

import importlib

__all__ = ["SCANClusterer", "SelfSupervisedClassifier", "SNNLTransformer"]
__version__ = "0.1.0"

_ESTIMATOR_MODULES = {
    "SCANClusterer": "skssl._scan",
    "SelfSupervisedClassifier": "skssl._classifier",
    "SNNLTransformer": "skssl._snnl",
}


def __getattr__(name):
    if name in _ESTIMATOR_MODULES:
        return getattr(importlib.import_module(_ESTIMATOR_MODULES[name]), name)
    raise AttributeError(f"module 'skssl' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
