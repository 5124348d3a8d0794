// Binary and ternary pointwise CPU kernels (the op list lives in kernels/pointwise_ops.h).
#define EMBER_PW_BINARY
#include "cpu/pointwise_isa.h"

namespace ember {
namespace cpu {

void binary(BinaryOp op, const TensorIter& it, ScalarType dt) { EMBER_PICK(binary_table)[int(op)](it, dt); }
void binary_bool(BinaryBoolOp op, const TensorIter& it, ScalarType dt) {
  EMBER_PICK(binary_bool_table)[int(op)](it, dt);
}
void where(const TensorIter& it, size_t itemsize) { isa_default::k_where(it, itemsize); }
void clamp(const TensorIter& it, ScalarType dt, bool has_lo, bool has_hi) { EMBER_PICK(k_clamp)(it, dt, has_lo, has_hi); }
void addcmul(const TensorIter& it, ScalarType dt, double alpha, bool divide) {
  EMBER_PICK(k_addcmul)(it, dt, alpha, divide);
}
void lerp(const TensorIter& it, ScalarType dt) { EMBER_PICK(k_lerp)(it, dt); }

}  // namespace cpu
}  // namespace ember
