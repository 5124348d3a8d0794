"""Helpers shared by the op modules: export to the ember namespace, argument normalisation, out=."""
import numbers

from .. import _C
from .._tensor import Tensor
from ..autograd.grad_mode import _state

API = {}       # name -> function, becomes part of the ember namespace
_NUMBERS = (int, float, bool)


def export(fn=None, *, name=None):
    """Adds fn to the public ember namespace (under name or fn.__name__)."""
    def deco(f):
        API[name or f.__name__] = f
        return f
    return deco(fn) if fn is not None else deco


def method(name, fn):
    setattr(Tensor, name, fn)


def is_number(x):
    return type(x) in _NUMBERS or isinstance(x, numbers.Number) and not isinstance(x, Tensor)


def needs_grad(*args):
    """True when grad mode is on and some tensor argument requires grad."""
    if not _state.enabled:
        return False
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            return True
    return False


def dims(dim, op="reduction"):
    """dim=None -> [] (all), int -> [int], sequence of ints -> list."""
    if dim is None:
        return []
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool):
        return [int(dim)]
    if isinstance(dim, (tuple, list)) and all(isinstance(d, numbers.Integral) for d in dim):
        return [int(d) for d in dim]
    raise TypeError("%s(): argument 'dim' must be an int, a tuple of ints or None, not %s"
                    % (op, type(dim).__name__))


def check_tensor(x, op, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError("%s(): argument '%s' must be Tensor, not %s" % (op, arg, type(x).__name__))


def write_out(out, result):
    """Implements out=: writes result into out (resizing it when the shape differs) and returns out."""
    if not isinstance(out, Tensor):
        raise TypeError("out= expects a Tensor, got %s" % type(out).__name__)
    if _state.enabled and (out._requires_grad or result._requires_grad):
        raise RuntimeError("functions with out=... arguments don't support automatic differentiation, but one of "
                           "the arguments requires grad.")
    if out._shape != result._shape:
        out.data = _C.to_dtype(result, out.dtype, True)
    else:
        _C.copy_(out, result)
    return out


def to_tensor(x, like=None):
    """Numbers and sequences become tensors (numbers stay Python numbers for ops that take scalars)."""
    if isinstance(x, Tensor):
        return x
    from .creation import tensor
    return tensor(x)
