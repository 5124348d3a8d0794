// Index ops are expressed as gathers/scatters over a restrided view: the indexed dims of the source get
// stride 0 and each index tensor adds index * original stride. Every index is range-checked before any
// memory is read or written.
#include "ops/index.h"

#include "core/shape.h"
#include "core/kernel_table.h"
#include "iter/tensor_iter.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

namespace {

Tensor as_long_index(const Tensor& idx, const char* op) {
  EMBER_TYPE_CHECK(idx.dtype() == ScalarType::Int64 || idx.dtype() == ScalarType::Int32, op,
                   "(): Expected dtype int64 for index, got ", dtype_name(idx.dtype()));
  return to_dtype(idx, ScalarType::Int64);
}

// allow_negative: advanced indexing (x[idx]) and take wrap negative indices like Python; index_select,
// gather, scatter and index_add do not (PyTorch raises for them).
void check_range(const Tensor& idx, int64_t size, int64_t dim, bool allow_negative = true) {
  if (idx.numel() == 0) return;
  int64_t lo, hi;
  kernels_for(idx).int_min_max(idx, &lo, &hi);
  EMBER_INDEX_CHECK(lo >= (allow_negative ? -size : 0), "index ", lo, " is out of bounds for dimension ", dim,
                    " with size ", size);
  EMBER_INDEX_CHECK(hi < size, "index ", hi, " is out of bounds for dimension ", dim, " with size ", size);
}

// Runs a gather (scatter=false) or scatter over `base` with index tensors, all operands of `shape`.
struct IndexedOp {
  Tensor base;                       // restrided source (gather) or destination (scatter)
  std::vector<Tensor> idx;           // each broadcastable to shape
  SmallVector<int64_t, 8> stride_bytes, sizes;
  DimVector shape;
};

void run_gather(const IndexedOp& op, const Tensor& out) {
  if (out.numel() == 0) return;
  EMBER_RUNTIME_CHECK(op.idx.size() <= 6, "index: at most 6 index tensors are supported, got ", op.idx.size());
  const Tensor* i[6] = {};
  for (size_t k = 0; k < op.idx.size(); ++k) i[k] = &op.idx[k];
  TensorIter it;
  switch (op.idx.size()) {
    case 1: it = TensorIter::build({&out, &op.base, i[0]}, op.shape); break;
    case 2: it = TensorIter::build({&out, &op.base, i[0], i[1]}, op.shape); break;
    case 3: it = TensorIter::build({&out, &op.base, i[0], i[1], i[2]}, op.shape); break;
    case 4: it = TensorIter::build({&out, &op.base, i[0], i[1], i[2], i[3]}, op.shape); break;
    case 5: it = TensorIter::build({&out, &op.base, i[0], i[1], i[2], i[3], i[4]}, op.shape); break;
    default: it = TensorIter::build({&out, &op.base, i[0], i[1], i[2], i[3], i[4], i[5]}, op.shape); break;
  }
  kernels_for(out).index_gather(it, int(op.idx.size()), op.stride_bytes.data(), op.sizes.data(), out.itemsize());
}

void run_scatter(const IndexedOp& op, const Tensor& src, bool accumulate) {
  if (src.numel() == 0 || op.base.numel() == 0) return;
  EMBER_RUNTIME_CHECK(op.idx.size() <= 6, "index_put: at most 6 index tensors are supported, got ", op.idx.size());
  const Tensor* i[6] = {};
  for (size_t k = 0; k < op.idx.size(); ++k) i[k] = &op.idx[k];
  TensorIter it;
  switch (op.idx.size()) {
    case 1: it = TensorIter::build({&op.base, &src, i[0]}, op.shape); break;
    case 2: it = TensorIter::build({&op.base, &src, i[0], i[1]}, op.shape); break;
    case 3: it = TensorIter::build({&op.base, &src, i[0], i[1], i[2]}, op.shape); break;
    case 4: it = TensorIter::build({&op.base, &src, i[0], i[1], i[2], i[3]}, op.shape); break;
    case 5: it = TensorIter::build({&op.base, &src, i[0], i[1], i[2], i[3], i[4]}, op.shape); break;
    default: it = TensorIter::build({&op.base, &src, i[0], i[1], i[2], i[3], i[4], i[5]}, op.shape); break;
  }
  kernels_for(op.base).index_scatter(it, int(op.idx.size()), op.stride_bytes.data(), op.sizes.data(), op.base.dtype(), accumulate);
}

// One index along `dim` (index_select / index_add / index_fill): the index runs along dim, broadcast elsewhere.
IndexedOp along_dim(const Tensor& x, int64_t dim, const Tensor& idx1d) {
  IndexedOp op;
  op.shape = x.sizes();
  op.shape[dim] = idx1d.numel();
  DimVector bstrides = x.strides();
  bstrides[dim] = 0;
  op.base = x.as_view(op.shape, bstrides, x.offset());
  DimVector isz(size_t(x.dim()), 1), ist(size_t(x.dim()), 0);
  isz[dim] = idx1d.numel();
  ist[dim] = idx1d.strides().empty() ? 0 : idx1d.strides()[0];
  op.idx.push_back(idx1d.as_view(isz, ist, idx1d.offset()));
  op.stride_bytes.push_back(x.strides()[dim] * int64_t(x.itemsize()));
  op.sizes.push_back(x.sizes()[dim]);
  return op;
}

Tensor index_vector(const Tensor& index, const char* op) {
  EMBER_INDEX_CHECK(index.dim() <= 1, op, "(): Index is supposed to be a vector, got a tensor of shape ",
                    shape_str(index.sizes()));
  Tensor idx = as_long_index(index, op);
  return idx.dim() == 0 ? idx.as_view({1}, {1}, idx.offset()) : idx;
}

// The shared part of gather and scatter: index has x's ndim and sizes not larger than x's off `dim`.
IndexedOp along_dim_elementwise(const Tensor& x, int64_t dim, const Tensor& idx, const char* name,
                                const Tensor* src) {
  const int64_t nd = std::max<int64_t>(x.dim(), 1);
  EMBER_RUNTIME_CHECK(std::max<int64_t>(idx.dim(), 1) == nd, name,
                      "(): Index tensor must have the same number of dimensions as input tensor (input ",
                      shape_str(x.sizes()), ", index ", shape_str(idx.sizes()), ")");
  Tensor xv = x.dim() == 0 ? x.as_view({1}, {1}, x.offset()) : x;
  Tensor iv = idx.dim() == 0 ? idx.as_view({1}, {1}, idx.offset()) : idx;
  for (int64_t d = 0; d < nd; ++d) {
    if (d != dim)
      EMBER_RUNTIME_CHECK(iv.sizes()[d] <= xv.sizes()[d], name, "(): Size does not match at dimension ", d,
                          " expected index ", shape_str(iv.sizes()), " to be no larger than self ",
                          shape_str(xv.sizes()), " apart from dimension ", dim);
    if (src)
      EMBER_RUNTIME_CHECK(iv.sizes()[d] <= (src->dim() == 0 ? 1 : src->sizes()[d]), name,
                          "(): Expected index ", shape_str(iv.sizes()), " to be no larger than src ",
                          shape_str(src->sizes()), " in every dimension");
  }
  IndexedOp op;
  op.shape = iv.sizes();
  DimVector bstrides = xv.strides();
  bstrides[dim] = 0;
  op.base = xv.as_view(op.shape, bstrides, xv.offset());
  op.idx.push_back(iv);
  op.stride_bytes.push_back(xv.strides()[dim] * int64_t(x.itemsize()));
  op.sizes.push_back(xv.sizes()[dim]);
  return op;
}

// Advanced indexing plan (PyTorch's AdvancedIndex): masks become index tensors, indices broadcast
// together, and when indexed dims are not adjacent they are moved to the front.
IndexedOp advanced(const Tensor& self, const OptTensorList& raw) {
  std::vector<std::optional<Tensor>> indices;
  for (const auto& r : raw) {
    if (r && (r->dtype() == ScalarType::Bool || r->dtype() == ScalarType::UInt8)) {
      const Tensor& mask = *r;
      const int64_t start = int64_t(indices.size());
      EMBER_INDEX_CHECK(start + mask.dim() <= self.dim(), "too many indices for tensor of dimension ", self.dim());
      for (int64_t j = 0; j < mask.dim(); ++j)
        EMBER_INDEX_CHECK(mask.sizes()[j] == self.sizes()[start + j], "The shape of the mask ", shape_str(mask.sizes()),
                          " at index ", j, " does not match the shape of the indexed tensor ",
                          shape_str(self.sizes()), " at index ", start + j);
      Tensor nz = nonzero(mask);
      if (mask.dim() == 0) {
        // a 0-d mask adds a dim of size 0 or 1: handled by the caller through unsqueeze; here it selects all
        continue;
      }
      // indices may live on the CPU for a tensor on another device, as in PyTorch
      for (int64_t j = 0; j < mask.dim(); ++j) indices.emplace_back(to_device(select(nz, 1, j), self.device()));
    } else if (r) {
      EMBER_INDEX_CHECK(r->dtype() == ScalarType::Int64 || r->dtype() == ScalarType::Int32,
                        "tensors used as indices must be long, int, byte or bool tensors, got ",
                        dtype_name(r->dtype()));
      indices.emplace_back(to_device(to_dtype(*r, ScalarType::Int64), self.device()));
    } else {
      indices.emplace_back(std::nullopt);
    }
  }
  EMBER_INDEX_CHECK(int64_t(indices.size()) <= self.dim(), "too many indices for tensor of dimension ", self.dim(),
                    " (got ", indices.size(), ")");
  while (int64_t(indices.size()) < self.dim()) indices.emplace_back(std::nullopt);

  // broadcast shape of the index tensors
  DimVector bshape;
  bool first = true;
  std::string shapes;
  for (const auto& i : indices)
    if (i) shapes += (shapes.empty() ? "" : ", ") + shape_str(i->sizes());
  for (const auto& i : indices) {
    if (!i) continue;
    if (first) {
      bshape = i->sizes();
      first = false;
    } else {
      try {
        bshape = broadcast_shapes(bshape, i->sizes());
      } catch (const std::runtime_error&) {
        throw std::out_of_range(str("shape mismatch: indexing tensors could not be broadcast together with shapes ",
                                    shapes));
      }
    }
  }
  // adjacency of indexed dims
  int64_t firsti = -1, lasti = -1, count = 0;
  for (int64_t d = 0; d < int64_t(indices.size()); ++d)
    if (indices[size_t(d)]) {
      if (firsti < 0) firsti = d;
      lasti = d;
      ++count;
    }
  Tensor src = self;
  if (lasti - firsti + 1 != count) {  // not adjacent: indexed dims first
    DimVector perm;
    std::vector<std::optional<Tensor>> reordered;
    for (int64_t d = 0; d < self.dim(); ++d)
      if (indices[size_t(d)]) {
        perm.push_back(d);
        reordered.push_back(indices[size_t(d)]);
      }
    for (int64_t d = 0; d < self.dim(); ++d)
      if (!indices[size_t(d)]) {
        perm.push_back(d);
        reordered.push_back(std::nullopt);
      }
    src = permute(self, perm);
    indices = reordered;
    firsti = 0;
    lasti = count - 1;
  }
  IndexedOp op;
  DimVector bstrides;
  for (int64_t d = 0; d < firsti; ++d) {
    op.shape.push_back(src.sizes()[d]);
    bstrides.push_back(src.strides()[d]);
  }
  const int64_t bpos = int64_t(op.shape.size());
  for (auto s : bshape) {
    op.shape.push_back(s);
    bstrides.push_back(0);
  }
  for (int64_t d = lasti + 1; d < src.dim(); ++d) {
    op.shape.push_back(src.sizes()[d]);
    bstrides.push_back(src.strides()[d]);
  }
  op.base = src.as_view(op.shape, bstrides, src.offset());
  for (int64_t d = firsti; d <= lasti; ++d) {
    const Tensor& i = *indices[size_t(d)];
    check_range(i, src.sizes()[d], d);
    // place the broadcast index dims at bpos, size-1 elsewhere, then expand
    Tensor ib = expand(i, bshape);
    DimVector sz(op.shape.size(), 1), st(op.shape.size(), 0);
    for (size_t k = 0; k < bshape.size(); ++k) {
      sz[size_t(bpos) + k] = bshape[k];
      st[size_t(bpos) + k] = ib.strides()[int64_t(k)];
    }
    op.idx.push_back(ib.as_view(sz, st, ib.offset()));
    op.stride_bytes.push_back(src.strides()[d] * int64_t(src.itemsize()));
    op.sizes.push_back(src.sizes()[d]);
  }
  return op;
}

bool has_zero_dim_mask(const OptTensorList& indices) {
  for (const auto& i : indices)
    if (i && i->dim() == 0 && (i->dtype() == ScalarType::Bool || i->dtype() == ScalarType::UInt8)) return true;
  return false;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor idx = index_vector(index, "index_select");
  Tensor xv = x.dim() == 0 ? x.as_view({1}, {1}, x.offset()) : x;
  int64_t d = wrap_dim(dim, x.dim());
  check_range(idx, xv.sizes()[d], d, false);
  IndexedOp op = along_dim(xv, d, idx);
  Tensor out = empty(op.shape, x.dtype(), x.device());
  run_gather(op, out);
  if (x.dim() == 0) return out.as_view({}, {}, 0);
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor idx = as_long_index(index, "gather");
  int64_t d = wrap_dim(dim, x.dim());
  IndexedOp op = along_dim_elementwise(x, d, idx, "gather", nullptr);
  check_range(idx, x.dim() == 0 ? 1 : x.sizes()[d], d, false);
  Tensor out = empty(op.shape, x.dtype(), x.device());
  run_gather(op, out);
  return idx.dim() == 0 ? out.as_view({}, {}, 0) : out;
}

void scatter_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src0, bool accumulate) {
  check_writable(self, "scatter_");
  Tensor idx = as_long_index(index, "scatter");
  int64_t d = wrap_dim(dim, self.dim());
  Tensor src = to_dtype(src0, self.dtype());
  if (src.dim() == 0 && src0.is_wrapped_number()) src = expand(src, idx.sizes());
  IndexedOp op = along_dim_elementwise(self, d, idx, accumulate ? "scatter_add" : "scatter", &src);
  check_range(idx, self.dim() == 0 ? 1 : self.sizes()[d], d, false);
  Tensor sv = src.dim() == 0 ? src.as_view({1}, {1}, src.offset()) : src;
  // src may be larger than index: only its leading index-shaped block is used
  Tensor s = sv.as_view(op.shape, sv.strides(), sv.offset());
  run_scatter(op, s, accumulate);
  self.bump_version();
}

void index_add_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src0, double alpha) {
  check_writable(self, "index_add_");
  Tensor idx = index_vector(index, "index_add");
  Tensor sv = self.dim() == 0 ? self.as_view({1}, {1}, self.offset()) : self;
  int64_t d = wrap_dim(dim, self.dim());
  check_range(idx, sv.sizes()[d], d, false);
  Tensor src = to_dtype(src0, self.dtype());
  if (alpha != 1.0) src = binary(BinaryOp::mul, src, scalar_tensor(alpha, self.dtype()));
  IndexedOp op = along_dim(sv, d, idx);
  Tensor s = src.dim() == 0 ? src.as_view({1}, {1}, src.offset()) : src;
  EMBER_RUNTIME_CHECK(s.sizes() == op.shape, "index_add_(): source of shape ", shape_str(src.sizes()),
                      " does not match the indexed shape ", shape_str(op.shape));
  run_scatter(op, s, true);
  self.bump_version();
}

void index_fill_(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& value) {
  check_writable(self, "index_fill_");
  Tensor idx = index_vector(index, "index_fill");
  Tensor sv = self.dim() == 0 ? self.as_view({1}, {1}, self.offset()) : self;
  int64_t d = wrap_dim(dim, self.dim());
  check_range(idx, sv.sizes()[d], d, false);
  IndexedOp op = along_dim(sv, d, idx);
  Tensor v = expand(to_dtype(value, self.dtype()), op.shape);
  run_scatter(op, v, false);
  self.bump_version();
}

// No tensor among the indices (an empty list, or only Nones): every element is selected, as by x[...].
static bool no_tensor_index(const OptTensorList& indices) {
  for (const auto& i : indices)
    if (i) return false;
  return true;
}

Tensor index(const Tensor& x, const OptTensorList& indices) {
  if (no_tensor_index(indices)) {
    EMBER_INDEX_CHECK(int64_t(indices.size()) <= x.dim(), "too many indices for tensor of dimension ", x.dim(),
                      " (got ", indices.size(), ")");
    return clone(x);
  }
  if (has_zero_dim_mask(indices)) {
    // x[True] adds a leading dim of size 1, x[False] one of size 0
    OptTensorList rest;
    Tensor v = unsqueeze(x, 0);
    rest.emplace_back(std::nullopt);
    for (const auto& i : indices) {
      if (i && i->dim() == 0 && (i->dtype() == ScalarType::Bool || i->dtype() == ScalarType::UInt8)) {
        if (!item_int(*i)) v = narrow(v, 0, 0, 0);
        continue;
      }
      rest.push_back(i);
    }
    bool any = false;
    for (const auto& i : rest) any |= bool(i);
    return any ? index(v, rest) : clone(v);
  }
  IndexedOp op = advanced(x, indices);
  Tensor out = empty(op.shape, x.dtype(), x.device());
  run_gather(op, out);
  return out;
}

void index_put_(const Tensor& self, const OptTensorList& indices, const Tensor& values, bool accumulate) {
  check_writable(self, "index_put_");
  if (no_tensor_index(indices)) {
    EMBER_INDEX_CHECK(int64_t(indices.size()) <= self.dim(), "too many indices for tensor of dimension ",
                      self.dim(), " (got ", indices.size(), ")");
    EMBER_RUNTIME_CHECK(broadcast_shapes(values.sizes(), self.sizes()) == self.sizes(), "shape mismatch: value tensor "
                        "of shape ", shape_str(values.sizes()), " cannot be broadcast to indexing result of shape ",
                        shape_str(self.sizes()));
    Tensor val = to_dtype(values, self.dtype());
    if (self.numel()) {
      if (accumulate) binary_(BinaryOp::add, self, val);
      else copy_(self, val);
    }
    self.bump_version();
    return;
  }
  if (has_zero_dim_mask(indices)) {
    OptTensorList rest;
    Tensor v = unsqueeze(self, 0);
    rest.emplace_back(std::nullopt);
    for (const auto& i : indices) {
      if (i && i->dim() == 0 && (i->dtype() == ScalarType::Bool || i->dtype() == ScalarType::UInt8)) {
        if (!item_int(*i)) v = narrow(v, 0, 0, 0);
        continue;
      }
      rest.push_back(i);
    }
    bool any = false;
    for (const auto& i : rest) any |= bool(i);
    if (any) {
      index_put_(v, rest, values, accumulate);
    } else if (v.numel()) {
      Tensor val = to_dtype(values, self.dtype());
      if (accumulate) binary_(BinaryOp::add, v, val);
      else copy_(v, val);
    }
    self.bump_version();
    return;
  }
  IndexedOp op = advanced(self, indices);
  Tensor val = to_dtype(values, self.dtype());
  if (val.sizes() != op.shape) {
    DimVector b;
    try {
      b = broadcast_shapes(val.sizes(), op.shape);
    } catch (const std::runtime_error&) {
      b = DimVector();
    }
    EMBER_RUNTIME_CHECK(b == op.shape, "shape mismatch: value tensor of shape ", shape_str(val.sizes()),
                        " cannot be broadcast to indexing result of shape ", shape_str(op.shape));
    val = expand(val, op.shape);
  }
  run_scatter(op, val, accumulate);
  self.bump_version();
}

void masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value) {
  EMBER_TYPE_CHECK(mask.dtype() == ScalarType::Bool || mask.dtype() == ScalarType::UInt8,
                   "masked_fill_ only supports boolean masks, but got mask with dtype ", dtype_name(mask.dtype()));
  EMBER_RUNTIME_CHECK(value.numel() == 1, "masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                      "with ", value.dim(), " dimension(s).");
  check_writable(self, "masked_fill_");
  DimVector shape = broadcast_shapes(self.sizes(), mask.sizes());
  EMBER_RUNTIME_CHECK(shape == self.sizes(), "masked_fill_: mask of shape ", shape_str(mask.sizes()),
                      " cannot be broadcast to the tensor's shape ", shape_str(self.sizes()));
  Tensor m = to_dtype(mask, ScalarType::Bool);
  Tensor v = to_dtype(value.dim() ? reshape(value, {}) : value, self.dtype());
  TensorIter it = TensorIter::build({&self, &m, &v, &self}, self.sizes());
  kernels_for(self).where(it, self.itemsize());
  self.bump_version();
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  EMBER_TYPE_CHECK(mask.dtype() == ScalarType::Bool || mask.dtype() == ScalarType::UInt8,
                   "masked_select: expected BoolTensor for mask, got ", dtype_name(mask.dtype()));
  DimVector shape = broadcast_shapes(x.sizes(), mask.sizes());
  Tensor xe = expand(x, shape);
  Tensor me = expand(to_dtype(mask, ScalarType::Bool), shape);
  Tensor out = empty({kernels_for(me).count_nonzero(me)}, x.dtype(), x.device());
  if (out.numel()) kernels_for(xe).masked_select(xe, me, out);
  return out;
}

Tensor nonzero(const Tensor& x) {
  int64_t n = kernels_for(x).count_nonzero(x);
  Tensor out = empty({n, x.dim()}, ScalarType::Int64, x.device());
  if (n && x.dim()) kernels_for(x).nonzero(x, out);
  return out;
}

Tensor take(const Tensor& x, const Tensor& index) {
  Tensor idx = as_long_index(index, "take");
  Tensor flat = reshape(x, {x.numel()});
  check_range(idx, x.numel(), 0);
  IndexedOp op;
  op.shape = idx.sizes();
  op.base = flat.as_view(op.shape, DimVector(op.shape.size(), 0), flat.offset());
  op.idx.push_back(idx);
  op.stride_bytes.push_back(flat.strides()[0] * int64_t(x.itemsize()));
  op.sizes.push_back(x.numel());
  Tensor out = empty(op.shape, x.dtype(), x.device());
  run_gather(op, out);
  return out;
}

}  // namespace ops
}  // namespace ember
