// Bindings for reductions. `dims` is a list of ints (empty = all dims).
#include "bindings/casters.h"
#include "ops/reduce.h"

namespace ember {
namespace py {

using namespace ops;
using OptDT = std::optional<ScalarType>;

void bind_reduce(pyb::module_& m) {
  m.def("sum", [](const Tensor& x, const DimVector& d, bool k, OptDT dt) { return sum(x, d, k, dt); });
  m.def("nansum", &nansum);
  m.def("mean", [](const Tensor& x, const DimVector& d, bool k, OptDT dt) { return mean(x, d, k, dt); });
  m.def("prod", [](const Tensor& x, const DimVector& d, bool k, OptDT dt) { return prod(x, d, k, dt); });
  m.def("amax", &amax);
  m.def("amin", &amin);
  m.def("all", &all);
  m.def("any", &any);
  m.def("max_dim", &max_dim);
  m.def("min_dim", &min_dim);
  m.def("argmax", &argmax);
  m.def("argmin", &argmin);
  m.def("var", &var);
  m.def("std", &ops::std);
  m.def("var_mean", &var_mean);
  m.def("norm", &norm);
  m.def("logsumexp", &logsumexp);
  m.def("cumsum", [](const Tensor& x, int64_t d, OptDT dt) { return cumsum(x, d, dt); });
  m.def("cumprod", [](const Tensor& x, int64_t d, OptDT dt) { return cumprod(x, d, dt); });
  m.def("sum_to", &sum_to);
}

}  // namespace py
}  // namespace ember
