// Dtype dispatch: the one place that decides how many dtype instantiations each kernel gets.
// Usage: EMBER_DISPATCH_FLOATING(t, "exp", [&] { kernel<scalar_t>(...); });
#pragma once
#include "core/dtype.h"
#include "core/error.h"

#define EMBER_DTYPE_CASE(enum_name, type, ...) \
  case ::ember::ScalarType::enum_name: {       \
    using scalar_t = type;                     \
    return __VA_ARGS__();                      \
  }

#define EMBER_DISPATCH_FAIL(t, name)                                                                       \
  default:                                                                                                 \
    throw ::ember::TypeError(::ember::str("\"", name, "\" not implemented for '", ::ember::dtype_name(t), \
                                          "'"));

// float16, bfloat16, float32, float64
#define EMBER_DISPATCH_FLOATING(t, name, ...)                       \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DTYPE_CASE(Float16, ::ember::Half, __VA_ARGS__)         \
      EMBER_DTYPE_CASE(BFloat16, ::ember::BFloat16, __VA_ARGS__)    \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

// every numeric type but bool
#define EMBER_DISPATCH_NUMERIC(t, name, ...)                        \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DTYPE_CASE(Float16, ::ember::Half, __VA_ARGS__)         \
      EMBER_DTYPE_CASE(BFloat16, ::ember::BFloat16, __VA_ARGS__)    \
      EMBER_DTYPE_CASE(Int64, int64_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int32, int32_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int16, int16_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int8, int8_t, __VA_ARGS__)                   \
      EMBER_DTYPE_CASE(UInt8, uint8_t, __VA_ARGS__)                 \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

#define EMBER_DISPATCH_ALL(t, name, ...)                            \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DTYPE_CASE(Float16, ::ember::Half, __VA_ARGS__)         \
      EMBER_DTYPE_CASE(BFloat16, ::ember::BFloat16, __VA_ARGS__)    \
      EMBER_DTYPE_CASE(Int64, int64_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int32, int32_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int16, int16_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int8, int8_t, __VA_ARGS__)                   \
      EMBER_DTYPE_CASE(UInt8, uint8_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Bool, bool, __VA_ARGS__)                     \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

// integers and bool (bitwise ops)
#define EMBER_DISPATCH_INTEGRAL(t, name, ...)                       \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Int64, int64_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int32, int32_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int16, int16_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int8, int8_t, __VA_ARGS__)                   \
      EMBER_DTYPE_CASE(UInt8, uint8_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Bool, bool, __VA_ARGS__)                     \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

// By element size only, for kernels that move bytes (copies, gathers, scatters).
#define EMBER_DISPATCH_BY_SIZE(nbytes, name, ...)                   \
  [&] {                                                             \
    switch (nbytes) {                                               \
      case 1: { using scalar_t = uint8_t; return __VA_ARGS__(); }   \
      case 2: { using scalar_t = uint16_t; return __VA_ARGS__(); }  \
      case 4: { using scalar_t = uint32_t; return __VA_ARGS__(); }  \
      case 8: { using scalar_t = uint64_t; return __VA_ARGS__(); }  \
      default: throw std::runtime_error(::ember::str(name, ": unsupported element size ", nbytes)); \
    }                                                               \
  }()

// float32 and float64 only (kernels whose 16-bit variants run through a float32 compute path)
#define EMBER_DISPATCH_F32_F64(t, name, ...)                        \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

// float16 and bfloat16 only (kernels that stage 16-bit rows through float32 scratch)
#define EMBER_DISPATCH_REDUCED(t, name, ...)                        \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float16, ::ember::Half, __VA_ARGS__)         \
      EMBER_DTYPE_CASE(BFloat16, ::ember::BFloat16, __VA_ARGS__)    \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

// every type but the 16-bit floats
#define EMBER_DISPATCH_NUMERIC_NO_HALF(t, name, ...)                \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DTYPE_CASE(Int64, int64_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int32, int32_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int16, int16_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int8, int8_t, __VA_ARGS__)                   \
      EMBER_DTYPE_CASE(UInt8, uint8_t, __VA_ARGS__)                 \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

#define EMBER_DISPATCH_ALL_NO_HALF(t, name, ...)                    \
  [&] {                                                             \
    switch (t) {                                                    \
      EMBER_DTYPE_CASE(Float32, float, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Float64, double, __VA_ARGS__)                \
      EMBER_DTYPE_CASE(Int64, int64_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int32, int32_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int16, int16_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Int8, int8_t, __VA_ARGS__)                   \
      EMBER_DTYPE_CASE(UInt8, uint8_t, __VA_ARGS__)                 \
      EMBER_DTYPE_CASE(Bool, bool, __VA_ARGS__)                     \
      EMBER_DISPATCH_FAIL(t, name)                                  \
    }                                                               \
  }()

#define EMBER_DISPATCH_NONE(t, name, ...) \
  [&] { throw ::ember::TypeError(::ember::str("\"", name, "\" has no kernel for '", ::ember::dtype_name(t), "' here")); }()
