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


# PyTorch's scalar-type names, used in its out= error messages
_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _dtype_name(dt):
    key = str(dt).rsplit(".", 1)[-1]
    return _TORCH_NAMES.get(key, key)


def _kind(dt):
    if getattr(dt, "is_complex", False):
        return 3
    if dt.is_floating_point:
        return 2
    return 0 if _dtype_name(dt) == "Bool" else 1


def check_out_dtype(result_dtype, out):
    """PyTorch's out= rule: the result may be written only into a dtype it can be cast to without going down a
    category (complex > floating > integral > bool), i.e. torch.can_cast(result_dtype, out.dtype)."""
    if _kind(result_dtype) > _kind(out.dtype):
        raise RuntimeError("result type %s can't be cast to the desired output type %s"
                           % (_dtype_name(result_dtype), _dtype_name(out.dtype)))


def write_out(out, result, *, check_cast=True):
    """Implements out=: writes result into out (resizing it when the shape differs) and returns out.

    Every op's out= goes through here, so the casting rule is applied in this one place: a result that cannot
    be cast to out's dtype under torch.can_cast raises RuntimeError instead of being narrowed silently.
    Factory functions (whose out= decides the dtype they produce) pass check_cast=False."""
    if not isinstance(out, Tensor):
        raise TypeError("out= expects a Tensor, got %s" % type(out).__name__)
    if check_cast:
        check_out_dtype(result.dtype, out)
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
