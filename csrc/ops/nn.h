// Neural-network op entry points (softmax family, padding).
#pragma once
#include <tuple>

#include "core/tensor.h"

namespace ember {
namespace ops {

Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim, bool log);
// pads = (last_lo, last_hi, prev_lo, prev_hi, ...); negative values crop. value fills the new cells.
Tensor constant_pad(const Tensor& x, const DimVector& pads, const Tensor& value);

}  // namespace ops
}  // namespace ember

namespace ember {
namespace ops {

// Pooling on 4-D NCHW input; params are (h, w) pairs. Indices are flat h * W + w positions in each plane.
std::tuple<Tensor, Tensor> max_pool2d(const Tensor& x, const DimVector& kernel, const DimVector& stride,
                                      const DimVector& padding, const DimVector& dilation, bool ceil_mode);
Tensor max_pool2d_backward(const Tensor& gout, const Tensor& indices, const DimVector& input_shape);
Tensor avg_pool2d(const Tensor& x, const DimVector& kernel, const DimVector& stride, const DimVector& padding,
                  bool ceil_mode, bool count_include_pad, int64_t divisor_override);
Tensor avg_pool2d_backward(const Tensor& gout, const DimVector& input_shape, const DimVector& kernel,
                           const DimVector& stride, const DimVector& padding, bool ceil_mode, bool count_include_pad,
                           int64_t divisor_override);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow);
Tensor adaptive_avg_pool2d_backward(const Tensor& gout, const DimVector& input_shape);
std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x, int64_t oh, int64_t ow);

// Batch norm over dim 1: returns (y, mean, invstd) used by the backward; in training the running
// statistics (if given) are updated in place with the unbiased variance.
std::tuple<Tensor, Tensor, Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                              const Tensor& running_mean, const Tensor& running_var, bool training,
                                              double momentum, double eps);
std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight,
                                                       const Tensor& mean, const Tensor& invstd, bool training,
                                                       bool need_x, bool need_w, bool need_b);
// Layer norm over the last `ndim` dims: (y, mean, rstd).
std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& x, int64_t ndim, const Tensor& weight,
                                              const Tensor& bias, double eps);
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean,
                                                       const Tensor& rstd, const Tensor& weight, int64_t ndim,
                                                       bool need_x, bool need_w, bool need_b);
// Cross-entropy of [N, C] logits against int64 class indices: (per-row loss, per-row log-sum-exp).
std::tuple<Tensor, Tensor> cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight,
                                         int64_t ignore_index, double smoothing);
Tensor cross_entropy_backward(const Tensor& grow, const Tensor& x, const Tensor& target, const Tensor& weight,
                              int64_t ignore_index, double smoothing, const Tensor& lse);

}  // namespace ops
}  // namespace ember
