// Raw storage access for ember.serialization: a tensor of any dtype and geometry over another tensor's
// storage (bytes in, typed tensors out, and back), validated against the storage size so a corrupt
// checkpoint header can never address memory outside the block it was read into.
#include "bindings/casters.h"
#include "core/shape.h"

namespace ember {
namespace py {

namespace {

Tensor storage_view(const Tensor& base, ScalarType dtype, const DimVector& sizes, const DimVector& strides,
                    int64_t offset) {
  EMBER_VALUE_CHECK(sizes.size() == strides.size(), "_storage_view: ", sizes.size(), " sizes but ", strides.size(),
                    " strides");
  EMBER_VALUE_CHECK(int64_t(sizes.size()) <= kMaxDims, "_storage_view: at most ", kMaxDims, " dims, got ",
                    sizes.size());
  EMBER_VALUE_CHECK(offset >= 0, "_storage_view: negative storage offset ", offset);
  uint64_t extent = 0;  // elements spanned, from the storage start
  bool empty_view = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    EMBER_VALUE_CHECK(sizes[d] >= 0, "_storage_view: negative size in ", shape_str(sizes));
    EMBER_VALUE_CHECK(strides[d] >= 0, "_storage_view: negative stride in ", shape_str(strides));
    if (sizes[d] == 0) empty_view = true;
  }
  const uint64_t nbytes = base.storage()->nbytes;
  if (!empty_view) {
    bool overflow = __builtin_add_overflow(uint64_t(offset), uint64_t(1), &extent);
    for (size_t d = 0; d < sizes.size() && !overflow; ++d) {
      uint64_t span;
      overflow = __builtin_mul_overflow(uint64_t(sizes[d] - 1), uint64_t(strides[d]), &span) ||
                 __builtin_add_overflow(extent, span, &extent);
    }
    uint64_t bytes = 0;
    overflow = overflow || __builtin_mul_overflow(extent, uint64_t(itemsize(dtype)), &bytes);
    EMBER_VALUE_CHECK(!overflow && bytes <= nbytes, "_storage_view: sizes ", shape_str(sizes), ", strides ",
                      shape_str(strides), " and offset ", offset, " of ", dtype_name(dtype),
                      " elements reach past the end of a storage of ", nbytes, " bytes");
  }
  checked_numel(sizes);
  return Tensor(base.storage(), base.version_counter(), sizes, strides, offset, dtype);
}

}  // namespace

void bind_storage(pyb::module_& m) {
  m.def("_storage_view", &storage_view, pyb::arg("base"), pyb::arg("dtype"), pyb::arg("sizes"), pyb::arg("strides"),
        pyb::arg("offset"),
        "A tensor of `dtype` over base's storage with the given geometry (offset in elements of dtype).");
}

}  // namespace py
}  // namespace ember
