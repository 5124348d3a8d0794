// float16/bfloat16 inside CPU kernels: a row or plane is loaded into per-thread float32 scratch, computed by
// the float kernel and stored back rounded, so 16-bit tensors are never converted as a whole.
#pragma once
#include <cstdint>
#include <vector>

namespace ember {
namespace cpu {

// n floats of per-thread scratch; `slot` tells apart buffers that are live at the same time.
inline float* scratch_floats(int64_t n, int slot) {
  thread_local std::vector<float> bufs[4];
  std::vector<float>& b = bufs[slot];
  if (int64_t(b.size()) < n) b.resize(size_t(n));
  return b.data();
}

template <class S>
inline const float* load_floats(const S* p, int64_t stride, int64_t n, int slot) {
  float* d = scratch_floats(n, slot);
  for (int64_t i = 0; i < n; ++i) d[i] = float(p[i * stride]);
  return d;
}

template <class S>
inline void store_floats(const float* src, int64_t n, S* p, int64_t stride) {
  for (int64_t i = 0; i < n; ++i) p[i * stride] = S(src[i]);
}

}  // namespace cpu
}  // namespace ember
