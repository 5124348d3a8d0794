"""The op database: one OpInfo per public op drives forward-vs-numpy, broadcasting, non-contiguous, zero-size,
0-d, gradcheck/gradgradcheck, dtype and (optional) PyTorch-parity tests in tests/test_ops.py.

A sample generator takes a ``Maker`` (which knows the dtype and holds the test's seeded numpy Generator) and
yields ``SampleInput``s whose args are numpy arrays, Python numbers, lists of arrays or other plain values.
The harness turns arrays into ember tensors (or torch tensors) and float32 arrays into float64 before calling
the numpy reference, so references are computed in double precision.

Sample kinds: "basic" (forward, non-contiguous, gradcheck, dtypes), "broadcast", "zero_size" and "scalar" (0-d).
"""
import dataclasses
import math
from typing import Any, Callable, Optional

import numpy as np

import ember

FLOAT_DTYPES = (np.float32, np.float64)
INT_DTYPES = (np.int32, np.int64, np.uint8, np.int16, np.int8)
SIGNED_INTS = (np.int32, np.int64, np.int16, np.int8)
KINDS = ("basic", "broadcast", "zero_size", "scalar")

# (rtol, atol) per dtype name; the low-precision ones compare against a double reference computed on the
# already-rounded inputs.
DEFAULT_TOL = {
    "float64": (1e-7, 1e-7),
    "float32": (1.3e-6, 1e-5),
    "float16": (2e-3, 2e-3),
    "bfloat16": (1.6e-2, 1e-2),
}


# ------------------------------------------------------------------------------------------- samples


@dataclasses.dataclass
class SampleInput:
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    kind: str = "basic"
    grad: bool = True      # usable by gradcheck (finite, away from kinks)
    desc: str = ""
    atol: Optional[float] = None  # overrides the dtype's atol (0 checks relative accuracy of tiny results)
    expand: bool = True    # may be used with expanded (repeated-value) inputs

    def __repr__(self):
        def show(a):
            if isinstance(a, np.ndarray):
                return "array%s:%s" % (list(a.shape), a.dtype)
            if isinstance(a, (list, tuple)):
                return type(a)(show(x) for x in a)
            return a
        return "SampleInput(%s, %s, kind=%s%s)" % (show(self.args), {k: show(v) for k, v in self.kwargs.items()},
                                                   self.kind, ", " + self.desc if self.desc else "")


def S(*args, kind="basic", grad=True, desc="", atol=None, expand=True, **kwargs):
    return SampleInput(tuple(args), kwargs, kind, grad, desc, atol, expand)


class Maker:
    """Builds fresh random arrays of one dtype from a seeded numpy Generator (never all zeros)."""

    def __init__(self, rng, dtype):
        self.rng = rng
        self.dtype = np.dtype(dtype)

    @property
    def is_float(self):
        return self.dtype.kind == "f"

    @property
    def is_int(self):
        return self.dtype.kind in "iu"

    @property
    def is_bool(self):
        return self.dtype.kind == "b"

    def __call__(self, shape, low=-2.0, high=2.0, *, margin=0.0, zeros=0.0, nans=0.0, infs=0.0):
        """Uniform in [low, high]; margin keeps |x| >= margin; zeros/nans/infs replace that fraction."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        rng = self.rng
        if self.is_bool:
            a = np.asarray(rng.random(shape) < 0.5)
            if a.size > 1:
                a.flat[0], a.flat[-1] = True, False
            return a
        if self.is_int:
            lo, hi = math.ceil(low), math.floor(high)
            if self.dtype.kind == "u":
                lo = max(lo, 0)
            hi = max(hi, lo)
            a = np.asarray(rng.integers(lo, hi + 1, size=shape)).astype(self.dtype)
            if margin > 0:
                a[a == 0] = 1 if hi >= 1 else -1
        else:
            a = np.asarray(rng.uniform(low, high, size=shape))
            if margin > 0:
                small = np.abs(a) < margin
                sgn = np.where(a[small] >= 0, 1.0, -1.0) if low < 0 else 1.0
                a[small] = sgn * margin * (1.0 + rng.random(int(small.sum())))
            a = a.astype(self.dtype)
        n = a.size
        if n > 1 and self.is_float:
            for frac, val in ((zeros, 0), (nans, np.nan), (infs, np.inf)):
                if frac:
                    k = max(1, int(round(frac * n)))
                    pos = rng.choice(n, size=min(k, n - 1), replace=False)
                    if val is np.inf:
                        a.flat[pos] = np.where(rng.random(len(pos)) < 0.5, np.inf, -np.inf)
                    else:
                        a.flat[pos] = val
        return a

    def distinct(self, shape, scale=0.25):
        """Distinct values, exactly representable in every dtype (for sort/topk/median: no ties)."""
        shape = tuple(shape)
        n = int(np.prod(shape, dtype=np.int64))
        p = self.rng.permutation(n)
        if self.is_int:
            v = p if self.dtype.kind == "u" else p - n // 2
        else:
            v = (p - n // 2) * scale
        return v.reshape(shape).astype(self.dtype)

    def index(self, shape, high):
        return self.rng.integers(0, high, size=tuple(shape) if not isinstance(shape, int) else (shape,)).astype(
            np.int64)

    def unique_index(self, n, high):
        return self.rng.permutation(high)[:n].astype(np.int64)

    def mask(self, shape, p=0.5):
        m = np.asarray(self.rng.random(shape) < p)
        if m.size > 1:
            m.flat[0], m.flat[-1] = True, False
        return m

    def scalar(self, low=-2.0, high=2.0, margin=0.0):
        """A Python number of the maker's category inside [low, high]."""
        if self.is_float:
            v = float(self.rng.uniform(low, high))
            if margin and abs(v) < margin:
                v = margin * 1.5 if v >= 0 or low >= 0 else -margin * 1.5
            return round(v, 3) or margin or 0.5
        lo, hi = math.ceil(low), math.floor(high)
        if self.dtype.kind == "u" or self.is_bool:
            lo = max(lo, 0)
        hi = max(hi, lo)
        v = int(self.rng.integers(lo, hi + 1))
        return (v or 1) if margin else v


# ------------------------------------------------------------------------------------------- OpInfo


@dataclasses.dataclass
class ErrorInput:
    """A sample the op must reject with one of `error` (whose message matches `match`)."""
    sample: SampleInput
    error: Any = (RuntimeError, IndexError, ValueError, TypeError)
    match: Optional[str] = None
    xfail: Optional[str] = None    # reason, when Ember is known to accept the input
    name: str = ""


def E(name, *args, error=(RuntimeError, IndexError, ValueError, TypeError), match=None, xfail=None, **kwargs):
    return ErrorInput(SampleInput(tuple(args), kwargs), error, match, xfail, name)


@dataclasses.dataclass
class XFail:
    test: str                      # test function name without the "test_" prefix, e.g. "forward"
    reason: str
    dtypes: Optional[tuple] = None  # dtype names ("float32", "int64", "bfloat16", ...) or None for all


TEST_NAMES = ("forward", "broadcast", "zero_size", "scalar", "noncontiguous", "gradcheck", "gradgradcheck",
              "gradcheck_noncontiguous",
              "int_dtypes", "bool_dtype", "low_precision", "method", "inplace", "torch_parity")


def xfail_all(reason, tests=TEST_NAMES, dtypes=None):
    """The same expected failure for every test of an op (a bug that breaks the op outright)."""
    return tuple(XFail(t, reason, dtypes) for t in tests)


@dataclasses.dataclass
class OpInfo:
    name: str
    op: Callable
    ref: Callable
    sample_inputs: Callable
    dtypes: tuple = FLOAT_DTYPES
    int_dtypes: tuple = ()
    supports_bool: bool = False
    low_precision: bool = True          # float16 / bfloat16 forward
    supports_grad: bool = True
    supports_gradgrad: Optional[bool] = None   # None: same as supports_grad
    tol: dict = dataclasses.field(default_factory=dict)
    method: Any = None                 # Tensor method name (None: the op's name when it exists; False: none)
    expand_ok: bool = True             # expanded (repeated-value) inputs keep results well defined
    torch_fn: Optional[Callable] = None  # torch module -> callable; None: getattr(torch, name)
    torch_ok: bool = True
    float_out_dtype: Optional[str] = None  # floating results always have this dtype (e.g. float_power)
    ref_upcast: bool = True            # run the reference on float64 copies of floating inputs
    error_inputs: Optional[Callable] = None  # make -> [ErrorInput]: inputs the op must reject
    int32_index: bool = False          # int64 index arguments may be given as int32 (as in PyTorch)
    xfails: tuple = ()

    def __post_init__(self):
        if self.supports_gradgrad is None:
            self.supports_gradgrad = self.supports_grad
        if self.method is None:
            self.method = self.name if hasattr(ember.Tensor, self.name) else False

    def samples(self, rng, dtype, kind=None):
        out = list(self.sample_inputs(Maker(rng, dtype)))
        return [s for s in out if kind is None or s.kind == kind]

    def has_kind(self, kind):
        return bool(self.samples(np.random.default_rng(0), np.float64, kind))

    def tolerance(self, dtype_name):
        return self.tol.get(dtype_name, DEFAULT_TOL.get(dtype_name, (0.0, 0.0)))

    def xfail_reason(self, test, dtype_name=None):
        for x in self.xfails:
            if x.test == test and (x.dtypes is None or dtype_name in x.dtypes):
                return x.reason
        return None

    def get_torch_fn(self, torch):
        if self.torch_fn is not None:
            return self.torch_fn(torch)
        return getattr(torch, self.name)


# ------------------------------------------------------------------------------------------- helpers


def _vec(f):
    return np.vectorize(f, otypes=[np.float64])


_erf = _vec(math.erf)
_erfc = _vec(math.erfc)
_lgamma = _vec(math.lgamma)


def _digamma(x):
    x = np.asarray(x, dtype=np.float64).copy()
    res = np.zeros_like(x)
    for _ in range(8):
        small = x < 8
        res = np.where(small, res - 1.0 / np.where(small, x, 1.0), res)
        x = np.where(small, x + 1, x)
    inv = 1.0 / x
    inv2 = inv * inv
    return res + np.log(x) - 0.5 * inv - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (
        1 / 240 - inv2 / 132))))


def _softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _float_out(f):
    """Reference for ops that turn integer inputs into floats (torch: the default dtype)."""
    def g(x, *a, **k):
        return f(np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind in "iub" else x, *a, **k)
    return g


def _axis(x, dim):
    if dim is None or np.ndim(x) == 0:
        return None
    if isinstance(dim, (list, tuple)):
        return tuple(dim)
    return dim


def _keep_int(x, r):
    """numpy widens small ints to int64 / uint64 in sums; torch gives int64."""
    r = np.asarray(r)
    if r.dtype.kind in "ub" or (r.dtype.kind == "i" and r.dtype != np.int64):
        return r.astype(np.int64)
    return r


def _np_sum(x, dim=None, keepdim=False):
    r = np.sum(x, axis=_axis(x, dim), keepdims=keepdim)
    return _keep_int(x, r) if np.asarray(x).dtype.kind in "iub" else r


# ------------------------------------------------------------------------------------------- generators


def _plus(gen, extra):
    """gen's samples followed by extra(make)'s."""
    return lambda make: list(gen(make)) + list(extra(make))



def unary_samples(low=-2.0, high=2.0, margin=0.0, extreme=(), extreme_atol=None, **kw):
    """extreme: particular values (large magnitudes, tiny arguments) checked for numerical stability."""
    def gen(make):
        yield S(make((3, 4), low, high, margin=margin), **kw)
        yield S(make((2, 3, 2), low, high, margin=margin), **kw)
        yield S(make((0, 3), low, high, margin=margin), kind="zero_size", **kw)
        yield S(make((), low, high, margin=margin), kind="scalar", **kw)
        if extreme and make.is_float:
            yield S(np.array(extreme, dtype=make.dtype), grad=False, desc="extreme values", atol=extreme_atol, **kw)
    return gen


def special_unary_samples(**kw):
    """Inputs containing nan and +/-inf (for isnan, isfinite, nan_to_num, ...)."""
    def gen(make):
        yield S(make((3, 4), nans=0.2, infs=0.2), grad=False, **kw)
        yield S(make((2, 3, 2)), **kw)
        yield S(make((0, 3)), kind="zero_size", **kw)
        yield S(make(()), kind="scalar", **kw)
        if make.is_float:
            yield S(np.array(np.nan, dtype=make.dtype), kind="scalar", grad=False, **kw)
    return gen


def binary_samples(a=(-2.0, 2.0, 0.0), b=(-2.0, 2.0, 0.0), scalar_other=True, tensor_scalar_first=True,
                   share=False, zeros=0.0, **kw):
    """Tensor-tensor, tensor-number, broadcast, zero-size and 0-d pairs. share=True copies some elements of
    the first operand into the second (so eq/isclose see equal values)."""
    def gen(make):
        def A(s):
            return make(s, a[0], a[1], margin=a[2], zeros=zeros)

        def B(s, like=None):
            r = make(s, b[0], b[1], margin=b[2], zeros=zeros)
            if share and like is not None and like.shape == r.shape and r.size:
                m = make.rng.random(r.shape) < 0.5
                r[m] = like[m]
            return r

        x = A((3, 4))
        yield S(x, B((3, 4), x), **kw)
        if scalar_other:
            yield S(A((3, 4)), make.scalar(b[0], b[1], b[2]), **kw)
        y = A((2, 3, 2))
        yield S(y, B((2, 3, 2), y), **kw)
        yield S(A((3, 1)), B((1, 4)), kind="broadcast", **kw)
        yield S(A((2, 1, 4)), B((3, 1)), kind="broadcast", **kw)
        yield S(A((4,)), B((3, 4)), kind="broadcast", **kw)
        if tensor_scalar_first:
            yield S(A(()), B((3, 4)), kind="broadcast", **kw)
        yield S(A((3, 4)), B(()), kind="broadcast", **kw)
        yield S(A((0, 3)), B((0, 3)), kind="zero_size", **kw)
        yield S(A((0, 3)), B((3,)), kind="zero_size", **kw)
        yield S(A((2, 0)), B((2, 1)), kind="zero_size", **kw)
        s = A(())
        yield S(s, B((), s), kind="scalar", **kw)
        if scalar_other:
            yield S(A(()), make.scalar(b[0], b[1], b[2]), kind="scalar", **kw)
    return gen


def reduction_samples(dims=(None, 1, -1, (0, 2), (-1, 0), (0, 1, 2)), keepdims=(False, True), empty_dim_ok=True,
                      extra=(), values="uniform", low=-2.0, high=2.0, zeros=0.0, margin=0.0, scalar_dim=True,
                      scalar_grad=True):
    """Reductions over (3, 4) and (2, 3, 4) inputs for each dim spec; dim=None reduces everything.
    extra: additional kwargs dicts (e.g. correction=) crossed with the first two dim specs."""
    def gen(make):
        def X(s):
            if values == "distinct":
                return make.distinct(s)
            return make(s, low, high, zeros=zeros, margin=margin)

        for i, d in enumerate(dims):
            kd = keepdims[i % len(keepdims)]
            shape = (3, 4) if d is None or (isinstance(d, int) and d in (0, 1, -1, -2)) else (2, 3, 4)
            if isinstance(d, tuple) and max(d) < 2 and min(d) >= -2:
                shape = (3, 4)
            kw = {} if d is None else {"dim": d}
            if keepdims != (False,) and d is not None:
                kw["keepdim"] = kd
            yield S(X(shape), **kw)
        for e in extra:
            yield S(X((3, 4)), **e)
            for d in dims[1:2]:
                yield S(X((2, 3, 4)), dim=d, **e)
        yield S(X((2, 3, 4)), dim=(0, 2) if isinstance(dims[-1], tuple) else 1, kind="basic")
        # zero-size: reduce over a non-empty dim of an empty tensor, and (when defined) over the empty dim
        yield S(X((0, 3)), dim=1, kind="zero_size")
        if empty_dim_ok:
            yield S(X((0, 3)), dim=0, kind="zero_size")
            yield S(X((2, 0)), kind="zero_size")
        yield S(X(()), kind="scalar", grad=scalar_grad)
        if scalar_dim:
            yield S(X(()), dim=0, kind="scalar", grad=scalar_grad)
    return gen


# ------------------------------------------------------------------------------------------- references


def _ref_div(a, b, rounding_mode=None):
    if rounding_mode is None:
        return np.true_divide(np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind in "iub" else a, b)
    if rounding_mode == "floor":
        return np.floor_divide(a, b)
    q = np.trunc(np.true_divide(a, b))
    rt = np.result_type(a, b)
    return q.astype(rt) if rt.kind in "iu" else q


def _ref_clamp(x, min=None, max=None):
    r = x
    if min is not None:
        r = np.maximum(r, min)
    if max is not None:
        r = np.minimum(r, max)
    return r


def _ref_isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _ref_nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    if np.asarray(x).dtype.kind in "iub":
        return np.asarray(x).copy()
    return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


def _ref_max_dim(fn, argfn):
    def ref(x, dim, keepdim=False):
        if np.ndim(x) == 0:
            return np.asarray(x).copy(), np.array(0, dtype=np.int64)
        return fn(x, axis=dim, keepdims=keepdim), argfn(x, axis=dim, keepdims=keepdim).astype(np.int64)
    return ref


def _ref_argmax(argfn):
    def ref(x, dim=None, keepdim=False):
        if dim is None or np.ndim(x) == 0:
            r = argfn(np.ravel(x)).astype(np.int64)
            return r.reshape((1,) * np.ndim(x)) if keepdim else np.asarray(r)
        return argfn(x, axis=dim, keepdims=keepdim).astype(np.int64)
    return ref


def _ref_var(fn):
    def ref(x, dim=None, unbiased=None, keepdim=False, correction=None):
        c = correction if correction is not None else (1 if unbiased in (None, True) else 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(x, axis=_axis(x, dim), ddof=c, keepdims=keepdim)
    return ref


def _ref_var_mean(fn):
    def ref(x, dim=None, unbiased=None, keepdim=False, correction=None):
        return _ref_var(fn)(x, dim, unbiased, keepdim, correction), np.mean(x, axis=_axis(x, dim), keepdims=keepdim)
    return ref


def _ref_norm(x, p="fro", dim=None, keepdim=False):
    ax = _axis(x, dim)
    a = np.abs(x)
    if p in ("fro", None):
        p = 2
    if p == np.inf:
        return np.max(a, axis=ax, keepdims=keepdim)
    if p == -np.inf:
        return np.min(a, axis=ax, keepdims=keepdim)
    if p == 0:
        return np.sum(a != 0, axis=ax, keepdims=keepdim).astype(np.asarray(x).dtype)
    return np.sum(a ** p, axis=ax, keepdims=keepdim) ** (1.0 / p)


def _ref_logsumexp(x, dim, keepdim=False):
    x = np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind in "iub" else x
    ax = _axis(x, dim)
    if np.size(x) == 0:
        return np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdim))
    m = np.max(x, axis=ax, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
    if not keepdim:
        r = np.squeeze(r, axis=ax) if ax is not None else r.reshape(())
    return r


def _ref_reduce_bool(fn):
    def ref(x, dim=None, keepdim=False):
        r = fn(x, axis=_axis(x, dim), keepdims=keepdim)
        return np.asarray(r).astype(np.uint8) if np.asarray(x).dtype == np.uint8 else r
    return ref


def _ref_scan(fn):
    def ref(x, dim):
        x = np.asarray(x)
        if x.ndim == 0:
            r = x.copy()
        else:
            r = fn(x, axis=dim)
        return _keep_int(x, r) if x.dtype.kind in "iub" else r
    return ref


def _stable_order(x, dim, descending):
    x = np.asarray(x)
    key = x.astype(np.float64) if x.dtype.kind in "iub" else x
    return np.argsort(-key if descending else key, axis=dim, kind="stable")


def _ref_sort(x, dim=-1, descending=False, stable=False):
    if np.ndim(x) == 0:
        return np.asarray(x).copy(), np.array(0, dtype=np.int64)
    idx = _stable_order(x, dim, descending)
    return np.take_along_axis(x, idx, axis=dim), idx.astype(np.int64)


def _ref_topk(x, k, dim=-1, largest=True, sorted=True):
    if np.ndim(x) == 0:
        return np.asarray(x).copy(), np.array(0, dtype=np.int64)
    idx = np.take(_stable_order(x, dim, largest), np.arange(k), axis=dim)
    return np.take_along_axis(x, idx, axis=dim), idx.astype(np.int64)


def _ref_median(x, dim=None, keepdim=False):
    if dim is None:
        f = np.sort(np.ravel(x))
        return np.asarray(f[(f.size - 1) // 2])
    if np.ndim(x) == 0:
        return np.asarray(x).copy(), np.array(0, dtype=np.int64)
    n = np.shape(x)[dim]
    idx = np.take(np.argsort(x, axis=dim, kind="stable"), [(n - 1) // 2], axis=dim)
    v = np.take_along_axis(x, idx, axis=dim)
    if not keepdim:
        v, idx = np.squeeze(v, axis=dim), np.squeeze(idx, axis=dim)
    return v, idx.astype(np.int64)


def _ref_kthvalue(x, k, dim=-1, keepdim=False):
    idx = np.take(np.argsort(x, axis=dim, kind="stable"), [k - 1], axis=dim)
    v = np.take_along_axis(x, idx, axis=dim)
    if not keepdim:
        v, idx = np.squeeze(v, axis=dim), np.squeeze(idx, axis=dim)
    return v, idx.astype(np.int64)


def _ref_gather(x, dim, index):
    if np.ndim(x) == 0:
        return np.asarray(x).copy()
    d = dim % max(np.ndim(x), 1)
    sl = tuple(slice(0, s) if i != d else slice(None) for i, s in enumerate(index.shape))
    return np.take_along_axis(np.asarray(x)[sl], index, axis=d)


def _scatter_positions(x, dim, index):
    d = dim % max(np.ndim(x), 1)
    for pos in np.ndindex(*index.shape):
        tgt = list(pos)
        tgt[d] = index[pos]
        yield pos, tuple(tgt)


def _ref_scatter(x, dim, index, src=None, value=None, reduce=None):
    out = np.array(x, copy=True)
    src = value if src is None else src
    for pos, tgt in _scatter_positions(x, dim, index):
        v = src[pos] if isinstance(src, np.ndarray) and src.ndim else src
        if reduce in ("add", "sum"):
            out[tgt] += v
        else:
            out[tgt] = v
    return out


def _ref_scatter_add(x, dim, index, src):
    return _ref_scatter(x, dim, index, src, reduce="add")


def _ref_index_add(x, dim, index, source, alpha=1):
    out = np.array(x, copy=True)
    o, s = np.moveaxis(out, dim, 0), np.moveaxis(source, dim, 0)
    for i, j in enumerate(index):
        o[j] += alpha * s[i]
    return out


def _ref_index_fill(x, dim, index, value):
    out = np.array(x, copy=True)
    np.moveaxis(out, dim, 0)[index] = value
    return out


def _ref_index_copy(x, dim, index, source):
    out = np.array(x, copy=True)
    np.moveaxis(out, dim, 0)[index] = np.moveaxis(source, dim, 0)
    return out


def _ref_index_put(x, indices, values, accumulate=False):
    out = np.array(x, copy=True)
    if accumulate:
        np.add.at(out, tuple(indices), values)
    else:
        out[tuple(indices)] = values
    return out


def _ref_masked_fill(x, mask, value):
    return np.where(mask, value, x).astype(np.asarray(x).dtype)


def _ref_masked_select(x, mask):
    xb, mb = np.broadcast_arrays(x, mask)
    return xb[mb]


def _ref_nonzero(x, as_tuple=False):
    r = np.argwhere(x).astype(np.int64)
    if as_tuple:
        if np.ndim(x) == 0:
            return (np.zeros(r.shape[0], dtype=np.int64),)
        return tuple(r[:, i] for i in range(np.ndim(x)))
    return r


def _ref_take_along_dim(x, indices, dim=None):
    if dim is None:
        return np.take(np.ravel(x), np.ravel(indices))
    return np.take_along_axis(x, indices, axis=dim)


def _ref_cat(tensors, dim=0):
    return np.concatenate(tensors, axis=dim)


def _ref_split(x, split_size_or_sections, dim=0):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        bounds = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        bounds = list(np.cumsum(split_size_or_sections)[:-1])
    return list(np.split(x, bounds, axis=dim))


def _ref_chunk(x, chunks, dim=0):
    n = x.shape[dim]
    size = -(-n // chunks)
    return _ref_split(x, max(size, 1), dim)


def _ref_tensor_split(x, indices_or_sections, dim=0):
    return list(np.array_split(x, indices_or_sections, axis=dim))


def _ref_roll(x, shifts, dims=None):
    return np.roll(x, shifts, axis=dims)


def _ref_repeat(x, sizes):
    x = np.asarray(x)
    x = x.reshape((1,) * (len(sizes) - x.ndim) + x.shape)
    return np.tile(x, sizes)


def _ref_tril(fn):
    def ref(x, diagonal=0):
        return fn(x, k=diagonal)
    return ref


def _ref_diag(x, diagonal=0):
    return np.diag(x, k=diagonal).copy()


def _ref_diag_embed(x, offset=0):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n), dtype=x.dtype)
    for i in range(x.shape[-1]):
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        out[..., r, c] = x[..., i]
    return out


def _ref_repeat_interleave(x, repeats, dim=None):
    if dim is None:
        x = np.ravel(x)
        dim = 0
    return np.repeat(x, repeats, axis=dim)


def _ref_addmm(fn):
    def ref(inp, a, b, beta=1, alpha=1):
        return beta * inp + alpha * fn(a, b)
    return ref


def _ref_tensordot(a, b, dims=2):
    if isinstance(dims, int):
        return np.tensordot(a, b, axes=dims)
    return np.tensordot(a, b, axes=tuple(tuple(d) for d in dims))


def _ref_inner(a, b):
    return np.inner(a, b)


def _ref_xlogy(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _ref_pow(a, b):
    return np.power(a, b)


def _ref_lerp(a, b, w):
    return a + w * (b - a)


def _ref_addcmul(x, t1, t2, value=1):
    return x + value * t1 * t2


def _ref_addcdiv(x, t1, t2, value=1):
    return x + value * t1 / t2


# ------------------------------------------------------------------------------------------- the database

op_db = []


def add(*infos):
    op_db.extend(infos)


# ---- unary pointwise

def _unary(name, ref, low=-2.0, high=2.0, margin=0.0, ints=True, float_out=True, extreme=(), extreme_atol=None,
           **kw):
    ref_f = _float_out(ref) if float_out else ref
    return OpInfo(name, getattr(ember, name), ref_f, unary_samples(low, high, margin, extreme, extreme_atol),
                  int_dtypes=INT_DTYPES if ints else (), **kw)


_BIG = (-100.0, -30.0, -20.5, -1e-8, 0.0, 1e-10, 20.5, 30.0, 100.0)
_TINY = (1e-8, -1e-8, 3e-12, -2e-20, 1e-30)


add(
    _unary("neg", np.negative, float_out=False),
    _unary("abs", np.abs, margin=0.1, float_out=False),
    _unary("sign", np.sign, margin=0.1, float_out=False),
    _unary("square", np.square, float_out=False),
    _unary("exp", np.exp),
    _unary("exp2", np.exp2),
    _unary("expm1", np.expm1, extreme=_TINY, extreme_atol=0.0),
    _unary("log", np.log, 0.1, 5.0),
    _unary("log2", np.log2, 0.1, 5.0),
    _unary("log10", np.log10, 0.1, 5.0),
    _unary("log1p", np.log1p, -0.9, 3.0, extreme=_TINY, extreme_atol=0.0),
    _unary("sqrt", np.sqrt, 0.1, 5.0),
    _unary("rsqrt", lambda x: 1.0 / np.sqrt(x), 0.1, 5.0),
    _unary("reciprocal", np.reciprocal, margin=0.2),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tan", np.tan, -1.2, 1.2),
    _unary("asin", np.arcsin, -0.9, 0.9),
    _unary("acos", np.arccos, -0.9, 0.9),
    _unary("atan", np.arctan),
    _unary("sinh", np.sinh, extreme=_TINY, extreme_atol=0.0),
    _unary("cosh", np.cosh),
    _unary("tanh", np.tanh, extreme=_BIG),
    _unary("asinh", np.arcsinh, extreme=_TINY, extreme_atol=0.0),
    _unary("acosh", np.arccosh, 1.1, 4.0),
    _unary("atanh", np.arctanh, -0.9, 0.9, extreme=_TINY, extreme_atol=0.0),
    _unary("sigmoid", _sigmoid, extreme=_BIG),
    _unary("erf", _erf, extreme=(-10.0, -3.0, 1e-12, 3.0, 10.0)),
    _unary("erfc", _erfc, extreme=(-10.0, -3.0, 1e-12, 3.0, 5.0)),
    _unary("lgamma", _lgamma, 0.2, 5.0,
           supports_gradgrad=False),  # ember has no polygamma: the derivative of digamma raises
    _unary("digamma", _digamma, 0.2, 5.0, supports_grad=False),
    _unary("relu", lambda x: np.maximum(x, 0), margin=0.1, float_out=False),
    _unary("gelu", _gelu, ints=False, torch_fn=lambda t: t.nn.functional.gelu, extreme=_BIG),
    _unary("gelu_tanh", _gelu_tanh, ints=False, method=False, extreme=_BIG,
           torch_fn=lambda t: lambda x: t.nn.functional.gelu(x, approximate="tanh")),
    _unary("silu", lambda x: x * _sigmoid(x), ints=False, torch_fn=lambda t: t.nn.functional.silu, extreme=_BIG),
    _unary("mish", lambda x: x * np.tanh(_softplus(x)), ints=False, torch_fn=lambda t: t.nn.functional.mish,
           extreme=_BIG),
    _unary("softplus", _softplus, -3.0, 3.0, ints=False, torch_fn=lambda t: t.nn.functional.softplus,
           extreme=_BIG),
    _unary("logsigmoid", lambda x: -_softplus(-x), ints=False, torch_fn=lambda t: t.nn.functional.logsigmoid,
           extreme=_BIG),
    _unary("floor", np.floor, -3.0, 3.0, float_out=False),
    _unary("ceil", np.ceil, -3.0, 3.0, float_out=False),
    _unary("round", np.round, -3.0, 3.0, float_out=False),
    _unary("trunc", np.trunc, -3.0, 3.0, float_out=False),
)

# integer floor/ceil/round/trunc keep the integer dtype (numpy may return floats)
for _o in op_db:
    if _o.name in ("floor", "ceil", "round", "trunc"):
        _o.ref = (lambda f: lambda x: np.asarray(x).copy() if np.asarray(x).dtype.kind in "iub" else f(x))(_o.ref)

add(
    OpInfo("logical_not", ember.logical_not, np.logical_not,
           unary_samples(), int_dtypes=INT_DTYPES, supports_bool=True, supports_grad=False),
    OpInfo("isnan", ember.isnan, np.isnan, special_unary_samples(), int_dtypes=INT_DTYPES, supports_bool=True,
           supports_grad=False),
    OpInfo("isinf", ember.isinf, np.isinf, special_unary_samples(), int_dtypes=INT_DTYPES, supports_bool=True,
           supports_grad=False),
    OpInfo("isfinite", ember.isfinite, np.isfinite, special_unary_samples(), int_dtypes=INT_DTYPES,
           supports_bool=True, supports_grad=False),
    OpInfo("isposinf", ember.isposinf, np.isposinf, special_unary_samples(), int_dtypes=INT_DTYPES,
           supports_grad=False),
    OpInfo("isneginf", ember.isneginf, np.isneginf, special_unary_samples(), int_dtypes=INT_DTYPES,
           supports_grad=False),
    OpInfo("bitwise_not", ember.bitwise_not, np.invert, unary_samples(-9, 9), dtypes=(), int_dtypes=INT_DTYPES,
           supports_bool=True, supports_grad=False),
)


def _nan_to_num_samples(make):
    for s in special_unary_samples()(make):
        yield s
    yield S(make((3, 4), nans=0.2, infs=0.3), nan=1.5, posinf=9.0, neginf=-7.0, grad=False)
    yield S(make((3, 4), nans=0.2, infs=0.3), posinf=3.0, grad=False)


add(OpInfo("nan_to_num", ember.nan_to_num, _ref_nan_to_num, _nan_to_num_samples, int_dtypes=INT_DTYPES,
           ref_upcast=False))  # the default posinf/neginf depend on the input dtype


def _clamp_samples(make):
    yield S(make((3, 4)), -0.5, 0.7)
    yield S(make((3, 4)), min=-0.3)
    yield S(make((2, 3, 2)), max=0.4)
    if make.is_float:
        yield S(make((3, 4)), make((3, 4), -1.0, 0.0), make((3, 4), 0.01, 1.0))
        yield S(make((3, 4)), make((4,), -1.0, 0.0), make((3, 1), 0.01, 1.0), kind="broadcast")
        yield S(make((3, 1)), make((1, 4), -1.0, 0.0), None, kind="broadcast")
    else:
        yield S(make((3, 4)), 0 if make.dtype.kind == "u" else -1, 2)
    yield S(make((0, 3)), -0.5, 0.5, kind="zero_size")
    yield S(make(()), -0.5, 0.5, kind="scalar")


def _pow_samples(make):
    pos = (0.5, 2.0) if make.is_float else (0, 4)
    yield S(make((3, 4), *pos), make((3, 4), -2.0, 2.0) if make.is_float else make((3, 4), 0, 3))
    yield S(make((3, 4)), 2)
    yield S(make((2, 3, 2)), 3)
    if make.is_float:
        yield S(make((3, 4), *pos), 1.7)
        yield S(make((3, 4), *pos), -0.5)
        yield S(2.5, make((3, 4), -2.0, 2.0), desc="number base")
    yield S(make((3, 1), *pos), make((1, 4), 0, 3), kind="broadcast")
    yield S(make((), *pos), make((3, 4), 0, 3), kind="broadcast")
    yield S(make((0, 3), *pos), make((3,), 0, 3), kind="zero_size")
    yield S(make((), *pos), make((), 0, 3), kind="scalar")
    yield S(make((), *pos), 2, kind="scalar")


add(
    OpInfo("clamp", ember.clamp, _ref_clamp, _clamp_samples, int_dtypes=INT_DTYPES),
    OpInfo("pow", ember.pow, _ref_pow, _pow_samples, int_dtypes=INT_DTYPES),
)

# ---- binary pointwise

_POS = (0.5, 2.0, 0.0)
_NZ = (-2.0, 2.0, 0.25)


def _binary(name, ref, a=(-2.0, 2.0, 0.0), b=(-2.0, 2.0, 0.0), ints=True, bool_=False, share=False, zeros=0.0,
            scalar_other=True, float_out=False, **kw):
    ref_f = ref
    if float_out:
        def ref_f(x, y, _r=ref):
            cast = (lambda v: np.asarray(v, dtype=np.float64) if np.asarray(v).dtype.kind in "iub" else v)
            return _r(cast(x), cast(y))
    return OpInfo(name, getattr(ember, name), ref_f,
                  binary_samples(a, b, scalar_other=scalar_other, share=share, zeros=zeros),
                  int_dtypes=INT_DTYPES if ints else (), supports_bool=bool_, **kw)


def _alpha_samples(base):
    def gen(make):
        for s in base(make):
            yield s
        if not make.is_bool:
            yield S(make((3, 4)), make((3, 4)), alpha=2 if not make.is_float else -1.5)
            yield S(make((3, 1)), make((4,)), alpha=3, kind="broadcast")
    return gen


add(
    OpInfo("add", ember.add, lambda a, b, alpha=1: np.add(a, alpha * b if alpha != 1 else b),
           _alpha_samples(binary_samples()), int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("sub", ember.sub, lambda a, b, alpha=1: np.subtract(a, alpha * b if alpha != 1 else b),
           _alpha_samples(binary_samples()), int_dtypes=INT_DTYPES),
    _binary("mul", np.multiply, bool_=True),
    _binary("true_divide", np.true_divide, b=_NZ, float_out=True, method=False),
    _binary("floor_divide", np.floor_divide, b=_NZ),
    _binary("remainder", np.remainder, b=_NZ),
    _binary("fmod", np.fmod, b=_NZ),
    _binary("maximum", np.maximum, bool_=True, scalar_other=False),
    _binary("minimum", np.minimum, bool_=True, scalar_other=False),
    _binary("fmax", np.fmax, scalar_other=False),
    _binary("fmin", np.fmin, scalar_other=False),
    _binary("atan2", np.arctan2, a=_NZ, b=_NZ, float_out=True, scalar_other=False),
    _binary("hypot", np.hypot, a=_NZ, b=_NZ, ints=False, scalar_other=False),
    _binary("copysign", np.copysign, a=_NZ, b=_NZ, float_out=True),
    OpInfo("logaddexp", ember.logaddexp, np.logaddexp, _plus(binary_samples(scalar_other=False), lambda make: [
        S(np.array([1000.0, -1000.0, 50.0, -50.0, 80.0], dtype=make.dtype),
          np.array([1000.0, -1000.0, -50.0, 50.0, 79.0], dtype=make.dtype), desc="large magnitudes")])),
    _binary("xlogy", _ref_xlogy, b=(0.1, 3.0, 0.0), float_out=False),
    _binary("float_power", lambda a, b: np.power(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)),
            a=_POS, b=(-2.0, 2.0, 0.0), ints=False, float_out_dtype="float64"),
)


def _div_samples(make):
    for s in binary_samples(b=_NZ)(make):
        yield s
    for mode in ("floor", "trunc"):
        yield S(make((3, 4), -5, 5), make((3, 4), -2.0, 2.0, margin=0.25), rounding_mode=mode)
        yield S(make((3, 1), -5, 5), make((4,), -2.0, 2.0, margin=0.25), rounding_mode=mode, kind="broadcast")


add(OpInfo("div", ember.div, _ref_div, _div_samples, int_dtypes=INT_DTYPES))


def _fmax_nan_samples(base):
    def gen(make):
        for s in base(make):
            yield s
        if make.is_float:
            yield S(make((3, 4), nans=0.25), make((3, 4), nans=0.25), grad=False, desc="nan")
    return gen


for _o in op_db:
    if _o.name in ("maximum", "minimum", "fmax", "fmin"):
        _o.sample_inputs = _fmax_nan_samples(_o.sample_inputs)

# comparisons and logical ops: bool results, not differentiable
for _name, _ref in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                    ("gt", np.greater), ("ge", np.greater_equal)]:
    add(_binary(_name, _ref, bool_=True, share=True, supports_grad=False))
for _name, _ref in [("logical_and", np.logical_and), ("logical_or", np.logical_or),
                    ("logical_xor", np.logical_xor)]:
    add(_binary(_name, _ref, bool_=True, zeros=0.3, supports_grad=False, scalar_other=False))
for _name, _ref in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
                    ("bitwise_xor", np.bitwise_xor)]:
    add(OpInfo(_name, getattr(ember, _name), _ref, binary_samples((-9, 9, 0), (-9, 9, 0)), dtypes=(),
               int_dtypes=INT_DTYPES, supports_bool=True, supports_grad=False))


# ---- ternary pointwise

def _where_samples(make):
    yield S(make.mask((3, 4)), make((3, 4)), make((3, 4)))
    yield S(make.mask((2, 3, 2)), make((2, 3, 2)), make((2, 3, 2)))
    yield S(make.mask((3, 4)), make((3, 4)), make.scalar())
    yield S(make.mask((3, 1)), make((1, 4)), make((3, 4)), kind="broadcast")
    yield S(make.mask((4,)), make((3, 1)), make(()), kind="broadcast")
    yield S(make.mask((0, 3)), make((0, 3)), make((3,)), kind="zero_size")
    yield S(np.array(True), make(()), make(()), kind="scalar")
    yield S(np.array(False), make(()), make.scalar(), kind="scalar")


def _lerp_samples(make):
    yield S(make((3, 4)), make((3, 4)), 0.3)
    yield S(make((3, 4)), make((3, 4)), make((3, 4), 0.0, 1.0))
    yield S(make((2, 3, 2)), make((2, 3, 2)), -0.7)
    yield S(make((3, 1)), make((1, 4)), make((4,), 0.0, 1.0), kind="broadcast")
    yield S(make((3, 4)), make(()), 0.25, kind="broadcast")
    yield S(make((0, 3)), make((0, 3)), 0.5, kind="zero_size")
    yield S(make(()), make(()), make((), 0.0, 1.0), kind="scalar")


def _addc_samples(nz):
    def gen(make):
        v = 2 if not make.is_float else 0.5
        yield S(make((3, 4)), make((3, 4)), make((3, 4), margin=nz))
        yield S(make((3, 4)), make((3, 4)), make((3, 4), margin=nz), value=v)
        yield S(make((2, 3, 2)), make((2, 3, 2)), make((2, 3, 2), margin=nz), value=-v)
        yield S(make((3, 1)), make((1, 4)), make((4,), margin=nz), kind="broadcast")
        yield S(make(()), make((3, 4)), make((3, 1), margin=nz), value=v, kind="broadcast")
        yield S(make((0, 3)), make((0, 3)), make((3,), margin=nz), kind="zero_size")
        yield S(make(()), make(()), make((), margin=nz), kind="scalar")
    return gen


add(
    OpInfo("where", ember.where, np.where, _where_samples, int_dtypes=INT_DTYPES, supports_bool=True,
           method=False),  # Tensor.where(condition, other) takes self as input
    OpInfo("lerp", ember.lerp, _ref_lerp, _lerp_samples),
    OpInfo("addcmul", ember.addcmul, _ref_addcmul, _addc_samples(0.0), int_dtypes=SIGNED_INTS),
    OpInfo("addcdiv", ember.addcdiv, _ref_addcdiv, _addc_samples(0.25)),
)


# ---- comparisons returning tensors / bools

def _isclose_samples(make):
    def near(a):
        b = a.copy()
        if a.size:
            b.flat[::2] = (a.flat[::2] * (1 + 1e-6)).astype(a.dtype) if make.is_float else a.flat[::2]
            b.flat[1::3] = (a.flat[1::3] + 1).astype(a.dtype)
        return b
    a = make((3, 4))
    yield S(a, near(a))
    a = make((2, 3, 2))
    yield S(a, near(a), rtol=1e-3, atol=1e-2)
    if make.is_float:
        a = make((3, 4), nans=0.3)
        b = a.copy()
        b.flat[-1] = np.nan
        yield S(a, b, equal_nan=True)
        yield S(a, b, equal_nan=False)
    a = make((3, 1))
    yield S(a, near(make((1, 4))), kind="broadcast")
    yield S(make((0, 3)), make((0, 3)), kind="zero_size")
    a = make(())
    yield S(a, a.copy(), kind="scalar")


def _allclose_samples(make):
    for s in _isclose_samples(make):
        if s.kind != "broadcast":
            yield s
    a = make((3, 4))
    yield S(a, a.copy())


def _equal_samples(make):
    a = make((3, 4))
    yield S(a, a.copy())
    b = a.copy()
    b.flat[5] = b.flat[5] + 1
    yield S(a, b)
    yield S(a, a[:2].copy())
    yield S(make((0, 3)), make((0, 3)), kind="zero_size")
    a = make(())
    yield S(a, a.copy(), kind="scalar")


add(
    OpInfo("isclose", ember.isclose, _ref_isclose, _isclose_samples, int_dtypes=SIGNED_INTS, supports_grad=False),
    OpInfo("allclose", ember.allclose, lambda *a, **k: bool(np.all(_ref_isclose(*a, **k))), _allclose_samples,
           int_dtypes=SIGNED_INTS, supports_grad=False),
    OpInfo("equal", ember.equal, lambda a, b: a.shape == b.shape and bool(np.all(a == b)), _equal_samples,
           int_dtypes=INT_DTYPES, supports_bool=True, supports_grad=False),
)


# ---- reductions


def _var_extra(make):
    # a large mean and a small spread: E[x^2] - E[x]^2 in float32 would lose every digit
    yield S(make((3, 4), 999.0, 1001.0), dim=1, desc="large mean")
    yield S(make((2, 3, 4), 999.0, 1001.0), desc="large mean")
    # correction >= the number of reduced elements: division by zero gives inf (as in PyTorch)
    yield S(make((3, 4)), dim=0, correction=3, grad=False, expand=False, desc="correction == n")


def _with_dim(gen):
    return lambda make: [s for s in gen(make) if "dim" in s.kwargs]


add(
    OpInfo("sum", ember.sum, _np_sum, reduction_samples(), int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("mean", ember.mean, lambda x, dim=None, keepdim=False: np.mean(x, axis=_axis(x, dim), keepdims=keepdim),
           reduction_samples()),
    OpInfo("nansum", ember.nansum, lambda x, dim=None, keepdim=False: np.nansum(x, axis=_axis(x, dim),
                                                                                keepdims=keepdim),
           lambda make: list(reduction_samples()(make)) + [S(make((3, 4), nans=0.3), grad=False),
                                                           S(make((2, 3, 4), nans=0.3), dim=(0, 2), grad=False)]),
    OpInfo("prod", ember.prod, lambda x, dim=None, keepdim=False: _keep_int(x, np.prod(
        x, axis=_axis(x, dim), keepdims=keepdim)) if np.asarray(x).dtype.kind in "iub" else np.prod(
        x, axis=_axis(x, dim), keepdims=keepdim),
           reduction_samples(dims=(None, 1, -1, 0), low=-1.5, high=1.5), int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("amax", ember.amax, lambda x, dim=(), keepdim=False: np.max(x, axis=_axis(x, dim if dim != () else None),
                                                                       keepdims=keepdim),
           reduction_samples(dims=(1, -1, (0, 2), (0, 1)), empty_dim_ok=False),
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("amin", ember.amin, lambda x, dim=(), keepdim=False: np.min(x, axis=_axis(x, dim if dim != () else None),
                                                                       keepdims=keepdim),
           reduction_samples(dims=(1, -1, (0, 2), (0, 1)), empty_dim_ok=False),
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("max_all", ember.max, lambda x: np.max(x), lambda make: [
        S(make((3, 4))), S(make((2, 3, 2))), S(make(()), kind="scalar")],
        int_dtypes=INT_DTYPES, supports_bool=True, method="max", torch_fn=lambda t: t.max),
    OpInfo("min_all", ember.min, lambda x: np.min(x), lambda make: [
        S(make((3, 4))), S(make((2, 3, 2))), S(make(()), kind="scalar")],
        int_dtypes=INT_DTYPES, supports_bool=True, method="min", torch_fn=lambda t: t.min),
    OpInfo("max_dim", ember.max, _ref_max_dim(np.max, np.argmax), _with_dim(reduction_samples(
        dims=(1, -1, 0), empty_dim_ok=False)), int_dtypes=INT_DTYPES, method="max",
           torch_fn=lambda t: t.max),
    OpInfo("min_dim", ember.min, _ref_max_dim(np.min, np.argmin), _with_dim(reduction_samples(
        dims=(1, -1, 0), empty_dim_ok=False)), int_dtypes=INT_DTYPES, method="min",
           torch_fn=lambda t: t.min),
    OpInfo("max_binary", ember.max, np.maximum, binary_samples(scalar_other=False), int_dtypes=INT_DTYPES,
           method="max", torch_fn=lambda t: t.max),
    OpInfo("aminmax", ember.aminmax, lambda x, dim=None, keepdim=False: (
        np.min(x, axis=_axis(x, dim), keepdims=keepdim), np.max(x, axis=_axis(x, dim), keepdims=keepdim)),
           lambda make: [S(make((3, 4))), S(make((3, 4)), dim=1), S(make((2, 3, 4)), dim=-1, keepdim=True),
                         S(make((0, 3)), dim=1, kind="zero_size"), S(make(()), kind="scalar")],
           int_dtypes=INT_DTYPES, supports_grad=False),
    OpInfo("argmax", ember.argmax, _ref_argmax(np.argmax),
           reduction_samples(dims=(None, 1, -1, 0), empty_dim_ok=False), int_dtypes=INT_DTYPES,
           supports_grad=False),
    OpInfo("argmin", ember.argmin, _ref_argmax(np.argmin),
           reduction_samples(dims=(None, 1, -1, 0), empty_dim_ok=False), int_dtypes=INT_DTYPES,
           supports_grad=False),
    # the variance of a single element is nan (no degrees of freedom): no gradcheck on 0-d inputs
    OpInfo("var", ember.var, _ref_var(np.var), _plus(reduction_samples(
        extra=({"correction": 0}, {"correction": 2}, {"unbiased": False}), scalar_grad=False), _var_extra)),
    OpInfo("std", ember.std, _ref_var(np.std), _plus(reduction_samples(
        extra=({"correction": 0}, {"correction": 2}, {"unbiased": False}), scalar_grad=False), _var_extra)),
    OpInfo("var_mean", ember.var_mean, _ref_var_mean(np.var),
           reduction_samples(extra=({"correction": 0},), scalar_grad=False), method=False),
    OpInfo("std_mean", ember.std_mean, _ref_var_mean(np.std),
           reduction_samples(extra=({"correction": 0},), scalar_grad=False), method=False),
    # torch.norm sends p="fro" over 3 dims to matrix_norm (an error); compare with torch's vector norm
    OpInfo("norm", ember.norm, _ref_norm,
           reduction_samples(margin=0.05, extra=({"p": 1}, {"p": 3}, {"p": float("inf")}, {"p": -float("inf")},
                                                 {"p": 0}, {"p": 2.5})),
           torch_fn=lambda t: lambda x, p=2, dim=None, keepdim=False: t.linalg.vector_norm(x, p, dim, keepdim)),
    OpInfo("logsumexp", ember.logsumexp, _ref_logsumexp, _plus(
        _with_dim(reduction_samples(dims=(1, -1, (0, 2), 0, (0, 1)))),
        lambda make: [S(make((3, 4), -1000.0, 1000.0) if make.is_float else make((3, 4)), dim=1,
                        desc="large magnitudes")]),
           int_dtypes=INT_DTYPES),
    OpInfo("all", ember.all, _ref_reduce_bool(np.all), reduction_samples(zeros=0.15), int_dtypes=INT_DTYPES,
           supports_bool=True, supports_grad=False),
    OpInfo("any", ember.any, _ref_reduce_bool(np.any), reduction_samples(zeros=0.7), int_dtypes=INT_DTYPES,
           supports_bool=True, supports_grad=False),
    OpInfo("count_nonzero", ember.count_nonzero, lambda x, dim=None: np.asarray(
        np.count_nonzero(x, axis=_axis(x, dim))).astype(np.int64),
           reduction_samples(keepdims=(False,), zeros=0.4, scalar_dim=False), int_dtypes=INT_DTYPES,
           supports_bool=True, supports_grad=False),
    OpInfo("cumsum", ember.cumsum, _ref_scan(np.cumsum), lambda make: [
        S(make((3, 4)), 0), S(make((3, 4)), 1), S(make((2, 3, 4)), -1), S(make((2, 3, 4)), dim=1),
        S(make((0, 3)), 0, kind="zero_size"), S(make((0, 3)), 1, kind="zero_size"), S(make(()), 0, kind="scalar")],
        int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("cumprod", ember.cumprod, _ref_scan(np.cumprod), lambda make: [
        S(make((3, 4)), 0), S(make((3, 4)), 1), S(make((2, 3, 4), -1.5, 1.5), -1), S(make((0, 3)), 1, kind="zero_size"),
        S(make(()), 0, kind="scalar"), S(make((3, 4), zeros=0.2), 1, desc="with zeros")],
        int_dtypes=INT_DTYPES),
)


def _nanmean_ref(x, dim=None, keepdim=False):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(x, axis=_axis(x, dim), keepdims=keepdim)


add(OpInfo("nanmean", ember.nanmean, _nanmean_ref,
           lambda make: list(reduction_samples()(make)) + [S(make((3, 4), nans=0.3), grad=False),
                                                           S(make((2, 3, 4), nans=0.3), dim=(0, 2), grad=False)]))


# ---- ordering

def _sort_samples(make):
    D = make.distinct
    yield S(D((3, 4)))
    yield S(D((3, 4)), 0)
    yield S(D((2, 3, 4)), dim=1, descending=True)
    yield S(D((2, 3, 4)), -1, True)
    ties = make((3, 6), -2, 2) if not make.is_float else np.round(make((3, 6), -2, 2)).astype(make.dtype)
    yield S(ties, dim=1, stable=True, grad=False)
    yield S(ties, dim=1, descending=True, stable=True, grad=False)
    yield S(D((0, 3)), 1, kind="zero_size")
    yield S(D(()), kind="scalar")


def _topk_samples(make):
    D = make.distinct
    yield S(D((3, 5)), 2)
    yield S(D((3, 5)), 3, 0)
    yield S(D((2, 3, 4)), 2, dim=1, largest=False)
    yield S(D((2, 3, 4)), 4, -1, True, True)
    yield S(D((0, 3)), 2, kind="zero_size")
    yield S(D((3, 4)), 0, kind="zero_size")
    yield S(D(()), 1, kind="scalar")


def _median_samples(make):
    D = make.distinct
    yield S(D((3, 4)))
    yield S(D((3, 5)), 1)
    yield S(D((2, 3, 4)), 0, True)
    yield S(D((2, 3, 4)), dim=-1)
    yield S(D((0, 3)), 1, kind="zero_size")
    yield S(D(()), kind="scalar")


def _kth_samples(make):
    D = make.distinct
    yield S(D((3, 4)), 2)
    yield S(D((3, 5)), 1, 0)
    yield S(D((2, 3, 4)), 3, dim=-1, keepdim=True)
    yield S(D((0, 3)), 2, kind="zero_size")


def _ref_median_nan(x, dim=None, keepdim=False):
    """PyTorch: median returns NaN (and the index of the first NaN) where the input holds a NaN."""
    if dim is None:
        return np.asarray(np.nan) if np.isnan(x).any() else _ref_median(x)
    v, i = _ref_median(np.where(np.isnan(x), np.inf, x), dim, keepdim)
    has = np.isnan(x).any(axis=dim, keepdims=keepdim)
    first = np.argmax(np.isnan(x), axis=dim, keepdims=keepdim)
    return np.where(has, np.nan, v), np.where(has, first, i).astype(np.int64)


def _median_nan_samples(make):
    def with_nan(shape):
        a = make.distinct(shape)
        rows = a.reshape(-1, shape[-1])
        for r in rows[::2]:
            r[make.rng.integers(shape[-1])] = np.nan
        return a
    yield S(with_nan((3, 5)))
    yield S(with_nan((3, 5)), 1)
    yield S(with_nan((2, 3, 4)), -1, True)


add(
    OpInfo("median_nan", ember.median, _ref_median_nan, _median_nan_samples, supports_grad=False,
           low_precision=False, method="median", expand_ok=False, torch_fn=lambda t: t.median),
    OpInfo("sort", ember.sort, _ref_sort, _sort_samples, int_dtypes=INT_DTYPES, expand_ok=False),
    OpInfo("argsort", ember.argsort, lambda *a, **k: _ref_sort(*a, **k)[1],
           lambda make: [s for s in _sort_samples(make) if "stable" not in s.kwargs], int_dtypes=INT_DTYPES,
           supports_grad=False, expand_ok=False),
    OpInfo("msort", ember.msort, lambda x: np.sort(x, axis=0),
           lambda make: [S(make.distinct((3, 4))), S(make.distinct((2, 3, 2))), S(make.distinct((0, 3)),
                                                                                   kind="zero_size")],
           int_dtypes=INT_DTYPES, expand_ok=False, method=False),
    OpInfo("topk", ember.topk, _ref_topk, _topk_samples, int_dtypes=INT_DTYPES, expand_ok=False),
    OpInfo("median", ember.median, _ref_median, _median_samples, int_dtypes=INT_DTYPES, expand_ok=False),
    OpInfo("kthvalue", ember.kthvalue, _ref_kthvalue, _kth_samples, int_dtypes=INT_DTYPES, expand_ok=False),
)


# ---- joins and splits

def _cat_samples(make):
    yield S([make((2, 3)), make((4, 3)), make((1, 3))])
    yield S([make((2, 3)), make((2, 1)), make((2, 4))], 1)
    yield S([make((2, 3, 2)), make((2, 1, 2))], dim=-2)
    yield S((make((3,)), make((2,))))
    yield S([make((0, 3)), make((2, 3))], kind="zero_size")
    yield S([make((2, 0)), make((2, 0))], 1, kind="zero_size")


def _stack_samples(make):
    yield S([make((2, 3)), make((2, 3)), make((2, 3))])
    yield S([make((2, 3)), make((2, 3))], 1)
    yield S([make((2, 3)), make((2, 3))], dim=-1)
    yield S([make((0, 3)), make((0, 3))], 1, kind="zero_size")
    yield S([make(()), make(())], kind="scalar")


def _split_samples(make):
    yield S(make((5, 3)), 2)
    yield S(make((4, 6)), [1, 2, 3], 1)
    yield S(make((2, 5, 2)), 3, dim=1)
    yield S(make((0, 3)), 2, kind="zero_size")


def _chunk_samples(make):
    yield S(make((5, 3)), 2)
    yield S(make((4, 6)), 4, 1)
    yield S(make((2, 5, 2)), 3, dim=1)
    yield S(make((6, 2)), 3)


def _tensor_split_samples(make):
    yield S(make((5, 3)), 3)
    yield S(make((4, 6)), [1, 4], 1)
    yield S(make((7, 2)), 2)


add(
    OpInfo("cat", ember.cat, _ref_cat, _cat_samples, int_dtypes=INT_DTYPES, supports_bool=True, method=False),
    OpInfo("stack", ember.stack, lambda t, dim=0: np.stack(t, axis=dim), _stack_samples, int_dtypes=INT_DTYPES,
           supports_bool=True, method=False),
    OpInfo("hstack", ember.hstack, np.hstack, lambda make: [S([make((2, 3)), make((2, 2))]),
                                                            S([make((3,)), make((2,))])], method=False),
    OpInfo("vstack", ember.vstack, np.vstack, lambda make: [S([make((2, 3)), make((1, 3))]),
                                                            S([make((3,)), make((3,))])], method=False),
    OpInfo("dstack", ember.dstack, np.dstack, lambda make: [S([make((2, 3)), make((2, 3))]),
                                                            S([make((2, 3, 1)), make((2, 3, 2))])], method=False),
    OpInfo("split", ember.split, _ref_split, _split_samples, int_dtypes=INT_DTYPES),
    OpInfo("chunk", ember.chunk, _ref_chunk, _chunk_samples, int_dtypes=INT_DTYPES),
    OpInfo("tensor_split", ember.tensor_split, _ref_tensor_split, _tensor_split_samples),
    OpInfo("unbind", ember.unbind, lambda x, dim=0: list(np.moveaxis(x, dim, 0)),
           lambda make: [S(make((3, 4))), S(make((2, 3, 2)), 1), S(make((2, 3)), dim=-1)], int_dtypes=INT_DTYPES),
)


# ---- reordering / copies / triangles

add(
    OpInfo("flip", ember.flip, lambda x, dims: np.flip(x, axis=tuple(dims) if not isinstance(dims, int) else dims),
           lambda make: [S(make((3, 4)), (0,)), S(make((3, 4)), [0, 1]), S(make((2, 3, 2)), (-1, 0)),
                         S(make((2, 3, 2)), [1]), S(make((0, 3)), (1,), kind="zero_size"),
                         S(make(()), (), kind="scalar")],
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("fliplr", ember.fliplr, np.fliplr, lambda make: [S(make((3, 4))), S(make((2, 3, 2)))]),
    OpInfo("flipud", ember.flipud, np.flipud, lambda make: [S(make((3, 4))), S(make((2, 3, 2)))]),
    OpInfo("roll", ember.roll, _ref_roll,
           lambda make: [S(make((3, 4)), 1), S(make((3, 4)), 2, 1), S(make((3, 4)), -1, 0),
                         S(make((2, 3, 2)), (1, 2), (0, 1)), S(make((3, 4)), 5, dims=1),
                         S(make((0, 3)), 1, 1, kind="zero_size")],
           int_dtypes=INT_DTYPES),
    OpInfo("tile", ember.tile, lambda x, dims: np.tile(x, dims),
           lambda make: [S(make((2, 3)), (2, 1)), S(make((2, 3)), (2, 1, 2)), S(make((2, 3)), (2,)),
                         S(make((0, 3)), (2, 2), kind="zero_size"), S(make(()), (3,), kind="scalar")],
           int_dtypes=INT_DTYPES),
    OpInfo("repeat", lambda x, sizes: x.repeat(sizes), _ref_repeat,
           lambda make: [S(make((2, 3)), (2, 1)), S(make((2, 3)), (1, 2, 2)), S(make((3,)), (2, 2)),
                         S(make((0, 3)), (2, 2), kind="zero_size"), S(make(()), (2, 3), kind="scalar")],
           int_dtypes=INT_DTYPES, method=False, torch_fn=lambda t: lambda x, sizes: x.repeat(sizes)),
    OpInfo("tril", ember.tril, _ref_tril(np.tril),
           lambda make: [S(make((4, 5))), S(make((4, 5)), 1), S(make((4, 5)), diagonal=-2), S(make((2, 3, 4)), 0),
                         S(make((0, 3)), kind="zero_size")],
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("triu", ember.triu, _ref_tril(np.triu),
           lambda make: [S(make((4, 5))), S(make((4, 5)), 1), S(make((4, 5)), diagonal=-2), S(make((2, 3, 4)), 0),
                         S(make((0, 3)), kind="zero_size")],
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("diag", ember.diag, _ref_diag,
           lambda make: [S(make((4,))), S(make((3,)), 1), S(make((3,)), -2)], int_dtypes=INT_DTYPES),
    OpInfo("diag_2d", ember.diag, _ref_diag,
           lambda make: [S(make((4, 5))), S(make((4, 5)), 2), S(make((4, 5)), -1)], int_dtypes=INT_DTYPES,
           method="diag", torch_fn=lambda t: t.diag),
    OpInfo("diagonal", ember.diagonal, lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2),
           lambda make: [S(make((4, 5))), S(make((4, 5)), 1), S(make((2, 3, 4)), -1, 1, 2),
                         S(make((2, 3, 4)), offset=0, dim1=0, dim2=2)],
           int_dtypes=INT_DTYPES),
    OpInfo("diag_embed", ember.diag_embed, _ref_diag_embed,
           lambda make: [S(make((3,))), S(make((2, 3))), S(make((2, 3)), 1), S(make((2, 3)), -1)]),
    OpInfo("trace", ember.trace, np.trace, lambda make: [S(make((4, 4))), S(make((3, 5)))], int_dtypes=SIGNED_INTS),
    OpInfo("rot90", ember.rot90, lambda x, k=1, dims=(0, 1): np.rot90(x, k, axes=dims),
           lambda make: [S(make((3, 4))), S(make((3, 4)), 2), S(make((3, 4)), 3), S(make((2, 3, 4)), 1, (1, 2)),
                         S(make((3, 4)), -1)]),
    OpInfo("repeat_interleave", ember.repeat_interleave, _ref_repeat_interleave,
           lambda make: [S(make((2, 3)), 2), S(make((2, 3)), 2, 1), S(make((2, 3)), np.array([1, 0, 3]), dim=1)],
           int_dtypes=INT_DTYPES),
)


# ---- views

add(
    OpInfo("transpose", ember.transpose, lambda x, a, b: np.swapaxes(x, a, b),
           lambda make: [S(make((3, 4)), 0, 1), S(make((2, 3, 4)), -1, 0), S(make((0, 3)), 0, 1, kind="zero_size")],
           int_dtypes=INT_DTYPES),
    OpInfo("permute", ember.permute, lambda x, dims: np.transpose(x, dims),
           lambda make: [S(make((2, 3, 4)), (2, 0, 1)), S(make((3, 4)), (1, 0)), S(make((2, 3, 4)), (-1, 1, 0))],
           int_dtypes=INT_DTYPES),
    OpInfo("t", ember.t, lambda x: x.T, lambda make: [S(make((3, 4))), S(make((4,))), S(make(()), kind="scalar")]),
    OpInfo("reshape", ember.reshape, lambda x, shape: np.reshape(x, shape),
           lambda make: [S(make((3, 4)), (4, 3)), S(make((2, 3, 4)), (6, -1)), S(make((3, 4)), (-1,)),
                         S(make((0, 3)), (3, 0), kind="zero_size"), S(make(()), (1, 1), kind="scalar")],
           int_dtypes=INT_DTYPES),
    OpInfo("flatten", ember.flatten, lambda x, start_dim=0, end_dim=-1: np.reshape(
        x, x.shape[:start_dim % max(x.ndim, 1)] + (-1,) + x.shape[end_dim % max(x.ndim, 1) + 1:]) if x.ndim else
        x.reshape(1),
           lambda make: [S(make((2, 3, 4))), S(make((2, 3, 4)), 1), S(make((2, 3, 4)), 0, 1),
                         S(make(()), kind="scalar")]),
    OpInfo("squeeze", ember.squeeze, lambda x, dim=None: np.squeeze(x, axis=dim),
           lambda make: [S(make((3, 1, 4, 1))), S(make((3, 1, 4)), 1), S(make((1, 3, 1)), (0, 2))]),
    OpInfo("unsqueeze", ember.unsqueeze, lambda x, dim: np.expand_dims(x, dim),
           lambda make: [S(make((3, 4)), 0), S(make((3, 4)), -1), S(make((3, 4)), 1), S(make(()), 0, kind="scalar")]),
    OpInfo("movedim", ember.movedim, lambda x, s, d: np.moveaxis(x, s, d),
           lambda make: [S(make((2, 3, 4)), 0, 2), S(make((2, 3, 4)), (0, 1), (2, 0))]),
    OpInfo("narrow", ember.narrow, lambda x, dim, start, length: np.take(x, np.arange(start, start + length), dim),
           lambda make: [S(make((4, 5)), 0, 1, 2), S(make((4, 5)), 1, 2, 3), S(make((2, 3, 4)), -1, 0, 0)]),
    OpInfo("select", ember.select, lambda x, dim, index: np.take(x, index, axis=dim),
           lambda make: [S(make((4, 5)), 0, 1), S(make((4, 5)), 1, -1), S(make((2, 3, 4)), 2, 3)]),
    OpInfo("broadcast_to", ember.broadcast_to, lambda x, size: np.broadcast_to(x, size),
           lambda make: [S(make((3, 1)), (3, 4)), S(make((4,)), (2, 3, 4)), S(make(()), (2, 3), kind="scalar")]),
)


# ---- indexing

def _index_select_samples(make):
    yield S(make((4, 3)), 0, make.index(5, 4))
    yield S(make((4, 3)), 1, make.index(2, 3))
    yield S(make((2, 3, 4)), -1, make.index(6, 4))
    yield S(make((4, 3)), 0, make.index(0, 4), kind="zero_size")
    yield S(make((0, 3)), 1, make.index(2, 3), kind="zero_size")
    yield S(make((5,)), 0, np.array(2, dtype=np.int64), kind="scalar")


def _gather_samples(make):
    yield S(make((4, 3)), 0, make.index((2, 3), 4))
    yield S(make((4, 3)), 1, make.index((4, 5), 3))
    yield S(make((2, 3, 4)), -1, make.index((2, 3, 2), 4))
    yield S(make((4, 5)), 1, make.index((2, 3), 5), desc="index smaller than input")
    yield S(make((4, 3)), 0, make.index((0, 3), 4), kind="zero_size")
    yield S(make(()), 0, np.array(0, dtype=np.int64), kind="scalar")


def _unique_rows(make, shape, dim, high):
    """An index of `shape` whose entries along dim are distinct (so scatter is deterministic)."""
    idx = np.empty(shape, dtype=np.int64)
    moved = np.moveaxis(idx, dim, -1)
    for pos in np.ndindex(*moved.shape[:-1]):
        moved[pos] = make.unique_index(moved.shape[-1], high)
    return idx


def _scatter_samples(make):
    yield S(make((4, 3)), 0, _unique_rows(make, (2, 3), 0, 4), make((2, 3)))
    # PyTorch's scatter backward also fails for src larger than index, so no gradcheck on this one
    yield S(make((3, 5)), 1, _unique_rows(make, (3, 2), 1, 5), make((3, 4)), desc="src larger than index",
            grad=False)
    yield S(make((2, 3, 4)), -1, _unique_rows(make, (2, 3, 2), 2, 4), make((2, 3, 2)))
    yield S(make((4, 3)), 0, _unique_rows(make, (2, 3), 0, 4), value=1.5 if make.is_float else 3)
    yield S(make((4, 3)), 0, make.index((0, 3), 4), make((0, 3)), kind="zero_size")


def _scatter_add_samples(make):
    yield S(make((4, 3)), 0, make.index((5, 3), 4), make((5, 3)))
    yield S(make((3, 5)), 1, make.index((3, 7), 5), make((3, 7)))
    yield S(make((2, 3, 4)), -1, make.index((2, 3, 3), 4), make((2, 3, 3)))
    yield S(make((4, 3)), 0, make.index((0, 3), 4), make((0, 3)), kind="zero_size")


def _index_add_samples(make):
    yield S(make((4, 3)), 0, make.index(6, 4), make((6, 3)))
    yield S(make((3, 4)), 1, make.index(2, 4), make((3, 2)), alpha=2 if not make.is_float else -0.5)
    yield S(make((2, 3, 4)), -1, make.index(3, 4), make((2, 3, 3)))


def _index_fill_samples(make):
    yield S(make((4, 3)), 0, make.index(2, 4), 1.5 if make.is_float else 7)
    yield S(make((3, 4)), 1, make.index(3, 4), 2 if not make.is_float else -2.5)


def _index_copy_samples(make):
    yield S(make((4, 3)), 0, make.unique_index(2, 4), make((2, 3)))
    yield S(make((3, 4)), 1, make.unique_index(3, 4), make((3, 3)))


def _index_put_samples(make):
    yield S(make((4, 3)), (make.index(5, 4), make.index(5, 3)), make((5,)), True)
    yield S(make((4, 3)), (make.unique_index(3, 4),), make((3, 3)))
    yield S(make((4, 3)), (make.index(2, 4), make.index(2, 3)), make(()), accumulate=True)
    yield S(make((4, 3)), (make.mask((4, 3)),), make(()), kind="basic", desc="bool mask")


def _masked_fill_samples(make):
    v = 1.5 if make.is_float else 7
    yield S(make((3, 4)), make.mask((3, 4)), v)
    yield S(make((2, 3, 2)), make.mask((2, 3, 2)), -v)
    if make.is_float:
        yield S(make((3, 4)), make.mask((3, 4)), make(()), desc="0-d tensor value")
    yield S(make((3, 4)), make.mask((4,)), v, kind="broadcast")
    yield S(make((3, 4)), make.mask((3, 1)), v, kind="broadcast")
    yield S(make((0, 3)), make.mask((0, 3)), v, kind="zero_size")
    yield S(make(()), np.array(True), v, kind="scalar")


def _masked_select_samples(make):
    yield S(make((3, 4)), make.mask((3, 4)))
    yield S(make((2, 3, 2)), make.mask((2, 3, 2)))
    yield S(make((3, 4)), make.mask((4,)), kind="broadcast")
    yield S(make((3, 1)), make.mask((3, 4)), kind="broadcast")
    yield S(make((0, 3)), make.mask((0, 3)), kind="zero_size")
    yield S(make(()), np.array(True), kind="scalar")


def _nonzero_samples(make):
    yield S(make((3, 4), zeros=0.4))
    yield S(make((2, 3, 2), zeros=0.4))
    yield S(make((3, 4), zeros=0.4), as_tuple=True)
    yield S(make((0, 3)), kind="zero_size")
    yield S(make(()), kind="scalar")
    yield S(np.zeros((), dtype=make.dtype), kind="scalar")


def _take_samples(make):
    yield S(make((3, 4)), make.index((5,), 12))
    yield S(make((2, 3, 2)), make.index((2, 3), 12))
    yield S(make((3, 4)), make.index((0,), 12), kind="zero_size")
    yield S(make((3, 4)), np.array(5, dtype=np.int64), kind="scalar")


def _take_along_dim_samples(make):
    yield S(make((3, 4)), make.index((3, 2), 4), 1)
    yield S(make((3, 4)), make.index((2, 4), 3), dim=0)
    yield S(make((3, 4)), make.index((5,), 12))


def _getitem_samples(make):
    yield S(make((4, 5)), (1,))
    yield S(make((4, 5)), (slice(1, 3), slice(None, None, 2)))
    yield S(make((2, 3, 4)), (Ellipsis, 1))
    yield S(make((2, 3, 4)), (None, slice(None), -1))
    yield S(make((4, 5)), (make.index(3, 4),))
    yield S(make((4, 5)), (make.index(3, 4), make.index(3, 5)))
    yield S(make((4, 5)), (make.mask((4, 5)),))
    yield S(make((4, 5)), (slice(None), make.index((2, 2), 5)))
    yield S(make((2, 3, 4)), (make.index(2, 2), slice(None), make.index(2, 4)))
    yield S(make((0, 3)), (slice(None), 1), kind="zero_size")
    yield S(make(()), (), kind="scalar")
    yield S(make(()), (None,), kind="scalar")


add(
    OpInfo("index_select", ember.index_select, lambda x, dim, index: np.take(x, index, axis=dim) if np.ndim(index)
           else np.take(x, np.reshape(index, (1,)), axis=dim), _index_select_samples,
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("gather", ember.gather, _ref_gather, _gather_samples, int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("scatter", ember.scatter, _ref_scatter, _scatter_samples, int_dtypes=INT_DTYPES),
    OpInfo("scatter_add", ember.scatter_add, _ref_scatter_add, _scatter_add_samples, int_dtypes=INT_DTYPES),
    OpInfo("index_add", ember.index_add, _ref_index_add, _index_add_samples, int_dtypes=INT_DTYPES),
    OpInfo("index_fill", ember.index_fill, _ref_index_fill, _index_fill_samples, int_dtypes=INT_DTYPES),
    OpInfo("index_copy", ember.index_copy, _ref_index_copy, _index_copy_samples, int_dtypes=INT_DTYPES),
    OpInfo("index_put", ember.index_put, _ref_index_put, _index_put_samples, int_dtypes=INT_DTYPES),
    OpInfo("masked_fill", ember.masked_fill, _ref_masked_fill, _masked_fill_samples, int_dtypes=INT_DTYPES,
           supports_bool=True),
    OpInfo("masked_select", ember.masked_select, _ref_masked_select, _masked_select_samples,
           int_dtypes=INT_DTYPES, supports_bool=True),
    OpInfo("nonzero", ember.nonzero, _ref_nonzero, _nonzero_samples, int_dtypes=INT_DTYPES, supports_bool=True,
           supports_grad=False),
    OpInfo("take", ember.take, lambda x, index: np.take(np.ravel(x), index), _take_samples, int_dtypes=INT_DTYPES),
    OpInfo("take_along_dim", ember.take_along_dim, _ref_take_along_dim, _take_along_dim_samples,
           int_dtypes=INT_DTYPES),
    OpInfo("getitem", lambda x, index: x[index], lambda x, index: np.asarray(x[index]), _getitem_samples,
           int_dtypes=INT_DTYPES, supports_bool=True, method=False,
           torch_fn=lambda t: lambda x, index: x[index]),
)


# ---- linear algebra

def _matmul_samples(make):
    yield S(make((3,)), make((3,)), desc="1-D @ 1-D")
    yield S(make((2, 3)), make((3, 4)), desc="2-D @ 2-D")
    yield S(make((3,)), make((3, 4)), desc="1-D @ 2-D")
    yield S(make((2, 3)), make((3,)), desc="2-D @ 1-D")
    yield S(make((2, 2, 3)), make((2, 3, 4)), desc="batched")
    yield S(make((2, 1, 2, 3)), make((3, 3, 2)), kind="broadcast", desc="batch broadcast")
    yield S(make((2, 2, 3)), make((3, 4)), kind="broadcast", desc="3-D @ 2-D")
    yield S(make((3,)), make((2, 3, 4)), kind="broadcast", desc="1-D @ 3-D")
    yield S(make((2, 3, 4)), make((4,)), kind="broadcast", desc="3-D @ 1-D")
    yield S(make((0, 3)), make((3, 4)), kind="zero_size")
    yield S(make((2, 0)), make((0, 4)), kind="zero_size", desc="empty inner dim")
    yield S(make((0,)), make((0,)), kind="zero_size")


def _einsum_samples(make):
    yield S("ij,jk->ik", make((2, 3)), make((3, 4)))
    yield S("bij,bjk->bik", make((2, 2, 3)), make((2, 3, 4)))
    yield S("ii->i", make((3, 3)))
    yield S("ii", make((3, 3)))
    yield S("i,i->", make((4,)), make((4,)))
    yield S("ij->ji", make((2, 3)))
    yield S("ij", make((2, 3)))
    yield S("i,j->ij", make((3,)), make((4,)))
    yield S("...ij,...jk->...ik", make((2, 2, 3)), make((2, 3, 2)))
    yield S("ij,ij->ij", make((2, 3)), make((2, 3)))
    yield S("bn,anm,bm->ba", make((2, 3)), make((2, 3, 4)), make((2, 4)))
    yield S("ijk->j", make((2, 3, 2)))


add(
    OpInfo("matmul", ember.matmul, np.matmul, _matmul_samples, int_dtypes=SIGNED_INTS,
           tol={"float32": (1e-5, 1e-5)}),
    OpInfo("mm", ember.mm, np.matmul, lambda make: [S(make((2, 3)), make((3, 4))), S(make((4, 1)), make((1, 3))),
                                                    S(make((0, 3)), make((3, 2)), kind="zero_size")],
           int_dtypes=SIGNED_INTS),
    OpInfo("bmm", ember.bmm, np.matmul, lambda make: [S(make((2, 2, 3)), make((2, 3, 4))),
                                                      S(make((0, 2, 3)), make((0, 3, 4)), kind="zero_size")],
           int_dtypes=SIGNED_INTS),
    OpInfo("mv", ember.mv, np.matmul, lambda make: [S(make((2, 3)), make((3,))),
                                                    S(make((0, 3)), make((3,)), kind="zero_size")],
           int_dtypes=SIGNED_INTS),
    OpInfo("dot", ember.dot, np.dot, lambda make: [S(make((4,)), make((4,))),
                                                   S(make((0,)), make((0,)), kind="zero_size")],
           int_dtypes=SIGNED_INTS),
    OpInfo("outer", ember.outer, np.outer, lambda make: [S(make((3,)), make((4,)))], int_dtypes=SIGNED_INTS),
    OpInfo("inner", ember.inner, _ref_inner, lambda make: [S(make((4,)), make((4,))), S(make((2, 3)), make((4, 3))),
                                                           S(make((2, 2, 3)), make((3,)))]),
    OpInfo("addmm", ember.addmm, _ref_addmm(np.matmul),
           lambda make: [S(make((2, 4)), make((2, 3)), make((3, 4))), S(make((4,)), make((2, 3)), make((3, 4)),
                                                                        kind="broadcast"),
                         S(make((2, 4)), make((2, 3)), make((3, 4)), beta=0.5, alpha=2.0)]),
    OpInfo("baddbmm", ember.baddbmm, _ref_addmm(np.matmul),
           lambda make: [S(make((2, 2, 4)), make((2, 2, 3)), make((2, 3, 4))),
                         S(make((2, 2, 4)), make((2, 2, 3)), make((2, 3, 4)), beta=-1.0, alpha=0.5)]),
    OpInfo("addmv", ember.addmv, _ref_addmm(np.matmul),
           lambda make: [S(make((2,)), make((2, 3)), make((3,))),
                         S(make((2,)), make((2, 3)), make((3,)), beta=2.0, alpha=-1.0)]),
    # composite (bmm, then sum and scale): each step rounds to bfloat16, hence the looser tolerance
    OpInfo("addbmm", ember.addbmm, lambda inp, a, b, beta=1, alpha=1: beta * inp + alpha * np.matmul(a, b).sum(0),
           lambda make: [S(make((2, 4)), make((3, 2, 3)), make((3, 3, 4))),
                         S(make((2, 4)), make((3, 2, 3)), make((3, 3, 4)), beta=0.5, alpha=2.0)],
           tol={"bfloat16": (3e-2, 5e-2)}),
    OpInfo("einsum", ember.einsum, np.einsum, _einsum_samples, method=False),
    OpInfo("tensordot", ember.tensordot, _ref_tensordot,
           lambda make: [S(make((2, 3, 4)), make((3, 4, 2))), S(make((2, 3)), make((3, 4)), 1),
                         S(make((2, 3, 4)), make((4, 3)), dims=([1, 2], [1, 0])), S(make((2, 3)), make((4,)), 0)],
           method=False),
)

OPS_BY_NAME = {o.name: o for o in op_db}
assert len(OPS_BY_NAME) == len(op_db), "duplicate OpInfo names"


# ------------------------------------------------------------------------------------------- error inputs

_OOB = (IndexError, RuntimeError)


def _idx(*v):
    return np.array(v, dtype=np.int64)


_ERRORS = {
    "index_select": lambda m: [
        E("out of range", m((4, 3)), 0, _idx(4), error=_OOB, match="out of"),
        E("negative index", m((4, 3)), 0, _idx(-1), error=_OOB),
        E("2-D index", m((4, 3)), 0, _idx(0).reshape(1, 1)),
        E("float index", m((4, 3)), 0, np.array([1.0])),
    ],
    "gather": lambda m: [
        E("out of range", m((4, 3)), 0, _idx(5, 0, 0).reshape(1, 3), error=_OOB, match="out of bounds"),
        E("negative index", m((4, 3)), 0, _idx(-1, 0, 0).reshape(1, 3), error=_OOB),
        E("ndim mismatch", m((4, 3)), 0, _idx(0, 1), match="same number of dimensions"),
        E("index too large", m((4, 3)), 1, np.zeros((5, 3), dtype=np.int64)),
    ],
    "scatter": lambda m: [
        E("out of range", m((4, 3)), 0, _idx(9, 0, 0).reshape(1, 3), m((1, 3)), error=_OOB),
        E("src smaller than index", m((4, 3)), 0, _idx(0, 1, 2).reshape(1, 3), m((1, 2))),
    ],
    "scatter_add": lambda m: [E("negative out of range", m((4, 3)), 0, _idx(-5, 0, 0).reshape(1, 3), m((1, 3)),
                                error=_OOB)],
    "take": lambda m: [E("out of range", m((4, 3)), _idx(12), error=_OOB)],
    "index_add": lambda m: [E("out of range", m((4, 3)), 0, _idx(4), m((1, 3)), error=_OOB),
                            E("source shape", m((4, 3)), 0, _idx(0), m((2, 3)))],
    "index_put": lambda m: [E("out of range", m((4, 3)), (_idx(7),), m(()), error=_OOB)],
    "getitem": lambda m: [E("out of range", m((4, 3)), (_idx(4),), error=_OOB),
                          E("too many indices", m((4, 3)), (0, 0, 0), error=_OOB)],
    "masked_fill": lambda m: [E("float mask", m((4, 3)), np.ones((4, 3), dtype=np.float32), 1.0, match="bool"),
                              E("1-D value tensor", m((4, 3)), m.mask((4, 3)), m((2,)))],
    "masked_select": lambda m: [E("mask does not broadcast", m((4, 3)), np.ones(2, dtype=bool))],
    "where": lambda m: [E("float condition", np.ones((4, 3), dtype=np.float32), m((4, 3)), m((4, 3)),
                          match="bool")],
    "cat": lambda m: [E("size mismatch", [m((4, 3)), m((4, 2))], 0, match="Sizes of tensors must match"),
                      E("ndim mismatch", [m((4, 3)), m((3,))]),
                      E("empty list", [], match="non-empty")],
    "stack": lambda m: [E("shape mismatch", [m((4, 3)), m((3, 4))], match="equal size")],
    "matmul": lambda m: [E("inner mismatch", m((4, 3)), m((4, 3)), match="cannot be multiplied"),
                         E("0-d operand", m(()), m((4, 3)), match="at least 1D")],
    "mm": lambda m: [E("1-D operand", m((4, 3)), m((3,)))],
    "topk": lambda m: [E("k too large", m((4, 3)), 4, 1, match="out of range"),
                       E("negative k", m((4, 3)), -1)],
    "kthvalue": lambda m: [E("k too large", m((4, 3)), 5, 1),
                           E("k == 0", m((4, 3)), 0, 1)],
    "amax": lambda m: [E("empty reduction dim", m((0, 3)), 0, error=_OOB, match="non-zero size")],
    "argmax": lambda m: [E("empty without dim", m((0, 3)), match="numel\\(\\) == 0")],
    "sum": lambda m: [E("dim out of range", m((4, 3)), 2, error=IndexError, match="Dimension out of range"),
                      E("repeated dim", m((4, 3)), (0, 0), match="multiple times")],
    "mean": lambda m: [E("integer input", np.array([1, 2]), match="floating point")],
    "var": lambda m: [E("integer input", np.array([1, 2]), match="floating point")],
    "cumsum": lambda m: [E("dim out of range", m((4, 3)), 2, error=IndexError)],
    "sort": lambda m: [E("dim out of range", m((4, 3)), 2, error=IndexError)],
    "reshape": lambda m: [E("wrong numel", m((4, 3)), (5,), match="invalid for input of size 12")],
    "split": lambda m: [E("sections do not sum", m((4, 3)), [1, 2], 0, match="sum exactly")],
    "chunk": lambda m: [E("zero chunks", m((4, 3)), 0)],
    "broadcast_to": lambda m: [E("incompatible", m((4, 3)), (4, 2), match="expanded size")],
    "add": lambda m: [E("shapes do not broadcast", m((4, 3)), m((2, 3)), match="must match the size")],
    "transpose": lambda m: [E("dim out of range", m((4, 3)), 0, 2, error=IndexError)],
    "unsqueeze": lambda m: [E("dim out of range", m((4, 3)), 3, error=IndexError)],
    "narrow": lambda m: [E("past the end", m((4, 3)), 0, 3, 2)],
    "select": lambda m: [E("index out of range", m((4, 3)), 1, 3, error=_OOB)],
    "einsum": lambda m: [E("too few operands", "ij,jk->ik", m((4, 3)))],
    "clamp": lambda m: [E("no bounds", m((4, 3)), match="At least one")],
    "flip": lambda m: [E("repeated dims", m((4, 3)), (0, 0), match="duplicates")],
    "roll": lambda m: [E("shifts and dims differ", m((4, 3)), (1, 2), (0,), match="align")],
    "diag": lambda m: [E("3-D input", m((2, 2, 2)), match="1D or 2D")],
    "bitwise_and": lambda m: [E("float input", np.ones((2, 2), dtype=np.float32), np.ones((2, 2), dtype=np.float32),
                                error=(TypeError, RuntimeError, NotImplementedError))],
    "neg": lambda m: [E("bool input", np.array([True, False]))],
    "pow": lambda m: [E("integer to a negative integer power", np.array([2, 3]), -1, match="negative")],
}

for _name, _fn in _ERRORS.items():
    OPS_BY_NAME[_name].error_inputs = _fn
for _name in ("index_select", "gather", "scatter", "scatter_add", "index_add", "index_fill", "index_copy",
              "index_put", "getitem", "take_along_dim"):
    OPS_BY_NAME[_name].int32_index = True
