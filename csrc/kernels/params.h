// Plain parameter types of the kernel table's entries (core/kernel_table.h): geometry of convolutions and
// pools, reduction and random kinds, fused-optimizer segments and options. Device-agnostic; nvcc-safe.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace ember {
namespace kernels {

enum class ReduceOp { Sum, Prod, Max, Min, All, Any, SumSquares, NanSum };

// Uniform: [a, b); Normal: mean a, std b; RandInt: [a, b) integers; Bernoulli: P(1) = a; Exponential: rate a.
enum class RandomKind { Uniform, Normal, RandInt, Bernoulli, Exponential };

// The counter scheme every device follows: one Philox block gives 4 draws of 32 bits, or 2 of 64 bits
// (integers and float64), so the same seed and offset give the same numbers on every device.
inline bool random_wide(RandomKind kind, ScalarType dt) {
  return kind == RandomKind::RandInt || dt == ScalarType::Float64;
}
// Blocks random_fill consumes for a tensor of n elements.
inline uint64_t random_blocks(int64_t n, RandomKind kind, ScalarType dtype) {
  const uint64_t per = random_wide(kind, dtype) ? 2 : 4;
  return (uint64_t(n) + per - 1) / per;
}

// 2-D convolution on contiguous NCHW tensors. ph/pw are the top/left padding (bottom/right padding is implied
// by oh/ow); weight is [O, C/groups, kh, kw].
struct ConvGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, groups;
};

// NCHW pooling; oh/ow come from the caller (ceil_mode already applied).
struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
  bool count_include_pad;
  int64_t divisor_override;  // 0: none
};

// One parameter of a fused optimizer step: its memory plus the per-parameter coefficients that depend on its
// own step count. param, grad and state buffers hold `n` consecutive elements in the same order.
struct OptimSegment {
  void* param = nullptr;
  const void* grad = nullptr;
  void* state[3] = {nullptr, nullptr, nullptr};  // algorithm-specific buffers, same dtype as param
  int64_t n = 0;
  double c[3] = {0.0, 0.0, 0.0};
  bool fresh = false;  // SGD: the momentum buffer has no history yet (it becomes the gradient)
};

// state[0] = momentum buffer (when momentum != 0)
struct SgdOptions {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};
// state = {exp_avg, exp_avg_sq, max_exp_avg_sq}; c = {lr / bias_correction1, sqrt(bias_correction2)}
struct AdamOptions {
  double beta1, beta2, eps, weight_decay, lr;
  bool amsgrad, maximize, decoupled_weight_decay;
};
// state[0] = sum; c[0] = lr / (1 + (step - 1) * lr_decay)
struct AdagradOptions {
  double weight_decay, eps;
  bool maximize;
};
// state = {square_avg, grad_avg (centered), momentum_buffer (momentum > 0)}
struct RmspropOptions {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};
// state = {exp_avg, exp_inf}; c[0] = lr / bias_correction
struct AdamaxOptions {
  double beta1, beta2, eps, weight_decay;
  bool maximize;
};
// state = {exp_avg, exp_avg_sq}; c = {bias_correction2, -lr*(1-mu)/(1-mu_product), -lr*mu_next/(1-mu_product_next)}
struct NadamOptions {
  double beta1, beta2, eps, weight_decay, lr;
  bool decoupled_weight_decay, maximize;
};

}  // namespace kernels
}  // namespace ember
