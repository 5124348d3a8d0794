// Convolution entry points (NCHW; conv1d goes through conv2d with H = 1).
#pragma once
#include <tuple>

#include "core/tensor.h"

namespace ember {
namespace ops {

// padding = (top, bottom, left, right); bias may be undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const DimVector& stride, const DimVector& padding,
              const DimVector& dilation, int64_t groups);
// Gradients for input / weight / bias as requested by mask (undefined tensors where not requested).
std::tuple<Tensor, Tensor, Tensor> conv2d_backward(const Tensor& gout, const Tensor& x, const Tensor& w,
                                                   const DimVector& stride, const DimVector& padding,
                                                   const DimVector& dilation, int64_t groups, bool need_x,
                                                   bool need_w, bool need_b);

}  // namespace ops
}  // namespace ember
