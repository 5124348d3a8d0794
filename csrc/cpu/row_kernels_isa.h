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
#endif

#ifdef EMBER_HAVE_AVX2_ROWS
#define EMBER_ROW_RUN(fn, ...) (avx2 ? isa_avx2::fn(__VA_ARGS__) : isa_default::fn(__VA_ARGS__))
#else
#define EMBER_ROW_RUN(fn, ...) ((void)avx2, isa_default::fn(__VA_ARGS__))
#endif

}  // namespace cpu
}  // namespace ember
