"""Tensor creation: from data (tensor, as_tensor, from_numpy), factories (zeros, arange, eye, ...) and random
sampling (rand, randn, randint, randperm, normal, bernoulli, multinomial) with generators."""
import numbers

import numpy as np

from .. import _C, _device as _dev
from .._device import _check_device, _place
from .._layout import format_strides, preserved_strides
from .._tensor import Tensor, _shape_args
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ._util import export, method, write_out

_NP_TO_DTYPE = {
    np.dtype(np.float32): _C.float32, np.dtype(np.float64): _C.float64, np.dtype(np.float16): _C.float16,
    np.dtype(np.int64): _C.int64, np.dtype(np.int32): _C.int32, np.dtype(np.int16): _C.int16,
    np.dtype(np.int8): _C.int8, np.dtype(np.uint8): _C.uint8, np.dtype(np.bool_): _C.bool,
}
# numpy integer types Ember has no dtype for (yet): refused rather than silently widened
_NP_UNSUPPORTED_INTS = tuple(np.dtype(t) for t in (np.uint16, np.uint32, np.uint64))
_SUPPORTED_NP_NAMES = "float64, float32, float16, int64, int32, int16, int8, uint8, and bool"
_DTYPE_TO_NP = {
    _C.float32: np.float32, _C.float64: np.float64, _C.float16: np.float16, _C.int64: np.int64,
    _C.int32: np.int32, _C.int16: np.int16, _C.int8: np.int8, _C.uint8: np.uint8, _C.bool: np.bool_,
}


def _dtype(dtype, default=None):
    """Normalises a dtype argument: ember dtypes, Python float/int/bool, numpy dtypes."""
    if dtype is None:
        return default
    if isinstance(dtype, _C.dtype):
        return dtype
    if dtype is float:
        return _C.float64
    if dtype is int:
        return _C.int64
    if dtype is bool:
        return _C.bool
    try:
        npd = np.dtype(dtype)
    except TypeError:
        npd = None
    d = _NP_TO_DTYPE.get(npd)
    if npd in _NP_UNSUPPORTED_INTS:
        raise TypeError("dtype %s is not supported: Ember has no %s dtype; supported types are %s"
                        % (npd.name, npd.name, _SUPPORTED_NP_NAMES))
    if d is None:
        raise TypeError("dtype must be an ember.dtype (e.g. ember.float32), got %r" % (dtype,))
    return d


def _finish(t, requires_grad, device=None):
    t = _place(t, _check_device(device))
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_numpy(data, dtype=None):
    """data (nested sequences / numbers / arrays) -> (numpy array, dtype ember infers for it). With an explicit
    dtype, numpy integer types Ember lacks are accepted: they are converted to dtype, not silently widened."""
    if isinstance(data, np.ndarray):
        if dtype is not None and data.dtype in _NP_UNSUPPORTED_INTS:
            return data, dtype
        return data, _numpy_dtype(data.dtype)
    if isinstance(data, np.generic):
        arr = np.asarray(data)
        return _infer_numpy(arr, dtype)
    if isinstance(data, bool):
        return np.asarray(data, dtype=np.bool_), _C.bool
    if isinstance(data, numbers.Integral):
        return np.asarray(data, dtype=np.int64), _C.int64
    if isinstance(data, numbers.Real):
        return np.asarray(data, dtype=np.float64), _C.get_default_dtype()
    if isinstance(data, str) or isinstance(data, bytes):
        raise TypeError("new(): invalid data type '%s'" % type(data).__name__)
    try:
        arr = np.array(data)
    except ValueError as e:
        raise ValueError("expected sequence of equal length lists (a ragged nested sequence cannot become a "
                         "tensor): %s" % e) from None
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError("Could not infer dtype of %s" % type(_first_leaf(data)).__name__)
    if arr.dtype.kind == "c":
        raise TypeError("can't convert complex values: Ember has no complex dtypes")
    if arr.dtype.kind == "f":
        # Python floats (and tensors of the default dtype) give the default dtype; float16/32 data keeps its type
        kinds = _leaf_kinds(data)
        if kinds and kinds <= {"pyfloat", "pyint", "pybool"}:
            return arr, _C.get_default_dtype()
        if arr.dtype == np.float64 and "tensor64" not in kinds and "np64" not in kinds:
            return arr, _C.get_default_dtype()
    if arr.dtype == np.uint64 and _first_leaf(data).__class__ is int:
        raise RuntimeError("Overflow when unpacking long: %s does not fit in int64" % arr.max())
    if dtype is not None and arr.dtype in _NP_UNSUPPORTED_INTS:
        return arr, dtype
    return arr, _numpy_dtype(arr.dtype, "numpy data")


def _numpy_dtype(npd, what="np.ndarray"):
    """The ember dtype of a numpy dtype; a clear error (as PyTorch words it) for the types Ember lacks."""
    d = _NP_TO_DTYPE.get(npd)
    if d is not None:
        return d
    if npd.kind == "c":
        raise TypeError("can't convert %s of type numpy.%s: Ember has no complex dtypes. The only "
                        "supported types are: %s." % (what, npd.name, _SUPPORTED_NP_NAMES))
    if npd.byteorder not in "=|" and _NP_TO_DTYPE.get(npd.newbyteorder("=")) is not None:
        raise ValueError("given numpy array has byte order different from the native byte order. Conversion "
                         "between byte orders is currently not supported.")
    if npd in _NP_UNSUPPORTED_INTS:
        raise TypeError("can't convert %s of type numpy.%s: Ember has no %s dtype yet (convert it first, e.g. "
                        "with .astype(np.int64), or pass dtype=). The only supported types are: %s."
                        % (what, npd.name, npd.name, _SUPPORTED_NP_NAMES))
    raise TypeError("can't convert %s of type numpy.%s. The only supported types are: %s."
                    % (what, npd.name if npd.kind not in "USV" else npd.type.__name__, _SUPPORTED_NP_NAMES))


def _first_leaf(data):
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def _leaf_kinds(data, out=None, depth=0):
    out = set() if out is None else out
    if depth > 64 or len(out) > 3:
        return out
    if isinstance(data, (list, tuple)):
        for d in data[:64]:
            _leaf_kinds(d, out, depth + 1)
    elif isinstance(data, Tensor):
        out.add("tensor64" if data.dtype is _C.float64 else "tensor")
    elif isinstance(data, bool):
        out.add("pybool")
    elif isinstance(data, float):
        out.add("np64" if isinstance(data, np.floating) else "pyfloat")
    elif isinstance(data, int):
        out.add("pyint")
    elif isinstance(data, np.ndarray):
        out.add("np64" if data.dtype == np.float64 else "np")
    else:
        out.add("other")
    return out


def _from_array(arr, dtype):
    """A new tensor (owning a copy) from a numpy array, converted to dtype."""
    if dtype is _C.bfloat16:
        t = _from_array(arr, _C.float32)
        return _C.to_dtype(t, _C.bfloat16, False)
    target = _DTYPE_TO_NP[dtype]
    copy = np.array(arr, dtype=target, order="C", copy=True)
    return _wrap_numpy(copy, dtype)


def _wrap_numpy(arr, dtype):
    """_C.from_numpy(arr), except that an empty array becomes a fresh contiguous tensor: numpy gives empty
    arrays zero strides, which the in-place kernels refuse to write (so fill_/add_/grads would fail)."""
    return _C.from_numpy(arr) if arr.size else _C.empty(arr.shape, dtype)


@export
def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of data (nested lists, numbers, numpy arrays or tensors)."""
    _check_device(device)
    dtype = _dtype(dtype)
    if isinstance(data, Tensor):
        t = _C.to_dtype(data, dtype or data.dtype, True)
        if t is data:
            t = _C.clone(data)
        return _finish(t, requires_grad, device)
    arr, inferred = _infer_numpy(data, dtype)
    return _finish(_from_array(arr, dtype or inferred), requires_grad, device)


@export
def as_tensor(data, dtype=None, device=None):
    """Like tensor(), but shares memory with a numpy array or tensor when no conversion is needed."""
    dev = _check_device(device)
    dtype = _dtype(dtype)
    if isinstance(data, Tensor):
        return _place(data if dtype is None or dtype is data.dtype else data.to(dtype), dev)
    if dev is not None and dev.type != "cpu":
        return _place(as_tensor(data, dtype), dev)
    if isinstance(data, np.ndarray):
        nd = _NP_TO_DTYPE.get(data.dtype)
        if nd is not None and (dtype is None or dtype is nd) and all(s >= 0 for s in data.strides):
            return _wrap_numpy(data, nd)
    return tensor(data, dtype=dtype)


asarray = export(lambda obj, *, dtype=None, device=None, copy=None, requires_grad=False: _finish(
    tensor(obj, dtype=dtype) if copy else as_tensor(obj, dtype=dtype), requires_grad, device), name="asarray")


@export
def from_numpy(ndarray):
    """A tensor sharing memory with ndarray (changes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError("expected np.ndarray (got %s)" % type(ndarray).__name__)
    return _wrap_numpy(ndarray, _numpy_dtype(ndarray.dtype))


def _full(size, value, dtype, requires_grad, out, device):
    _check_device(device)
    shape = tuple(_shape_args(size))
    t = _C.full(shape, value, dtype)
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad, device)


def _size_kw(size, kwargs):
    if not size and "size" in kwargs:
        return (kwargs.pop("size"),)
    return size


@export
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, **kw):
    """A tensor filled with 0."""
    return _full(_size_kw(size, kw), 0, _dtype(dtype, _C.get_default_dtype()), requires_grad, out, device)


@export
def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, **kw):
    """A tensor filled with 1."""
    return _full(_size_kw(size, kw), 1, _dtype(dtype, _C.get_default_dtype()), requires_grad, out, device)


@export
def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False,
          memory_format=None, **kw):
    """An uninitialised tensor."""
    dev = _check_device(device)
    t = _C.empty(tuple(_shape_args(_size_kw(size, kw))), _dtype(dtype, _C.get_default_dtype()), str(dev or "cpu"))
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad)


def _fill_dtype(value):
    if isinstance(value, bool):
        return _C.bool
    if isinstance(value, numbers.Integral):
        return _C.int64
    if isinstance(value, Tensor):
        return value.dtype
    return _C.get_default_dtype()


@export
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A tensor of the given size filled with fill_value (dtype inferred from it when not given)."""
    return _full((size,) if isinstance(size, numbers.Integral) else tuple(size), fill_value,
                 _dtype(dtype, _fill_dtype(fill_value)), requires_grad, out, device)


@export
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    _check_device(device)
    return _finish(_C.empty_strided(tuple(size), tuple(stride), _dtype(dtype, _C.get_default_dtype())),
                   requires_grad, device)


@export
def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _full((), s, _dtype(dtype, _C.get_default_dtype()), requires_grad, None, device)


def _like(input, dtype):
    return _dtype(dtype, input.dtype)


def _like_device(input, device):
    """*_like factories put the result on the input's device unless told otherwise, as PyTorch does."""
    return input.device if device is None else device


def _empty_like(input, dtype, memory_format, device="cpu"):
    """An uninitialised tensor shaped like input in memory_format: preserve_format (the default) keeps a dense
    input's strides and orders a strided one's dims as input's strides are ordered, as in PyTorch."""
    shape = input._shape
    if memory_format is None or memory_format is _dev.preserve_format:
        if input.is_contiguous():
            return _C.empty(shape, dtype, device)
        return _C.empty_strided(shape, preserved_strides(shape, input.stride()), dtype, device)
    if memory_format is _dev.contiguous_format:
        return _C.empty(shape, dtype, device)
    if not isinstance(memory_format, _dev.memory_format):
        raise TypeError("argument 'memory_format' must be an ember.memory_format, not %r" % (memory_format,))
    return _C.empty_strided(shape, format_strides(shape, memory_format), dtype, device)


def _full_like(input, value, dtype, device, requires_grad, memory_format):
    dev = str(_check_device(_like_device(input, device)))
    dtype = _like(input, dtype)
    if dev == "cpu" and value is not None and (memory_format is _dev.contiguous_format or memory_format is None and
                                               input.is_contiguous()):
        return _finish(_C.full(input._shape, value, dtype), requires_grad)  # the common case: one call
    t = _empty_like(input, dtype, memory_format, dev)
    if value is not None:
        _C.fill_(t, value)
    return _finish(t, requires_grad)


@export
def zeros_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    """Zeros shaped like input (its dtype and, in preserve_format, its layout unless given)."""
    return _full_like(input, 0, dtype, device, requires_grad, memory_format)


@export
def ones_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    """Ones shaped like input (its dtype and, in preserve_format, its layout unless given)."""
    return _full_like(input, 1, dtype, device, requires_grad, memory_format)


@export
def empty_like(input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    """An uninitialised tensor shaped like input (its dtype and, in preserve_format, its layout unless given)."""
    return _full_like(input, None, dtype, device, requires_grad, memory_format)


@export
def full_like(input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    """fill_value shaped like input (its dtype and, in preserve_format, its layout unless given)."""
    return _full_like(input, fill_value, dtype, device, requires_grad, memory_format)


@export
def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """Values from start (inclusive) to end (exclusive) spaced by step; int64 when all arguments are ints."""
    _check_device(device)
    if end is None:
        start, end = 0, start
    vals = [start, end, step]
    vals = [v.item() if isinstance(v, Tensor) else v for v in vals]
    if dtype is None:
        all_int = all(isinstance(v, numbers.Integral) for v in vals)
        dtype = _C.int64 if all_int else _C.get_default_dtype()
    t = _C.arange(float(vals[0]), float(vals[1]), float(vals[2]), _dtype(dtype))
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad, device)


@export
def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated in PyTorch: like arange, but includes end; kept for old code."""
    if end is None:
        start, end = 0, start
    n = int((end - start) // step) + 1
    return arange(start, start + (n - 0.5) * step, step, dtype=dtype or _C.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


@export
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """steps evenly spaced values from start to end inclusive."""
    _check_device(device)
    start = start.item() if isinstance(start, Tensor) else start
    end = end.item() if isinstance(end, Tensor) else end
    t = _C.linspace(float(start), float(end), int(steps), _dtype(dtype, _C.get_default_dtype()))
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad, device)


@export
def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    _check_device(device)
    exps = _C.linspace(float(start), float(end), int(steps), _C.float64)
    t = _C.to_dtype(_C.pow(base, exps), _dtype(dtype, _C.get_default_dtype()), False)
    return _finish(t, requires_grad, device)


@export
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
    """A 2-D tensor with ones on the diagonal."""
    _check_device(device)
    t = _C.eye(int(n), int(n if m is None else m), _dtype(dtype, _C.get_default_dtype()))
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad, device)


def _legacy_new(cls, *args, **kwargs):
    """Tensor(...) constructor: sizes give an uninitialised float tensor, a sequence gives data."""
    device = kwargs.pop("device", None)
    _check_device(device)
    if kwargs:
        raise TypeError("Tensor(): unexpected keyword arguments %s" % sorted(kwargs))
    if not args:
        return _C.empty((0,), _C.get_default_dtype())
    if len(args) == 1 and isinstance(args[0], Tensor):
        return _C.alias(args[0])
    if all(isinstance(a, numbers.Integral) for a in args):
        return _C.empty(tuple(args), _C.get_default_dtype())
    if len(args) == 1 and isinstance(args[0], (tuple, list, np.ndarray)) or len(args) == 1 and isinstance(
            args[0], numbers.Number):
        if isinstance(args[0], numbers.Number):
            raise TypeError("new(): data must be a sequence (got %s)" % type(args[0]).__name__)
        arr, _ = _infer_numpy(args[0])
        return _from_array(arr, _C.get_default_dtype())
    raise TypeError("Tensor(): expected sizes (ints) or a data sequence, got %r" % (args,))


# ---------------------------------------------------------------------- new_* methods


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return tensor(data, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return full(size, fill_value, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return zeros(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _new_ones(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return ones(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


def _new_empty(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return empty(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad)


for _n, _f in [("new_tensor", _new_tensor), ("new_full", _new_full), ("new_zeros", _new_zeros),
               ("new_ones", _new_ones), ("new_empty", _new_empty)]:
    method(_n, _f)


# ---------------------------------------------------------------------- random


class Generator:
    """A random number generator (Philox counter-based): ember.Generator().manual_seed(42)."""

    def __init__(self, device="cpu"):
        _check_device(device)
        self._g = _C.Generator()
        self.device = device

    def manual_seed(self, seed):
        self._g.manual_seed(int(seed) & 0xFFFFFFFFFFFFFFFF)
        return self

    def seed(self):
        return self._g.seed()

    def initial_seed(self):
        return self._g.initial_seed()

    def get_state(self):
        st = np.array([self._g.initial_seed(), self._g._offset()], dtype=np.uint64).view(np.uint8)
        return _C.from_numpy(st.copy())

    def set_state(self, new_state):
        arr = np.ascontiguousarray(new_state.numpy()).view(np.uint64)
        if arr.size != 2:
            raise RuntimeError("set_state: expected a state tensor of 16 bytes from get_state()")
        self._g._set_state(int(arr[0]), int(arr[1]))
        return self


export(Generator, name="Generator")
default_generator = Generator.__new__(Generator)
default_generator._g = _C.default_generator()
default_generator.device = "cpu"
export(default_generator, name="default_generator")


def _gen(generator):
    if generator is None:
        return None
    if isinstance(generator, Generator):
        return generator._g
    raise TypeError("generator must be an ember.Generator, got %s" % type(generator).__name__)


@export
def manual_seed(seed):
    """Seeds the default generator; returns it."""
    default_generator.manual_seed(seed)
    return default_generator


@export
def seed():
    return default_generator.seed()


@export
def initial_seed():
    return default_generator.initial_seed()


@export
def get_rng_state():
    return default_generator.get_state()


@export
def set_rng_state(new_state):
    default_generator.set_state(new_state)


def _random(size, kw, fill, dtype_default):
    generator = kw.pop("generator", None)
    dtype = _dtype(kw.pop("dtype", None), dtype_default)
    requires_grad = kw.pop("requires_grad", False)
    out = kw.pop("out", None)
    device = kw.pop("device", None)
    kw.pop("layout", None)
    kw.pop("pin_memory", None)
    if "size" in kw:
        size = (kw.pop("size"),)
    if kw:
        raise TypeError("unexpected keyword arguments %s" % sorted(kw))
    _check_device(device)
    t = _C.empty(tuple(_shape_args(size)), dtype)
    fill(t, _gen(generator))
    if out is not None:
        return write_out(out, t, check_cast=False)
    return _finish(t, requires_grad, device)


@export
def rand(*size, **kw):
    """Uniform samples from [0, 1)."""
    return _random(size, kw, lambda t, g: _C.uniform_(t, 0.0, 1.0, g), _C.get_default_dtype())


@export
def randn(*size, **kw):
    """Standard normal samples."""
    return _random(size, kw, lambda t, g: _C.normal_(t, 0.0, 1.0, g), _C.get_default_dtype())


@export
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False,
            out=None, layout=None):
    """Random integers from [low, high)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return _random((tuple(size),), {"generator": generator, "dtype": dtype, "requires_grad": requires_grad,
                                    "out": out, "device": device},
                   lambda t, g: _C.random_int_(t, int(low), int(high), g), _C.int64)


@export
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
    """A random permutation of 0..n-1."""
    _check_device(device)
    t = _C.randperm(int(n), _dtype(dtype, _C.int64), _gen(generator))
    return write_out(out, t, check_cast=False) if out is not None else _finish(t, requires_grad, device)


@export
def rand_like(input, *, dtype=None, generator=None, requires_grad=False, device=None, layout=None,
              memory_format=None):
    return rand(input._shape, dtype=_like(input, dtype), generator=generator, requires_grad=requires_grad,
                device=_like_device(input, device))


@export
def randn_like(input, *, dtype=None, generator=None, requires_grad=False, device=None, layout=None,
               memory_format=None):
    return randn(input._shape, dtype=_like(input, dtype), generator=generator, requires_grad=requires_grad,
                 device=_like_device(input, device))


@export
def randint_like(input, low=0, high=None, *, dtype=None, generator=None, requires_grad=False, device=None,
                 layout=None, memory_format=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._shape, dtype=_like(input, dtype), generator=generator,
                   device=_like_device(input, device))


@export
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None,
           requires_grad=False, layout=None):
    """Normal samples: scalar mean/std with a size, or elementwise tensor means/stds."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean if isinstance(mean, Tensor) else None
        s = std if isinstance(std, Tensor) else None
        ref = m if m is not None else s
        shape = np.broadcast_shapes(m._shape if m is not None else (), s._shape if s is not None else ())
        z = _C.empty(shape, ref.dtype)
        _C.normal_(z, 0.0, 1.0, _gen(generator))
        r = z * std + mean
        return write_out(out, r) if out is not None else r
    if size is None:
        raise TypeError("normal() with scalar mean and std needs a size")
    return _random((tuple(size),), {"generator": generator, "dtype": dtype, "requires_grad": requires_grad,
                                    "out": out, "device": device},
                   lambda t, g: _C.normal_(t, float(mean), float(std), g), _C.get_default_dtype())


class _Bernoulli(Function):
    """bernoulli(p): samples are not differentiable; the gradient with respect to p is zero."""

    @staticmethod
    def forward(p, g):
        return _C.bernoulli(p, g)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.mark_non_differentiable(out)

    @staticmethod
    def backward(ctx, grad):
        return None, None


@export
def bernoulli(input, p=None, *, generator=None, out=None):
    """Samples 0/1 with probabilities input (or the scalar p)."""
    if p is not None:
        t = _C.empty(input._shape, input.dtype)
        _C.bernoulli_scalar_(t, float(p), _gen(generator))
        return t
    t = _C.bernoulli(input, _gen(generator))
    return write_out(out, t, check_cast=False) if out is not None else t


@export
def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices sampled from the categorical distributions in the rows of input."""
    t = _C.multinomial(input, int(num_samples), bool(replacement), _gen(generator))
    return write_out(out, t, check_cast=False) if out is not None else t


@export
def poisson(input, generator=None):
    raise NotImplementedError("poisson sampling is not implemented in Ember yet")


def _check_inplace_random(self):
    if _state.enabled and self._grad_fn is None and self._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def _uniform_(self, a=0.0, b=1.0, *, generator=None):
    _check_inplace_random(self)
    _C.uniform_(self, float(a), float(b), _gen(generator))
    return self


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    _check_inplace_random(self)
    _C.normal_(self, float(mean), float(std), _gen(generator))
    return self


_RANDOM_INT_BOUND = {"bool": 2, "uint8": 2 ** 8, "int8": 2 ** 7, "int16": 2 ** 15}


def _random_(self, from_=0, to=None, *, generator=None):
    _check_inplace_random(self)
    if to is None:
        to, from_ = from_, 0
        if to == 0:
            # as PyTorch: bounded by the dtype (integers up to their max; floats' consecutive integers)
            to = 2 ** 24 if self.dtype.is_floating_point else _RANDOM_INT_BOUND.get(self.dtype._name, 2 ** 31)
    _C.random_int_(self, int(from_), int(to), _gen(generator))
    return self


def _bernoulli_(self, p=0.5, *, generator=None):
    _check_inplace_random(self)
    if isinstance(p, Tensor):
        _C.copy_(self, _C.bernoulli(_C.to_dtype(_C.expand(p, self._shape), _C.float32 if not self.dtype.is_floating_point else self.dtype, False), _gen(generator)))
    else:
        _C.bernoulli_scalar_(self, float(p), _gen(generator))
    return self


def _exponential_(self, lambd=1.0, *, generator=None):
    _check_inplace_random(self)
    _C.exponential_(self, float(lambd), _gen(generator))
    return self


for _n, _f in [("uniform_", _uniform_), ("normal_", _normal_), ("random_", _random_), ("bernoulli_", _bernoulli_),
               ("exponential_", _exponential_)]:
    method(_n, _f)


def _bernoulli_method(self, p=None, *, generator=None):
    return bernoulli(self, p, generator=generator)


def _multinomial_method(self, num_samples, replacement=False, *, generator=None):
    return multinomial(self, num_samples, replacement, generator=generator)


method("bernoulli", _bernoulli_method)
method("multinomial", _multinomial_method)
