// Host-side logic of the CUDA elementwise kernels, plain C++ so CI tests it without a GPU: the offset
// calculator built from a TensorIter (the same coalesced dims and byte strides the CPU loops use), the choice
// of 32- or 64-bit indexing, and the launch configuration.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "iter/tensor_iter.h"

namespace ember {
namespace cuda {

constexpr int kMaxCudaDims = 12;  // dims left after TensorIter coalesced them
constexpr int kThreads = 256;

// Byte offsets of element `linear` (C order over the iteration shape, innermost dim first) for N operands.
template <int N, class IndexT>
struct OffsetCalc {
  int ndim = 0;
  IndexT sizes[kMaxCudaDims] = {};
  IndexT strides[N][kMaxCudaDims] = {};

  EMBER_HD void get(IndexT linear, IndexT (&out)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = 0;
    for (int d = 0; d < ndim; ++d) {
      const IndexT idx = linear % sizes[d];
      linear /= sizes[d];
#pragma unroll
      for (int k = 0; k < N; ++k) out[k] += idx * strides[k][d];
    }
  }
};

// Whether every element count and byte offset of `it` fits a signed 32-bit index (cheaper division).
inline bool fits_32bit(const TensorIter& it) {
  const int64_t lim = int64_t(1) << 31;
  if (it.numel == 0) return true;  // nothing is addressed
  if (it.numel >= lim) return false;
  for (int k = 0; k < it.ntensors; ++k) {
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < it.ndim; ++d) {
      const int64_t span = (it.shape[d] - 1) * it.strides[k][d];
      (span < 0 ? lo : hi) += span;
    }
    if (lo < 0 || hi >= lim) return false;  // negative strides or spans past 2 GiB take 64-bit indexing
  }
  return true;
}

template <int N, class IndexT>
OffsetCalc<N, IndexT> make_offset_calc(const TensorIter& it) {
  EMBER_RUNTIME_CHECK(it.ntensors == N, "cuda: offset calculator for ", N, " operands got ", it.ntensors);
  EMBER_CHECK(it.ndim <= kMaxCudaDims, NotImplementedError, "cuda: elementwise kernels take at most ", kMaxCudaDims,
              " dims after coalescing, got ", it.ndim);
  OffsetCalc<N, IndexT> c;
  c.ndim = it.ndim;
  for (int d = 0; d < it.ndim; ++d) {
    c.sizes[d] = IndexT(it.shape[d]);
    for (int k = 0; k < N; ++k) c.strides[k][d] = IndexT(it.strides[k][d]);
  }
  return c;
}

// True when operand k walks its memory densely in iteration order (one dim of unit element stride).
inline bool is_dense_1d(const TensorIter& it, const int64_t* itemsizes) {
  if (it.ndim != 1) return false;
  for (int k = 0; k < it.ntensors; ++k)
    if (it.strides[k][0] != itemsizes[k]) return false;
  return true;
}

struct LaunchConfig {
  int64_t blocks;
  int threads;
};

// A grid-stride launch: enough blocks to cover n / per_thread elements, capped at `max_blocks` (a few waves
// of the device's multiprocessors) so huge tensors loop instead of launching millions of blocks.
inline LaunchConfig launch_config(int64_t n, int per_thread, int64_t max_blocks) {
  const int64_t work = (n + per_thread - 1) / std::max(per_thread, 1);
  const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>((work + kThreads - 1) / kThreads, max_blocks));
  return {blocks, kThreads};
}

}  // namespace cuda
}  // namespace ember
