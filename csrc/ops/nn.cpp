// softmax / log_softmax (fused, float32 compute for 16-bit types) and constant padding.
#include "ops/nn.h"

#include "core/shape.h"
#include "cpu/kernels.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

static ScalarType compute_dtype(ScalarType dt, const char* name) {
  EMBER_TYPE_CHECK(is_floating(dt), name, ": expected a floating point tensor, got ", dtype_name(dt));
  return dt == ScalarType::Float64 ? ScalarType::Float64 : ScalarType::Float32;
}

Tensor softmax(const Tensor& x0, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  ScalarType c = compute_dtype(x0.dtype(), name);
  Tensor x = x0.dim() == 0 ? x0.as_view({1}, {1}, x0.offset()) : x0;
  int64_t d = wrap_dim(dim, x0.dim());
  Tensor xc = to_dtype(x, c);
  Tensor out = empty(x.sizes(), c, x.device());
  if (x.numel()) cpu::softmax(out, xc, d, log);
  Tensor r = to_dtype(out, x0.dtype());
  return x0.dim() == 0 ? r.as_view({}, {}, r.offset()) : r;
}

Tensor softmax_backward(const Tensor& g0, const Tensor& y0, int64_t dim, bool log) {
  EMBER_RUNTIME_CHECK(g0.sizes() == y0.sizes(), "softmax_backward: grad ", shape_str(g0.sizes()), " and output ",
                      shape_str(y0.sizes()), " differ");
  ScalarType c = compute_dtype(y0.dtype(), "softmax_backward");
  Tensor g = g0.dim() == 0 ? g0.as_view({1}, {1}, g0.offset()) : g0;
  Tensor y = y0.dim() == 0 ? y0.as_view({1}, {1}, y0.offset()) : y0;
  int64_t d = wrap_dim(dim, y0.dim());
  Tensor gc = to_dtype(g, c), yc = to_dtype(y, c);
  Tensor out = empty(y.sizes(), c, y.device());
  if (y.numel()) cpu::softmax_backward(out, gc, yc, d, log);
  Tensor r = to_dtype(out, y0.dtype());
  return y0.dim() == 0 ? r.as_view({}, {}, r.offset()) : r;
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
