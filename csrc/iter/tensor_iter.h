// TensorIter: the one strided-iteration engine behind every elementwise and reduction kernel.
// Operands share one broadcast shape; dims are reordered by stride (innermost = smallest), size-1 dims dropped
// and mergeable dims coalesced, so a kernel only ever sees a 1-D inner loop:
//     loop(char** data, const int64_t* strides, int64_t n)   // strides in bytes, one per operand
// called for each inner row, on the thread pool when the work is large.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "core/parallel.h"
#include "core/tensor.h"

namespace ember {

constexpr int kMaxIterOperands = 8;

struct TensorIter {
  int ntensors = 0;
  int ndim = 0;                           // >= 1 once built (a 0-d problem becomes shape [1])
  DimVector shape;                        // innermost first
  DimVector strides[kMaxIterOperands];    // byte strides, innermost first
  char* data[kMaxIterOperands] = {};
  int64_t numel = 0;
  Device device;                          // where every operand lives (build checks they agree)
  // A CPU scalar operand of a 16-bit op that PyTorch reads at float precision (mul, div, lerp's weight) is left
  // out of the operands: its value is here and scalar_operand is the input position it takes (-1: none).
  int scalar_operand = -1;
  float scalar_value = 0.f;

  // Operands must already have sizes broadcastable to `shape` (outermost-first, as tensors store it).
  // reorder_by: the operand whose strides decide the iteration order (its smallest stride goes innermost).
  static TensorIter build(std::initializer_list<const Tensor*> operands, const DimVector& shape, int reorder_by = 0);

  // True when every operand is contiguous along the single (coalesced) dim.
  bool is_contiguous(std::initializer_list<int64_t> itemsizes) const;

  // Runs loop over the linear element range [begin, end) of the iteration space.
  template <class Loop>
  void serial_for_each(const Loop& loop, int64_t begin, int64_t end) const;

  // Runs loop over everything, splitting the linear range across threads when numel >= grain.
  template <class Loop>
  void for_each(const Loop& loop, int64_t grain = kGrainSize) const {
    if (numel == 0) return;
    if (numel < grain) {
      serial_for_each(loop, 0, numel);
      return;
    }
    parallel_for(0, numel, grain, [&](int64_t b, int64_t e) { serial_for_each(loop, b, e); });
  }
};

template <class Loop>
void TensorIter::serial_for_each(const Loop& loop, int64_t begin, int64_t end) const {
  char* ptrs[kMaxIterOperands];
  int64_t inner_strides[kMaxIterOperands];
  for (int k = 0; k < ntensors; ++k) inner_strides[k] = strides[k][0];
  if (ndim == 1) {
    for (int k = 0; k < ntensors; ++k) ptrs[k] = data[k] + begin * strides[k][0];
    loop(ptrs, inner_strides, end - begin);
    return;
  }
  // Multi-index of `begin` (innermost first) and the pointers it addresses.
  int64_t idx[kMaxDims];
  int64_t rem = begin;
  for (int d = 0; d < ndim; ++d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
  }
  for (int k = 0; k < ntensors; ++k) {
    char* p = data[k];
    for (int d = 0; d < ndim; ++d) p += idx[d] * strides[k][d];
    ptrs[k] = p;
  }
  const int64_t inner = shape[0];
  int64_t pos = begin;
  while (pos < end) {
    int64_t n = inner - idx[0];
    if (n > end - pos) n = end - pos;
    char* row[kMaxIterOperands];
    for (int k = 0; k < ntensors; ++k) row[k] = ptrs[k];
    loop(row, inner_strides, n);
    pos += n;
    if (pos >= end) break;
    // back to the start of this row, then carry into the outer dims
    for (int k = 0; k < ntensors; ++k) ptrs[k] -= idx[0] * strides[k][0];
    idx[0] = 0;
    for (int d = 1; d < ndim; ++d) {
      ++idx[d];
      for (int k = 0; k < ntensors; ++k) ptrs[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (int k = 0; k < ntensors; ++k) ptrs[k] -= shape[d] * strides[k][d];
      idx[d] = 0;
    }
  }
}

}  // namespace ember
