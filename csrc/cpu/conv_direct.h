// Layout shared by the direct (stride-1) convolution kernels in cpu/conv_direct.inc.
//
// One group of one image is copied into a zero-padded buffer of Cg x Hp x Wp, with Hp = oh + dh*(kh-1) and
// Wp = ow + dw*(kw-1). Output pixel p = oy*Wp + ox then reads tap (c, i, j) at buffer[p + off[c, i, j]] with
// off = c*Hp*Wp + i*dh*Wp + j*dw: every row of the column matrix is a contiguous slice of the buffer, so the
// GEMM runs without packing it. Columns ox >= ow ("wide" rows) are computed and dropped.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/kernels.h"

namespace ember {
namespace cpu {

struct DirectLayout {
  int64_t Cg, H, W, Hp, Wp, ph, pw, oh, ow, K, P, size;
  std::vector<int64_t> off;  // buffer offset of each tap (c, i, j)

  // slack: elements past the last tap's last pixel that the kernels may read (they read whole vectors).
  DirectLayout(int64_t Cg_, int64_t H_, int64_t W_, const ConvGeometry& g, int64_t slack)
      : Cg(Cg_), H(H_), W(W_), Hp(g.oh + g.dh * (g.kh - 1)), Wp(g.ow + g.dw * (g.kw - 1)), ph(g.ph), pw(g.pw),
        oh(g.oh), ow(g.ow), K(Cg_ * g.kh * g.kw), P(g.oh * Wp) {
    off.reserve(size_t(K));
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) off.push_back(c * Hp * Wp + i * g.dh * Wp + j * g.dw);
    size = Cg * Hp * Wp + g.dw * (g.kw - 1) + slack;
  }

  // buf = the padded image (Cg channels of H x W, channel stride H*W), zeros around it and in the slack.
  // Rows or columns of the image that fall outside the buffer (negative padding) are not read by any tap.
  template <class T>
  void pad(const T* x, T* buf) const {
    const int64_t y0 = std::max<int64_t>(0, -ph), y1 = std::min(H, Hp - ph);
    const int64_t x0 = std::max<int64_t>(0, -pw), x1 = std::min(W, Wp - pw);
    const bool whole_rows = x0 == 0 && x1 == W && ph >= 0;
    std::fill(buf, buf + size, T(0));
    if (y1 <= y0 || x1 <= x0) return;
    for (int64_t c = 0; c < Cg; ++c) {
      const T* src = x + c * H * W;
      T* dst = buf + c * Hp * Wp;
      if (whole_rows && pw == 0 && Wp == W) {
        std::memcpy(dst + (y0 + ph) * Wp, src + y0 * W, sizeof(T) * size_t((y1 - y0) * W));
        continue;
      }
      for (int64_t y = y0; y < y1; ++y)
        std::memcpy(dst + (y + ph) * Wp + x0 + pw, src + y * W + x0, sizeof(T) * size_t(x1 - x0));
    }
  }
};

// Entry points (cpu/gemm.cpp picks the instruction set). Contiguous NCHW; stride 1; any padding, dilation and
// groups. forward: out[N, O, oh, ow] = conv(x, w) + bias (bias may be null). weight_grad: gw[O, C/groups,
// kh, kw] = the weight gradient for grad_out gout [N, O, oh, ow] (overwritten, summed over images).
void conv_direct_forward(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w, int64_t O,
                         const float* bias, const ConvGeometry& g, float* out);
void conv_direct_forward(const double* x, int64_t N, int64_t C, int64_t H, int64_t W, const double* w, int64_t O,
                         const double* bias, const ConvGeometry& g, double* out);
void conv_direct_weight_grad(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* gout,
                             int64_t O, const ConvGeometry& g, float* gw);
void conv_direct_weight_grad(const double* x, int64_t N, int64_t C, int64_t H, int64_t W, const double* gout,
                             int64_t O, const ConvGeometry& g, double* gw);

}  // namespace cpu
}  // namespace ember
