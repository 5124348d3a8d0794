// Normalisation and loss kernels: batch norm (statistics, apply, backward) over [N, C, S] tensors, layer
// norm over contiguous rows, and cross-entropy (log-softmax + NLL with weights, ignore_index and label
// smoothing) over [N, C] logits, vectorised row kernels from cpu/row_kernels.inc (baseline + AVX2 copies).
// float16/bfloat16 activations are read and written as such; statistics, parameters and their gradients are
// float32 (A = opmath_t<T>), and cross-entropy rows are staged through float32 scratch.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "cpu/row_kernels_isa.h"
#include "cpu/staging.h"
#include "kernels/math.h"

namespace ember {
namespace cpu {

namespace {
// sum_c w_c, or C without class weights: cross-entropy's label-smoothing term.
template <class T>
double class_weight_sum(const T* wp, int64_t C) {
  if (!wp) return double(C);
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += double(wp[c]);
  return s;
}

// Rows per thread chunk: each element costs an exp (several cheap operations), so split sooner than kGrainSize.
int64_t ce_grain(int64_t C) { return std::max<int64_t>(1, kGrainSize / 8 / std::max<int64_t>(C, 1)); }

}  // namespace

void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], S = x.numel() / std::max<int64_t>(N * C, 1);
  EMBER_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    using A = opmath_t<T>;
    const T* xp = x.data<T>();
    A* mp = mean.data<A>();
    A* vp = var.data<A>();
    parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double m = channel_sum(xp, N, C, S, c) / double(N * S);
        double ss = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* p = xp + (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) {
            const double d = double(p[i]) - m;
            ss += d * d;
          }
        }
        mp[c] = A(m);
        vp[c] = A(ss / double(N * S));
      }
    });
  });
}

void batch_norm_apply(const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                      const Tensor& b) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], S = x.numel() / std::max<int64_t>(N * C, 1);
  EMBER_DISPATCH_FLOATING(x.dtype(), "batch_norm", [&] {
    using T = scalar_t;
    using A = opmath_t<T>;
    const T* xp = x.data<T>();
    const A *mp = mean.data<A>(), *ip = invstd.data<A>();
    const A* wp = w.defined() ? w.data<A>() : nullptr;
    const A* bp = b.defined() ? b.data<A>() : nullptr;
    T* yp = y.data<T>();
    parallel_for(0, N * C, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(S, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % C;
        const A scale = ip[c] * (wp ? wp[c] : A(1));
        const A shift = (bp ? bp[c] : A(0)) - mp[c] * scale;
        const T* src = xp + r * S;
        T* dst = yp + r * S;
        for (int64_t i = 0; i < S; ++i) dst[i] = T(A(src[i]) * scale + shift);
      }
    });
  });
}

void batch_norm_backward(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                         const Tensor& mean, const Tensor& invstd, const Tensor& w, bool training) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], S = x.numel() / std::max<int64_t>(N * C, 1);
  const double M = double(N * S);
  EMBER_DISPATCH_FLOATING(x.dtype(), "batch_norm_backward", [&] {
    using T = scalar_t;
    using A = opmath_t<T>;
    const T *xp = x.data<T>(), *gp = g.data<T>();
    const A *mp = mean.data<A>(), *ip = invstd.data<A>();
    const A* wp = w.defined() ? w.data<A>() : nullptr;
    parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double m = mp[c], is = ip[c];
        double sg = 0, sgx = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* xr = xp + (n * C + c) * S;
          const T* gr = gp + (n * C + c) * S;
          for (int64_t i = 0; i < S; ++i) {
            sg += double(gr[i]);
            sgx += double(gr[i]) * (double(xr[i]) - m);
          }
        }
        sgx *= is;  // sum(g * xhat)
        if (gw.defined()) gw.data<A>()[c] = A(sgx);
        if (gb.defined()) gb.data<A>()[c] = A(sg);
        if (!gx.defined()) continue;
        const double wc = wp ? double(wp[c]) : 1.0;
        T* gxp = gx.data<T>();
        for (int64_t n = 0; n < N; ++n) {
          const T* xr = xp + (n * C + c) * S;
          const T* gr = gp + (n * C + c) * S;
          T* o = gxp + (n * C + c) * S;
          if (training) {
            const double k = wc * is / M;
            for (int64_t i = 0; i < S; ++i) {
              const double xh = (double(xr[i]) - m) * is;
              o[i] = T(k * (M * double(gr[i]) - sg - xh * sgx));
            }
          } else {
            const A k = A(wc * is);
            for (int64_t i = 0; i < S; ++i) o[i] = T(A(gr[i]) * k);
          }
        }
      }
    });
  });
}

void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w,
                const Tensor& b, int64_t D, double eps) {
  const int64_t R = D ? x.numel() / D : 0;
  EMBER_DISPATCH_FLOATING(x.dtype(), "layer_norm", [&] {
    using T = scalar_t;
    using A = opmath_t<T>;
    const T* xp = x.data<T>();
    const A* wp = w.defined() ? w.data<A>() : nullptr;
    const A* bp = b.defined() ? b.data<A>() : nullptr;
    T* yp = y.data<T>();
    A *mp = mean.data<A>(), *rp = rstd.data<A>();
    parallel_for(0, R, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * D;
        double s = 0;
        for (int64_t i = 0; i < D; ++i) s += double(row[i]);
        const double m = s / double(D);
        double ss = 0;
        for (int64_t i = 0; i < D; ++i) {
          const double d = double(row[i]) - m;
          ss += d * d;
        }
        const double rs = 1.0 / std::sqrt(ss / double(D) + eps);
        mp[r] = A(m);
        rp[r] = A(rs);
        T* o = yp + r * D;
        const A tm = A(m), trs = A(rs);
        for (int64_t i = 0; i < D; ++i) {
          A v = (A(row[i]) - tm) * trs;
          if (wp) v *= wp[i];
          if (bp) v += bp[i];
          o[i] = T(v);
        }
      }
    });
  });
}

void layer_norm_backward(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                         const Tensor& mean, const Tensor& rstd, const Tensor& w, int64_t D) {
  const int64_t R = D ? x.numel() / D : 0;
  EMBER_DISPATCH_FLOATING(x.dtype(), "layer_norm_backward", [&] {
    using T = scalar_t;
    using A = opmath_t<T>;
    const T *xp = x.data<T>(), *gp = g.data<T>();
    const A *mp = mean.data<A>(), *rp = rstd.data<A>();
    const A* wp = w.defined() ? w.data<A>() : nullptr;
    if (gx.defined()) {
      T* gxp = gx.data<T>();
      parallel_for(0, R, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T* xr = xp + r * D;
          const T* gr = gp + r * D;
          const double m = mp[r], rs = rp[r];
          double s1 = 0, s2 = 0;  // sum(g * w), sum(g * w * xhat)
          for (int64_t i = 0; i < D; ++i) {
            const double gw_ = double(gr[i]) * (wp ? double(wp[i]) : 1.0);
            s1 += gw_;
            s2 += gw_ * (double(xr[i]) - m) * rs;
          }
          T* o = gxp + r * D;
          for (int64_t i = 0; i < D; ++i) {
            const double gw_ = double(gr[i]) * (wp ? double(wp[i]) : 1.0);
            const double xh = (double(xr[i]) - m) * rs;
            o[i] = T(rs / double(D) * (double(D) * gw_ - s1 - xh * s2));
          }
        }
      });
    }
    if (gw.defined() || gb.defined()) {
      // column sums over all rows; columns split across threads so each sum has one fixed order
      A* gwp = gw.defined() ? gw.data<A>() : nullptr;
      A* gbp = gb.defined() ? gb.data<A>() : nullptr;
      parallel_for(0, D, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(R, 1)), [&](int64_t c0, int64_t c1) {
        std::vector<double> sw(size_t(c1 - c0), 0.0), sb(size_t(c1 - c0), 0.0);
        for (int64_t r = 0; r < R; ++r) {
          const T* xr = xp + r * D;
          const T* gr = gp + r * D;
          const double m = mp[r], rs = rp[r];
          for (int64_t c = c0; c < c1; ++c) {
            sw[size_t(c - c0)] += double(gr[c]) * (double(xr[c]) - m) * rs;
            sb[size_t(c - c0)] += double(gr[c]);
          }
        }
        for (int64_t c = c0; c < c1; ++c) {
          if (gwp) gwp[c] = A(sw[size_t(c - c0)]);
          if (gbp) gbp[c] = A(sb[size_t(c - c0)]);
        }
      });
    }
  });
}

// Rows are split across the pool; each chunk owns one row of exp scratch for the forward.
void cross_entropy(const Tensor& loss, const Tensor& lse, const Tensor& x, const Tensor& target, const Tensor& weight,
                   int64_t ignore_index, double smoothing) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  if (is_reduced_float(x.dtype())) {
    // loss in the logits' dtype, lse and weights in float32; each row staged through float32 scratch
    EMBER_DISPATCH_REDUCED(x.dtype(), "cross_entropy", [&] {
      using S = scalar_t;
      const S* xp = x.data<S>();
      const int64_t* tp = target.data<int64_t>();
      const float* wp = weight.defined() ? weight.data<float>() : nullptr;
      S* lp = loss.data<S>();
      float* sp = lse.data<float>();
      const double wsum = class_weight_sum(wp, C);
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      parallel_for(0, N, ce_grain(C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xf = load_floats(xp + r * C, 1, C, 0);
          float l;
          EMBER_ROW_RUN(ce_forward_rows<float>, &l, sp + r, xf, tp + r, wp, C, 0, 1, ignore_index, smoothing, wsum);
          lp[r] = S(l);
        }
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(x.dtype(), "cross_entropy", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    const int64_t* tp = target.data<int64_t>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T *lp = loss.data<T>(), *sp = lse.data<T>();
    const double wsum = class_weight_sum(wp, C);
    const bool avx2 = use_avx2_float_copy(x.dtype());
    parallel_for(0, N, ce_grain(C), [&](int64_t r0, int64_t r1) {
      EMBER_ROW_RUN(ce_forward_rows<T>, lp, sp, xp, tp, wp, C, r0, r1, ignore_index, smoothing, wsum);
    });
  });
}

void cross_entropy_backward(const Tensor& gx, const Tensor& grow, const Tensor& x, const Tensor& target,
                            const Tensor& weight, int64_t ignore_index, double smoothing, const Tensor& lse) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1];
  if (is_reduced_float(x.dtype())) {
    EMBER_DISPATCH_REDUCED(x.dtype(), "cross_entropy_backward", [&] {
      using S = scalar_t;
      const S *xp = x.data<S>(), *gp = grow.data<S>();
      const float* sp = lse.data<float>();
      const int64_t* tp = target.data<int64_t>();
      const float* wp = weight.defined() ? weight.data<float>() : nullptr;
      S* op = gx.data<S>();
      const double wsum = class_weight_sum(wp, C);
      const bool avx2 = use_avx2_float_copy(ScalarType::Float32);
      parallel_for(0, N, ce_grain(C), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* xf = load_floats(xp + r * C, 1, C, 0);
          float* of = scratch_floats(C, 1);
          const float g = float(gp[r]);
          EMBER_ROW_RUN(ce_backward_rows<float>, of, &g, xf, sp + r, tp + r, wp, C, 0, 1, ignore_index, smoothing,
                        wsum);
          store_floats(of, C, op + r * C, 1);
        }
      });
    });
    return;
  }
  EMBER_DISPATCH_F32_F64(x.dtype(), "cross_entropy_backward", [&] {
    using T = scalar_t;
    const T *xp = x.data<T>(), *gp = grow.data<T>(), *sp = lse.data<T>();
    const int64_t* tp = target.data<int64_t>();
    const T* wp = weight.defined() ? weight.data<T>() : nullptr;
    T* op = gx.data<T>();
    const double wsum = class_weight_sum(wp, C);
    const bool avx2 = use_avx2_float_copy(x.dtype());
    parallel_for(0, N, ce_grain(C), [&](int64_t r0, int64_t r1) {
      EMBER_ROW_RUN(ce_backward_rows<T>, op, gp, xp, sp, tp, wp, C, r0, r1, ignore_index, smoothing, wsum);
    });
  });
}

}  // namespace cpu
}  // namespace ember
