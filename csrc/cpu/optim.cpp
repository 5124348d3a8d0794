// Fused optimizer updates (SGD, Adam/AdamW, Adagrad, RMSprop, Adamax, NAdam) following PyTorch's documented
// update rules step for step. Each kernel reads param, grad and state once and writes them once; arithmetic
// runs in opmath (float for float32/float16/bfloat16, double for float64), like PyTorch's foreach kernels.
#include "cpu/optim.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/dispatch.h"
#include "core/parallel.h"

namespace ember {
namespace cpu {

namespace {

// Threads split the concatenation of all segments, so many small parameters cost one parallel region.
constexpr int64_t kOptimGrain = 16384;

template <class F>
void for_each_range(const std::vector<OptimSegment>& segs, const F& f) {
  std::vector<int64_t> start(segs.size() + 1, 0);
  for (size_t i = 0; i < segs.size(); ++i) start[i + 1] = start[i] + segs[i].n;
  parallel_for(0, start.back(), kOptimGrain, [&](int64_t b, int64_t e) {
    size_t i = size_t(std::upper_bound(start.begin(), start.end(), b) - start.begin()) - 1;
    while (b < e) {
      int64_t seg_end = std::min(e, start[i + 1]);
      if (seg_end > b) f(segs[i], b - start[i], seg_end - start[i]);
      b = seg_end;
      ++i;
    }
  });
}

// torch.maximum: NaN in either operand wins (std::max would drop it).
template <class T>
inline T max_propagate_nan(T a, T b) {
  return (a != a) ? a : ((b != b) ? b : (a > b ? a : b));
}

// Calls f(std::integral_constant<bool, a>, std::integral_constant<bool, b>): the flags that change the inner
// loop's shape become template parameters so every variant vectorises without branches.
template <class F>
void with_flags(bool a, bool b, const F& f) {
  using T = std::true_type;
  using N = std::false_type;
  if (a) {
    if (b) f(T{}, T{}); else f(T{}, N{});
  } else {
    if (b) f(N{}, T{}); else f(N{}, N{});
  }
}

// ------------------------------------------------------------------------------------------------ SGD

template <class scalar_t>
void sgd_impl(const std::vector<OptimSegment>& segs, const SgdOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const acc_t lr = acc_t(o.lr), momentum = acc_t(o.momentum), wd = acc_t(o.weight_decay);
  const acc_t keep = acc_t(1.0 - o.dampening), sign = o.maximize ? acc_t(-1) : acc_t(1);
  with_flags(o.weight_decay != 0.0, o.momentum != 0.0, [&](auto WD, auto MOM) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict buf = static_cast<scalar_t*>(s.state[0]);
      const bool fresh = s.fresh, nesterov = o.nesterov;
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]);
        acc_t d = sign * acc_t(g[i]);
        if (WD) d = d + wd * pi;
        if (MOM) {
          // a new buffer starts as the gradient itself (no dampening on the first step, as in PyTorch)
          acc_t bi = fresh ? d : momentum * acc_t(buf[i]) + keep * d;
          buf[i] = scalar_t(bi);
          bi = acc_t(scalar_t(bi));
          d = nesterov ? d + momentum * bi : bi;
        }
        p[i] = scalar_t(pi - lr * d);
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ Adam

template <class scalar_t>
void adam_impl(const std::vector<OptimSegment>& segs, const AdamOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const bool coupled = o.weight_decay != 0.0 && !o.decoupled_weight_decay;
  const acc_t b2 = acc_t(o.beta2), one_minus_b1 = acc_t(1.0 - o.beta1);
  const acc_t one_minus_b2 = acc_t(1.0 - o.beta2), eps = acc_t(o.eps), wd = acc_t(o.weight_decay);
  // AdamW shrinks the parameter before the update: p *= 1 - lr * weight_decay
  const acc_t shrink = acc_t(o.decoupled_weight_decay ? 1.0 - o.lr * o.weight_decay : 1.0);
  const acc_t sign = o.maximize ? acc_t(-1) : acc_t(1);
  with_flags(coupled, o.amsgrad, [&](auto WD, auto AMS) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict m = static_cast<scalar_t*>(s.state[0]);
      scalar_t* __restrict v = static_cast<scalar_t*>(s.state[1]);
      scalar_t* __restrict vmax = static_cast<scalar_t*>(s.state[2]);
      const acc_t step_size = acc_t(s.c[0]), bc2_sqrt = acc_t(s.c[1]);
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]) * shrink;
        acc_t gi = sign * acc_t(g[i]);
        if (WD) gi = gi + wd * pi;
        acc_t mi = acc_t(m[i]);
        mi = mi + one_minus_b1 * (gi - mi);  // exp_avg.lerp_(grad, 1 - beta1)
        acc_t vi = b2 * acc_t(v[i]) + one_minus_b2 * gi * gi;
        m[i] = scalar_t(mi);
        v[i] = scalar_t(vi);
        mi = acc_t(scalar_t(mi));
        vi = acc_t(scalar_t(vi));
        if (AMS) {
          vi = max_propagate_nan(acc_t(vmax[i]), vi);
          vmax[i] = scalar_t(vi);
        }
        acc_t denom = std::sqrt(vi) / bc2_sqrt + eps;
        p[i] = scalar_t(pi - step_size * mi / denom);
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ Adagrad

template <class scalar_t>
void adagrad_impl(const std::vector<OptimSegment>& segs, const AdagradOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const acc_t wd = acc_t(o.weight_decay), eps = acc_t(o.eps), sign = o.maximize ? acc_t(-1) : acc_t(1);
  with_flags(o.weight_decay != 0.0, false, [&](auto WD, auto) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict sum = static_cast<scalar_t*>(s.state[0]);
      const acc_t clr = acc_t(s.c[0]);
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]);
        acc_t gi = sign * acc_t(g[i]);
        if (WD) gi = gi + wd * pi;
        acc_t si = acc_t(scalar_t(acc_t(sum[i]) + gi * gi));
        sum[i] = scalar_t(si);
        p[i] = scalar_t(pi - clr * gi / (std::sqrt(si) + eps));
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ RMSprop

template <class scalar_t>
void rmsprop_impl(const std::vector<OptimSegment>& segs, const RmspropOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const acc_t lr = acc_t(o.lr), alpha = acc_t(o.alpha), one_minus_alpha = acc_t(1.0 - o.alpha);
  const acc_t eps = acc_t(o.eps), wd = acc_t(o.weight_decay), momentum = acc_t(o.momentum);
  const acc_t sign = o.maximize ? acc_t(-1) : acc_t(1);
  const bool has_wd = o.weight_decay != 0.0, has_momentum = o.momentum > 0.0;
  with_flags(o.centered, has_momentum, [&](auto CENTERED, auto MOM) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict sq = static_cast<scalar_t*>(s.state[0]);
      scalar_t* __restrict gavg = static_cast<scalar_t*>(s.state[1]);
      scalar_t* __restrict buf = static_cast<scalar_t*>(s.state[2]);
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]);
        acc_t gi = sign * acc_t(g[i]);
        if (has_wd) gi = gi + wd * pi;
        acc_t si = acc_t(scalar_t(alpha * acc_t(sq[i]) + one_minus_alpha * gi * gi));
        sq[i] = scalar_t(si);
        acc_t avg;
        if (CENTERED) {
          acc_t ai = acc_t(gavg[i]);
          ai = acc_t(scalar_t(ai + one_minus_alpha * (gi - ai)));  // grad_avg.lerp_(grad, 1 - alpha)
          gavg[i] = scalar_t(ai);
          avg = std::sqrt(si - ai * ai) + eps;
        } else {
          avg = std::sqrt(si) + eps;
        }
        if (MOM) {
          acc_t bi = acc_t(scalar_t(momentum * acc_t(buf[i]) + gi / avg));
          buf[i] = scalar_t(bi);
          p[i] = scalar_t(pi - lr * bi);
        } else {
          p[i] = scalar_t(pi - lr * gi / avg);
        }
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ Adamax

template <class scalar_t>
void adamax_impl(const std::vector<OptimSegment>& segs, const AdamaxOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const acc_t b2 = acc_t(o.beta2), one_minus_b1 = acc_t(1.0 - o.beta1), eps = acc_t(o.eps);
  const acc_t wd = acc_t(o.weight_decay), sign = o.maximize ? acc_t(-1) : acc_t(1);
  with_flags(o.weight_decay != 0.0, false, [&](auto WD, auto) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict m = static_cast<scalar_t*>(s.state[0]);
      scalar_t* __restrict u = static_cast<scalar_t*>(s.state[1]);
      const acc_t clr = acc_t(s.c[0]);
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]);
        acc_t gi = sign * acc_t(g[i]);
        if (WD) gi = gi + wd * pi;
        acc_t mi = acc_t(m[i]);
        mi = acc_t(scalar_t(mi + one_minus_b1 * (gi - mi)));
        m[i] = scalar_t(mi);
        // exp_inf = max(beta2 * exp_inf, |grad| + eps)
        acc_t ui = max_propagate_nan(acc_t(scalar_t(b2 * acc_t(u[i]))), acc_t(scalar_t(std::abs(gi) + eps)));
        u[i] = scalar_t(ui);
        p[i] = scalar_t(pi - clr * mi / ui);
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ NAdam

template <class scalar_t>
void nadam_impl(const std::vector<OptimSegment>& segs, const NadamOptions& o) {
  using acc_t = opmath_t<scalar_t>;
  const bool coupled = o.weight_decay != 0.0 && !o.decoupled_weight_decay;
  const acc_t b2 = acc_t(o.beta2), one_minus_b1 = acc_t(1.0 - o.beta1), one_minus_b2 = acc_t(1.0 - o.beta2);
  const acc_t eps = acc_t(o.eps), wd = acc_t(o.weight_decay), sign = o.maximize ? acc_t(-1) : acc_t(1);
  const acc_t shrink = acc_t(o.decoupled_weight_decay ? 1.0 - o.lr * o.weight_decay : 1.0);
  with_flags(coupled, false, [&](auto WD, auto) {
    for_each_range(segs, [&](const OptimSegment& s, int64_t b, int64_t e) {
      scalar_t* __restrict p = static_cast<scalar_t*>(s.param);
      const scalar_t* __restrict g = static_cast<const scalar_t*>(s.grad);
      scalar_t* __restrict m = static_cast<scalar_t*>(s.state[0]);
      scalar_t* __restrict v = static_cast<scalar_t*>(s.state[1]);
      const acc_t bc2 = acc_t(s.c[0]), c_grad = acc_t(s.c[1]), c_avg = acc_t(s.c[2]);
      for (int64_t i = b; i < e; ++i) {
        acc_t pi = acc_t(p[i]) * shrink;
        acc_t gi = sign * acc_t(g[i]);
        if (WD) gi = gi + wd * pi;
        acc_t mi = acc_t(m[i]);
        mi = acc_t(scalar_t(mi + one_minus_b1 * (gi - mi)));
        acc_t vi = acc_t(scalar_t(b2 * acc_t(v[i]) + one_minus_b2 * gi * gi));
        m[i] = scalar_t(mi);
        v[i] = scalar_t(vi);
        acc_t denom = std::sqrt(vi / bc2) + eps;
        // two addcdiv_ in PyTorch's order: the gradient term, then the momentum term
        pi = pi + c_grad * gi / denom;
        p[i] = scalar_t(pi + c_avg * mi / denom);
      }
    });
  });
}

}  // namespace

void sgd(ScalarType dtype, const std::vector<OptimSegment>& segs, const SgdOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "sgd", [&] { sgd_impl<scalar_t>(segs, o); });
}

void adam(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adam", [&] { adam_impl<scalar_t>(segs, o); });
}

void adagrad(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdagradOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adagrad", [&] { adagrad_impl<scalar_t>(segs, o); });
}

void rmsprop(ScalarType dtype, const std::vector<OptimSegment>& segs, const RmspropOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "rmsprop", [&] { rmsprop_impl<scalar_t>(segs, o); });
}

void adamax(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamaxOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adamax", [&] { adamax_impl<scalar_t>(segs, o); });
}

void nadam(ScalarType dtype, const std::vector<OptimSegment>& segs, const NadamOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "nadam", [&] { nadam_impl<scalar_t>(segs, o); });
}

}  // namespace cpu
}  // namespace ember
