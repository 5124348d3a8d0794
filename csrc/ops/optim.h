// Fused optimizer steps over lists of tensors (one call per parameter group): validate every list before any
// memory is touched, advance the step counters, run the CPU kernel, bump version counters.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ember {
namespace ops {

using TensorList = std::vector<Tensor>;

// momentum_buffers is empty when momentum == 0; fresh[i] marks buffers that have no history yet (they are
// set to the gradient, as PyTorch's first step does).
void sgd_(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
          const std::vector<bool>& fresh, double lr, double momentum, double dampening, double weight_decay,
          bool nesterov, bool maximize);

// steps: one-element float tensors, incremented here. max_exp_avg_sqs is empty unless amsgrad.
void adam_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
           const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const TensorList& steps, double lr,
           double beta1, double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
           bool decoupled_weight_decay);

void adagrad_(const TensorList& params, const TensorList& grads, const TensorList& state_sums,
              const TensorList& steps, double lr, double lr_decay, double weight_decay, double eps, bool maximize);

// grad_avgs is empty unless centered; momentum_buffers is empty unless momentum > 0.
void rmsprop_(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
              const TensorList& grad_avgs, const TensorList& momentum_buffers, const TensorList& steps, double lr,
              double alpha, double eps, double weight_decay, double momentum, bool centered, bool maximize);

void adamax_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
             const TensorList& exp_infs, const TensorList& steps, double lr, double beta1, double beta2,
             double eps, double weight_decay, bool maximize);

// mu_products: one-element float tensors holding the running product of the momentum coefficients.
void nadam_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
            const TensorList& exp_avg_sqs, const TensorList& mu_products, const TensorList& steps, double lr,
            double beta1, double beta2, double eps, double weight_decay, double momentum_decay,
            bool decoupled_weight_decay, bool maximize);

}  // namespace ops
}  // namespace ember
