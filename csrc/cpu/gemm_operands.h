// GEMM operands: how the packed GEMM reads its A and B matrices. Strided is an ordinary matrix at any
// strides; Im2Col is the implicit column matrix of a convolution, packed straight from the image.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#include "cpu/kernels.h"

namespace ember {
namespace cpu {

// A 64-byte aligned scratch buffer for packed panels.
template <class T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t n) {
    size_t bytes = (std::max<size_t>(n, 1) * sizeof(T) + 63) / 64 * 64;
    p_ = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!p_) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(p_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  T* data() { return p_; }

 private:
  T* p_;
};

// Packed panels hold P (float for float16/bfloat16 sources: the conversion happens here, panel by panel).
template <class P, class T>
inline P packed_value(T v) {
  return P(v);
}

template <class T>
struct StridedOperand {
  using value_type = T;
  const T* p;
  int64_t rs, cs;
  StridedOperand rows_from(int64_t r) const { return {p + r * rs, rs, cs}; }
  StridedOperand cols_from(int64_t c) const { return {p + c * cs, rs, cs}; }
  // out: panels of R rows x kc columns from (i0, k0), k-major inside a panel, zero-padded to R rows.
  template <int R, class P>
  void pack_rows(int64_t i0, int64_t k0, int64_t m, int64_t kc, P* out) const {
    for (int64_t r0 = 0; r0 < m; r0 += R) {
      const int64_t n = std::min<int64_t>(R, m - r0);
      const T* src = p + (i0 + r0) * rs + k0 * cs;
      // a partial panel (n < R) is zero-padded row by row, in the same k-outer order as a full one: walking
      // each of its n rows down k instead would touch a new cache line per element
      if (rs == 1) {
        for (int64_t k = 0; k < kc; ++k) {
          if (std::is_same<T, P>::value && n == R) {
            std::memcpy(out + k * R, src + k * cs, sizeof(T) * R);  // fixed size: inlined
          } else {
            for (int64_t i = 0; i < n; ++i) out[k * R + i] = packed_value<P>(src[k * cs + i]);
          }
          for (int64_t i = n; i < R; ++i) out[k * R + i] = P(0);
        }
      } else if (cs == 1) {
        // row-major: k-outer, so each step writes one whole R-value row of the panel
        for (int64_t k = 0; k < kc; ++k) {
          for (int64_t i = 0; i < n; ++i) out[k * R + i] = packed_value<P>(src[i * rs + k]);
          for (int64_t i = n; i < R; ++i) out[k * R + i] = P(0);
        }
      } else {
        for (int64_t i = 0; i < R; ++i) {
          if (i < n) {
            const T* row = src + i * rs;
            for (int64_t k = 0; k < kc; ++k) out[k * R + i] = packed_value<P>(row[k * cs]);
          } else {
            for (int64_t k = 0; k < kc; ++k) out[k * R + i] = P(0);
          }
        }
      }
      out += kc * R;
    }
  }
  // The transpose's rows: panels of R columns x kc rows from (k0, j0).
  template <int R, class P>
  void pack_cols(int64_t k0, int64_t j0, int64_t kc, int64_t n, P* out) const {
    StridedOperand<T> t{p, cs, rs};
    t.template pack_rows<R>(j0, k0, n, kc, out);
  }
};

// Packing for operands that can produce a run of one row: row_run(r, c, n, out, stride) writes elements
// (r, c) .. (r, c + n) to out[0], out[stride], ... Both panel layouts are built from such runs.
template <class Derived, class T>
struct RowRunPacking {
  using value_type = T;
  // As A: panels of R rows x kc columns from (i0, k0), zero-padded to R rows.
  template <int R, class P>
  void pack_rows(int64_t i0, int64_t k0, int64_t m, int64_t kc, P* out) const {
    const Derived& d = static_cast<const Derived&>(*this);
    for (int64_t r0 = 0; r0 < m; r0 += R) {
      const int64_t n = std::min<int64_t>(R, m - r0);
      for (int64_t i = 0; i < R; ++i) {
        if (i < n) d.row_run(i0 + r0 + i, k0, kc, out + i, R);
        else
          for (int64_t k = 0; k < kc; ++k) out[k * R + i] = P(0);
      }
      out += kc * R;
    }
  }
  // As B: panels of R columns x kc rows from (k0, j0), zero-padded to R columns.
  template <int R, class P>
  void pack_cols(int64_t k0, int64_t j0, int64_t kc, int64_t n, P* out) const {
    const Derived& d = static_cast<const Derived&>(*this);
    for (int64_t c0 = 0; c0 < n; c0 += R) {
      const int64_t w = std::min<int64_t>(R, n - c0);
      for (int64_t k = 0; k < kc; ++k) {
        P* dst = out + k * R;
        d.row_run(k0 + k, j0 + c0, w, dst, 1);
        for (int64_t t = w; t < R; ++t) dst[t] = P(0);
      }
      out += kc * R;
    }
  }
};

// cols[(c*kh + i)*kw + j][oy*ow + ox] = x[c][oy*sh - ph + i*dh][ox*sw - pw + j*dw], 0 outside the image.
template <class T>
struct Im2ColOperand : RowRunPacking<Im2ColOperand<T>, T> {
  Im2ColSrc<T> s;
  int64_t tap0 = 0, pix0 = 0;  // offsets for thread partitions
  Im2ColOperand(const Im2ColSrc<T>& src, int64_t t0 = 0, int64_t p0 = 0) : s(src), tap0(t0), pix0(p0) {}
  Im2ColOperand rows_from(int64_t r) const { return {s, tap0 + r, pix0}; }
  Im2ColOperand cols_from(int64_t c) const { return {s, tap0, pix0 + c}; }

  // out[k * stride] for k in [0, n): pixels pix .. pix+n of tap `tap` (pixels may span images)
  template <class P>
  void row_run(int64_t tap, int64_t pix, int64_t n, P* out, int64_t stride) const {
    tap += tap0;
    pix += pix0;
    const int64_t L = s.g.oh * s.g.ow;
    while (n > 0) {
      const int64_t img = pix / L, l = pix % L, run = std::min(n, L - l);
      tap_run_image(tap, s.x + img * s.image_stride, l, run, out, stride);
      out += run * stride;
      pix += run;
      n -= run;
    }
  }
  template <class P>
  void tap_run_image(int64_t tap, const T* base, int64_t pix, int64_t n, P* out, int64_t stride) const {
    const ConvGeometry& g = s.g;
    const int64_t j = tap % g.kw, i = (tap / g.kw) % g.kh, c = tap / (g.kw * g.kh);
    const T* img = base + c * s.H * s.W;
    int64_t oy = pix / g.ow, ox = pix % g.ow;
    const int64_t xoff = j * g.dw - g.pw;
    // output columns whose input column ox * sw + xoff lies inside the image: [ox_lo, ox_hi)
    const int64_t ox_lo = xoff >= 0 ? 0 : (-xoff + g.sw - 1) / g.sw;
    const int64_t ox_hi = s.W - xoff <= 0 ? 0 : (s.W - xoff + g.sw - 1) / g.sw;
    for (int64_t k = 0; k < n;) {
      const int64_t iy = oy * g.sh - g.ph + i * g.dh;
      const int64_t run = std::min(n - k, g.ow - ox);
      P* o = out + k * stride;
      if (iy < 0 || iy >= s.H) {
        for (int64_t t = 0; t < run; ++t) o[t * stride] = P(0);
      } else {
        const T* row = img + iy * s.W + xoff;
        const int64_t lo = std::min(std::max(ox, ox_lo), ox + run), hi = std::max(std::min(ox + run, ox_hi), lo);
        int64_t t = 0;
        for (; t < lo - ox; ++t) o[t * stride] = P(0);
        if (std::is_same<T, P>::value && g.sw == 1 && stride == 1) {
          std::memcpy(o + t, row + ox + t, sizeof(T) * size_t(hi - lo));
          t = hi - ox;
        } else {
          for (; t < hi - ox; ++t) o[t * stride] = packed_value<P>(row[(ox + t) * g.sw]);
        }
        for (; t < run; ++t) o[t * stride] = P(0);
      }
      k += run;
      ox = 0;
      ++oy;
    }
  }
};

// A [rows x (images * L)] matrix stored image-major, like grad_out [N, O, L] seen as [O, N * L]:
// element (r, n * L + l) = p[n * image_stride + r * row_stride + l].
template <class T>
struct ImageMajorOperand : RowRunPacking<ImageMajorOperand<T>, T> {
  const T* p;
  int64_t row_stride, image_stride, L;
  int64_t row0 = 0, col0 = 0;
  ImageMajorOperand(const T* p_, int64_t rs, int64_t is, int64_t l, int64_t r0 = 0, int64_t c0 = 0)
      : p(p_), row_stride(rs), image_stride(is), L(l), row0(r0), col0(c0) {}
  ImageMajorOperand rows_from(int64_t r) const { return {p, row_stride, image_stride, L, row0 + r, col0}; }
  ImageMajorOperand cols_from(int64_t c) const { return {p, row_stride, image_stride, L, row0, col0 + c}; }
  // out[k * stride] for k in [0, n): columns col .. col+n of row r
  template <class P>
  void row_run(int64_t r, int64_t col, int64_t n, P* out, int64_t stride) const {
    r += row0;
    col += col0;
    while (n > 0) {
      const int64_t img = col / L, l = col % L, run = std::min(n, L - l);
      const T* src = p + img * image_stride + r * row_stride + l;
      for (int64_t k = 0; k < run; ++k) out[k * stride] = packed_value<P>(src[k]);
      out += run * stride;
      col += run;
      n -= run;
    }
  }
};

// The transpose of an operand: its rows are the operand's columns.
template <class Op>
struct TransposedOperand {
  Op op;
  TransposedOperand rows_from(int64_t r) const { return {op.cols_from(r)}; }
  TransposedOperand cols_from(int64_t c) const { return {op.rows_from(c)}; }
  template <int R, class P>
  void pack_rows(int64_t i0, int64_t k0, int64_t m, int64_t kc, P* out) const {
    op.template pack_cols<R>(k0, i0, kc, m, out);
  }
  template <int R, class P>
  void pack_cols(int64_t k0, int64_t j0, int64_t kc, int64_t n, P* out) const {
    op.template pack_rows<R>(j0, k0, n, kc, out);
  }
};

}  // namespace cpu
}  // namespace ember
