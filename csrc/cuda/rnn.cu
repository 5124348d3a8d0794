// Fused LSTM and GRU cells on CUDA: one thread per unit (row r, column j) over contiguous [N, k * H] tensors,
// the unit's math shared with the CPU (kernels/rnn_cell.h), 16-bit storage computed in float32.
#include "core/dispatch.h"
#include "cuda/launch.h"
#include "cuda/runtime.h"
#include "kernels/rnn_cell.h"

namespace ember {
namespace cuda {

namespace {

// Grid-stride loop over the N * H units; f(r, j, e) handles unit j of row r (e = r * H + j).
template <class F>
__global__ void unit_kernel(int64_t n, int64_t H, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t r = e / H;
    f(r, e - r * H, e);
  }
}

template <class S>
struct LstmForward {
  S *h, *cn, *act;
  const S *gates, *c;
  int64_t H;
  __device__ void operator()(int64_t r, int64_t j, int64_t e) const {
    using A = opmath_t<S>;
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
};

template <class S>
struct LstmBackward {
  S *dgates, *dcp;
  const S *dh, *dh2, *dc, *act, *c, *cn;  // dh2 and dc may be null
  int64_t H;
  __device__ void operator()(int64_t r, int64_t j, int64_t e) const {
    using A = opmath_t<S>;
    const S* a = act + r * 4 * H + j;
    S* dg = dgates + r * 4 * H + j;
    A di, df, dgg, dout, dcv;
    kernels::lstm_unit_backward(dh2 ? A(dh[e]) + A(dh2[e]) : A(dh[e]), dc ? A(dc[e]) : A(0), A(a[0]), A(a[H]),
                                A(a[2 * H]), A(a[3 * H]), A(c[e]), A(cn[e]), di, df, dgg, dout, dcv);
    dg[0] = S(di);
    dg[H] = S(df);
    dg[2 * H] = S(dgg);
    dg[3 * H] = S(dout);
    dcp[e] = S(dcv);
  }
};

template <class S>
struct GruForward {
  S *hnew, *act;
  const S *xg, *hg, *h;
  int64_t H;
  __device__ void operator()(int64_t r, int64_t j, int64_t e) const {
    using A = opmath_t<S>;
    const int64_t o = r * 3 * H + j;
    A rv, zv, nv, hv;
    kernels::gru_unit(A(xg[o]), A(xg[o + H]), A(xg[o + 2 * H]), A(hg[o]), A(hg[o + H]), A(hg[o + 2 * H]), A(h[e]),
                      rv, zv, nv, hv);
    act[o] = S(rv);
    act[o + H] = S(zv);
    act[o + 2 * H] = S(nv);
    hnew[e] = S(hv);
  }
};

template <class S>
struct GruBackward {
  S *dxg, *dhg, *dhp;
  const S *dh, *dh2, *act, *hg, *h;  // dh2 may be null
  int64_t H;
  __device__ void operator()(int64_t r, int64_t j, int64_t e) const {
    using A = opmath_t<S>;
    const int64_t o = r * 3 * H + j;
    A dr, dz, dxn, dhn, dhv;
    kernels::gru_unit_backward(dh2 ? A(dh[e]) + A(dh2[e]) : A(dh[e]), A(act[o]), A(act[o + H]), A(act[o + 2 * H]),
                               A(hg[o + 2 * H]), A(h[e]), dr, dz, dxn, dhn, dhv);
    dxg[o] = dhg[o] = S(dr);
    dxg[o + H] = dhg[o + H] = S(dz);
    dxg[o + 2 * H] = S(dxn);
    dhg[o + 2 * H] = S(dhn);
    dhp[e] = S(dhv);
  }
};

template <class S>
const S* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<S>() : nullptr;
}

template <class F>
void launch_units(const Tensor& like, int64_t N, int64_t H, const F& f) {
  DeviceGuard guard(like.device().index);
  const LaunchConfig lc = launch_config(N * H, 1, int64_t(multiprocessor_count(like.device().index)) * 8);
  unit_kernel<<<unsigned(lc.blocks), lc.threads>>>(N * H, H, f);
  EMBER_CUDA_CHECK_LAUNCH();
}

}  // namespace

void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell", [&] {
    using S = scalar_t;
    launch_units(c, N, H, LstmForward<S>{h.data<S>(), cn.data<S>(), act.data<S>(), gates.data<S>(), c.data<S>(), H});
  });
}

void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell_backward", [&] {
    using S = scalar_t;
    launch_units(c, N, H, LstmBackward<S>{dgates.data<S>(), dc_prev.data<S>(), dh.data<S>(), data_or_null<S>(dh2),
                                          data_or_null<S>(dc), act.data<S>(), c.data<S>(), cn.data<S>(), H});
  });
}

void gru_cell(const Tensor& hnew, const Tensor& act, const Tensor& xg, const Tensor& hg, const Tensor& h) {
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  EMBER_DISPATCH_FLOATING(h.dtype(), "gru_cell", [&] {
    using S = scalar_t;
    launch_units(h, N, H, GruForward<S>{hnew.data<S>(), act.data<S>(), xg.data<S>(), hg.data<S>(), h.data<S>(), H});
  });
}

void gru_cell_backward(const Tensor& dxg, const Tensor& dhg, const Tensor& dh_prev, const Tensor& dh,
                       const Tensor& dh2, const Tensor& act, const Tensor& hg, const Tensor& h) {
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  EMBER_DISPATCH_FLOATING(h.dtype(), "gru_cell_backward", [&] {
    using S = scalar_t;
    launch_units(h, N, H, GruBackward<S>{dxg.data<S>(), dhg.data<S>(), dh_prev.data<S>(), dh.data<S>(),
                                         data_or_null<S>(dh2), act.data<S>(), hg.data<S>(), h.data<S>(), H});
  });
}

}  // namespace cuda
}  // namespace ember
