"""Reductions (sum, mean, prod, max/min, var/std, norm, logsumexp, all/any), scans (cumsum, cumprod) and
ordering (sort, argsort, topk, median), each differentiable where PyTorch's is."""
import builtins
import numbers

from .. import _C, return_types
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ._util import dims as _dims
from ._util import _dtype_name, check_tensor, export, method, needs_grad, write_out
from ..amp.autocast_mode import _dispatch as _autocast


def _wrap(d, ndim):
    n = builtins.max(ndim, 1)
    if d < -n or d >= n:
        raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)" % (-n, n - 1, d))
    return d + n if d < 0 else d


def _reduced_dims(shape, dl):
    """Wrapped, sorted reduced dims (all dims when dl is empty)."""
    nd = len(shape)
    if not dl:
        return list(builtins.range(nd))
    return sorted(_wrap(d, nd) for d in dl)


def _expand_back(g, shape, dl, keepdim):
    """Broadcasts a reduction's gradient back to the input shape."""
    if not keepdim:
        for d in _reduced_dims(shape, dl):
            if len(shape):
                g = g.unsqueeze(d)
    return g.expand(shape)


def _count(shape, dl):
    n = 1
    for d in _reduced_dims(shape, dl):
        n *= shape[d]
    return n


# ---------------------------------------------------------------------------------------- sum / mean


class Sum(Function):
    @staticmethod
    def forward(x, dl, keepdim, dtype):
        return _C.sum(x, dl, keepdim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.dl, ctx.keepdim = inputs[0]._shape, inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dl, ctx.keepdim), None, None, None


class Mean(Function):
    @staticmethod
    def forward(x, dl, keepdim, dtype):
        return _C.mean(x, dl, keepdim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.dl, ctx.keepdim = inputs[0]._shape, inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / _count(ctx.shape, ctx.dl), ctx.shape, ctx.dl, ctx.keepdim), None, None, None


def _dtype_arg(dtype):
    from .creation import _dtype
    return _dtype(dtype)


# ops whose out= tensor, like their dtype= argument, sets the dtype the reduction runs in (PyTorch's sum,
# cumsum, cumprod): sum(float_tensor, 0, out=long_tensor) sums in int64 rather than being refused
_OUT_SETS_DTYPE = ("sum", "cumsum", "cumprod")


def _out_accumulate_dtype(dtype, out, name):
    if out is None or name not in _OUT_SETS_DTYPE or not isinstance(out, Tensor):
        return dtype
    if dtype is None:
        return out.dtype
    if dtype != out.dtype:
        raise RuntimeError("%s(): dtype argument %s and out= tensor dtype %s must match"
                           % (name, _dtype_name(dtype), _dtype_name(out.dtype)))
    return dtype


def _reduce_api(fn_cls, cop, name):
    def op(input, dim=None, keepdim=False, *, dtype=None, out=None):
        check_tensor(input, name)
        if out is None and _state.autocast and name in _state.autocast:
            return _autocast(name, op, input, dim, keepdim, dtype=dtype)
        dl = _dims(dim, name)
        dtype = _out_accumulate_dtype(_dtype_arg(dtype), out, name)
        r = fn_cls.apply(input, dl, keepdim, dtype) if _state.enabled and input._requires_grad else cop(
            input, dl, keepdim, dtype)
        return r if out is None else write_out(out, r)

    def meth(self, dim=None, keepdim=False, *, dtype=None):
        if _state.autocast and name in _state.autocast:
            return _autocast(name, meth, self, dim, keepdim, dtype=dtype)
        dl = _dims(dim, name)
        if dtype is not None:
            dtype = _dtype_arg(dtype)
        if _state.enabled and self._requires_grad:
            return fn_cls.apply(self, dl, keepdim, dtype)
        return cop(self, dl, keepdim, dtype)
    op.__name__ = meth.__name__ = name
    return op, meth


sum, _sum_m = _reduce_api(Sum, _C.sum, "sum")
mean, _mean_m = _reduce_api(Mean, _C.mean, "mean")
export(sum, name="sum")
export(mean, name="mean")
method("sum", _sum_m)
method("mean", _mean_m)


class Nansum(Function):
    @staticmethod
    def forward(x, dl, keepdim):
        return _C.nansum(x, dl, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0])
        ctx.dl, ctx.keepdim = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        ge = _expand_back(g, x._shape, ctx.dl, ctx.keepdim)
        return ge * x.isnan().logical_not(), None, None


@export
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero."""
    x = input if dtype is None else input.to(_dtype_arg(dtype))
    dl = _dims(dim)
    return Nansum.apply(x, dl, keepdim) if needs_grad(x) else _C.nansum(x, dl, keepdim)


@export
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over the non-NaN elements."""
    notnan = input.isnan().logical_not()
    return nansum(input, dim, keepdim, dtype=dtype) / notnan.sum(dim, keepdim).to(input.dtype)


method("nansum", nansum)
method("nanmean", nanmean)


# ---------------------------------------------------------------------------------------- prod


def _exclusive_prods(x, d):
    """prod of x along d over every position except the element itself (exact with zeros)."""
    n = x._shape[d]
    if n == 0:
        return x * 0  # no positions: an empty result of x's shape (still differentiable)
    ones = x.narrow(d, 0, 1) * 0 + 1
    if n == 1:
        return ones
    left = cat([ones, x.narrow(d, 0, n - 1).cumprod(d)], d)
    right = cat([x.narrow(d, 1, n - 1).flip(d).cumprod(d).flip(d), ones], d)
    return left * right


class Prod(Function):
    @staticmethod
    def forward(x, dl, keepdim, dtype):
        return _C.prod(x, dl, keepdim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0])
        ctx.dl, ctx.keepdim = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        shape = x._shape
        if not ctx.dl or len(shape) == 0:
            others = _exclusive_prods(x.reshape(-1), 0).reshape(shape)
        else:
            others = _exclusive_prods(x, _wrap(ctx.dl[0], len(shape)))
        return _expand_back(g, shape, ctx.dl, ctx.keepdim) * others, None, None, None


@export
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of elements (over one dim, or all)."""
    if _state.autocast and "prod" in _state.autocast:
        return _autocast("prod", prod, input, dim, keepdim, dtype=dtype)
    dl = _dims(dim)
    dtype = _dtype_arg(dtype)
    if len(dl) > 1:
        raise TypeError("prod(): dim must be an int, not a sequence")
    return Prod.apply(input, dl, keepdim, dtype) if needs_grad(input) else _C.prod(input, dl, keepdim, dtype)


method("prod", lambda self, dim=None, keepdim=False, *, dtype=None: prod(self, dim, keepdim, dtype=dtype))


# ---------------------------------------------------------------------------------------- max / min


class Amax(Function):
    """amax/amin (and max()/min() without dim): the gradient is shared evenly between tied maxima."""

    @staticmethod
    def forward(x, dl, keepdim, is_max):
        return (_C.amax if is_max else _C.amin)(x, dl, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out)
        ctx.dl, ctx.keepdim = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape = x._shape
        mask = (x == _expand_back(out, shape, ctx.dl, ctx.keepdim)).to(g.dtype)
        count = mask.sum(ctx.dl if ctx.dl else None, keepdim=True)
        return _expand_back(g, shape, ctx.dl, ctx.keepdim) * mask / count, None, None, None


def _amax(input, dim, keepdim, is_max):
    dl = _dims(dim)
    if needs_grad(input):
        return Amax.apply(input, dl, keepdim, is_max)
    return (_C.amax if is_max else _C.amin)(input, dl, keepdim)


@export
def amax(input, dim=(), keepdim=False, *, out=None):
    """Maximum over dims (all when dim is empty)."""
    r = _amax(input, dim, keepdim, True)
    return r if out is None else write_out(out, r)


@export
def amin(input, dim=(), keepdim=False, *, out=None):
    """Minimum over dims (all when dim is empty)."""
    r = _amax(input, dim, keepdim, False)
    return r if out is None else write_out(out, r)


method("amax", lambda self, dim=(), keepdim=False: _amax(self, dim, keepdim, True))
method("amin", lambda self, dim=(), keepdim=False: _amax(self, dim, keepdim, False))


class MaxDim(Function):
    """max/min along a dim: values and (non-differentiable) indices."""

    @staticmethod
    def forward(x, dim, keepdim, is_max):
        return (_C.max_dim if is_max else _C.min_dim)(x, dim, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.mark_non_differentiable(out[1])
        ctx.save_for_backward(out[1])
        ctx.shape, ctx.dim, ctx.keepdim = inputs[0]._shape, inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g, g_idx):
        idx, = ctx.saved_tensors
        return _scatter_back(g, idx, ctx.shape, ctx.dim, ctx.keepdim), None, None, None


def _scatter_back(g, idx, shape, dim, keepdim):
    """Gradient of values picked at idx along dim: zeros with g scattered back to those positions."""
    from .indexing import scatter
    if len(shape) == 0:
        return g
    d = _wrap(dim, len(shape))
    if not keepdim:
        g = g.unsqueeze(d)
        idx = idx.unsqueeze(d)
    zeros = _C.zeros_meta((shape, g.dtype))
    return scatter(zeros, d, idx, g)


def _write_outs(out, r):
    """out= for ops returning a tensor or a (values, indices) named tuple: each part goes through write_out."""
    if out is None:
        return r
    if isinstance(r, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(r):
            raise TypeError("out= expects a tuple of %d tensors" % len(r))
        return type(r)(*[write_out(o, v) for o, v in zip(out, r)])
    return write_out(out, r)


def _max_min(input, dim, keepdim, is_max, other, name):
    if isinstance(dim, Tensor) and other is None:
        other, dim = dim, None
    if other is not None:
        from . import pointwise
        return (pointwise.maximum if is_max else pointwise.minimum)(input, other)
    if dim is None:
        if keepdim:
            raise TypeError("%s(): keepdim requires dim" % name)
        return _amax(input, (), False, is_max)
    dim = int(dim)
    if needs_grad(input):
        v, i = MaxDim.apply(input, dim, keepdim, is_max)
    else:
        v, i = (_C.max_dim if is_max else _C.min_dim)(input, dim, keepdim)
    return (return_types.max if is_max else return_types.min)(v, i)


@export
def max(input, dim=None, keepdim=False, *, other=None, out=None):
    """max(input): the largest element; max(input, dim): (values, indices); max(input, other): maximum."""
    return _write_outs(out, _max_min(input, dim, keepdim, True, other, "max"))


@export
def min(input, dim=None, keepdim=False, *, other=None, out=None):
    """min(input): the smallest element; min(input, dim): (values, indices); min(input, other): minimum."""
    return _write_outs(out, _max_min(input, dim, keepdim, False, other, "min"))


method("max", lambda self, dim=None, keepdim=False: _max_min(self, dim, keepdim, True, None, "max"))
method("min", lambda self, dim=None, keepdim=False: _max_min(self, dim, keepdim, False, None, "min"))


@export
def aminmax(input, *, dim=None, keepdim=False):
    return return_types.aminmax(amin(input, () if dim is None else dim, keepdim),
                                amax(input, () if dim is None else dim, keepdim))


@export
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when dim is None)."""
    return _C.argmax(input, None if dim is None else int(dim), keepdim)


@export
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when dim is None)."""
    return _C.argmin(input, None if dim is None else int(dim), keepdim)


method("argmax", argmax)
method("argmin", argmin)
method("aminmax", aminmax)


# ---------------------------------------------------------------------------------------- all / any / count


@export
def all(input, dim=None, keepdim=False, *, out=None):
    """True where every element (over dim) is nonzero (uint8 input gives uint8, as in PyTorch)."""
    r = _C.all(input, _dims(dim, "all"), keepdim)
    if input.dtype is _C.uint8:
        r = _C.to_dtype(r, _C.uint8, False)
    return r if out is None else write_out(out, r)


@export
def any(input, dim=None, keepdim=False, *, out=None):
    """True where some element (over dim) is nonzero (uint8 input gives uint8, as in PyTorch)."""
    r = _C.any(input, _dims(dim, "any"), keepdim)
    if input.dtype is _C.uint8:
        r = _C.to_dtype(r, _C.uint8, False)
    return r if out is None else write_out(out, r)


@export
def count_nonzero(input, dim=None):
    return _C.sum(_C.ne(input, 0), _dims(dim), False, None)


method("all", all)
method("any", any)
method("count_nonzero", count_nonzero)


# ---------------------------------------------------------------------------------------- var / std


def _correction(unbiased, correction):
    if correction is not None:
        return float(correction)
    if unbiased is None:
        return 1.0
    return 1.0 if unbiased else 0.0


class VarMean(Function):
    """var (and mean) over dims; std is derived from it. forward returns (var, mean)."""

    @staticmethod
    def forward(x, dl, correction, keepdim):
        return _C.var_mean(x, dl, correction, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out[1])
        ctx.dl, ctx.correction, ctx.keepdim = inputs[1], inputs[2], inputs[3]

    @staticmethod
    def backward(ctx, gv, gm):
        x, m = ctx.saved_tensors
        shape = x._shape
        n = _count(shape, ctx.dl)
        grad = None
        if gv is not None:
            centred = x - _expand_back(m, shape, ctx.dl, ctx.keepdim)
            denom = n - ctx.correction
            # no degrees of freedom left: the variance is nan/inf and so is its gradient (as in PyTorch)
            scale = 2.0 / denom if denom > 0 else float("nan")
            grad = _expand_back(gv, shape, ctx.dl, ctx.keepdim) * centred * scale
        if gm is not None:
            gmean = _expand_back(gm / n, shape, ctx.dl, ctx.keepdim)
            grad = gmean if grad is None else grad + gmean
        return grad, None, None, None


def _var_args(dim, unbiased, keepdim, correction):
    # legacy positional forms: var(x, unbiased) and var(x, dim, unbiased, keepdim)
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    return _dims(dim), _correction(unbiased, correction), keepdim


def _var_mean(input, dim, unbiased, keepdim, correction):
    dl, c, keepdim = _var_args(dim, unbiased, keepdim, correction)
    if needs_grad(input):
        return VarMean.apply(input, dl, c, keepdim)
    return _C.var_mean(input, dl, c, keepdim)


@export
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Variance over dims with Bessel's correction by default (correction=1)."""
    r = _var_mean(input, dim, unbiased, keepdim, correction)[0]
    return r if out is None else write_out(out, r)


@export
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    """Standard deviation over dims (correction=1 by default)."""
    r = _var_mean(input, dim, unbiased, keepdim, correction)[0].sqrt()
    return r if out is None else write_out(out, r)


@export
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return tuple(_var_mean(input, dim, unbiased, keepdim, correction))


@export
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    v, m = _var_mean(input, dim, unbiased, keepdim, correction)
    return v.sqrt(), m


method("var", lambda self, dim=None, unbiased=None, keepdim=False, *, correction=None: var(
    self, dim, unbiased, keepdim, correction=correction))
method("std", lambda self, dim=None, unbiased=None, keepdim=False, *, correction=None: std(
    self, dim, unbiased, keepdim, correction=correction))


# ---------------------------------------------------------------------------------------- norm / logsumexp


class Norm(Function):
    @staticmethod
    def forward(x, p, dl, keepdim):
        return _C.norm(x, p, dl, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out)
        ctx.p, ctx.dl, ctx.keepdim = inputs[1], inputs[2], inputs[3]

    @staticmethod
    def backward(ctx, g, *_):
        x, n = ctx.saved_tensors
        shape, p = x._shape, ctx.p
        ge = _expand_back(g, shape, ctx.dl, ctx.keepdim)
        ne = _expand_back(n, shape, ctx.dl, ctx.keepdim)
        if p == 0:
            return ge * 0, None, None, None
        if p == 1:
            return ge * x.sign(), None, None, None
        if p == 2:
            return where_(ne == 0, 0.0, ge * x / ne), None, None, None
        if p in (float("inf"), float("-inf")):
            mask = (x.abs() == ne).to(g.dtype)
            count = mask.sum(ctx.dl if ctx.dl else None, keepdim=True)
            return ge * x.sign() * mask / count, None, None, None
        grad = ge * x * x.abs().pow(p - 2) / ne.pow(p - 1)
        return where_(ne == 0, 0.0, grad), None, None, None


def where_(c, a, b):
    from .pointwise import where
    return where(c, a, b)


@export
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """Vector p-norm over dims ('fro' means 2)."""
    if _state.autocast and out is None and "norm" in _state.autocast:
        return _autocast("norm", norm, input, p, dim, keepdim, dtype=dtype)
    if p == "fro" or p is None:
        p = 2.0
    if isinstance(p, str):
        raise NotImplementedError("norm(p=%r) is not supported (only vector norms)" % p)
    x = input if dtype is None else input.to(_dtype_arg(dtype))
    dl = _dims(dim)
    r = Norm.apply(x, float(p), dl, keepdim) if needs_grad(x) else _C.norm(x, float(p), dl, keepdim)
    return r if out is None else write_out(out, r)


method("norm", lambda self, p="fro", dim=None, keepdim=False, dtype=None: norm(self, p, dim, keepdim, dtype=dtype))


class Logsumexp(Function):
    @staticmethod
    def forward(x, dl, keepdim):
        return _C.logsumexp(x, dl, keepdim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out)
        ctx.dl, ctx.keepdim = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape = x._shape
        return (_expand_back(g, shape, ctx.dl, ctx.keepdim) * (x - _expand_back(out, shape, ctx.dl, ctx.keepdim)).exp(),
                None, None)


@export
def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(input))) over dim, computed stably."""
    dl = _dims(dim)
    r = Logsumexp.apply(input, dl, keepdim) if needs_grad(input) else _C.logsumexp(input, dl, keepdim)
    return r if out is None else write_out(out, r)


method("logsumexp", lambda self, dim, keepdim=False: logsumexp(self, dim, keepdim))


# ---------------------------------------------------------------------------------------- scans


class Cumsum(Function):
    @staticmethod
    def forward(x, dim, dtype):
        return _C.cumsum(x, dim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dim = inputs[1]

    @staticmethod
    def backward(ctx, g):
        if g.dim() == 0:
            return g, None, None
        return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None, None


class Cumprod(Function):
    @staticmethod
    def forward(x, dim, dtype):
        return _C.cumprod(x, dim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out)
        ctx.dim = inputs[1]

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        if x.dim() == 0:
            return g, None, None
        d = _wrap(ctx.dim, x.dim())
        if not bool((x == 0).any()):
            # sum_{k >= j} g_k out_k / x_j
            return (g * out).flip(d).cumsum(d).flip(d) / x, None, None
        # exact with zeros: grad_j = prod(x[:j]) * sum_{k >= j} g_k prod(x[j+1..k])
        n = x._shape[d]
        parts = []
        for j in builtins.range(n):
            left = x.narrow(d, 0, j).prod(d, keepdim=True) if j > 0 else x.narrow(d, 0, 1) * 0 + 1
            acc = g.narrow(d, j, 1)
            if j + 1 < n:
                tail = x.narrow(d, j + 1, n - j - 1).cumprod(d)
                acc = acc + (g.narrow(d, j + 1, n - j - 1) * tail).sum(d, keepdim=True)
            parts.append(left * acc)
        return cat(parts, d), None, None


def _scan_api(fn_cls, cop, name):
    def op(input, dim, *, dtype=None, out=None):
        if out is None and _state.autocast and name in _state.autocast:
            return _autocast(name, op, input, dim, dtype=dtype)
        dtype = _out_accumulate_dtype(_dtype_arg(dtype), out, name)
        r = fn_cls.apply(input, int(dim), dtype) if needs_grad(input) else cop(input, int(dim), dtype)
        return r if out is None else write_out(out, r)
    op.__name__ = name
    return op


cumsum = export(_scan_api(Cumsum, _C.cumsum, "cumsum"), name="cumsum")
cumprod = export(_scan_api(Cumprod, _C.cumprod, "cumprod"), name="cumprod")
method("cumsum", lambda self, dim, *, dtype=None: cumsum(self, dim, dtype=dtype))
method("cumprod", lambda self, dim, *, dtype=None: cumprod(self, dim, dtype=dtype))
method("cumsum_", lambda self, dim, *, dtype=None: self.copy_(cumsum(self, dim, dtype=dtype)))


# ---------------------------------------------------------------------------------------- ordering


class Sort(Function):
    """sort/topk values with non-differentiable indices; the gradient scatters back to the source positions."""

    @staticmethod
    def forward(x, dim, descending, k, largest):
        if k is None:
            return _C.sort(x, dim, descending)
        return _C.topk(x, k, dim, largest, True)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.mark_non_differentiable(out[1])
        ctx.save_for_backward(out[1])
        ctx.shape, ctx.dim = inputs[0]._shape, inputs[1]

    @staticmethod
    def backward(ctx, g, g_idx):
        idx, = ctx.saved_tensors
        return _scatter_back(g, idx, ctx.shape, ctx.dim, True), None, None, None, None


@export
def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    """Sorted values along dim and the indices that sort it (stable; NaN sorts last ascending)."""
    if isinstance(dim, bool):
        raise TypeError("sort(): dim must be an int")
    if needs_grad(input):
        v, i = Sort.apply(input, int(dim), bool(descending), None, None)
    else:
        v, i = _C.sort(input, int(dim), bool(descending))
    return _write_outs(out, return_types.sort(v, i))


@export
def argsort(input, dim=-1, descending=False, stable=False):
    return _C.sort(input, int(dim), bool(descending))[1]


@export
def msort(input):
    return sort(input, 0)[0]


@export
def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    """The k largest (or smallest) values along dim, sorted, with their indices."""
    if needs_grad(input):
        v, i = Sort.apply(input, int(dim), None, int(k), bool(largest))
    else:
        v, i = _C.topk(input, int(k), int(dim), bool(largest), bool(sorted))
    return _write_outs(out, return_types.topk(v, i))


def _median_dim(input, dim, keepdim):
    """Lower median along dim; a slice containing NaN gives NaN and the index of its first NaN."""
    if input.dim() == 0:
        _wrap(int(dim), 0)
        return input.clone(), _C.full((), 0, _C.int64)
    d = _wrap(int(dim), input.dim())
    n = input._shape[d]
    if n == 0:
        raise IndexError("median(): Expected reduction dim %d to have non-zero size." % d)
    v, i = sort(input, d)
    k = (n - 1) // 2
    val, idx = v.narrow(d, k, 1), i.narrow(d, k, 1)
    if input.dtype.is_floating_point:
        nan = input.isnan()
        has_nan = nan.any(d, keepdim=True)
        if bool(has_nan.any()):
            first = nan.to(_C.uint8).argmax(d, keepdim=True)
            val = where_(has_nan, input.gather(d, first), val)
            idx = where_(has_nan, first, idx)
    if not keepdim:
        val, idx = val.squeeze(d), idx.squeeze(d)
    return val, idx


@export
def median(input, dim=None, keepdim=False):
    """The lower median (of all elements, or along dim with indices); NaN if the values contain NaN."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            raise RuntimeError("median() input tensor cannot be empty")
        return _median_dim(flat, 0, False)[0]
    v, i = _median_dim(input, dim, keepdim)
    return return_types.median(v, i)


@export
def kthvalue(input, k, dim=-1, keepdim=False):
    d = _wrap(int(dim), input.dim())
    n = input._shape[d] if input.dim() else 1
    if not 1 <= int(k) <= n:
        raise RuntimeError("kthvalue(): selected number k out of range for dimension %d" % d)
    v, i = sort(input, d)
    v, i = v.narrow(d, int(k) - 1, 1), i.narrow(d, int(k) - 1, 1)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return return_types.kthvalue(v, i)


for _n, _f in [("sort", sort), ("argsort", argsort), ("msort", msort), ("topk", topk), ("median", median),
               ("kthvalue", kthvalue)]:
    method(_n, _f)


def cat(tensors, dim=0):
    from .shape import cat as _cat
    return _cat(tensors, dim)


class SumTo(Function):
    """Sums broadcast dims away so the result has `shape` (the reverse of expand)."""

    @staticmethod
    def forward(x, shape):
        return _C.sum_to(x, shape)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape = inputs[0]._shape

    @staticmethod
    def backward(ctx, g):
        return g.expand(ctx.shape), None


def sum_to_size(x, shape):
    shape = tuple(shape)
    if x._shape == shape:
        return x
    return SumTo.apply(x, shape) if needs_grad(x) else _C.sum_to(x, shape)


method("sum_to_size", lambda self, *size: sum_to_size(self, size[0] if len(size) == 1 and not isinstance(
    size[0], numbers.Integral) else size))
