// Matrix products following PyTorch's shape rules.
#pragma once
#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor mv(const Tensor& a, const Tensor& v);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);
// beta * input + alpha * (a @ b), input broadcast to the product's shape
Tensor addmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha);
Tensor baddbmm(const Tensor& input, const Tensor& a, const Tensor& b, double beta, double alpha);

}  // namespace ops
}  // namespace ember
