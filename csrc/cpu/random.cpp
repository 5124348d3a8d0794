// Random fills. Element i draws from counter block first + i/4 (32-bit draws) or first + i/2 (64-bit draws),
// so any split of the work across threads gives identical results. Blocks are generated a chunk at a time,
// lane by lane, so the Philox rounds and the transforms vectorise across blocks.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/dispatch.h"
#include "core/generator.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "kernels/math.h"

namespace ember {
namespace cpu {

namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr int kChunk = 128;  // counter blocks per chunk

inline float u32_to_unit(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }  // [0, 1)
inline double u64_to_unit(uint64_t x) { return double(x >> 11) * (1.0 / 9007199254740992.0); }
inline uint64_t join(uint32_t lo, uint32_t hi) { return uint64_t(lo) | (uint64_t(hi) << 32); }


// Philox4x32-10 (the same rounds as Philox4x32::block) for blocks first .. first + n - 1; r[l][j] is word l
// of block j.
void philox_chunk(uint64_t seed, uint64_t first, int n, uint32_t (&r)[4][kChunk]) {
  uint32_t *c0 = r[0], *c1 = r[1], *c2 = r[2], *c3 = r[3];
  for (int j = 0; j < n; ++j) {
    c0[j] = uint32_t(first + uint64_t(j));
    c1[j] = uint32_t((first + uint64_t(j)) >> 32);
    c2[j] = c3[j] = 0;
  }
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int j = 0; j < n; ++j) {
      const uint64_t p0 = uint64_t(0xD2511F53u) * c0[j];
      const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2[j];
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c1[j] ^ k0;
      const uint32_t n2 = uint32_t(p0 >> 32) ^ c3[j] ^ k1;
      c1[j] = uint32_t(p1);
      c3[j] = uint32_t(p0);
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// The values of one chunk before conversion to the output type (V: float for float32 / float16 / bfloat16
// outputs, else double). Normal pairs come from one block: (words 0, 1) and (2, 3) for 32-bit draws, the
// two 64-bit words for 64-bit ones; Box-Muller gives the cosine to the even element, the sine to the odd.
template <class V>
void values32(RandomKind kind, double a, double b, const uint32_t (&r)[4][kChunk], int n, int digits, V* v) {
  switch (kind) {
    case RandomKind::Normal: {
      const V va = V(a), vb = V(b);
      V cs[2][kChunk], sn[2][kChunk];
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < n; ++j) {  // one flat loop per pair of words, so it vectorises
          const V rad = std::sqrt(V(-2) * kmath::log(V(1) - V(u32_to_unit(r[2 * h][j])))),
                  u2 = u32_to_unit(r[2 * h + 1][j]);
          V s, c;
          if constexpr (std::is_same<V, float>::value) {
            kmath::sincos_2pi(u2, &s, &c);
          } else {
            s = std::sin(kTwoPi * u2);
            c = std::cos(kTwoPi * u2);
          }
          cs[h][j] = va + vb * (rad * c);
          sn[h][j] = va + vb * (rad * s);
        }
      for (int j = 0; j < n; ++j)
        for (int h = 0; h < 2; ++h) {
          v[4 * j + 2 * h] = cs[h][j];
          v[4 * j + 2 * h + 1] = sn[h][j];
        }
      return;
    }
    case RandomKind::Uniform: {
      // as many random bits as the output type's significand holds, so rounding never reaches 1 (a float16
      // draw from 24 bits could round up to b)
      const int shift = 32 - digits;
      const double unit = std::ldexp(1.0, -digits);
      for (int j = 0; j < n; ++j)
        for (int l = 0; l < 4; ++l) v[4 * j + l] = V(a + (b - a) * (double(r[l][j] >> shift) * unit));
      return;
    }
    case RandomKind::Bernoulli:
      for (int j = 0; j < n; ++j)
        for (int l = 0; l < 4; ++l) v[4 * j + l] = double(u32_to_unit(r[l][j])) < a ? V(1) : V(0);
      return;
    default:  // Exponential
      for (int j = 0; j < n; ++j)
        for (int l = 0; l < 4; ++l) v[4 * j + l] = V(-std::log1p(-double(u32_to_unit(r[l][j]))) / a);
      return;
  }
}

void values64(RandomKind kind, double a, double b, const uint32_t (&r)[4][kChunk], int n, double* v) {
  for (int j = 0; j < n; ++j) {
    const uint64_t w0 = join(r[0][j], r[1][j]), w1 = join(r[2][j], r[3][j]);
    switch (kind) {
      case RandomKind::Normal: {
        const double rad = std::sqrt(-2.0 * std::log(1.0 - u64_to_unit(w0))), th = kTwoPi * u64_to_unit(w1);
        v[2 * j] = a + b * (rad * std::cos(th));
        v[2 * j + 1] = a + b * (rad * std::sin(th));
        break;
      }
      case RandomKind::Uniform:
        v[2 * j] = a + (b - a) * u64_to_unit(w0);
        v[2 * j + 1] = a + (b - a) * u64_to_unit(w1);
        break;
      case RandomKind::Bernoulli:
        v[2 * j] = u64_to_unit(w0) < a ? 1.0 : 0.0;
        v[2 * j + 1] = u64_to_unit(w1) < a ? 1.0 : 0.0;
        break;
      default:  // Exponential
        v[2 * j] = -std::log1p(-u64_to_unit(w0)) / a;
        v[2 * j + 1] = -std::log1p(-u64_to_unit(w1)) / a;
        break;
    }
  }
}

template <class S>
constexpr int significand_digits() {
  if constexpr (std::is_same<S, Half>::value) return 11;
  else if constexpr (std::is_same<S, BFloat16>::value) return 8;
  else return std::min(24, std::numeric_limits<S>::digits);
}

template <class S, class V>
inline void store(S* o, const V* v, int64_t m) {
  for (int64_t e = 0; e < m; ++e) {
    if constexpr (std::is_same<S, bool>::value) o[e] = v[e] != V(0);
    else o[e] = S(opmath_t<S>(v[e]));
  }
}

// Runs f(r, blocks, first element, elements) over chunks of counter blocks, chunks split across threads.
template <class F>
void for_chunks(int64_t n, int per, uint64_t seed, uint64_t first, const F& f) {
  const int64_t nb = (n + per - 1) / per;
  parallel_for(0, (nb + kChunk - 1) / kChunk, 16, [&](int64_t c0, int64_t c1) {
    alignas(64) uint32_t r[4][kChunk];
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t b0 = c * kChunk;
      const int blocks = int(std::min<int64_t>(kChunk, nb - b0));
      philox_chunk(seed, first + uint64_t(b0), blocks, r);
      f(r, blocks, b0 * per, std::min<int64_t>(n - b0 * per, int64_t(blocks) * per));
    }
  });
}

}  // namespace

void random_fill(const Tensor& out, RandomKind kind, double a, double b, int64_t int_low, uint64_t int_span,
                 uint64_t seed, uint64_t first) {
  const int64_t n = out.numel();
  const bool wd = kernels::random_wide(kind, out.dtype());
  EMBER_DISPATCH_ALL(out.dtype(), "random", [&] {
    scalar_t* o = out.data<scalar_t>();
    for_chunks(n, wd ? 2 : 4, seed, first, [&](const uint32_t(&r)[4][kChunk], int blocks, int64_t e0, int64_t m) {
      if (kind == RandomKind::RandInt) {
        for (int64_t e = 0; e < m; ++e) {
          const int64_t j = e / 2, h = e % 2;
          const uint64_t bits = join(r[2 * h][j], r[2 * h + 1][j]);
          // unsigned arithmetic wraps exactly: low + offset lands in [low, low + span) for any int64 range
          o[e0 + e] = scalar_t(opmath_t<scalar_t>(int64_t(uint64_t(int_low) + bits % int_span)));
        }
      } else if (wd) {
        double v[2 * kChunk];
        values64(kind, a, b, r, blocks, v);
        store(o + e0, v, m);
      } else {
        using V = typename std::conditional<sizeof(opmath_t<scalar_t>) == 4 &&
                                                std::is_floating_point<opmath_t<scalar_t>>::value, float, double>::type;
        V v[4 * kChunk];
        values32(kind, a, b, r, blocks, significand_digits<scalar_t>(), v);
        store(o + e0, v, m);
      }
    });
  });
}

void bernoulli_tensor(const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first) {
  EMBER_DISPATCH_FLOATING(out.dtype(), "bernoulli", [&] {
    scalar_t* o = out.data<scalar_t>();
    const scalar_t* pp = p.data<scalar_t>();
    for_chunks(out.numel(), 4, seed, first, [&](const uint32_t(&r)[4][kChunk], int, int64_t e0, int64_t m) {
      for (int64_t e = 0; e < m; ++e)
        o[e0 + e] = scalar_t(double(u32_to_unit(r[e % 4][e / 4])) < double(opmath_t<scalar_t>(pp[e0 + e])) ? 1.0f
                                                                                                            : 0.0f);
    });
  });
}

}  // namespace cpu
}  // namespace ember
