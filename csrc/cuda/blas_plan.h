// How a row-major batched product C[b] = A[b] @ B[b], each operand at any strides, maps onto one column-major
// strided-batched BLAS call (cuBLAS). Host logic only: built on every machine and tested in CI.
#pragma once
#include <cstdint>
#include <optional>

namespace ember {
namespace cuda {

// The arguments of cublasGemmStridedBatchedEx. "a" and "b" are cuBLAS's operands, which are our B and A when
// C is row-major (cuBLAS then computes C^T = B^T A^T) and our A and B when C is column-major.
struct BlasGemmPlan {
  bool trans_a = false, trans_b = false;
  bool swapped = false;  // true: cuBLAS's a is our B, its b our A
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 1, ldb = 1, ldc = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  int64_t batch = 0;
};

// Strides are in elements, {batch, row, column} for each of A [B, M, K], B [B, K, N] and C [B, M, N].
// nullopt when some operand cannot be handed over as it is (no unit-stride dim, overlapping rows, sizes
// beyond cuBLAS's int range): the caller then passes a contiguous copy of that operand.
std::optional<BlasGemmPlan> plan_blas_gemm(int64_t B, int64_t M, int64_t N, int64_t K, const int64_t* sa,
                                           const int64_t* sb, const int64_t* sc);

}  // namespace cuda
}  // namespace ember
