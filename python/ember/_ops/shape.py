"""Shape and view ops. Views share storage with their input and remember it as ``_base`` (so an in-place
change through a view updates the base's history); joins (cat, stack) and repeat/flip copy."""
import builtins
import numbers

from .. import _C
from .._tensor import Tensor, _shape_args
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ._util import check_tensor, export, method, needs_grad, write_out
from ..amp.autocast_mode import _dispatch as _autocast


def _mark_view(out, x):
    """Records x's storage owner as out's base when out really is a view of x."""
    if _C.same_storage(out, x):
        base = x._base
        out._base = base if base is not None else x
    return out


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


# ---------------------------------------------------------------------------------------- reshaping views


class Reshape(Function):
    """view / reshape / flatten / unflatten / squeeze / unsqueeze: the gradient is reshaped back."""

    @staticmethod
    def forward(x, fn, args):
        return fn(x, *args)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape = inputs[0]._shape

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


def _reshape_like(cop):
    def op(x, *args):
        out = Reshape.apply(x, cop, args) if _state.enabled and x._requires_grad else cop(x, *args)
        return _mark_view(out, x)
    return op


_view = _reshape_like(_C.view)
_reshape = _reshape_like(_C.reshape)
_flatten = _reshape_like(_C.flatten)
_unflatten = _reshape_like(_C.unflatten)
_squeeze_all = _reshape_like(_C.squeeze)
_squeeze_dims = _reshape_like(_C.squeeze_dims)
_unsqueeze = _reshape_like(_C.unsqueeze)


def _view_method(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], _C.dtype):
        if shape[0] is self.dtype:
            return _C.alias(self)  # as in PyTorch, a view as a dtype is outside the graph
        raise NotImplementedError("view(dtype) (reinterpreting the bytes of %s as %s) is not supported"
                                  % (self.dtype, shape[0]))
    return _view(self, tuple(_shape_args(shape)))


method("view", _view_method)
method("view_as", lambda self, other: _view(self, other._shape))
method("reshape", lambda self, *shape: _reshape(self, tuple(_shape_args(shape))))
method("reshape_as", lambda self, other: _reshape(self, other._shape))


@export
def reshape(input, shape):
    """input with a new shape (a view when strides allow, else a copy)."""
    check_tensor(input, "reshape")
    return _reshape(input, tuple(shape))


@export
def flatten(input, start_dim=0, end_dim=-1):
    """input with dims start_dim..end_dim merged into one; input itself when that merges nothing."""
    check_tensor(input, "flatten")
    start_dim, end_dim = int(start_dim), int(end_dim)
    n = input.dim()
    if n and -n <= start_dim < n and -n <= end_dim < n and start_dim % n == end_dim % n:
        return input
    return _flatten(input, start_dim, end_dim)


@export
def unflatten(input, dim, sizes):
    check_tensor(input, "unflatten")
    return _unflatten(input, int(dim), tuple(sizes))


@export
def ravel(input):
    """A contiguous 1-D tensor of input's elements (a view when input is contiguous, else a copy)."""
    check_tensor(input, "ravel")
    return _view(input.contiguous(), (-1,))


@export
def squeeze(input, dim=None):
    """Removes size-1 dims (all, or the given ones)."""
    check_tensor(input, "squeeze")
    if dim is None:
        return _squeeze_all(input)
    if isinstance(dim, numbers.Integral):
        return _squeeze_dims(input, (int(dim),))
    return _squeeze_dims(input, tuple(dim))


@export
def unsqueeze(input, dim):
    """Inserts a size-1 dim at position dim."""
    check_tensor(input, "unsqueeze")
    return _unsqueeze(input, int(dim))


method("flatten", flatten)
method("unflatten", unflatten)
method("ravel", ravel)
method("squeeze", squeeze)
method("unsqueeze", unsqueeze)
method("squeeze_", lambda self, dim=None: _set_geometry(self, squeeze(self.detach(), dim)))
method("unsqueeze_", lambda self, dim: _set_geometry(self, unsqueeze(self.detach(), dim)))


def _set_geometry(self, view):
    if _state.enabled and self._requires_grad:
        raise RuntimeError("in-place shape changes (squeeze_/unsqueeze_/t_/transpose_) are not supported on "
                           "tensors that require grad; use the out-of-place version")
    self.data = view
    return self


# ---------------------------------------------------------------------------------------- permutations


class Permute(Function):
    @staticmethod
    def forward(x, perm):
        return _C.permute(x, perm)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.perm = [p % builtins.max(inputs[0].dim(), 1) for p in inputs[1]]

    @staticmethod
    def backward(ctx, g):
        return g.permute(_inverse(ctx.perm)), None


class Transpose(Function):
    @staticmethod
    def forward(x, d0, d1):
        return _C.transpose(x, d0, d1)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dims = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.dims), None, None


@export
def permute(input, dims):
    """A view with dims reordered."""
    check_tensor(input, "permute")
    dims = tuple(dims)
    out = Permute.apply(input, dims) if _state.enabled and input._requires_grad else _C.permute(input, dims)
    return _mark_view(out, input)


@export
def transpose(input, dim0, dim1):
    """A view with dims dim0 and dim1 swapped."""
    check_tensor(input, "transpose")
    out = Transpose.apply(input, dim0, dim1) if _state.enabled and input._requires_grad else _C.transpose(
        input, dim0, dim1)
    return _mark_view(out, input)


@export
def t(input):
    """Transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    check_tensor(input, "t")
    if input.dim() > 2:
        raise RuntimeError("t() expects a tensor with <= 2 dimensions, but self is %dD" % input.dim())
    return transpose(input, 0, 1) if input.dim() == 2 else _mark_view(_C.alias(input) if not (
        _state.enabled and input._requires_grad) else Reshape.apply(input, _C.reshape, (input._shape,)), input)


@export
def movedim(input, source, destination):
    """Moves dims from source positions to destination positions."""
    check_tensor(input, "movedim")
    nd = input.dim()
    src = [source] if isinstance(source, numbers.Integral) else list(source)
    dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError("movedim: Invalid source or destination dims: source (%s dims) should contain the same "
                           "number of dims as destination (%s dims)" % (src, dst))
    src = [s % builtins.max(nd, 1) for s in src]
    dst = [d % builtins.max(nd, 1) for d in dst]
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in builtins.range(nd) if d not in src)
    order = [o if o is not None else next(rest) for o in order]
    return permute(input, order)


export(movedim, name="moveaxis")
export(transpose, name="swapaxes")
export(transpose, name="swapdims")
method("permute", lambda self, *dims: permute(self, _shape_args(dims)))
method("transpose", transpose)
method("swapaxes", transpose)
method("swapdims", transpose)
method("t", t)
method("movedim", movedim)
method("moveaxis", movedim)
method("t_", lambda self: _set_geometry(self, t(self.detach())))
method("transpose_", lambda self, d0, d1: _set_geometry(self, transpose(self.detach(), d0, d1)))


@export
def adjoint(input):
    return transpose(input, -2, -1)


# ---------------------------------------------------------------------------------------- expand


class Expand(Function):
    @staticmethod
    def forward(x, sizes):
        return _C.expand(x, sizes)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine sums g down to the input's shape


def _expand(x, sizes):
    out = Expand.apply(x, sizes) if _state.enabled and x._requires_grad else _C.expand(x, sizes)
    return _mark_view(out, x)


method("expand", lambda self, *sizes: _expand(self, tuple(_shape_args(sizes))))
method("expand_as", lambda self, other: _expand(self, other._shape))


@export
def broadcast_to(input, size):
    return _expand(input, tuple(size))


@export
def broadcast_shapes(*shapes):
    import numpy as np
    return _Size(np.broadcast_shapes(*[tuple(s) if not isinstance(s, numbers.Integral) else (s,) for s in shapes]))


def _Size(t):
    from .._tensor import Size
    return Size(t)


@export
def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common shape."""
    shape = broadcast_shapes(*[t._shape for t in tensors])
    return tuple(_expand(t, shape) for t in tensors)


method("broadcast_to", broadcast_to)


# ---------------------------------------------------------------------------------------- region views


class _ViewGrad(Function):
    """The gradient of a region view (select, narrow, slicing, diagonal, unfold, as_strided): zeros of the
    input's shape with g put back into the region (summed where the view overlaps itself)."""

    @staticmethod
    def forward(g, shape, spec):
        name, args, overlapping = spec
        gx = _C.zeros_meta((shape, g.dtype))
        if not overlapping:
            _C.copy_(getattr(_C, name)(gx, *args), g)
            return gx
        n = 1
        for s in shape:
            n *= s
        pos = getattr(_C, name)(_C.reshape(_C.arange(0.0, float(n), 1.0, _C.int64), shape), *args)
        flat = _C.reshape(gx, (n,))
        _C.index_add_(flat, 0, _C.reshape(pos, (-1,)), _C.reshape(g, (-1,)), 1.0)
        return gx

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.spec = inputs[2]

    @staticmethod
    def backward(ctx, gg):
        name, args, _ = ctx.spec
        return _VIEW_FNS[name](gg, *args), None, None


class RegionView(Function):
    @staticmethod
    def forward(x, spec):
        name, args, _ = spec
        return getattr(_C, name)(x, *args)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.spec = inputs[0]._shape, inputs[1]

    @staticmethod
    def backward(ctx, g):
        return _ViewGrad.apply(g, ctx.shape, ctx.spec), None


def _region(x, name, args, overlapping=False):
    if _state.enabled and x._requires_grad:
        out = RegionView.apply(x, (name, args, overlapping))
    else:
        out = getattr(_C, name)(x, *args)
    return _mark_view(out, x)


@export
def select(input, dim, index):
    """The slice at index along dim (removes dim)."""
    check_tensor(input, "select")
    return _region(input, "select", (int(dim), int(index)))


@export
def narrow(input, dim, start, length):
    """length elements from start along dim (a view)."""
    check_tensor(input, "narrow")
    if isinstance(start, Tensor):
        start = int(start.item())
    return _region(input, "narrow", (int(dim), int(start), int(length)))


@export
def diagonal(input, offset=0, dim1=0, dim2=1):
    return _region(input, "diagonal", (int(offset), int(dim1), int(dim2)))


def _unfold(input, dimension, size, step):
    return _region(input, "unfold", (int(dimension), int(size), int(step)), overlapping=True)


@export
def as_strided(input, size, stride, storage_offset=None):
    off = input.storage_offset() if storage_offset is None else int(storage_offset)
    return _region(input, "as_strided", (tuple(size), tuple(stride), off), overlapping=True)


_VIEW_FNS = {"select": select, "narrow": narrow, "diagonal": diagonal, "unfold": _unfold,
             "as_strided": as_strided, "slice": lambda x, d, s, e, st: _region(x, "slice", (d, s, e, st)),
             "getitem": lambda x, index: x[index]}

method("select", select)
method("narrow", narrow)
method("diagonal", diagonal)
method("unfold", _unfold)
method("as_strided", as_strided)


@export
def unbind(input, dim=0):
    """Tuple of all slices along dim."""
    check_tensor(input, "unbind")
    n = input._shape[dim] if input.dim() else 0
    if input.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return tuple(select(input, dim, i) for i in builtins.range(n))


@export
def split(tensor, split_size_or_sections, dim=0):
    """Splits into chunks of split_size (the last may be smaller) or into the given section sizes."""
    n = tensor.size(dim)
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0 and n > 0:
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got dimension size of %d" % n)
        if n == 0:
            return (tensor,)
        return tuple(narrow(tensor, dim, s, builtins.min(size, n - s)) for s in builtins.range(0, n, size))
    sections = [int(s) for s in split_size_or_sections]
    if builtins.sum(sections) != n:
        raise RuntimeError("split_with_sizes expects split_sizes to sum exactly to %d (input tensor's size at "
                           "dimension %d), but got split_sizes=%s" % (n, dim, sections))
    out, start = [], 0
    for s in sections:
        out.append(narrow(tensor, dim, start, s))
        start += s
    return tuple(out)


@export
def chunk(input, chunks, dim=0):
    """Splits into `chunks` pieces (fewer when the dim is too small)."""
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: %d" % chunks)
    n = input.size(dim)
    size = (n + chunks - 1) // chunks
    return split(input, builtins.max(size, 1), dim) if n else tuple(
        narrow(input, dim, 0, 0) for _ in builtins.range(chunks))


@export
def tensor_split(input, indices_or_sections, dim=0):
    n = input.size(dim)
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError("number of sections must be larger than 0, got %d" % k)
        if k > builtins.max(n, 1 << 24):
            # k - n of the pieces are empty; PyTorch runs out of memory (std::bad_alloc) building them
            raise RuntimeError("tensor_split: %d sections of a dimension of size %d would create %d tensors, more "
                               "than memory holds" % (k, n, k))
        base, extra = divmod(n, k)
        sizes = [base + 1 if i < extra else base for i in builtins.range(k)]
    else:
        idx = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
        sizes = [builtins.max(idx[i + 1] - idx[i], 0) for i in builtins.range(len(idx) - 1)]
    return split(input, sizes, dim)


method("unbind", unbind)
method("split", lambda self, split_size, dim=0: split(self, split_size, dim))
method("chunk", lambda self, chunks, dim=0: chunk(self, chunks, dim))
method("tensor_split", lambda self, ios, dim=0: tensor_split(self, ios, dim))


# ---------------------------------------------------------------------------------------- joins


class Cat(Function):
    @staticmethod
    def forward(dim, *tensors):
        return _C.cat(list(tensors), dim)

    @staticmethod
    def setup_context(ctx, inputs, out):
        dim = inputs[0]
        ctx.dim = dim % builtins.max(out.dim(), 1)
        ctx.sizes = [t._shape[ctx.dim] if t.dim() else 0 for t in inputs[1:]]
        ctx.skip = [t.dim() == 1 and t.numel() == 0 and out.dim() != 1 for t in inputs[1:]]

    @staticmethod
    def backward(ctx, g):
        grads, start = [None], 0
        for size, skip in zip(ctx.sizes, ctx.skip):
            if skip:  # a legacy empty 1-D input: its gradient is empty too (as in PyTorch), not None
                grads.append(_C.full((0,), 0, g.dtype))
                continue
            grads.append(narrow(g, ctx.dim, start, size))
            start += size
        return tuple(grads)


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError("%s(): argument 'tensors' must be a sequence of Tensors, not Tensor" % name)
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError("%s(): expected Tensor as element %d in argument 0, but got %s"
                            % (name, i, type(t).__name__))
    return tensors


@export
def cat(tensors, dim=0, *, out=None):
    """Concatenates tensors along an existing dim."""
    if _state.autocast and out is None and "cat" in _state.autocast:
        return _autocast("cat", cat, tensors, dim)
    tensors = _tensor_list(tensors, "cat")
    r = Cat.apply(int(dim), *tensors) if needs_grad(*tensors) else _C.cat(tensors, int(dim))
    return r if out is None else write_out(out, r)


export(cat, name="concat")
export(cat, name="concatenate")


@export
def stack(tensors, dim=0, *, out=None):
    """Stacks equal-shaped tensors along a new dim."""
    if _state.autocast and out is None and "stack" in _state.autocast:
        return _autocast("stack", stack, tensors, dim)
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t._shape != tensors[0]._shape:
            raise RuntimeError("stack expects each tensor to be equal size, but got %s at entry 0 and %s at entry %d"
                               % (list(tensors[0].shape), list(t.shape), i))
    d = int(dim)
    d = d + tensors[0].dim() + 1 if d < 0 else d
    return cat([unsqueeze(t, d) for t in tensors], d, out=out)


@export
def hstack(tensors):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


@export
def vstack(tensors):
    return cat([atleast_2d(t) for t in tensors], 0)


export(vstack, name="row_stack")


@export
def dstack(tensors):
    return cat([atleast_3d(t) for t in tensors], 2)


@export
def column_stack(tensors):
    return hstack([t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors])


@export
def atleast_1d(t):
    return t.reshape(1) if t.dim() == 0 else t


@export
def atleast_2d(t):
    return t.reshape(1, -1) if t.dim() < 2 and t.dim() == 1 else (t.reshape(1, 1) if t.dim() == 0 else t)


@export
def atleast_3d(t):
    if t.dim() == 0:
        return t.reshape(1, 1, 1)
    if t.dim() == 1:
        return t.reshape(1, -1, 1)
    if t.dim() == 2:
        return t.unsqueeze(-1)
    return t


# ---------------------------------------------------------------------------------------- copies


class Repeat(Function):
    @staticmethod
    def forward(x, repeats):
        return _C.repeat(x, repeats)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.repeats = inputs[0]._shape, inputs[1]

    @staticmethod
    def backward(ctx, g):
        lead = len(ctx.repeats) - len(ctx.shape)
        xs = (1,) * lead + tuple(ctx.shape)
        inter = []
        for r, s in zip(ctx.repeats, xs):
            inter += [r, s]
        gx = g.reshape(inter).sum(tuple(builtins.range(0, 2 * len(xs), 2)))
        return gx.reshape(ctx.shape), None


def _repeat(self, *sizes):
    sizes = tuple(_shape_args(sizes))
    return Repeat.apply(self, sizes) if needs_grad(self) else _C.repeat(self, sizes)


method("repeat", _repeat)


@export
def tile(input, dims):
    dims = tuple(dims)
    if len(dims) < input.dim():
        dims = (1,) * (input.dim() - len(dims)) + dims
    return _repeat(input, dims)


method("tile", lambda self, *dims: tile(self, _shape_args(dims)))


class Flip(Function):
    @staticmethod
    def forward(x, dims):
        return _C.flip(x, dims)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.dims = inputs[1]

    @staticmethod
    def backward(ctx, g):
        return g.flip(ctx.dims), None


@export
def flip(input, dims):
    """Reverses the order of elements along dims (a copy)."""
    check_tensor(input, "flip")
    dims = (int(dims),) if isinstance(dims, numbers.Integral) else tuple(dims)
    return Flip.apply(input, dims) if needs_grad(input) else _C.flip(input, dims)


@export
def fliplr(input):
    return flip(input, (1,))


@export
def flipud(input):
    return flip(input, (0,))


method("flip", lambda self, *dims: flip(self, _shape_args(dims)))
method("fliplr", fliplr)
method("flipud", flipud)


@export
def roll(input, shifts, dims=None):
    """Rotates elements along dims by shifts (flattened when dims is None)."""
    check_tensor(input, "roll")
    if dims is None:
        return roll(input.reshape(-1), shifts, 0).reshape(input.shape)
    shifts = [shifts] if isinstance(shifts, numbers.Integral) else list(shifts)
    dims = [dims] if isinstance(dims, numbers.Integral) else list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError("shifts and dimensions must align. shifts: %d, dims:%d" % (len(shifts), len(dims)))
    out = input
    for s, d in zip(shifts, dims):
        n = out.size(d)
        if n == 0:
            continue
        s = s % n
        if s:
            out = cat([narrow(out, d, n - s, s), narrow(out, d, 0, n - s)], d)
    return out


method("roll", lambda self, shifts, dims=None: roll(self, shifts, dims))


@export
def rot90(input, k=1, dims=(0, 1)):
    k = k % 4
    d0, d1 = dims
    if k == 1:
        return flip(input, (d1,)).transpose(d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return flip(input, (d0,)).transpose(d0, d1)
    return clone_(input)


def clone_(x):
    return x.clone()


method("rot90", rot90)


class Tril(Function):
    @staticmethod
    def forward(x, k, upper):
        return (_C.triu if upper else _C.tril)(x, k)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.k, ctx.upper = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        return (triu if ctx.upper else tril)(g, ctx.k), None, None


@export
def tril(input, diagonal=0, *, out=None):
    """Lower triangle (elements j <= i + diagonal); the rest zero."""
    check_tensor(input, "tril")
    r = Tril.apply(input, int(diagonal), False) if needs_grad(input) else _C.tril(input, int(diagonal))
    return r if out is None else write_out(out, r)


@export
def triu(input, diagonal=0, *, out=None):
    """Upper triangle (elements j >= i + diagonal); the rest zero."""
    check_tensor(input, "triu")
    r = Tril.apply(input, int(diagonal), True) if needs_grad(input) else _C.triu(input, int(diagonal))
    return r if out is None else write_out(out, r)


method("tril", tril)
method("triu", triu)
method("tril_", lambda self, diagonal=0: self.copy_(tril(self, diagonal)))
method("triu_", lambda self, diagonal=0: self.copy_(triu(self, diagonal)))


@export
def diag(input, diagonal=0):
    """1-D input: a square matrix with input on a diagonal; 2-D input: that diagonal as a 1-D tensor."""
    check_tensor(input, "diag")
    if input.dim() == 1:
        n = input.numel() + builtins.abs(diagonal)
        from .creation import zeros
        out = zeros(n, n, dtype=input.dtype)
        d = diagonal_scatter(out, input, diagonal)
        return d
    if input.dim() == 2:
        return _region(input, "diagonal", (int(diagonal), 0, 1))
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got %dD" % input.dim())


@export
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    if (dim1, dim2) != (-2, -1):
        raise NotImplementedError("diag_embed only supports dim1=-2, dim2=-1")
    n = input._shape[-1] + builtins.abs(offset)
    from .creation import zeros
    out = zeros(*input._shape[:-1], n, n, dtype=input.dtype)
    return diagonal_scatter(out, input, offset, -2, -1)


class DiagonalScatter(Function):
    @staticmethod
    def forward(base, src, offset, d1, d2):
        out = _C.clone(base)
        _C.copy_(_C.diagonal(out, offset, d1, d2), src)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.args = inputs[2:]

    @staticmethod
    def backward(ctx, g):
        offset, d1, d2 = ctx.args
        gb = DiagonalScatter.apply(g, _C.zeros_meta((diagonal(g, offset, d1, d2)._shape, g.dtype)), offset, d1, d2)
        return gb, diagonal(g, offset, d1, d2), None, None, None


@export
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    if needs_grad(input, src):
        return DiagonalScatter.apply(input, src, offset, dim1, dim2)
    return DiagonalScatter.forward(input, src, offset, dim1, dim2)


@export
def trace(input):
    if _state.autocast and "trace" in _state.autocast:
        return _autocast("trace", trace, input)
    if input.dim() != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim %d" % input.dim())
    return diagonal(input).sum()


method("diag", diag)
method("diag_embed", diag_embed)
method("trace", trace)


@export
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeats each element `repeats` times (along dim, or of the flattened input). The gather indices are
    built with kernels (a cumulative sum over marks at the repeat boundaries), so the work is proportional to
    the output and a huge total fails at allocation instead of looping."""
    from .creation import arange, ones, tensor, zeros
    from .indexing import index_select
    if repeats is None:  # repeat_interleave(repeats): indices repeated by themselves
        counts = input
        if counts.dim() > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor, got %d dims" % counts.dim())
        return repeat_interleave(arange(counts.numel(), device=counts.device), counts.reshape(-1), 0,
                                 output_size=output_size)
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    n = input.size(dim)
    if isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        reps = None
        if repeats < 0:
            raise RuntimeError("repeat_interleave: repeats can not be negative, got %d" % repeats)
        total = n * int(repeats)
    else:
        reps = repeats if isinstance(repeats, Tensor) else tensor(repeats)
        if reps.dtype not in (_C.int64, _C.int32):
            raise RuntimeError("repeat_interleave: repeats has to be Long or Int tensor, got %s" % reps.dtype)
        if reps.dim() > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor, got %d dims" % reps.dim())
        reps = reps.reshape(-1).to(_C.int64)
        if reps.numel() == 1:
            reps = reps.expand(n)
        elif reps.numel() != n:
            raise RuntimeError("repeat_interleave: repeats must have the same size as input along dim, but got "
                               "repeats.size(0) = %d and input.size(%d) = %d" % (reps.numel(), dim, n))
        if n and bool((reps < 0).any()):
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        total = int(reps.sum()) if n else 0
    if output_size is not None and int(output_size) != total:
        raise RuntimeError("repeat_interleave: output_size %d does not match the sum of repeats %d"
                           % (int(output_size), total))
    device = input.device
    if reps is None:
        idx = arange(n, device=device).reshape(-1, 1).expand(n, int(repeats)).reshape(-1)
    else:
        # a 1 where each input index after the first starts (indices with zero repeats add to the same spot,
        # leading ones at position 0); the running sum is then the input index of every output position
        starts = reps.to(device).cumsum(0)[:-1]
        starts = starts[starts < total]
        marks = zeros(total, dtype=_C.int64, device=device)
        marks.index_add_(0, starts, ones(starts.numel(), dtype=_C.int64, device=device))
        idx = marks.cumsum(0)
    return index_select(input, dim, idx)


method("repeat_interleave", lambda self, repeats=None, dim=None, *, output_size=None: repeat_interleave(
    self, repeats, dim, output_size=output_size))


@export
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors ('ij' or 'xy' indexing)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError("meshgrid: indexing must be 'ij' or 'xy', got %r" % (indexing,))
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = [t.numel() for t in ts]
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(t.reshape(view).expand(shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)
