"""ember.Tensor: the Python face of the C tensor (``_C.TensorBase``).

Storage, sizes, strides and dtype live in C++; this class adds operators, conversions, indexing, repr and
``backward``. Op methods (``exp``, ``sum``, ``view``, ...) are attached by the ``ember._ops`` modules.
"""
import numbers

import numpy as np

from . import _C
from ._device import _device_of
from .autograd import function as _function
from .autograd.grad_mode import _state

__all__ = ["Tensor", "Size"]


class Size(tuple):
    """The shape of a tensor: a tuple of ints (``ember.Size([2, 3])``)."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        return tuple.__new__(cls, (int(s) for s in sizes))

    def __repr__(self):
        return "ember.Size([%s])" % ", ".join(str(s) for s in self)

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __reduce__(self):
        return (Size, (tuple(self),))


_DTYPE_TENSOR_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


_TENSOR_NAME_DTYPES = {v: k for k, v in _DTYPE_TENSOR_NAMES.items()}
_UNSUPPORTED_TENSOR_NAMES = {"ComplexFloatTensor": "complex64", "ComplexDoubleTensor": "complex128"}


def _dtype_of_type_name(name):
    """'torch.FloatTensor' / 'ember.cuda.LongTensor' / ... -> the dtype (cuda names fail as .cuda() does)."""
    module, _, cls = name.rpartition(".")
    if module in ("torch.cuda", "ember.cuda"):
        from ._device import _check_device
        _check_device("cuda")
    elif module not in ("torch", "ember"):
        raise ValueError("invalid type: %r" % name)
    if cls in _UNSUPPORTED_TENSOR_NAMES:
        raise TypeError("%s: Ember has no %s dtype; supported: %s" % (
            name, _UNSUPPORTED_TENSOR_NAMES[cls], ", ".join(sorted(_TENSOR_NAME_DTYPES))))
    if cls not in _TENSOR_NAME_DTYPES:
        raise ValueError("invalid type: %r" % name)
    return getattr(_C, _TENSOR_NAME_DTYPES[cls])


def _shape_args(args):
    """view(2, 3) / view((2, 3)) / view([2, 3]) / view(ember.Size) -> tuple of ints."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral) and not (
            isinstance(args[0], Tensor) and args[0].dim() == 0):
        return tuple(args[0])
    return args


class Tensor(_C.TensorBase):
    """A multi-dimensional array with autograd support (see ember.tensor to create one)."""

    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to our reflected operators

    def __new__(cls, *args, **kwargs):
        # legacy constructor: Tensor(2, 3) (uninitialised float), Tensor([1, 2]) (data), Tensor()
        from ._ops.creation import _legacy_new
        return _legacy_new(cls, *args, **kwargs)

    # ------------------------------------------------------------------ properties
    @property
    def device(self):
        return _device_of(self._device)

    @property
    def is_cuda(self):
        return self._device != "cpu"

    @property
    def is_cpu(self):
        return self._device == "cpu"

    is_sparse = False
    is_quantized = False
    is_meta = False
    is_nested = False

    @property
    def layout(self):
        from ._device import strided
        return strided

    @property
    def itemsize(self):
        return self.element_size()

    @property
    def nbytes(self):
        return self.element_size() * self.numel()

    @property
    def T(self):
        return self.permute(*reversed(range(self.dim())))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    @property
    def H(self):
        return self.T

    @property
    def mH(self):
        return self.mT

    @property
    def real(self):
        return self

    @property
    def name(self):
        return None

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def is_complex(self):
        return False

    def is_signed(self):
        return self.dtype.is_signed

    def get_device(self):
        """-1 for a CPU tensor, else the index of its CUDA device."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    def _is_view(self):
        return self._base is not None

    def type(self, dtype=None, non_blocking=False, **kwargs):
        """Without arguments: the type name ('ember.FloatTensor'); with a dtype or a type name such as
        'torch.FloatTensor': this tensor converted to it (self when it already has that type)."""
        if dtype is None:
            return "ember." + _DTYPE_TENSOR_NAMES[self.dtype._name]
        if isinstance(dtype, str):
            return self.to(_dtype_of_type_name(dtype))
        if not isinstance(dtype, _C.dtype):
            raise ValueError("invalid type: %r" % (dtype,))
        return self.to(dtype)

    def type_as(self, other):
        """This tensor converted to other's dtype (self when the dtypes already match)."""
        if not isinstance(other, Tensor):
            raise TypeError("type_as(): argument 'other' must be Tensor, not %s" % type(other).__name__)
        return self.to(other.dtype)

    # ------------------------------------------------------------------ conversions
    def numpy(self, *, force=False):
        """A numpy array sharing this tensor's memory."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return _C.to_numpy(self)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule over this tensor's memory (the array API's protocol; versioned when the consumer
        asks for DLPack 1.x with max_version)."""
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        if dl_device is not None and tuple(dl_device) != self.__dlpack_device__():
            raise BufferError("__dlpack__: cannot export a tensor on %s to DLPack device %s without a copy"
                              % (self._device, tuple(dl_device)))
        t = _C.clone(self) if copy else self
        if self._device != "cpu" and stream not in (None, -1):
            from . import cuda
            cuda.synchronize(self.device)  # Ember works on the legacy default stream: done once synchronised
        return _C._to_dlpack(t, max_version is not None and tuple(max_version)[0] >= 1)

    def __dlpack_device__(self):
        """(device type, device id) in DLPack's numbering: (1, 0) for the CPU, (2, n) for cuda:n."""
        return _C._dlpack_device(self)

    @property
    def __cuda_array_interface__(self):
        """CUDA Array Interface v3 for CUDA tensors (CuPy, Numba, PyTorch read it without copying)."""
        if self._device == "cpu":
            raise AttributeError("Can't get __cuda_array_interface__ on non-CUDA tensor type: %s" % self.type())
        if self._requires_grad:
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad. If gradients "
                               "aren't required, use var.detach() to get Variable that doesn't require grad.")
        typestr = {"float16": "<f2", "bfloat16": "<V2", "float32": "<f4", "float64": "<f8", "int32": "<i4",
                   "int64": "<i8", "int16": "<i2", "int8": "|i1", "uint8": "|u1", "bool": "|b1"}[self.dtype._name]
        itemsize = self.element_size()
        return {"shape": tuple(self._shape), "typestr": typestr, "data": (self.data_ptr(), False), "version": 3,
                "strides": None if self.is_contiguous() else tuple(s * itemsize for s in self.stride()),
                "stream": 1}

    def __array__(self, dtype=None, copy=None):
        arr = _C.to_numpy(self) if self.dtype is not _C.bfloat16 else _C.to_numpy(_C.to_dtype(self, _C.float32, False))
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        if copy:
            arr = arr.copy()
        return arr

    def tolist(self):
        """Nested Python lists of Python numbers (a number for a 0-d tensor)."""
        t = self if self.dtype is not _C.bfloat16 else _C.to_dtype(self, _C.float32, False)
        return _C.to_numpy(t).tolist()

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return _C.item(self)

    def __float__(self):
        return float(_C.item(self))

    def __int__(self):
        return int(_C.item(self))

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with %s values is ambiguous"
                               % ("no" if self.numel() == 0 else "more than one"))
        return bool(_C.item(self))

    def __index__(self):
        if self.numel() != 1 or self.dtype.is_floating_point or self.dtype is _C.bool:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(_C.item(self))

    def __complex__(self):
        return complex(_C.item(self))

    def __len__(self):
        if self.dim() == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if self.dim() == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element):
        if isinstance(element, (Tensor, numbers.Number)):
            return bool((self == element).any().item())
        raise RuntimeError("Tensor.__contains__ only supports Tensor or scalar, but you passed in a %s."
                           % type(element).__name__)

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        if self.dim() == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec) if spec else self.__repr__()

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __dir__(self):
        return sorted(set(super().__dir__()))

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulates the gradient of this tensor into the .grad of the leaves it depends on."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self):
        """The same data (shared storage and version counter), outside the graph."""
        return _C.alias(self)

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Makes this non-leaf tensor keep its gradient in .grad during backward."""
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def hook(grad):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = _C.clone(grad) if not _state.enabled else grad.clone()
                else:
                    t.grad = t.grad + grad
        self._add_node_hook(hook)
        self._retains_grad = True

    def _add_node_hook(self, fn):
        node = self._grad_fn
        hooks = node._tensor_pre_hooks
        if hooks is None:
            hooks = node._tensor_pre_hooks = {}
        d = hooks.get(self._output_nr)
        if d is None:
            d = hooks[self._output_nr] = _function._HookDict()
        return _function._add_hook(d, fn)

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed; it may return a replacement gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._add_node_hook(hook)
        hooks = self._backward_hooks
        if hooks is None:
            hooks = _function._HookDict()
            self._backward_hooks = hooks
        return _function._add_hook(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs after the gradient has been accumulated into this leaf's .grad."""
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        acc = _function._grad_accumulator(self)
        # keep the accumulator (and so the hook) alive as long as the tensor
        self.__dict__["_post_acc_node"] = acc
        if acc._post_hooks is None:
            acc._post_hooks = _function._HookDict()
        return _function._add_hook(acc._post_hooks, hook)

    # ------------------------------------------------------------------ pickling / copying
    def __reduce_ex__(self, proto):
        arr = self.detach()
        if arr.dtype is _C.bfloat16:
            data, tag = _C.to_numpy(_C.to_dtype(arr, _C.float32, False)).copy(), "bfloat16"
        else:
            data, tag = _C.to_numpy(arr).copy(), arr.dtype._name
        return (_rebuild_tensor, (type(self), data, tag, self.requires_grad, dict(self.__dict__)))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                               "because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        import copy
        new = _C.clone(self)
        if type(self) is not Tensor:
            new = type(self).__new__(type(self), new, self.requires_grad) if _is_param_like(self) else new
        new.requires_grad = self.requires_grad
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        for k, v in self.__dict__.items():
            if k != "_post_acc_node":
                new.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = new
        return new


def _is_param_like(t):
    return getattr(type(t), "_is_param", False)


def _rebuild_tensor(cls, data, tag, requires_grad, state):
    from ._ops.creation import tensor as make_tensor
    t = make_tensor(data, dtype=getattr(_C, tag))
    if cls is not Tensor and _is_param_like_cls(cls):
        t = cls(t, requires_grad)
    else:
        t.requires_grad = requires_grad
    t.__dict__.update(state)
    return t


def _is_param_like_cls(cls):
    return getattr(cls, "_is_param", False)


_C._set_classes(Tensor, Size)
_function._set_tensor_class(Tensor)
