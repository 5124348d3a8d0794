// Unary pointwise CPU kernels (the op list lives in kernels/pointwise_ops.h).
#define EMBER_PW_UNARY
#include "cpu/pointwise_isa.h"

namespace ember {
namespace cpu {

void unary(UnaryOp op, const TensorIter& it, ScalarType dt) { EMBER_PICK(unary_table)[int(op)](it, dt); }
void unary_bool(UnaryBoolOp op, const TensorIter& it, ScalarType dt) { EMBER_PICK(unary_bool_table)[int(op)](it, dt); }
void unary_param(UnaryParamOp op, const TensorIter& it, ScalarType dt, double p0, double p1, double p2) {
  EMBER_PICK(unary_param_table)[int(op)](it, dt, p0, p1, p2);
}

}  // namespace cpu
}  // namespace ember
