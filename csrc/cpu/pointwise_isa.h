// Includes cpu/pointwise.inc once per instruction set: a baseline copy (every dtype, float16/bfloat16
// computing in float32 element by element) and, on x86-64, float-only copies (cpu/pointwise_float_copy.inc) for
// AVX2+FMA and, for the unary ops, AVX-512. Each copy sits in its own anonymous namespace inside a
// `#pragma GCC target` region, so no function compiled for a wider ISA is shared with (or replaces) baseline code.
// Define EMBER_PW_UNARY or EMBER_PW_BINARY before including to pick the section.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "core/cpu_features.h"
#include "core/dispatch.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {
#define EMBER_ISA_NS isa_default
#define EMBER_PW_DISPATCH_FLOAT EMBER_DISPATCH_FLOATING
#define EMBER_PW_DISPATCH_NUMERIC EMBER_DISPATCH_NUMERIC
#define EMBER_PW_DISPATCH_ALL EMBER_DISPATCH_ALL
#define EMBER_PW_DISPATCH_INTEGRAL EMBER_DISPATCH_INTEGRAL
#include "cpu/pointwise.inc"
#undef EMBER_ISA_NS
#undef EMBER_PW_DISPATCH_FLOAT
#undef EMBER_PW_DISPATCH_NUMERIC
#undef EMBER_PW_DISPATCH_ALL
#undef EMBER_PW_DISPATCH_INTEGRAL
}  // namespace

// The AVX2 copy takes every float type (float16/bfloat16 computed in float32 lanes).
inline bool use_avx2_pointwise(ScalarType dt) {
  return is_floating(dt) && cpu_capability() >= CpuCapability::AVX2;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_HAVE_AVX2_COPY 1
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
// GCC's constant-propagation clones of functions in a target region fall back to default optimisation
// flags; restating -fno-trapping-math keeps their NaN checks branch-free so they still vectorise.
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx2
#include "cpu/pointwise_float_copy.inc"
#undef EMBER_ISA_NS
}  // namespace
#pragma GCC pop_options

#ifdef EMBER_PW_UNARY
// Unary float ops (the transcendental ones are compute-bound) also get an AVX-512 copy: 16 lanes run exp,
// tanh, gelu, ... about 1.5x faster on AMD Zen 4 (double-pumped 512-bit units), more with two 512-bit FMA pipes.
// Binary ops are memory-bound and keep the AVX2 copy (a third copy would only lengthen the build).
#define EMBER_HAVE_AVX512_COPY 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx512
#include "cpu/pointwise_float_copy.inc"
#undef EMBER_ISA_NS
}  // namespace
#pragma GCC pop_options
#endif
#endif

#if defined(EMBER_HAVE_AVX512_COPY)
#define EMBER_PICK(name)                                                                                   \
  (use_avx2_pointwise(dt) ? (cpu_capability() >= CpuCapability::AVX512 ? isa_avx512::name : isa_avx2::name) \
                          : isa_default::name)
#elif defined(EMBER_HAVE_AVX2_COPY)
#define EMBER_PICK(name) (use_avx2_pointwise(dt) ? isa_avx2::name : isa_default::name)
#else
#define EMBER_PICK(name) (isa_default::name)
#endif

}  // namespace cpu
}  // namespace ember
