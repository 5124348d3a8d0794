// Reduction combiners shared by the CPU and CUDA kernels (compiled __host__ __device__): how each ReduceOp maps
// an input value into the accumulator and combines two accumulators. NaN wins max/min, as in PyTorch.
#pragma once
#include <type_traits>

#include "core/dtype.h"
#include "kernels/pointwise_ops.h"  // is_nan

namespace ember {
namespace kernels {

// Integer sums and products wrap modulo 2^bits, as in PyTorch (kernels/pointwise_ops.h's wrap helpers).
struct SumC {
  static constexpr bool kAdditive = true;
  template <class A> EMBER_HD static A combine(A a, A b) { return wrap_add(a, b); }
  template <class A> EMBER_HD static A map(A x) { return x; }
};
struct NanSumC {
  static constexpr bool kAdditive = true;
  template <class A> EMBER_HD static A combine(A a, A b) { return wrap_add(a, b); }
  template <class A> EMBER_HD static A map(A x) { return is_nan(x) ? A(0) : x; }
};
struct SumSquaresC {
  static constexpr bool kAdditive = true;
  template <class A> EMBER_HD static A combine(A a, A b) { return wrap_add(a, b); }
  template <class A> EMBER_HD static A map(A x) { return wrap_mul(x, x); }
};
struct ProdC {
  static constexpr bool kAdditive = false;
  template <class A> EMBER_HD static A combine(A a, A b) { return wrap_mul(a, b); }
  template <class A> EMBER_HD static A map(A x) { return x; }
};
struct MaxC {
  static constexpr bool kAdditive = false;
  template <class A> EMBER_HD static A combine(A a, A b) { return (is_nan(a) || a > b) ? a : b; }
  template <class A> EMBER_HD static A map(A x) { return x; }
};
struct MinC {
  static constexpr bool kAdditive = false;
  template <class A> EMBER_HD static A combine(A a, A b) { return (is_nan(a) || a < b) ? a : b; }
  template <class A> EMBER_HD static A map(A x) { return x; }
};
struct AllC {
  static constexpr bool kAdditive = false;
  template <class A> EMBER_HD static A combine(A a, A b) { return a && b; }
  template <class A> EMBER_HD static A map(A x) { return x; }
};
struct AnyC {
  static constexpr bool kAdditive = false;
  template <class A> EMBER_HD static A combine(A a, A b) { return a || b; }
  template <class A> EMBER_HD static A map(A x) { return x; }
};

// An input value as accumulator type A (bool accumulators test for non-zero; 16-bit floats widen to float).
template <class A, class T>
EMBER_HD inline A load_as(const T& v) {
  if constexpr (std::is_same<A, bool>::value) return opmath_t<T>(v) != opmath_t<T>(0);
  else return A(opmath_t<T>(v));
}

// Arg max/min of a row of n values, load(j) giving value j as A: NaN wins (the first NaN), the first index wins
// ties. Writes the value to *best and returns its index.
template <class A, class Load>
EMBER_HD inline int64_t arg_best(const Load& load, int64_t n, bool is_max, A* best) {
  A b = load(0);
  int64_t bi = 0;
  if (!is_nan(b)) {
    for (int64_t j = 1; j < n; ++j) {
      const A v = load(j);
      if (is_nan(v)) {
        b = v;
        bi = j;
        break;
      }
      if (is_max ? v > b : v < b) {
        b = v;
        bi = j;
      }
    }
  }
  *best = b;
  return bi;
}

}  // namespace kernels
}  // namespace ember
