"""Indexing: x[...] and x[...] = v (ints, slices, None, Ellipsis, integer/bool tensors, lists), gather/scatter,
index_select/index_add/index_fill, masks, nonzero, take. Every op checks its indices before touching memory."""
import numbers

import numpy as np

from .. import _C
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ._util import export, method, needs_grad, write_out
from .pointwise import _check_leaf_inplace, _zeros_like, inplace_via
from .shape import _mark_view
from ..amp.autocast_mode import _dispatch as _autocast


def _index_to_tensor(obj):
    """Converts sequence/ndarray index entries to tensors (bools -> mask, ints -> int64)."""
    from .creation import tensor
    if isinstance(obj, np.ndarray):
        if obj.dtype == np.bool_:
            return tensor(obj)
        return tensor(obj.astype(np.int64, copy=False))
    if isinstance(obj, (list, tuple)):
        if any(isinstance(o, Tensor) for o in obj):
            obj = [o.item() if isinstance(o, Tensor) and o.numel() == 1 else o for o in obj]
        t = tensor(obj)
        if t.dtype.is_floating_point:
            if t.numel() == 0:
                return t.long()
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return t
    if isinstance(obj, numbers.Integral):
        return tensor(int(obj))
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                     "indices (got %s)" % type(obj).__name__)


_C._set_index_converter(_index_to_tensor)


# ---------------------------------------------------------------------------------------- x[index]


class GetItem(Function):
    @staticmethod
    def forward(x, index):
        return _C.getitem(x, index)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.index = inputs[0]._shape, inputs[1]

    @staticmethod
    def backward(ctx, g):
        return IndexPutGrad.apply(g, ctx.shape, ctx.index), None


class IndexPutGrad(Function):
    """Gradient of x[index]: zeros of x's shape with g added at the indexed positions."""

    @staticmethod
    def forward(g, shape, index):
        gx = _C.zeros_meta((shape, g.dtype, g._device))
        _C.setitem_(gx, index, g, True)
        return gx

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.index = inputs[2]

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index], None, None


def _getitem(self, index):
    if _state.enabled and self._requires_grad:
        out = GetItem.apply(self, index)
    else:
        out = _C.getitem(self, index)
    return _mark_view(out, self)


class SetItem(Function):
    """x[index] = value under autograd (x is modified in place)."""

    @staticmethod
    def forward(ctx, x, index, value):
        _C.setitem_(x, index, value, False)
        ctx.mark_dirty(x)
        ctx.index = index
        ctx.value_shape = value._shape if isinstance(value, Tensor) else None
        return x

    @staticmethod
    def backward(ctx, g):
        gx = g.clone()
        _C.setitem_(gx, ctx.index, 0, False)
        gv = None
        if ctx.needs_input_grad[2]:
            gv = g[ctx.index]
        return gx, None, gv


def _setitem(self, index, value):
    if not isinstance(value, (Tensor, numbers.Number)):
        from .creation import tensor
        value = tensor(value, dtype=self.dtype)
    if _state.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
        _check_leaf_inplace(self)
        SetItem.apply(self, index, value)
        return
    _C.setitem_(self, index, value, False)


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem


# ---------------------------------------------------------------------------------------- gather / scatter


class IndexSelect(Function):
    @staticmethod
    def forward(x, dim, index):
        return _C.index_select(x, dim, index)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.dim = inputs[0]._shape, inputs[1]
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return index_add(_C.zeros_meta((ctx.shape, g.dtype, g._device)), ctx.dim, index, g), None, None


@export
def index_select(input, dim, index, *, out=None):
    """Entries of input along dim at the positions in the 1-D index."""
    r = IndexSelect.apply(input, int(dim), index) if needs_grad(input) else _C.index_select(input, int(dim), index)
    return r if out is None else write_out(out, r)


class IndexAdd(Function):
    """out-of-place index_add: input with alpha * source added at index along dim."""

    @staticmethod
    def forward(x, dim, index, src, alpha):
        out = _C.clone(x)
        _C.index_add_(out, dim, index, src, alpha)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dim, ctx.alpha = inputs[1], inputs[4]
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gs = index_select(g, ctx.dim, index) * ctx.alpha if ctx.needs_input_grad[3] else None
        return g, None, None, gs, None


@export
def index_add(input, dim, index, source, *, alpha=1):
    if needs_grad(input, source):
        return IndexAdd.apply(input, int(dim), index, source, float(alpha))
    return IndexAdd.forward(input, int(dim), index, source, float(alpha))


def _index_add_(self, dim, index, source, *, alpha=1):
    if needs_grad(self, source):
        return inplace_via(self, lambda s: IndexAdd.apply(s, int(dim), index, source, float(alpha)))
    _C.index_add_(self, int(dim), index, source, float(alpha))
    return self


class IndexFill(Function):
    @staticmethod
    def forward(x, dim, index, value):
        out = _C.clone(x)
        _C.index_fill_(out, dim, index, value)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dim = inputs[1]
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return index_fill(g, ctx.dim, index, 0), None, None, None


@export
def index_fill(input, dim, index, value):
    if needs_grad(input):
        return IndexFill.apply(input, int(dim), index, value)
    return IndexFill.forward(input, int(dim), index, value)


def _index_fill_(self, dim, index, value):
    if needs_grad(self):
        return inplace_via(self, lambda s: IndexFill.apply(s, int(dim), index, value))
    _C.index_fill_(self, int(dim), index, value)
    return self


@export
def index_copy(input, dim, index, source):
    """input with the slices at index along dim replaced by those of source (a copy, not a sum)."""
    if _state.autocast and "index_copy" in _state.autocast:
        return _autocast("index_copy", index_copy, input, dim, index, source)
    d = int(dim) % builtins_max(input.dim(), 1)
    return index_put(input, (None,) * d + (index,), source)


def builtins_max(a, b):
    return a if a > b else b


method("index_select", index_select)
method("index_add", lambda self, dim, index, source, *, alpha=1: index_add(self, dim, index, source, alpha=alpha))
method("index_add_", _index_add_)
method("index_fill", index_fill)
method("index_fill_", _index_fill_)
method("index_copy", index_copy)
method("index_copy_", lambda self, dim, index, source: self.copy_(index_copy(self, dim, index, source)))


class Gather(Function):
    @staticmethod
    def forward(x, dim, index):
        return _C.gather(x, dim, index)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.dim = inputs[0]._shape, inputs[1]
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return scatter_add(_C.zeros_meta((ctx.shape, g.dtype, g._device)), ctx.dim, index, g), None, None


@export
def gather(input, dim, index, *, sparse_grad=False, out=None):
    """out[i][j] = input[index[i][j]][j] (for dim=0), and so on for other dims."""
    r = Gather.apply(input, int(dim), index) if needs_grad(input) else _C.gather(input, int(dim), index)
    return r if out is None else write_out(out, r)


@export
def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices.reshape(-1))
    return gather(input, dim, indices.expand(*[
        max(a, b) if i != dim % input.dim() else b for i, (a, b) in enumerate(zip(input.shape, indices.shape))]))


class Scatter(Function):
    """Out-of-place scatter (reduce=None) or scatter_add (reduce='add')."""

    @staticmethod
    def forward(x, dim, index, src, add):
        out = _C.clone(x)
        (_C.scatter_add_ if add else _C.scatter_)(out, dim, index, src)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dim, ctx.add = inputs[1], inputs[4]
        ctx.src_tensor = isinstance(inputs[3], Tensor)
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        gx = g if ctx.add else scatter(g, ctx.dim, index, 0.0)
        gs = gather(g, ctx.dim, index) if ctx.src_tensor and ctx.needs_input_grad[3] else None
        return gx, None, None, gs, None


def _scatter(input, dim, index, src, add):
    if isinstance(src, Tensor) and src.dim() == 0 and not add and index.dim() > 0:
        src = src.expand(index.shape)
    if needs_grad(input, src):
        return Scatter.apply(input, int(dim), index, src, add)
    return Scatter.forward(input, int(dim), index, src, add)


@export
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with src (or value) written at index along dim."""
    if src is None:
        src = value
    if reduce not in (None, "add", "sum"):
        raise NotImplementedError("scatter(reduce=%r) is not supported (only None and 'add')" % reduce)
    return _scatter(input, dim, index, src, reduce in ("add", "sum"))


@export
def scatter_add(input, dim, index, src):
    """A copy of input with src added at index along dim (duplicates accumulate)."""
    if _state.autocast and "scatter_add" in _state.autocast:
        return _autocast("scatter_add", scatter_add, input, dim, index, src)
    return _scatter(input, dim, index, src, True)


def _scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    if src is None:
        src = value
    add = reduce in ("add", "sum")
    if needs_grad(self, src):
        return inplace_via(self, lambda s: _scatter(s, dim, index, src, add))
    if isinstance(src, Tensor) and src.dim() == 0 and index.dim() > 0:
        src = src.expand(index.shape)
    (_C.scatter_add_ if add else _C.scatter_)(self, int(dim), index, src)
    return self


method("gather", lambda self, dim, index: gather(self, dim, index))
method("take_along_dim", lambda self, indices, dim=None: take_along_dim(self, indices, dim))
method("scatter", lambda self, dim, index, src=None, value=None, *, reduce=None: scatter(
    self, dim, index, src, value, reduce=reduce))
method("scatter_", _scatter_)
method("scatter_add", lambda self, dim, index, src: scatter_add(self, dim, index, src))
method("scatter_add_", lambda self, dim, index, src: _scatter_(self, dim, index, src, reduce="add"))


class IndexPut(Function):
    """Out-of-place index_put: input with values written (or accumulated) at advanced indices."""

    @staticmethod
    def forward(x, indices, values, accumulate):
        out = _C.clone(x)
        _C.index_put_(out, list(indices), values, accumulate)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.indices, ctx.accumulate = inputs[1], inputs[3]

    @staticmethod
    def backward(ctx, g):
        idx = tuple(i if i is not None else slice(None) for i in ctx.indices)
        gx = g if ctx.accumulate else index_put(g, ctx.indices, _C.zeros_meta(((), g.dtype, g._device)))
        gv = g[idx] if ctx.needs_input_grad[2] else None
        return gx, None, gv, None


@export
def index_put(input, indices, values, accumulate=False):
    if _state.autocast and "index_put" in _state.autocast:
        return _autocast("index_put", index_put, input, indices, values, accumulate)
    indices = tuple(indices)
    if needs_grad(input, values):
        return IndexPut.apply(input, indices, values, bool(accumulate))
    return IndexPut.forward(input, indices, values, bool(accumulate))


def _index_put_(self, indices, values, accumulate=False):
    indices = tuple(indices)
    if needs_grad(self, values):
        return inplace_via(self, lambda s: IndexPut.apply(s, indices, values, bool(accumulate)))
    _C.index_put_(self, list(indices), values, bool(accumulate))
    return self


method("index_put", lambda self, indices, values, accumulate=False: index_put(self, indices, values, accumulate))
method("index_put_", _index_put_)


# ---------------------------------------------------------------------------------------- masks


class MaskedFill(Function):
    @staticmethod
    def forward(x, mask, value):
        shape = _broadcast(x._shape, mask._shape)
        out = _C.clone(x) if shape == x._shape else _C.contiguous(_C.expand(x, shape))
        _C.masked_fill_(out, mask, value)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1])
        ctx.value_tensor = isinstance(inputs[2], Tensor)

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        gv = None
        if ctx.value_tensor and ctx.needs_input_grad[2]:
            gv = where_(mask, g, 0.0).sum()
        return masked_fill(g, mask, 0.0), None, gv


def where_(c, a, b):
    from .pointwise import where
    return where(c, a, b)


def _broadcast(a, b):
    return tuple(np.broadcast_shapes(a, b))


@export
def masked_fill(input, mask, value):
    """A copy of input with value where mask is True."""
    if needs_grad(input, value):
        return MaskedFill.apply(input, mask, value)
    return MaskedFill.forward(input, mask, value)


def _masked_fill_(self, mask, value):
    if needs_grad(self, value):
        return inplace_via(self, lambda s: MaskedFill.apply(s, mask, value))
    _C.masked_fill_(self, mask, value)
    return self


class MaskedSelect(Function):
    @staticmethod
    def forward(x, mask):
        return _C.masked_select(x, mask)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape = inputs[0]._shape
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        shape = _broadcast(ctx.shape, mask._shape)
        full_mask = mask.expand(shape)
        gx = index_put(_C.zeros_meta((shape, g.dtype, g._device)), (full_mask,), g)
        return gx, None


@export
def masked_select(input, mask, *, out=None):
    """1-D tensor of the elements of input where mask is True."""
    r = MaskedSelect.apply(input, mask) if needs_grad(input) else _C.masked_select(input, mask)
    return r if out is None else write_out(out, r)


@export
def masked_scatter(input, mask, source):
    """input with the positions where mask is True filled, in order, from source."""
    shape = _broadcast(input._shape, mask._shape)
    m = mask.expand(shape)
    n = int(_C.item(_C.sum(m, [], False, None)))
    vals = source.reshape(-1)[:n]
    return index_put(input.expand(shape) if input._shape != shape else input, (m,), vals)


method("masked_fill", masked_fill)
method("masked_fill_", _masked_fill_)
method("masked_select", masked_select)
method("masked_scatter", masked_scatter)
method("masked_scatter_", lambda self, mask, source: self.copy_(masked_scatter(self, mask, source)))


@export
def nonzero(input, *, out=None, as_tuple=False):
    """Indices of nonzero elements: [n, ndim] int64, or a tuple of 1-D index tensors with as_tuple."""
    r = _C.nonzero(input)
    if as_tuple:
        if input.dim() == 0:
            return (_C.full((r._shape[0],), 0, _C.int64),)
        return tuple(_C.select(r, 1, d) for d in range(input.dim()))
    return r if out is None else write_out(out, r)


@export
def argwhere(input):
    return _C.nonzero(input)


method("nonzero", lambda self, *, as_tuple=False: nonzero(self, as_tuple=as_tuple))
method("argwhere", argwhere)


class Take(Function):
    @staticmethod
    def forward(x, index):
        return _C.take(x, index)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape = inputs[0]._shape
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        n = 1
        for s in ctx.shape:
            n *= s
        flat = index_add(_C.zeros_meta(((n,), g.dtype, g._device)), 0, index.reshape(-1) % max(n, 1), g.reshape(-1))
        return flat.reshape(ctx.shape), None


@export
def take(input, index):
    """Elements of the flattened input at index."""
    return Take.apply(input, index) if needs_grad(input) else _C.take(input, index)


method("take", take)
def _put_(self, index, source, accumulate=False):
    _index_put_(self.view(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return self


method("put_", _put_)
