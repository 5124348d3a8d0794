"""Sparse COO tensors: the layout ``nn.Embedding(sparse=True)`` gives its weight gradient, and what
``optim.SparseAdam``, ``SGD`` and ``Adagrad`` consume (PyTorch's ``torch.sparse_coo``).

A sparse tensor holds ``indices`` (int64, ``[sparse_dim, nnz]``) and ``values`` (``[nnz, *dense_size]``) of a
tensor of ``size``; repeated index columns add up (uncoalesced) until ``coalesce()`` sorts and sums them. It is
an ``ember.Tensor`` whose C tensor is only a zero-stride stand-in with the full size, dtype and device (so
``.shape``, ``.dtype``, ``.device``, ``numel()`` and assigning it to a parameter's ``.grad`` work); the C++
bindings refuse that stand-in with ``NotImplementedError``, so an op without a sparse path raises instead of
computing on zeros. The sparse arithmetic here is written in dense ember ops on indices and values, so it runs
on any device. Autograd through sparse tensors is not supported (they are gradients, not graph inputs).
"""
import numbers

from . import _C
from ._tensor import Size, Tensor

__all__ = ["SparseCooTensor", "sparse_coo_tensor"]

_set_data = _C.TensorBase.data.__set__


def _E():
    import ember
    return ember


class SparseCooTensor(Tensor):
    """A tensor in COO layout (``layout=ember.sparse_coo``); build one with :func:`ember.sparse_coo_tensor`."""

    __slots__ = ()
    is_sparse = True

    def __new__(cls, *args, **kwargs):
        raise TypeError("build sparse tensors with ember.sparse_coo_tensor(indices, values, size)")

    @classmethod
    def _make(cls, indices, values, size, coalesced):
        self = _C.TensorBase.__new__(cls)
        _set_data(self, values.new_zeros(()).expand(tuple(size)))  # the stand-in: no memory, full size
        d = self.__dict__
        d["_sp_indices"] = indices
        d["_sp_values"] = values
        d["_sp_coalesced"] = bool(coalesced)
        return self

    # ------------------------------------------------------------------ layout and parts
    @property
    def layout(self):
        from ._device import sparse_coo
        return sparse_coo

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        raise RuntimeError("setting .data of a sparse tensor is not supported")

    @property
    def _base(self):
        return None

    def sparse_dim(self):
        return self._sp_indices.shape[0]

    def dense_dim(self):
        return self._sp_values.dim() - 1

    def _nnz(self):
        return self._sp_indices.shape[1]

    def _indices(self):
        return self._sp_indices

    def _values(self):
        return self._sp_values

    def indices(self):
        if not self._sp_coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return self._sp_indices

    def values(self):
        if not self._sp_coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        return self._sp_values

    def is_coalesced(self):
        return self._sp_coalesced

    def _with(self, values, indices=None, coalesced=None):
        return SparseCooTensor._make(self._sp_indices if indices is None else indices, values, self._shape,
                                     self._sp_coalesced if coalesced is None else coalesced)

    # ------------------------------------------------------------------ coalescing and conversion
    def _linear_index(self):
        """Each index column as one row-major position over the sparse dims (int64)."""
        idx = self._sp_indices
        sizes = self._shape[:idx.shape[0]]
        total = 1
        for s in sizes:
            total *= max(s, 1)
        if total >= 2 ** 63:
            raise RuntimeError("sparse tensor: the sparse dims %s hold more than 2**63 positions" % list(sizes))
        lin = None
        for d, s in enumerate(sizes):
            lin = idx[d] if lin is None else lin * s + idx[d]
        return lin if lin is not None else idx.new_zeros((idx.shape[1],))

    def coalesce(self):
        """The same tensor with sorted, unique index columns (values at repeated columns summed)."""
        if self._sp_coalesced:
            return self
        E = _E()
        sdim = self.sparse_dim()
        values = self._sp_values
        if sdim == 0:  # a dense tensor in disguise: at most one (empty) index column
            summed = values.sum(0, keepdim=True) if values.shape[0] > 1 else values.clone()
            return SparseCooTensor._make(self._sp_indices[:, :summed.shape[0]], summed, self._shape, True)
        lin = self._linear_index()
        uniq, inv = E.unique(lin, sorted=True, return_inverse=True)
        summed = values.new_zeros((uniq.shape[0],) + tuple(values.shape[1:])).index_add_(0, inv, values)
        rows = []
        rest = uniq
        for s in reversed(self._shape[:sdim]):
            rows.append(rest % s)
            rest = rest.div(s, rounding_mode="floor")
        indices = E.stack(rows[::-1]) if rows else self._sp_indices[:, :0]
        return SparseCooTensor._make(indices, summed, self._shape, True)

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor (zeros where no index column points, values summed where several do)."""
        values = self._sp_values if dtype is None else self._sp_values.to(dtype)
        if self.sparse_dim() == 0:
            return values.sum(0) if values.shape[0] else values.new_zeros(tuple(self._shape))
        out = values.new_zeros(tuple(self._shape))
        if self._nnz():
            out.index_put_(tuple(self._sp_indices.unbind(0)), values, accumulate=True)
        return out

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if sparse_dim is not None and sparse_dim != self.sparse_dim():
            raise RuntimeError("to_sparse: changing the sparse_dim of a sparse tensor is not supported")
        return self

    def clone(self, *, memory_format=None):
        return self._with(self._sp_values.clone(), self._sp_indices.clone())

    def detach(self):
        return self._with(self._sp_values.detach())

    def detach_(self):
        return self

    def requires_grad_(self, requires_grad=True):
        if requires_grad:
            raise RuntimeError("Ember's sparse tensors do not support autograd (requires_grad=True); use a dense "
                               "tensor, or nn.Embedding(sparse=True) for sparse gradients")
        return self

    def to(self, *args, **kwargs):
        values = self._sp_values.to(*args, **kwargs)
        if values is self._sp_values:
            return self
        return SparseCooTensor._make(self._sp_indices.to(values.device), values, self._shape, self._sp_coalesced)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else device, non_blocking=non_blocking)

    def float(self):
        return self.to(_C.float32)

    def double(self):
        return self.to(_C.float64)

    def half(self):
        return self.to(_C.float16)

    def bfloat16(self):
        return self.to(_C.bfloat16)

    def type_as(self, other):
        return self.to(other.dtype)

    # ------------------------------------------------------------------ arithmetic
    def _scalar(self, other, op):
        if isinstance(other, numbers.Number) and not isinstance(other, bool):
            return other
        if isinstance(other, Tensor) and type(other) is not SparseCooTensor and other.dim() == 0:
            return other
        raise NotImplementedError("sparse %s: only a number or a 0-d tensor is supported as the other operand, "
                                  "got %s" % (op, _describe(other)))

    def _check_same_size(self, other, op):
        if tuple(other._shape) != tuple(self._shape):
            raise RuntimeError("%s: sparse tensors of different sizes %s and %s" % (
                op, list(self._shape), list(other._shape)))

    def add(self, other, *, alpha=1):
        """sparse + sparse stays sparse (index columns concatenated); sparse + dense is dense."""
        if type(other) is SparseCooTensor:
            self._check_same_size(other, "add")
            if other.sparse_dim() != self.sparse_dim():
                raise RuntimeError("add: sparse tensors with sparse_dim %d and %d" % (
                    self.sparse_dim(), other.sparse_dim()))
            E = _E()
            ov = other._sp_values if alpha == 1 else other._sp_values * alpha
            dtype = E.promote_types(self.dtype, ov.dtype)
            values = E.cat([self._sp_values.to(dtype), ov.to(dtype)])
            indices = E.cat([self._sp_indices, other._sp_indices], 1)
            return SparseCooTensor._make(indices, values, self._shape, False)
        if isinstance(other, Tensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        raise NotImplementedError("sparse add: unsupported operand %s" % _describe(other))

    def __add__(self, other):
        # unlike add(), sparse + dense gives the dense sum (autograd sums gradients in arrival order)
        if isinstance(other, Tensor) and type(other) is not SparseCooTensor:
            return dense_add(other, self, 1, False)
        return self.add(other)

    def add_(self, other, *, alpha=1):
        if type(other) is not SparseCooTensor:
            raise RuntimeError("add_: a sparse tensor can only add a sparse tensor in place (got %s); use "
                               "dense.add_(sparse) or sparse + dense" % _describe(other))
        r = self.add(other, alpha=alpha)
        if r.dtype is not self.dtype:
            raise RuntimeError("result type %s can't be cast to the desired output type %s" % (r.dtype, self.dtype))
        self.__dict__.update(_sp_indices=r._sp_indices, _sp_values=r._sp_values, _sp_coalesced=False)
        return self

    def sub(self, other, *, alpha=1):
        return self.add(other, alpha=-alpha)

    def sub_(self, other, *, alpha=1):
        return self.add_(other, alpha=-alpha)

    def mul(self, other):
        return self._with(self._sp_values * self._scalar(other, "mul"))

    def mul_(self, other):
        self._sp_values.mul_(self._scalar(other, "mul_"))
        return self

    def div(self, other, *, rounding_mode=None):
        return self._with(self._sp_values.div(self._scalar(other, "div"), rounding_mode=rounding_mode))

    def div_(self, other, *, rounding_mode=None):
        self._sp_values.div_(self._scalar(other, "div_"), rounding_mode=rounding_mode)
        return self

    def neg(self):
        return self._with(-self._sp_values)

    def neg_(self):
        self._sp_values.neg_()
        return self

    def zero_(self):
        d = self.__dict__
        d["_sp_indices"] = d["_sp_indices"][:, :0]
        d["_sp_values"] = d["_sp_values"][:0]
        d["_sp_coalesced"] = True
        return self

    def _coalesced_elementwise(self, fn):
        """fn applied to the values of the coalesced tensor; right for functions with fn(0) = 0."""
        c = self.coalesce()
        return c._with(fn(c._sp_values))

    def abs(self):
        return self._coalesced_elementwise(lambda v: v.abs())

    def sqrt(self):
        return self._coalesced_elementwise(lambda v: v.sqrt())

    def pow(self, exponent):
        if not isinstance(exponent, numbers.Number) or isinstance(exponent, bool) or exponent <= 0:
            raise NotImplementedError("sparse pow: only a positive number exponent keeps zeros at zero, got %r"
                                      % (exponent,))
        return self._coalesced_elementwise(lambda v: v.pow(exponent))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The norm over all elements (implicit zeros included); dim is not supported."""
        if dim is not None:
            raise NotImplementedError("sparse norm: dim is not supported")
        values = self.coalesce()._sp_values
        if dtype is not None:
            values = values.to(dtype)
        p = 2 if p == "fro" else p
        if values.numel() == 0:
            return values.new_zeros(())
        if p in (float("inf"), "inf"):
            return values.abs().max()
        if p in (float("-inf"), "-inf") and values.numel() < self.numel():
            return values.new_zeros(())
        return values.reshape(-1).norm(p)

    def sum(self, dim=None, keepdim=False, dtype=None):
        if dim is not None:
            raise NotImplementedError("sparse sum: dim is not supported (use .to_dense().sum(dim))")
        return self._sp_values.sum(dtype=dtype)

    __sub__ = sub
    __mul__ = mul
    __truediv__ = div

    def __radd__(self, other):
        if isinstance(other, Tensor):
            return dense_add(other, self, 1, False)
        return self.add(other)

    def __rmul__(self, other):
        return self.mul(other)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __neg__(self):
        return self.neg()

    # ------------------------------------------------------------------ no strides, no data pointer
    def _no_strides(self, *args, **kwargs):
        raise RuntimeError("Sparse tensors do not have strides or a data pointer (layout=ember.sparse_coo)")

    stride = data_ptr = storage_offset = is_contiguous = untyped_storage = _no_strides

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __repr__(self):
        return "tensor(indices=%r,\n       values=%r,\n       size=%s, nnz=%d, layout=ember.sparse_coo)" % (
            self._sp_indices, self._sp_values, tuple(self._shape), self._nnz())

    def __reduce_ex__(self, proto):
        return (_rebuild_sparse, (self._sp_indices, self._sp_values, tuple(self._shape), self._sp_coalesced))

    def __deepcopy__(self, memo):
        return self.clone()


def _rebuild_sparse(indices, values, size, coalesced):
    return SparseCooTensor._make(indices, values, Size(size), coalesced)


def _describe(x):
    if type(x) is SparseCooTensor:
        return "a sparse tensor of size %s" % list(x._shape)
    if isinstance(x, Tensor):
        return "a dense tensor of size %s" % list(x.shape)
    return type(x).__name__


def _add_into_dense(dense, sparse, alpha):
    """dense += alpha * sparse in place (dense must have sparse's size); returns dense."""
    if tuple(dense.shape) != tuple(sparse._shape):
        raise RuntimeError("add: a dense tensor of size %s and a sparse tensor of size %s" % (
            list(dense.shape), list(sparse._shape)))
    if sparse._nnz():
        values = sparse._sp_values if alpha == 1 else sparse._sp_values * alpha
        if values.dtype is not dense.dtype:
            if not _E().can_cast(values.dtype, dense.dtype):
                raise RuntimeError("result type %s can't be cast to the desired output type %s" % (
                    values.dtype, dense.dtype))
            values = values.to(dense.dtype)
        dense.index_put_(tuple(sparse._sp_indices.unbind(0)), values, accumulate=True)
    return dense


def dense_add(dense, sparse, alpha, inplace):
    """dense.add(sparse) / dense.add_(sparse): the dense result, as PyTorch gives."""
    if dense.requires_grad and _E().is_grad_enabled():
        raise RuntimeError("adding a sparse tensor to a tensor that requires grad is not supported (no autograd "
                           "through sparse tensors); do it under ember.no_grad()")
    if inplace:
        return _add_into_dense(dense, sparse, alpha)
    E = _E()
    dtype = E.promote_types(dense.dtype, sparse.dtype)
    out = dense.to(dtype, copy=True)
    if tuple(out.shape) != tuple(sparse._shape):
        out = out.expand(tuple(sparse._shape)).clone()
    return _add_into_dense(out, sparse, alpha)


def sparse_mask(dense, mask):
    """dense.sparse_mask(mask): a sparse tensor with mask's index columns and dense's values there."""
    if type(mask) is not SparseCooTensor:
        raise TypeError("sparse_mask: mask must be a sparse tensor, got %s" % _describe(mask))
    if tuple(dense.shape) != tuple(mask._shape):
        raise RuntimeError("sparse_mask(): operands have incompatible sizes; self has size %s but mask has size %s"
                           % (list(dense.shape), list(mask._shape)))
    values = dense[tuple(mask._sp_indices.unbind(0))] if mask._nnz() else dense.new_zeros(
        (0,) + tuple(dense.shape[mask.sparse_dim():]))
    return SparseCooTensor._make(mask._sp_indices, values, mask._shape, mask._sp_coalesced)


def to_sparse(dense, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """dense.to_sparse(): the nonzero entries (or nonzero rows over the first sparse_dim dims) in COO layout."""
    from ._device import sparse_coo, strided
    if layout is not None and layout is not sparse_coo:
        if layout is strided:
            return dense
        raise NotImplementedError("to_sparse: only layout=ember.sparse_coo is supported, got %r" % (layout,))
    if blocksize is not None or dense_dim is not None:
        raise NotImplementedError("to_sparse: blocksize/dense_dim are not supported for the COO layout")
    sdim = dense.dim() if sparse_dim is None else int(sparse_dim)
    if not 0 <= sdim <= dense.dim():
        raise RuntimeError("sparse_dim must be in [0, %d], got %d" % (dense.dim(), sdim))
    x = dense.detach()
    if sdim == 0:
        return SparseCooTensor._make(x.new_zeros((0, 1), dtype=_C.int64), x.unsqueeze(0).clone(), x.shape, True)
    nz = x.reshape(tuple(x.shape[:sdim]) + (-1,)) != 0 if sdim < x.dim() else x != 0
    if sdim < x.dim():
        nz = nz.any(-1)
    indices = nz.nonzero().t().contiguous()
    values = x[tuple(indices.unbind(0))]
    return SparseCooTensor._make(indices, values, x.shape, True)


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """PyTorch's ``torch.sparse_coo_tensor``: a sparse tensor with the given index columns (``[sparse_dim,
    nnz]`` integers) and values (``[nnz, *dense_size]``); size defaults to the smallest that holds the
    indices. Index bounds are always checked."""
    E = _E()
    if requires_grad:
        raise RuntimeError("Ember's sparse tensors do not support autograd (requires_grad=True)")
    indices = indices if isinstance(indices, Tensor) else E.tensor(indices)
    if indices.numel() == 0 and type(indices) is not SparseCooTensor:
        indices = indices.to(_C.int64)
    if type(indices) is SparseCooTensor or indices.dtype.is_floating_point or indices.dtype is _C.bool:
        raise RuntimeError("indices must be an int64 tensor, got %s" % (indices.dtype,))
    indices = indices.detach().to(_C.int64)
    if not isinstance(values, Tensor):
        values = E.tensor(values, dtype=dtype)
    values = values.detach()
    if dtype is not None:
        values = values.to(dtype)
    if device is not None:
        values = values.to(device)
    indices = indices.to(values.device)
    if indices.dim() != 2:
        raise RuntimeError("indices must be sparse_dim x nnz, but got: %s" % list(indices.shape))
    if values.dim() == 0:
        raise RuntimeError("values must be at least 1-dimensional (one entry per index column), got a 0-d tensor")
    sdim, nnz = indices.shape
    if values.shape[0] != nnz:
        raise RuntimeError("indices and values must have same nnz, but got nnz from indices: %d, nnz from "
                           "values: %d" % (nnz, values.shape[0]))
    dense_size = tuple(values.shape[1:])
    if size is None:
        if nnz == 0 and sdim:
            raise RuntimeError("sparse_coo_tensor: size is required when there are no index columns")
        size = tuple(int(m) + 1 for m in indices.amax(1).tolist()) + dense_size if sdim else dense_size
    else:
        size = tuple(int(s) for s in size)
        if len(size) != sdim + len(dense_size):
            raise RuntimeError("number of dimensions must be sparse_dim (%d) + dense_dim (%d), but got %d" % (
                sdim, len(dense_size), len(size)))
        if size[sdim:] != dense_size:
            raise RuntimeError("values has incorrect size, expected %s, got %s" % (
                list((nnz,) + size[sdim:]), list(values.shape)))
        if any(s < 0 for s in size):
            raise RuntimeError("sparse_coo_tensor: negative size %s" % list(size))
    if nnz:
        lo, hi = indices.amin(1).tolist(), indices.amax(1).tolist()
        for d in range(sdim):
            if lo[d] < 0:
                raise RuntimeError("found negative index %d for dim %d" % (lo[d], d))
            if hi[d] >= size[d]:
                raise RuntimeError("size is inconsistent with indices: for dim %d, size is %d but found index %d"
                                   % (d, size[d], hi[d]))
    coalesced = bool(is_coalesced) if is_coalesced is not None else nnz <= 1
    return SparseCooTensor._make(indices, values, Size(size), coalesced)


Tensor.sparse_mask = sparse_mask
Tensor.to_sparse = to_sparse
Tensor.to_sparse_coo = lambda self: to_sparse(self)
_C._set_sparse_class(SparseCooTensor)
