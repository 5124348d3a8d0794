// Includes cpu/row_kernels.inc once per instruction set (as cpu/pointwise_isa.h does for pointwise): a baseline
// copy and, on x86-64, an AVX2+FMA copy, each in its own anonymous namespace, so no function compiled for AVX2
// is shared with baseline code. EMBER_ROW_RUN(fn, args...) calls the copy picked by a local bool `avx2`.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/math.h"
#include "kernels/rnn_cell.h"

namespace ember {
namespace cpu {

namespace {
#define EMBER_ISA_NS isa_default
#include "cpu/row_kernels.inc"
#undef EMBER_ISA_NS
}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_HAVE_AVX2_ROWS 1
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
// restated for GCC's constant-propagation clones, which fall back to default flags (see pointwise_isa.h)
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx2
#include "cpu/row_kernels.inc"
#undef EMBER_ISA_NS
}  // namespace
#pragma GCC pop_options

// AVX-512: 16-lane copies, picked when the CPU capability allows (1.5x on exp-heavy rows on AMD Zen 4, whose
// 512-bit units are double-pumped; more where there are two 512-bit FMA pipes)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx512
#include "cpu/row_kernels.inc"
#undef EMBER_ISA_NS
}  // namespace
#pragma GCC pop_options

inline bool use_avx512_rows() { return cpu_capability() >= CpuCapability::AVX512; }
#endif

#ifdef EMBER_HAVE_AVX2_ROWS
#define EMBER_ROW_RUN(fn, ...)                                                                      \
  (avx2 ? (use_avx512_rows() ? isa_avx512::fn(__VA_ARGS__) : isa_avx2::fn(__VA_ARGS__)) \
        : isa_default::fn(__VA_ARGS__))
#else
#define EMBER_ROW_RUN(fn, ...) ((void)avx2, isa_default::fn(__VA_ARGS__))
#endif

}  // namespace cpu
}  // namespace ember
