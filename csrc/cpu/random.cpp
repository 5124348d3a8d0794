// Random fills. Element i draws from counter block first + i/4 (32-bit draws) or first + i/2 (64-bit draws),
// so any split of the work across threads gives identical results.
#include <cmath>

#include "core/dispatch.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

inline float u32_to_unit(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }  // [0, 1)
inline double u64_to_unit(uint64_t x) { return double(x >> 11) * (1.0 / 9007199254740992.0); }
inline uint64_t join(uint32_t lo, uint32_t hi) { return uint64_t(lo) | (uint64_t(hi) << 32); }

bool wide(RandomKind kind, ScalarType dt) { return kind == RandomKind::RandInt || dt == ScalarType::Float64; }

// The i-th draw as double in [0,1), or (for Normal) the i-th standard normal.
struct Drawer {
  uint64_t seed, first;
  bool wide_draws;
  double unit(int64_t i) const {
    uint32_t r[4];
    if (wide_draws) {
      Philox4x32::block(seed, first + uint64_t(i) / 2, r);
      int l = int(i % 2) * 2;
      return u64_to_unit(join(r[l], r[l + 1]));
    }
    Philox4x32::block(seed, first + uint64_t(i) / 4, r);
    return u32_to_unit(r[i % 4]);
  }
  uint64_t bits64(int64_t i) const {
    uint32_t r[4];
    Philox4x32::block(seed, first + uint64_t(i) / 2, r);
    int l = int(i % 2) * 2;
    return join(r[l], r[l + 1]);
  }
  double normal(int64_t i) const {
    // Box-Muller on the pair (i & ~1, i | 1): both members come from the same block
    uint32_t r[4];
    double u1, u2;
    if (wide_draws) {
      Philox4x32::block(seed, first + uint64_t(i) / 2, r);
      u1 = u64_to_unit(join(r[0], r[1]));
      u2 = u64_to_unit(join(r[2], r[3]));
    } else {
      Philox4x32::block(seed, first + uint64_t(i) / 4, r);
      int l = int(i % 4) & ~1;
      u1 = u32_to_unit(r[l]);
      u2 = u32_to_unit(r[l + 1]);
    }
    double rad = std::sqrt(-2.0 * std::log(1.0 - u1));
    double th = kTwoPi * u2;
    return (i % 2) ? rad * std::sin(th) : rad * std::cos(th);
  }
};

}  // namespace

uint64_t random_blocks(int64_t n, RandomKind kind, ScalarType dtype) {
  uint64_t per = wide(kind, dtype) ? 2 : 4;
  return (uint64_t(n) + per - 1) / per;
}

void random_fill(const Tensor& out, RandomKind kind, double a, double b, uint64_t seed, uint64_t first) {
  const int64_t n = out.numel();
  Drawer dr{seed, first, wide(kind, out.dtype())};
  EMBER_DISPATCH_ALL(out.dtype(), "random", [&] {
    scalar_t* o = out.data<scalar_t>();
    parallel_for(0, n, 16384, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) {
        double v;
        switch (kind) {
          case RandomKind::Uniform: v = a + (b - a) * dr.unit(i); break;
          case RandomKind::Normal: v = a + b * dr.normal(i); break;
          case RandomKind::RandInt: {
            uint64_t range = uint64_t(int64_t(b) - int64_t(a));
            o[i] = scalar_t(opmath_t<scalar_t>(int64_t(a) + int64_t(dr.bits64(i) % range)));
            continue;
          }
          case RandomKind::Bernoulli: v = dr.unit(i) < a ? 1.0 : 0.0; break;
          default: v = -std::log1p(-dr.unit(i)) / a; break;
        }
        if constexpr (std::is_same<scalar_t, bool>::value) o[i] = v != 0.0;
        else o[i] = scalar_t(opmath_t<scalar_t>(v));
      }
    });
  });
}

void bernoulli_tensor(const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first) {
  const int64_t n = out.numel();
  Drawer dr{seed, first, false};
  EMBER_DISPATCH_FLOATING(out.dtype(), "bernoulli", [&] {
    scalar_t* o = out.data<scalar_t>();
    const scalar_t* pp = p.data<scalar_t>();
    parallel_for(0, n, 16384, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) o[i] = scalar_t(dr.unit(i) < double(opmath_t<scalar_t>(pp[i])) ? 1.0f : 0.0f);
    });
  });
}

}  // namespace cpu
}  // namespace ember
