// Argument checks, geometry and dtype handling for convolution; 16-bit floats compute in float32.
#include "ops/conv.h"

#include "core/shape.h"
#include "core/kernel_table.h"
#include "ops/common.h"
#include "ops/pointwise.h"

namespace ember {
namespace ops {

namespace {

kernels::ConvGeometry geometry(const Tensor& x, const Tensor& w, const DimVector& stride, const DimVector& padding,
                           const DimVector& dilation, int64_t groups) {
  EMBER_RUNTIME_CHECK(x.dim() == 4, "conv2d: expected a 4-D input [N, C, H, W], got ", shape_str(x.sizes()));
  EMBER_RUNTIME_CHECK(w.dim() == 4, "conv2d: expected a 4-D weight [O, C/groups, kH, kW], got ", shape_str(w.sizes()));
  EMBER_RUNTIME_CHECK(stride.size() == 2 && padding.size() == 4 && dilation.size() == 2,
                      "conv2d: stride and dilation need 2 values and padding 4");
  EMBER_RUNTIME_CHECK(groups > 0 && x.sizes()[1] % groups == 0 && w.sizes()[0] % groups == 0,
                      "conv2d: groups=", groups, " must divide in_channels=", x.sizes()[1], " and out_channels=",
                      w.sizes()[0]);
  EMBER_RUNTIME_CHECK(w.sizes()[1] * groups == x.sizes()[1], "Given groups=", groups, ", weight of size ",
                      shape_str(w.sizes()), ", expected input", shape_str(x.sizes()), " to have ",
                      w.sizes()[1] * groups, " channels, but got ", x.sizes()[1], " channels instead");
  for (auto s : stride) EMBER_RUNTIME_CHECK(s > 0, "conv2d: stride must be positive, got ", shape_str(stride));
  for (auto d : dilation) EMBER_RUNTIME_CHECK(d > 0, "conv2d: dilation must be positive, got ", shape_str(dilation));
  for (auto p : padding) EMBER_RUNTIME_CHECK(p >= 0, "conv2d: negative padding ", shape_str(padding));
  kernels::ConvGeometry g;
  g.kh = w.sizes()[2];
  g.kw = w.sizes()[3];
  g.sh = stride[0];
  g.sw = stride[1];
  g.ph = padding[0];
  g.pw = padding[2];
  g.dh = dilation[0];
  g.dw = dilation[1];
  g.groups = groups;
  const int64_t hp = x.sizes()[2] + padding[0] + padding[1], wp = x.sizes()[3] + padding[2] + padding[3];
  const int64_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;
  EMBER_RUNTIME_CHECK(hp >= eh && wp >= ew, "Calculated padded input size per channel: (", hp, " x ", wp,
                      "). Kernel size: (", eh, " x ", ew, "). Kernel size can't be greater than actual input size");
  g.oh = (hp - eh) / g.sh + 1;
  g.ow = (wp - ew) / g.sw + 1;
  return g;
}

void check_dtypes(const Tensor& x, const Tensor& w) {
  check_same_device(x, w, "conv2d");
  EMBER_RUNTIME_CHECK(x.dtype() == w.dtype(), "conv2d: input type (", dtype_name(x.dtype()), ") and weight type (",
                      dtype_name(w.dtype()), ") should be the same");
  EMBER_TYPE_CHECK(is_floating(x.dtype()), "conv2d: expected floating point tensors, got ", dtype_name(x.dtype()));
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const DimVector& stride, const DimVector& padding,
              const DimVector& dilation, int64_t groups) {
  kernels::ConvGeometry g = geometry(x, w, stride, padding, dilation, groups);
  check_dtypes(x, w);
  check_devices({&x, &bias}, "conv2d");
  if (bias.defined())
    EMBER_RUNTIME_CHECK(bias.dim() == 1 && bias.sizes()[0] == w.sizes()[0], "conv2d: bias of shape ",
                        shape_str(bias.sizes()), " does not match ", w.sizes()[0], " output channels");
  Tensor xc = contiguous(x), wc = contiguous(w);
  Tensor bc = bias.defined() ? contiguous(to_dtype(bias, x.dtype())) : Tensor();
  Tensor out = empty({x.sizes()[0], w.sizes()[0], g.oh, g.ow}, x.dtype(), x.device());
  if (out.numel()) {
    if (xc.numel() == 0 || wc.sizes()[1] == 0) {
      kernels_for(out).fill(out, 0.0, 0, true);
      if (bc.defined()) copy_(out, bc.as_view({1, bc.sizes()[0], 1, 1}, {0, 1, 0, 0}, bc.offset()));
    } else {
      kernels_for(out).conv2d_forward(out, xc, wc, bc, g);
    }
  }
  return out;
}

std::tuple<Tensor, Tensor, Tensor> conv2d_backward(const Tensor& gout, const Tensor& x, const Tensor& w,
                                                   const DimVector& stride, const DimVector& padding,
                                                   const DimVector& dilation, int64_t groups, bool need_x,
                                                   bool need_w, bool need_b) {
  kernels::ConvGeometry g = geometry(x, w, stride, padding, dilation, groups);
  check_dtypes(x, w);
  DimVector oshape = {x.sizes()[0], w.sizes()[0], g.oh, g.ow};
  EMBER_RUNTIME_CHECK(gout.sizes() == oshape, "conv2d_backward: grad_output of shape ", shape_str(gout.sizes()),
                      " does not match the output shape ", shape_str(oshape));
  Tensor go = contiguous(to_dtype(gout, x.dtype())), xc = contiguous(x), wc = contiguous(w);
  Tensor gx = need_x ? empty(x.sizes(), x.dtype(), x.device()) : Tensor();
  Tensor gw = need_w ? empty(w.sizes(), w.dtype(), w.device()) : Tensor();
  Tensor gb = need_b ? empty({w.sizes()[0]}, w.dtype(), w.device()) : Tensor();
  if (gx.defined()) kernels_for(gx).fill(gx, 0.0, 0, true);
  if (gw.defined()) kernels_for(gw).fill(gw, 0.0, 0, true);
  if (gb.defined()) kernels_for(gb).fill(gb, 0.0, 0, true);
  if (go.numel() && xc.numel() && wc.numel()) kernels_for(go).conv2d_backward(go, xc, wc, g, gx, gw, gb);
  return {gx, gw, gb};
}

}  // namespace ops
}  // namespace ember
