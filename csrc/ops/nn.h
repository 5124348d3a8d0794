// Neural-network op entry points (softmax family, padding).
#pragma once
#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim, bool log);
// pads = (last_lo, last_hi, prev_lo, prev_hi, ...); negative values crop. value fills the new cells.
Tensor constant_pad(const Tensor& x, const DimVector& pads, const Tensor& value);

}  // namespace ops
}  // namespace ember
