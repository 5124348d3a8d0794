// Tensor: storage + sizes + strides + offset + dtype. Element (i, j) of a 2-D tensor lives at
// storage element `offset + strides[0]*i + strides[1]*j`. Views share storage and version counter.
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"
#include "core/small_vector.h"
#include "core/storage.h"

namespace ember {

constexpr int64_t kMaxDims = 64;

class Tensor {
 public:
  Tensor() = default;
  Tensor(Storage storage, VersionPtr version, DimVector sizes, DimVector strides, int64_t offset, ScalarType dtype)
      : storage_(std::move(storage)),
        version_(std::move(version)),
        sizes_(std::move(sizes)),
        strides_(std::move(strides)),
        offset_(offset),
        dtype_(dtype) {
    recompute_numel();
  }

  bool defined() const { return bool(storage_); }
  const DimVector& sizes() const { return sizes_; }
  const DimVector& strides() const { return strides_; }
  int64_t dim() const { return int64_t(sizes_.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end; IndexError when out of range
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_; }
  int64_t offset() const { return offset_; }
  ScalarType dtype() const { return dtype_; }
  size_t itemsize() const { return ember::itemsize(dtype_); }
  Device device() const { return storage_->device; }
  const Storage& storage() const { return storage_; }
  const VersionPtr& version_counter() const { return version_; }

  char* data_ptr() const { return static_cast<char*>(storage_->data) + offset_ * int64_t(itemsize()); }
  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(data_ptr());
  }

  bool is_contiguous() const;
  // Same storage and geometry: the same view of the same memory.
  bool is_same(const Tensor& o) const {
    return storage_.get() == o.storage_.get() && offset_ == o.offset_ && sizes_ == o.sizes_ && strides_ == o.strides_;
  }
  // True when the elements occupy one dense block in some order (any permutation of dims).
  bool is_non_overlapping_and_dense() const;

  // A Python scalar turned into a 0-d tensor: it takes part in type promotion at lowest priority.
  bool is_wrapped_number() const { return wrapped_number_; }
  void set_wrapped_number(bool w) { wrapped_number_ = w; }

  int64_t version() const { return version_->version.load(std::memory_order_relaxed); }
  void bump_version() const { version_->version.fetch_add(1, std::memory_order_relaxed); }

  // A view of the same storage (and version counter) with other geometry; offset in elements.
  Tensor as_view(DimVector sizes, DimVector strides, int64_t offset) const {
    return Tensor(storage_, version_, std::move(sizes), std::move(strides), offset, dtype_);
  }
  // Same storage, a fresh version counter (what PyTorch's `.data` gives).
  Tensor alias_with_new_version() const {
    return Tensor(storage_, new_version_counter(), sizes_, strides_, offset_, dtype_);
  }
  void set_geometry(DimVector sizes, DimVector strides, int64_t offset) {
    sizes_ = std::move(sizes);
    strides_ = std::move(strides);
    offset_ = offset;
    recompute_numel();
  }
  // Replaces storage and geometry but keeps this tensor's version counter (`x.data = y`).
  void set_data(const Tensor& other) {
    storage_ = other.storage_;
    sizes_ = other.sizes_;
    strides_ = other.strides_;
    offset_ = other.offset_;
    dtype_ = other.dtype_;
    numel_ = other.numel_;
  }

 private:
  // Every geometry passes here: an element count past int64 raises instead of wrapping (expand to 2^40 x 2^40).
  void recompute_numel() {
    int64_t n = 1;
    for (auto s : sizes_)
      if (__builtin_mul_overflow(n, s, &n)) throw std::runtime_error("numel: integer multiplication overflow");
    numel_ = n;
  }

  Storage storage_;
  VersionPtr version_;
  DimVector sizes_, strides_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
  ScalarType dtype_ = ScalarType::Float32;
  bool wrapped_number_ = false;
};

// New contiguous tensors. Sizes are validated (negative -> RuntimeError, overflow/too large -> MemoryError).
Tensor empty(const DimVector& sizes, ScalarType dtype, Device device = Device());
Tensor empty_strided(const DimVector& sizes, const DimVector& strides, ScalarType dtype, Device device = Device());
// A new tensor with the same sizes and the same dense layout (permutation of dims) as `like` when that is
// dense, else contiguous.
Tensor empty_like(const Tensor& like, ScalarType dtype);
inline Tensor empty_like(const Tensor& like) { return empty_like(like, like.dtype()); }

}  // namespace ember
