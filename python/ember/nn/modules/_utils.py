"""Argument and parameter helpers shared by the layer modules."""
import math
import numbers

from ..._ops.creation import empty
from .. import init
from ..parameter import Parameter

__all__ = []


def _ntuple(n, name="argument"):
    def parse(x):
        if isinstance(x, numbers.Integral) and not isinstance(x, bool):
            return (int(x),) * n
        t = tuple(x)
        if len(t) == 1 and n > 1:
            return t * n
        if len(t) != n:
            raise ValueError("expected %s to be an int or a tuple of %d ints, got %r" % (name, n, x))
        return t
    return parse


_single = _ntuple(1)
_pair = _ntuple(2)


def check_size(value, name, minimum=0):
    """Validates a size hyper-parameter (an int >= minimum) at construction."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s should be an int, got %s" % (name, type(value).__name__))
    if value < minimum:
        raise ValueError("%s must be %s, got %d" % (name, "positive" if minimum == 1 else ">= %d" % minimum, value))
    return int(value)


def check_probability(p, what="dropout probability"):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError("%s has to be between 0 and 1, but got %s" % (what, p))
    return p


def new_empty(shape, device=None, dtype=None):
    """An uninitialised parameter tensor created the way factory kwargs (device=, dtype=) ask."""
    return empty(shape, dtype=dtype, device=device)


def register_weight_and_bias(module, weight_shape, bias_shape, bias, device=None, dtype=None):
    """Registers module.weight and, when bias is true, module.bias as uninitialised Parameters (for
    reset_parameters to fill); otherwise bias is registered as None."""
    module.weight = Parameter(new_empty(weight_shape, device, dtype))
    if bias:
        module.bias = Parameter(new_empty(bias_shape, device, dtype))
    else:
        module.register_parameter("bias", None)


def reset_kaiming_uniform(weight, bias, zero_bias_without_fan_in):
    """PyTorch's default init of Linear and the convolutions: weight from kaiming_uniform_(a=sqrt(5)), bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)). With a fan-in of 0, Linear zeroes its bias while the convolutions leave
    it untouched (as PyTorch does)."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        if fan_in > 0:
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(bias, -bound, bound)
        elif zero_bias_without_fan_in:
            init.uniform_(bias, 0, 0)
