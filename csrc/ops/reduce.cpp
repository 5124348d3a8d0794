// Reductions: dtype rules, identity values and result shapes; the device's reduce kernel (cpu/reduce.cpp
// for the CPU) decides how the work is split.
#include "ops/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/kernel_table.h"
#include "core/shape.h"
#include "ops/common.h"
#include "ops/pointwise.h"
#include "ops/shape.h"

namespace ember {
namespace ops {

using kernels::ReduceOp;

namespace {

using Mask = SmallVector<bool, 8>;

Mask make_mask(const Tensor& x, const DimVector& dims) {
  const int64_t nd = x.dim();
  Mask m(size_t(nd), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd);
    if (nd == 0) continue;
    EMBER_RUNTIME_CHECK(!m[size_t(w)], "dim ", w, " appears multiple times in the list of dims");
    m[size_t(w)] = true;
  }
  return m;
}

DimVector kept_shape(const Tensor& x, const Mask& m) {
  DimVector s = x.sizes();
  for (size_t d = 0; d < s.size(); ++d)
    if (m[d]) s[d] = 1;
  return s;
}

// Drops the reduced dims of a keepdim-shaped result (a view, no copy).
Tensor finish_shape(const Tensor& r, const Mask& m, bool keepdim) {
  if (keepdim) return r;
  DimVector sizes, strides;
  for (int64_t d = 0; d < r.dim(); ++d) {
    if (m[size_t(d)]) continue;
    sizes.push_back(r.sizes()[d]);
    strides.push_back(r.strides()[d]);
  }
  return r.as_view(sizes, strides, r.offset());
}

// The dtype reductions accumulate in: float32 for 16-bit floats, int64 for integer sums, bool for all/any.
ScalarType reduce_acc_dtype(ReduceOp op, ScalarType in) {
  switch (op) {
    case ReduceOp::All:
    case ReduceOp::Any: return ScalarType::Bool;
    case ReduceOp::Max:
    case ReduceOp::Min: return is_reduced_float(in) ? ScalarType::Float32 : in;
    default:
      if (in == ScalarType::Float64) return ScalarType::Float64;
      if (is_floating(in)) return ScalarType::Float32;
      return ScalarType::Int64;
  }
}

void fill_identity(ReduceOp op, const Tensor& acc) {
  const double inf = std::numeric_limits<double>::infinity();
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::NanSum:
    case ReduceOp::SumSquares: kernels_for(acc).fill(acc, 0.0, 0, true); break;
    case ReduceOp::Prod: kernels_for(acc).fill(acc, 0.0, 1, true); break;
    case ReduceOp::All: kernels_for(acc).fill(acc, 0.0, 1, true); break;
    case ReduceOp::Any: kernels_for(acc).fill(acc, 0.0, 0, true); break;
    case ReduceOp::Max:
    case ReduceOp::Min: {
      bool mx = op == ReduceOp::Max;
      switch (acc.dtype()) {
        case ScalarType::Bool: kernels_for(acc).fill(acc, 0.0, mx ? 0 : 1, true); break;
        case ScalarType::UInt8: kernels_for(acc).fill(acc, 0.0, mx ? 0 : 255, true); break;
        case ScalarType::Int8: kernels_for(acc).fill(acc, 0.0, mx ? INT8_MIN : INT8_MAX, true); break;
        case ScalarType::Int16: kernels_for(acc).fill(acc, 0.0, mx ? INT16_MIN : INT16_MAX, true); break;
        case ScalarType::Int32:
          kernels_for(acc).fill(acc, 0.0, mx ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max(), true);
          break;
        case ScalarType::Int64:
          kernels_for(acc).fill(acc, 0.0, mx ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max(), true);
          break;
        default: kernels_for(acc).fill(acc, mx ? -inf : inf, 0, false);
      }
      break;
    }
  }
}

// Reduces into a keepdim-shaped accumulator of acc_dtype.
Tensor reduce_acc(ReduceOp op, const Tensor& x, const Mask& m, ScalarType acc_dtype) {
  Tensor acc = empty(kept_shape(x, m), acc_dtype, x.device());
  fill_identity(op, acc);
  if (x.numel() > 0) kernels_for(x).reduce(op, acc, x);
  return acc;
}

ScalarType sum_result_dtype(ScalarType in, std::optional<ScalarType> dtype) {
  if (dtype) return *dtype;
  return is_floating(in) ? in : ScalarType::Int64;
}

Tensor sum_like(ReduceOp op, const Tensor& x0, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? to_dtype(x0, *dtype) : x0;
  Mask m = make_mask(x, dims);
  ScalarType out_dt = sum_result_dtype(x.dtype(), dtype);
  Tensor acc = reduce_acc(op, x, m, reduce_acc_dtype(op, x.dtype()));
  return finish_shape(to_dtype(acc, out_dt), m, keepdim);
}

Tensor minmax(ReduceOp op, const Tensor& x, const DimVector& dims, bool keepdim, const char* name) {
  Mask m = make_mask(x, dims);
  if (x.numel() == 0) {
    EMBER_RUNTIME_CHECK(!dims.empty(), name,
                        "(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction "
                        "dim with the 'dim' argument.");
    for (int64_t d = 0; d < x.dim(); ++d)
      EMBER_INDEX_CHECK(!(m[size_t(d)] && x.sizes()[d] == 0), name, "(): Expected reduction dim ", d,
                        " to have non-zero size.");
  }
  Tensor acc = reduce_acc(op, x, m, reduce_acc_dtype(op, x.dtype()));
  return finish_shape(to_dtype(acc, x.dtype()), m, keepdim);
}

void require_float(const Tensor& x, const char* name) {
  EMBER_RUNTIME_CHECK(is_floating(x.dtype()), name,
                      "(): could not infer output dtype. Input dtype must be either a floating point or complex "
                      "dtype. Got: ",
                      dtype_name(x.dtype()));
}

std::tuple<Tensor, Tensor> arg_reduce(bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  const char* name = is_max ? "max" : "min";
  Tensor src = x.dim() == 0 ? x.as_view({1}, {1}, x.offset()) : x;
  int64_t d = wrap_dim(dim, x.dim());
  EMBER_INDEX_CHECK(src.sizes()[d] > 0, name, "(): Expected reduction dim ", d, " to have non-zero size.");
  DimVector shape = src.sizes();
  shape[d] = 1;
  Tensor values = empty(shape, x.dtype(), x.device());
  Tensor indices = empty(shape, ScalarType::Int64, x.device());
  if (values.numel() > 0) kernels_for(src).arg_reduce(is_max, src, d, values, indices);
  if (x.dim() == 0) return {values.as_view({}, {}, 0), indices.as_view({}, {}, 0)};
  if (!keepdim) return {squeeze_dim(values, d), squeeze_dim(indices, d)};
  return {values, indices};
}

Tensor arg_only(bool is_max, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const char* name = is_max ? "argmax" : "argmin";
  if (!dim) {
    EMBER_RUNTIME_CHECK(x.numel() > 0, name, "(): Expected reduction dim to be specified for input.numel() == 0.");
    Tensor flat = reshape(x, {x.numel()});
    Tensor idx = std::get<1>(arg_reduce(is_max, flat, 0, false));
    if (keepdim) return idx.as_view(DimVector(size_t(x.dim()), 1), DimVector(size_t(x.dim()), 1), 0);
    return idx;
  }
  return std::get<1>(arg_reduce(is_max, x, *dim, keepdim));
}

}  // namespace

int64_t reduced_count(const Tensor& x, const DimVector& dims) {
  Mask m = make_mask(x, dims);
  int64_t n = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (m[size_t(d)]) n *= x.sizes()[d];
  return n;
}

Tensor sum(const Tensor& x, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype) {
  return sum_like(ReduceOp::Sum, x, dims, keepdim, dtype);
}

Tensor nansum(const Tensor& x, const DimVector& dims, bool keepdim) {
  return sum_like(ReduceOp::NanSum, x, dims, keepdim, std::nullopt);
}

Tensor prod(const Tensor& x, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype) {
  return sum_like(ReduceOp::Prod, x, dims, keepdim, dtype);
}

Tensor mean(const Tensor& x0, const DimVector& dims, bool keepdim, std::optional<ScalarType> dtype) {
  Tensor x = dtype ? to_dtype(x0, *dtype) : x0;
  require_float(x, "mean");
  Mask m = make_mask(x, dims);
  Tensor acc = reduce_acc(ReduceOp::Sum, x, m, reduce_acc_dtype(ReduceOp::Sum, x.dtype()));
  int64_t n = reduced_count(x, dims);
  Tensor r = binary(BinaryOp::div, acc, scalar_tensor(double(n), acc.dtype()));
  return finish_shape(to_dtype(r, x.dtype()), m, keepdim);
}

Tensor amax(const Tensor& x, const DimVector& dims, bool keepdim) { return minmax(ReduceOp::Max, x, dims, keepdim, "amax"); }
Tensor amin(const Tensor& x, const DimVector& dims, bool keepdim) { return minmax(ReduceOp::Min, x, dims, keepdim, "amin"); }

Tensor all(const Tensor& x, const DimVector& dims, bool keepdim) {
  Mask m = make_mask(x, dims);
  return finish_shape(reduce_acc(ReduceOp::All, x, m, ScalarType::Bool), m, keepdim);
}

Tensor any(const Tensor& x, const DimVector& dims, bool keepdim) {
  Mask m = make_mask(x, dims);
  return finish_shape(reduce_acc(ReduceOp::Any, x, m, ScalarType::Bool), m, keepdim);
}

std::tuple<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(true, x, dim, keepdim); }
std::tuple<Tensor, Tensor> min_dim(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce(false, x, dim, keepdim); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_only(true, x, dim, keepdim); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return arg_only(false, x, dim, keepdim); }

std::tuple<Tensor, Tensor> var_mean(const Tensor& x, const DimVector& dims, double correction, bool keepdim) {
  require_float(x, "var");
  Mask m = make_mask(x, dims);
  ScalarType acc_dt = reduce_acc_dtype(ReduceOp::Sum, x.dtype());
  Tensor xa = to_dtype(x, acc_dt);
  int64_t n = reduced_count(x, dims);
  Tensor s = reduce_acc(ReduceOp::Sum, xa, m, acc_dt);
  Tensor mu = binary(BinaryOp::div, s, scalar_tensor(double(n), acc_dt));
  Tensor diff = binary(BinaryOp::sub, xa, mu);
  Tensor ss = reduce_acc(ReduceOp::SumSquares, diff, m, acc_dt);
  double denom = std::max(0.0, double(n) - correction);
  Tensor v = binary(BinaryOp::div, ss, scalar_tensor(denom, acc_dt));
  return {finish_shape(to_dtype(v, x.dtype()), m, keepdim), finish_shape(to_dtype(mu, x.dtype()), m, keepdim)};
}

Tensor var(const Tensor& x, const DimVector& dims, double correction, bool keepdim) {
  return std::get<0>(var_mean(x, dims, correction, keepdim));
}

Tensor std(const Tensor& x, const DimVector& dims, double correction, bool keepdim) {
  return unary(UnaryOp::sqrt, var(x, dims, correction, keepdim));
}

Tensor norm(const Tensor& x, double p, const DimVector& dims, bool keepdim) {
  EMBER_RUNTIME_CHECK(is_floating(x.dtype()), "linalg.vector_norm: Expected a floating point tensor as input. Got ",
                      dtype_name(x.dtype()));
  Mask m = make_mask(x, dims);
  ScalarType acc_dt = reduce_acc_dtype(ReduceOp::Sum, x.dtype());
  Tensor r;
  if (p == 2.0) {
    r = unary(UnaryOp::sqrt, reduce_acc(ReduceOp::SumSquares, x, m, acc_dt));
  } else if (p == 1.0) {
    r = reduce_acc(ReduceOp::Sum, unary(UnaryOp::abs, x), m, acc_dt);
  } else if (std::isinf(p)) {
    if (x.numel() == 0) {
      r = reduce_acc(ReduceOp::Sum, x, m, acc_dt);  // zeros: PyTorch gives 0 for an empty inf-norm of kept dims
    } else {
      r = reduce_acc(p > 0 ? ReduceOp::Max : ReduceOp::Min, to_dtype(unary(UnaryOp::abs, x), acc_dt), m, acc_dt);
    }
  } else if (p == 0.0) {
    Tensor nz = to_dtype(binary_bool(BinaryBoolOp::ne, x, scalar_tensor(0.0, x.dtype())), acc_dt);
    r = reduce_acc(ReduceOp::Sum, nz, m, acc_dt);
  } else {
    Tensor powed = binary(BinaryOp::pow, to_dtype(unary(UnaryOp::abs, x), acc_dt), scalar_tensor(p, acc_dt));
    r = binary(BinaryOp::pow, reduce_acc(ReduceOp::Sum, powed, m, acc_dt), scalar_tensor(1.0 / p, acc_dt));
  }
  return finish_shape(to_dtype(r, x.dtype()), m, keepdim);
}

Tensor logsumexp(const Tensor& x0, const DimVector& dims, bool keepdim) {
  Tensor x = is_floating(x0.dtype()) ? x0 : to_dtype(x0, default_dtype());
  Mask m = make_mask(x, dims);
  if (x.numel() == 0) {
    Tensor s = reduce_acc(ReduceOp::Sum, unary(UnaryOp::exp, x), m, reduce_acc_dtype(ReduceOp::Sum, x.dtype()));
    return finish_shape(to_dtype(unary(UnaryOp::log, s), x.dtype()), m, keepdim);
  }
  ScalarType acc_dt = reduce_acc_dtype(ReduceOp::Sum, x.dtype());
  Tensor xa = to_dtype(x, acc_dt);
  Tensor mx = reduce_acc(ReduceOp::Max, xa, m, acc_dt);
  // an all -inf (or +inf) slice would give inf - inf = nan: shift by 0 there instead
  Tensor safe = where(unary_bool(UnaryBoolOp::isinf, mx), scalar_tensor(0.0, acc_dt), mx);
  Tensor s = reduce_acc(ReduceOp::Sum, unary(UnaryOp::exp, binary(BinaryOp::sub, xa, safe)), m, acc_dt);
  Tensor r = binary(BinaryOp::add, unary(UnaryOp::log, s), safe);
  return finish_shape(to_dtype(r, x.dtype()), m, keepdim);
}

static Tensor scan(bool is_prod, const Tensor& x, int64_t dim, std::optional<ScalarType> dtype) {
  ScalarType out_dt = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : ScalarType::Int64);
  Tensor src = to_dtype(x, out_dt);
  Tensor out = empty(x.sizes(), out_dt, x.device());
  if (x.numel() == 0) return out;
  if (x.dim() == 0) {
    wrap_dim(dim, 0);
    copy_(out, src);
    return out;
  }
  int64_t d = wrap_dim(dim, x.dim());
  kernels_for(src).cumulative(is_prod, out, src, d);
  return out;
}

Tensor cumsum(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype) { return scan(false, x, dim, dtype); }
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<ScalarType> dtype) { return scan(true, x, dim, dtype); }

Tensor sum_to(const Tensor& x, const DimVector& shape) {
  if (x.sizes() == shape) return x;
  const int64_t lead = x.dim() - int64_t(shape.size());
  EMBER_RUNTIME_CHECK(lead >= 0, "sum_to: shape ", shape_str(shape), " has more dims than the tensor ",
                      shape_str(x.sizes()));
  DimVector dims;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      dims.push_back(d);
    } else {
      int64_t want = shape[size_t(d - lead)];
      if (want == 1 && x.sizes()[d] != 1) dims.push_back(d);
      else
        EMBER_RUNTIME_CHECK(want == x.sizes()[d], "sum_to: tensor of shape ", shape_str(x.sizes()),
                            " cannot be summed to shape ", shape_str(shape));
    }
  }
  if (dims.empty()) return reshape(x, shape);
  Tensor s = sum(x, dims, true, x.dtype());
  return reshape(s, shape);
}

}  // namespace ops
}  // namespace ember
