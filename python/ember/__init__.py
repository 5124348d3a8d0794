"""Ember: a compiled-kernel autograd engine with a PyTorch-style API.

``import ember as torch`` runs typical PyTorch tutorial code: tensors live in C++ (``ember._C``), ops record
a graph in Python (``ember.autograd``), and ``backward()`` walks it.
"""
from . import _C
from ._C import (bfloat16, bool, dtype, float16, float32, float64, int8, int16, int32, int64, uint8)  # noqa: A004
from ._device import (channels_last, channels_last_3d, contiguous_format, device, layout, memory_format,
                      preserve_format, sparse_coo, strided)
from ._tensor import Size, Tensor
from ._sparse import sparse_coo_tensor
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from . import autograd, return_types
from . import _ops
from ._tensor_str import set_printoptions

__version__ = "0.1.0"

# dtype aliases, as in PyTorch
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = None

globals().update(_ops.API)
del globals()["cfloat"]


def is_tensor(obj):
    """True when obj is an ember.Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def is_complex(input):
    return False


def numel(input):
    return input.numel()


def get_default_dtype():
    """The dtype of tensors created from Python floats (float32 unless changed)."""
    return _C.get_default_dtype()


def set_default_dtype(d):
    """Sets the dtype of tensors created from Python floats (float32 or float64)."""
    _C.set_default_dtype(d)


def set_num_threads(n):
    """Number of threads Ember's CPU kernels use."""
    _C.set_num_threads(n)


def get_num_threads():
    return _C.get_num_threads()


def promote_types(type1, type2):
    return _C.promote_types(type1, type2)


def result_type(tensor1, tensor2):
    return _C.result_type(tensor1, tensor2)


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow from_ -> to (no category downgrade)."""
    def cat(d):
        return 0 if d is bool else (2 if d.is_floating_point else 1)
    return cat(from_) <= cat(to)


def typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ember's CPU kernels are deterministic already."""


def are_deterministic_algorithms_enabled():
    return True


from ._compile import compile  # noqa: E402


class finfo:
    """Floating point limits of a dtype (like torch.finfo)."""
    _TABLE = {
        "float16": (16, 5.960464477539063e-08, 65504.0, 6.103515625e-05, 0.0009765625, 3),
        "bfloat16": (16, 9.183549615799121e-41, 3.3895313892515355e38, 1.1754943508222875e-38, 0.0078125, 2),
        "float32": (32, 1.401298464324817e-45, 3.4028234663852886e38, 1.1754943508222875e-38, 1.1920928955078125e-07, 6),
        "float64": (64, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 2.220446049250313e-16, 15),
    }

    def __init__(self, type=None):
        type = type or get_default_dtype()
        if not type.is_floating_point:
            raise TypeError("finfo() requires a floating point input type, got %s" % type)
        self.dtype = type._name
        self.bits, self.smallest_subnormal, self.max, self.tiny, self.eps, self.precision = self._TABLE[type._name]
        self.min = -self.max
        self.smallest_normal = self.tiny
        self.resolution = 10.0 ** -self.precision


class iinfo:
    """Integer limits of a dtype (like torch.iinfo)."""
    _TABLE = {"uint8": (8, 0, 255), "int8": (8, -128, 127), "int16": (16, -2 ** 15, 2 ** 15 - 1),
              "int32": (32, -2 ** 31, 2 ** 31 - 1), "int64": (64, -2 ** 63, 2 ** 63 - 1),
              "bool": (8, 0, 1)}

    def __init__(self, type):
        if type.is_floating_point:
            raise TypeError("iinfo() requires an integer input type, got %s" % type)
        self.dtype = type._name
        self.bits, self.min, self.max = self._TABLE[type._name]


_float32_matmul_precision = "highest"


def set_float32_matmul_precision(precision):
    """PyTorch's 'highest' / 'high' / 'medium'. 'highest' keeps float32 matmuls in float32; the others let
    CUDA float32 GEMMs use TF32 tensor cores (cuBLAS path). The CPU GEMM computes in float32 either way."""
    global _float32_matmul_precision
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError("set_float32_matmul_precision: expected 'highest', 'high' or 'medium', got %r"
                           % (precision,))
    _float32_matmul_precision = precision
    _C._set_float32_matmul_tf32(precision != "highest")


def get_float32_matmul_precision():
    return _float32_matmul_precision


from . import cuda  # noqa: E402
from . import amp, cpu  # noqa: E402
from .amp import autocast  # noqa: E402
from .amp.autocast_mode import (autocast_decrement_nesting, autocast_increment_nesting,  # noqa: E402
                                clear_autocast_cache, get_autocast_cpu_dtype, get_autocast_dtype,
                                get_autocast_gpu_dtype, is_autocast_cache_enabled, is_autocast_cpu_enabled,
                                is_autocast_enabled, set_autocast_cache_enabled, set_autocast_cpu_dtype,
                                set_autocast_cpu_enabled, set_autocast_dtype, set_autocast_enabled,
                                set_autocast_gpu_dtype)
from . import cuda_amp as _cuda_amp  # noqa: E402
cuda.amp = _cuda_amp  # ember.cuda is one module file: its amp namespace lives in cuda_amp.py
from . import accelerator, backends, testing  # noqa: E402
from .serialization import load, save  # noqa: E402
from . import optim, safetensors, serialization  # noqa: E402
from . import nn  # noqa: E402
from . import utils  # noqa: E402
from .utils.dlpack import from_dlpack  # noqa: E402
from . import linalg  # noqa: E402
globals().update(linalg.TOPLEVEL)  # det, inverse, cholesky, svd, ... as in PyTorch
from . import distributions  # noqa: E402


def __getattr__(name):  # ember.onnx, .multiprocessing, .compiler, .distributed load on first use (as in PyTorch)
    if name in ("onnx", "multiprocessing", "compiler", "distributed"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError("module 'ember' has no attribute %r" % name)
