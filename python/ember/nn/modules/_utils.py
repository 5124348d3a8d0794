"""Argument helpers shared by the layer modules."""
import numbers

from ..._ops.creation import empty

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
