// CUDA random fills with the CPU's counter scheme (cpu/random.cpp): element i draws from Philox4x32-10 block
// first + i/4 (32-bit draws) or first + i/2 (64-bit draws) under the generator's seed, so the same seed and
// offset give the same uniform bits on both devices. One thread generates one counter block; the transforms
// are the CPU's (kmath's log and sincos for float draws), evaluated per block.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "cuda/launch.h"
#include "cuda/runtime.h"
#include "kernels/math.h"
#include "kernels/params.h"

namespace ember {
namespace cuda {

namespace {

using kernels::RandomKind;

__device__ __forceinline__ void philox(uint64_t seed, uint64_t counter, uint32_t (&c)[4]) {
  c[0] = uint32_t(counter);
  c[1] = uint32_t(counter >> 32);
  c[2] = c[3] = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0];
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0;
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1;
    c[1] = uint32_t(p1);
    c[3] = uint32_t(p0);
    c[0] = n0;
    c[2] = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

__device__ __forceinline__ float u32_to_unit(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }
__device__ __forceinline__ double u64_to_unit(uint64_t x) { return double(x >> 11) * (1.0 / 9007199254740992.0); }
__device__ __forceinline__ uint64_t join(uint32_t lo, uint32_t hi) { return uint64_t(lo) | (uint64_t(hi) << 32); }

struct RandomArgs {
  RandomKind kind;
  double a, b;
  int64_t int_low;
  uint64_t int_span;
  uint64_t seed, first;
  int digits;  // significand bits of the output type (uniform draws use no more)
};

template <class S>
__device__ __forceinline__ void put(S* o, int64_t n, int64_t e, double v) {
  if (e >= n) return;
  if constexpr (std::is_same<S, bool>::value) o[e] = v != 0.0;
  else o[e] = S(opmath_t<S>(v));
}

// 32-bit draws: four elements per block (V is float for float outputs, double otherwise, as on the CPU).
template <class S, class V>
__global__ void random32_kernel(S* o, int64_t n, int64_t blocks, RandomArgs g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < blocks; j += stride) {
    uint32_t r[4];
    philox(g.seed, g.first + uint64_t(j), r);
    const int64_t e = 4 * j;
    switch (g.kind) {
      case RandomKind::Normal:
        for (int h = 0; h < 2; ++h) {
          const V rad = sqrt(V(-2) * kmath::log(V(1) - V(u32_to_unit(r[2 * h])))), u2 = u32_to_unit(r[2 * h + 1]);
          V s, c;
          if constexpr (std::is_same<V, float>::value) {
            kmath::sincos_2pi(u2, &s, &c);
          } else {
            s = sin(6.283185307179586476925286766559 * u2);
            c = cos(6.283185307179586476925286766559 * u2);
          }
          put(o, n, e + 2 * h, double(V(g.a) + V(g.b) * (rad * c)));
          put(o, n, e + 2 * h + 1, double(V(g.a) + V(g.b) * (rad * s)));
        }
        break;
      case RandomKind::Uniform: {
        const int shift = 32 - g.digits;
        const double unit = ldexp(1.0, -g.digits);
        for (int l = 0; l < 4; ++l) put(o, n, e + l, double(V(g.a + (g.b - g.a) * (double(r[l] >> shift) * unit))));
        break;
      }
      case RandomKind::Bernoulli:
        for (int l = 0; l < 4; ++l) put(o, n, e + l, double(u32_to_unit(r[l])) < g.a ? 1.0 : 0.0);
        break;
      default:  // Exponential
        for (int l = 0; l < 4; ++l) put(o, n, e + l, double(V(-log1p(-double(u32_to_unit(r[l]))) / g.a)));
        break;
    }
  }
}

// 64-bit draws (float64 outputs and integer ranges): two elements per block.
template <class S>
__global__ void random64_kernel(S* o, int64_t n, int64_t blocks, RandomArgs g) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < blocks; j += stride) {
    uint32_t r[4];
    philox(g.seed, g.first + uint64_t(j), r);
    const uint64_t w0 = join(r[0], r[1]), w1 = join(r[2], r[3]);
    const int64_t e = 2 * j;
    switch (g.kind) {
      case RandomKind::RandInt:
        // unsigned arithmetic wraps exactly: low + offset lands in [low, low + span) for any int64 range
        for (int h = 0; h < 2; ++h) {
          const int64_t v = int64_t(uint64_t(g.int_low) + (h ? w1 : w0) % g.int_span);
          if (e + h < n) {
            if constexpr (std::is_same<S, bool>::value) o[e + h] = v != 0;
            else o[e + h] = S(opmath_t<S>(v));
          }
        }
        break;
      case RandomKind::Normal: {
        const double rad = sqrt(-2.0 * log(1.0 - u64_to_unit(w0))), th = 6.283185307179586476925286766559 * u64_to_unit(w1);
        put(o, n, e, g.a + g.b * (rad * cos(th)));
        put(o, n, e + 1, g.a + g.b * (rad * sin(th)));
        break;
      }
      case RandomKind::Uniform:
        put(o, n, e, g.a + (g.b - g.a) * u64_to_unit(w0));
        put(o, n, e + 1, g.a + (g.b - g.a) * u64_to_unit(w1));
        break;
      case RandomKind::Bernoulli:
        put(o, n, e, u64_to_unit(w0) < g.a ? 1.0 : 0.0);
        put(o, n, e + 1, u64_to_unit(w1) < g.a ? 1.0 : 0.0);
        break;
      default:  // Exponential
        put(o, n, e, -log1p(-u64_to_unit(w0)) / g.a);
        put(o, n, e + 1, -log1p(-u64_to_unit(w1)) / g.a);
        break;
    }
  }
}

// bernoulli(p) with a probability per element: element e compares word e % 4 of block first + e / 4.
template <class S>
__global__ void bernoulli_tensor_kernel(S* o, const S* p, int64_t n, int64_t blocks, uint64_t seed, uint64_t first) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < blocks; j += stride) {
    uint32_t r[4];
    philox(seed, first + uint64_t(j), r);
    for (int l = 0; l < 4; ++l) {
      const int64_t e = 4 * j + l;
      if (e < n) o[e] = S(double(u32_to_unit(r[l])) < double(opmath_t<S>(p[e])) ? 1.0f : 0.0f);
    }
  }
}

template <class S>
constexpr int significand_digits() {
  if constexpr (std::is_same<S, Half>::value) return 11;
  else if constexpr (std::is_same<S, BFloat16>::value) return 8;
  else return std::min(24, std::numeric_limits<S>::digits);
}

}  // namespace

void random_fill(const Tensor& out, RandomKind kind, double a, double b, int64_t int_low, uint64_t int_span,
                 uint64_t seed, uint64_t first) {
  const int64_t n = out.numel();
  if (n == 0) return;
  EMBER_RUNTIME_CHECK(out.is_contiguous(), "random_fill on CUDA: expected a contiguous output");
  const bool wide = kernels::random_wide(kind, out.dtype());
  const int64_t blocks = (n + (wide ? 2 : 4) - 1) / (wide ? 2 : 4);
  DeviceGuard guard(out.device().index);
  const LaunchConfig lc = launch_config(blocks, 1, int64_t(multiprocessor_count(out.device().index)) * 8);
  EMBER_DISPATCH_ALL(out.dtype(), "random", [&] {
    using S = scalar_t;
    RandomArgs g{kind, a, b, int_low, int_span, seed, first, significand_digits<S>()};
    S* o = out.data<S>();
    if (wide) {
      random64_kernel<S><<<unsigned(lc.blocks), lc.threads>>>(o, n, blocks, g);
    } else {
      using V = typename std::conditional<sizeof(opmath_t<S>) == 4 && std::is_floating_point<opmath_t<S>>::value,
                                          float, double>::type;
      random32_kernel<S, V><<<unsigned(lc.blocks), lc.threads>>>(o, n, blocks, g);
    }
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

void bernoulli_tensor(const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first) {
  const int64_t n = out.numel();
  if (n == 0) return;
  EMBER_RUNTIME_CHECK(out.is_contiguous() && p.is_contiguous() && p.numel() == n && p.dtype() == out.dtype(),
                      "bernoulli on CUDA: expected contiguous out and p of one shape and dtype");
  const int64_t blocks = (n + 3) / 4;
  DeviceGuard guard(out.device().index);
  const LaunchConfig lc = launch_config(blocks, 1, int64_t(multiprocessor_count(out.device().index)) * 8);
  EMBER_DISPATCH_FLOATING(out.dtype(), "bernoulli", [&] {
    bernoulli_tensor_kernel<scalar_t><<<unsigned(lc.blocks), lc.threads>>>(out.data<scalar_t>(), p.data<scalar_t>(), n,
                                                                           blocks, seed, first);
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace ember
