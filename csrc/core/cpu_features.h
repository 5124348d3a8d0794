// Run-time CPU capability selection for kernels compiled once per instruction set.
#pragma once
#include "core/dtype.h"

namespace ember {

enum class CpuCapability : int { Default = 0, AVX2 = 1, AVX512 = 2 };
constexpr int kNumCpuCapabilities = 3;

// What the CPU supports, capped by the EMBER_CPU_CAPABILITY environment variable (default|avx2|avx512)
// or by set_cpu_capability (tests use it to force fallback paths).
CpuCapability cpu_capability();
CpuCapability detected_cpu_capability();
void set_cpu_capability(CpuCapability c);  // capped at what the CPU supports
const char* cpu_capability_name(CpuCapability c);

// bfloat16 dot products (AVX512-BF16's vdpbf16ps): detected with the AVX-512 level, used only while the capability
// is AVX512 and not switched off (EMBER_CPU_BF16=0, or set_cpu_bf16(false), so tests can force the float path).
bool cpu_bf16_dot();
bool detected_cpu_bf16_dot();
void set_cpu_bf16_dot(bool enabled);

// A table of per-capability implementations; falls back to lower capabilities when one is not compiled.
template <class Fn>
struct DispatchStub {
  Fn impl[kNumCpuCapabilities] = {};
  Fn get() const {
    for (int c = int(cpu_capability()); c >= 0; --c)
      if (impl[c]) return impl[c];
    return nullptr;
  }
};

// Whether a kernel family compiled with an AVX2+FMA copy for float32/float64 (pointwise, optim) runs that copy
// for dt; other dtypes stay on the baseline copy.
inline bool use_avx2_float_copy(ScalarType dt) {
  return (dt == ScalarType::Float32 || dt == ScalarType::Float64) && cpu_capability() >= CpuCapability::AVX2;
}

}  // namespace ember

// Multi-ISA kernel files include their kernel body once per instruction set, each copy inside its own
// anonymous namespace and `#pragma GCC target` region (see cpu/pointwise_isa.h and cpu/gemm.cpp), so no inline function compiled
// for AVX2 can be merged with, or called instead of, the baseline copy.
