// CUDA pointwise kernels with parameters or three inputs: the parameterised unary ops of kernels/pointwise_ops.h
// (leaky_relu, elu, softplus, threshold, nan_to_num, ...), clamp, addcmul/addcdiv and lerp. float16/bfloat16
// compute in float32 as in cuda/pointwise.cu; a CPU scalar weight of lerp rides in the iterator.
#include "core/dispatch.h"
#include "cuda/elementwise.cuh"
#include "kernels/pointwise_ops.h"

namespace ember {
namespace cuda {

namespace {

using namespace kernels;
using namespace elementwise;

#define EMBER_CU_PARAM_DISPATCH_FLOAT EMBER_DISPATCH_FLOATING
#define EMBER_CU_PARAM_DISPATCH_NUMERIC EMBER_DISPATCH_NUMERIC

#define EMBER_CU_UNARY_PARAM(name, cls, expr)                                                         \
  struct UP_##name {                                                                                  \
    double p0, p1, p2;                                                                                \
    template <class S>                                                                                \
    __device__ S operator()(S xs) const {                                                             \
      using T = opmath_t<S>;                                                                          \
      const T x = T(xs);                                                                              \
      return S(T(expr));                                                                              \
    }                                                                                                 \
  };                                                                                                  \
  void up_##name(const TensorIter& it, ScalarType dt, double p0, double p1, double p2) {             \
    EMBER_CU_PARAM_DISPATCH_##cls(dt, #name, [&] { launch<scalar_t, scalar_t, 1>(it, UP_##name{p0, p1, p2}); }); \
  }
EMBER_UNARY_PARAM_OPS(EMBER_CU_UNARY_PARAM)
#undef EMBER_CU_UNARY_PARAM

using ParamFn = void (*)(const TensorIter&, ScalarType, double, double, double);
const ParamFn unary_param_table[] = {
#define X(name, cls, expr) &up_##name,
    EMBER_UNARY_PARAM_OPS(X)
#undef X
};

struct Clamp {
  bool has_lo, has_hi;
  template <class S>
  __device__ S operator()(S xs, S los, S his) const {
    using T = opmath_t<S>;
    const T x = T(xs), lo = T(los), hi = T(his);
    if (is_nan(x)) return xs;
    T r = x;
    if (has_lo) r = (is_nan(lo) || r < lo) ? lo : r;
    if (has_hi) r = (is_nan(hi) || r > hi) ? hi : r;
    return S(r);
  }
};

struct Addcmul {
  double alpha;
  bool divide;
  template <class S>
  __device__ S operator()(S as, S bs, S cs) const {
    using T = opmath_t<S>;
    const T a = T(as), b = T(bs), c = T(cs);
    return divide ? S(T(a + T(alpha) * (b / c))) : S(T(a + T(alpha) * b * c));
  }
};

struct Lerp {
  template <class S>
  __device__ S operator()(S as, S bs, S ws) const {
    using T = opmath_t<S>;
    const T a = T(as), b = T(bs), w = T(ws);
    return S(w < T(0.5) ? a + w * (b - a) : b - (b - a) * (T(1) - w));
  }
};

// lerp whose weight is a float scalar held by the iterator (its fourth operand is a placeholder)
struct LerpScalar {
  float w;
  template <class S>
  __device__ S operator()(S as, S bs, S) const {
    using T = opmath_t<S>;
    const T a = T(as), b = T(bs), wt = T(w);
    return S(wt < T(0.5) ? a + wt * (b - a) : b - (b - a) * (T(1) - wt));
  }
};

}  // namespace

void unary_param(UnaryParamOp op, const TensorIter& it, ScalarType dtype, double p0, double p1, double p2) {
  unary_param_table[int(op)](it, dtype, p0, p1, p2);
}

void clamp(const TensorIter& it, ScalarType dtype, bool has_lo, bool has_hi) {
  EMBER_DISPATCH_NUMERIC(dtype, "clamp", [&] { launch3<scalar_t, scalar_t>(it, Clamp{has_lo, has_hi}); });
}

void addcmul(const TensorIter& it, ScalarType dtype, double alpha, bool divide) {
  EMBER_DISPATCH_NUMERIC(dtype, divide ? "addcdiv" : "addcmul",
                         [&] { launch3<scalar_t, scalar_t>(it, Addcmul{alpha, divide}); });
}

void lerp(const TensorIter& it, ScalarType dtype) {
  EMBER_DISPATCH_FLOATING(dtype, "lerp", [&] {
    if (it.scalar_operand == 3) launch3<scalar_t, scalar_t>(it, LerpScalar{it.scalar_value});
    else launch3<scalar_t, scalar_t>(it, Lerp{});
  });
}

}  // namespace cuda
}  // namespace ember
