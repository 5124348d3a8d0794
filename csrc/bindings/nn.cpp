// Bindings for neural-network kernels.
#include "bindings/casters.h"
#include "ops/conv.h"
#include "ops/nn.h"
#include "ops/rnn.h"

namespace ember {
namespace py {

namespace {
pyb::object maybe(const Tensor& t) { return t.defined() ? pyb::cast(t) : pyb::none(); }
Tensor or_undef(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }
pyb::tuple triple(const std::tuple<Tensor, Tensor, Tensor>& r) {
  return pyb::make_tuple(maybe(std::get<0>(r)), maybe(std::get<1>(r)), maybe(std::get<2>(r)));
}
}  // namespace

void bind_nn(pyb::module_& m) {
  m.def("softmax", &ops::softmax);
  m.def("softmax_backward", &ops::softmax_backward);
  m.def("constant_pad", &ops::constant_pad);
  m.def("conv2d", [](const Tensor& x, const Tensor& w, const std::optional<Tensor>& b, const DimVector& stride,
                     const DimVector& padding, const DimVector& dilation, int64_t groups) {
    return ops::conv2d(x, w, b ? *b : Tensor(), stride, padding, dilation, groups);
  });
  m.def("conv2d_backward", [](const Tensor& go, const Tensor& x, const Tensor& w, const DimVector& stride,
                              const DimVector& padding, const DimVector& dilation, int64_t groups, bool nx, bool nw,
                              bool nb) {
    auto r = ops::conv2d_backward(go, x, w, stride, padding, dilation, groups, nx, nw, nb);
    return triple(r);
  });
  m.def("max_pool2d", &ops::max_pool2d);
  m.def("max_pool2d_backward", &ops::max_pool2d_backward);
  m.def("avg_pool2d", &ops::avg_pool2d);
  m.def("avg_pool2d_backward", &ops::avg_pool2d_backward);
  m.def("adaptive_avg_pool2d", &ops::adaptive_avg_pool2d);
  m.def("adaptive_avg_pool2d_backward", &ops::adaptive_avg_pool2d_backward);
  m.def("adaptive_max_pool2d", &ops::adaptive_max_pool2d);
  using OptT = std::optional<Tensor>;
  m.def("batch_norm", [](const Tensor& x, const OptT& w, const OptT& b, const OptT& rm, const OptT& rv, bool training,
                         double momentum, double eps) {
    return triple(ops::batch_norm(x, or_undef(w), or_undef(b), or_undef(rm), or_undef(rv), training, momentum, eps));
  });
  m.def("batch_norm_backward", [](const Tensor& g, const Tensor& x, const OptT& w, const Tensor& mean,
                                  const Tensor& invstd, bool training, bool nx, bool nw, bool nb) {
    return triple(ops::batch_norm_backward(g, x, or_undef(w), mean, invstd, training, nx, nw, nb));
  });
  m.def("layer_norm", [](const Tensor& x, int64_t ndim, const OptT& w, const OptT& b, double eps) {
    return triple(ops::layer_norm(x, ndim, or_undef(w), or_undef(b), eps));
  });
  m.def("layer_norm_backward", [](const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                  const OptT& w, int64_t ndim, bool nx, bool nw, bool nb) {
    return triple(ops::layer_norm_backward(g, x, mean, rstd, or_undef(w), ndim, nx, nw, nb));
  });
  m.def("cross_entropy", [](const Tensor& x, const Tensor& t, const OptT& w, int64_t ignore, double smoothing) {
    return ops::cross_entropy(x, t, or_undef(w), ignore, smoothing);
  });
  m.def("lstm_cell", [](const Tensor& gates, const Tensor& c) {
    auto r = ops::lstm_cell(gates, c);
    return pyb::make_tuple(std::get<0>(r), std::get<1>(r), std::get<2>(r));
  });
  m.def("lstm_cell_backward", [](const Tensor& dh, const OptT& dh2, const OptT& dc, const Tensor& act,
                                 const Tensor& c, const Tensor& c_new) {
    auto r = ops::lstm_cell_backward(dh, or_undef(dh2), or_undef(dc), act, c, c_new);
    return pyb::make_tuple(std::get<0>(r), std::get<1>(r));
  });
  m.def("gru_cell", [](const Tensor& xg, const Tensor& hg, const Tensor& h) {
    auto r = ops::gru_cell(xg, hg, h);
    return pyb::make_tuple(std::get<0>(r), std::get<1>(r));
  });
  m.def("gru_cell_backward", [](const Tensor& dh, const OptT& dh2, const Tensor& act, const Tensor& hg,
                                const Tensor& h) {
    auto r = ops::gru_cell_backward(dh, or_undef(dh2), act, hg, h);
    return pyb::make_tuple(std::get<0>(r), std::get<1>(r), std::get<2>(r));
  });
  m.def("cross_entropy_backward", [](const Tensor& g, const Tensor& x, const Tensor& t, const OptT& w, int64_t ignore,
                                     double smoothing, const Tensor& lse) {
    return ops::cross_entropy_backward(g, x, t, or_undef(w), ignore, smoothing, lse);
  });
}

}  // namespace py
}  // namespace ember
