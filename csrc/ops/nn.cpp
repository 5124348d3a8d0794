// softmax / log_softmax (fused; 16-bit types compute in float32 inside the kernels), pooling, norms,
// cross-entropy and constant padding.
#include "ops/nn.h"

#include <cmath>
#include <tuple>

#include "core/shape.h"
#include "core/kernel_table.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

static void check_floating(ScalarType dt, const char* name) {
  EMBER_TYPE_CHECK(is_floating(dt), name, ": expected a floating point tensor, got ", dtype_name(dt));
}

Tensor softmax(const Tensor& x0, int64_t dim, bool log) {
  check_floating(x0.dtype(), log ? "log_softmax" : "softmax");
  Tensor x = x0.dim() == 0 ? x0.as_view({1}, {1}, x0.offset()) : x0;
  int64_t d = wrap_dim(dim, x0.dim());
  Tensor out = empty(x.sizes(), x.dtype(), x.device());
  if (x.numel()) kernels_for(out).softmax(out, x, d, log);
  return x0.dim() == 0 ? out.as_view({}, {}, out.offset()) : out;
}

Tensor softmax_backward(const Tensor& g0, const Tensor& y0, int64_t dim, bool log) {
  EMBER_RUNTIME_CHECK(g0.sizes() == y0.sizes(), "softmax_backward: grad ", shape_str(g0.sizes()), " and output ",
                      shape_str(y0.sizes()), " differ");
  check_floating(y0.dtype(), "softmax_backward");
  Tensor g = g0.dim() == 0 ? g0.as_view({1}, {1}, g0.offset()) : g0;
  Tensor y = y0.dim() == 0 ? y0.as_view({1}, {1}, y0.offset()) : y0;
  int64_t d = wrap_dim(dim, y0.dim());
  if (g.dtype() != y.dtype()) g = to_dtype(g, y.dtype());  // a grad of another dtype (rare): match the output
  Tensor out = empty(y.sizes(), y.dtype(), y.device());
  if (y.numel()) kernels_for(out).softmax_backward(out, g, y, d, log);
  return y0.dim() == 0 ? out.as_view({}, {}, out.offset()) : out;
}

Tensor constant_pad(const Tensor& x, const DimVector& pads, const Tensor& value) {
  EMBER_RUNTIME_CHECK(pads.size() % 2 == 0 && int64_t(pads.size()) / 2 <= x.dim(),
                      "Padding length must be divisible by 2 and at most twice the number of dims (got ", pads.size(),
                      " for a ", x.dim(), "-D input)");
  DimVector shape = x.sizes();
  Tensor src = x;
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int64_t d = x.dim() - 1 - int64_t(i);
    int64_t lo = pads[2 * i], hi = pads[2 * i + 1];
    shape[d] = x.sizes()[d] + lo + hi;
    EMBER_RUNTIME_CHECK(shape[d] >= 0, "The input size ", x.sizes()[d], ", plus negative padding ", lo, " and ", hi,
                        " resulted in a negative output size, which is invalid. Check dimension ", d, " of your input.");
  }
  Tensor out = empty(shape, x.dtype(), x.device());
  fill_(out, value);
  // the part of x that survives cropping, and where it goes in out
  Tensor dst = out;
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int64_t d = x.dim() - 1 - int64_t(i);
    int64_t lo = pads[2 * i], hi = pads[2 * i + 1];
    int64_t keep = x.sizes()[d] - std::max<int64_t>(-lo, 0) - std::max<int64_t>(-hi, 0);
    if (keep <= 0) return out;
    src = narrow(src, d, std::max<int64_t>(-lo, 0), keep);
    dst = narrow(dst, d, std::max<int64_t>(lo, 0), keep);
  }
  if (src.numel()) copy_(dst, src);
  return out;
}

}  // namespace ops
}  // namespace ember

namespace ember {
namespace ops {

namespace {

void check_float(const Tensor& x, const char* name) {
  EMBER_TYPE_CHECK(is_floating(x.dtype()), name, ": expected a floating point input, got ", dtype_name(x.dtype()));
}

// The dtype norms and losses keep their statistics in: float32 for 16-bit inputs (as PyTorch saves them).
ScalarType float_compute(const Tensor& x, const char* name) {
  check_float(x, name);
  return x.dtype() == ScalarType::Float64 ? ScalarType::Float64 : ScalarType::Float32;
}

// Backward entry points are public bindings too: every saved tensor handed back must fit the forward's shapes.
void check_numel(const Tensor& t, int64_t n, const char* op, const char* what) {
  if (t.defined())
    EMBER_RUNTIME_CHECK(t.numel() == n, op, ": ", what, " has ", t.numel(), " elements (shape ", shape_str(t.sizes()),
                        "), expected ", n);
}

// Class-index targets of a [N, C] cross-entropy: ignore_index or within [0, C), read on the host.
void check_targets(const Tensor& tc, int64_t C, int64_t ignore_index) {
  Tensor th = to_device(tc, Device());
  const int64_t* tp = th.data<int64_t>();
  for (int64_t i = 0; i < th.numel(); ++i)
    EMBER_INDEX_CHECK(tp[i] == ignore_index || (tp[i] >= 0 && tp[i] < C), "Target ", tp[i], " is out of bounds for ",
                      C, " classes.");
}

Tensor opt(const Tensor& t, ScalarType c) { return t.defined() ? contiguous(to_dtype(t, c)) : t; }

int64_t pool_out(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t eff = d * (k - 1) + 1;
  int64_t out;
  if (ceil_mode) {
    out = (size + 2 * p - eff + s - 1) / s + 1;
    if ((out - 1) * s >= size + p) --out;  // the last window must start inside the input or left padding
  } else {
    out = (size + 2 * p - eff) / s + 1;
  }
  return out;
}

kernels::PoolGeometry pool_geometry(const DimVector& in, const DimVector& k, const DimVector& s, const DimVector& p,
                                const DimVector& d, bool ceil_mode, const char* name) {
  EMBER_RUNTIME_CHECK(in.size() == 4, name, ": expected a 4-D input [N, C, H, W], got ", shape_str(in));
  EMBER_RUNTIME_CHECK(k.size() == 2 && s.size() == 2 && p.size() == 2 && d.size() == 2, name,
                      ": kernel, stride, padding and dilation need 2 values each");
  for (int i = 0; i < 2; ++i) {
    EMBER_RUNTIME_CHECK(k[i] > 0 && s[i] > 0 && d[i] > 0, name, ": kernel_size, stride and dilation must be positive");
    EMBER_RUNTIME_CHECK(p[i] >= 0 && p[i] <= k[i] / 2, name, ": pad should be at most half of effective kernel size, "
                        "but got pad=", p[i], ", kernel_size=", k[i]);
  }
  kernels::PoolGeometry g{k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], 0, 0, true, 0};
  g.oh = pool_out(in[2], k[0], s[0], p[0], d[0], ceil_mode);
  g.ow = pool_out(in[3], k[1], s[1], p[1], d[1], ceil_mode);
  EMBER_RUNTIME_CHECK(g.oh > 0 && g.ow > 0, name, ": Given input size: (", in[1], "x", in[2], "x", in[3],
                      "). Calculated output size: (", in[1], "x", g.oh, "x", g.ow, "). Output size is too small");
  return g;
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d(const Tensor& x, const DimVector& kernel, const DimVector& stride,
                                      const DimVector& padding, const DimVector& dilation, bool ceil_mode) {
  kernels::PoolGeometry g = pool_geometry(x.sizes(), kernel, stride, padding, dilation, ceil_mode, "max_pool2d");
  EMBER_TYPE_CHECK(x.dtype() != ScalarType::Bool, "\"max_pool2d\" not implemented for 'bool'");
  Tensor xc = contiguous(x);
  Tensor out = empty({x.sizes()[0], x.sizes()[1], g.oh, g.ow}, x.dtype(), x.device());
  Tensor idx = empty(out.sizes(), ScalarType::Int64, x.device());
  if (out.numel() && xc.numel()) kernels_for(out).max_pool2d(out, idx, xc, g);
  return {out, idx};
}

Tensor max_pool2d_backward(const Tensor& gout, const Tensor& indices, const DimVector& input_shape) {
  check_same_device(gout, indices, "max_pool2d_backward");
  check_float(gout, "max_pool2d_backward");
  EMBER_RUNTIME_CHECK(indices.sizes() == gout.sizes() && input_shape.size() == 4 && gout.dim() == 4,
                      "max_pool2d_backward: grad ", shape_str(gout.sizes()), " and indices ",
                      shape_str(indices.sizes()), " differ (or are not 4-D)");
  EMBER_RUNTIME_CHECK(gout.sizes()[0] == input_shape[0] && gout.sizes()[1] == input_shape[1],
                      "max_pool2d_backward: grad ", shape_str(gout.sizes()), " does not match the input shape ",
                      shape_str(input_shape));
  EMBER_TYPE_CHECK(indices.dtype() == ScalarType::Int64, "max_pool2d_backward: indices must be int64, got ",
                   dtype_name(indices.dtype()));
  if (indices.numel()) {
    int64_t lo, hi;
    kernels_for(indices).int_min_max(indices, &lo, &hi);
    EMBER_INDEX_CHECK(lo >= 0 && hi < input_shape[2] * input_shape[3], "max_pool2d_backward: index ",
                      lo < 0 ? lo : hi, " is out of bounds for an input plane of ", input_shape[2], "x", input_shape[3]);
  }
  Tensor go = contiguous(gout), id = contiguous(indices);
  Tensor gx = empty(input_shape, gout.dtype(), gout.device());
  if (gx.numel()) kernels_for(gx).max_pool2d_backward(gx, go, id);
  return gx;
}

Tensor avg_pool2d(const Tensor& x, const DimVector& kernel, const DimVector& stride, const DimVector& padding,
                  bool ceil_mode, bool count_include_pad, int64_t divisor_override) {
  kernels::PoolGeometry g = pool_geometry(x.sizes(), kernel, stride, padding, {1, 1}, ceil_mode, "avg_pool2d");
  EMBER_VALUE_CHECK(divisor_override >= 0, "divisor must be not zero");
  g.count_include_pad = count_include_pad;
  g.divisor_override = divisor_override;
  check_float(x, "avg_pool2d");
  Tensor xc = contiguous(x);
  Tensor out = empty({x.sizes()[0], x.sizes()[1], g.oh, g.ow}, x.dtype(), x.device());
  if (out.numel()) kernels_for(out).avg_pool2d(out, xc, g);
  return out;
}

Tensor avg_pool2d_backward(const Tensor& gout, const DimVector& input_shape, const DimVector& kernel,
                           const DimVector& stride, const DimVector& padding, bool ceil_mode, bool count_include_pad,
                           int64_t divisor_override) {
  kernels::PoolGeometry g = pool_geometry(input_shape, kernel, stride, padding, {1, 1}, ceil_mode, "avg_pool2d_backward");
  g.count_include_pad = count_include_pad;
  g.divisor_override = divisor_override;
  check_float(gout, "avg_pool2d_backward");
  const DimVector expect = {input_shape[0], input_shape[1], g.oh, g.ow};
  EMBER_RUNTIME_CHECK(gout.sizes() == expect, "avg_pool2d_backward: grad of shape ", shape_str(gout.sizes()),
                      " for an output of shape ", shape_str(expect));
  Tensor go = contiguous(gout);
  Tensor gx = empty(input_shape, gout.dtype(), gout.device());
  if (gx.numel()) kernels_for(gx).avg_pool2d_backward(gx, go, g);
  return gx;
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow) {
  EMBER_RUNTIME_CHECK(x.dim() == 4, "adaptive_avg_pool2d: expected a 4-D input, got ", shape_str(x.sizes()));
  EMBER_RUNTIME_CHECK(oh > 0 && ow > 0, "adaptive_avg_pool2d: output size must be positive, got (", oh, ", ", ow, ")");
  check_float(x, "adaptive_avg_pool2d");
  Tensor xc = contiguous(x);
  Tensor out = empty({x.sizes()[0], x.sizes()[1], oh, ow}, x.dtype(), x.device());
  if (out.numel()) {
    if (xc.numel() == 0) kernels_for(out).fill(out, std::nan(""), 0, false);
    else kernels_for(out).adaptive_avg_pool2d(out, xc);
  }
  return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& gout, const DimVector& input_shape) {
  check_float(gout, "adaptive_avg_pool2d_backward");
  EMBER_RUNTIME_CHECK(input_shape.size() == 4 && gout.dim() == 4 && gout.sizes()[0] == input_shape[0] &&
                          gout.sizes()[1] == input_shape[1] && (gout.numel() > 0 || input_shape[0] * input_shape[1] == 0),
                      "adaptive_avg_pool2d_backward: grad of shape ", shape_str(gout.sizes()),
                      " does not fit an input of shape ", shape_str(input_shape));
  Tensor go = contiguous(gout);
  Tensor gx = empty(input_shape, gout.dtype(), gout.device());
  if (gx.numel()) kernels_for(gx).adaptive_avg_pool2d_backward(gx, go);
  return gx;
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x, int64_t oh, int64_t ow) {
  EMBER_RUNTIME_CHECK(x.dim() == 4, "adaptive_max_pool2d: expected a 4-D input, got ", shape_str(x.sizes()));
  EMBER_RUNTIME_CHECK(oh > 0 && ow > 0, "adaptive_max_pool2d: output size must be positive, got (", oh, ", ", ow, ")");
  EMBER_RUNTIME_CHECK(x.sizes()[2] > 0 && x.sizes()[3] > 0, "adaptive_max_pool2d: input spatial size must be "
                      "positive, got ", shape_str(x.sizes()));
  Tensor xc = contiguous(x);
  Tensor out = empty({x.sizes()[0], x.sizes()[1], oh, ow}, x.dtype(), x.device());
  Tensor idx = empty(out.sizes(), ScalarType::Int64, x.device());
  if (out.numel()) kernels_for(out).adaptive_max_pool2d(out, idx, xc);
  return {out, idx};
}

std::tuple<Tensor, Tensor, Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                              const Tensor& running_mean, const Tensor& running_var, bool training,
                                              double momentum, double eps) {
  check_devices({&x, &weight, &bias, &running_mean, &running_var}, "batch_norm");
  EMBER_RUNTIME_CHECK(x.dim() >= 2, "batch_norm: expected 2D or higher input (got ", x.dim(), "D input)");
  ScalarType c = float_compute(x, "batch_norm");
  const int64_t C = x.sizes()[1];
  for (const Tensor* t : {&weight, &bias, &running_mean, &running_var})
    if (t->defined())
      EMBER_RUNTIME_CHECK(t->numel() == C, "batch_norm: expected per-channel tensors of ", C, " elements, got ",
                          shape_str(t->sizes()));
  Tensor xc = contiguous(x);
  Tensor mean = empty({C}, c, x.device()), var = empty({C}, c, x.device());
  if (training) {
    const int64_t M = C ? x.numel() / C : 0;
    EMBER_VALUE_CHECK(M > 1, "Expected more than 1 value per channel when training, got input size ",
                      shape_str(x.sizes()));
    kernels_for(xc).batch_norm_stats(xc, mean, var);
    // running = (1 - momentum) * running + momentum * batch (unbiased variance)
    if (running_mean.defined()) {
      Tensor upd = binary(BinaryOp::add, binary(BinaryOp::mul, to_dtype(running_mean, c), scalar_tensor(1 - momentum, c)),
                          binary(BinaryOp::mul, mean, scalar_tensor(momentum, c)));
      copy_(running_mean, upd);
    }
    if (running_var.defined()) {
      double unbias = double(M) / double(M - 1);
      Tensor upd = binary(BinaryOp::add, binary(BinaryOp::mul, to_dtype(running_var, c), scalar_tensor(1 - momentum, c)),
                          binary(BinaryOp::mul, var, scalar_tensor(momentum * unbias, c)));
      copy_(running_var, upd);
    }
  } else {
    EMBER_RUNTIME_CHECK(running_mean.defined() && running_var.defined(),
                        "batch_norm: running_mean and running_var must be defined in evaluation mode");
    copy_(mean, running_mean);
    copy_(var, running_var);
  }
  Tensor invstd = unary(UnaryOp::rsqrt, binary(BinaryOp::add, var, scalar_tensor(eps, c)));
  Tensor y = empty(xc.sizes(), x.dtype(), x.device());
  if (y.numel()) kernels_for(y).batch_norm_apply(y, xc, mean, invstd, opt(weight, c), opt(bias, c));
  return {y, mean, invstd};
}

// Runs a norm backward kernel into the requested gradients gx, gw, gb (undefined when not requested) and casts
// them back: gx to the input's dtype, gw and gb to the weight's. The kernel is skipped for an empty input, whose
// parameter gradients are zeros.
template <class Kernel>
static std::tuple<Tensor, Tensor, Tensor> norm_backward_results(const Tensor& x, const Tensor& weight,
                                                                const Tensor& gx, const Tensor& gw, const Tensor& gb,
                                                                const Kernel& kernel) {
  if (x.numel()) {
    kernel();
  } else {
    for (const Tensor* t : {&gw, &gb})
      if (t->defined()) kernels_for(*t).fill(*t, 0.0, 0, true);
  }
  auto back = [](const Tensor& t, ScalarType dt) { return t.defined() ? to_dtype(t, dt) : t; };
  const ScalarType wdt = weight.defined() ? weight.dtype() : x.dtype();
  return {back(gx, x.dtype()), back(gw, wdt), back(gb, wdt)};
}

std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight,
                                                       const Tensor& mean, const Tensor& invstd, bool training,
                                                       bool need_x, bool need_w, bool need_b) {
  check_devices({&g, &x, &weight, &mean, &invstd}, "batch_norm_backward");
  ScalarType c = float_compute(x, "batch_norm_backward");
  EMBER_RUNTIME_CHECK(g.sizes() == x.sizes(), "batch_norm_backward: grad ", shape_str(g.sizes()), " and input ",
                      shape_str(x.sizes()), " differ");
  EMBER_RUNTIME_CHECK(x.dim() >= 2, "batch_norm_backward: expected an input of at least 2 dims, got ",
                      shape_str(x.sizes()));
  const int64_t C = x.sizes()[1];
  check_numel(weight, C, "batch_norm_backward", "weight");
  check_numel(mean, C, "batch_norm_backward", "mean");
  check_numel(invstd, C, "batch_norm_backward", "invstd");
  Tensor xc = contiguous(x), gc = contiguous(to_dtype(g, x.dtype()));
  Tensor gx = need_x ? empty(x.sizes(), x.dtype(), x.device()) : Tensor();
  Tensor gw = need_w ? empty({C}, c, x.device()) : Tensor();
  Tensor gb = need_b ? empty({C}, c, x.device()) : Tensor();
  return norm_backward_results(x, weight, gx, gw, gb, [&] {
    kernels_for(gc).batch_norm_backward(gx, gw, gb, gc, xc, opt(mean, c), opt(invstd, c), opt(weight, c), training);
  });
}

std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& x, int64_t ndim, const Tensor& weight,
                                              const Tensor& bias, double eps) {
  check_devices({&x, &weight, &bias}, "layer_norm");
  EMBER_RUNTIME_CHECK(ndim >= 1 && ndim <= x.dim(), "layer_norm: cannot normalise the last ", ndim,
                      " dims of a tensor of shape ", shape_str(x.sizes()));
  ScalarType c = float_compute(x, "layer_norm");
  int64_t D = 1;
  for (int64_t d = x.dim() - ndim; d < x.dim(); ++d) D *= x.sizes()[d];
  for (const Tensor* t : {&weight, &bias})
    if (t->defined())
      EMBER_RUNTIME_CHECK(t->numel() == D, "layer_norm: weight/bias of ", t->numel(), " elements for rows of ", D);
  const int64_t R = D ? x.numel() / D : 0;
  Tensor xc = contiguous(x);
  Tensor y = empty(x.sizes(), x.dtype(), x.device()), mean = empty({R}, c, x.device()), rstd = empty({R}, c, x.device());
  if (x.numel()) kernels_for(y).layer_norm(y, mean, rstd, xc, opt(weight, c), opt(bias, c), D, eps);
  return {y, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean,
                                                       const Tensor& rstd, const Tensor& weight, int64_t ndim,
                                                       bool need_x, bool need_w, bool need_b) {
  check_devices({&g, &x, &mean, &rstd, &weight}, "layer_norm_backward");
  ScalarType c = float_compute(x, "layer_norm_backward");
  EMBER_RUNTIME_CHECK(ndim >= 1 && ndim <= x.dim(), "layer_norm_backward: cannot normalise the last ", ndim,
                      " dims of a tensor of shape ", shape_str(x.sizes()));
  EMBER_RUNTIME_CHECK(g.sizes() == x.sizes(), "layer_norm_backward: grad ", shape_str(g.sizes()), " and input ",
                      shape_str(x.sizes()), " differ");
  int64_t D = 1;
  for (int64_t d = x.dim() - ndim; d < x.dim(); ++d) D *= x.sizes()[d];
  check_numel(weight, D, "layer_norm_backward", "weight");
  check_numel(mean, D ? x.numel() / D : 0, "layer_norm_backward", "mean");
  check_numel(rstd, D ? x.numel() / D : 0, "layer_norm_backward", "rstd");
  Tensor xc = contiguous(x), gc = contiguous(to_dtype(g, x.dtype()));
  DimVector wshape(x.sizes().end() - ndim, x.sizes().end());
  Tensor gx = need_x ? empty(x.sizes(), x.dtype(), x.device()) : Tensor();
  Tensor gw = need_w ? empty(wshape, c, x.device()) : Tensor();
  Tensor gb = need_b ? empty(wshape, c, x.device()) : Tensor();
  return norm_backward_results(x, weight, gx, gw, gb, [&] {
    kernels_for(gc).layer_norm_backward(gx, gw, gb, gc, xc, opt(mean, c), opt(rstd, c), opt(weight, c), D);
  });
}

std::tuple<Tensor, Tensor> cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight,
                                         int64_t ignore_index, double smoothing) {
  check_devices({&x, &target, &weight}, "cross_entropy");
  EMBER_RUNTIME_CHECK(x.dim() == 2, "cross_entropy kernel: expected [N, C] logits, got ", shape_str(x.sizes()));
  EMBER_RUNTIME_CHECK(target.dim() == 1 && target.sizes()[0] == x.sizes()[0], "Expected input batch_size (",
                      x.sizes()[0], ") to match target batch_size (", target.dim() ? target.sizes()[0] : 0, ").");
  EMBER_RUNTIME_CHECK(target.dtype() == ScalarType::Int64 || target.dtype() == ScalarType::Int32,
                      "cross_entropy: expected class-index targets of dtype int64, got ", dtype_name(target.dtype()));
  ScalarType c = float_compute(x, "cross_entropy");
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  Tensor tc = contiguous(to_dtype(target, ScalarType::Int64));
  check_targets(tc, C, ignore_index);
  if (weight.defined())
    EMBER_RUNTIME_CHECK(weight.numel() == C, "cross_entropy: weight of ", weight.numel(), " elements for ", C,
                        " classes");
  Tensor xc = contiguous(x);
  Tensor loss = empty({N}, x.dtype(), x.device()), lse = empty({N}, c, x.device());
  if (N && C) kernels_for(loss).cross_entropy(loss, lse, xc, tc, opt(weight, c), ignore_index, smoothing);
  return {loss, lse};
}

Tensor cross_entropy_backward(const Tensor& grow, const Tensor& x, const Tensor& target, const Tensor& weight,
                              int64_t ignore_index, double smoothing, const Tensor& lse) {
  check_devices({&grow, &x, &target, &weight, &lse}, "cross_entropy_backward");
  ScalarType c = float_compute(x, "cross_entropy_backward");
  EMBER_RUNTIME_CHECK(x.dim() == 2, "cross_entropy_backward: expected [N, C] logits, got ", shape_str(x.sizes()));
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  check_numel(grow, N, "cross_entropy_backward", "grad");
  check_numel(target, N, "cross_entropy_backward", "target");
  check_numel(weight, C, "cross_entropy_backward", "weight");
  check_numel(lse, N, "cross_entropy_backward", "lse");
  EMBER_TYPE_CHECK(target.dtype() == ScalarType::Int64 || target.dtype() == ScalarType::Int32,
                   "cross_entropy_backward: expected class-index targets of dtype int64, got ", dtype_name(target.dtype()));
  Tensor xc = contiguous(x), gc = contiguous(to_dtype(grow, x.dtype()));
  Tensor tc = contiguous(to_dtype(target, ScalarType::Int64));
  check_targets(tc, C, ignore_index);
  Tensor gx = empty(x.sizes(), x.dtype(), x.device());
  if (x.numel()) kernels_for(gx).cross_entropy_backward(gx, gc, xc, tc, opt(weight, c), ignore_index, smoothing, opt(lse, c));
  return gx;
}

}  // namespace ops
}  // namespace ember
