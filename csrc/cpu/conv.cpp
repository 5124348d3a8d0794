// 2-D convolution forward and backward as im2col + packed GEMM (col2im for the input gradient). A 1x1,
// stride-1, unpadded convolution skips im2col: the input already is the column matrix. Stride-1 convolutions
// on small images use the direct kernels of cpu/conv_direct.h instead, which pack nothing. float16/bfloat16
// run the float32 kernels on blocks of images converted on the fly.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/conv_direct.h"
#include "cpu/gemm_operands.h"
#include "cpu/kernels.h"
#include "ops/pointwise.h"

namespace ember {
namespace cpu {

namespace {

// Gemm dispatch by type.
inline void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
                 int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  gemm_f32(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta);
}
inline void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa, const double* B,
                 int64_t rsb, int64_t csb, double* C, int64_t ldc, double alpha, double beta) {
  gemm_f64(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta);
}

// cols[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw] (0 outside).
template <class T>
void im2col(const T* x, int64_t C, int64_t H, int64_t W, const ConvGeometry& g, T* cols) {
  const int64_t L = g.oh * g.ow;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        T* dst = cols + ((c * g.kh + i) * g.kw + j) * L;
        const T* src = x + c * H * W;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + i * g.dh;
          T* d = dst + oy * g.ow;
          if (iy < 0 || iy >= H) {
            std::fill(d, d + g.ow, T(0));
            continue;
          }
          const T* row = src + iy * W;
          const int64_t off = j * g.dw - g.pw;
          if (g.sw == 1) {
            // contiguous run [lo, hi) of valid ox, zeros around it
            int64_t lo = std::max<int64_t>(0, -off), hi = std::min<int64_t>(g.ow, W - off);
            if (hi < lo) hi = lo;
            std::fill(d, d + lo, T(0));
            if (hi > lo) std::memcpy(d + lo, row + lo + off, sizeof(T) * size_t(hi - lo));
            std::fill(d + hi, d + g.ow, T(0));
          } else {
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * g.sw + off;
              d[ox] = (ix >= 0 && ix < W) ? row[ix] : T(0);
            }
          }
        }
      }
}

// The adjoint of im2col: x[c][iy][ix] += cols[...] (x must be zeroed by the caller).
template <class T>
void col2im(const T* cols, int64_t C, int64_t H, int64_t W, const ConvGeometry& g, T* x) {
  const int64_t L = g.oh * g.ow;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* srcc = cols + ((c * g.kh + i) * g.kw + j) * L;
        T* dst = x + c * H * W;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= H) continue;
          T* row = dst + iy * W;
          const T* s = srcc + oy * g.ow;
          const int64_t off = j * g.dw - g.pw;
          if (g.sw == 1) {
            int64_t lo = std::max<int64_t>(0, -off), hi = std::min<int64_t>(g.ow, W - off);
            for (int64_t ox = lo; ox < hi; ++ox) row[ox + off] += s[ox];
          } else {
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * g.sw + off;
              if (ix >= 0 && ix < W) row[ix] += s[ox];
            }
          }
        }
      }
}

bool is_pointwise(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// Scratch columns reused across calls by each thread (a fresh multi-megabyte buffer per call would pay
// first-touch page faults every time); released when a request is much smaller than what is held.
template <class T>
struct Buffer {
  T* get(size_t n) {
    thread_local std::vector<T> v;
    if (v.size() < n || v.size() > 4 * n + (size_t(1) << 20)) {
      std::vector<T>().swap(v);
      v.resize(n);
    }
    return v.data();
  }
};

// Runs f(n, scratch) for every image; images in parallel when there are enough of them (each task then runs
// its GEMMs single-threaded), else one at a time with multithreaded GEMMs.
template <class T, class F>
void for_each_image(int64_t N, const F& f) {
  const int nt = get_num_threads();
  if (N >= nt && nt > 1 && !in_parallel_region()) {
    parallel_for(0, N, 1, [&](int64_t b, int64_t e) {
      Buffer<T> scratch;
      for (int64_t n = b; n < e; ++n) f(n, scratch);
    });
  } else {
    Buffer<T> scratch;
    for (int64_t n = 0; n < N; ++n) f(n, scratch);
  }
}

ConvAlgorithm g_conv_algorithm = ConvAlgorithm::Auto;
constexpr double DIRECT_MAX_BYTES = 512 * 1024;
// The weight gradient reads a padded image and grad_out once per tile of taps; past this size they fall
// out of L2 and the packed GEMM, which reads them once per block, wins.
constexpr double DIRECT_WGRAD_MAX_BYTES = 256 * 1024;

// The direct kernels (cpu/conv_direct.h) for stride-1 convolutions whose padded image (plus, for the weight
// gradient, the widened grad_out) stays in cache and whose output rows are not mostly dropped columns;
// images run one per thread, so there must be enough.
bool use_direct(const ConvGeometry& g, int64_t N, int64_t Cg, int64_t Og, size_t elem, bool weight_grad = false) {
  if (g.sh != 1 || g.sw != 1 || g_conv_algorithm == ConvAlgorithm::Gemm) return false;
  if (g_conv_algorithm == ConvAlgorithm::Direct) return true;
  const int64_t Hp = g.oh + g.dh * (g.kh - 1), Wp = g.ow + g.dw * (g.kw - 1);
  const int nt = in_parallel_region() ? 1 : get_num_threads();
  const double bytes = double(Cg * Hp * Wp + (weight_grad ? Og * g.oh * Wp : 0)) * double(elem);
  return !is_pointwise(g) && Og >= 4 && 2 * g.ow >= Wp && N >= nt &&
         bytes <= (weight_grad ? DIRECT_WGRAD_MAX_BYTES : DIRECT_MAX_BYTES);
}

// Small convolutions: one GEMM per image would be too small to run efficiently, so the images are put side by
// side as extra GEMM columns ([rows, N * L] results, permuted into [N, rows, L] afterwards).
inline bool batch_images(int64_t N, int64_t M, int64_t K, int64_t L) {
  return N > 1 && 2.0 * double(M) * double(K) * double(L) < 4e6;
}

// dst[n][r][l] = src[r][n][l] (+ bias[r])
template <class T>
void rows_to_images(const T* src, T* dst, int64_t N, int64_t R, int64_t L, const T* bias) {
  parallel_for(0, N * R, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(L, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / R, r = i % R;
      const T* s = src + (r * N + n) * L;
      T* d = dst + i * L;
      if (bias)
        for (int64_t l = 0; l < L; ++l) d[l] = s[l] + bias[r];
      else
        std::memcpy(d, s, sizeof(T) * size_t(L));
    }
  });
}

template <class T>
void conv_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t O = w.sizes()[0], G = g.groups, Cg = C / G, Og = O / G, K = Cg * g.kh * g.kw, L = g.oh * g.ow;
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  T* op = out.data<T>();
  const T* bp = bias.defined() ? bias.data<T>() : nullptr;
  if (use_direct(g, N, Cg, Og, sizeof(T))) return conv_direct_forward(xp, N, C, H, W, wp, O, bp, g, op);
  if (batch_images(N, Og, K, L)) {
    std::vector<T> tmp(size_t(O * N * L));
    for (int64_t gi = 0; gi < G; ++gi) {
      Im2ColSrc<T> src{xp + gi * Cg * H * W, Cg, H, W, g, N, C * H * W};
      gemm_w_cols(Og, wp + gi * Og * K, K, src, tmp.data() + gi * Og * N * L, N * L, T(0));
    }
    rows_to_images(tmp.data(), op, N, O, L, bp);
    return;
  }
  for_each_image<T>(N, [&](int64_t n, Buffer<T>&) {
    const T* img = xp + n * C * H * W;
    T* o = op + n * O * L;
    if (bp)
      for (int64_t oc = 0; oc < O; ++oc) std::fill(o + oc * L, o + (oc + 1) * L, bp[oc]);
    for (int64_t gi = 0; gi < G; ++gi) {
      // the GEMM packs its B operand straight from the image (implicit im2col)
      Im2ColSrc<T> src{img + gi * Cg * H * W, Cg, H, W, g};
      gemm_w_cols(Og, wp + gi * Og * K, K, src, o + gi * Og * L, L, bp ? T(1) : T(0));
    }
  });
}

template <class T>
void finish_weight_grad(const Tensor& gout, const Tensor& x, const Tensor& w, const ConvGeometry& g,
                        const Tensor& gw) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t O = w.sizes()[0], G = g.groups, Cg = C / G, Og = O / G, K = Cg * g.kh * g.kw, L = g.oh * g.ow;
  const T* xp = x.data<T>();
  const T* gp = gout.data<T>();
  if (gw.defined() && use_direct(g, N, Cg, Og, sizeof(T), /*weight_grad=*/true))
    return conv_direct_weight_grad(xp, N, C, H, W, gp, O, g, gw.data<T>());
  if (gw.defined() && batch_images(N, Og, K, L)) {
    // one GEMM over all images: grad_out [N, O, L] read as [O, N * L], cols as [K, N * L]
    T* gwp = gw.data<T>();
    for (int64_t gi = 0; gi < G; ++gi) {
      Im2ColSrc<T> src{xp + gi * Cg * H * W, Cg, H, W, g, N, C * H * W};
      gemm_g_colsT(Og, gp + gi * Og * L, L, O * L, src, gwp + gi * Og * K, K, T(0));
    }
    return;
  }
  if (gw.defined()) {
    // grad_W = sum_n grad_out[n] @ cols[n]^T, with cols packed straight from the images; images are split
    // across threads, each summing into its own buffer (the first one is grad_W itself).
    parallel_partial_sums(N, O * K, gw.data<T>(), [&](T* acc, int64_t b, int64_t e) {
      if (b == e) std::fill(acc, acc + O * K, T(0));
      for (int64_t n = b; n < e; ++n)
        for (int64_t gi = 0; gi < G; ++gi) {
          Im2ColSrc<T> src{xp + n * C * H * W + gi * Cg * H * W, Cg, H, W, g};
          gemm_g_colsT(Og, gp + n * O * L + gi * Og * L, L, 0, src, acc + gi * Og * K, K, n == b ? T(0) : T(1));
        }
    });
  }
}

template <class T>
void conv_backward(const Tensor& gout, const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& gx,
                   const Tensor& gw, const Tensor& gb) {
  const int64_t N = x.sizes()[0], C = x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t O = w.sizes()[0], G = g.groups, Cg = C / G, Og = O / G, K = Cg * g.kh * g.kw, L = g.oh * g.ow;
  const T* xp = x.data<T>();
  const T* wp = w.data<T>();
  const T* gp = gout.data<T>();
  const bool pw = is_pointwise(g);
  if (gb.defined()) {
    T* gbp = gb.data<T>();
    parallel_for(0, O, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t oc = o0; oc < o1; ++oc) gbp[oc] = T(channel_sum(gp, N, O, L, oc));
    });
  }
  if (gx.defined()) {
    T* gxp = gx.data<T>();
    const int64_t tph = g.dh * (g.kh - 1) - g.ph, tpw = g.dw * (g.kw - 1) - g.pw;
    // stride 1: grad_x is a convolution of grad_out with the flipped, transposed kernel, so it can run as a
    // GEMM packed straight from grad_out (no column buffer, no col2im), or with the direct kernels, which
    // pack nothing. The GEMM packs O*kh*kw values per input pixel against C*kh*kw per output pixel for
    // W^T @ grad_out + col2im, so take it when it packs less.
    const bool stride1 = g.sh == 1 && g.sw == 1 && tph >= 0 && tpw >= 0;
    const ConvGeometry tg{g.kh, g.kw, 1, 1, tph, tpw, g.dh, g.dw, H, W, G};
    const bool direct = stride1 && use_direct(tg, N, Og, Cg, sizeof(T));
    if (direct || (stride1 && Og * H * W <= Cg * L)) {
      std::vector<T> wt(size_t(O * K));
      for (int64_t gi = 0; gi < G; ++gi)
        for (int64_t o = 0; o < Og; ++o)
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j)
                wt[size_t(((gi * Cg + c) * Og + o) * g.kh * g.kw + (g.kh - 1 - i) * g.kw + (g.kw - 1 - j))] =
                    wp[((gi * Og + o) * Cg + c) * g.kh * g.kw + i * g.kw + j];
      if (direct) {
        conv_direct_forward(gp, N, O, g.oh, g.ow, wt.data(), C, static_cast<const T*>(nullptr), tg, gxp);
        return finish_weight_grad<T>(gout, x, w, g, gw);
      }
      const int64_t Kt = Og * g.kh * g.kw;
      if (batch_images(N, Cg, Kt, H * W)) {
        std::vector<T> tmp(size_t(C * N * H * W));
        for (int64_t gi = 0; gi < G; ++gi) {
          Im2ColSrc<T> src{gp + gi * Og * L, Og, g.oh, g.ow, tg, N, O * L};
          gemm_w_cols(Cg, wt.data() + gi * Cg * Kt, Kt, src, tmp.data() + gi * Cg * N * H * W, N * H * W, T(0));
        }
        rows_to_images<T>(tmp.data(), gxp, N, C, H * W, nullptr);
        return finish_weight_grad<T>(gout, x, w, g, gw);
      }
      for_each_image<T>(N, [&](int64_t n, Buffer<T>&) {
        for (int64_t gi = 0; gi < G; ++gi) {
          Im2ColSrc<T> src{gp + n * O * L + gi * Og * L, Og, g.oh, g.ow, tg};
          gemm_w_cols(Cg, wt.data() + gi * Cg * Kt, Kt, src, gxp + n * C * H * W + gi * Cg * H * W, H * W, T(0));
        }
      });
    } else {
      for_each_image<T>(N, [&](int64_t n, Buffer<T>& scratch) {
        const T* go = gp + n * O * L;
        T* gimg = gxp + n * C * H * W;
        if (pw) {  // the column matrix is the input itself
          for (int64_t gi = 0; gi < G; ++gi)
            gemm(K, L, Og, wp + gi * Og * K, 1, K, go + gi * Og * L, L, 1, gimg + gi * K * L, L, T(1), T(0));
          return;
        }
        T* cols = scratch.get(size_t(C * g.kh * g.kw * L));
        for (int64_t gi = 0; gi < G; ++gi)  // cols = W^T @ grad_out
          gemm(K, L, Og, wp + gi * Og * K, 1, K, go + gi * Og * L, L, 1, cols + gi * K * L, L, T(1), T(0));
        std::fill(gimg, gimg + C * H * W, T(0));
        col2im(cols, C, H, W, g, gimg);
      });
    }
  }
  finish_weight_grad<T>(gout, x, w, g, gw);
}

// float16/bfloat16: blocks of images are converted to float32 scratch (about 8 MiB, and at least one image per
// thread), run through the float kernels and rounded back; the weight is converted once, its gradient summed
// over blocks in float32. No 16-bit tensor is ever converted as a whole.
int64_t images_per_block(int64_t N, int64_t floats_per_image) {
  const int64_t budget = (int64_t(8) << 20) / int64_t(sizeof(float));
  const int64_t b = std::max<int64_t>(budget / std::max<int64_t>(floats_per_image, 1), get_num_threads());
  return std::max<int64_t>(1, std::min(N, b));
}

Tensor image_block(const Tensor& t, int64_t n0, int64_t n) {
  DimVector sizes = t.sizes();
  sizes[0] = n;
  return t.as_view(sizes, t.strides(), t.offset() + n0 * t.strides()[0]);
}

Tensor to_float32(const Tensor& t) {
  if (!t.defined()) return t;
  Tensor f = empty(t.sizes(), ScalarType::Float32, t.device());
  ops::copy_(f, t);
  return f;
}

Tensor float_like(const Tensor& t) { return t.defined() ? empty(t.sizes(), ScalarType::Float32, t.device()) : t; }

void add_into(const Tensor& acc, const Tensor& part) {
  if (!acc.defined()) return;
  float* a = acc.data<float>();
  const float* p = part.data<float>();
  for (int64_t i = 0; i < acc.numel(); ++i) a[i] += p[i];
}

void conv_forward_reduced(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias,
                          const ConvGeometry& g) {
  const Tensor wf = to_float32(w), bf = to_float32(bias);
  const int64_t N = x.sizes()[0], B = images_per_block(N, (x.numel() + out.numel()) / N);
  for (int64_t n0 = 0; n0 < N; n0 += B) {
    const int64_t n = std::min(B, N - n0);
    const Tensor ob = image_block(out, n0, n), of = float_like(ob);
    conv_forward<float>(of, to_float32(image_block(x, n0, n)), wf, bf, g);
    ops::copy_(ob, of);
  }
}

void conv_backward_reduced(const Tensor& gout, const Tensor& x, const Tensor& w, const ConvGeometry& g,
                           const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const Tensor wf = to_float32(w);
  const Tensor gw_sum = float_like(gw), gb_sum = float_like(gb), gw_part = float_like(gw), gb_part = float_like(gb);
  for (const Tensor* t : {&gw_sum, &gb_sum})
    if (t->defined()) std::fill(t->data<float>(), t->data<float>() + t->numel(), 0.f);
  const int64_t N = x.sizes()[0], B = images_per_block(N, (x.numel() + gout.numel()) / N);
  for (int64_t n0 = 0; n0 < N; n0 += B) {
    const int64_t n = std::min(B, N - n0);
    const Tensor gxb = gx.defined() ? image_block(gx, n0, n) : Tensor(), gxf = float_like(gxb);
    conv_backward<float>(to_float32(image_block(gout, n0, n)), to_float32(image_block(x, n0, n)), wf, g, gxf, gw_part,
                         gb_part);
    if (gxb.defined()) ops::copy_(gxb, gxf);
    add_into(gw_sum, gw_part);
    add_into(gb_sum, gb_part);
  }
  if (gw.defined()) ops::copy_(gw, gw_sum);
  if (gb.defined()) ops::copy_(gb, gb_sum);
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { g_conv_algorithm = a; }

void conv2d_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  if (is_reduced_float(x.dtype())) return conv_forward_reduced(out, x, w, bias, g);
  EMBER_DISPATCH_F32_F64(x.dtype(), "conv2d", [&] { conv_forward<scalar_t>(out, x, w, bias, g); });
}

void conv2d_backward(const Tensor& gout, const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& gx,
                     const Tensor& gw, const Tensor& gb) {
  if (is_reduced_float(x.dtype())) return conv_backward_reduced(gout, x, w, g, gx, gw, gb);
  EMBER_DISPATCH_F32_F64(x.dtype(), "conv2d_backward", [&] { conv_backward<scalar_t>(gout, x, w, g, gx, gw, gb); });
}

}  // namespace cpu
}  // namespace ember
