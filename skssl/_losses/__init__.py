"""Loss functions: each returns ``(loss, terms)``, a scalar and its named parts."""

from .consistency import consistency_preserving_loss
from .iic import iic_loss
from .minmax import minmax_loss
from .scan import scan_loss
from .self_classifier import self_classifier_loss
from .snnl import soft_nearest_neighbor_loss

__all__ = [
    "consistency_preserving_loss",
    "iic_loss",
    "minmax_loss",
    "scan_loss",
    "self_classifier_loss",
    "soft_nearest_neighbor_loss",
]
