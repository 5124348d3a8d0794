// Scalar types (dtypes), the half-precision storage types, and PyTorch's type-promotion lattice.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

// Functions compiled for the host and, under nvcc, for the device too (the shared functor headers use it).
#ifndef EMBER_HD
#if defined(__CUDACC__)
#define EMBER_HD __host__ __device__
#else
#define EMBER_HD
#endif
#endif

namespace ember {

enum class ScalarType : int8_t {
  Bool = 0,
  UInt8,
  Int8,
  Int16,
  Int32,
  Int64,
  Float16,
  BFloat16,
  Float32,
  Float64,
};
constexpr int kNumScalarTypes = 10;

// IEEE binary16 storage; arithmetic happens in float.
struct Half {
  uint16_t bits;
  Half() = default;
  EMBER_HD Half(float f) : bits(from_float(f)) {}
  EMBER_HD operator float() const { return to_float(bits); }

  EMBER_HD static inline float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t out;
    if (exp == 0x1f) {
      out = sign | 0x7f800000u | (man << 13);  // inf / nan
    } else if (exp != 0) {
      out = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
      out = sign;
    } else {  // subnormal half -> normal float
      int shift = 0;
      while (!(man & 0x400u)) { man <<= 1; ++shift; }
      man &= 0x3ffu;
      out = sign | (uint32_t(113 - shift) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
  }
  EMBER_HD static inline uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520 -> inf
    if (ax < 0x38800000u) {                                   // result is subnormal or zero
      if (ax < 0x33000000u) return uint16_t(sign);            // < 2^-25 rounds to zero
      uint32_t e = ax >> 23;
      uint32_t m = (ax & 0x7fffffu) | 0x800000u;
      uint32_t shift = 126 - e;  // 14..24
      uint32_t q = m >> shift;
      uint32_t rem = m & ((1u << shift) - 1);
      uint32_t half = 1u << (shift - 1);
      if (rem > half || (rem == half && (q & 1u))) ++q;
      return uint16_t(sign | q);
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1u) - 0x38000000u;  // round to nearest even, rebias
    return uint16_t(sign | (r >> 13));
  }
};

// bfloat16: the top 16 bits of a float32.
struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  EMBER_HD BFloat16(float f) : bits(from_float(f)) {}
  EMBER_HD operator float() const { return to_float(bits); }
  EMBER_HD static inline float to_float(uint16_t b) {
    uint32_t x = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  EMBER_HD static inline uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1u);
    return uint16_t(x >> 16);
  }
};

inline size_t itemsize(ScalarType t) {
  switch (t) {
    case ScalarType::Bool:
    case ScalarType::UInt8:
    case ScalarType::Int8: return 1;
    case ScalarType::Int16:
    case ScalarType::Float16:
    case ScalarType::BFloat16: return 2;
    case ScalarType::Int32:
    case ScalarType::Float32: return 4;
    case ScalarType::Int64:
    case ScalarType::Float64: return 8;
  }
  return 0;
}

inline bool is_floating(ScalarType t) { return t >= ScalarType::Float16; }
inline bool is_integral(ScalarType t, bool include_bool) {
  return t == ScalarType::Bool ? include_bool : t < ScalarType::Float16;
}
// Half-precision types compute in float32.
inline bool is_reduced_float(ScalarType t) { return t == ScalarType::Float16 || t == ScalarType::BFloat16; }

const char* dtype_name(ScalarType t);  // "float32"
ScalarType promote_types(ScalarType a, ScalarType b);

ScalarType default_dtype();
void set_default_dtype(ScalarType t);

template <class T> struct ToScalarType;
template <> struct ToScalarType<bool> { static constexpr ScalarType value = ScalarType::Bool; };
template <> struct ToScalarType<uint8_t> { static constexpr ScalarType value = ScalarType::UInt8; };
template <> struct ToScalarType<int8_t> { static constexpr ScalarType value = ScalarType::Int8; };
template <> struct ToScalarType<int16_t> { static constexpr ScalarType value = ScalarType::Int16; };
template <> struct ToScalarType<int32_t> { static constexpr ScalarType value = ScalarType::Int32; };
template <> struct ToScalarType<int64_t> { static constexpr ScalarType value = ScalarType::Int64; };
template <> struct ToScalarType<Half> { static constexpr ScalarType value = ScalarType::Float16; };
template <> struct ToScalarType<BFloat16> { static constexpr ScalarType value = ScalarType::BFloat16; };
template <> struct ToScalarType<float> { static constexpr ScalarType value = ScalarType::Float32; };
template <> struct ToScalarType<double> { static constexpr ScalarType value = ScalarType::Float64; };

// The type arithmetic happens in: float for the 16-bit floats, the type itself otherwise.
template <class T> struct OpMath { using type = T; };
template <> struct OpMath<Half> { using type = float; };
template <> struct OpMath<BFloat16> { using type = float; };
template <class T> using opmath_t = typename OpMath<T>::type;

}  // namespace ember
