// Bindings for shape and view ops.
#include "bindings/casters.h"
#include "ops/shape.h"

namespace ember {
namespace py {

using namespace ops;

void bind_shape(pyb::module_& m) {
  m.def("view", &view);
  m.def("reshape", &reshape);
  m.def("permute", &permute);
  m.def("transpose", &transpose);
  m.def("t", &t);
  m.def("expand", &expand);
  m.def("squeeze", &squeeze);
  m.def("squeeze_dims", &squeeze_dims);
  m.def("unsqueeze", &unsqueeze);
  m.def("flatten", &flatten);
  m.def("unflatten", &unflatten);
  m.def("select", &select);
  m.def("narrow", &narrow);
  m.def("slice", &slice);
  m.def("as_strided", &as_strided);
  m.def("diagonal", &diagonal);
  m.def("unfold", &unfold);
  m.def("repeat", &repeat);
  m.def("flip", &flip);
  m.def("cat", &cat);
  m.def("stack", &stack);
  m.def("tril", [](const Tensor& x, int64_t k) { return tril(x, k, false); });
  m.def("triu", [](const Tensor& x, int64_t k) { return tril(x, k, true); });
  // A new tensor object over the same storage, geometry and version counter (detach, views of views).
  m.def("alias", [](const Tensor& x) { return x.as_view(x.sizes(), x.strides(), x.offset()); });
  m.def("same_storage", [](const Tensor& a, const Tensor& b) { return a.storage().get() == b.storage().get(); });
  m.def("storage_nbytes", [](const Tensor& x) { return x.storage()->nbytes; });
  m.def("storage_id", [](const Tensor& x) { return reinterpret_cast<uintptr_t>(x.storage().get()); });
}

}  // namespace py
}  // namespace ember
