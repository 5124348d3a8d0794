// Shape arithmetic; error messages follow PyTorch's wording.
#include "core/shape.h"

#include "core/error.h"
#include "core/tensor.h"

namespace ember {

int64_t wrap_dim(int64_t dim, int64_t ndim) {
  int64_t n = ndim > 0 ? ndim : 1;
  EMBER_INDEX_CHECK(dim >= -n && dim < n, "Dimension out of range (expected to be in range of [", -n, ", ", n - 1,
                    "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

DimVector contiguous_strides(const DimVector& sizes) {
  DimVector strides(sizes.size());
  int64_t s = 1;
  for (int64_t i = int64_t(sizes.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= sizes[i] > 1 ? sizes[i] : 1;
  }
  return strides;
}

int64_t checked_numel(const DimVector& sizes) {
  int64_t n = 1;
  bool overflow = false;
  for (auto s : sizes) {
    EMBER_RUNTIME_CHECK(s >= 0, "Trying to create tensor with negative dimension ", s, ": ", shape_str(sizes));
    if (!overflow && __builtin_mul_overflow(n, s, &n)) overflow = true;
  }
  for (auto s : sizes)
    if (s == 0) return 0;
  if (overflow) throw OutOfMemoryError(str("ember: tensor of shape ", shape_str(sizes), " has too many elements"));
  return n;
}

DimVector broadcast_shapes(const DimVector& a, const DimVector& b) {
  size_t n = std::max(a.size(), b.size());
  DimVector out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    EMBER_RUNTIME_CHECK(da == db || da == 1 || db == 1, "The size of tensor a (", da,
                        ") must match the size of tensor b (", db, ") at non-singleton dimension ", n - 1 - i,
                        " (shapes ", shape_str(a), " and ", shape_str(b), ")");
    out[n - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

DimVector infer_size(const DimVector& shape, int64_t numel) {
  DimVector out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      EMBER_RUNTIME_CHECK(infer < 0, "only one dimension can be inferred");
      infer = int64_t(i);
    } else {
      EMBER_RUNTIME_CHECK(shape[i] >= 0, "invalid shape dimension ", shape[i]);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    EMBER_RUNTIME_CHECK(known != 0 && numel % known == 0, "shape '", shape_str(shape),
                        "' is invalid for input of size ", numel);
    out[infer] = numel / known;
  } else {
    EMBER_RUNTIME_CHECK(known == numel, "shape '", shape_str(shape), "' is invalid for input of size ", numel);
  }
  return out;
}

// Walks old dims from the innermost, grouping runs that are contiguous among themselves; each group of
// new dims must multiply out to one such run.
std::optional<DimVector> view_strides(const DimVector& sizes, const DimVector& strides, const DimVector& new_sizes) {
  DimVector out(new_sizes.size());
  int64_t numel = 1;
  for (auto s : sizes) numel *= s;
  if (numel == 0 || sizes.empty()) return contiguous_strides(new_sizes);
  int64_t view_d = int64_t(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace ember
