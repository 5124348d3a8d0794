// Pointwise entry points. float16/bfloat16 inputs are computed in float32 (the kernels have no 16-bit
// copies), integer inputs to float-only ops promote to the default dtype, like PyTorch.
#include "ops/pointwise.h"

#include "core/shape.h"
#include "core/kernel_table.h"
#include "iter/tensor_iter.h"
#include "ops/common.h"
#include "ops/reduce.h"

namespace ember {
namespace ops {

namespace {

enum class Cls { FLOAT, NUMERIC, ALL, INTEGRAL };

#define EMBER_NAME(name, cls, ...) #name,
#define EMBER_CLS(name, cls, ...) Cls::cls,
const char* const kUnaryNames[] = {EMBER_UNARY_OPS(EMBER_NAME)};
const Cls kUnaryCls[] = {EMBER_UNARY_OPS(EMBER_CLS)};
const char* const kUnaryBoolNames[] = {EMBER_UNARY_BOOL_OPS(EMBER_NAME)};
const char* const kUnaryParamNames[] = {EMBER_UNARY_PARAM_OPS(EMBER_NAME)};
const Cls kUnaryParamCls[] = {EMBER_UNARY_PARAM_OPS(EMBER_CLS)};
const char* const kBinaryNames[] = {EMBER_BINARY_OPS(EMBER_NAME)};
const Cls kBinaryCls[] = {EMBER_BINARY_OPS(EMBER_CLS)};
const char* const kBinaryBoolNames[] = {EMBER_BINARY_BOOL_OPS(EMBER_NAME)};
#undef EMBER_NAME
#undef EMBER_CLS

// The dtype a kernel of class `cls` computes in for input dtype `dt`, and the dtype of its result.
struct Plan {
  ScalarType compute, result;
};

Plan plan_for(Cls cls, ScalarType dt, const char* name) {
  switch (cls) {
    case Cls::FLOAT:
      if (!is_floating(dt)) return {default_dtype() == ScalarType::Float64 ? ScalarType::Float64 : ScalarType::Float32,
                                    default_dtype()};
      break;
    case Cls::NUMERIC:
      EMBER_TYPE_CHECK(dt != ScalarType::Bool, "\"", name, "\" not implemented for 'bool'");
      break;
    case Cls::INTEGRAL:
      EMBER_TYPE_CHECK(!is_floating(dt), "\"", name, "\" not implemented for '", dtype_name(dt),
                       "' (only integer and bool tensors)");
      break;
    case Cls::ALL: break;
  }
  return {dt, dt};  // float16/bfloat16 compute in float32 inside the kernels
}

// Kernel output: the final tensor when it already has the compute dtype, else a float32 scratch.
Tensor compute_out(const Tensor& final_out, ScalarType compute) {
  return final_out.dtype() == compute ? final_out : empty(final_out.sizes(), compute, final_out.device());
}

void finish(const Tensor& final_out, const Tensor& computed) {
  if (!final_out.is_same(computed)) copy_(final_out, computed);
}

}  // namespace

const char* op_name(UnaryOp op) { return kUnaryNames[int(op)]; }
const char* op_name(BinaryOp op) { return kBinaryNames[int(op)]; }
const char* op_name(BinaryBoolOp op) { return kBinaryBoolNames[int(op)]; }
const char* op_name(UnaryBoolOp op) { return kUnaryBoolNames[int(op)]; }
const char* op_name(UnaryParamOp op) { return kUnaryParamNames[int(op)]; }

// ----------------------------------------------------------------------------------------------- unary

static void run_unary(UnaryOp op, const Tensor& out, const Tensor& x, const Plan& p) {
  Tensor xin = to_dtype(x, p.compute);
  Tensor o = compute_out(out, p.compute);
  TensorIter it = TensorIter::build({&o, &xin}, x.sizes());
  kernels_for(o).unary(op, it, p.compute);
  finish(out, o);
}

Tensor unary(UnaryOp op, const Tensor& x) {
  Plan p = plan_for(kUnaryCls[int(op)], x.dtype(), op_name(op));
  Tensor out = alloc_like_layout(x.sizes(), p.result, x);
  run_unary(op, out, x, p);
  return out;
}

void unary_(UnaryOp op, const Tensor& self) {
  check_writable(self, op_name(op));
  Plan p = plan_for(kUnaryCls[int(op)], self.dtype(), op_name(op));
  EMBER_RUNTIME_CHECK(p.result == self.dtype(), "result type ", dtype_name(p.result),
                      " can't be cast to the desired output type ", dtype_name(self.dtype()), " (in-place ",
                      op_name(op), "_)");
  run_unary(op, self, self, p);
  self.bump_version();
}

Tensor unary_bool(UnaryBoolOp op, const Tensor& x) {
  Tensor out = alloc_like_layout(x.sizes(), ScalarType::Bool, x);
  TensorIter it = TensorIter::build({&out, &x}, x.sizes());
  kernels_for(out).unary_bool(op, it, x.dtype());
  return out;
}

static void run_unary_param(UnaryParamOp op, const Tensor& out, const Tensor& x, const Plan& p, double p0, double p1,
                            double p2) {
  Tensor xin = to_dtype(x, p.compute);
  Tensor o = compute_out(out, p.compute);
  TensorIter it = TensorIter::build({&o, &xin}, x.sizes());
  kernels_for(o).unary_param(op, it, p.compute, p0, p1, p2);
  finish(out, o);
}

Tensor unary_param(UnaryParamOp op, const Tensor& x, double p0, double p1, double p2) {
  Plan p = plan_for(kUnaryParamCls[int(op)], x.dtype(), op_name(op));
  Tensor out = alloc_like_layout(x.sizes(), p.result, x);
  run_unary_param(op, out, x, p, p0, p1, p2);
  return out;
}

void unary_param_(UnaryParamOp op, const Tensor& self, double p0, double p1, double p2) {
  check_writable(self, op_name(op));
  Plan p = plan_for(kUnaryParamCls[int(op)], self.dtype(), op_name(op));
  EMBER_RUNTIME_CHECK(p.result == self.dtype(), "result type ", dtype_name(p.result),
                      " can't be cast to the desired output type ", dtype_name(self.dtype()));
  run_unary_param(op, self, self, p, p0, p1, p2);
  self.bump_version();
}

// ----------------------------------------------------------------------------------------------- binary

static void check_int_divisor(BinaryOp op, ScalarType compute, const Tensor& b) {
  if (is_floating(compute)) return;
  if (op == BinaryOp::pow && compute != ScalarType::UInt8 && compute != ScalarType::Bool) {
    Tensor neg = binary_bool(BinaryBoolOp::lt, b, scalar_tensor_int(0, b.dtype()));
    EMBER_RUNTIME_CHECK(!item_int(any(neg, {}, false)), "Integers to negative integer powers are not allowed.");
    return;
  }
  if (op != BinaryOp::floor_divide && op != BinaryOp::remainder && op != BinaryOp::fmod) return;
  Tensor zero = binary_bool(BinaryBoolOp::eq, b, scalar_tensor_int(0, b.dtype()));
  if (item_int(any(zero, {}, false))) throw ZeroDivisionError(str(op_name(op), ": integer division by zero"));
}

// PyTorch computes a 16-bit mul or div by a CPU scalar of another dtype with the scalar at float precision
// (other ops round it to the 16-bit type first): 1 or 2, the input position of such a scalar, else 0.
static int float_scalar_position(BinaryOp op, ScalarType compute, const Tensor& a, const Tensor& b) {
  if (!is_reduced_float(compute) || (op != BinaryOp::mul && op != BinaryOp::div)) return 0;
  auto scalar = [&](const Tensor& t) { return t.dim() == 0 && t.dtype() != compute && t.device().is_cpu(); };
  return scalar(b) ? 2 : scalar(a) ? 1 : 0;
}

// a0, b0: the operands as given (a CPU scalar among them is read on the host); a, b: on the op's device.
static void run_binary(BinaryOp op, const Tensor& out, const Tensor& a0, const Tensor& b0, const Tensor& a,
                       const Tensor& b, const Plan& p) {
  Tensor o = compute_out(out, p.compute);
  if (int pos = float_scalar_position(op, p.compute, a0, b0)) {
    Tensor tin = to_dtype(pos == 2 ? a : b, p.compute);
    TensorIter it = TensorIter::build({&o, &tin}, out.sizes());
    it.scalar_operand = pos;
    it.scalar_value = float(item_double(pos == 2 ? b0 : a0));
    kernels_for(o).binary(op, it, p.compute);
    finish(out, o);
    return;
  }
  Tensor ain = to_dtype(a, p.compute), bin = to_dtype(b, p.compute);
  check_int_divisor(op, p.compute, bin);
  TensorIter it = TensorIter::build({&o, &ain, &bin}, out.sizes());
  kernels_for(o).binary(op, it, p.compute);
  finish(out, o);
}

Tensor binary(BinaryOp op, const Tensor& a0, const Tensor& b0) {
  const Device dev = common_device({&a0, &b0}, op_name(op));
  const Tensor a = on_device(a0, dev), b = on_device(b0, dev);
  ScalarType dt = result_type({&a, &b});
  Plan p = plan_for(kBinaryCls[int(op)], dt, op_name(op));
  DimVector shape = a.sizes() == b.sizes() ? a.sizes() : broadcast_shapes(a.sizes(), b.sizes());
  Tensor out = alloc_like_layout(shape, p.result, a);
  run_binary(op, out, a0, b0, a, b, p);
  return out;
}

static void check_inplace_shape(const Tensor& self, const Tensor& other, const char* op) {
  if (self.sizes() == other.sizes()) return;
  DimVector shape = broadcast_shapes(self.sizes(), other.sizes());
  EMBER_RUNTIME_CHECK(shape == self.sizes(), op, ": output with shape ", shape_str(self.sizes()),
                      " doesn't match the broadcast shape ", shape_str(shape));
}

static void check_inplace_dtype(ScalarType result, ScalarType self, const char* op) {
  bool ok = is_floating(self) || (!is_floating(result) && (self != ScalarType::Bool || result == ScalarType::Bool));
  EMBER_RUNTIME_CHECK(ok, op, ": result type ", dtype_name(result), " can't be cast to the desired output type ",
                      dtype_name(self));
}

void binary_(BinaryOp op, const Tensor& self, const Tensor& other0) {
  check_writable(self, op_name(op));
  const Tensor other = on_device(other0, common_device({&self, &other0}, op_name(op)));
  check_same_device(self, other, op_name(op));
  check_inplace_shape(self, other, op_name(op));
  ScalarType dt = result_type({&self, &other});
  Plan p = plan_for(kBinaryCls[int(op)], dt, op_name(op));
  check_inplace_dtype(p.result, self.dtype(), op_name(op));
  // Compute in self's dtype when it is the wider float (e.g. float32 self += float64 0-d tensor).
  if (is_floating(self.dtype()) && p.compute != self.dtype() && !is_reduced_float(self.dtype()))
    p.compute = self.dtype();
  run_binary(op, self, self, other0, self, other, p);
  self.bump_version();
}

static void run_binary_bool(BinaryBoolOp op, const Tensor& out, const Tensor& a0, const Tensor& b0) {
  const Device dev = common_device({&out, &a0, &b0}, op_name(op));
  const Tensor a = on_device(a0, dev), b = on_device(b0, dev);
  ScalarType dt = result_type({&a, &b});
  Tensor ain = to_dtype(a, dt), bin = to_dtype(b, dt);
  Tensor o = compute_out(out, ScalarType::Bool);
  TensorIter it = TensorIter::build({&o, &ain, &bin}, out.sizes());
  kernels_for(o).binary_bool(op, it, dt);
  finish(out, o);
}

Tensor binary_bool(BinaryBoolOp op, const Tensor& a, const Tensor& b) {
  DimVector shape = a.sizes() == b.sizes() ? a.sizes() : broadcast_shapes(a.sizes(), b.sizes());
  Tensor out = alloc_like_layout(shape, ScalarType::Bool, on_device(a, common_device({&a, &b}, op_name(op))));
  run_binary_bool(op, out, a, b);
  return out;
}

void binary_bool_(BinaryBoolOp op, const Tensor& self, const Tensor& other) {
  check_writable(self, op_name(op));
  check_inplace_shape(self, other, op_name(op));
  run_binary_bool(op, self, self, other);
  self.bump_version();
}

// ----------------------------------------------------------------------------------------------- ternary

Tensor where(const Tensor& cond0, const Tensor& a0, const Tensor& b0) {
  const Device dev = common_device({&cond0, &a0, &b0}, "where");
  const Tensor cond = on_device(cond0, dev), a = on_device(a0, dev), b = on_device(b0, dev);
  EMBER_TYPE_CHECK(cond.dtype() == ScalarType::Bool || cond.dtype() == ScalarType::UInt8,
                   "where expected condition to be a boolean tensor, but got a tensor with dtype ",
                   dtype_name(cond.dtype()));
  ScalarType dt = result_type({&a, &b});
  Tensor c = to_dtype(cond, ScalarType::Bool);
  Tensor ain = to_dtype(a, dt), bin = to_dtype(b, dt);
  DimVector shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes()), b.sizes());
  Tensor out = empty(shape, dt, a.device());
  TensorIter it = TensorIter::build({&out, &c, &ain, &bin}, shape);
  kernels_for(out).where(it, itemsize(dt));
  return out;
}

static void run_clamp(const Tensor& out, const Tensor& x, const Tensor& lo0, const Tensor& hi0, ScalarType dt) {
  const Device dev = common_device({&out, &x, &lo0, &hi0}, "clamp");
  const Tensor lo = on_device(lo0, dev), hi = on_device(hi0, dev);
  const ScalarType c = dt;
  Tensor xin = to_dtype(on_device(x, dev), c);
  Tensor l = lo.defined() ? to_dtype(lo, c) : on_device(scalar_tensor(0, c), dev);
  Tensor h = hi.defined() ? to_dtype(hi, c) : on_device(scalar_tensor(0, c), dev);
  Tensor o = compute_out(out, c);
  TensorIter it = TensorIter::build({&o, &xin, &l, &h}, out.sizes());
  kernels_for(o).clamp(it, c, lo.defined(), hi.defined());
  finish(out, o);
}

Tensor clamp(const Tensor& x, const Tensor& lo, const Tensor& hi) {
  EMBER_RUNTIME_CHECK(lo.defined() || hi.defined(), "torch.clamp: At least one of 'min' or 'max' must not be None");
  ScalarType dt = result_type({&x, &lo, &hi});
  EMBER_TYPE_CHECK(dt != ScalarType::Bool, "\"clamp\" not implemented for 'bool'");
  DimVector shape = x.sizes();
  if (lo.defined()) shape = broadcast_shapes(shape, lo.sizes());
  if (hi.defined()) shape = broadcast_shapes(shape, hi.sizes());
  Tensor out = alloc_like_layout(shape, dt, on_device(x, common_device({&x, &lo, &hi}, "clamp")));
  run_clamp(out, x, lo, hi, dt);
  return out;
}

void clamp_(const Tensor& self, const Tensor& lo, const Tensor& hi) {
  EMBER_RUNTIME_CHECK(lo.defined() || hi.defined(), "torch.clamp: At least one of 'min' or 'max' must not be None");
  check_writable(self, "clamp_");
  if (lo.defined()) check_inplace_shape(self, lo, "clamp_");
  if (hi.defined()) check_inplace_shape(self, hi, "clamp_");
  ScalarType dt = result_type({&self, &lo, &hi});
  check_inplace_dtype(dt, self.dtype(), "clamp_");
  run_clamp(self, self, lo, hi, self.dtype());
  self.bump_version();
}

static void run_addcmul(const Tensor& out, const Tensor& a0, const Tensor& b0, const Tensor& c0, double value,
                        bool divide, ScalarType dt) {
  const Device dev = common_device({&out, &a0, &b0, &c0}, divide ? "addcdiv" : "addcmul");
  const Tensor a = on_device(a0, dev), b = on_device(b0, dev), c = on_device(c0, dev);
  const ScalarType cd = dt;
  Tensor ai = to_dtype(a, cd), bi = to_dtype(b, cd), ci = to_dtype(c, cd);
  Tensor o = compute_out(out, cd);
  TensorIter it = TensorIter::build({&o, &ai, &bi, &ci}, out.sizes());
  kernels_for(o).addcmul(it, cd, value, divide);
  finish(out, o);
}

// PyTorch refuses addcdiv of two integer tensors (it once truncated the quotient); an integer division by zero
// would also trap in the kernel
static void check_addcdiv_operands(const Tensor& b, const Tensor& c) {
  EMBER_RUNTIME_CHECK(is_floating(b.dtype()) || is_floating(c.dtype()),
                      "Integer division with addcdiv is no longer supported, and in a future release addcdiv will "
                      "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                      "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
                      "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv "
                      "behavior is just the latter implementation: (input + value * tensor1 / tensor2), for all "
                      "dtypes.");
}

Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c, double value, bool divide) {
  if (divide) check_addcdiv_operands(b, c);
  ScalarType dt = result_type({&a, &b, &c});
  DimVector shape = broadcast_shapes(broadcast_shapes(a.sizes(), b.sizes()), c.sizes());
  Tensor out = alloc_like_layout(shape, dt, on_device(a, common_device({&a, &b, &c}, divide ? "addcdiv" : "addcmul")));
  run_addcmul(out, a, b, c, value, divide, dt);
  return out;
}

void addcmul_(const Tensor& self, const Tensor& b, const Tensor& c, double value, bool divide) {
  const char* op = divide ? "addcdiv_" : "addcmul_";
  check_writable(self, op);
  if (divide) check_addcdiv_operands(b, c);
  check_inplace_dtype(result_type({&self, &b, &c}), self.dtype(), op);
  DimVector shape = broadcast_shapes(broadcast_shapes(self.sizes(), b.sizes()), c.sizes());
  EMBER_RUNTIME_CHECK(shape == self.sizes(), "output with shape ", shape_str(self.sizes()),
                      " doesn't match the broadcast shape ", shape_str(shape));
  run_addcmul(self, self, b, c, value, divide, self.dtype());
  self.bump_version();
}

Tensor lerp(const Tensor& a0, const Tensor& b0, const Tensor& w0) {
  const Device dev = common_device({&a0, &b0, &w0}, "lerp");
  const Tensor a = on_device(a0, dev), b = on_device(b0, dev), w = on_device(w0, dev);
  ScalarType dt = result_type({&a, &b, &w});
  EMBER_TYPE_CHECK(is_floating(dt), "lerp expects floating point tensors, got ", dtype_name(dt));
  DimVector shape = broadcast_shapes(broadcast_shapes(a.sizes(), b.sizes()), w.sizes());
  const ScalarType cd = dt;
  Tensor ai = to_dtype(a, cd), bi = to_dtype(b, cd);
  Tensor out = empty(shape, dt, a.device());
  Tensor o = compute_out(out, cd);
  // a CPU scalar weight of another dtype stays at float precision for 16-bit inputs, as in PyTorch
  const bool float_w = is_reduced_float(cd) && w0.dim() == 0 && w0.dtype() != cd && w0.device().is_cpu();
  Tensor wi = float_w ? a : to_dtype(w, cd);  // a placeholder operand when the weight rides in the iterator
  TensorIter it = TensorIter::build({&o, &ai, &bi, &wi}, shape);
  if (float_w) {
    it.scalar_operand = 3;
    it.scalar_value = float(item_double(w0));
  }
  kernels_for(o).lerp(it, cd);
  finish(out, o);
  return out;
}

Tensor isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  EMBER_TYPE_CHECK(a.dtype() == b.dtype(), "isclose: Float and Double mismatch: ", dtype_name(a.dtype()), " vs ",
                   dtype_name(b.dtype()));
  // |a - b| <= atol + rtol * |b|, exact equality (covers infinities), optional nan == nan
  ScalarType c = is_floating(a.dtype()) ? (a.dtype() == ScalarType::Float64 ? ScalarType::Float64 : ScalarType::Float32)
                                        : ScalarType::Float64;
  Tensor af = to_dtype(a, c), bf = to_dtype(b, c);
  Tensor diff = unary(UnaryOp::abs, binary(BinaryOp::sub, af, bf));
  Tensor tol = binary(BinaryOp::add, scalar_tensor(atol, c),
                      binary(BinaryOp::mul, scalar_tensor(rtol, c), unary(UnaryOp::abs, bf)));
  Tensor close = binary_bool(BinaryBoolOp::le, diff, tol);
  close = binary_bool(BinaryBoolOp::logical_or, close, binary_bool(BinaryBoolOp::eq, af, bf));
  if (equal_nan) {
    Tensor both = binary_bool(BinaryBoolOp::logical_and, unary_bool(UnaryBoolOp::isnan, af),
                              unary_bool(UnaryBoolOp::isnan, bf));
    close = binary_bool(BinaryBoolOp::logical_or, close, both);
  }
  return close;
}

// ----------------------------------------------------------------------------------------------- copy / fill

void copy_(const Tensor& dst, const Tensor& src0) {
  check_writable(dst, "copy_");
  // across devices the source first moves, as one contiguous block, to dst's device
  const Tensor src = on_device(src0, dst.device());
  if (dst.sizes() != src.sizes()) {
    DimVector shape = broadcast_shapes(dst.sizes(), src.sizes());
    EMBER_RUNTIME_CHECK(shape == dst.sizes(), "copy_: the source of shape ", shape_str(src.sizes()),
                        " cannot be broadcast to the destination shape ", shape_str(dst.sizes()));
  }
  if (dst.numel() == 0) return;
  TensorIter it = TensorIter::build({&dst, &src}, dst.sizes());
  kernels_for(dst).copy(it, dst.dtype(), src.dtype());
  dst.bump_version();
}

void fill_(const Tensor& self, const Tensor& value) {
  EMBER_RUNTIME_CHECK(value.numel() == 1, "fill_ only supports 0-dimension value tensor but got tensor with ",
                      value.dim(), " dimensions");
  check_writable(self, "fill_");
  if (is_floating(value.dtype()))
    kernels_for(self).fill(self, item_double(value), 0, false);
  else
    kernels_for(self).fill(self, 0.0, item_int(value), true);
  self.bump_version();
}

Tensor clone(const Tensor& x) {
  Tensor out = alloc_like_layout(x.sizes(), x.dtype(), x);
  if (x.numel()) {
    TensorIter it = TensorIter::build({&out, &x}, x.sizes());
    kernels_for(out).copy(it, x.dtype(), x.dtype());
  }
  return out;
}

}  // namespace ops
}  // namespace ember
