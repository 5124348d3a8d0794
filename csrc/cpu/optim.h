// Fused optimizer kernels: one call updates every parameter of a group in place (foreach-style), threaded
// over the elements of all of them together. ops/optim.cpp has validated the tensors and laid each parameter
// out as `n` consecutive elements in the same order in its param, grad and state buffers.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "kernels/params.h"

namespace ember {
namespace cpu {

using kernels::AdagradOptions;
using kernels::AdamaxOptions;
using kernels::AdamOptions;
using kernels::NadamOptions;
using kernels::OptimSegment;
using kernels::RmspropOptions;
using kernels::SgdOptions;

// state[0] = momentum buffer (when momentum != 0)
void sgd(ScalarType dtype, const std::vector<OptimSegment>& segs, const SgdOptions& o);

// state = {exp_avg, exp_avg_sq, max_exp_avg_sq}; c = {lr / bias_correction1, sqrt(bias_correction2)}
void adam(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamOptions& o);

// state[0] = sum; c[0] = lr / (1 + (step - 1) * lr_decay)
void adagrad(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdagradOptions& o);

// state = {square_avg, grad_avg (centered), momentum_buffer (momentum > 0)}
void rmsprop(ScalarType dtype, const std::vector<OptimSegment>& segs, const RmspropOptions& o);

// state = {exp_avg, exp_inf}; c[0] = lr / bias_correction
void adamax(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamaxOptions& o);

// state = {exp_avg, exp_avg_sq}; c = {bias_correction2, -lr*(1-mu)/(1-mu_product), -lr*mu_next/(1-mu_product_next)}
void nadam(ScalarType dtype, const std::vector<OptimSegment>& segs, const NadamOptions& o);

}  // namespace cpu
}  // namespace ember
