"""Dropout layers: active in training mode only."""
from .. import functional as F
from ._utils import check_probability
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class _DropoutNd(Module):
    __constants__ = ["p", "inplace"]

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = check_probability(p)
        self.inplace = inplace

    def extra_repr(self):
        return "p=%s, inplace=%s" % (self.p, self.inplace)


class Dropout(_DropoutNd):
    """In training, zeroes each element with probability p and scales the survivors by 1/(1-p), so the expected
    value is unchanged; the identity in evaluation."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """In training, zeroes whole channels of [N, C, H, W] (or [C, H, W]) input with probability p and scales the
    rest by 1/(1-p); the identity in evaluation."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
