// Building a TensorIter: broadcast strides, reorder dims by stride, drop size-1 dims, coalesce.
#include "iter/tensor_iter.h"

#include "core/shape.h"

namespace ember {

TensorIter TensorIter::build(std::initializer_list<const Tensor*> operands, const DimVector& shape, int reorder_by) {
  TensorIter it;
  it.ntensors = int(operands.size());
  if (it.ntensors) it.device = (*operands.begin())->device();
  EMBER_RUNTIME_CHECK(it.ntensors <= kMaxIterOperands, "TensorIter: too many operands");
  const int64_t nd = int64_t(shape.size());

  // Byte strides aligned to `shape`, innermost first; broadcast dims get stride 0.
  DimVector full[kMaxIterOperands];
  int k = 0;
  for (const Tensor* t : operands) {
    // the last line of defence of the device seam: a kernel reads every operand from one device's memory
    EMBER_RUNTIME_CHECK(t->device() == (*operands.begin())->device(), "Expected all tensors to be on the same device, "
                        "but found at least two devices, ", (*operands.begin())->device().str(), " and ",
                        t->device().str(), "!");
    EMBER_RUNTIME_CHECK(t->dim() <= nd, "TensorIter: operand of shape ", shape_str(t->sizes()),
                        " has more dims than the iteration shape ", shape_str(shape));
    const int64_t isz = int64_t(t->itemsize());
    full[k].resize(size_t(nd));
    for (int64_t d = 0; d < nd; ++d) {
      int64_t td = d - (nd - t->dim());  // tensor dim aligned to iteration dim d (outermost-first)
      int64_t s = 0;
      if (td >= 0) {
        int64_t sz = t->sizes()[td];
        EMBER_RUNTIME_CHECK(sz == shape[d] || sz == 1, "TensorIter: operand of shape ", shape_str(t->sizes()),
                            " does not broadcast to ", shape_str(shape));
        s = sz == 1 ? 0 : t->strides()[td] * isz;
      }
      full[k][size_t(nd - 1 - d)] = s;
    }
    it.data[k] = t->numel() ? t->data_ptr() : nullptr;
    ++k;
  }

  // Iteration dims (innermost first) with their sizes; size-1 dims contribute nothing.
  SmallVector<int64_t, 8> dims;
  for (int64_t d = 0; d < nd; ++d)
    if (shape[size_t(nd - 1 - d)] != 1) dims.push_back(d);
  auto size_of = [&](int64_t d) { return shape[size_t(nd - 1 - d)]; };

  // Stable insertion sort, innermost first: the reorder_by operand decides, then the others in order;
  // an operand with a zero (broadcast) or equal stride on either dim does not decide.
  auto compare = [&](int64_t a, int64_t b) {
    for (int o = -1; o < it.ntensors; ++o) {
      int op = o < 0 ? reorder_by : o;
      if (o == reorder_by) continue;
      int64_t sa = full[op][size_t(a)], sb = full[op][size_t(b)];
      if (sa == 0 || sb == 0 || sa == sb) continue;
      return sa < sb ? -1 : 1;
    }
    return 0;
  };
  for (size_t i = 1; i < dims.size(); ++i)
    for (size_t j = i; j > 0 && compare(dims[j], dims[j - 1]) < 0; --j) std::swap(dims[j], dims[j - 1]);

  // Coalesce neighbours whose strides chain for every operand.
  it.shape.clear();
  for (int o = 0; o < it.ntensors; ++o) it.strides[o].clear();
  for (int64_t d : dims) {
    int64_t sz = size_of(d);
    if (!it.shape.empty()) {
      bool can = true;
      for (int o = 0; o < it.ntensors && can; ++o)
        can = full[o][size_t(d)] == it.strides[o].back() * it.shape.back();
      if (can) {
        it.shape.back() *= sz;
        continue;
      }
    }
    it.shape.push_back(sz);
    for (int o = 0; o < it.ntensors; ++o) it.strides[o].push_back(full[o][size_t(d)]);
  }
  if (it.shape.empty()) {
    it.shape.push_back(1);
    for (int o = 0; o < it.ntensors; ++o) it.strides[o].push_back(0);
  }
  it.ndim = int(it.shape.size());
  int64_t n = 1;
  for (auto s : it.shape) n *= s;
  for (auto s : shape)
    if (s == 0) n = 0;
  it.numel = n;
  return it;
}

bool TensorIter::is_contiguous(std::initializer_list<int64_t> itemsizes) const {
  if (ndim != 1) return false;
  int k = 0;
  for (int64_t isz : itemsizes) {
    if (strides[k][0] != isz && shape[0] != 1) return false;
    ++k;
  }
  return true;
}

}  // namespace ember
