"""Identity, Linear and Bilinear layers."""
import math

from .. import functional as F
from .. import init
from ._utils import check_size, register_weight_and_bias, reset_kaiming_uniform
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear", "NonDynamicallyQuantizableLinear"]


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are accepted and ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, with weight [out_features, in_features] and bias [out_features].

    Both are initialised from U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform_ with a=sqrt(5)),
    as in PyTorch.
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = check_size(in_features, "in_features")
        self.out_features = check_size(out_features, "out_features")
        register_weight_and_bias(self, (out_features, in_features), (out_features,), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draws weight and bias from the default distribution."""
        reset_kaiming_uniform(self.weight, self.bias, zero_bias_without_fan_in=True)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return "in_features=%s, out_features=%s, bias=%s" % (self.in_features, self.out_features,
                                                             self.bias is not None)


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under another name: MultiheadAttention's out_proj, named as in PyTorch so reprs match."""


class Bilinear(Module):
    """y = x1^T A x2 + b with weight A [out_features, in1_features, in2_features]; weight and bias start from
    U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = check_size(in1_features, "in1_features")
        self.in2_features = check_size(in2_features, "in2_features")
        self.out_features = check_size(out_features, "out_features")
        register_weight_and_bias(self, (out_features, in1_features, in2_features), (out_features,), bias, device,
                                 dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draws weight and bias from the default distribution."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return "in1_features=%s, in2_features=%s, out_features=%s, bias=%s" % (
            self.in1_features, self.in2_features, self.out_features, self.bias is not None)
