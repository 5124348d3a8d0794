// The row-major -> column-major argument mapping of cuda/blas_plan.h.
#include "cuda/blas_plan.h"

#include <algorithm>
#include <climits>

namespace ember {
namespace cuda {

namespace {

// A rows x cols matrix at strides (rs, cs) as a column-major BLAS operand: not transposed when element (r, c)
// sits at r + c * ld, transposed when it sits at r * ld + c; ld must cover the stored column so columns
// never overlap.
struct Operand {
  bool ok = false, trans = false;
  int64_t ld = 1;
};

Operand as_column_major(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  // the stride of a size-1 dim is arbitrary: pick the one that makes the other dim's layout valid
  if (cols == 1) cs = rs == 1 ? std::max<int64_t>(rows, 1) : 1;
  if (rows == 1) rs = cs == 1 ? std::max<int64_t>(cols, 1) : 1;
  Operand o;
  if (rs == 1 && cs >= std::max<int64_t>(rows, 1)) {
    o.ok = true;
    o.ld = cs;
  } else if (cs == 1 && rs >= std::max<int64_t>(cols, 1)) {
    o.ok = o.trans = true;
    o.ld = rs;
  }
  return o;
}

bool fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

}  // namespace

std::optional<BlasGemmPlan> plan_blas_gemm(int64_t B, int64_t M, int64_t N, int64_t K, const int64_t* sa,
                                           const int64_t* sb, const int64_t* sc) {
  BlasGemmPlan p;
  p.batch = B;
  p.k = K;
  // C column-major (M x N, element (i, j) at i + j * ldc): cuBLAS computes C = A @ B directly. Otherwise C^T
  // (N x M) is column-major and cuBLAS computes C^T = B^T @ A^T, so its operands are our B^T and A^T.
  const Operand c_col = as_column_major(M, N, sc[1], sc[2]);
  const bool direct = c_col.ok && !c_col.trans;
  Operand c, a, b;
  if (direct) {
    c = c_col;
    a = as_column_major(M, K, sa[1], sa[2]);
    b = as_column_major(K, N, sb[1], sb[2]);
    p.m = M;
    p.n = N;
    p.stride_a = sa[0];
    p.stride_b = sb[0];
  } else {
    c = as_column_major(N, M, sc[2], sc[1]);
    if (!c.ok || c.trans) return std::nullopt;
    a = as_column_major(N, K, sb[2], sb[1]);  // B^T
    b = as_column_major(K, M, sa[2], sa[1]);  // A^T
    p.swapped = true;
    p.m = N;
    p.n = M;
    p.stride_a = sb[0];
    p.stride_b = sa[0];
  }
  if (!a.ok || !b.ok) return std::nullopt;
  p.trans_a = a.trans;
  p.trans_b = b.trans;
  p.lda = a.ld;
  p.ldb = b.ld;
  p.ldc = c.ld;
  p.stride_c = sc[0];
  if (B == 1) p.stride_a = p.stride_b = p.stride_c = 0;
  for (int64_t v : {p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.batch})
    if (!fits_int(v)) return std::nullopt;
  return p;
}

}  // namespace cuda
}  // namespace ember
