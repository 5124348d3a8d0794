// Bindings for pointwise ops, generated from the op list: `name(x)` and the in-place `name_(x)`.
#include "bindings/casters.h"
#include "ops/pointwise.h"

namespace ember {
namespace py {

using namespace ops;
using OptT = std::optional<Tensor>;

void bind_pointwise(pyb::module_& m) {
#define EMBER_BIND_UNARY(name, cls, expr)                                                        \
  m.def(#name, [](const Tensor& x) { return unary(UnaryOp::name, x); });                        \
  m.def(#name "_", [](const Tensor& x) { unary_(UnaryOp::name, x); });
  EMBER_UNARY_OPS(EMBER_BIND_UNARY)
#undef EMBER_BIND_UNARY

#define EMBER_BIND_UNARY_BOOL(name, cls, expr) \
  m.def(#name, [](const Tensor& x) { return unary_bool(UnaryBoolOp::name, x); });
  EMBER_UNARY_BOOL_OPS(EMBER_BIND_UNARY_BOOL)
#undef EMBER_BIND_UNARY_BOOL

#define EMBER_BIND_PARAM(name, cls, expr)                                                                         \
  m.def(#name, [](const Tensor& x, double p0, double p1, double p2) { return unary_param(UnaryParamOp::name, x, p0, p1, p2); }, \
        pyb::arg("x"), pyb::arg("p0") = 0.0, pyb::arg("p1") = 0.0, pyb::arg("p2") = 0.0);                         \
  m.def(#name "_", [](const Tensor& x, double p0, double p1, double p2) { unary_param_(UnaryParamOp::name, x, p0, p1, p2); }, \
        pyb::arg("x"), pyb::arg("p0") = 0.0, pyb::arg("p1") = 0.0, pyb::arg("p2") = 0.0);
  EMBER_UNARY_PARAM_OPS(EMBER_BIND_PARAM)
#undef EMBER_BIND_PARAM

#define EMBER_BIND_BINARY(name, cls, expr)                                                               \
  m.def(#name, [](const Tensor& a, const Tensor& b) { return binary(BinaryOp::name, a, b); });          \
  m.def(#name "_", [](const Tensor& a, const Tensor& b) { binary_(BinaryOp::name, a, b); });
  EMBER_BINARY_OPS(EMBER_BIND_BINARY)
#undef EMBER_BIND_BINARY

#define EMBER_BIND_BINARY_BOOL(name, cls, expr)                                                          \
  m.def(#name, [](const Tensor& a, const Tensor& b) { return binary_bool(BinaryBoolOp::name, a, b); }); \
  m.def(#name "_", [](const Tensor& a, const Tensor& b) { binary_bool_(BinaryBoolOp::name, a, b); });
  EMBER_BINARY_BOOL_OPS(EMBER_BIND_BINARY_BOOL)
#undef EMBER_BIND_BINARY_BOOL

  m.def("where", &where);
  m.def("clamp", [](const Tensor& x, const OptT& lo, const OptT& hi) {
    return clamp(x, lo ? *lo : Tensor(), hi ? *hi : Tensor());
  });
  m.def("clamp_", [](const Tensor& x, const OptT& lo, const OptT& hi) {
    clamp_(x, lo ? *lo : Tensor(), hi ? *hi : Tensor());
  });
  m.def("addcmul", [](const Tensor& a, const Tensor& b, const Tensor& c, double v) { return addcmul(a, b, c, v, false); });
  m.def("addcdiv", [](const Tensor& a, const Tensor& b, const Tensor& c, double v) { return addcmul(a, b, c, v, true); });
  m.def("addcmul_", [](const Tensor& a, const Tensor& b, const Tensor& c, double v) { addcmul_(a, b, c, v, false); });
  m.def("addcdiv_", [](const Tensor& a, const Tensor& b, const Tensor& c, double v) { addcmul_(a, b, c, v, true); });
  m.def("lerp", &lerp);
  m.def("isclose", &isclose);
  m.def("copy_", &copy_);
  m.def("fill_", &fill_);
  m.def("clone", &clone);
  m.def("to_dtype", [](const Tensor& x, ScalarType dt, bool copy) {
    Tensor r = to_dtype(x, dt);
    return (copy && r.is_same(x)) ? clone(x) : r;
  });
  m.def("contiguous", &contiguous);
  m.def("result_type", [](const Tensor& a, const Tensor& b) { return result_type({&a, &b}); });
  m.def("promote_types", &promote_types);
}

}  // namespace py
}  // namespace ember
