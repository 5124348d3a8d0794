// CUDA reductions over the combiners shared with the CPU (kernels/reduce_ops.h), arg max/min and cumulative
// sums/products. reduce(): acc (keepdim shape, accumulate dtype, holding the identity) combined with every
// element of x; the dims of x split into kept dims (one output each) and reduced dims, and an output reduces
// its elements with a whole block (tree in shared memory) when there are many of them, else with one thread.
// arg_reduce and cumulative run one thread per row.
#include "core/dispatch.h"
#include "cuda/launch.h"
#include "cuda/runtime.h"
#include "kernels/params.h"
#include "kernels/reduce_ops.h"

namespace ember {
namespace cuda {

namespace {

using namespace kernels;

// Linear index -> element offsets over a set of dims (innermost first, adjacent mergeable dims merged).
struct DimSplit {
  int ndim = 0;
  int64_t sizes[kMaxCudaDims] = {};
  int64_t in_strides[kMaxCudaDims] = {};   // elements of x
  int64_t acc_strides[kMaxCudaDims] = {};  // elements of acc (kept dims only)
  __device__ void offsets(int64_t linear, int64_t* in_off, int64_t* acc_off) const {
    int64_t a = 0, b = 0;
#pragma unroll
    for (int d = 0; d < kMaxCudaDims; ++d) {
      if (d == ndim) break;
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      a += i * in_strides[d];
      b += i * acc_strides[d];
    }
    *in_off = a;
    *acc_off = b;
  }
  // appends a dim (inner to outer), merging it into the previous one when both strides continue it
  void push(int64_t n, int64_t in_stride, int64_t acc_stride) {
    if (ndim > 0 && in_strides[ndim - 1] * sizes[ndim - 1] == in_stride &&
        acc_strides[ndim - 1] * sizes[ndim - 1] == acc_stride) {
      sizes[ndim - 1] *= n;
      return;
    }
    EMBER_CHECK(ndim < kMaxCudaDims, NotImplementedError, "cuda reductions take at most ", kMaxCudaDims,
                " non-mergeable dims of each kind");
    sizes[ndim] = n;
    in_strides[ndim] = in_stride;
    acc_strides[ndim] = acc_stride;
    ++ndim;
  }
};

template <class C, class A, class T>
__global__ void reduce_block_kernel(const T* __restrict__ x, A* acc, DimSplit kept, DimSplit red, int64_t outputs,
                                    int64_t per_output) {
  __shared__ A partial[256];
  __shared__ bool valid[256];  // threads of a short output may hold no element
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {
    int64_t base, acc_off, off, unused;
    kept.offsets(o, &base, &acc_off);
    bool have = false;
    A local = A();
    for (int64_t r = threadIdx.x; r < per_output; r += blockDim.x) {
      red.offsets(r, &off, &unused);
      const A v = C::map(load_as<A>(x[base + off]));
      local = have ? C::combine(local, v) : v;
      have = true;
    }
    partial[threadIdx.x] = local;
    valid[threadIdx.x] = have;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      const int t = threadIdx.x;
      if (t < w && valid[t + w]) {
        partial[t] = valid[t] ? C::combine(partial[t], partial[t + w]) : partial[t + w];
        valid[t] = true;
      }
      __syncthreads();
    }
    if (threadIdx.x == 0 && valid[0]) acc[acc_off] = C::combine(acc[acc_off], partial[0]);
    __syncthreads();
  }
}

template <class C, class A, class T>
__global__ void reduce_thread_kernel(const T* __restrict__ x, A* acc, DimSplit kept, DimSplit red, int64_t outputs,
                                     int64_t per_output) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += stride) {
    int64_t base, acc_off, off, unused;
    kept.offsets(o, &base, &acc_off);
    A r = acc[acc_off];
    for (int64_t i = 0; i < per_output; ++i) {
      red.offsets(i, &off, &unused);
      r = C::combine(r, C::map(load_as<A>(x[base + off])));
    }
    acc[acc_off] = r;
  }
}

template <class C, class A, class T>
void launch_reduce(const Tensor& acc, const Tensor& x) {
  DimSplit kept, red;
  int64_t outputs = 1, per_output = 1;
  for (int64_t d = x.dim() - 1; d >= 0; --d) {  // innermost first
    const int64_t n = x.sizes()[d];
    if (n == 1) continue;
    const bool is_kept = acc.sizes()[d] == n;
    (is_kept ? kept : red).push(n, x.strides()[d], is_kept ? acc.strides()[d] : 0);
    (is_kept ? outputs : per_output) *= n;
  }
  if (outputs == 0 || per_output == 0) return;
  DeviceGuard guard(x.device().index);
  const T* xp = x.data<T>();
  A* ap = acc.data<A>();
  const int64_t max_blocks = int64_t(multiprocessor_count(x.device().index)) * 8;
  if (per_output >= 64) {
    const unsigned blocks = unsigned(std::min<int64_t>(outputs, max_blocks * 4));
    reduce_block_kernel<C, A, T><<<blocks, 256>>>(xp, ap, kept, red, outputs, per_output);
  } else {
    LaunchConfig lc = launch_config(outputs, 1, max_blocks);
    reduce_thread_kernel<C, A, T><<<unsigned(lc.blocks), lc.threads>>>(xp, ap, kept, red, outputs, per_output);
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

// The accumulator dtype ops/ allocates for each op and input dtype (ops/reduce.cpp, reduce_acc_dtype).
template <class T>
using SumAcc = typename std::conditional<std::is_same<T, double>::value, double,
                                         typename std::conditional<std::is_floating_point<opmath_t<T>>::value, float,
                                                                   int64_t>::type>::type;

template <class C, bool kSameType>
void run(const Tensor& acc, const Tensor& x, const char* name) {
  EMBER_DISPATCH_ALL(x.dtype(), name, [&] {
    using T = scalar_t;
    using A = typename std::conditional<kSameType, opmath_t<T>, SumAcc<T>>::type;
    EMBER_RUNTIME_CHECK(acc.dtype() == ToScalarType<A>::value, name, ": accumulator of dtype ",
                        dtype_name(acc.dtype()), " for a ", dtype_name(x.dtype()), " input");
    launch_reduce<C, A, T>(acc, x);
  });
}

template <class C>
void run_bool(const Tensor& acc, const Tensor& x, const char* name) {
  EMBER_RUNTIME_CHECK(acc.dtype() == ScalarType::Bool, name, ": accumulator must be bool");
  EMBER_DISPATCH_ALL(x.dtype(), name, [&] { launch_reduce<C, bool, scalar_t>(acc, x); });
}

// The dims of t other than `dim` as a DimSplit: in_strides of t, acc_strides of `other` (an output of the
// same shape with `dim` of size 1, or the same shape); outputs = their element count.
DimSplit rows_of(const Tensor& t, const Tensor& other, int64_t dim, int64_t* outputs) {
  DimSplit s;
  *outputs = 1;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    if (d == dim || t.sizes()[d] == 1) continue;
    s.push(t.sizes()[d], t.strides()[d], other.strides()[d]);
    *outputs *= t.sizes()[d];
  }
  return s;
}

// One thread per output scans its row along the reduced dim (NaN wins, first index on ties, as the CPU).
template <class T>
__global__ void arg_reduce_kernel(const T* __restrict__ x, T* values, int64_t* indices, DimSplit rows, int64_t outputs,
                                  int64_t len, int64_t stride, bool is_max) {
  using A = opmath_t<T>;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += step) {
    int64_t base, out_off;
    rows.offsets(o, &base, &out_off);
    A best;
    const int64_t bi = arg_best<A>([&](int64_t j) { return A(x[base + j * stride]); }, len, is_max, &best);
    values[out_off] = T(best);
    indices[out_off] = bi;
  }
}

// cumsum / cumprod: one thread per row, accumulating in float (floating types) or int64.
template <class T, class A>
__global__ void cumulative_kernel(const T* __restrict__ x, T* out, DimSplit rows, int64_t outputs, int64_t len,
                                  int64_t in_stride, int64_t out_stride, bool is_prod) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < outputs; o += step) {
    int64_t base, out_base;
    rows.offsets(o, &base, &out_base);
    A acc = is_prod ? A(1) : A(0);
    for (int64_t j = 0; j < len; ++j) {
      const A v = A(opmath_t<T>(x[base + j * in_stride]));
      acc = is_prod ? wrap_mul(acc, v) : wrap_add(acc, v);  // integers wrap
      out[out_base + j * out_stride] = T(acc);
    }
  }
}

}  // namespace

void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices) {
  EMBER_RUNTIME_CHECK(values.strides() == indices.strides(), "arg_reduce on CUDA: values and indices must share a layout");
  int64_t outputs;
  const DimSplit rows = rows_of(in, values, dim, &outputs);
  if (outputs == 0) return;
  DeviceGuard guard(in.device().index);
  const LaunchConfig lc = launch_config(outputs, 1, int64_t(multiprocessor_count(in.device().index)) * 8);
  EMBER_DISPATCH_ALL(in.dtype(), is_max ? "argmax" : "argmin", [&] {
    arg_reduce_kernel<scalar_t><<<unsigned(lc.blocks), lc.threads>>>(in.data<scalar_t>(), values.data<scalar_t>(),
                                                                      indices.data<int64_t>(), rows, outputs,
                                                                      in.sizes()[dim], in.strides()[dim], is_max);
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

void cumulative(bool is_prod, const Tensor& out, const Tensor& in, int64_t dim) {
  int64_t outputs;
  const DimSplit rows = rows_of(in, out, dim, &outputs);
  if (outputs == 0 || in.sizes()[dim] == 0) return;
  DeviceGuard guard(in.device().index);
  const LaunchConfig lc = launch_config(outputs, 1, int64_t(multiprocessor_count(in.device().index)) * 8);
  EMBER_DISPATCH_NUMERIC(in.dtype(), is_prod ? "cumprod" : "cumsum", [&] {
    using T = scalar_t;
    using A = typename std::conditional<std::is_floating_point<opmath_t<T>>::value, opmath_t<T>, int64_t>::type;
    cumulative_kernel<T, A><<<unsigned(lc.blocks), lc.threads>>>(in.data<T>(), out.data<T>(), rows, outputs,
                                                                 in.sizes()[dim], in.strides()[dim], out.strides()[dim],
                                                                 is_prod);
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

void reduce(kernels::ReduceOp op, const Tensor& acc, const Tensor& x) {
  using kernels::ReduceOp;
  switch (op) {
    case ReduceOp::Sum: return run<SumC, false>(acc, x, "sum");
    case ReduceOp::NanSum: return run<NanSumC, false>(acc, x, "nansum");
    case ReduceOp::SumSquares: return run<SumSquaresC, false>(acc, x, "sum of squares");
    case ReduceOp::Prod: return run<ProdC, false>(acc, x, "prod");
    case ReduceOp::Max: return run<MaxC, true>(acc, x, "max");
    case ReduceOp::Min: return run<MinC, true>(acc, x, "min");
    case ReduceOp::All: return run_bool<AllC>(acc, x, "all");
    case ReduceOp::Any: return run_bool<AnyC>(acc, x, "any");
  }
}

}  // namespace cuda
}  // namespace ember
