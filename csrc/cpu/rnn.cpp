// Fused LSTM cell kernels: the element-wise half of a step (gate activations, new cell state, output) and its
// backward, one pass over contiguous [N, 4H] / [N, H] rows (cpu/row_kernels.inc). float16/bfloat16 rows are
// staged through float32 scratch.
#include <algorithm>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "cpu/row_kernels_isa.h"
#include "cpu/staging.h"

namespace ember {
namespace cpu {

namespace {

// Rows per thread chunk: each unit costs several exp-like evaluations.
int64_t cell_grain(int64_t H) { return std::max<int64_t>(1, kGrainSize / 16 / std::max<int64_t>(H, 1)); }

template <class S>
void to_floats(const S* p, int64_t n, float* d) {
  for (int64_t i = 0; i < n; ++i) d[i] = float(p[i]);
}

template <class T, bool kDh2, bool kDc>
void backward_rows(bool avx2, T* dg, T* dcp, const T* dh, const T* dh2, const T* dc, const T* act, const T* c,
                   const T* cn, int64_t H) {
#ifdef EMBER_HAVE_AVX2_ROWS
  if (avx2) return isa_avx2::lstm_cell_backward_row<T, kDh2, kDc>(dg, dcp, dh, dh2, dc, act, c, cn, H);
#endif
  (void)avx2;
  isa_default::lstm_cell_backward_row<T, kDh2, kDc>(dg, dcp, dh, dh2, dc, act, c, cn, H);
}

// dispatches the two flags of lstm_cell_backward_row
template <class T>
void backward_row(bool avx2, T* dg, T* dcp, const T* dh, const T* dh2, const T* dc, const T* act, const T* c,
                  const T* cn, int64_t H) {
  if (dh2 && dc) backward_rows<T, true, true>(avx2, dg, dcp, dh, dh2, dc, act, c, cn, H);
  else if (dh2) backward_rows<T, true, false>(avx2, dg, dcp, dh, dh2, dc, act, c, cn, H);
  else if (dc) backward_rows<T, false, true>(avx2, dg, dcp, dh, dh2, dc, act, c, cn, H);
  else backward_rows<T, false, false>(avx2, dg, dcp, dh, dh2, dc, act, c, cn, H);
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace

void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  if (is_reduced_float(c.dtype())) {
    EMBER_DISPATCH_REDUCED(c.dtype(), "lstm_cell", [&] {
      using S = scalar_t;
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      const S* gp = gates.data<S>();
      const S* cp = c.data<S>();
      S *hp = h.data<S>(), *cnp = cn.data<S>(), *ap = act.data<S>();
      parallel_for(0, N, cell_grain(H), [&](int64_t r0, int64_t r1) {
        float* buf = scratch_floats(11 * H, 0);  // gates 4H, c H | h H, c_new H, act 4H
        float *g = buf, *cf = buf + 4 * H, *ho = buf + 5 * H, *co = buf + 6 * H, *ao = buf + 7 * H;
        for (int64_t r = r0; r < r1; ++r) {
          to_floats(gp + r * 4 * H, 4 * H, g);
          to_floats(cp + r * H, H, cf);
          EMBER_ROW_RUN(lstm_cell_row<float>, ho, co, ao, g, cf, H);
          store_floats(ho, H, hp + r * H, 1);
          store_floats(co, H, cnp + r * H, 1);
          store_floats(ao, 4 * H, ap + r * 4 * H, 1);
        }
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(c.dtype(), "lstm_cell", [&] {
    using T = scalar_t;
    const bool avx2 = use_avx2_float_copy(c.dtype());
    const T* gp = gates.data<T>();
    const T* cp = c.data<T>();
    T *hp = h.data<T>(), *cnp = cn.data<T>(), *ap = act.data<T>();
    parallel_for(0, N, cell_grain(H), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        EMBER_ROW_RUN(lstm_cell_row<T>, hp + r * H, cnp + r * H, ap + r * 4 * H, gp + r * 4 * H, cp + r * H, H);
    });
  });
}

void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  if (is_reduced_float(c.dtype())) {
    EMBER_DISPATCH_REDUCED(c.dtype(), "lstm_cell_backward", [&] {
      using S = scalar_t;
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      const S *dhp = dh.data<S>(), *dh2p = data_or_null<S>(dh2), *dcp = data_or_null<S>(dc);
      const S *ap = act.data<S>(), *cp = c.data<S>(), *cnp = cn.data<S>();
      S *dgp = dgates.data<S>(), *dcpp = dc_prev.data<S>();
      parallel_for(0, N, cell_grain(H), [&](int64_t r0, int64_t r1) {
        // inputs dh, dh2, dc, act (4H), c, c_new | outputs d gates (4H), d c_prev
        float* buf = scratch_floats(14 * H, 0);
        float *fdh = buf, *fdh2 = buf + H, *fdc = buf + 2 * H, *fa = buf + 3 * H, *fc = buf + 7 * H;
        float *fcn = buf + 8 * H, *fdg = buf + 9 * H, *fdcp = buf + 13 * H;
        for (int64_t r = r0; r < r1; ++r) {
          to_floats(dhp + r * H, H, fdh);
          if (dh2p) to_floats(dh2p + r * H, H, fdh2);
          if (dcp) to_floats(dcp + r * H, H, fdc);
          to_floats(ap + r * 4 * H, 4 * H, fa);
          to_floats(cp + r * H, H, fc);
          to_floats(cnp + r * H, H, fcn);
          backward_row<float>(avx2, fdg, fdcp, fdh, dh2p ? fdh2 : nullptr, dcp ? fdc : nullptr, fa, fc, fcn, H);
          store_floats(fdg, 4 * H, dgp + r * 4 * H, 1);
          store_floats(fdcp, H, dcpp + r * H, 1);
        }
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(c.dtype(), "lstm_cell_backward", [&] {
    using T = scalar_t;
    const bool avx2 = use_avx2_float_copy(c.dtype());
    const T *dhp = dh.data<T>(), *dh2p = data_or_null<T>(dh2), *dcp = data_or_null<T>(dc);
    const T *ap = act.data<T>(), *cp = c.data<T>(), *cnp = cn.data<T>();
    T *dgp = dgates.data<T>(), *dcpp = dc_prev.data<T>();
    parallel_for(0, N, cell_grain(H), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = r * H;
        backward_row<T>(avx2, dgp + 4 * o, dcpp + o, dhp + o, dh2p ? dh2p + o : nullptr, dcp ? dcp + o : nullptr,
                        ap + 4 * o, cp + o, cnp + o, H);
      }
    });
  });
}

}  // namespace cpu
}  // namespace ember
