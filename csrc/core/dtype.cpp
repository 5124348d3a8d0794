// dtype names, the promotion table and the process-wide default floating dtype.
#include "core/dtype.h"

#include <atomic>

namespace ember {

const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Bool: return "bool";
    case ScalarType::UInt8: return "uint8";
    case ScalarType::Int8: return "int8";
    case ScalarType::Int16: return "int16";
    case ScalarType::Int32: return "int32";
    case ScalarType::Int64: return "int64";
    case ScalarType::Float16: return "float16";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Float32: return "float32";
    case ScalarType::Float64: return "float64";
  }
  return "unknown";
}

ScalarType promote_types(ScalarType a, ScalarType b) {
  if (a == b) return a;
  // float16 and bfloat16 have no common 16-bit type; PyTorch gives float32.
  if ((a == ScalarType::Float16 && b == ScalarType::BFloat16) ||
      (a == ScalarType::BFloat16 && b == ScalarType::Float16))
    return ScalarType::Float32;
  // uint8 and int8: neither holds the other, int16 holds both (as in PyTorch).
  if ((a == ScalarType::UInt8 && b == ScalarType::Int8) || (a == ScalarType::Int8 && b == ScalarType::UInt8))
    return ScalarType::Int16;
  // Otherwise the enum order is the lattice: bool < uint8, int8 < int16 < int32 < int64 < f16/bf16 < f32 < f64.
  return a > b ? a : b;
}

static std::atomic<ScalarType> g_default_dtype{ScalarType::Float32};
ScalarType default_dtype() { return g_default_dtype.load(std::memory_order_relaxed); }
void set_default_dtype(ScalarType t) { g_default_dtype.store(t); }

}  // namespace ember
