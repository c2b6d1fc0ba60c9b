"""skssl: scikit-learn compatible self-supervised classification."""

from skssl.classifier import SelfSupervisedClassifier
from skssl.scan import SCANClusterer
from skssl.snnl import SNNLTransformer

__all__ = ["SCANClusterer", "SelfSupervisedClassifier", "SNNLTransformer"]
__version__ = "0.1.0"
