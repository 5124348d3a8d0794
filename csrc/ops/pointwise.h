// Pointwise op entry points: validate, promote, allocate, run the CPU kernel.
#pragma once
#include <optional>

#include "core/tensor.h"
#include "kernels/pointwise_ops.h"

namespace ember {
namespace ops {

using kernels::BinaryBoolOp;
using kernels::BinaryOp;
using kernels::UnaryBoolOp;
using kernels::UnaryOp;
using kernels::UnaryParamOp;

const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);
const char* op_name(BinaryBoolOp op);
const char* op_name(UnaryBoolOp op);
const char* op_name(UnaryParamOp op);

Tensor unary(UnaryOp op, const Tensor& x);
void unary_(UnaryOp op, const Tensor& self);
Tensor unary_bool(UnaryBoolOp op, const Tensor& x);
Tensor unary_param(UnaryParamOp op, const Tensor& x, double p0, double p1, double p2);
void unary_param_(UnaryParamOp op, const Tensor& self, double p0, double p1, double p2);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
void binary_(BinaryOp op, const Tensor& self, const Tensor& other);  // self = self op other
Tensor binary_bool(BinaryBoolOp op, const Tensor& a, const Tensor& b);
void binary_bool_(BinaryBoolOp op, const Tensor& self, const Tensor& other);  // result cast into self

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, const Tensor& lo, const Tensor& hi);  // lo / hi may be undefined
void clamp_(const Tensor& self, const Tensor& lo, const Tensor& hi);
Tensor addcmul(const Tensor& a, const Tensor& b, const Tensor& c, double value, bool divide);
void addcmul_(const Tensor& self, const Tensor& b, const Tensor& c, double value, bool divide);
Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& w);
Tensor isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan);

// copy_ with broadcasting and dtype conversion; fill_.
void copy_(const Tensor& dst, const Tensor& src);
void fill_(const Tensor& self, const Tensor& value);  // value: a one-element tensor
Tensor clone(const Tensor& x);

}  // namespace ops
}  // namespace ember
