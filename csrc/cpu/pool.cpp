// Pooling over contiguous NCHW planes (one task per (n, c) plane): max (with flat h*W+w indices), average
// (count_include_pad / divisor_override) and adaptive average; backward passes scatter into the input plane.
// float16/bfloat16 compute in float32: windows accumulate in float, backward planes in float32 scratch.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "cpu/staging.h"

namespace ember {
namespace cpu {

namespace {

template <class F>
void for_each_plane(int64_t planes, int64_t work_per_plane, const F& f) {
  parallel_for(0, planes, std::max<int64_t>(1, kGrainSize / std::max<int64_t>(work_per_plane, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t p = b; p < e; ++p) f(p);
               });
}

inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// An output cell's input window: rows [y0, y1) x columns [x0, x1) of a plane W wide.
struct Window {
  int64_t y0, y1, x0, x1;
  int64_t area() const { return (y1 - y0) * (x1 - x0); }
};

// f(oy, ox, window) for each output cell of an adaptive pooling of an H x W plane to oh x ow.
template <class F>
inline void for_each_adaptive_window(int64_t H, int64_t W, int64_t oh, int64_t ow, const F& f) {
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t y0 = adaptive_start(oy, H, oh), y1 = adaptive_end(oy, H, oh);
    for (int64_t ox = 0; ox < ow; ++ox) f(oy, ox, Window{y0, y1, adaptive_start(ox, W, ow), adaptive_end(ox, W, ow)});
  }
}

// The same for average pooling under geometry g, each window clipped to the H x W input.
template <class F>
inline void for_each_avg_window(const PoolGeometry& g, int64_t H, int64_t W, const F& f) {
  for (int64_t oy = 0; oy < g.oh; ++oy)
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t y0 = std::max<int64_t>(oy * g.sh - g.ph, 0), x0 = std::max<int64_t>(ox * g.sw - g.pw, 0);
      const int64_t y1 = std::min(oy * g.sh - g.ph + g.kh, H), x1 = std::min(ox * g.sw - g.pw + g.kw, W);
      f(oy, ox, Window{y0, y1, x0, x1});
    }
}

template <class T, class A = typename OpMath<T>::type>
inline A window_sum(const T* plane, int64_t W, const Window& w) {
  A s = 0;
  for (int64_t iy = w.y0; iy < w.y1; ++iy)
    for (int64_t ix = w.x0; ix < w.x1; ++ix) s += A(plane[iy * W + ix]);
  return s;
}

// The gradient plane of an input: T itself, or float32 scratch for 16-bit T (stored back by finish()).
template <class T>
struct GradPlane {
  using A = typename OpMath<T>::type;
  T* out;
  int64_t n;
  A* acc;
  GradPlane(T* plane, int64_t size) : out(plane), n(size) {
    if constexpr (std::is_same<A, T>::value) acc = plane;
    else acc = scratch_floats(size, 0);
    std::fill(acc, acc + n, A(0));
  }
  void finish() {
    if constexpr (!std::is_same<A, T>::value) store_floats(acc, n, out, 1);
  }
};

template <class T>
inline void window_add(T* plane, int64_t W, const Window& w, T v) {
  for (int64_t iy = w.y0; iy < w.y1; ++iy)
    for (int64_t ix = w.x0; ix < w.x1; ++ix) plane[iy * W + ix] += v;
}

}  // namespace

void max_pool2d(const Tensor& out, const Tensor& indices, const Tensor& x, const PoolGeometry& g) {
  const int64_t planes = x.sizes()[0] * x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  EMBER_DISPATCH_NUMERIC(x.dtype(), "max_pool2d", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    int64_t* ip = indices.data<int64_t>();
    for_each_plane(planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
      const T* plane = xp + p * H * W;
      T* o = op + p * g.oh * g.ow;
      int64_t* id = ip + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          A best = std::numeric_limits<A>::lowest();
          int64_t bi = -1;
          bool found_nan = false;
          for (int64_t i = 0; i < g.kh && !found_nan; ++i) {
            const int64_t iy = oy * g.sh - g.ph + i * g.dh;
            if (iy < 0 || iy >= H) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t ix = ox * g.sw - g.pw + j * g.dw;
              if (ix < 0 || ix >= W) continue;
              const A v = A(plane[iy * W + ix]);
              if (v != v) {  // NaN propagates, like PyTorch
                best = v;
                bi = iy * W + ix;
                found_nan = true;
                break;
              }
              if (bi < 0 || v > best) {
                best = v;
                bi = iy * W + ix;
              }
            }
          }
          o[oy * g.ow + ox] = T(best);
          id[oy * g.ow + ox] = bi;
        }
    });
  });
}

void max_pool2d_backward(const Tensor& gx, const Tensor& gout, const Tensor& indices) {
  const int64_t planes = gx.sizes()[0] * gx.sizes()[1], HW = gx.sizes()[2] * gx.sizes()[3];
  const int64_t L = gout.sizes()[2] * gout.sizes()[3];
  EMBER_DISPATCH_FLOATING(gx.dtype(), "max_pool2d_backward", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    T* gp = gx.data<T>();
    const T* go = gout.data<T>();
    const int64_t* ip = indices.data<int64_t>();
    for_each_plane(planes, L, [&](int64_t p) {
      GradPlane<T> plane(gp + p * HW, HW);
      for (int64_t l = 0; l < L; ++l) {
        const int64_t i = ip[p * L + l];
        if (i >= 0) plane.acc[i] += A(go[p * L + l]);
      }
      plane.finish();
    });
  });
}

// Divisor of output cell (oy, ox): window area clipped to the padded input (count_include_pad) or to the input.
static int64_t avg_divisor(const PoolGeometry& g, int64_t H, int64_t W, int64_t oy, int64_t ox) {
  if (g.divisor_override > 0) return g.divisor_override;
  int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  int64_t y1 = std::min(y0 + g.kh, H + g.ph), x1 = std::min(x0 + g.kw, W + g.pw);
  if (g.count_include_pad) return (y1 - y0) * (x1 - x0);
  y0 = std::max<int64_t>(y0, 0);
  x0 = std::max<int64_t>(x0, 0);
  y1 = std::min(y1, H);
  x1 = std::min(x1, W);
  return std::max<int64_t>((y1 - y0) * (x1 - x0), 1);
}

void avg_pool2d(const Tensor& out, const Tensor& x, const PoolGeometry& g) {
  const int64_t planes = x.sizes()[0] * x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  EMBER_DISPATCH_FLOATING(x.dtype(), "avg_pool2d", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for_each_plane(planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
      const T* plane = xp + p * H * W;
      T* o = op + p * g.oh * g.ow;
      for_each_avg_window(g, H, W, [&](int64_t oy, int64_t ox, const Window& w) {
        o[oy * g.ow + ox] = T(window_sum(plane, W, w) / A(avg_divisor(g, H, W, oy, ox)));
      });
    });
  });
}

void avg_pool2d_backward(const Tensor& gx, const Tensor& gout, const PoolGeometry& g) {
  const int64_t planes = gx.sizes()[0] * gx.sizes()[1], H = gx.sizes()[2], W = gx.sizes()[3];
  EMBER_DISPATCH_FLOATING(gx.dtype(), "avg_pool2d_backward", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    T* gp = gx.data<T>();
    const T* go = gout.data<T>();
    for_each_plane(planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
      GradPlane<T> plane(gp + p * H * W, H * W);
      const T* o = go + p * g.oh * g.ow;
      for_each_avg_window(g, H, W, [&](int64_t oy, int64_t ox, const Window& w) {
        window_add(plane.acc, W, w, A(o[oy * g.ow + ox]) / A(avg_divisor(g, H, W, oy, ox)));
      });
      plane.finish();
    });
  });
}

void adaptive_avg_pool2d(const Tensor& out, const Tensor& x) {
  const int64_t planes = x.sizes()[0] * x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t oh = out.sizes()[2], ow = out.sizes()[3];
  EMBER_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for_each_plane(planes, H * W, [&](int64_t p) {
      const T* plane = xp + p * H * W;
      for_each_adaptive_window(H, W, oh, ow, [&](int64_t oy, int64_t ox, const Window& w) {
        op[(p * oh + oy) * ow + ox] = T(window_sum(plane, W, w) / A(w.area()));
      });
    });
  });
}

void adaptive_avg_pool2d_backward(const Tensor& gx, const Tensor& gout) {
  const int64_t planes = gx.sizes()[0] * gx.sizes()[1], H = gx.sizes()[2], W = gx.sizes()[3];
  const int64_t oh = gout.sizes()[2], ow = gout.sizes()[3];
  EMBER_DISPATCH_FLOATING(gx.dtype(), "adaptive_avg_pool2d_backward", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    T* gp = gx.data<T>();
    const T* go = gout.data<T>();
    for_each_plane(planes, H * W, [&](int64_t p) {
      GradPlane<T> plane(gp + p * H * W, H * W);
      for_each_adaptive_window(H, W, oh, ow, [&](int64_t oy, int64_t ox, const Window& w) {
        window_add(plane.acc, W, w, A(go[(p * oh + oy) * ow + ox]) / A(w.area()));
      });
      plane.finish();
    });
  });
}

void adaptive_max_pool2d(const Tensor& out, const Tensor& indices, const Tensor& x) {
  const int64_t planes = x.sizes()[0] * x.sizes()[1], H = x.sizes()[2], W = x.sizes()[3];
  const int64_t oh = out.sizes()[2], ow = out.sizes()[3];
  EMBER_DISPATCH_NUMERIC(x.dtype(), "adaptive_max_pool2d", [&] {
    using T = scalar_t;
    using A = typename OpMath<T>::type;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    int64_t* ip = indices.data<int64_t>();
    for_each_plane(planes, H * W, [&](int64_t p) {
      const T* plane = xp + p * H * W;
      for_each_adaptive_window(H, W, oh, ow, [&](int64_t oy, int64_t ox, const Window& w) {
        A best = A(plane[w.y0 * W + w.x0]);
        int64_t bi = w.y0 * W + w.x0;
        for (int64_t iy = w.y0; iy < w.y1 && best == best; ++iy)
          for (int64_t ix = w.x0; ix < w.x1; ++ix) {
            const A v = A(plane[iy * W + ix]);
            if (v > best || v != v) {
              best = v;
              bi = iy * W + ix;
              if (v != v) break;
            }
          }
        op[(p * oh + oy) * ow + ox] = T(best);
        ip[(p * oh + oy) * ow + ox] = bi;
      });
    });
  });
}

}  // namespace cpu
}  // namespace ember
