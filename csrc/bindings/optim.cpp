// Bindings for the fused optimizer steps: each takes lists of tensors (one entry per parameter of a group)
// and updates them in place. ember.optim builds the lists; these names are private (`_C._adam_`).
#include "bindings/casters.h"
#include "ops/optim.h"

namespace ember {
namespace py {

using namespace ops;
namespace a = pybind11;

void bind_optim(pyb::module_& m) {
  m.def("_sgd_", &sgd_, a::arg("params"), a::arg("grads"), a::arg("momentum_buffers"), a::arg("fresh"),
        a::arg("lr"), a::arg("momentum"), a::arg("dampening"), a::arg("weight_decay"), a::arg("nesterov"),
        a::arg("maximize"));
  m.def("_adam_", &adam_, a::arg("params"), a::arg("grads"), a::arg("exp_avgs"), a::arg("exp_avg_sqs"),
        a::arg("max_exp_avg_sqs"), a::arg("steps"), a::arg("lr"), a::arg("beta1"), a::arg("beta2"), a::arg("eps"),
        a::arg("weight_decay"), a::arg("amsgrad"), a::arg("maximize"), a::arg("decoupled_weight_decay"));
  m.def("_adagrad_", &adagrad_, a::arg("params"), a::arg("grads"), a::arg("state_sums"), a::arg("steps"),
        a::arg("lr"), a::arg("lr_decay"), a::arg("weight_decay"), a::arg("eps"), a::arg("maximize"));
  m.def("_rmsprop_", &rmsprop_, a::arg("params"), a::arg("grads"), a::arg("square_avgs"), a::arg("grad_avgs"),
        a::arg("momentum_buffers"), a::arg("steps"), a::arg("lr"), a::arg("alpha"), a::arg("eps"),
        a::arg("weight_decay"), a::arg("momentum"), a::arg("centered"), a::arg("maximize"));
  m.def("_adamax_", &adamax_, a::arg("params"), a::arg("grads"), a::arg("exp_avgs"), a::arg("exp_infs"),
        a::arg("steps"), a::arg("lr"), a::arg("beta1"), a::arg("beta2"), a::arg("eps"), a::arg("weight_decay"),
        a::arg("maximize"));
  m.def("_nadam_", &nadam_, a::arg("params"), a::arg("grads"), a::arg("exp_avgs"), a::arg("exp_avg_sqs"),
        a::arg("mu_products"), a::arg("steps"), a::arg("lr"), a::arg("beta1"), a::arg("beta2"), a::arg("eps"),
        a::arg("weight_decay"), a::arg("momentum_decay"), a::arg("decoupled_weight_decay"), a::arg("maximize"));
}

}  // namespace py
}  // namespace ember
