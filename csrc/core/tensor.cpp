// Tensor geometry queries and allocation of new tensors.
#include "core/tensor.h"

#include <algorithm>

#include "core/shape.h"

namespace ember {

int64_t Tensor::size(int64_t d) const {
  EMBER_INDEX_CHECK(dim() > 0, "dimension specified as ", d, " but tensor has no dimensions");
  return sizes_[wrap_dim(d, dim())];
}

int64_t Tensor::stride(int64_t d) const {
  EMBER_INDEX_CHECK(dim() > 0, "dimension specified as ", d, " but tensor has no dimensions");
  return strides_[wrap_dim(d, dim())];
}

bool Tensor::is_contiguous() const {
  if (numel_ == 0) return true;
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (sizes_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= sizes_[i];
  }
  return true;
}

bool Tensor::is_non_overlapping_and_dense() const {
  if (is_contiguous()) return true;
  SmallVector<int64_t, 6> perm;
  for (int64_t i = 0; i < dim(); ++i) perm.push_back(i);
  std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
    if (sizes_[a] < 2) return false;
    if (sizes_[b] < 2) return true;
    return strides_[a] < strides_[b];
  });
  int64_t expected = 1;
  for (auto d : perm) {
    if (sizes_[d] == 1) continue;
    if (strides_[d] != expected) return false;
    expected *= sizes_[d];
  }
  return true;
}

static Tensor make(const DimVector& sizes, DimVector strides, size_t n_elements_storage, ScalarType dtype,
                   Device device) {
  size_t isz = itemsize(dtype);
  size_t nbytes;
  if (__builtin_mul_overflow(n_elements_storage, isz, &nbytes))
    throw OutOfMemoryError(str("ember: tensor of shape ", shape_str(sizes), " is too large to allocate"));
  return Tensor(allocate_storage(nbytes, device), new_version_counter(), sizes, std::move(strides), 0, dtype);
}

Tensor empty(const DimVector& sizes, ScalarType dtype, Device device) {
  EMBER_RUNTIME_CHECK(int64_t(sizes.size()) <= kMaxDims, "tensors have at most ", kMaxDims, " dimensions, got ",
                      sizes.size());
  int64_t n = checked_numel(sizes);
  return make(sizes, contiguous_strides(sizes), size_t(n), dtype, device);
}

Tensor empty_strided(const DimVector& sizes, const DimVector& strides, ScalarType dtype, Device device) {
  EMBER_RUNTIME_CHECK(sizes.size() == strides.size(), "empty_strided: sizes ", shape_str(sizes), " and strides ",
                      shape_str(strides), " have different lengths");
  int64_t n = checked_numel(sizes);
  size_t extent = 0;
  if (n > 0) {
    extent = 1;
    for (size_t i = 0; i < sizes.size(); ++i) {
      EMBER_RUNTIME_CHECK(strides[i] >= 0, "empty_strided: negative strides are not supported, got ",
                          shape_str(strides));
      extent += size_t(sizes[i] - 1) * size_t(strides[i]);
    }
  }
  return make(sizes, strides, extent, dtype, device);
}

Tensor empty_like(const Tensor& like, ScalarType dtype) {
  if (like.dim() > 1 && !like.is_contiguous() && like.is_non_overlapping_and_dense())
    return empty_strided(like.sizes(), like.strides(), dtype, like.device());
  return empty(like.sizes(), dtype, like.device());
}

}  // namespace ember
