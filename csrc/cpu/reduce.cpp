// Reduction kernels: accumulate-into (sum, prod, max, min, all, any, ...), arg-reductions and scans.
// reduce() is the table entry: it splits the work across threads and runs reduce_into serially on each part.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "kernels/reduce_ops.h"

namespace ember {
namespace cpu {

namespace {

using kernels::is_nan;

template <class T>
inline T& at(char* p, int64_t i, int64_t s) {
  return *reinterpret_cast<T*>(p + i * s);
}

using kernels::AllC;
using kernels::AnyC;
using kernels::load_as;
using kernels::MaxC;
using kernels::MinC;
using kernels::NanSumC;
using kernels::ProdC;
using kernels::SumC;
using kernels::SumSquaresC;

// Contiguous row reduced into one value: 16 independent accumulators let the compiler vectorise without
// reassociating; additive float reductions carry block results in double for accuracy on long rows.
template <class C, class A, class T>
A reduce_contiguous(const T* x, int64_t n, A acc) {
  constexpr int L = 16;
  constexpr int64_t kBlock = 4096;
  constexpr bool kWide = C::kAdditive && std::is_same<A, float>::value;
  double wide = 0.0;
  int64_t b0 = 0;
  for (; b0 + L <= n; b0 += kBlock) {
    const int64_t m = std::min(kBlock, n - b0);
    const T* p = x + b0;
    A lane[L];
    for (int j = 0; j < L; ++j) lane[j] = C::map(load_as<A>(p[j]));
    int64_t i = L;
    for (; i + L <= m; i += L)
      for (int j = 0; j < L; ++j) lane[j] = C::combine(lane[j], C::map(load_as<A>(p[i + j])));
    for (; i < m; ++i) lane[0] = C::combine(lane[0], C::map(load_as<A>(p[i])));
    for (int w = 1; w < L; w *= 2)
      for (int j = 0; j + w < L; j += 2 * w) lane[j] = C::combine(lane[j], lane[j + w]);
    if constexpr (kWide) wide += double(lane[0]);
    else acc = C::combine(acc, lane[0]);
  }
  for (; b0 < n; ++b0) acc = C::combine(acc, C::map(load_as<A>(x[b0])));
  if constexpr (kWide) acc = A(double(acc) + wide);
  return acc;
}

template <class C, class A, class T>
void reduce_loop(char** d, const int64_t* s, int64_t n) {
  if (s[0] == 0) {  // the whole row folds into one accumulator
    A& acc = *reinterpret_cast<A*>(d[0]);
    if (s[1] == int64_t(sizeof(T))) {
      acc = reduce_contiguous<C, A, T>(reinterpret_cast<const T*>(d[1]), n, acc);
    } else {
      A r = acc;
      for (int64_t i = 0; i < n; ++i) r = C::combine(r, C::map(load_as<A>(at<T>(d[1], i, s[1]))));
      acc = r;
    }
  } else if (s[0] == int64_t(sizeof(A)) && s[1] == int64_t(sizeof(T))) {  // rows of outputs, vectorisable
    A* o = reinterpret_cast<A*>(d[0]);
    const T* x = reinterpret_cast<const T*>(d[1]);
    for (int64_t i = 0; i < n; ++i) o[i] = C::combine(o[i], C::map(load_as<A>(x[i])));
  } else {
    for (int64_t i = 0; i < n; ++i)
      at<A>(d[0], i, s[0]) = C::combine(at<A>(d[0], i, s[0]), C::map(load_as<A>(at<T>(d[1], i, s[1]))));
  }
}

template <class C, class A>
void run_reduce(const Tensor& acc, const Tensor& in) {
  TensorIter it = TensorIter::build({&acc, &in}, in.sizes(), /*reorder_by=*/1);
  EMBER_DISPATCH_ALL(in.dtype(), "reduce", [&] { it.serial_for_each(reduce_loop<C, A, scalar_t>, 0, it.numel); });
}

template <class C>
void run_typed(const Tensor& acc, const Tensor& in) {
  switch (acc.dtype()) {
    case ScalarType::Float32: return run_reduce<C, float>(acc, in);
    case ScalarType::Float64: return run_reduce<C, double>(acc, in);
    case ScalarType::Int64: return run_reduce<C, int64_t>(acc, in);
    default: break;
  }
  throw TypeError(str("reduce: unsupported accumulate dtype ", dtype_name(acc.dtype())));
}

// max/min keep the input dtype for integer types, so they need their own instantiation set
template <class C>
void run_same_type(const Tensor& acc, const Tensor& in) {
  EMBER_DISPATCH_ALL(acc.dtype(), "max/min", [&] {
    using A = scalar_t;
    TensorIter it = TensorIter::build({&acc, &in}, in.sizes(), 1);
    if (acc.dtype() == in.dtype()) {
      it.serial_for_each(reduce_loop<C, A, A>, 0, it.numel);
    } else {
      EMBER_DISPATCH_ALL(in.dtype(), "max/min", [&] { it.serial_for_each(reduce_loop<C, A, scalar_t>, 0, it.numel); });
    }
  });
}

}  // namespace

void reduce_into(ReduceOp op, const Tensor& acc, const Tensor& in) {
  switch (op) {
    case ReduceOp::Sum: return run_typed<SumC>(acc, in);
    case ReduceOp::NanSum: return run_typed<NanSumC>(acc, in);
    case ReduceOp::SumSquares: return run_typed<SumSquaresC>(acc, in);
    case ReduceOp::Prod: return run_typed<ProdC>(acc, in);
    case ReduceOp::Max: return run_same_type<MaxC>(acc, in);
    case ReduceOp::Min: return run_same_type<MinC>(acc, in);
    case ReduceOp::All: {
      TensorIter it = TensorIter::build({&acc, &in}, in.sizes(), 1);
      EMBER_DISPATCH_ALL(in.dtype(), "all", [&] { it.serial_for_each(reduce_loop<AllC, bool, scalar_t>, 0, it.numel); });
      return;
    }
    case ReduceOp::Any: {
      TensorIter it = TensorIter::build({&acc, &in}, in.sizes(), 1);
      EMBER_DISPATCH_ALL(in.dtype(), "any", [&] { it.serial_for_each(reduce_loop<AnyC, bool, scalar_t>, 0, it.numel); });
      return;
    }
  }
}

void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices) {
  // Iterate over every output position; each scans its row along `dim`.
  DimVector sizes = in.sizes(), strides = in.strides();
  const int64_t len = sizes[dim], dstride = strides[dim] * int64_t(in.itemsize());
  sizes[dim] = 1;
  Tensor base = in.as_view(sizes, strides, in.offset());
  TensorIter it = TensorIter::build({&values, &indices, &base}, sizes, 2);
  EMBER_DISPATCH_ALL(in.dtype(), is_max ? "argmax" : "argmin", [&] {
    using A = opmath_t<scalar_t>;
    it.for_each(
        [&](char** d, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            const char* row = d[2] + i * s[2];
            A best;
            const int64_t bi = kernels::arg_best<A>(
                [&](int64_t j) { return A(*reinterpret_cast<const scalar_t*>(row + j * dstride)); }, len, is_max, &best);
            at<scalar_t>(d[0], i, s[0]) = scalar_t(best);
            at<int64_t>(d[1], i, s[1]) = bi;
          }
        },
        std::max<int64_t>(1, kGrainSize / std::max<int64_t>(len, 1)));
  });
}

void cumulative(bool is_prod, const Tensor& out, const Tensor& in, int64_t dim) {
  DimVector sizes = in.sizes();
  const int64_t len = sizes[dim];
  const int64_t in_ds = in.strides()[dim] * int64_t(in.itemsize());
  const int64_t out_ds = out.strides()[dim] * int64_t(out.itemsize());
  sizes[dim] = 1;
  Tensor ob = out.as_view(sizes, out.strides(), out.offset());
  Tensor ib = in.as_view(sizes, in.strides(), in.offset());
  TensorIter it = TensorIter::build({&ob, &ib}, sizes, 1);
  EMBER_DISPATCH_NUMERIC(in.dtype(), is_prod ? "cumprod" : "cumsum", [&] {
    using A = typename std::conditional<std::is_floating_point<opmath_t<scalar_t>>::value, opmath_t<scalar_t>, int64_t>::type;
    it.for_each(
        [&](char** d, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            char* o = d[0] + i * s[0];
            const char* x = d[1] + i * s[1];
            A acc = is_prod ? A(1) : A(0);
            for (int64_t j = 0; j < len; ++j) {
              A v = A(opmath_t<scalar_t>(*reinterpret_cast<const scalar_t*>(x + j * in_ds)));
              acc = is_prod ? kernels::wrap_mul(acc, v) : kernels::wrap_add(acc, v);  // integers wrap
              *reinterpret_cast<scalar_t*>(o + j * out_ds) = scalar_t(acc);
            }
          }
        },
        std::max<int64_t>(1, kGrainSize / std::max<int64_t>(len, 1)));
  });
}

namespace {

ReduceOp combiner(ReduceOp op) {
  switch (op) {
    case ReduceOp::NanSum:
    case ReduceOp::SumSquares: return ReduceOp::Sum;
    default: return op;
  }
}

// A view of dims [start, start + len) of dim d.
Tensor slice_dim(const Tensor& t, int64_t d, int64_t start, int64_t len) {
  DimVector sizes = t.sizes();
  sizes[size_t(d)] = len;
  return t.as_view(sizes, t.strides(), t.offset() + start * t.strides()[size_t(d)]);
}

}  // namespace

// The work split depends only on the shapes, never on the thread count, so results are bit-identical
// with any number of threads: either each output is reduced whole by one task (split over a kept dim), or
// the reduced dim is cut into a size-determined number of chunks whose partials are combined in order.
// acc holds the identity on entry, so the partials start as copies of it.
void reduce(ReduceOp op, const Tensor& acc, const Tensor& x) {
  if (x.numel() < 2 * kGrainSize) {
    reduce_into(op, acc, x);
    return;
  }
  int64_t kept = -1, red = -1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t s = x.sizes()[d];
    if (acc.sizes()[d] != s) {
      if (red < 0 || s > x.sizes()[red]) red = d;
    } else {
      if (kept < 0 || s > x.sizes()[kept]) kept = d;
    }
  }
  if (kept >= 0 && x.sizes()[kept] >= 8) {
    parallel_for(0, x.sizes()[kept], 1, [&](int64_t b, int64_t e) {
      reduce_into(op, slice_dim(acc, kept, b, e - b), slice_dim(x, kept, b, e - b));
    });
    return;
  }
  if (red < 0 || x.sizes()[red] < 2) {
    reduce_into(op, acc, x);
    return;
  }
  const int64_t n = x.sizes()[red];
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>({64, n, x.numel() / (int64_t(1) << 18)}));
  std::vector<Tensor> partial(static_cast<size_t>(chunks));
  for (auto& p : partial) {
    p = empty(acc.sizes(), acc.dtype());
    TensorIter it = TensorIter::build({&p, &acc}, acc.sizes());
    copy(it, acc.dtype(), acc.dtype());
  }
  const int64_t step = (n + chunks - 1) / chunks;
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      int64_t s = c * step, len = std::min(step, n - s);
      if (len > 0) reduce_into(op, partial[size_t(c)], slice_dim(x, red, s, len));
    }
  });
  for (auto& p : partial) reduce_into(combiner(op), acc, p);
}

}  // namespace cpu
}  // namespace ember
