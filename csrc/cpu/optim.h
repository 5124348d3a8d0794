// Fused optimizer kernels: one call updates every parameter of a group in place (foreach-style), threaded
// over the elements of all of them together. ops/optim.cpp has validated the tensors and laid each parameter
// out as `n` consecutive elements in the same order in its param, grad and state buffers.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace ember {
namespace cpu {

// One parameter: its memory plus the per-parameter coefficients that depend on its own step count.
struct OptimSegment {
  void* param = nullptr;
  const void* grad = nullptr;
  void* state[3] = {nullptr, nullptr, nullptr};  // algorithm-specific buffers, same dtype as param
  int64_t n = 0;
  double c[3] = {0.0, 0.0, 0.0};
  bool fresh = false;  // SGD: the momentum buffer has no history yet (it becomes the gradient)
};

struct SgdOptions {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};
// state[0] = momentum buffer (when momentum != 0)
void sgd(ScalarType dtype, const std::vector<OptimSegment>& segs, const SgdOptions& o);

struct AdamOptions {
  double beta1, beta2, eps, weight_decay, lr;
  bool amsgrad, maximize, decoupled_weight_decay;
};
// state = {exp_avg, exp_avg_sq, max_exp_avg_sq}; c = {lr / bias_correction1, sqrt(bias_correction2)}
void adam(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamOptions& o);

struct AdagradOptions {
  double weight_decay, eps;
  bool maximize;
};
// state[0] = sum; c[0] = lr / (1 + (step - 1) * lr_decay)
void adagrad(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdagradOptions& o);

struct RmspropOptions {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};
// state = {square_avg, grad_avg (centered), momentum_buffer (momentum > 0)}
void rmsprop(ScalarType dtype, const std::vector<OptimSegment>& segs, const RmspropOptions& o);

struct AdamaxOptions {
  double beta1, beta2, eps, weight_decay;
  bool maximize;
};
// state = {exp_avg, exp_inf}; c[0] = lr / bias_correction
void adamax(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamaxOptions& o);

struct NadamOptions {
  double beta1, beta2, eps, weight_decay, lr;
  bool decoupled_weight_decay, maximize;
};
// state = {exp_avg, exp_avg_sq}; c = {bias_correction2, -lr*(1-mu)/(1-mu_product), -lr*mu_next/(1-mu_product_next)}
void nadam(ScalarType dtype, const std::vector<OptimSegment>& segs, const NadamOptions& o);

}  // namespace cpu
}  // namespace ember
