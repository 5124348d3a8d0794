// Fused optimizer updates (SGD, Adam/AdamW, Adagrad, RMSprop, Adamax, NAdam) following PyTorch's documented
// update rules step for step. Each kernel reads param, grad and state once and writes them once; arithmetic
// runs in opmath (float for float32/float16/bfloat16, double for float64), like PyTorch's foreach kernels.
#include "cpu/optim.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/dispatch.h"
#include "core/parallel.h"

namespace ember {
namespace cpu {

namespace {
#define EMBER_ISA_NS isa_default
#include "cpu/optim.inc"
#undef EMBER_ISA_NS
}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_HAVE_AVX2_OPTIM 1
// float32/float64 updates get an AVX2+FMA copy (8 floats per sqrt/divide); 16-bit types stay baseline.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx2
#include "cpu/optim.inc"
#undef EMBER_ISA_NS
}  // namespace
#pragma GCC pop_options
#endif

#ifdef EMBER_HAVE_AVX2_OPTIM
#define EMBER_OPTIM_RUN(impl) \
  (use_avx2_float_copy(dtype) ? isa_avx2::impl<scalar_t>(segs, o) : isa_default::impl<scalar_t>(segs, o))
#else
#define EMBER_OPTIM_RUN(impl) isa_default::impl<scalar_t>(segs, o)
#endif

void sgd(ScalarType dtype, const std::vector<OptimSegment>& segs, const SgdOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "sgd", [&] { EMBER_OPTIM_RUN(sgd_impl); });
}

void adam(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adam", [&] { EMBER_OPTIM_RUN(adam_impl); });
}

void adagrad(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdagradOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adagrad", [&] { EMBER_OPTIM_RUN(adagrad_impl); });
}

void rmsprop(ScalarType dtype, const std::vector<OptimSegment>& segs, const RmspropOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "rmsprop", [&] { EMBER_OPTIM_RUN(rmsprop_impl); });
}

void adamax(ScalarType dtype, const std::vector<OptimSegment>& segs, const AdamaxOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "adamax", [&] { EMBER_OPTIM_RUN(adamax_impl); });
}

void nadam(ScalarType dtype, const std::vector<OptimSegment>& segs, const NadamOptions& o) {
  EMBER_DISPATCH_FLOATING(dtype, "nadam", [&] { EMBER_OPTIM_RUN(nadam_impl); });
}

}  // namespace cpu
}  // namespace ember
