// CUDA pointwise kernels over the shared functor list (kernels/pointwise_ops.h, compiled __host__ __device__):
// unary, binary and their bool-result forms, copy with casting, fill, and where. One grid-stride kernel per op
// and dtype with three paths: dense operands with 128-bit vector loads and stores, and strided operands through
// the offset calculator with 32-bit indexing where it fits, 64-bit otherwise.
#include "core/dispatch.h"
#include "cuda/elementwise.cuh"
#include "cuda/launch.h"
#include "cuda/runtime.h"
#include "kernels/pointwise_ops.h"

namespace ember {
namespace cuda {

namespace {

using namespace kernels;

using namespace elementwise;

// Each op class instantiates core/dispatch.h's dtype set (EMBER_DISPATCH_FLOATING, _NUMERIC, _ALL, _INTEGRAL);
// float16/bfloat16 compute in float32 inside the functors below.
#define EMBER_CU_DISPATCH_FLOAT EMBER_DISPATCH_FLOATING
#define EMBER_CU_DISPATCH_NUMERIC EMBER_DISPATCH_NUMERIC
#define EMBER_CU_DISPATCH_ALL EMBER_DISPATCH_ALL
#define EMBER_CU_DISPATCH_INTEGRAL EMBER_DISPATCH_INTEGRAL

// A binary op whose other input is a float scalar held by the iterator (16-bit inputs only; see TensorIter).
template <class F, bool SCALAR_FIRST>
struct WithFloatScalar {
  float v;
  template <class S>
  __device__ S operator()(S x) const {
    return SCALAR_FIRST ? S(F::op(v, float(x))) : S(F::op(float(x), v));
  }
};

template <class S, class F>
void launch_binary(const TensorIter& it, const F& f) {
  if constexpr (std::is_same<opmath_t<S>, float>::value && !std::is_same<S, float>::value) {
    if (it.scalar_operand == 1) return launch<S, S, 1>(it, WithFloatScalar<F, true>{it.scalar_value});
    if (it.scalar_operand == 2) return launch<S, S, 1>(it, WithFloatScalar<F, false>{it.scalar_value});
  }
  launch<S, S, 2>(it, f);
}

#define EMBER_CU_UNARY(name, cls, expr)                                         \
  struct U_##name {                                                             \
    template <class S>                                                          \
    __device__ S operator()(S xs) const {                                       \
      using T = opmath_t<S>;                                                    \
      const T x = T(xs);                                                        \
      return S(T(expr));                                                        \
    }                                                                           \
  };                                                                            \
  void u_##name(const TensorIter& it, ScalarType dt) {                         \
    EMBER_CU_DISPATCH_##cls(dt, #name, [&] { launch<scalar_t, scalar_t, 1>(it, U_##name()); }); \
  }
EMBER_UNARY_OPS(EMBER_CU_UNARY)
#undef EMBER_CU_UNARY

#define EMBER_CU_UNARY_BOOL(name, cls, expr)                                    \
  struct UB_##name {                                                            \
    template <class S>                                                          \
    __device__ bool operator()(S xs) const {                                    \
      using T = opmath_t<S>;                                                    \
      const T x = T(xs);                                                        \
      return (expr);                                                            \
    }                                                                           \
  };                                                                            \
  void ub_##name(const TensorIter& it, ScalarType dt) {                        \
    EMBER_CU_DISPATCH_##cls(dt, #name, [&] { launch<bool, scalar_t, 1>(it, UB_##name()); }); \
  }
EMBER_UNARY_BOOL_OPS(EMBER_CU_UNARY_BOOL)
#undef EMBER_CU_UNARY_BOOL

#define EMBER_CU_BINARY(name, cls, expr)                                        \
  struct B_##name {                                                             \
    template <class T>                                                          \
    __device__ static T op(T a, T b) {                                          \
      return T(expr);                                                           \
    }                                                                           \
    template <class S>                                                          \
    __device__ S operator()(S a, S b) const {                                   \
      using T = opmath_t<S>;                                                    \
      return S(op(T(a), T(b)));                                                 \
    }                                                                           \
  };                                                                            \
  void b_##name(const TensorIter& it, ScalarType dt) {                         \
    EMBER_CU_DISPATCH_##cls(dt, #name, [&] { launch_binary<scalar_t>(it, B_##name()); }); \
  }
EMBER_BINARY_OPS(EMBER_CU_BINARY)
#undef EMBER_CU_BINARY

#define EMBER_CU_BINARY_BOOL(name, cls, expr)                                   \
  struct BB_##name {                                                            \
    template <class S>                                                          \
    __device__ bool operator()(S as, S bs) const {                              \
      using T = opmath_t<S>;                                                    \
      const T a = T(as), b = T(bs);                                             \
      return (expr);                                                            \
    }                                                                           \
  };                                                                            \
  void bb_##name(const TensorIter& it, ScalarType dt) {                        \
    EMBER_CU_DISPATCH_##cls(dt, #name, [&] { launch<bool, scalar_t, 2>(it, BB_##name()); }); \
  }
EMBER_BINARY_BOOL_OPS(EMBER_CU_BINARY_BOOL)
#undef EMBER_CU_BINARY_BOOL

using PwFn = void (*)(const TensorIter&, ScalarType);
const PwFn unary_table[] = {
#define X(name, cls, expr) &u_##name,
    EMBER_UNARY_OPS(X)
#undef X
};
const PwFn unary_bool_table[] = {
#define X(name, cls, expr) &ub_##name,
    EMBER_UNARY_BOOL_OPS(X)
#undef X
};
const PwFn binary_table[] = {
#define X(name, cls, expr) &b_##name,
    EMBER_BINARY_OPS(X)
#undef X
};
const PwFn binary_bool_table[] = {
#define X(name, cls, expr) &bb_##name,
    EMBER_BINARY_BOOL_OPS(X)
#undef X
};

// float16/bfloat16 are loaded and stored by the kernel itself and converted through float
template <class Dst>
struct CastTo {
  template <class Src>
  __device__ Dst operator()(Src x) const {
    if constexpr (std::is_same<Dst, bool>::value && (std::is_same<Src, Half>::value || std::is_same<Src, BFloat16>::value))
      return float(x) != 0.0f;
    else if constexpr (std::is_same<Dst, bool>::value) return x != Src(0);
    else if constexpr (std::is_same<Src, Half>::value || std::is_same<Src, BFloat16>::value) return Dst(float(x));
    else if constexpr (std::is_same<Dst, Half>::value || std::is_same<Dst, BFloat16>::value) return Dst(float(x));
    else return Dst(x);
  }
};

template <class T>
__global__ void fill_kernel(int64_t n, T* out, T v) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = v;
}

template <class T, class IndexT>
__global__ void fill_strided_kernel(IndexT n, char* out, OffsetCalc<1, IndexT> oc, T v) {
  const IndexT stride = IndexT(gridDim.x) * blockDim.x;
  for (IndexT i = IndexT(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    IndexT off[1];
    oc.get(i, off);
    *reinterpret_cast<T*>(out + off[0]) = v;
  }
}

template <int Size, class IndexT>
__global__ void where_kernel(IndexT n, char* out, const char* cond, const char* a, const char* b,
                             OffsetCalc<4, IndexT> oc) {
  struct alignas(Size) Bytes {
    unsigned char v[Size];
  };
  const IndexT stride = IndexT(gridDim.x) * blockDim.x;
  for (IndexT i = IndexT(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    IndexT off[4];
    oc.get(i, off);
    const bool c = *reinterpret_cast<const bool*>(cond + off[1]);
    *reinterpret_cast<Bytes*>(out + off[0]) = *reinterpret_cast<const Bytes*>((c ? a + off[2] : b + off[3]));
  }
}

template <int Size>
void launch_where(const TensorIter& it) {
  DeviceGuard guard(it.device.index);
  LaunchConfig lc = launch_config(it.numel, 1, max_blocks(it));
  if (fits_32bit(it))
    where_kernel<Size, uint32_t><<<unsigned(lc.blocks), lc.threads>>>(uint32_t(it.numel), it.data[0], it.data[1],
                                                                     it.data[2], it.data[3],
                                                                     make_offset_calc<4, uint32_t>(it));
  else
    where_kernel<Size, int64_t><<<unsigned(lc.blocks), lc.threads>>>(it.numel, it.data[0], it.data[1], it.data[2],
                                                                    it.data[3], make_offset_calc<4, int64_t>(it));
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace

void unary(UnaryOp op, const TensorIter& it, ScalarType dtype) { unary_table[int(op)](it, dtype); }
void unary_bool(UnaryBoolOp op, const TensorIter& it, ScalarType dtype) { unary_bool_table[int(op)](it, dtype); }
void binary(BinaryOp op, const TensorIter& it, ScalarType dtype) { binary_table[int(op)](it, dtype); }
void binary_bool(BinaryBoolOp op, const TensorIter& it, ScalarType dtype) { binary_bool_table[int(op)](it, dtype); }

void copy(const TensorIter& it, ScalarType dst, ScalarType src) {
  EMBER_DISPATCH_ALL(dst, "copy", [&] {
    using D = scalar_t;
    EMBER_DISPATCH_ALL(src, "copy", [&] { launch<D, scalar_t, 1>(it, CastTo<D>()); });
  });
}

void fill(const Tensor& t, double value_f, int64_t value_i, bool is_integral_value) {
  if (t.numel() == 0) return;
  EMBER_DISPATCH_ALL(t.dtype(), "fill", [&] {
    const scalar_t v = is_integral_value ? scalar_t(value_i) : scalar_t(value_f);
    TensorIter it = TensorIter::build({&t}, t.sizes());
    DeviceGuard guard(it.device.index);
    const int64_t isz[1] = {int64_t(sizeof(scalar_t))};
    LaunchConfig lc = launch_config(it.numel, 1, max_blocks(it));
    if (is_dense_1d(it, isz))
      fill_kernel<scalar_t><<<unsigned(lc.blocks), lc.threads>>>(it.numel, reinterpret_cast<scalar_t*>(it.data[0]), v);
    else if (fits_32bit(it))
      fill_strided_kernel<scalar_t, uint32_t><<<unsigned(lc.blocks), lc.threads>>>(
          uint32_t(it.numel), it.data[0], make_offset_calc<1, uint32_t>(it), v);
    else
      fill_strided_kernel<scalar_t, int64_t><<<unsigned(lc.blocks), lc.threads>>>(
          it.numel, it.data[0], make_offset_calc<1, int64_t>(it), v);
    EMBER_CUDA_CHECK_LAUNCH();
  });
}

void where(const TensorIter& it, size_t itemsize) {
  if (it.numel == 0) return;
  switch (itemsize) {
    case 1: return launch_where<1>(it);
    case 2: return launch_where<2>(it);
    case 4: return launch_where<4>(it);
    case 8: return launch_where<8>(it);
    default: throw TypeError(str("where: unsupported element size ", itemsize));
  }
}

}  // namespace cuda
}  // namespace ember
