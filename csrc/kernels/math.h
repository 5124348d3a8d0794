// Branch-free float32 exp/log/tanh that compilers can vectorise (libm's scalar calls block vectorisation);
// float64 uses libm. Coefficients are the classic Cephes minimax polynomials (about 1 ulp).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/dtype.h"  // EMBER_HD

namespace ember {
namespace kmath {

EMBER_HD inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
EMBER_HD inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

// exp of xc in [kExpMin, kExpMax]: 2^n times a polynomial in the reduced argument r = xc - n ln2
constexpr float kExpMax = 88.7228394f, kExpMin = -103.972084f;
EMBER_HD inline float exp_clamped(float xc) {
  // n = round(x / ln2) with the 1.5 * 2^23 trick (works without SSE4.1 rounding instructions)
  float t = xc * 1.44269504088896341f + 12582912.0f;
  float n = t - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n in two factors, both normal for n in [-150, 128], so results down to the subnormal range stay exact
  int32_t ni = int32_t(n);
  int32_t n1 = ni >> 1, n2 = ni - n1;
  return p * bits_to_float((n1 + 127) << 23) * bits_to_float((n2 + 127) << 23);
}

EMBER_HD inline float exp(float x) {
  // written so NaN clamps to kExpMax (a NaN x is returned at the end): int32_t(NaN) would be undefined
  float xc = x < kExpMax ? x : kExpMax;
  xc = xc > kExpMin ? xc : kExpMin;
  float res = exp_clamped(xc);
  res = x > kExpMax ? std::numeric_limits<float>::infinity() : res;
  res = x < kExpMin ? 0.0f : res;
  return x != x ? x : res;
}
EMBER_HD inline double exp(double x) { return std::exp(x); }

// exp for x <= 0 (or NaN), as in softmax's exp(x - max): the same result as exp(x) with the overflow handling
// left out, about a quarter cheaper in vector loops.
EMBER_HD inline float exp_nonpositive(float x) {
  float res = exp_clamped(x > kExpMin ? x : kExpMin);  // -inf and NaN clamp too; both are fixed up below
  res = x < kExpMin ? 0.0f : res;
  return x != x ? x : res;
}
EMBER_HD inline double exp_nonpositive(double x) { return std::exp(x); }

EMBER_HD inline float log(float x) {
  // split x = m * 2^e with m in [sqrt(1/2), sqrt(2)); subnormals are scaled up first
  bool sub = x < 1.17549435e-38f;
  float xs = sub ? x * 8388608.0f : x;
  int32_t bits = float_to_bits(xs);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = bits_to_float((bits & 0x807fffff) | 0x3f000000);  // in [0.5, 1)
  float ef = float(e) - (sub ? 23.0f : 0.0f);
  bool small = m < 0.707106781186547524f;
  ef = small ? ef - 1.0f : ef;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * ef;
  y += -0.5f * z;
  float res = m + y + 0.693359375f * ef;
  res = x == std::numeric_limits<float>::infinity() ? x : res;
  res = x == 0.0f ? -std::numeric_limits<float>::infinity() : res;
  res = x < 0.0f ? std::numeric_limits<float>::quiet_NaN() : res;
  return x != x ? x : res;
}
EMBER_HD inline double log(double x) { return std::log(x); }

// sin(2 pi u) and cos(2 pi u) for u in [0, 1) (random normals): quarter turns q = round(4u) are exact, the
// rest is an angle in [-pi/4, pi/4] where Taylor polynomials to x^9 / x^10 are accurate to float precision.
EMBER_HD inline void sincos_2pi(float u, float* s, float* c) {
  const float y = 4.0f * u;
  const int32_t q = int32_t(y + 0.5f);
  const float r = (y - float(q)) * 1.57079632679489662f, z = r * r;
  const float sp = r + r * z * (-1.66666667e-1f + z * (8.33333333e-3f + z * (-1.98412698e-4f + z * 2.75573192e-6f)));
  const float cp =
      1.0f + z * (-0.5f + z * (4.16666667e-2f + z * (-1.38888889e-3f + z * (2.48015873e-5f + z * -2.75573192e-7f))));
  const int32_t k = q & 3;
  *s = k == 0 ? sp : k == 1 ? cp : k == 2 ? -sp : -cp;
  *c = k == 0 ? cp : k == 1 ? -sp : k == 2 ? -cp : sp;
}

EMBER_HD inline float tanh(float x) {
  float ax = x < 0 ? -x : x;
  // small |x|: odd polynomial (no cancellation); otherwise 1 - 2 / (e^{2|x|} + 1)
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float e = exp(2.0f * (ax > 9.0f ? 9.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0 ? -big : big;
  float res = ax < 0.625f ? small : big;
  return x != x ? x : res;
}
EMBER_HD inline double tanh(double x) { return std::tanh(x); }

EMBER_HD inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// erfc for gelu, branch-free so loops over it vectorise: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), for
// z >= 0 (a published Chebyshev fit, relative error below 1.2e-7 for every z >= 0), and 2 - erfc(-z) below 0.
// The exponent is formed with one rounding (fma), so the error relative to the result grows only like
// z^2 float ulps in the tail: gelu keeps relative accuracy for large negative inputs without libm's erfc.
EMBER_HD inline float gelu_erfc(float x) {
  float z = x < 0.0f ? -x : x;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float e = t * exp(std::fma(-z, z, p));
  return x < 0.0f ? 2.0f - e : e;
}
EMBER_HD inline double gelu_erfc(double x) { return std::erfc(x); }
EMBER_HD inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace kmath
}  // namespace ember
