// cuBLAS, opened at run time: the library is located through the registered locator (cuda-python's
// cuda.pathfinder finds the nvidia-cublas wheel) and loaded with dlopen, so the build links nothing and a machine
// without it still runs the CUDA module's own GEMM kernels.
#pragma once
#include <string>

#include "core/tensor.h"

namespace ember {
namespace cuda {

// Whether cuBLAS could be loaded (tried once); why not, when it could not.
bool cublas_available();
const std::string& cublas_unavailable_reason();

// out[b] = alpha * a[b] @ b[b] + beta * out[b] on 3-D CUDA tensors of one float dtype (float16/bfloat16 with
// float32 accumulation; float32 with TF32 only when allow_tf32). Operands whose layout cuBLAS cannot take are
// passed as contiguous copies.
void cublas_gemm(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta, bool allow_tf32);

}  // namespace cuda
}  // namespace ember
