// Batched matrix multiply: float32/float64 go to the packed GEMM (gemm.cpp), float16/bfloat16 too (float32
// accumulation); tiny products and integer types use a direct loop where each output row accumulates
// a[i,k] * b[k,:] with the row of b contiguous.
#include <algorithm>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "ops/common.h"

namespace ember {
namespace cpu {

namespace {

template <class T>
void gemm_one(T* c, int64_t ldc, const T* a, int64_t a_rs, int64_t a_cs, const T* b, int64_t ldb, int64_t m0,
              int64_t m1, int64_t N, int64_t K, T alpha, T beta) {
  constexpr int64_t kKBlock = 256;
  std::vector<T> acc(static_cast<size_t>(N));
  for (int64_t i = m0; i < m1; ++i) {
    std::fill(acc.begin(), acc.end(), T(0));
    T* accp = acc.data();
    for (int64_t k0 = 0; k0 < K; k0 += kKBlock) {
      int64_t k1 = std::min(K, k0 + kKBlock);
      for (int64_t k = k0; k < k1; ++k) {
        const T av = a[i * a_rs + k * a_cs];
        const T* brow = b + k * ldb;
        for (int64_t j = 0; j < N; ++j) accp[j] += av * brow[j];
      }
    }
    T* crow = c + i * ldc;
    if (beta == T(0)) {
      for (int64_t j = 0; j < N; ++j) crow[j] = alpha * accp[j];
    } else {
      for (int64_t j = 0; j < N; ++j) crow[j] = alpha * accp[j] + beta * crow[j];
    }
  }
}

}  // namespace

namespace {

// The packed GEMM (gemm.cpp) for float/double: batches run one after another (each GEMM uses every thread),
// or, when each product is small, side by side with one batch per task.
template <class T, class G>
void packed_batched(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, G gemm) {
  const int64_t B = a.sizes()[0], M = a.sizes()[1], K = a.sizes()[2], N = b.sizes()[2];
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* cp = out.data<T>();
  auto one = [&](int64_t i) {
    gemm(M, N, K, ap + i * a.strides()[0], a.strides()[1], a.strides()[2], bp + i * b.strides()[0], b.strides()[1],
         b.strides()[2], cp + i * out.strides()[0], out.strides()[1], T(alpha), T(beta));
  };
  const double flops = 2.0 * double(M) * double(N) * double(K);
  if (B > 1 && flops < 4e6) {
    parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < B; ++i) one(i);
  }
}

// float16/bfloat16: each product accumulates in a float32 buffer (A and B are converted while the GEMM packs
// them) and is rounded into out once, so no operand is ever converted as a whole.
template <class S>
void reduced_batched(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  const int64_t B = a.sizes()[0], M = a.sizes()[1], K = a.sizes()[2], N = b.sizes()[2];
  const S* ap = a.data<S>();
  const S* bp = b.data<S>();
  S* cp = out.data<S>();
  const int64_t crs = out.strides()[1], ccs = out.strides()[2];
  auto one = [&](int64_t i, std::vector<float>& acc) {
    S* c = cp + i * out.strides()[0];
    for (int64_t r = 0; r < M; ++r)
      for (int64_t j = 0; j < N; ++j)
        acc[size_t(r * N + j)] = beta == 0.0 ? 0.f : float(beta * float(c[r * crs + j * ccs]));
    if (K > 0)
      gemm_f32(M, N, K, ap + i * a.strides()[0], a.strides()[1], a.strides()[2], bp + i * b.strides()[0],
               b.strides()[1], b.strides()[2], acc.data(), N, float(alpha), 1.f);
    for (int64_t r = 0; r < M; ++r)
      for (int64_t j = 0; j < N; ++j) c[r * crs + j * ccs] = S(acc[size_t(r * N + j)]);
  };
  const double flops = 2.0 * double(M) * double(N) * double(K);
  if (B > 1 && flops < 4e6) {
    parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> acc(size_t(M * N));
      for (int64_t i = b0; i < b1; ++i) one(i, acc);
    });
  } else {
    std::vector<float> acc(size_t(M * N));
    for (int64_t i = 0; i < B; ++i) one(i, acc);
  }
}

}  // namespace

void gemm_batched(const Tensor& out, const Tensor& a, const Tensor& b0, double alpha, double beta) {
  const int64_t B = a.sizes()[0], M = a.sizes()[1], K = a.sizes()[2], N = b0.sizes()[2];
  if (out.numel() == 0) return;
  // tiny products: the direct loop below beats packing
  const bool tiny = M * N * K < 4096;
  if (!tiny && K > 0 && out.strides()[2] == 1 && out.dtype() == ScalarType::Float32) {
    packed_batched<float>(out, a, b0, alpha, beta, [](auto... args) { gemm_f32(args...); });
    return;
  }
  if (!tiny && K > 0 && out.strides()[2] == 1 && out.dtype() == ScalarType::Float64) {
    packed_batched<double>(out, a, b0, alpha, beta, gemm_f64);
    return;
  }
  if (out.dtype() == ScalarType::Float16) return reduced_batched<Half>(out, a, b0, alpha, beta);
  if (out.dtype() == ScalarType::BFloat16) return reduced_batched<BFloat16>(out, a, b0, alpha, beta);
  // rows of b must be contiguous for the inner loop; out rows too (ops/ allocates it so)
  Tensor b = b0.strides()[2] == 1 ? b0 : ops::contiguous(b0);
  EMBER_DISPATCH_NUMERIC_NO_HALF(out.dtype(), "matmul", [&] {
    using T = scalar_t;
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* cp = out.data<T>();
    const int64_t a_bs = a.strides()[0], a_rs = a.strides()[1], a_cs = a.strides()[2];
    const int64_t b_bs = b.strides()[0], ldb = b.strides()[1];
    const int64_t c_bs = out.strides()[0], ldc = out.strides()[1];
    const int64_t rows = B * M;
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, N * K));
    parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
      while (r0 < r1) {
        int64_t bi = r0 / M, i0 = r0 % M;
        int64_t i1 = std::min(M, i0 + (r1 - r0));
        if (K == 0) {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t j = 0; j < N; ++j) {
              T& c = cp[bi * c_bs + i * ldc + j];
              c = beta == 0 ? T(0) : T(beta * c);
            }
        } else {
          gemm_one<T>(cp + bi * c_bs, ldc, ap + bi * a_bs, a_rs, a_cs, bp + bi * b_bs, ldb, i0, i1, N, K, T(alpha),
                      T(beta));
        }
        r0 += i1 - i0;
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
