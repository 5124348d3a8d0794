// Fused LSTM cell on CUDA: one thread per unit (row r, column j) over contiguous [N, 4H] / [N, H] tensors, the
// unit's math shared with the CPU (kernels/rnn_cell.h), 16-bit storage computed in float32.
#include "core/dispatch.h"
#include "cuda/launch.h"
#include "cuda/runtime.h"
#include "kernels/rnn_cell.h"

namespace ember {
namespace cuda {

namespace {

template <class S>
__global__ void lstm_cell_kernel(int64_t n, int64_t H, S* h, S* cn, S* act, const S* __restrict__ gates,
                                 const S* __restrict__ c) {
  using A = opmath_t<S>;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t r = e / H, j = e - r * H;
    const S* g = gates + r * 4 * H + j;
    S* a = act + r * 4 * H + j;
    A i, f, gg, o, cv, hv;
    kernels::lstm_unit(A(g[0]), A(g[H]), A(g[2 * H]), A(g[3 * H]), A(c[e]), i, f, gg, o, cv, hv);
    a[0] = S(i);
    a[H] = S(f);
    a[2 * H] = S(gg);
    a[3 * H] = S(o);
    cn[e] = S(cv);
    h[e] = S(hv);
  }
}

template <class S>
__global__ void lstm_cell_backward_kernel(int64_t n, int64_t H, S* dgates, S* dcp, const S* __restrict__ dh,
                                          const S* __restrict__ dh2, const S* __restrict__ dc,
                                          const S* __restrict__ act, const S* __restrict__ c,
                                          const S* __restrict__ cn) {
  using A = opmath_t<S>;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t r = e / H, j = e - r * H;
    const S* a = act + r * 4 * H + j;
    S* dg = dgates + r * 4 * H + j;
    const A d = dh2 ? A(dh[e]) + A(dh2[e]) : A(dh[e]);
    A di, df, dgg, dout, dcv;
    kernels::lstm_unit_backward(d, dc ? A(dc[e]) : A(0), A(a[0]), A(a[H]), A(a[2 * H]), A(a[3 * H]), A(c[e]),
                                A(cn[e]), di, df, dgg, dout, dcv);
    dg[0] = S(di);
    dg[H] = S(df);
    dg[2 * H] = S(dgg);
    dg[3 * H] = S(dout);
    dcp[e] = S(dcv);
  }
}

template <class S>
const S* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<S>() : nullptr;
}

}  // namespace

void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1], n = N * H;
  DeviceGuard guard(c.device().index);
  const LaunchConfig lc = launch_config(n, 1, int64_t(multiprocessor_count(c.device().index)) * 8);
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell", [&] {
    using S = scalar_t;
    lstm_cell_kernel<S><<<unsigned(lc.blocks), lc.threads>>>(n, H, h.data<S>(), cn.data<S>(), act.data<S>(),
                                                             gates.data<S>(), c.data<S>());
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1], n = N * H;
  DeviceGuard guard(c.device().index);
  const LaunchConfig lc = launch_config(n, 1, int64_t(multiprocessor_count(c.device().index)) * 8);
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell_backward", [&] {
    using S = scalar_t;
    lstm_cell_backward_kernel<S><<<unsigned(lc.blocks), lc.threads>>>(
        n, H, dgates.data<S>(), dc_prev.data<S>(), dh.data<S>(), data_or_null<S>(dh2), data_or_null<S>(dc),
        act.data<S>(), c.data<S>(), cn.data<S>());
  });
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace cuda
}  // namespace ember
