"""Set, counting, searching and combinatorial ops: unique, unique_consecutive, bincount, searchsorted, bucketize,
histc, histogram, cdist, diff, logcumsumexp, block_diag, kron, cartesian_prod, combinations, tril/triu_indices.

Everything is composed from existing Ember ops (sort, cumsum, scatter, index_select, comparisons, where, cat),
so it runs wherever those run and the differentiable ones get their gradients by composition. cdist is the one
exception with its own Function: its gradient at zero distance needs PyTorch's masking, which a composite of
sqrt/pow cannot give. Only pure index arithmetic on Python ints (tril/triu_indices, combinations) is done with
numpy; no tensor data leaves its device except the sizes an op's output shape depends on (as in PyTorch).
"""
import builtins
import numbers
import os

import numpy as np

from .. import _C, return_types
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state, no_grad
from ..amp.autocast_mode import _dispatch as _autocast
from ._util import check_tensor, export, method, write_out
from .creation import arange, ones, tensor, zeros
from .indexing import index_select, nonzero
from .pointwise import where
from .reduction import _wrap, cumsum, sort
from .shape import broadcast_shapes, cat, meshgrid, stack

_INF = float("inf")


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_int(x, op, arg):
    if not _is_int(x):
        raise TypeError("%s(): argument '%s' must be int, not %s" % (op, arg, type(x).__name__))
    return int(x)


def _zeros(shape, dtype, like):
    return zeros(tuple(shape), dtype=dtype, device=like.device)


def _is_float(t):
    return t.dtype.is_floating_point


def _shape_str(shape):
    return "[%s]" % ", ".join(str(s) for s in shape)


def _dim_arg(dim, ndim, op):
    if not _is_int(dim):
        raise TypeError("%s(): argument 'dim' must be int, not %s" % (op, type(dim).__name__))
    if ndim == 0:
        raise IndexError("%s(): dimension specified as %d but tensor has no dimensions" % (op, dim))
    return _wrap(int(dim), ndim)


# ---------------------------------------------------------------------------------------- unique


def _starts_of_runs(vals):
    """Bool mask over dim 0 of vals (n, ...) that is True where a new run of equal rows starts."""
    n = vals._shape[0]
    head = ones((builtins.min(n, 1),), dtype=_C.bool, device=vals.device)
    if n <= 1:
        return head
    neq = vals.narrow(0, 1, n - 1) != vals.narrow(0, 0, n - 1)
    if neq.dim() > 1:
        neq = neq.reshape(n - 1, -1).any(1)
    return cat([head, neq])


def _runs(vals, order, return_inverse, return_counts):
    """Unique rows of vals (sorted or consecutive runs along dim 0), with the inverse mapped through order
    (the permutation that produced vals, or None) and the run lengths."""
    n = vals._shape[0]
    first = _starts_of_runs(vals)
    starts = nonzero(first).reshape(-1)
    out = index_select(vals, 0, starts)
    inverse = counts = None
    if return_inverse:
        group = cumsum(first.to(_C.int64), 0) - 1
        inverse = group if order is None else _zeros((n,), _C.int64, vals).scatter(0, order, group)
    if return_counts:
        k = starts._shape[0]
        counts = starts
        if k:
            ends = cat([starts.narrow(0, 1, k - 1), tensor([n], dtype=_C.int64, device=vals.device)])
            counts = ends - starts
    return out, inverse, counts


def _sort_key(x):
    return x.to(_C.uint8) if x.dtype is _C.bool else x


def _lex_order(rows):
    """The stable permutation sorting the rows of a 2-D tensor lexicographically (least significant column
    first, each pass a stable sort)."""
    n, m = rows._shape
    order = arange(n, device=rows.device)
    keys = _sort_key(rows)
    for c in builtins.range(m - 1, -1, -1):
        col = index_select(keys.select(1, c), 0, order)
        order = index_select(order, 0, sort(col, 0, stable=True)[1])
    return order


def _unique_impl(input, sort_first, return_inverse, return_counts, dim, op):
    check_tensor(input, op)
    with no_grad():
        if dim is None:
            flat = input.reshape(-1)
            order = None
            if sort_first:
                flat, order = sort(_sort_key(flat), 0, stable=True)
                if input.dtype is _C.bool:
                    flat = flat.to(_C.bool)
            out, inverse, counts = _runs(flat, order, return_inverse, return_counts)
            if inverse is not None:
                inverse = inverse.reshape(input._shape)
        else:
            d = _dim_arg(dim, input.dim(), op)
            moved = input.movedim(d, 0)
            n = moved._shape[0]
            rest = moved._shape[1:]
            if n > 0 and any(s == 0 for s in rest):
                raise RuntimeError("%s(): there are 0 sized dimensions, and they aren't selected, so unique cannot "
                                   "be applied (input shape %s, dim %d)" % (op, _shape_str(input._shape), d))
            rows = moved.reshape(n, -1) if n > 0 else moved.reshape(0, 1)
            order = None
            if sort_first and n > 1:
                order = _lex_order(rows)
                rows = index_select(rows, 0, order)
            out, inverse, counts = _runs(rows, order, return_inverse, return_counts)
            out = out.reshape((out._shape[0],) + tuple(rest)).movedim(0, d)
    if not return_inverse and not return_counts:
        return out
    res = (out,)
    if return_inverse:
        res += (inverse,)
    if return_counts:
        res += (counts,)
    return res


@export
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The unique elements of input (or unique slices along dim), in ascending order, optionally with the
    index of each input element in the output (return_inverse) and how often each occurs (return_counts).
    Ember always returns them sorted (sorted=False allows any order, as in PyTorch)."""
    return _unique_impl(input, True, return_inverse, return_counts, dim, "unique")


@export
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapses each run of consecutive equal elements (or slices along dim) to one."""
    return _unique_impl(input, False, return_inverse, return_counts, dim, "unique_consecutive")


method("unique", lambda self, sorted=True, return_inverse=False, return_counts=False, dim=None: unique(
    self, sorted, return_inverse, return_counts, dim))
method("unique_consecutive", lambda self, return_inverse=False, return_counts=False, dim=None: unique_consecutive(
    self, return_inverse, return_counts, dim))


# ---------------------------------------------------------------------------------------- bincount


@export
def bincount(input, weights=None, minlength=0):
    """Counts of each value 0..max(input) of a 1-D non-negative integer tensor (or sums of weights)."""
    check_tensor(input, "bincount")
    minlength = _check_int(minlength, "bincount", "minlength")
    if _is_float(input) or input.dtype is _C.bool:
        raise NotImplementedError("bincount(): expected an integral input tensor, got %s" % input.dtype)
    if input.dim() != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs (got a %d-d tensor)"
                           % input.dim())
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0, got %d" % minlength)
    n = input._shape[0]
    if weights is not None:
        check_tensor(weights, "bincount", "weights")
        if weights.dim() != 1 or weights._shape[0] != n:
            raise RuntimeError("weights should be 1-d and have the same length as input (input %s, weights %s)"
                               % (_shape_str(input._shape), _shape_str(weights._shape)))
    length = minlength
    if n:
        lo, hi = (int(v) for v in input.aminmax())
        if lo < 0:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs (got the value %d)" % lo)
        length = builtins.max(length, hi + 1)
    idx = input.to(_C.int64)
    if weights is None:
        src = ones((n,), dtype=_C.int64, device=input.device)
        dtype = _C.int64
    else:
        dtype = _C.float32 if weights.dtype is _C.float32 else _C.float64  # PyTorch's rule
        src = weights.to(dtype)
    return _zeros((length,), dtype, input).scatter_add(0, idx, src)


method("bincount", lambda self, weights=None, minlength=0: bincount(self, weights, minlength))


# ---------------------------------------------------------------------------------------- searchsorted

# A broadcast compare-and-count beats sorting the merged values for short sequences (up to _COMPARE_MAX_M
# boundaries, in chunks of at most _COMPARE_LIMIT comparisons) or when there are few comparisons in all.
_COMPARE_LIMIT = 1 << 24
_COMPARE_MAX_M = 64


def _count_before(seq, vals, right):
    """For sorted rows seq (B, m) and values (B, k): how many seq entries lie before each value (left: those
    < value, right: those <= value). A NaN value goes after every boundary, as PyTorch's binary search puts
    it; NaN boundaries (where a binary search's answer depends on its path) count as largest."""
    b, m = seq._shape
    k = vals._shape[-1]
    if m * k * b <= _COMPARE_LIMIT or m <= _COMPARE_MAX_M:
        s = seq.unsqueeze(-2)
        chunk = builtins.max(1, _COMPARE_LIMIT // builtins.max(m * b, 1))
        parts = []
        for start in builtins.range(0, builtins.max(k, 1), chunk):
            v = vals.narrow(-1, start, builtins.min(chunk, k - start)).unsqueeze(-1)
            parts.append(((s <= v) if right else (s < v)).sum(-1))
        r = parts[0] if len(parts) == 1 else cat(parts, -1)
        return where(vals.isnan(), m, r) if _is_float(vals) else r
    # merge: one stable sort of values and boundaries together; ties put values after (right) or before (left)
    # the equal boundaries, so the number of boundaries ahead of a value is its insertion index
    both = cat([seq, vals], -1) if right else cat([vals, seq], -1)
    order = sort(both, -1, stable=True)[1]
    is_seq = (order < m) if right else (order >= k)
    ahead = cumsum(is_seq.to(_C.int64), -1)
    placed = _zeros(order._shape, _C.int64, order).scatter(-1, order, ahead)
    r = placed.narrow(-1, m, k) if right else placed.narrow(-1, 0, k)
    return where(vals.isnan(), m, r) if _is_float(vals) else r


def _side_arg(right, side, op):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError("%s(): side can only be 'left' or 'right' but got %s" % (op, side))
        if side == "left" and right:
            raise RuntimeError("%s(): side and right can't be set to opposites, got side of left while right was "
                               "True" % op)
        return side == "right"
    return bool(right)


def _search(seq, values, right, out_int32, sorter, op):
    check_tensor(seq, op, "sorted_sequence")
    if seq.dim() == 0:
        raise RuntimeError("%s(): boundaries tensor should have positive dimension, but got 0 dimension" % op)
    scalar = not isinstance(values, Tensor)
    if scalar:
        if not isinstance(values, numbers.Number) or isinstance(values, complex):
            raise TypeError("%s(): argument 'input' must be Tensor or Number, not %s" % (op, type(values).__name__))
        if seq.dim() != 1:
            raise RuntimeError("%s(): input value can be a scalar only when boundaries tensor dimension is 1, but we "
                               "got boundaries tensor dim(%d)" % (op, seq.dim()))
        if isinstance(values, float) and not _is_float(seq):
            vdtype = _C.float64
        elif _is_float(seq):
            vdtype = seq.dtype
        else:
            vdtype = _C.int64
        values = tensor(values, dtype=vdtype, device=seq.device)
    if seq.dim() > 1 and (values.dim() != seq.dim() or values._shape[:-1] != seq._shape[:-1]):
        raise RuntimeError("%s(): boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries "
                           "tensor and input value tensor must match, but we got boundaries tensor %s and input "
                           "value tensor %s" % (op, _shape_str(seq._shape), _shape_str(values._shape)))
    if seq._device != values._device:
        raise RuntimeError("%s(): boundaries and input value tensors should be on the same device, got %s and %s"
                           % (op, seq.device, values.device))
    with no_grad():
        if sorter is not None:
            check_tensor(sorter, op, "sorter")
            if sorter.dtype is not _C.int64:
                raise RuntimeError("%s(): sorter must be a tensor of long dtype but got dtype %s" % (op, sorter.dtype))
            if sorter._shape != seq._shape:
                raise RuntimeError("%s(): boundary and sorter must have the same size, but got boundary tensor %s "
                                   "and got sorter tensor %s" % (op, _shape_str(seq._shape),
                                                                 _shape_str(sorter._shape)))
            if sorter.numel():
                lo, hi = (int(v) for v in sorter.aminmax())
                if lo < 0 or hi >= seq._shape[-1]:
                    raise RuntimeError("%s(): sorter index out of range (got %d for a sequence of length %d)"
                                       % (op, lo if lo < 0 else hi, seq._shape[-1]))
            seq = seq.gather(-1, sorter)
        common = _C.promote_types(seq.dtype, values.dtype)
        if common is _C.bool:
            common = _C.uint8
        m = seq._shape[-1]
        if seq.dim() == 1:
            s2 = seq.to(common).reshape(1, m)
            v2 = values.to(common).reshape(1, values.numel())
        else:
            b = seq.numel() // m if m else int(np.prod(seq._shape[:-1]))
            s2 = seq.to(common).reshape(b, m)
            v2 = values.to(common).reshape(b, values._shape[-1])
        r = _count_before(s2, v2, right).reshape(values._shape)
    return r.to(_C.int32) if out_int32 else r


@export
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None):
    """Indices where the values of input would be inserted into the innermost dimension of sorted_sequence to
    keep it sorted (the first such index, or the last with right=True / side='right')."""
    r = _search(sorted_sequence, input, _side_arg(right, side, "searchsorted"), out_int32, sorter, "searchsorted")
    return r if out is None else write_out(out, r)


@export
def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The index of the bucket of 1-D boundaries each value of input falls in (boundaries[i-1] < x <=
    boundaries[i], or boundaries[i-1] <= x < boundaries[i] with right=True)."""
    check_tensor(boundaries, "bucketize", "boundaries")
    if boundaries.dim() != 1:
        raise RuntimeError("bucketize(): boundaries tensor must be 1 dimension, but got dim(%d)" % boundaries.dim())
    r = _search(boundaries, input, bool(right), out_int32, None, "bucketize")
    return r if out is None else write_out(out, r)



# ---------------------------------------------------------------------------------------- histograms


def _require_float(input, op):
    if not _is_float(input):
        raise NotImplementedError("%s(): expected a floating point input tensor, got %s" % (op, input.dtype))


def _fmt(v):
    return "%g" % v


def _bin_count(pos, inside, weight, bins, dtype, like):
    """Sums weight (or 1) over the bin index pos of each element inside the range."""
    src = inside.to(dtype) if weight is None else where(inside, weight.reshape(-1).to(dtype), 0.0)
    return _zeros((bins,), dtype, like).scatter_add(0, where(inside, pos, 0), src)


@export
def histc(input, bins=100, min=0, max=0, *, out=None):
    """Histogram of input with bins equal-width bins over [min, max] (the data's range when both are 0);
    elements outside are ignored and the last bin is closed."""
    check_tensor(input, "histc")
    _require_float(input, "histc")
    bins = _check_int(bins, "histc", "bins")
    if bins <= 0:
        raise RuntimeError("histc(): bins must be > 0, but got %d" % bins)
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("histc(): max must be larger than min (got min %s, max %s)" % (_fmt(lo), _fmt(hi)))
    with no_grad():
        x = input.reshape(-1)
        if lo == hi and x.numel():
            lo, hi = (float(v) for v in x.aminmax())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError("histc(): range of [%s, %s] is not finite" % (_fmt(lo), _fmt(hi)))
        # PyTorch's formula, each step rounded to the input's dtype: bin = (x - lo) * bins / (hi - lo), truncated
        lo_t, hi_t = tensor(lo, dtype=input.dtype), tensor(hi, dtype=input.dtype)
        lo_c, hi_c, width = float(lo_t), float(hi_t), float(hi_t - lo_t)
        pos = ((x - lo_c) * float(bins) / width).to(_C.int64)
        pos = where(pos >= bins, bins - 1, pos)
        inside = (x >= lo_c) & (x <= hi_c)
        r = _bin_count(pos, inside, None, bins, input.dtype, input)
    return r if out is None else write_out(out, r)


method("histc", lambda self, bins=100, min=0, max=0: histc(self, bins, min, max))


@export
def histogram(input, bins, *, range=None, weight=None, density=False, out=None):
    """Histogram of input: bins is a number of equal-width bins over range (default: the data's range) or a
    1-D tensor of monotonically increasing bin edges. Returns (hist, bin_edges)."""
    check_tensor(input, "histogram")
    _require_float(input, "histogram")
    if weight is not None:
        check_tensor(weight, "histogram", "weight")
        if weight._shape != input._shape:
            raise RuntimeError("histogram(): weight should have the same shape as input, but got input with shape "
                               "%s and weight with shape %s" % (_shape_str(input._shape), _shape_str(weight._shape)))
        if weight.dtype is not input.dtype:
            raise RuntimeError("histogram(): input tensor and weight tensor should have the same dtype, but got "
                               "input %s and weight %s" % (input.dtype, weight.dtype))
    with no_grad():
        x = input.reshape(-1)
        if isinstance(bins, Tensor):
            if range is not None:
                raise TypeError("histogram(): range cannot be given with a bins tensor (its edges set the range)")
            if bins.dim() != 1:
                raise RuntimeError("histogram(): bins tensor should have one dimension, but got %d dimensions"
                                   % bins.dim())
            if bins.numel() == 0:
                raise RuntimeError("histogram(): bins tensor should have at least 1 element, but got 0 elements")
            if bins.numel() == 1:
                raise RuntimeError("histogram(): bins must be > 0, but got 0 (a bins tensor of 1 edge)")
            if bins.dtype is not input.dtype:
                raise RuntimeError("histogram(): input tensor and bins tensor should have the same dtype, but got "
                                   "input %s and bins %s" % (input.dtype, bins.dtype))
            edges = bins.detach().clone()
        else:
            nbins = _check_int(bins, "histogram", "bins")
            if nbins <= 0:
                raise RuntimeError("histogram(): bins must be > 0, but got %d" % nbins)
            if range is not None:
                if len(range) != 2:
                    raise ValueError("histogram(): range must be a pair (min, max), got %r" % (range,))
                lo, hi = float(range[0]), float(range[1])
            elif x.numel():
                lo, hi = (float(v) for v in x.aminmax())
            else:
                lo, hi = 0.0, 1.0
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise RuntimeError("histogram(): range [%s, %s] is not finite" % (_fmt(lo), _fmt(hi)))
            if lo > hi:
                raise RuntimeError("histogram(): min should not exceed max, but got min %s max %s"
                                   % (_fmt(lo), _fmt(hi)))
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            edges = _C.linspace(lo, hi, nbins + 1, input.dtype)
            if input._device != "cpu":
                edges = edges.to(input.device)
        nb = edges._shape[0] - 1
        # bin i holds edges[i] <= x < edges[i+1]; the last one also holds x == edges[-1]
        if isinstance(bins, Tensor):
            pos = searchsorted(edges, x, right=True) - 1
        else:
            # equal widths: the bin from (x - lo) / width, then moved by one where rounding put x on the wrong
            # side of an edge (the edges are exact, so the result is what a search over them gives)
            est = ((x - lo) * float(nb) / (hi - lo)).to(_C.int64).clamp(0, nb - 1)
            pos = est - (x < edges.gather(0, est)).to(_C.int64) + (x >= edges.gather(0, est + 1)).to(_C.int64)
        pos = pos.clamp(0, nb - 1)
        first, last = edges.narrow(0, 0, 1), edges.narrow(0, nb, 1)
        inside = (x >= first) & (x <= last)
        hist = _bin_count(pos, inside, weight, nb, input.dtype, input)
        if density:
            hist = hist / hist.sum() / diff(edges)
    r = return_types.histogram(hist, edges)
    if out is not None:
        write_out(out[0], hist)
        write_out(out[1], edges)
        return return_types.histogram(out[0], out[1])
    return r


method("histogram", lambda self, bins, *, range=None, weight=None, density=False: histogram(
    self, bins, range=range, weight=weight, density=density))


# ---------------------------------------------------------------------------------------- cdist

_COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _safe_ratio(g, dist):
    """g / dist with 0 where dist == 0 (and no inf/NaN on either branch, so double backward stays finite)."""
    zero = dist == 0
    return where(zero, 0.0, g / where(zero, 1.0, dist))


class _CdistDirect(Function):
    """p-norm distances from the broadcast differences (B, P, R, M); backward follows PyTorch's cdist gradient
    (zero where the distance is zero)."""

    @staticmethod
    def forward(x1, x2, p):
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        if diff._shape[-1] == 0:
            return _zeros(diff._shape[:-1], x1.dtype, x1)
        if p == 0:
            return (diff != 0).to(x1.dtype).sum(-1)
        a = diff.abs()
        if p == 1:
            return a.sum(-1)
        if p == 2:
            return (a * a).sum(-1).sqrt()
        if p == _INF:
            return a.amax(-1)
        return a.pow(p).sum(-1).pow(1.0 / p)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], inputs[1], out)
        ctx.p = inputs[2]

    @staticmethod
    def backward(ctx, g):
        x1, x2, dist = ctx.saved_tensors
        p = ctx.p
        if p == 0 or x1._shape[-1] == 0:
            return x1 * 0, x2 * 0, None
        diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
        ge = g.unsqueeze(-1)
        de = dist.unsqueeze(-1)
        if p == 1:
            gd = ge * diff.sign()
        elif p == 2:
            gd = diff * _safe_ratio(ge, de)
        elif p == _INF:
            gd = ge * diff.sign() * (diff.abs() == de).to(g.dtype)
        elif p < 2:
            a = diff.abs()
            bad = (de == 0) | ((diff == 0) & (p < 1))
            safe_a = where(a == 0, 1.0, a)
            safe_d = where(de == 0, 1.0, de)
            gd = where(bad, 0.0, diff.sign() * (safe_a / safe_d).pow(p - 1) * ge)
        else:
            a = diff.abs()
            safe_d = where(de == 0, 1.0, de)
            gd = where(de == 0, 0.0, diff * a.pow(p - 2) * ge / safe_d.pow(p - 1))
        return gd.sum(-2), -gd.sum(-3), None


class _CdistMm(Function):
    """Euclidean distances through one matrix product, sqrt(|x1|^2 + |x2|^2 - 2 x1 x2^T), as PyTorch's
    use_mm modes; backward is the matching closed form with zero where the distance is zero."""

    @staticmethod
    def forward(x1, x2):
        n1 = (x1 * x1).sum(-1, keepdim=True)
        n2 = (x2 * x2).sum(-1).unsqueeze(-2)
        d2 = n1 + n2 - 2.0 * x1.matmul(x2.transpose(-1, -2))
        return d2.clamp_min(0.0).sqrt()

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], inputs[1], out)

    @staticmethod
    def backward(ctx, g):
        x1, x2, dist = ctx.saved_tensors
        ratio = _safe_ratio(g, dist)
        g1 = x1 * ratio.sum(-1).unsqueeze(-1) - ratio.matmul(x2)
        g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.transpose(-1, -2).matmul(x1)
        return g1, g2


@export
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distance between each row of x1 (B..., P, M) and each row of x2 (B..., R, M): (B..., P, R).
    The batch dimensions broadcast; p=2 may use a matrix product (compute_mode, as in PyTorch)."""
    if _state.autocast and "cdist" in _state.autocast:
        return _autocast("cdist", cdist, x1, x2, p, compute_mode)
    check_tensor(x1, "cdist", "x1")
    check_tensor(x2, "cdist", "x2")
    if x1.dim() < 2:
        raise RuntimeError("cdist only supports at least 2D tensors, X1 got: %dD" % x1.dim())
    if x2.dim() < 2:
        raise RuntimeError("cdist only supports at least 2D tensors, X2 got: %dD" % x2.dim())
    if x1._shape[-1] != x2._shape[-1]:
        raise RuntimeError("X1 and X2 must have the same number of columns. X1: %d X2: %d"
                           % (x1._shape[-1], x2._shape[-1]))
    if not _is_float(x1):
        raise RuntimeError("cdist only supports floating-point dtypes, X1 got: %s" % x1.dtype)
    if not _is_float(x2):
        raise RuntimeError("cdist only supports floating-point dtypes, X2 got: %s" % x2.dtype)
    if x1.dtype is not x2.dtype:
        raise RuntimeError("cdist(): X1 and X2 must have the same dtype, got %s and %s" % (x1.dtype, x2.dtype))
    if isinstance(p, Tensor) or not isinstance(p, numbers.Real):
        raise TypeError("cdist(): argument 'p' must be a number, not %s" % type(p).__name__)
    p = float(p)
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values, got %s" % p)
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError("%s is not a valid value for compute_mode" % (compute_mode,))
    try:
        batch = tuple(broadcast_shapes(x1._shape[:-2], x2._shape[:-2]))
    except ValueError:
        raise RuntimeError("cdist(): the batch dimensions of X1 %s and X2 %s cannot be broadcast together"
                           % (_shape_str(x1._shape), _shape_str(x2._shape))) from None
    P, R, M = x1._shape[-2], x2._shape[-2], x1._shape[-1]
    if x1._shape[:-2] != batch:
        x1 = x1.expand(batch + (P, M))
    if x2._shape[:-2] != batch:
        x2 = x2.expand(batch + (R, M))
    use_mm = p == 2 and M > 0 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == "use_mm_for_euclid_dist_if_necessary" and (P > 25 or R > 25)))
    if use_mm:
        return _CdistMm.apply(x1, x2)
    return _CdistDirect.apply(x1, x2, p)


# ---------------------------------------------------------------------------------------- diff / logcumsumexp


@export
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (input[i+1] - input[i], repeated n times), after concatenating
    prepend and append along dim; for bool tensors the difference is "not equal"."""
    check_tensor(input, "diff")
    n = _check_int(n, "diff", "n")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError("order must be non-negative but got %d" % n)
    d = _dim_arg(dim, input.dim(), "diff")
    parts = []
    for name, t in (("prepend", prepend), ("input", input), ("append", append)):
        if t is None:
            continue
        if name != "input":
            check_tensor(t, "diff", name)
            if t.dim() != input.dim():
                raise RuntimeError("diff expects prepend or append to be the same dimension as input (input is "
                                   "%d-d, %s is %d-d)" % (input.dim(), name, t.dim()))
            for i in builtins.range(input.dim()):
                if i != d and t._shape[i] != input._shape[i]:
                    raise RuntimeError(
                        "diff expects the shape of tensor to prepend or append to match that of input except along "
                        "the differencing dimension; input.size(%d) = %d, but got tensor.size(%d) = %d"
                        % (i, input._shape[i], i, t._shape[i]))
        parts.append(t)
    if n == 0:  # PyTorch returns a copy of input then, without prepend/append
        return input.clone()
    x = input
    if len(parts) > 1:
        dtype = parts[0].dtype
        for t in parts[1:]:
            dtype = _C.promote_types(dtype, t.dtype)
        x = cat([t.to(dtype) for t in parts], d)
    for _ in builtins.range(n):
        length = x._shape[d]
        if length == 0:
            break
        hi, lo = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = (hi != lo) if x.dtype is _C.bool else hi - lo
    return x


method("diff", lambda self, n=1, dim=-1, prepend=None, append=None: diff(self, n, dim, prepend, append))


def _logaddexp(a, b):
    """log(exp(a) + exp(b)) = max + log1p(exp(min - max)), with the shift replaced by 0 where the max is
    infinite so that -inf + -inf gives -inf (and a zero gradient) rather than NaN."""
    hi = a.maximum(b)
    lo = a.minimum(b)
    shift = where(hi.isinf(), 0.0, hi)
    return hi + (lo - shift).exp().log1p()


@export
def logcumsumexp(input, dim, *, out=None):
    """log(cumsum(exp(input))) along dim, computed stably as a log-space prefix scan (each step combines
    elements 2^k apart with a stable logaddexp, so no intermediate overflows or underflows)."""
    check_tensor(input, "logcumsumexp")
    if not _is_float(input):
        raise NotImplementedError("logcumsumexp(): expected a floating point input tensor, got %s" % input.dtype)
    if not _is_int(dim):
        raise TypeError("logcumsumexp(): argument 'dim' must be int, not %s" % type(dim).__name__)
    if input.dim() == 0:
        _wrap(int(dim), 0)
        r = input.clone()
    else:
        d = _wrap(int(dim), input.dim())
        n = input._shape[d]
        r = input
        step = 1
        while step < n:
            r = cat([r.narrow(d, 0, step), _logaddexp(r.narrow(d, step, n - step), r.narrow(d, 0, n - step))], d)
            step *= 2
        if r is input:
            r = input.clone()
    return r if out is None else write_out(out, r)


method("logcumsumexp", lambda self, dim: logcumsumexp(self, dim))


# ---------------------------------------------------------------------------------------- block_diag / kron


@export
def block_diag(*tensors):
    """A block diagonal matrix from 0-, 1- or 2-d tensors (a scalar is 1x1, a vector one row)."""
    if not tensors:
        return zeros((1, 0))
    mats = []
    dtype = None
    for i, t in enumerate(tensors):
        check_tensor(t, "block_diag", "tensors[%d]" % i)
        if t.dim() > 2:
            raise RuntimeError("torch.block_diag: Input tensors must have 2 or fewer dimensions. Input %d has %d "
                               "dimensions" % (i, t.dim()))
        if t._device != tensors[0]._device:
            raise RuntimeError("torch.block_diag: input tensors must all be on the same device. Input 0 is on %s, "
                               "input %d is on %s" % (tensors[0].device, i, t.device))
        dtype = t.dtype if dtype is None else _C.promote_types(dtype, t.dtype)
        mats.append(t.reshape(1, 1) if t.dim() == 0 else (t.reshape(1, -1) if t.dim() == 1 else t))
    width = builtins.sum(m._shape[1] for m in mats)
    rows = []
    col = 0
    for m in mats:
        r, c = m._shape
        pieces = []
        if col:
            pieces.append(_zeros((r, col), dtype, m))
        pieces.append(m.to(dtype))
        if width - col - c:
            pieces.append(_zeros((r, width - col - c), dtype, m))
        rows.append(cat(pieces, 1) if len(pieces) > 1 else pieces[0])
        col += c
    return cat(rows, 0)


@export
def kron(input, other, *, out=None):
    """Kronecker product: the block tensor of input[i] * other, dims aligned from the right."""
    check_tensor(input, "kron")
    check_tensor(other, "kron", "other")
    nd = builtins.max(input.dim(), other.dim())
    sa = (1,) * (nd - input.dim()) + tuple(input._shape)
    sb = (1,) * (nd - other.dim()) + tuple(other._shape)
    a = input.reshape([v for s in sa for v in (s, 1)])
    b = other.reshape([v for s in sb for v in (1, s)])
    r = (a * b).reshape([x * y for x, y in zip(sa, sb)])
    return r if out is None else write_out(out, r)


method("kron", lambda self, other: kron(self, other))


# ---------------------------------------------------------------------------------------- combinatorics


@export
def cartesian_prod(*tensors):
    """The Cartesian product of 1-D tensors, one row per combination (itertools.product order)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("cartesian_prod(): meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        check_tensor(t, "cartesian_prod", "tensors[%d]" % i)
        if t.dim() != 1:
            raise RuntimeError("Expect a 1D vector, but got shape %s" % _shape_str(t._shape))
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("cartesian_prod(): meshgrid expects all tensors to have the same dtype, got %s and %s"
                               % (tensors[0].dtype, t.dtype))
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def _combination_indices(n, r, with_replacement):
    """(K, r) int64 numpy array of the index tuples of itertools.combinations(_with_replacement)(range(n), r), in
    O(K r) work whatever r is: with fewer tuples than columns, itertools writes them; otherwise each column is
    grown from the previous one (every tuple extended by each index after its last) keeping only a parent
    pointer per tuple, and the rows are read back through the pointers at the end."""
    import itertools
    import math
    k = math.comb(n + r - 1, r) if with_replacement else math.comb(n, r)
    if k * r >= 2 ** 62:
        raise RuntimeError("combinations: the result would have %d rows of %d elements, more than a tensor can hold"
                           % (k, r))
    nbytes = 2 * 8 * k * r  # the indices and a result of up to 8-byte elements
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        ram = None
    if ram and nbytes > ram:
        raise MemoryError("combinations: can't allocate memory: the result of %d x %d needs about %d bytes, more "
                          "than this machine's %d bytes of RAM" % (k, r, nbytes, ram))
    if k == 0:
        return np.zeros((0, r), np.int64)
    if k < r:
        gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
        return np.fromiter(itertools.chain.from_iterable(gen(builtins.range(n), r)), np.int64,
                           count=k * r).reshape(k, r)
    lasts, parents = [np.arange(n, dtype=np.int64)], []
    for _ in builtins.range(r - 1):
        start = lasts[-1] if with_replacement else lasts[-1] + 1
        count = np.maximum(n - start, 0)
        offsets = np.arange(count.sum(), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        parents.append(np.repeat(np.arange(start.size, dtype=np.int64), count))
        lasts.append(np.repeat(start, count) + offsets)
    out = np.empty((lasts[-1].size, r), np.int64)
    rows = np.arange(lasts[-1].size, dtype=np.int64)
    for j in builtins.range(r - 1, -1, -1):
        out[:, j] = lasts[j][rows]
        if j:
            rows = parents[j - 1][rows]
    return out


@export
def combinations(input, r=2, with_replacement=False):
    """All length-r combinations of the elements of a 1-D tensor (itertools.combinations order), one per row."""
    check_tensor(input, "combinations")
    r = _check_int(r, "combinations", "r")
    if input.dim() != 1:
        raise RuntimeError("Expect a 1D vector, but got shape %s" % _shape_str(input._shape))
    if r < 0:
        raise RuntimeError("Expect a non-negative number, but got %d" % r)
    if r == 0:
        return _zeros((0,), input.dtype, input)
    idx = _combination_indices(input._shape[0], r, bool(with_replacement))
    flat = tensor(idx.reshape(-1), dtype=_C.int64, device=input.device)
    return index_select(input, 0, flat).reshape(idx.shape[0], r)


def _tri_indices(row, col, offset, dtype, device, layout, lower, op):
    row = _check_int(row, op, "row")
    col = _check_int(col, op, "col")
    offset = _check_int(offset, op, "offset")
    if row < 0:
        raise RuntimeError("%s(): row must be non-negative, got %d" % (op, row))
    if col < 0:
        raise RuntimeError("%s(): col must be non-negative, got %d" % (op, col))
    if layout is not None and str(layout) not in ("ember.strided", "torch.strided", "strided"):
        raise ValueError("%s(): only the strided layout is supported, got %s" % (op, layout))
    from .creation import _dtype
    dtype = _dtype(dtype, _C.int64)
    if dtype not in (_C.int64, _C.int32):
        raise NotImplementedError("%s(): dtype must be int64 or int32, got %s" % (op, dtype))
    i = np.arange(row, dtype=np.int64)
    if lower:  # row i holds columns 0 .. min(i + offset, col - 1)
        first = np.zeros(row, dtype=np.int64)
        count = np.clip(np.minimum(i + offset + 1, col), 0, None)
    else:  # row i holds columns max(i + offset, 0) .. col - 1
        first = np.clip(i + offset, 0, None)
        count = np.clip(col - first, 0, None)
    # written straight into the result (it can hold 10^8 pairs): rows by repeat, columns as the position
    # within the row plus the row's first column
    out = np.empty((2, int(count.sum())), dtype=np.int64)
    out[0] = np.repeat(i, count)
    np.subtract(np.arange(out.shape[1], dtype=np.int64), np.repeat(np.cumsum(count) - count - first, count),
                out=out[1])
    t = _C.from_numpy(out)
    return t.to(dtype=dtype, device=device) if dtype is not _C.int64 or device is not None else t


@export
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """(2, N) row and column indices of the lower triangle (on and below diagonal `offset`) of a row x col
    matrix, in row-major order."""
    return _tri_indices(row, col, offset, dtype, device, layout, True, "tril_indices")


@export
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """(2, N) row and column indices of the upper triangle (on and above diagonal `offset`) of a row x col
    matrix, in row-major order."""
    return _tri_indices(row, col, offset, dtype, device, layout, False, "triu_indices")
