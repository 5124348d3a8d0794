"""Autocast: a per-op cast policy for mixed-precision regions, thread-local and nestable, as in PyTorch.

Inside ``autocast(device_type)`` the ops named in that device's lists run in the lower-precision dtype
(matmul, linear, conv, attention), in float32 (losses and other precision-sensitive ops), or in the widest
floating dtype of their inputs (cat, stack, ...). Only out-of-place calls without ``out=`` are cast; float64
and non-floating tensors are never touched. Each listed op's public function starts with one check of a
thread-local flag (``grad_mode._state.autocast``, the set of op names the active regions may cast, empty
outside any region) and hands itself to :func:`_dispatch` only inside a region. Ops go through their
public functions (not only ``Function.apply``) because no-grad calls take kernel fast paths that never reach
``apply``, and composites such as ``linear`` must be cast as a whole, as PyTorch casts them.
"""
import collections.abc
import functools
import threading
import warnings
import weakref

from .. import _C
from .._tensor import Tensor
from ..autograd.grad_mode import _state

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available"]

_DEVICE_TYPES = ("cpu", "cuda")

# ---------------------------------------------------------------------------------------------- op lists
# Names are Ember's public function names (PyTorch's op names where they differ: cross_entropy for
# cross_entropy_loss, pad_reflect/pad_replicate for reflection_pad*/replication_pad*, rtruediv for
# __rtruediv__/__rdiv__). Lists name ops Ember may not have yet, so a new op needs only its hook line.

_CPU_LOWER = {
    "conv1d", "conv2d", "conv3d", "bmm", "mm", "vecdot", "baddbmm", "addmm", "addbmm", "linear", "_convolution",
    "matmul", "conv_tbc", "mkldnn_rnn_layer", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu",
    "scaled_dot_product_attention", "_native_multi_head_attention",
}
_CPU_FP32 = {
    "avg_pool3d", "binary_cross_entropy", "grid_sample", "polar", "prod", "quantile", "nanquantile", "stft", "cdist",
    "trace", "view_as_complex", "cholesky", "cholesky_inverse", "cholesky_solve", "inverse", "lu_solve", "orgqr",
    "ormqr", "pinverse", "max_pool3d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d", "pad_reflect",
    "pad_replicate", "mse_loss", "cosine_embedding_loss", "nll_loss", "nll_loss2d", "hinge_embedding_loss",
    "poisson_nll_loss", "smooth_l1_loss", "cross_entropy", "l1_loss", "huber_loss", "margin_ranking_loss",
    "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "ctc_loss", "kl_div", "multilabel_margin_loss",
    "binary_cross_entropy_with_logits", "fft_fft", "fft_ifft", "fft_fft2", "fft_ifft2", "fft_fftn", "fft_ifftn",
    "fft_rfft", "fft_irfft", "fft_rfft2", "fft_irfft2", "fft_rfftn", "fft_irfftn", "fft_hfft", "fft_ihfft",
    "linalg_cond", "linalg_matrix_rank", "linalg_solve", "linalg_cholesky", "linalg_svdvals", "linalg_eigvals",
    "linalg_eigvalsh", "linalg_inv", "linalg_householder_product", "linalg_tensorinv", "linalg_tensorsolve",
    "fake_quantize_per_tensor_affine", "geqrf", "_lu_with_info", "qr", "svd", "triangular_solve",
    "fractional_max_pool2d", "fractional_max_pool3d", "adaptive_max_pool3d", "multilabel_margin_loss_forward",
    "linalg_qr", "linalg_cholesky_ex", "linalg_svd", "linalg_eig", "linalg_eigh", "linalg_lstsq", "linalg_inv_ex",
}
_CPU_PROMOTE = {"stack", "cat", "index_copy"}

_CUDA_LOWER = {
    "matmul", "addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "chain_matmul", "multi_dot", "conv1d", "conv2d",
    "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv_tbc", "_convolution", "linear", "mm",
    "mv", "prelu", "scaled_dot_product_attention", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
}
_CUDA_FP32 = {
    "pow", "rtruediv", "acos", "asin", "binary_cross_entropy_with_logits", "cosh", "cosine_embedding_loss", "cdist",
    "cosine_similarity", "cross_entropy", "cumprod", "cumsum", "dist", "erfinv", "exp", "expm1", "group_norm",
    "hinge_embedding_loss", "kl_div", "l1_loss", "layer_norm", "log", "log_softmax", "log10", "log1p", "log2",
    "margin_ranking_loss", "mse_loss", "multilabel_margin_loss", "multi_margin_loss", "nll_loss", "norm",
    "normalize", "pdist", "poisson_nll_loss", "prod", "reciprocal", "rsqrt", "sinh", "smooth_l1_loss",
    "soft_margin_loss", "softmax", "softmin", "softplus", "sum", "renorm", "tan", "triplet_margin_loss",
}
_CUDA_PROMOTE = {
    "addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "vdot", "grid_sample", "index_put", "scatter_add",
    "tensordot",
}
# unsafe to autocast on CUDA: PyTorch refuses them inside a region
_CUDA_BANNED = {"binary_cross_entropy"}

_BANNED_MESSAGE = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")


def _table(lower, fp32, promote, banned=()):
    table = {}
    for kind, names in (("lower", lower), ("fp32", fp32), ("promote", promote), ("banned", banned)):
        for n in names:
            assert n not in table, n
            table[n] = kind
    return table


POLICY = {"cpu": _table(_CPU_LOWER, _CPU_FP32, _CPU_PROMOTE),
          "cuda": _table(_CUDA_LOWER, _CUDA_FP32, _CUDA_PROMOTE, _CUDA_BANNED)}
# the value of _state.autocast for each combination of enabled device types
_NAMES = {(): frozenset(), ("cpu",): frozenset(POLICY["cpu"]), ("cuda",): frozenset(POLICY["cuda"]),
          ("cpu", "cuda"): frozenset(POLICY["cpu"]) | frozenset(POLICY["cuda"])}


def op_policy(device_type, name):
    """How autocast treats op `name` on device_type: 'lower', 'fp32', 'promote', 'banned' or None."""
    return POLICY[_check_device_type(device_type)].get(name)


# ---------------------------------------------------------------------------------------------- state


class _AmpState(threading.local):
    def __init__(self):
        self.enabled = {"cpu": False, "cuda": False}
        self.dtype = {"cpu": _C.bfloat16, "cuda": _C.float16}
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}


_amp = _AmpState()


def _refresh():
    en = _amp.enabled
    _state.autocast = _NAMES[tuple(d for d in _DEVICE_TYPES if en[d])]


def _check_device_type(device_type):
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError("Expected one of cpu, cuda device type at start of device string: %s" % (device_type,))
    return device_type


def is_autocast_available(device_type):
    """True for the device types autocast supports ('cpu' and 'cuda')."""
    return device_type in _DEVICE_TYPES


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for device_type in this thread (no argument: 'cuda', as in PyTorch)."""
    return _amp.enabled[_check_device_type("cuda" if device_type is None else device_type)]


def set_autocast_enabled(device_type, enabled=None):
    """set_autocast_enabled(device_type, enabled), or the legacy set_autocast_enabled(enabled) for 'cuda'."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    if type(enabled) is not bool:
        raise TypeError("set_autocast_enabled(): argument 'enabled' must be bool, not %s" % type(enabled).__name__)
    _amp.enabled[_check_device_type(device_type)] = enabled
    _refresh()


def get_autocast_dtype(device_type):
    """The lower-precision dtype autocast uses on device_type (bfloat16 on the CPU, float16 on CUDA by default)."""
    return _amp.dtype[_check_device_type(device_type)]


def set_autocast_dtype(device_type, dtype):
    if not isinstance(dtype, _C.dtype):
        raise TypeError("set_autocast_dtype(): argument 'dtype' must be ember.dtype, not %s" % type(dtype).__name__)
    _amp.dtype[_check_device_type(device_type)] = dtype


def is_autocast_cache_enabled():
    return _amp.cache_enabled


def set_autocast_cache_enabled(enabled):
    _amp.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Drops the cast copies of float32 parameters kept for the current autocast region."""
    _amp.cache = {}


def autocast_increment_nesting():
    _amp.nesting += 1
    return _amp.nesting


def autocast_decrement_nesting():
    _amp.nesting -= 1
    return _amp.nesting


def _deprecated(old, new):
    warnings.warn("ember.%s() is deprecated. Please use ember.%s instead." % (old, new), DeprecationWarning,
                  stacklevel=3)


def is_autocast_cpu_enabled():
    _deprecated("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')")
    return _amp.enabled["cpu"]


def set_autocast_cpu_enabled(enabled):
    _deprecated("set_autocast_cpu_enabled", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    _deprecated("get_autocast_cpu_dtype", "get_autocast_dtype('cpu')")
    return _amp.dtype["cpu"]


def set_autocast_cpu_dtype(dtype):
    _deprecated("set_autocast_cpu_dtype", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    _deprecated("get_autocast_gpu_dtype", "get_autocast_dtype('cuda')")
    return _amp.dtype["cuda"]


def set_autocast_gpu_dtype(dtype):
    _deprecated("set_autocast_gpu_dtype", "set_autocast_dtype('cuda', dtype)")
    set_autocast_dtype("cuda", dtype)


# ---------------------------------------------------------------------------------------------- the region


def _cuda_available():
    from .. import cuda
    return cuda.is_available()


class autocast:
    """Runs the ops of a region in mixed precision: ``with ember.autocast("cpu"):`` or as a decorator.

    device_type: 'cpu' or 'cuda'; dtype: the lower-precision dtype (default: ``get_autocast_dtype(device_type)``,
    bfloat16 on the CPU, float16 on CUDA); enabled=False turns autocast off inside an enclosing region;
    cache_enabled: whether casts of float32 parameters are reused within the region (default: the thread's
    ``is_autocast_cache_enabled()``). The state is thread-local: other threads are not affected.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError("Expected `device_type` of type `str`, got: `%s`" % type(device_type))
        if not is_autocast_available(device_type):
            raise RuntimeError("User specified an unsupported autocast device_type '%s'" % device_type)
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled:
            if device_type == "cuda":
                if not _cuda_available():
                    warnings.warn("CUDA is not available. Disabling autocast.", stacklevel=2)
                    enabled = False
                elif self.fast_dtype is _C.bfloat16:
                    from .. import cuda
                    if not cuda.is_bf16_supported():
                        raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to "
                                           "float16.")
            elif self.fast_dtype not in (_C.bfloat16, _C.float16):
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtypes of ember.bfloat16, ember.float16 currently.",
                              stacklevel=2)
                enabled = False
        self._enabled = bool(enabled)

    def __enter__(self):
        self.prev_cache_enabled = _amp.cache_enabled
        self.prev = _amp.enabled[self.device]
        self.prev_fastdtype = _amp.dtype[self.device]
        _amp.enabled[self.device] = self._enabled
        _amp.dtype[self.device] = self.fast_dtype
        autocast_increment_nesting()
        _amp.cache_enabled = bool(self._cache_enabled)
        _refresh()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        # the cache lives as long as the outermost region
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        _amp.enabled[self.device] = self.prev
        _amp.dtype[self.device] = self.prev_fastdtype
        _amp.cache_enabled = self.prev_cache_enabled
        _refresh()
        return False

    def __call__(self, func):
        """Decorator: each call of func runs in its own region with this region's settings."""
        settings = (self.device, self.fast_dtype, self._enabled, self._cache_enabled)

        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with _region(*settings):
                return func(*args, **kwargs)
        return decorate_autocast


def _region(device_type, dtype, enabled, cache_enabled):
    """An autocast region from already validated settings (no warnings repeated per decorated call)."""
    r = autocast.__new__(autocast)
    r.device, r.fast_dtype, r._enabled, r._cache_enabled = device_type, dtype, enabled, cache_enabled
    return r


# ---------------------------------------------------------------------------------------------- dispatch


def _device_type(t):
    return t.device.type


def _first_device(args, kwargs):
    for a in args if not kwargs else tuple(args) + tuple(kwargs.values()):
        if isinstance(a, Tensor):
            return _device_type(a)
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, Tensor):
                    return _device_type(b)
    return None


def _eligible(t, device_type):
    d = t.dtype
    return d.is_floating_point and d is not _C.float64 and _device_type(t) == device_type


def _cached_cast(t, dtype, device_type):
    """t cast to dtype; casts of float32 leaf parameters are kept for the region (while grad mode is on, so a
    cached copy always carries the history back to the parameter)."""
    if (dtype is _amp.dtype[device_type] and t.dtype is _C.float32 and _amp.cache_enabled and t._requires_grad
            and t._grad_fn is None and t._base is None and _state.enabled):
        cache = _amp.cache
        hit = cache.get(id(t))
        if hit is not None and hit[0]() is t and hit[1] == t._version:
            return hit[2]
        r = t.to(dtype)
        cache[id(t)] = (weakref.ref(t), t._version, r)
        return r
    return t.to(dtype)


def _cast(a, dtype, device_type):
    if isinstance(a, Tensor):
        return _cached_cast(a, dtype, device_type) if a.dtype is not dtype and _eligible(a, device_type) else a
    if isinstance(a, (list, tuple)) and any(isinstance(b, Tensor) for b in a):
        return type(a)(_cast(b, dtype, device_type) for b in a)
    return a


def _widest(name, args, kwargs, device_type):
    """float32 when some eligible input is float32, else the region's dtype. Like PyTorch, a region's dtype
    mixed with the other 16-bit dtype is refused rather than guessed."""
    low = dtype = _amp.dtype[device_type]
    for a in tuple(args) + tuple(kwargs.values()):
        for b in (a if isinstance(a, (list, tuple)) else (a,)):
            if isinstance(b, Tensor) and _eligible(b, device_type):
                if dtype is _C.float32 or b.dtype is _C.float32:
                    dtype = _C.float32
                elif b.dtype is not low:
                    raise RuntimeError("%s: autocast(%r, dtype=%s) cannot promote a %s input: the inputs of a "
                                       "promote op may mix only float32 and %s"
                                       % (name, device_type, low, b.dtype, low))
    return dtype


def _dispatch(name, fn, *args, **kwargs):
    """Runs op `name` (its public function fn) under the active autocast policy: casts the eligible tensor
    arguments, then runs fn with autocast off, as PyTorch runs an op's implementation below its autocast layer.
    An op without a policy for its tensors' device runs unchanged, its inner ops still autocast."""
    prev = _state.autocast
    device_type = _first_device(args, kwargs)
    kind = None
    if device_type in _DEVICE_TYPES and _amp.enabled[device_type]:
        kind = POLICY[device_type].get(name)
    if kind is None:
        _state.autocast = prev - {name}
        try:
            return fn(*args, **kwargs)
        finally:
            _state.autocast = prev
    if kind == "banned":
        raise RuntimeError(_BANNED_MESSAGE)
    if kwargs.get("dtype") is None:  # an explicit dtype= makes an op ineligible: it keeps the asked dtype
        if kind == "lower":
            target = _amp.dtype[device_type]
        elif kind == "fp32":
            target = _C.float32
        else:
            target = _widest(name, args, kwargs, device_type)
        args = [_cast(a, target, device_type) for a in args]
        if kwargs:
            kwargs = {k: _cast(v, target, device_type) for k, v in kwargs.items()}
    _state.autocast = frozenset()
    try:
        return fn(*args, **kwargs)
    finally:
        _state.autocast = prev


def autocast_op(name):
    """Decorator giving a public op function its autocast hook, for ops where one more Python frame does not
    matter (linear algebra, losses): ``@autocast_op("linalg_inv")``. Calls with ``out=`` are not cast. Hot ops
    inline the same check instead: ``if _state.autocast and name in _state.autocast: return _dispatch(...)``."""
    def deco(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            if _state.autocast and name in _state.autocast and kwargs.get("out") is None:
                return _dispatch(name, fn, *args, **kwargs)
            return fn(*args, **kwargs)
        return op
    return deco


# ---------------------------------------------------------------------------------------------- custom Functions


def _cast_inputs(value, device_type, dtype):
    if isinstance(value, Tensor):
        ok = value.dtype.is_floating_point and value.dtype is not _C.float64 and _device_type(value) == device_type
        return value.to(dtype) if ok and value.dtype is not dtype else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, collections.abc.Mapping):
        return {_cast_inputs(k, device_type, dtype): _cast_inputs(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_inputs(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for the forward of a custom autograd Function. Inside an autocast region with cast_inputs
    given, floating tensors of device_type are cast to cast_inputs and forward runs with autocast off; with
    cast_inputs=None forward runs under the current autocast state. Pair it with :func:`custom_bwd`."""
    if not isinstance(device_type, str):
        raise ValueError("Expected `device_type` of type `str`, got: `%s`" % type(device_type))
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type, enabled=False):
            return fwd(*_cast_inputs(args, device_type, cast_inputs), **_cast_inputs(kwargs, device_type, cast_inputs))
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for the backward of a custom autograd Function: runs it under the autocast state its
    forward (decorated with :func:`custom_fwd`) ran under."""
    if not isinstance(device_type, str):
        raise ValueError("Expected `device_type` of type `str`, got: `%s`" % type(device_type))
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with _region(device_type, ctx._dtype, ctx._fwd_used_autocast, is_autocast_cache_enabled()):
            return bwd(*args, **kwargs)
    return decorate_bwd
