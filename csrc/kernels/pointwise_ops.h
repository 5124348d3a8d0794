// The pointwise op list. One X-macro line per op drives the CPU kernels (cpu/pointwise.inc), the op enums and
// entry points (ops/pointwise.cpp) and the Python bindings. Functors are device-agnostic: they compute in
// opmath_t (float for 16-bit floats) and are written so compilers vectorise them.
//
// Dtype classes:  FLOAT    integer inputs promote to the default float dtype; kernels for floating types
//                 NUMERIC  every type but bool, result keeps the input type
//                 ALL      every type including bool
//                 INTEGRAL integers and bool (bitwise)
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/math.h"

namespace ember {
namespace kernels {

template <class T> EMBER_HD inline bool is_nan(T x) { return x != x; }

// ---------------------------------------------------------------- unary: X(name, class, expression of x)
#define EMBER_UNARY_OPS(X)                                                                             \
  X(neg, NUMERIC, neg_(x))                                                                             \
  X(abs, NUMERIC, abs_(x))                                                                             \
  X(sign, NUMERIC, sign_(x))                                                                           \
  X(relu, NUMERIC, (x > T(0) ? x : (is_nan(x) ? x : T(0))))                                           \
  X(square, NUMERIC, mul_(x, x))                                                                       \
  X(floor, NUMERIC, round_op_(x, 0))                                                                   \
  X(ceil, NUMERIC, round_op_(x, 1))                                                                    \
  X(round, NUMERIC, round_op_(x, 2))                                                                   \
  X(trunc, NUMERIC, round_op_(x, 3))                                                                   \
  X(exp, FLOAT, kmath::exp(x))                                                                         \
  X(exp2, FLOAT, std::exp2(x))                                                                         \
  X(log, FLOAT, kmath::log(x))                                                                         \
  X(log2, FLOAT, kmath::log(x) * T(1.4426950408889634))                                                \
  X(log10, FLOAT, kmath::log(x) * T(0.4342944819032518))                                               \
  X(log1p, FLOAT, std::log1p(x))                                                                       \
  X(expm1, FLOAT, std::expm1(x))                                                                       \
  X(sqrt, FLOAT, std::sqrt(x))                                                                         \
  X(rsqrt, FLOAT, T(1) / std::sqrt(x))                                                                 \
  X(reciprocal, FLOAT, T(1) / x)                                                                       \
  X(sin, FLOAT, std::sin(x))                                                                           \
  X(cos, FLOAT, std::cos(x))                                                                           \
  X(tan, FLOAT, std::tan(x))                                                                           \
  X(asin, FLOAT, std::asin(x))                                                                         \
  X(acos, FLOAT, std::acos(x))                                                                         \
  X(atan, FLOAT, std::atan(x))                                                                         \
  X(sinh, FLOAT, std::sinh(x))                                                                         \
  X(cosh, FLOAT, std::cosh(x))                                                                         \
  X(tanh, FLOAT, kmath::tanh(x))                                                                       \
  X(asinh, FLOAT, std::asinh(x))                                                                       \
  X(acosh, FLOAT, std::acosh(x))                                                                       \
  X(atanh, FLOAT, std::atanh(x))                                                                       \
  X(sigmoid, FLOAT, kmath::sigmoid(x))                                                                 \
  X(logsigmoid, FLOAT, (x < T(0) ? x - std::log1p(kmath::exp(x)) : -std::log1p(kmath::exp(-x))))     \
  X(silu, FLOAT, x * kmath::sigmoid(x))                                                                \
  X(gelu, FLOAT, T(0.5) * x * kmath::gelu_erfc(x * T(-0.70710678118654752)))  /* no cancellation, x < 0 */  \
  X(gelu_tanh, FLOAT,                                                                                  \
    T(0.5) * x * (T(1) + kmath::tanh(T(0.79788456080286536) * (x + T(0.044715) * x * x * x))))        \
  X(erf, FLOAT, std::erf(x))                                                                           \
  X(erfc, FLOAT, std::erfc(x))                                                                         \
  X(softplus, FLOAT, (x > T(20) ? x : std::log1p(kmath::exp(x))))                                      \
  X(mish, FLOAT, x * kmath::tanh(x > T(20) ? x : std::log1p(kmath::exp(x))))                          \
  X(lgamma, FLOAT, std::lgamma(x))                                                                     \
  X(digamma, FLOAT, digamma_(x))                                                                       \
  X(bitwise_not, INTEGRAL, bitnot_(x))

// unary ops with a bool result
#define EMBER_UNARY_BOOL_OPS(X)             \
  X(isnan, ALL, is_nan(x))                 \
  X(isinf, ALL, isinf_(x))                 \
  X(isfinite, ALL, !is_nan(x) && !isinf_(x)) \
  X(logical_not, ALL, !(x != T(0)))


// ---------------------------------------------------------------- binary: X(name, class, expression of a, b)
#define EMBER_BINARY_OPS(X)                                                                            \
  X(add, ALL, add_(a, b))                                                                              \
  X(sub, NUMERIC, sub_(a, b))                                                                          \
  X(mul, ALL, mul_(a, b))                                                                              \
  X(div, FLOAT, a / b)                                                                                 \
  X(floor_divide, NUMERIC, floordiv_(a, b))                                                            \
  X(remainder, NUMERIC, remainder_(a, b))                                                              \
  X(fmod, NUMERIC, fmod_(a, b))                                                                        \
  X(pow, NUMERIC, pow_(a, b))                                                                          \
  X(maximum, ALL, (is_nan(a) || a > b ? a : b))                                                        \
  X(minimum, ALL, (is_nan(a) || a < b ? a : b))                                                        \
  X(fmax, ALL, (is_nan(b) || a > b ? a : b))                                                           \
  X(fmin, ALL, (is_nan(b) || a < b ? a : b))                                                           \
  X(atan2, FLOAT, std::atan2(a, b))                                                                    \
  X(hypot, FLOAT, std::hypot(a, b))                                                                    \
  X(copysign, FLOAT, std::copysign(a, b))                                                              \
  X(logaddexp, FLOAT, logaddexp_(a, b))                                                                \
  X(xlogy, FLOAT, (is_nan(b) ? b : (a == T(0) ? T(0) : a * kmath::log(b))))                            \
  X(bitwise_and, INTEGRAL, bitand_(a, b))                                                              \
  X(bitwise_or, INTEGRAL, bitor_(a, b))                                                                \
  X(bitwise_xor, INTEGRAL, bitxor_(a, b))                                                              \
  /* fused backward helpers: a = incoming gradient, b = saved input or output */                       \
  X(sigmoid_backward, FLOAT, a * b * (T(1) - b))                                                       \
  X(tanh_backward, FLOAT, a * (T(1) - b * b))                                                          \
  X(relu_backward, NUMERIC, (b > T(0) ? a : T(0)))                                                     \
  X(silu_backward, FLOAT, silu_backward_(a, b))                                                        \
  X(gelu_backward, FLOAT, gelu_backward_(a, b))

// binary ops with a bool result
#define EMBER_BINARY_BOOL_OPS(X)                   \
  X(eq, ALL, a == b)                               \
  X(ne, ALL, a != b)                               \
  X(lt, ALL, a < b)                                \
  X(le, ALL, a <= b)                               \
  X(gt, ALL, a > b)                                \
  X(ge, ALL, a >= b)                               \
  X(logical_and, ALL, (a != T(0)) && (b != T(0)))  \
  X(logical_or, ALL, (a != T(0)) || (b != T(0)))   \
  X(logical_xor, ALL, (a != T(0)) != (b != T(0)))

// ---------------------------------------------------------------- helpers used in the expressions above
// Signed integers wrap modulo 2^bits on overflow, as in PyTorch (INT_MAX + 1 == INT_MIN, -INT_MIN == INT_MIN).
// Signed overflow is undefined behaviour in C++, so the arithmetic is done in an unsigned type at least as wide
// as unsigned int (narrower unsigned types would be promoted to int, where the product can overflow again) and
// converted back. The generated code is the same instructions; floating types and bool are left alone.
template <class T> struct wrap_unsigned {
  using type = typename std::conditional<(sizeof(T) < sizeof(unsigned)), unsigned, typename std::make_unsigned<T>::type>::type;
};
template <class T> constexpr bool wraps_v = std::is_integral<T>::value && std::is_signed<T>::value;
template <class T> EMBER_HD inline T wrap_add(T a, T b) {
  if constexpr (wraps_v<T>) { using U = typename wrap_unsigned<T>::type; return T(U(a) + U(b)); }
  else return a + b;
}
template <class T> EMBER_HD inline T wrap_sub(T a, T b) {
  if constexpr (wraps_v<T>) { using U = typename wrap_unsigned<T>::type; return T(U(a) - U(b)); }
  else return a - b;
}
template <class T> EMBER_HD inline T wrap_mul(T a, T b) {
  if constexpr (wraps_v<T>) { using U = typename wrap_unsigned<T>::type; return T(U(a) * U(b)); }
  else return a * b;
}
template <class T> EMBER_HD inline T neg_(T x) {
  if constexpr (wraps_v<T>) { using U = typename wrap_unsigned<T>::type; return T(U(0) - U(x)); }
  else return -x;
}
template <class T> EMBER_HD inline T sub_(T a, T b) { return wrap_sub(a, b); }
template <class T> EMBER_HD inline T abs_(T x) {
  if constexpr (std::is_unsigned<T>::value || std::is_same<T, bool>::value) return x;
  else return x < T(0) ? neg_(x) : (x == T(0) ? T(0) : x);  // abs(-0.) == 0.; abs(INT_MIN) == INT_MIN
}
template <class T> EMBER_HD inline T sign_(T x) {
  if constexpr (std::is_same<T, bool>::value) return x;
  else if constexpr (std::is_unsigned<T>::value) return T(x > 0);
  else if constexpr (std::is_floating_point<T>::value) return is_nan(x) ? x : T((x > 0) - (x < 0));
  else return T((x > 0) - (x < 0));
}
template <class T> EMBER_HD inline T round_op_(T x, int mode) {
  if constexpr (!std::is_floating_point<T>::value) return x;
  else {
    switch (mode) {
      case 0: return std::floor(x);
      case 1: return std::ceil(x);
      case 2: return std::nearbyint(x);  // half to even, like PyTorch
      default: return std::trunc(x);
    }
  }
}
template <class T> EMBER_HD inline bool isinf_(T x) {
  if constexpr (std::is_floating_point<T>::value) return x == std::numeric_limits<T>::infinity() || x == -std::numeric_limits<T>::infinity();
  else return false;
}
template <class T> EMBER_HD inline T bitnot_(T x) {
  if constexpr (std::is_same<T, bool>::value) return !x;
  else return T(~x);
}
template <class T> EMBER_HD inline T add_(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) return a || b;
  else return wrap_add(a, b);
}
template <class T> EMBER_HD inline T mul_(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) return a && b;
  else return wrap_mul(a, b);
}
template <class T> EMBER_HD inline T floordiv_(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    if (b == T(0)) return a / b;
    T m = std::fmod(a, b);
    T div = (a - m) / b;
    if (m != T(0) && ((b < T(0)) != (m < T(0)))) div -= T(1);
    T fl = std::floor(div);
    if (div - fl > T(0.5)) fl += T(1);
    return div == T(0) ? std::copysign(T(0), a / b) : fl;
  } else {
    if (b == T(0)) return T(0);  // integer division by zero is checked before the kernel runs
    if constexpr (std::is_signed<T>::value) {
      // INT_MIN / -1 overflows (and traps on x86): wrap like PyTorch does
      if (b == T(-1)) return T(typename std::make_unsigned<T>::type(0) - typename std::make_unsigned<T>::type(a));
      T q = a / b, r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? T(q - 1) : q;
    } else {
      return T(a / b);
    }
  }
}
template <class T> EMBER_HD inline T remainder_(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    T m = std::fmod(a, b);
    return (m != T(0) && ((b < T(0)) != (m < T(0)))) ? m + b : m;
  } else {
    if (b == T(0)) return T(0);
    if constexpr (std::is_signed<T>::value) {
      if (b == T(-1)) return T(0);  // avoids the INT_MIN % -1 trap
      T m = a % b;
      return (m != 0 && ((b < 0) != (m < 0))) ? T(m + b) : m;
    } else {
      return T(a % b);
    }
  }
}
template <class T> EMBER_HD inline T fmod_(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) return std::fmod(a, b);
  else if constexpr (std::is_signed<T>::value) return (b == T(0) || b == T(-1)) ? T(0) : T(a % b);
  else return b == T(0) ? T(0) : T(a % b);
}
template <class T> EMBER_HD inline T pow_(T a, T b) {
  if constexpr (std::is_floating_point<T>::value) {
    if (b == T(2)) return a * a;
    if (b == T(1)) return a;
    if (b == T(0.5)) return std::sqrt(a);
    return std::pow(a, b);
  } else {
    // integer power by squaring; negative exponents give 0 except for bases +-1 (PyTorch's rule)
    if constexpr (std::is_signed<T>::value) {
      if (b < 0) {
        if (a == 1) return 1;
        if (a == -1) return (b % 2) ? T(-1) : T(1);
        return 0;
      }
    }
    T result = 1, base = a;
    auto e = b;
    while (e) {
      if (e & 1) result = wrap_mul(result, base);
      base = wrap_mul(base, base);
      e >>= 1;
    }
    return result;
  }
}
template <class T> EMBER_HD inline T logaddexp_(T a, T b) {
  if (is_nan(a) || is_nan(b)) return a + b;
  T m = a > b ? a : b;
  if (m == -std::numeric_limits<T>::infinity()) return m;
  if (m == std::numeric_limits<T>::infinity() && a == b) return m;
  T d = a > b ? b - a : a - b;
  return m + std::log1p(kmath::exp(d));
}
template <class T> EMBER_HD inline T bitand_(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) return a && b;
  else return T(a & b);
}
template <class T> EMBER_HD inline T bitor_(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) return a || b;
  else return T(a | b);
}
template <class T> EMBER_HD inline T bitxor_(T a, T b) {
  if constexpr (std::is_same<T, bool>::value) return a != b;
  else return T(a ^ b);
}
// psi(x): reflection for x < 0.5, recurrence up to x >= 6, then the asymptotic series
template <class T> EMBER_HD inline T digamma_(T x) {
  if (x == T(0)) return std::copysign(std::numeric_limits<T>::infinity(), -x);
  if (x < T(0) && x == std::floor(x)) return std::numeric_limits<T>::quiet_NaN();
  T result = T(0);
  if (x < T(0.5)) {
    const T pi = T(3.14159265358979323846);
    result -= pi / std::tan(pi * x);
    x = T(1) - x;
  }
  while (x < T(6)) {
    result -= T(1) / x;
    x += T(1);
  }
  T z = T(1) / (x * x);
  T series = z * (T(1) / T(12) - z * (T(1) / T(120) - z * (T(1) / T(252) - z * (T(1) / T(240) - z * T(1) / T(132)))));
  return result + std::log(x) - T(0.5) / x - series;
}
template <class T> EMBER_HD inline T silu_backward_(T g, T x) {
  T s = kmath::sigmoid(x);
  return g * s * (T(1) + x * (T(1) - s));
}
template <class T> EMBER_HD inline T gelu_backward_(T g, T x) {
  T cdf = T(0.5) * kmath::gelu_erfc(x * T(-0.70710678118654752));
  T pdf = kmath::exp(T(-0.5) * x * x) * T(0.39894228040143268);
  return g * (cdf + x * pdf);
}

// ---------------------------------------------------------------- ops with scalar parameters p0, p1, p2
#define EMBER_UNARY_PARAM_OPS(X)                                                                        \
  X(leaky_relu, FLOAT, (x > T(0) ? x : x * T(p0)))                                                      \
  X(elu, FLOAT, (x > T(0) ? x * T(p1) : T(p0) * T(p1) * (kmath::exp(x * T(p2)) - T(1))))                \
  X(softplus_beta, FLOAT, (x * T(p0) > T(p1) ? x : std::log1p(kmath::exp(x * T(p0))) / T(p0)))         \
  X(threshold, NUMERIC, (x > T(p0) ? x : T(p1)))                                                        \
  X(nan_to_num, NUMERIC, nan_to_num_(x, p0, p1, p2))                                                    \
  X(hardshrink, FLOAT, ((x > T(p0) || x < -T(p0)) ? x : T(0)))                                          \
  X(softshrink, FLOAT, (x > T(p0) ? x - T(p0) : (x < -T(p0) ? x + T(p0) : T(0))))                      \
  X(celu, FLOAT, (x > T(0) ? x : T(p0) * (kmath::exp(x / T(p0)) - T(1))))                               \
  X(selu, FLOAT, T(1.0507009873554804934) * (x > T(0) ? x : T(1.6732632423543772848) * (kmath::exp(x) - T(1))))

template <class T> EMBER_HD inline T nan_to_num_(T x, double nan, double posinf, double neginf) {
  if constexpr (std::is_floating_point<T>::value) {
    if (is_nan(x)) return T(nan);
    if (x == std::numeric_limits<T>::infinity()) return T(posinf);
    if (x == -std::numeric_limits<T>::infinity()) return T(neginf);
  }
  return x;
}

#define EMBER_OP_ENUM(name, cls, ...) name,
enum class UnaryOp : int { EMBER_UNARY_OPS(EMBER_OP_ENUM) kNumUnary };
enum class UnaryBoolOp : int { EMBER_UNARY_BOOL_OPS(EMBER_OP_ENUM) kNumUnaryBool };
enum class BinaryOp : int { EMBER_BINARY_OPS(EMBER_OP_ENUM) kNumBinary };
enum class BinaryBoolOp : int { EMBER_BINARY_BOOL_OPS(EMBER_OP_ENUM) kNumBinaryBool };
enum class UnaryParamOp : int { EMBER_UNARY_PARAM_OPS(EMBER_OP_ENUM) kNumUnaryParam };
#undef EMBER_OP_ENUM

}  // namespace kernels
}  // namespace ember
