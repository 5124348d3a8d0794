// Views compute new (sizes, strides, offset) over the same storage; cat/repeat/flip copy.
#include "ops/shape.h"

#include <algorithm>

#include "core/shape.h"
#include "iter/tensor_iter.h"
#include "ops/common.h"
#include "ops/index.h"
#include "ops/pointwise.h"

namespace ember {
namespace ops {

Tensor view(const Tensor& x, const DimVector& shape) {
  DimVector sizes = infer_size(shape, x.numel());
  auto strides = view_strides(x.sizes(), x.strides(), sizes);
  EMBER_RUNTIME_CHECK(strides.has_value(), "view size is not compatible with input tensor's size and stride (at least "
                      "one dimension spans across two contiguous subspaces). Use .reshape(...) instead. (tensor of "
                      "shape ", shape_str(x.sizes()), " and strides ", shape_str(x.strides()), " viewed as ",
                      shape_str(sizes), ")");
  return x.as_view(sizes, *strides, x.offset());
}

Tensor reshape(const Tensor& x, const DimVector& shape) {
  DimVector sizes = infer_size(shape, x.numel());
  if (auto strides = view_strides(x.sizes(), x.strides(), sizes)) return x.as_view(sizes, *strides, x.offset());
  Tensor c = clone(x);
  if (!c.is_contiguous()) c = contiguous(c);
  return c.as_view(sizes, contiguous_strides(sizes), c.offset());
}

Tensor permute(const Tensor& x, const DimVector& dims) {
  const int64_t nd = x.dim();
  EMBER_RUNTIME_CHECK(int64_t(dims.size()) == nd, "permute(): number of dimensions in the tensor input does not match "
                      "the length of the desired ordering of dimensions i.e. input.dim() = ", nd,
                      " is not equal to len(dims) = ", dims.size());
  DimVector sizes(static_cast<size_t>(nd)), strides(static_cast<size_t>(nd));
  SmallVector<bool, 8> seen(size_t(nd), false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[size_t(i)], nd);
    EMBER_RUNTIME_CHECK(!seen[size_t(d)], "permute(): duplicate dims are not allowed (dims ", shape_str(dims), ")");
    seen[size_t(d)] = true;
    sizes[size_t(i)] = x.sizes()[d];
    strides[size_t(i)] = x.strides()[d];
  }
  return x.as_view(sizes, strides, x.offset());
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  if (x.dim() == 0) {
    wrap_dim(d0, 0);
    wrap_dim(d1, 0);
    return x.as_view(x.sizes(), x.strides(), x.offset());
  }
  int64_t a = wrap_dim(d0, x.dim()), b = wrap_dim(d1, x.dim());
  DimVector sizes = x.sizes(), strides = x.strides();
  std::swap(sizes[a], sizes[b]);
  std::swap(strides[a], strides[b]);
  return x.as_view(sizes, strides, x.offset());
}

Tensor t(const Tensor& x) {
  EMBER_RUNTIME_CHECK(x.dim() <= 2, "t() expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D");
  if (x.dim() < 2) return x.as_view(x.sizes(), x.strides(), x.offset());
  return transpose(x, 0, 1);
}

Tensor expand(const Tensor& x, const DimVector& want) {
  const int64_t nd = int64_t(want.size()), xd = x.dim();
  EMBER_RUNTIME_CHECK(nd >= xd, "expand(", shape_str(x.sizes()), ", size=", shape_str(want),
                      "): the number of sizes provided (", nd,
                      ") must be greater or equal to the number of dimensions in the tensor (", xd, ")");
  DimVector sizes(static_cast<size_t>(nd)), strides(static_cast<size_t>(nd));
  for (int64_t i = nd - 1; i >= 0; --i) {
    int64_t xi = i - (nd - xd);
    int64_t w = want[size_t(i)];
    if (xi >= 0) {
      int64_t s = x.sizes()[xi];
      if (w == -1) w = s;
      EMBER_RUNTIME_CHECK(s == w || s == 1, "The expanded size of the tensor (", w,
                          ") must match the existing size (", s, ") at non-singleton dimension ", i,
                          ".  Target sizes: ", shape_str(want), ".  Tensor sizes: ", shape_str(x.sizes()));
      sizes[size_t(i)] = w;
      strides[size_t(i)] = s == 1 && w != 1 ? 0 : x.strides()[xi];
    } else {
      EMBER_RUNTIME_CHECK(w >= 0, "The expanded size of the tensor (", w,
                          ") isn't allowed in a leading, non-existing dimension ", i);
      sizes[size_t(i)] = w;
      strides[size_t(i)] = 0;
    }
  }
  return x.as_view(sizes, strides, x.offset());
}

Tensor squeeze(const Tensor& x) {
  DimVector sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (x.sizes()[d] == 1) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  return x.as_view(sizes, strides, x.offset());
}

Tensor squeeze_dims(const Tensor& x, const DimVector& dims) {
  if (x.dim() == 0) {
    for (auto d : dims) wrap_dim(d, 0);
    return x.as_view(x.sizes(), x.strides(), x.offset());
  }
  SmallVector<bool, 8> drop(size_t(x.dim()), false);
  for (auto d : dims) {
    int64_t w = wrap_dim(d, x.dim());
    if (x.sizes()[w] == 1) drop[size_t(w)] = true;
  }
  DimVector sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (drop[size_t(d)]) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  return x.as_view(sizes, strides, x.offset());
}

Tensor squeeze_dim(const Tensor& x, int64_t dim) { return squeeze_dims(x, {dim}); }

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1);
  DimVector sizes = x.sizes(), strides = x.strides();
  int64_t st = d < x.dim() ? sizes[d] * strides[d] : 1;
  sizes.insert(size_t(d), 1);
  strides.insert(size_t(d), st);
  return x.as_view(sizes, strides, x.offset());
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start, x.dim()), e = wrap_dim(end, x.dim());
  EMBER_RUNTIME_CHECK(s <= e, "flatten() has invalid args: start_dim cannot come after end_dim");
  if (s == e) return x.as_view(x.sizes(), x.strides(), x.offset());
  DimVector shape;
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < s || d > e) shape.push_back(x.sizes()[d]);
    else {
      n *= x.sizes()[d];
      if (d == e) shape.push_back(n);
    }
  }
  return reshape(x, shape);
}

Tensor unflatten(const Tensor& x, int64_t dim, const DimVector& sizes) {
  int64_t d = wrap_dim(dim, x.dim());
  EMBER_RUNTIME_CHECK(!sizes.empty(), "unflatten: sizes must be non-empty");
  DimVector inner = infer_size(sizes, x.sizes()[d]);
  DimVector shape;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i == d)
      for (auto s : inner) shape.push_back(s);
    else
      shape.push_back(x.sizes()[i]);
  }
  return view(x, shape);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  EMBER_INDEX_CHECK(x.dim() > 0, "select() cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(dim, x.dim());
  int64_t n = x.sizes()[d];
  EMBER_INDEX_CHECK(index >= -n && index < n, "index ", index, " is out of bounds for dimension ", d, " with size ", n);
  if (index < 0) index += n;
  DimVector sizes = x.sizes(), strides = x.strides();
  int64_t off = x.offset() + index * strides[d];
  sizes.erase(size_t(d));
  strides.erase(size_t(d));
  return x.as_view(sizes, strides, off);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  EMBER_INDEX_CHECK(x.dim() > 0, "narrow() cannot be applied to a 0-dim tensor.");
  int64_t d = wrap_dim(dim, x.dim());
  int64_t n = x.sizes()[d];
  if (start < 0) start += n;
  EMBER_INDEX_CHECK(start >= 0 && start <= n, "start (", start, ") is out of bounds for dimension ", d, " with size ", n);
  EMBER_RUNTIME_CHECK(length >= 0 && start + length <= n, "start (", start, ") + length (", length,
                      ") exceeds dimension size (", n, ").");
  DimVector sizes = x.sizes();
  sizes[d] = length;
  return x.as_view(sizes, x.strides(), x.offset() + start * x.strides()[d]);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  EMBER_INDEX_CHECK(x.dim() > 0, "slice() cannot be applied to a 0-dim tensor.");
  EMBER_VALUE_CHECK(step > 0, "step must be greater than zero");
  int64_t d = wrap_dim(dim, x.dim());
  int64_t n = x.sizes()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::min(std::max<int64_t>(start, 0), n);
  end = std::min(std::max<int64_t>(end, start), n);
  DimVector sizes = x.sizes(), strides = x.strides();
  sizes[d] = (end - start + step - 1) / step;
  int64_t off = x.offset() + start * strides[d];
  strides[d] *= step;
  return x.as_view(sizes, strides, off);
}

Tensor as_strided(const Tensor& x, const DimVector& sizes, const DimVector& strides, int64_t offset) {
  EMBER_RUNTIME_CHECK(sizes.size() == strides.size(), "mismatch in length of strides and shape (", sizes.size(),
                      " vs ", strides.size(), ")");
  EMBER_RUNTIME_CHECK(offset >= 0, "as_strided: Negative storage offset ", offset, " is not allowed");
  int64_t n = checked_numel(sizes);
  int64_t extent = 0;
  if (n > 0) {
    extent = offset + 1;
    for (size_t i = 0; i < sizes.size(); ++i) {
      EMBER_RUNTIME_CHECK(strides[i] >= 0, "as_strided: Negative strides are not supported at the moment, got strides: ",
                          shape_str(strides));
      extent += (sizes[i] - 1) * strides[i];
    }
  }
  int64_t storage_elems = int64_t(x.storage()->nbytes / x.itemsize());
  EMBER_RUNTIME_CHECK(extent <= storage_elems, "setStorage: sizes ", shape_str(sizes), ", strides ", shape_str(strides),
                      ", storage offset ", offset, ", and itemsize ", x.itemsize(), " requiring a storage size of ",
                      extent * int64_t(x.itemsize()), " are out of bounds for storage of size ", x.storage()->nbytes);
  return x.as_view(sizes, strides, offset);
}

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  int64_t a = wrap_dim(dim1, x.dim()), b = wrap_dim(dim2, x.dim());
  EMBER_RUNTIME_CHECK(a != b, "diagonal dimensions cannot be identical ", dim1, ", ", dim2);
  int64_t len, off = x.offset();
  if (offset >= 0) {
    len = std::max<int64_t>(std::min(x.sizes()[a], x.sizes()[b] - offset), 0);
    if (len > 0) off += offset * x.strides()[b];
  } else {
    len = std::max<int64_t>(std::min(x.sizes()[a] + offset, x.sizes()[b]), 0);
    if (len > 0) off -= offset * x.strides()[a];
  }
  DimVector sizes, strides;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == a || d == b) continue;
    sizes.push_back(x.sizes()[d]);
    strides.push_back(x.strides()[d]);
  }
  sizes.push_back(len);
  strides.push_back(x.strides()[a] + x.strides()[b]);
  return x.as_view(sizes, strides, off);
}

Tensor unfold(const Tensor& x, int64_t dim, int64_t size, int64_t step) {
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim());
  int64_t n = x.dim() == 0 ? 1 : x.sizes()[d];
  EMBER_RUNTIME_CHECK(size >= 0, "size is ", size, " but must be >= 0");
  EMBER_RUNTIME_CHECK(size <= n, "maximum size for tensor at dimension ", d, " is ", n, " but size is ", size);
  EMBER_RUNTIME_CHECK(step > 0, "step is ", step, " but must be > 0");
  DimVector sizes = x.sizes(), strides = x.strides();
  if (x.dim() == 0) {
    sizes = {1};
    strides = {1};
  }
  int64_t st = strides[d];
  sizes[d] = (n - size) / step + 1;
  strides[d] = st * step;
  sizes.push_back(size);
  strides.push_back(st);
  return x.as_view(sizes, strides, x.offset());
}

Tensor repeat(const Tensor& x, const DimVector& repeats) {
  EMBER_RUNTIME_CHECK(int64_t(repeats.size()) >= x.dim(), "Number of dimensions of repeat dims can not be smaller "
                      "than number of dimensions of tensor");
  // view x as [1, s0, 1, s1, ...], expand to [r0, s0, r1, s1, ...] and copy into the result
  const int64_t lead = int64_t(repeats.size()) - x.dim();
  DimVector xs(repeats.size(), 1);
  for (int64_t d = 0; d < x.dim(); ++d) xs[size_t(lead + d)] = x.sizes()[d];
  Tensor xv = reshape(x, xs);
  DimVector src_sizes, src_strides, out_shape;
  for (size_t i = 0; i < repeats.size(); ++i) {
    EMBER_RUNTIME_CHECK(repeats[i] >= 0, "Trying to create tensor with negative dimension ", repeats[i]);
    src_sizes.push_back(repeats[i]);
    src_strides.push_back(0);
    src_sizes.push_back(xs[i]);
    src_strides.push_back(xv.strides()[int64_t(i)]);
    out_shape.push_back(repeats[i] * xs[i]);
  }
  Tensor src = xv.as_view(src_sizes, src_strides, xv.offset());
  Tensor out = empty(out_shape, x.dtype(), x.device());
  if (out.numel()) {
    Tensor dst = out.as_view(src_sizes, contiguous_strides(src_sizes), 0);
    copy_(dst, src);
  }
  return out;
}

Tensor flip(const Tensor& x, const DimVector& dims) {
  // one gather with a reversed index per flipped dim
  SmallVector<bool, 8> seen(static_cast<size_t>(std::max<int64_t>(x.dim(), 1)), false);
  Tensor out = x;
  for (auto dd : dims) {
    int64_t d = wrap_dim(dd, x.dim());
    EMBER_RUNTIME_CHECK(!seen[size_t(d)], "dims has duplicates, original flip dims size=", dims.size());
    seen[size_t(d)] = true;
    if (x.dim() == 0) continue;
    const int64_t n = x.sizes()[d];
    Tensor idx = empty({n}, ScalarType::Int64);
    int64_t* p = idx.data<int64_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = n - 1 - i;
    out = index_select(out, d, to_device(idx, x.device()));
  }
  return out.is_same(x) ? clone(x) : out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_RUNTIME_CHECK(!tensors.empty(), "torch.cat(): expected a non-empty list of Tensors");
  // legacy behaviour: 1-D empty tensors are skipped
  const Tensor* ref = nullptr;
  for (auto& t : tensors)
    if (!(t.dim() == 1 && t.numel() == 0)) {
      ref = &t;
      break;
    }
  if (!ref) ref = &tensors[0];
  EMBER_RUNTIME_CHECK(ref->dim() > 0, "zero-dimensional tensor (at position 0) cannot be concatenated");
  int64_t d = wrap_dim(dim, ref->dim());
  SmallVector<const Tensor*, 8> parts;
  ScalarType dt = tensors[0].dtype();
  bool first = true;
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_same_device(*ref, t, "torch.cat()");
    dt = first ? t.dtype() : promote_types(dt, t.dtype());
    first = false;
    if (t.dim() == 1 && t.numel() == 0 && ref->dim() != 1) continue;
    EMBER_RUNTIME_CHECK(t.dim() > 0, "zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    EMBER_RUNTIME_CHECK(t.dim() == ref->dim(), "Tensors must have same number of dimensions: got ", ref->dim(), " and ",
                        t.dim());
    for (int64_t k = 0; k < t.dim(); ++k)
      EMBER_RUNTIME_CHECK(k == d || t.sizes()[k] == ref->sizes()[k], "Sizes of tensors must match except in dimension ",
                          d, ". Expected size ", ref->sizes()[k], " but got size ", t.sizes()[k], " for tensor number ",
                          i, " in the list.");
    total += t.sizes()[d];
    parts.push_back(&t);
  }
  DimVector shape = ref->sizes();
  shape[d] = total;
  Tensor out = empty(shape, dt, ref->device());
  int64_t pos = 0;
  for (const Tensor* t : parts) {
    int64_t n = t->sizes()[d];
    if (n == 0) continue;
    copy_(narrow(out, d, pos, n), *t);
    pos += n;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_RUNTIME_CHECK(!tensors.empty(), "stack expects a non-empty TensorList");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EMBER_RUNTIME_CHECK(tensors[i].sizes() == tensors[0].sizes(), "stack expects each tensor to be equal size, but got ",
                        shape_str(tensors[0].sizes()), " at entry 0 and ", shape_str(tensors[i].sizes()), " at entry ",
                        i);
    parts.push_back(unsqueeze(tensors[i], d));
  }
  return cat(parts, d);
}

Tensor tril(const Tensor& x, int64_t k, bool upper) {
  EMBER_RUNTIME_CHECK(x.dim() >= 2, upper ? "triu" : "tril", ": input tensor must have at least 2 dimensions");
  const int64_t r = x.sizes()[x.dim() - 2], c = x.sizes()[x.dim() - 1];
  // mask[i, j] = j - i <= k (tril) or j - i >= k (triu), built as a bool [r, c] tensor
  Tensor mask = empty({r, c}, ScalarType::Bool);
  bool* m = mask.data<bool>();
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) m[i * c + j] = upper ? (j - i >= k) : (j - i <= k);
  return where(to_device(mask, x.device()), x, scalar_tensor(0.0, x.dtype()));
}

}  // namespace ops
}  // namespace ember
