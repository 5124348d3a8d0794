// Factories (full, arange, linspace, eye), random fills and sorting entry points.
#include "ops/factory.h"

#include <cmath>
#include <utility>
#include <vector>

#include "core/shape.h"
#include "core/kernel_table.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

Tensor full(const DimVector& shape, const Tensor& value, ScalarType dtype) {
  Tensor out = empty(shape, dtype);
  if (out.numel()) fill_(out, value);
  return out;
}

Tensor arange(double start, double end, double step, ScalarType dtype) {
  EMBER_RUNTIME_CHECK(step != 0, "step must be nonzero");
  EMBER_RUNTIME_CHECK(std::isfinite(start) && std::isfinite(end), "unsupported range: ", start, " -> ", end);
  EMBER_RUNTIME_CHECK((step > 0 && end >= start) || (step < 0 && end <= start),
                      "upper bound and larger bound inconsistent with step sign");
  double n = std::ceil((end - start) / step);
  EMBER_RUNTIME_CHECK(n >= 0 && n < 9.2e18, "arange: invalid number of elements ", n);
  Tensor out = empty({int64_t(n)}, dtype);
  Tensor f64 = dtype == ScalarType::Float64 ? out : empty({int64_t(n)}, ScalarType::Float64);
  double* p = f64.data<double>();
  for (int64_t i = 0; i < int64_t(n); ++i) p[i] = start + double(i) * step;
  if (!f64.is_same(out)) copy_(out, f64);
  return out;
}

Tensor linspace(double start, double end, int64_t steps, ScalarType dtype) {
  EMBER_RUNTIME_CHECK(steps >= 0, "linspace: number of steps must be non-negative");
  Tensor f64 = empty({steps}, ScalarType::Float64);
  double* p = f64.data<double>();
  if (steps == 1) p[0] = start;
  if (steps > 1) {
    // fill from both ends so the last value is exactly `end`
    double step = (end - start) / double(steps - 1);
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i) p[i] = i < half ? start + step * double(i) : end - step * double(steps - 1 - i);
  }
  return to_dtype(f64, dtype);
}

Tensor eye(int64_t n, int64_t m, ScalarType dtype) {
  EMBER_RUNTIME_CHECK(n >= 0, "n must be greater or equal to 0, got ", n);
  EMBER_RUNTIME_CHECK(m >= 0, "m must be greater or equal to 0, got ", m);
  Tensor out = empty({n, m}, dtype);
  kernels_for(out).fill(out, 0.0, 0, true);
  if (std::min(n, m) > 0) kernels_for(out).fill(diagonal(out, 0, 0, 1), 0.0, 1, true);
  return out;
}

namespace {

// The integers a dtype holds exactly, [lo, hi] inclusive (floats: up to 2^(significand bits)).
std::pair<int64_t, int64_t> exact_int_range(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::Bool: return {0, 1};
    case ScalarType::UInt8: return {0, 255};
    case ScalarType::Int8: return {INT8_MIN, INT8_MAX};
    case ScalarType::Int16: return {INT16_MIN, INT16_MAX};
    case ScalarType::Int32: return {INT32_MIN, INT32_MAX};
    case ScalarType::Float16: return {-(int64_t(1) << 11), int64_t(1) << 11};
    case ScalarType::BFloat16: return {-(int64_t(1) << 8), int64_t(1) << 8};
    case ScalarType::Float32: return {-(int64_t(1) << 24), int64_t(1) << 24};
    case ScalarType::Float64: return {-(int64_t(1) << 53), int64_t(1) << 53};
    default: return {INT64_MIN, INT64_MAX};
  }
}

Generator& gen_or_default(Generator* g) { return g ? *g : *default_generator(); }

void random_into(const Tensor& self, kernels::RandomKind kind, double a, double b, Generator* gen,
                 int64_t int_low = 0, uint64_t int_span = 1) {
  check_writable(self, "random");
  if (self.numel() == 0) return;
  Generator& g = gen_or_default(gen);
  uint64_t first = g.reserve(kernels::random_blocks(self.numel(), kind, self.dtype()));
  if (self.is_contiguous()) {
    kernels_for(self).random_fill(self, kind, a, b, int_low, int_span, g.seed(), first);
  } else {
    Tensor tmp = empty(self.sizes(), self.dtype(), self.device());
    kernels_for(tmp).random_fill(tmp, kind, a, b, int_low, int_span, g.seed(), first);
    copy_(self, tmp);
  }
  self.bump_version();
}

}  // namespace

void uniform_(const Tensor& self, double from, double to, Generator* gen) {
  EMBER_RUNTIME_CHECK(from <= to, "uniform_ expects to return a [from, to) range, but found from=", from, " > to=", to);
  random_into(self, kernels::RandomKind::Uniform, from, to, gen);
}

void normal_(const Tensor& self, double mean, double std, Generator* gen) {
  EMBER_RUNTIME_CHECK(std >= 0.0, "normal expects std >= 0.0, but found std ", std);
  EMBER_TYPE_CHECK(is_floating(self.dtype()), "\"normal_\" not implemented for '", dtype_name(self.dtype()), "'");
  random_into(self, kernels::RandomKind::Normal, mean, std, gen);
}

void random_int_(const Tensor& self, int64_t low, int64_t high, Generator* gen) {
  EMBER_RUNTIME_CHECK(low < high, "random_ expects 'from' to be less than 'to', but got from=", low, " >= to=", high);
  const auto [lo, hi] = exact_int_range(self.dtype());
  EMBER_RUNTIME_CHECK(low >= lo && high - 1 <= hi, "random_ expects 'from' and 'to' - 1 to lie within [", lo, ", ", hi,
                      "] for dtype ", dtype_name(self.dtype()), ", but got from=", low, " and to=", high);
  random_into(self, kernels::RandomKind::RandInt, double(low), double(high), gen, low,
              uint64_t(high) - uint64_t(low));
}

void bernoulli_scalar_(const Tensor& self, double p, Generator* gen) {
  EMBER_RUNTIME_CHECK(p >= 0.0 && p <= 1.0, "bernoulli_ expects p to be in [0, 1], but got p=", p);
  random_into(self, kernels::RandomKind::Bernoulli, p, 0.0, gen);
}

void exponential_(const Tensor& self, double rate, Generator* gen) {
  EMBER_RUNTIME_CHECK(rate > 0.0, "exponential_ expects lambda > 0.0, but found lambda=", rate);
  random_into(self, kernels::RandomKind::Exponential, rate, 0.0, gen);
}

Tensor bernoulli(const Tensor& p, Generator* gen) {
  EMBER_TYPE_CHECK(is_floating(p.dtype()), "bernoulli expects a floating point probability tensor, got ",
                   dtype_name(p.dtype()));
  Tensor pc = contiguous(p);
  Tensor out = empty(p.sizes(), p.dtype(), p.device());
  if (out.numel() == 0) return out;
  // every probability in [0, 1] (NaN fails too), as PyTorch checks
  Tensor ok = binary_bool(BinaryBoolOp::logical_and, binary_bool(BinaryBoolOp::ge, pc, scalar_tensor(0.0, pc.dtype())),
                          binary_bool(BinaryBoolOp::le, pc, scalar_tensor(1.0, pc.dtype())));
  EMBER_RUNTIME_CHECK(item_int(all(ok, {}, false)), "bernoulli: expected every probability in [0, 1], got values outside "
                      "it (or NaN)");
  Generator& g = gen_or_default(gen);
  uint64_t first = g.reserve(kernels::random_blocks(out.numel(), kernels::RandomKind::Uniform, ScalarType::Float32));
  kernels_for(out).bernoulli_tensor(out, pc, g.seed(), first);
  return out;
}

Tensor randperm(int64_t n, ScalarType dtype, Generator* gen) {
  EMBER_RUNTIME_CHECK(n >= 0, "n must be non-negative, got", n);
  // the largest n whose values 0 .. n-1 the dtype holds exactly
  const int64_t hi = exact_int_range(dtype).second, cap = hi == INT64_MAX ? hi : hi + 1;
  EMBER_RUNTIME_CHECK(n <= cap, "randperm: n=", n, " is too large for dtype ", dtype_name(dtype), ", which holds the values 0..n-1 "
                      "exactly only up to n=", cap);
  // random 63-bit keys, stable-sorted: a uniform permutation (ties have probability ~n^2 / 2^63)
  Tensor keys = empty({n}, ScalarType::Int64);
  if (n) random_int_(keys, 0, INT64_MAX, gen);
  Tensor idx = std::get<1>(sort(keys, 0, false));
  return to_dtype(idx, dtype);
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator* gen) {
  EMBER_RUNTIME_CHECK(probs.dim() == 1 || probs.dim() == 2, "prob_dist must be 1 or 2 dim, got ", probs.dim());
  EMBER_TYPE_CHECK(is_floating(probs.dtype()), "multinomial only supports floating-point dtypes for input, got ",
                   dtype_name(probs.dtype()));
  EMBER_RUNTIME_CHECK(num_samples > 0, "cannot sample n_sample <= 0 samples");
  // drawn on the host: one pass per row over the categories
  Tensor p2 = to_device(contiguous(to_dtype(probs.dim() == 1 ? unsqueeze(probs, 0) : probs, ScalarType::Float64)),
                        Device());
  const int64_t rows = p2.sizes()[0], cats = p2.sizes()[1];
  EMBER_RUNTIME_CHECK(replacement || num_samples <= cats,
                      "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  Tensor u = empty({rows, num_samples}, ScalarType::Float64);
  uniform_(u, 0.0, 1.0, gen);
  Tensor out = empty({rows, num_samples}, ScalarType::Int64);
  const double* p = p2.data<double>();
  const double* up = u.data<double>();
  int64_t* o = out.data<int64_t>();
  std::vector<double> w(static_cast<size_t>(cats));
  for (int64_t r = 0; r < rows; ++r) {
    double total = 0;
    for (int64_t c = 0; c < cats; ++c) {
      double v = p[r * cats + c];
      EMBER_RUNTIME_CHECK(std::isfinite(v) && v >= 0, "probability tensor contains either `inf`, `nan` or element < 0");
      w[size_t(c)] = v;
      total += v;
    }
    EMBER_RUNTIME_CHECK(total > 0, "invalid multinomial distribution (sum of probabilities <= 0)");
    for (int64_t s = 0; s < num_samples; ++s) {
      double target = up[r * num_samples + s] * total, acc = 0;
      int64_t pick = cats - 1;
      for (int64_t c = 0; c < cats; ++c) {
        acc += w[size_t(c)];
        if (target < acc && w[size_t(c)] > 0) {
          pick = c;
          break;
        }
      }
      while (w[size_t(pick)] <= 0 && pick > 0) --pick;
      o[r * num_samples + s] = pick;
      if (!replacement) {
        total -= w[size_t(pick)];
        w[size_t(pick)] = 0;
        if (total <= 0 && s + 1 < num_samples) total = 0;
      }
    }
  }
  out = to_device(out, probs.device());
  return probs.dim() == 1 ? squeeze_dim(out, 0) : out;
}

std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  Tensor xv = x.dim() == 0 ? x.as_view({1}, {1}, x.offset()) : x;
  int64_t d = wrap_dim(dim, x.dim());
  Tensor values = empty(xv.sizes(), x.dtype(), x.device());
  Tensor indices = empty(xv.sizes(), ScalarType::Int64, x.device());
  if (x.numel()) kernels_for(values).sort(values, indices, xv, d, descending);
  if (x.dim() == 0) return {values.as_view({}, {}, 0), indices.as_view({}, {}, 0)};
  return {values, indices};
}

std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  (void)sorted;  // results are always sorted, which satisfies both settings
  Tensor xv = x.dim() == 0 ? x.as_view({1}, {1}, x.offset()) : x;
  int64_t d = wrap_dim(dim, x.dim());
  EMBER_RUNTIME_CHECK(k >= 0 && k <= xv.sizes()[d], "selected index k out of range (k=", k, ", size of dim ", d, " is ",
                      xv.sizes()[d], ")");
  DimVector shape = xv.sizes();
  shape[d] = k;
  Tensor values = empty(shape, x.dtype(), x.device());
  Tensor indices = empty(shape, ScalarType::Int64, x.device());
  if (values.numel()) kernels_for(values).topk(values, indices, xv, k, d, largest);
  if (x.dim() == 0) return {values.as_view({}, {}, 0), indices.as_view({}, {}, 0)};
  return {values, indices};
}

}  // namespace ops
}  // namespace ember
