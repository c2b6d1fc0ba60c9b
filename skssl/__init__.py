"""skssl: scikit-learn compatible self-supervised classification."""

from skssl.classifier import SelfSupervisedClassifier

__all__ = ["SelfSupervisedClassifier"]
__version__ = "0.1.0"
