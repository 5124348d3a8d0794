// Fused optimizer entry points. Every list is checked (lengths, shapes, dtypes, devices, writability, aliasing)
// before anything is written; then step counters advance, per-parameter coefficients are computed in double
// (as PyTorch does with Python floats), and one kernel call updates all parameters of each dtype.
#include "ops/optim.h"

#include <cmath>

#include "core/shape.h"
#include "core/kernel_table.h"
#include "ops/common.h"
#include "ops/pointwise.h"

namespace ember {
namespace ops {

namespace {

struct NamedList {
  const TensorList* list;
  const char* name;  // the state key, as in PyTorch's optimizer state ("exp_avg")
  bool required;     // false: the list must be empty (the option that needs it is off)
};

bool same_layout(const Tensor& t, const DimVector& strides) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.sizes()[d] > 1 && t.strides()[d] != strides[d]) return false;
  return true;
}

// The validated tensors of one fused call, each parameter laid out as one dense block shared (element for
// element) by its grad and state buffers. Operands whose layout differs go through dense temporaries that
// are copied back after the kernel.
class FusedCall {
 public:
  FusedCall(const char* op, const TensorList& params, const TensorList& grads, std::vector<NamedList> states)
      : op_(op), params_(params), states_(std::move(states)) {
    const size_t n = params.size();
    check_length("grads", grads.size(), n);
    for (const auto& s : states_) {
      if (s.required)
        check_length(s.name, s.list->size(), n);
      else
        EMBER_VALUE_CHECK(s.list->empty(), op_, ": expected no '", s.name,
                          "' buffers with these options, got ", s.list->size());
    }
    for (size_t i = 0; i < n; ++i) check_param(i, grads[i]);
    segs_.resize(n);
    for (size_t i = 0; i < n; ++i) layout(i, grads[i]);
  }

  void check_length(const char* what, size_t got, size_t n) const {
    EMBER_VALUE_CHECK(got == n, op_, ": expected one '", what, "' per parameter (", n, "), got ", got);
  }

  // One-element float tensors such as 'step' and 'mu_product'.
  void check_scalars(const TensorList& t, const char* name) const {
    check_length(name, t.size(), params_.size());
    for (size_t i = 0; i < t.size(); ++i) {
      EMBER_RUNTIME_CHECK(t[i].defined() && t[i].numel() == 1 &&
                              (t[i].dtype() == ScalarType::Float32 || t[i].dtype() == ScalarType::Float64),
                          op_, ": state '", name, "' of parameter ", i,
                          " must be a one-element float32 or float64 tensor, got ",
                          t[i].defined() ? dtype_name(t[i].dtype()) : "undefined", " of shape ",
                          t[i].defined() ? shape_str(t[i].sizes()) : "[]");
      EMBER_RUNTIME_CHECK(t[i].device().is_cpu(), op_, ": state '", name, "' of parameter ", i,
                          " must be on the CPU, got ", t[i].device().str());
    }
  }

  kernels::OptimSegment& seg(size_t i) { return segs_[i]; }
  Device device() const { return params_.empty() ? Device() : params_[0].device(); }
  size_t size() const { return segs_.size(); }

  // Runs kernel(dtype, segments) once per parameter dtype, then copies temporaries back and bumps versions.
  template <class Kernel>
  void run(const Kernel& kernel) {
    for (ScalarType dt : {ScalarType::Float32, ScalarType::Float64, ScalarType::Float16, ScalarType::BFloat16}) {
      std::vector<kernels::OptimSegment> group;
      for (size_t i = 0; i < segs_.size(); ++i)
        if (params_[i].dtype() == dt && segs_[i].n > 0) group.push_back(segs_[i]);
      if (!group.empty()) kernel(dt, group);
    }
    for (auto& wb : writeback_) copy_(wb.first, wb.second);
    for (size_t i = 0; i < params_.size(); ++i) {
      params_[i].bump_version();
      for (const auto& s : states_)
        if (s.required) (*s.list)[i].bump_version();
    }
  }

 private:
  void check_operand(size_t i, const Tensor& t, const char* what, bool written) const {
    const Tensor& p = params_[i];
    EMBER_RUNTIME_CHECK(t.defined(), op_, ": '", what, "' of parameter ", i, " is undefined");
    EMBER_RUNTIME_CHECK(t.sizes() == p.sizes(), op_, ": '", what, "' of parameter ", i, " has shape ",
                        shape_str(t.sizes()), " but the parameter has shape ", shape_str(p.sizes()));
    EMBER_RUNTIME_CHECK(t.dtype() == p.dtype(), op_, ": '", what, "' of parameter ", i, " has dtype ",
                        dtype_name(t.dtype()), " but the parameter has dtype ", dtype_name(p.dtype()));
    EMBER_RUNTIME_CHECK(t.device() == p.device(), op_, ": '", what, "' of parameter ", i, " is on ",
                        t.device().str(), " but the parameter is on ", p.device().str());
    if (written) check_writable(t, op_);
  }

  void check_param(size_t i, const Tensor& grad) const {
    const Tensor& p = params_[i];
    EMBER_RUNTIME_CHECK(p.defined(), op_, ": parameter ", i, " is undefined");
    EMBER_TYPE_CHECK(is_floating(p.dtype()), op_, ": parameter ", i, " has dtype ", dtype_name(p.dtype()),
                     "; optimizers update floating-point tensors only");
    // one fused call runs on one device's kernels
    EMBER_RUNTIME_CHECK(p.device() == params_[0].device(), op_, ": parameter ", i, " is on ", p.device().str(),
                        " but parameter 0 is on ", params_[0].device().str(),
                        "; a fused step updates the parameters of one device (put them in separate groups)");
    check_writable(p, op_);
    check_operand(i, grad, "grad", false);
    for (const auto& s : states_) {
      if (!s.required) continue;
      const Tensor& t = (*s.list)[i];
      check_operand(i, t, s.name, true);
      // the kernel writes param and states through restrict pointers: they must not share memory
      EMBER_RUNTIME_CHECK(p.numel() == 0 || t.storage().get() != p.storage().get(), op_, ": state '", s.name,
                          "' of parameter ", i, " shares memory with the parameter");
      for (const auto& o : states_) {
        if (&o == &s) break;
        if (o.required)
          EMBER_RUNTIME_CHECK(p.numel() == 0 || t.storage().get() != (*o.list)[i].storage().get(), op_,
                              ": states '", o.name, "' and '", s.name, "' of parameter ", i, " share memory");
      }
    }
  }

  // A pointer to t's elements in the order of `strides`, through a temporary when t is laid out differently.
  char* place(const Tensor& t, const DimVector& strides, bool written, bool force_copy) {
    if (!force_copy && same_layout(t, strides)) return t.data_ptr();
    Tensor tmp = empty_strided(t.sizes(), strides, t.dtype(), t.device());
    copy_(tmp, t);
    if (written) writeback_.emplace_back(t, tmp);
    keep_.push_back(tmp);
    return tmp.data_ptr();
  }

  void layout(size_t i, const Tensor& grad) {
    const Tensor& p = params_[i];
    kernels::OptimSegment& s = segs_[i];
    s.n = p.numel();
    if (s.n == 0) return;
    DimVector strides = p.is_non_overlapping_and_dense() ? p.strides() : contiguous_strides(p.sizes());
    s.param = place(p, strides, true, false);
    // a gradient sharing memory with what the kernel writes is read from a copy
    bool grad_aliases = grad.storage().get() == p.storage().get();
    // state slots follow the order of states_; the slot of a disabled option stays null
    for (size_t k = 0; k < states_.size(); ++k) {
      if (!states_[k].required) continue;
      const Tensor& t = (*states_[k].list)[i];
      grad_aliases = grad_aliases || grad.storage().get() == t.storage().get();
      s.state[k] = place(t, strides, true, false);
    }
    s.grad = place(grad, strides, false, grad_aliases);
  }

  const char* op_;
  const TensorList& params_;
  std::vector<NamedList> states_;
  std::vector<kernels::OptimSegment> segs_;
  std::vector<std::pair<Tensor, Tensor>> writeback_;  // (original, temporary)
  TensorList keep_;                                   // temporaries stay alive until the kernel has run
};

double read_scalar(const Tensor& t) {
  return t.dtype() == ScalarType::Float64 ? double(*t.data<double>()) : double(*t.data<float>());
}

// Stores v in t's dtype and returns the stored value (a float32 counter rounds like PyTorch's).
double write_scalar(const Tensor& t, double v) {
  if (t.dtype() == ScalarType::Float64) {
    *t.data<double>() = v;
  } else {
    *t.data<float>() = float(v);
    v = double(float(v));
  }
  t.bump_version();
  return v;
}

// Increments every step counter and returns the new values.
std::vector<double> advance_steps(const TensorList& steps) {
  std::vector<double> out(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) out[i] = write_scalar(steps[i], read_scalar(steps[i]) + 1.0);
  return out;
}

}  // namespace

void sgd_(const TensorList& params, const TensorList& grads, const TensorList& momentum_buffers,
          const std::vector<bool>& fresh, double lr, double momentum, double dampening, double weight_decay,
          bool nesterov, bool maximize) {
  const bool has_momentum = momentum != 0.0;
  FusedCall call("sgd", params, grads, {{&momentum_buffers, "momentum_buffer", has_momentum}});
  if (has_momentum) call.check_length("fresh", fresh.size(), params.size());
  for (size_t i = 0; i < call.size(); ++i) call.seg(i).fresh = has_momentum && fresh[i];
  kernels::SgdOptions o{lr, momentum, dampening, weight_decay, nesterov, maximize};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).sgd(dt, s, o); });
}

void adam_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
           const TensorList& exp_avg_sqs, const TensorList& max_exp_avg_sqs, const TensorList& steps, double lr,
           double beta1, double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
           bool decoupled_weight_decay) {
  FusedCall call(decoupled_weight_decay ? "adamw" : "adam", params, grads,
                 {{&exp_avgs, "exp_avg", true},
                  {&exp_avg_sqs, "exp_avg_sq", true},
                  {&max_exp_avg_sqs, "max_exp_avg_sq", amsgrad}});
  call.check_scalars(steps, "step");
  std::vector<double> step = advance_steps(steps);
  for (size_t i = 0; i < call.size(); ++i) {
    call.seg(i).c[0] = lr / (1.0 - std::pow(beta1, step[i]));
    call.seg(i).c[1] = std::sqrt(1.0 - std::pow(beta2, step[i]));
  }
  kernels::AdamOptions o{beta1, beta2, eps, weight_decay, lr, amsgrad, maximize, decoupled_weight_decay};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).adam(dt, s, o); });
}

void adagrad_(const TensorList& params, const TensorList& grads, const TensorList& state_sums,
              const TensorList& steps, double lr, double lr_decay, double weight_decay, double eps, bool maximize) {
  FusedCall call("adagrad", params, grads, {{&state_sums, "sum", true}});
  call.check_scalars(steps, "step");
  std::vector<double> step = advance_steps(steps);
  for (size_t i = 0; i < call.size(); ++i) call.seg(i).c[0] = lr / (1.0 + (step[i] - 1.0) * lr_decay);
  kernels::AdagradOptions o{weight_decay, eps, maximize};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).adagrad(dt, s, o); });
}

void rmsprop_(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
              const TensorList& grad_avgs, const TensorList& momentum_buffers, const TensorList& steps, double lr,
              double alpha, double eps, double weight_decay, double momentum, bool centered, bool maximize) {
  const bool has_momentum = momentum > 0.0;
  FusedCall call("rmsprop", params, grads,
                 {{&square_avgs, "square_avg", true},
                  {&grad_avgs, "grad_avg", centered},
                  {&momentum_buffers, "momentum_buffer", has_momentum}});
  call.check_scalars(steps, "step");
  advance_steps(steps);
  kernels::RmspropOptions o{lr, alpha, eps, weight_decay, momentum, centered, maximize};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).rmsprop(dt, s, o); });
}

void adamax_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
             const TensorList& exp_infs, const TensorList& steps, double lr, double beta1, double beta2,
             double eps, double weight_decay, bool maximize) {
  FusedCall call("adamax", params, grads, {{&exp_avgs, "exp_avg", true}, {&exp_infs, "exp_inf", true}});
  call.check_scalars(steps, "step");
  std::vector<double> step = advance_steps(steps);
  for (size_t i = 0; i < call.size(); ++i) call.seg(i).c[0] = lr / (1.0 - std::pow(beta1, step[i]));
  kernels::AdamaxOptions o{beta1, beta2, eps, weight_decay, maximize};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).adamax(dt, s, o); });
}

void nadam_(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
            const TensorList& exp_avg_sqs, const TensorList& mu_products, const TensorList& steps, double lr,
            double beta1, double beta2, double eps, double weight_decay, double momentum_decay,
            bool decoupled_weight_decay, bool maximize) {
  FusedCall call("nadam", params, grads, {{&exp_avgs, "exp_avg", true}, {&exp_avg_sqs, "exp_avg_sq", true}});
  call.check_scalars(steps, "step");
  call.check_scalars(mu_products, "mu_product");
  std::vector<double> step = advance_steps(steps);
  for (size_t i = 0; i < call.size(); ++i) {
    const double t = step[i];
    const double mu = beta1 * (1.0 - 0.5 * std::pow(0.96, t * momentum_decay));
    const double mu_next = beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * momentum_decay));
    const double mu_product = write_scalar(mu_products[i], read_scalar(mu_products[i]) * mu);
    call.seg(i).c[0] = 1.0 - std::pow(beta2, t);
    call.seg(i).c[1] = -lr * (1.0 - mu) / (1.0 - mu_product);
    call.seg(i).c[2] = -lr * mu_next / (1.0 - mu_product * mu_next);
  }
  kernels::NadamOptions o{beta1, beta2, eps, weight_decay, lr, decoupled_weight_decay, maximize};
  call.run([&](ScalarType dt, const std::vector<kernels::OptimSegment>& s) { kernels_for(call.device()).nadam(dt, s, o); });
}

}  // namespace ops
}  // namespace ember
