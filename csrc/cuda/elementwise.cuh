// The elementwise launch machinery of the CUDA pointwise kernels (cuda/pointwise*.cu): a grid-stride kernel
// per functor with a dense path of 128-bit vector loads and stores and a strided path through the offset
// calculator (32-bit indexing where it fits, 64-bit otherwise), plus a strided kernel for three inputs.
#pragma once
#include "cuda/launch.h"
#include "cuda/runtime.h"

namespace ember {
namespace cuda {
namespace elementwise {

template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// Elements per thread step on the dense path: 16 bytes of the wider of output and input.
template <class Tout, class Tin>
constexpr int vec_width() {
  return int(16 / (sizeof(Tout) > sizeof(Tin) ? sizeof(Tout) : sizeof(Tin)));
}

// Applies f element by element. Dense path: each thread loads and stores whole 16-byte vectors.
template <class Tout, class Tin, int NIN, class F>
__global__ void dense_kernel(int64_t n, Tout* out, const Tin* in0, const Tin* in1, F f) {
  constexpr int V = vec_width<Tout, Tin>();
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t nvec = n / V;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < nvec; i += stride) {
    const Vec<Tin, V> a = reinterpret_cast<const Vec<Tin, V>*>(in0)[i];
    Vec<Tout, V> o;
    if constexpr (NIN == 1) {
#pragma unroll
      for (int j = 0; j < V; ++j) o.v[j] = f(a.v[j]);
    } else {
      const Vec<Tin, V> b = reinterpret_cast<const Vec<Tin, V>*>(in1)[i];
#pragma unroll
      for (int j = 0; j < V; ++j) o.v[j] = f(a.v[j], b.v[j]);
    }
    reinterpret_cast<Vec<Tout, V>*>(out)[i] = o;
  }
  for (int64_t e = nvec * V + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    if constexpr (NIN == 1) out[e] = f(in0[e]);
    else out[e] = f(in0[e], in1[e]);
  }
}

template <class Tout, class Tin, int NIN, class IndexT, class F>
__global__ void strided_kernel(IndexT n, char* out, const char* in0, const char* in1, OffsetCalc<NIN + 1, IndexT> oc,
                               F f) {
  const IndexT stride = IndexT(gridDim.x) * blockDim.x;
  for (IndexT i = IndexT(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    IndexT off[NIN + 1];
    oc.get(i, off);
    Tout* o = reinterpret_cast<Tout*>(out + off[0]);
    const Tin a = *reinterpret_cast<const Tin*>(in0 + off[1]);
    if constexpr (NIN == 1) {
      *o = f(a);
    } else {
      *o = f(a, *reinterpret_cast<const Tin*>(in1 + off[2]));
    }
  }
}

// Eight blocks per multiprocessor of the iteration's device: enough to hide latency, few enough to loop.
inline int64_t max_blocks(const TensorIter& it) { return int64_t(multiprocessor_count(it.device.index)) * 8; }

inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <class Tout, class Tin, int NIN, class F>
void launch(const TensorIter& it, const F& f) {
  if (it.numel == 0) return;
  DeviceGuard guard(it.device.index);
  constexpr int V = vec_width<Tout, Tin>();
  const int64_t isz[3] = {int64_t(sizeof(Tout)), int64_t(sizeof(Tin)), int64_t(sizeof(Tin))};
  bool vec_ok = aligned_to(it.data[0], sizeof(Vec<Tout, V>));
  for (int k = 1; k <= NIN; ++k) vec_ok = vec_ok && aligned_to(it.data[k], sizeof(Vec<Tin, V>));
  if (vec_ok && is_dense_1d(it, isz)) {
    LaunchConfig lc = launch_config(it.numel, V, max_blocks(it));
    dense_kernel<Tout, Tin, NIN><<<unsigned(lc.blocks), lc.threads>>>(
        it.numel, reinterpret_cast<Tout*>(it.data[0]), reinterpret_cast<const Tin*>(it.data[1]),
        reinterpret_cast<const Tin*>(NIN == 2 ? it.data[2] : it.data[1]), f);
  } else if (fits_32bit(it)) {
    LaunchConfig lc = launch_config(it.numel, 1, max_blocks(it));
    strided_kernel<Tout, Tin, NIN, uint32_t><<<unsigned(lc.blocks), lc.threads>>>(
        uint32_t(it.numel), it.data[0], it.data[1], NIN == 2 ? it.data[2] : it.data[1],
        make_offset_calc<NIN + 1, uint32_t>(it), f);
  } else {
    LaunchConfig lc = launch_config(it.numel, 1, max_blocks(it));
    strided_kernel<Tout, Tin, NIN, int64_t><<<unsigned(lc.blocks), lc.threads>>>(
        it.numel, it.data[0], it.data[1], NIN == 2 ? it.data[2] : it.data[1], make_offset_calc<NIN + 1, int64_t>(it),
        f);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

// out = f(a, b, c), strided only (ternary ops are rarer; each operand through the offset calculator)
template <class Tout, class Tin, class IndexT, class F>
__global__ void strided3_kernel(IndexT n, char* out, const char* in0, const char* in1, const char* in2,
                                OffsetCalc<4, IndexT> oc, F f) {
  const IndexT stride = IndexT(gridDim.x) * blockDim.x;
  for (IndexT i = IndexT(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    IndexT off[4];
    oc.get(i, off);
    *reinterpret_cast<Tout*>(out + off[0]) = f(*reinterpret_cast<const Tin*>(in0 + off[1]),
                                               *reinterpret_cast<const Tin*>(in1 + off[2]),
                                               *reinterpret_cast<const Tin*>(in2 + off[3]));
  }
}

template <class Tout, class Tin, class F>
void launch3(const TensorIter& it, const F& f) {
  if (it.numel == 0) return;
  DeviceGuard guard(it.device.index);
  LaunchConfig lc = launch_config(it.numel, 1, max_blocks(it));
  if (fits_32bit(it))
    strided3_kernel<Tout, Tin, uint32_t><<<unsigned(lc.blocks), lc.threads>>>(
        uint32_t(it.numel), it.data[0], it.data[1], it.data[2], it.data[3], make_offset_calc<4, uint32_t>(it), f);
  else
    strided3_kernel<Tout, Tin, int64_t><<<unsigned(lc.blocks), lc.threads>>>(
        it.numel, it.data[0], it.data[1], it.data[2], it.data[3], make_offset_calc<4, int64_t>(it), f);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace elementwise
}  // namespace cuda
}  // namespace ember
