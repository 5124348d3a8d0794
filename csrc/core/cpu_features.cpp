// Detects AVX2/FMA and AVX-512 once; the environment variable caps the choice for testing fallbacks.
#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ember {

static CpuCapability detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return CpuCapability::AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuCapability::AVX2;
#endif
  return CpuCapability::Default;
}

CpuCapability detected_cpu_capability() {
  static const CpuCapability c = detect();
  return c;
}

static CpuCapability from_env() {
  CpuCapability c = detected_cpu_capability();
  const char* env = std::getenv("EMBER_CPU_CAPABILITY");
  if (!env) return c;
  CpuCapability want = c;
  if (!std::strcmp(env, "default")) want = CpuCapability::Default;
  else if (!std::strcmp(env, "avx2")) want = CpuCapability::AVX2;
  else if (!std::strcmp(env, "avx512")) want = CpuCapability::AVX512;
  return int(want) < int(c) ? want : c;
}

static std::atomic<int> g_cap{-1};

CpuCapability cpu_capability() {
  int c = g_cap.load(std::memory_order_relaxed);
  if (c < 0) {
    c = int(from_env());
    g_cap.store(c);
  }
  return CpuCapability(c);
}

void set_cpu_capability(CpuCapability c) {
  CpuCapability hw = detected_cpu_capability();
  g_cap.store(int(c) < int(hw) ? int(c) : int(hw));
}

bool detected_cpu_bf16_dot() {
  static const bool v = [] {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    return detected_cpu_capability() == CpuCapability::AVX512 && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
  }();
  return v;
}

static std::atomic<int> g_bf16{-1};

bool cpu_bf16_dot() {
  int v = g_bf16.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("EMBER_CPU_BF16");
    v = detected_cpu_bf16_dot() && !(env && env[0] == '0');
    g_bf16.store(v);
  }
  return v && cpu_capability() == CpuCapability::AVX512;
}

void set_cpu_bf16_dot(bool enabled) { g_bf16.store(enabled && detected_cpu_bf16_dot()); }

const char* cpu_capability_name(CpuCapability c) {
  switch (c) {
    case CpuCapability::Default: return "default";
    case CpuCapability::AVX2: return "avx2";
    case CpuCapability::AVX512: return "avx512";
  }
  return "unknown";
}

}  // namespace ember
