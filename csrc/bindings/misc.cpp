// Bindings for matrix products.
#include "bindings/casters.h"
#include "ops/linalg.h"

namespace ember {
namespace py {

using namespace ops;

void bind_misc(pyb::module_& m) {
  m.def("matmul", &matmul);
  m.def("mm", &mm);
  m.def("bmm", &bmm);
  m.def("mv", &mv);
  m.def("dot", &dot);
  m.def("outer", &outer);
  m.def("addmm", &addmm);
  m.def("baddbmm", &baddbmm);
}

}  // namespace py
}  // namespace ember
