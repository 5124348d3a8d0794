// Bindings for neural-network kernels.
#include "bindings/casters.h"
#include "ops/nn.h"

namespace ember {
namespace py {

void bind_nn(pyb::module_& m) {
  m.def("softmax", &ops::softmax);
  m.def("softmax_backward", &ops::softmax_backward);
  m.def("constant_pad", &ops::constant_pad);
}

}  // namespace py
}  // namespace ember
