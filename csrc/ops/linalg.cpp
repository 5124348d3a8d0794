// matmul's shape rules (1-D, 2-D, batched with broadcasting) reduced to one batched kernel call.
#include "ops/linalg.h"

#include "core/shape.h"
#include "core/kernel_table.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

namespace {

ScalarType check_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  check_same_device(a, b, op);
  EMBER_RUNTIME_CHECK(a.dtype() == b.dtype(), op, ": expected m1 and m2 to have the same dtype, but got: ",
                      dtype_name(a.dtype()), " != ", dtype_name(b.dtype()));
  EMBER_TYPE_CHECK(a.dtype() != ScalarType::Bool, "\"", op, "\" not implemented for 'bool'");
  return a.dtype();
}

// [B,M,K] view of x (expanded batch), copying only when the batch dims cannot be merged.
Tensor as_3d(const Tensor& x, int64_t B) {
  DimVector shape = {B, x.sizes()[x.dim() - 2], x.sizes()[x.dim() - 1]};
  if (auto st = view_strides(x.sizes(), x.strides(), shape)) return x.as_view(shape, *st, x.offset());
  return reshape(contiguous(x), shape);
}

// out = beta * out + alpha * a @ b on 3-D operands (16-bit floats accumulate in float32 inside the kernels).
void gemm(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  kernels_for(out).gemm_batched(out, a, b, alpha, beta);
}

void check_mm(const Tensor& a, const Tensor& b) {
  EMBER_RUNTIME_CHECK(a.dim() == 2, "self must be a matrix (mm got a ", a.dim(), "-D tensor)");
  EMBER_RUNTIME_CHECK(b.dim() == 2, "mat2 must be a matrix (mm got a ", b.dim(), "-D tensor)");
  EMBER_RUNTIME_CHECK(a.sizes()[1] == b.sizes()[0], "mat1 and mat2 shapes cannot be multiplied (", a.sizes()[0], "x",
                      a.sizes()[1], " and ", b.sizes()[0], "x", b.sizes()[1], ")");
}

void check_bmm(const Tensor& a, const Tensor& b) {
  EMBER_RUNTIME_CHECK(a.dim() == 3, "batch1 must be a 3D tensor (bmm got ", a.dim(), "-D)");
  EMBER_RUNTIME_CHECK(b.dim() == 3, "batch2 must be a 3D tensor (bmm got ", b.dim(), "-D)");
  EMBER_RUNTIME_CHECK(a.sizes()[0] == b.sizes()[0], "batch1 and batch2 must have same number of batches, got ",
                      a.sizes()[0], " and ", b.sizes()[0]);
  EMBER_RUNTIME_CHECK(a.sizes()[2] == b.sizes()[1], "Expected size for first two dimensions of batch2 tensor to be: [",
                      a.sizes()[0], ", ", a.sizes()[2], "] but got: [", b.sizes()[0], ", ", b.sizes()[1], "].");
}

// beta * input (broadcast to shape) as a fresh contiguous tensor the product accumulates into.
Tensor init_out(const Tensor& input, const DimVector& shape, ScalarType dt, double beta, const char* op) {
  EMBER_RUNTIME_CHECK(broadcast_shapes(input.sizes(), shape) == shape, op, ": input of shape ", shape_str(input.sizes()),
                      " cannot be broadcast to the product's shape ", shape_str(shape));
  if (beta == 0.0) return empty(shape, dt, input.device());
  return contiguous(clone(expand(to_dtype(input, dt), shape)));
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  check_mm(a, b);
  ScalarType dt = check_dtypes(a, b, "mm");
  Tensor out = empty({a.sizes()[0], b.sizes()[1]}, dt, a.device());
  gemm(unsqueeze(out, 0), unsqueeze(a, 0), unsqueeze(b, 0), 1.0, 0.0);
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_bmm(a, b);
  ScalarType dt = check_dtypes(a, b, "bmm");
  Tensor out = empty({a.sizes()[0], a.sizes()[1], b.sizes()[2]}, dt, a.device());
  gemm(out, a, b, 1.0, 0.0);
  return out;
}

Tensor mv(const Tensor& a, const Tensor& v) {
  EMBER_RUNTIME_CHECK(a.dim() == 2 && v.dim() == 1, "vector + matrix @ vector expected, got ", a.dim(), ", ", v.dim());
  EMBER_RUNTIME_CHECK(a.sizes()[1] == v.sizes()[0], "size mismatch, got input (", a.sizes()[0], "), mat (",
                      a.sizes()[0], "x", a.sizes()[1], "), vec (", v.sizes()[0], ")");
  return squeeze_dim(mm(a, unsqueeze(v, 1)), 1);
}

Tensor dot(const Tensor& a, const Tensor& b) {
  EMBER_RUNTIME_CHECK(a.dim() == 1 && b.dim() == 1, "1D tensors expected, but got ", a.dim(), "D and ", b.dim(),
                      "D tensors");
  EMBER_RUNTIME_CHECK(a.sizes()[0] == b.sizes()[0], "inconsistent tensor size, expected tensor [", a.sizes()[0],
                      "] and src [", b.sizes()[0], "] to have the same number of elements, but got ", a.sizes()[0],
                      " and ", b.sizes()[0], " elements respectively");
  return reshape(mm(unsqueeze(a, 0), unsqueeze(b, 1)), {});
}

Tensor outer(const Tensor& a, const Tensor& b) {
  EMBER_RUNTIME_CHECK(a.dim() == 1 && b.dim() == 1, "outer: expected 1D tensors, got ", a.dim(), "D and ", b.dim(),
                      "D");
  return binary(BinaryOp::mul, unsqueeze(a, 1), unsqueeze(b, 0));
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  const int64_t da = a.dim(), db = b.dim();
  EMBER_RUNTIME_CHECK(da >= 1 && db >= 1, "both arguments to matmul need to be at least 1D, but they are ", da,
                      "D and ", db, "D");
  if (da == 1 && db == 1) return dot(a, b);
  if (da == 2 && db == 1) return mv(a, b);
  if (da == 1 && db == 2) {
    EMBER_RUNTIME_CHECK(a.sizes()[0] == b.sizes()[0], "size mismatch in matmul: (", a.sizes()[0], ") @ (",
                        b.sizes()[0], "x", b.sizes()[1], ")");
    return squeeze_dim(mm(unsqueeze(a, 0), b), 0);
  }
  if (da == 2 && db == 2) return mm(a, b);
  // batched: promote 1-D operands, broadcast batch dims
  Tensor A = da == 1 ? unsqueeze(a, 0) : a;
  Tensor Bm = db == 1 ? unsqueeze(b, 1) : b;
  const int64_t M = A.sizes()[A.dim() - 2], K = A.sizes()[A.dim() - 1];
  const int64_t K2 = Bm.sizes()[Bm.dim() - 2], N = Bm.sizes()[Bm.dim() - 1];
  EMBER_RUNTIME_CHECK(K == K2, "Expected size for first two dimensions of batch2 tensor to be: [", K,
                      "] but got: [", K2, "] (matmul of ", shape_str(a.sizes()), " and ", shape_str(b.sizes()), ")");
  ScalarType dt = check_dtypes(a, b, "matmul");
  DimVector ba(A.sizes().begin(), A.sizes().end() - 2), bb(Bm.sizes().begin(), Bm.sizes().end() - 2);
  DimVector batch = broadcast_shapes(ba, bb);
  int64_t nb = 1;
  for (auto s : batch) nb *= s;
  DimVector ea = batch, eb = batch;
  ea.push_back(M);
  ea.push_back(K);
  eb.push_back(K);
  eb.push_back(N);
  Tensor A3 = as_3d(expand(A, ea), nb), B3 = as_3d(expand(Bm, eb), nb);
  DimVector out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty(out_shape, dt, a.device());
  gemm(out.as_view({nb, M, N}, {M * N, N, 1}, 0), A3, B3, 1.0, 0.0);
  if (da == 1) out = squeeze_dim(out, -2);
  if (db == 1) out = squeeze_dim(out, -1);
  return out;
}

Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
  check_mm(a, b);
  ScalarType dt = check_dtypes(a, b, "addmm");
  Tensor out = init_out(input, {a.sizes()[0], b.sizes()[1]}, dt, beta, "addmm");
  gemm(unsqueeze(out, 0), unsqueeze(a, 0), unsqueeze(b, 0), alpha, beta);
  return out;
}

Tensor baddbmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha) {
  check_bmm(a, b);
  ScalarType dt = check_dtypes(a, b, "baddbmm");
  Tensor out = init_out(input, {a.sizes()[0], a.sizes()[1], b.sizes()[2]}, dt, beta, "baddbmm");
  gemm(out, a, b, alpha, beta);
  return out;
}

}  // namespace ops
}  // namespace ember
