"""dtype/device conversion methods: to(), float(), double(), ..., cpu(), cuda()."""
from .. import _C, _device as _dev
from .._device import _check_device, device as _device_cls
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from .creation import _dtype
from .pointwise import _in_format, _suggest_format, to_dtype
from ._util import method


class ToCopy(Function):
    """A copy on another device; the gradient goes back to the source device."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = x._device
        return _C._to_device(x, device)

    @staticmethod
    def backward(ctx, g):
        return to_device(g, ctx.source), None


def to_device(x, device):
    """x on `device` (a validated device string); differentiable."""
    if x._device == device:
        return x
    if _state.enabled and x._requires_grad:
        return ToCopy.apply(x, device)
    return _C._to_device(x, device)


def _to(self, *args, **kwargs):
    """to(dtype), to(device), to(device, dtype), to(other_tensor), with copy= and non_blocking=."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    memory_format = kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError("to() got unexpected keyword arguments %s" % sorted(kwargs))
    flags = []  # positional non_blocking, copy (to(device, dtype, non_blocking, copy) in PyTorch)
    for a in args:
        if isinstance(a, bool):
            flags.append(a)
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, _device_cls, int)):
            device = a
        elif a is not None:
            if dtype is not None:
                raise TypeError("to() received an invalid combination of arguments: two dtypes (%s, %s)"
                                % (dtype, a))
            dtype = a
    if len(flags) > 2:
        raise TypeError("to() takes at most two positional flags (non_blocking, copy), got %d" % len(flags))
    if len(flags) == 2:
        copy = flags[1]
    dev = _check_device(device)
    moved = dev is not None and str(dev) != self._device
    x = to_device(self, str(dev)) if moved else self  # a move is itself the copy
    copy = copy and not moved
    dtype = x.dtype if dtype is None else _dtype(dtype)
    if memory_format is None or memory_format is _dev.preserve_format:
        return to_dtype(x, dtype, copy)
    if dtype is x.dtype and not copy and _suggest_format(x) is memory_format:
        return x  # as in PyTorch: to() copies only to change dtype, or a layout it recognises
    out = to_dtype(x, dtype)
    return out.clone(memory_format=memory_format) if out is x or not _in_format(out, memory_format) else out


method("to", _to)
for _name, _dt in [("float", _C.float32), ("double", _C.float64), ("half", _C.float16), ("bfloat16", _C.bfloat16),
                   ("long", _C.int64), ("int", _C.int32), ("short", _C.int16), ("char", _C.int8), ("bool", _C.bool),
                   ("byte", _C.uint8)]:
    method(_name, lambda self, memory_format=None, _dt=_dt: to_dtype(self, _dt) if memory_format is None else
           _to(self, _dt, memory_format=memory_format))


def _missing_dtype(name, dtype):
    def convert(self, memory_format=None):
        raise TypeError("Tensor.%s(): Ember has no %s dtype yet (supported: float32, float64, float16, bfloat16, "
                        "int64, int32, int16, int8, uint8, bool)" % (name, dtype))
    return convert


for _name, _missing in (("cfloat", "complex64"), ("cdouble", "complex128"), ("chalf", "complex32")):
    method(_name, _missing_dtype(_name, _missing))


def _cpu(self, memory_format=None):
    return to_device(self, "cpu")


def _cuda(self, device=None, non_blocking=False, memory_format=None):
    dev = _check_device(_device_cls("cuda") if device is None else device if not isinstance(device, int) else
                        _device_cls("cuda", device))
    if dev.type != "cuda":
        raise RuntimeError("Invalid device, must be cuda device")
    return to_device(self, str(dev))


method("cpu", _cpu)
method("cuda", _cuda)
method("pin_memory", lambda self, device=None: self)
method("is_pinned", lambda self, device=None: False)
method("share_memory_", lambda self: _shared().share_memory_(self))
method("is_shared", lambda self: _shared().is_shared(self))


def _shared():  # ember.multiprocessing (and the stdlib's) load only once a program shares tensors
    from ..multiprocessing import reductions
    return reductions
