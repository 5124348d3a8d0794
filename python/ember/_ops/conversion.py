"""dtype/device conversion methods: to(), float(), double(), ..., cpu(), cuda()."""
from .. import _C
from .._device import _check_device, device as _device_cls
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from .creation import _dtype
from .pointwise import to_dtype
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
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError("to() got unexpected keyword arguments %s" % sorted(kwargs))
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (_C.dtype, type)) or (a is not None and not isinstance(a, (str, _device_cls, int, bool))):
            dtype = a
        elif isinstance(a, (str, _device_cls, int)) and not isinstance(a, bool):
            device = a
    dev = _check_device(device)
    moved = dev is not None and str(dev) != self._device
    x = to_device(self, str(dev)) if moved else self
    if dtype is None:
        if moved or not copy:
            return x
        return _C.clone(x) if not x._requires_grad else x.clone()
    return to_dtype(x, _dtype(dtype), copy and not moved)


method("to", _to)
for _name, _dt in [("float", _C.float32), ("double", _C.float64), ("half", _C.float16), ("bfloat16", _C.bfloat16),
                   ("long", _C.int64), ("int", _C.int32), ("bool", _C.bool), ("byte", _C.uint8)]:
    method(_name, lambda self, memory_format=None, _dt=_dt: to_dtype(self, _dt))


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
method("share_memory_", lambda self: self)
method("is_shared", lambda self: False)
