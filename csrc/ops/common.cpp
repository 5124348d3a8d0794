// Type promotion, conversion and output allocation shared by all ops.
#include "ops/common.h"

#include "core/shape.h"
#include "core/kernel_table.h"
#include "iter/tensor_iter.h"

namespace ember {
namespace ops {

namespace {
int category(ScalarType t) { return t == ScalarType::Bool ? 0 : (is_floating(t) ? 2 : 1); }

// Combine a higher-priority result with a lower-priority one (PyTorch's combine_categories).
ScalarType combine(bool has_high, ScalarType high, bool has_low, ScalarType low) {
  if (!has_high) return low;
  if (!has_low) return high;
  if (category(high) >= category(low)) return high;
  return promote_types(high, low);
}
}  // namespace

ScalarType result_type(std::initializer_list<const Tensor*> operands) {
  bool has[3] = {false, false, false};
  ScalarType st[3] = {ScalarType::Bool, ScalarType::Bool, ScalarType::Bool};
  for (const Tensor* t : operands) {
    if (!t || !t->defined()) continue;
    int level;
    ScalarType dt = t->dtype();
    if (t->is_wrapped_number()) {
      level = 2;
      if (is_floating(dt)) dt = default_dtype();
    } else {
      level = t->dim() == 0 ? 1 : 0;
    }
    st[level] = has[level] ? promote_types(st[level], dt) : dt;
    has[level] = true;
  }
  ScalarType low = combine(has[1], st[1], has[2], st[2]);
  return combine(has[0], st[0], has[1] || has[2], low);
}

Tensor to_dtype(const Tensor& x, ScalarType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = x.dim() > 1 ? empty_like(x, dtype) : empty(x.sizes(), dtype, x.device());
  TensorIter it = TensorIter::build({&out, &x}, x.sizes());
  kernels_for(out).copy(it, dtype, x.dtype());
  return out;
}

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  TensorIter it = TensorIter::build({&out, &x}, x.sizes());
  kernels_for(out).copy(it, x.dtype(), x.dtype());
  return out;
}

Tensor alloc_like_layout(const DimVector& shape, ScalarType dtype, const Tensor& like) {
  if (like.defined() && like.dim() > 1 && like.sizes() == shape && !like.is_contiguous() &&
      like.is_non_overlapping_and_dense())
    return empty_strided(shape, like.strides(), dtype, like.device());
  return empty(shape, dtype, like.defined() ? like.device() : Device());
}

void check_writable(const Tensor& self, const char* op) {
  if (self.numel() == 0) return;  // nothing is written (zero-size tensors may carry zero strides)
  EMBER_RUNTIME_CHECK(!self.storage()->read_only, op, ": the tensor shares memory with a read-only numpy array "
                      "(from_numpy of a non-writeable array); copy it with .clone() before writing to it");
  for (int64_t d = 0; d < self.dim(); ++d) {
    EMBER_RUNTIME_CHECK(!(self.strides()[d] == 0 && self.sizes()[d] > 1), op,
                        ": unsupported operation: more than one element of the written-to tensor refers to a "
                        "single memory location (an expanded tensor of shape ",
                        shape_str(self.sizes()), "). Please clone() the tensor before performing the operation.");
  }
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_RUNTIME_CHECK(a.device() == b.device(), op, ": expected all tensors to be on the same device, but found ",
                      a.device().str(), " and ", b.device().str());
}

void check_devices(std::initializer_list<const Tensor*> operands, const char* op) {
  const Tensor* first = nullptr;
  for (const Tensor* t : operands) {
    if (!t || !t->defined()) continue;
    if (!first) first = t;
    else check_same_device(*first, *t, op);
  }
}

Device common_device(std::initializer_list<const Tensor*> operands, const char* op) {
  const Tensor* first = nullptr;  // the first operand that fixes the device
  const Tensor* any = nullptr;
  for (const Tensor* t : operands) {
    if (!t || !t->defined()) continue;
    if (!any) any = t;
    if (t->dim() == 0 && t->device().is_cpu()) continue;
    if (!first) {
      first = t;
    } else {
      EMBER_RUNTIME_CHECK(t->device() == first->device(), op,
                          ": Expected all tensors to be on the same device, but found at least two devices, ",
                          first->device().str(), " and ", t->device().str(), "!");
    }
  }
  return first ? first->device() : any ? any->device() : Device();
}

Tensor on_device(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return t;
  Tensor r = to_device(t, device);
  r.set_wrapped_number(t.is_wrapped_number());  // a moved Python number keeps its promotion rank
  return r;
}

Tensor scalar_tensor(double v, ScalarType dtype) {
  Tensor t = empty({}, dtype);
  kernels_for(t).fill(t, v, 0, false);
  return t;
}

Tensor scalar_tensor_int(int64_t v, ScalarType dtype) {
  Tensor t = empty({}, dtype);
  kernels_for(t).fill(t, 0.0, v, true);
  return t;
}

Tensor to_device(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor src = contiguous(x);
  Tensor out = empty(x.sizes(), x.dtype(), device);
  // the non-CPU side moves the bytes (host <-> device, or between two devices)
  kernels_for(device.is_cpu() ? x.device() : device)
      .copy_bytes(out.data_ptr(), device, src.data_ptr(), x.device(), size_t(x.numel()) * x.itemsize());
  return out;
}

double item_double(const Tensor& t) {
  EMBER_RUNTIME_CHECK(t.numel() == 1, "a Tensor with ", t.numel(), " elements cannot be converted to Scalar");
  Tensor d = to_device(to_dtype(t, ScalarType::Float64), Device());
  return *d.data<double>();
}

int64_t item_int(const Tensor& t) {
  EMBER_RUNTIME_CHECK(t.numel() == 1, "a Tensor with ", t.numel(), " elements cannot be converted to Scalar");
  Tensor d = to_device(to_dtype(t, ScalarType::Int64), Device());
  return *d.data<int64_t>();
}

}  // namespace ops
}  // namespace ember
