// Row-wise fused kernels for neural-network ops: numerically stable softmax / log_softmax and backward
// (float16/bfloat16 rows staged through float32 scratch).
// Contiguous rows run the vectorised kernels of cpu/row_kernels.inc (baseline + AVX2 copies); strided rows
// the scalar loops here.
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "cpu/kernels.h"
#include "cpu/row_kernels_isa.h"
#include "cpu/staging.h"
#include "kernels/math.h"

namespace ember {
namespace cpu {

namespace {

// Calls f(ptrs..., n) for each row along `dim` of equally shaped tensors, rows in parallel.
template <class F>
void for_each_row(std::initializer_list<const Tensor*> ts, int64_t dim, const F& f) {
  const Tensor& ref = **ts.begin();
  DimVector sizes = ref.sizes();
  const int64_t len = sizes[dim];
  sizes[dim] = 1;
  std::vector<Tensor> bases;
  std::vector<int64_t> dstrides;
  for (const Tensor* t : ts) {
    bases.push_back(t->as_view(sizes, t->strides(), t->offset()));
    dstrides.push_back(t->strides()[dim]);
  }
  TensorIter it;
  if (bases.size() == 2) it = TensorIter::build({&bases[0], &bases[1]}, sizes, 1);
  else it = TensorIter::build({&bases[0], &bases[1], &bases[2]}, sizes, 1);
  const int nt = int(bases.size());
  it.for_each(
      [&](char** d, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          char* rows[3];
          for (int k = 0; k < nt; ++k) rows[k] = d[k] + i * s[k];
          f(rows, dstrides.data(), len);
        }
      },
      std::max<int64_t>(1, kGrainSize / std::max<int64_t>(len, 1)));
}

// a strided row (the contiguous ones take softmax_row of cpu/row_kernels.inc)
template <class T>
void softmax_row_strided(T* o, int64_t os, const T* x, int64_t xs, int64_t n, bool log) {
  if (n == 0) return;
  T mx = x[0];
  for (int64_t j = 1; j < n; ++j) {
    T v = x[j * xs];
    mx = (v > mx || v != v) ? v : mx;
  }
  if (std::isinf(mx) && mx < 0) mx = T(0);  // an all -inf row: avoid inf - inf
  T sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    T e = kmath::exp(x[j * xs] - mx);
    o[j * os] = e;
    sum += e;
  }
  if (log) {
    // (x - max) - log(sum): subtracting max + log(sum) at once would round log(sum) away for large logits
    const T ls = kmath::log(sum);
    for (int64_t j = 0; j < n; ++j) o[j * os] = (x[j * xs] - mx) - ls;
  } else {
    T inv = T(1) / sum;
    for (int64_t j = 0; j < n; ++j) o[j * os] *= inv;
  }
}

}  // namespace

void softmax(const Tensor& out, const Tensor& x, int64_t dim, bool log) {
  if (is_reduced_float(x.dtype())) {
    EMBER_DISPATCH_REDUCED(x.dtype(), log ? "log_softmax" : "softmax", [&] {
      using S = scalar_t;
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      for_each_row({&out, &x}, dim, [&](char** r, const int64_t* st, int64_t n) {
        if (n == 0) return;
        const float* xf = load_floats(reinterpret_cast<const S*>(r[1]), st[1], n, 0);
        float* of = scratch_floats(n, 1);
        EMBER_ROW_RUN(softmax_row<float>, of, xf, n, log);
        store_floats(of, n, reinterpret_cast<S*>(r[0]), st[0]);
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(x.dtype(), log ? "log_softmax" : "softmax", [&] {
    using T = scalar_t;
    const bool avx2 = use_avx2_float_copy(x.dtype());
    for_each_row({&out, &x}, dim, [&](char** r, const int64_t* st, int64_t n) {
      T* o = reinterpret_cast<T*>(r[0]);
      const T* xp = reinterpret_cast<const T*>(r[1]);
      if (st[0] == 1 && st[1] == 1 && n > 0) EMBER_ROW_RUN(softmax_row<T>, o, xp, n, log);
      else softmax_row_strided<T>(o, st[0], xp, st[1], n, log);
    });
  });
}

void softmax_backward(const Tensor& gx, const Tensor& g, const Tensor& y, int64_t dim, bool log) {
  if (is_reduced_float(g.dtype())) {
    EMBER_DISPATCH_REDUCED(g.dtype(), "softmax_backward", [&] {
      using S = scalar_t;
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      for_each_row({&gx, &g, &y}, dim, [&](char** r, const int64_t* st, int64_t n) {
        if (n == 0) return;
        const float* gf = load_floats(reinterpret_cast<const S*>(r[1]), st[1], n, 0);
        const float* yf = load_floats(reinterpret_cast<const S*>(r[2]), st[2], n, 1);
        float* of = scratch_floats(n, 2);
        EMBER_ROW_RUN(softmax_backward_row<float>, of, gf, yf, n, log);
        store_floats(of, n, reinterpret_cast<S*>(r[0]), st[0]);
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(g.dtype(), "softmax_backward", [&] {
    using T = scalar_t;
    const bool avx2 = use_avx2_float_copy(g.dtype());
    for_each_row({&gx, &g, &y}, dim, [&](char** r, const int64_t* st, int64_t n) {
      T* o = reinterpret_cast<T*>(r[0]);
      const T* gp = reinterpret_cast<const T*>(r[1]);
      const T* yp = reinterpret_cast<const T*>(r[2]);
      if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
        EMBER_ROW_RUN(softmax_backward_row<T>, o, gp, yp, n, log);
        return;
      }
      T acc = 0;
      if (log) {
        for (int64_t j = 0; j < n; ++j) acc += gp[j * st[1]];
        for (int64_t j = 0; j < n; ++j) o[j * st[0]] = gp[j * st[1]] - kmath::exp(yp[j * st[2]]) * acc;
      } else {
        for (int64_t j = 0; j < n; ++j) acc += gp[j * st[1]] * yp[j * st[2]];
        for (int64_t j = 0; j < n; ++j) o[j * st[0]] = yp[j * st[2]] * (gp[j * st[1]] - acc);
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
