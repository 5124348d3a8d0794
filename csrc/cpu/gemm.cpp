// Packed, cache-blocked GEMM with register-blocked micro-kernels for AVX-512, AVX2+FMA and a baseline
// (SSE2) fallback, chosen at run time by cpu_capability() (EMBER_CPU_CAPABILITY=default|avx2 forces a lower
// one). Each copy is compiled inside its own `#pragma GCC target` region from cpu/gemm.inc.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/conv_direct.h"
#include "cpu/gemm_operands.h"
#include "cpu/kernels.h"

namespace ember {
namespace cpu {

namespace {

// EMBER_GEMM_INDEPENDENT=1 selects the older threading (each thread packs its own copy of B), for comparison.
bool gemm_independent_blocks() {
  static const bool v = [] {
    const char* e = std::getenv("EMBER_GEMM_INDEPENDENT");
    return e && e[0] == '1';
  }();
  return v;
}

// EMBER_GEMM_PACKED=1 packs B for every product (the small-M in-place path off), to test and time both.
bool gemm_force_packed() {
  static const bool v = [] {
    const char* e = std::getenv("EMBER_GEMM_PACKED");
    return e && e[0] == '1';
  }();
  return v;
}

// Register tile (MR rows x NV vectors of C) per vector width in bytes: below AVX-512 there are 16 vector
// registers, enough for a 6 x 2 tile plus the A broadcast and B loads; AVX-512's 32 hold 8 x 3 (float) and
// 14 x 2 (double) tiles.
template <int VBYTES>
struct TileShape {
  static constexpr int mr_f32 = 6, nv_f32 = 2, mr_f64 = 6, nv_f64 = 2;
};
template <>
struct TileShape<64> {
  static constexpr int mr_f32 = 8, nv_f32 = 3, mr_f64 = 14, nv_f64 = 2;
};

#define EMBER_ISA_NS isa_default
#define EMBER_GEMM_VBYTES 16
#include "cpu/gemm.inc"
#undef EMBER_ISA_NS
#undef EMBER_GEMM_VBYTES

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_GEMM_X86 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx2
#define EMBER_GEMM_VBYTES 32
#include "cpu/gemm.inc"
#undef EMBER_ISA_NS
#undef EMBER_GEMM_VBYTES
}  // namespace
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma")
#pragma GCC optimize("no-trapping-math")
namespace {
#define EMBER_ISA_NS isa_avx512
#define EMBER_GEMM_VBYTES 64
#include "cpu/gemm.inc"
#undef EMBER_ISA_NS
#undef EMBER_GEMM_VBYTES
}  // namespace
#pragma GCC pop_options
#endif

#ifdef EMBER_GEMM_X86
#define EMBER_GEMM_PICK(fn, ...)                                                 \
  switch (cpu_capability()) {                                                     \
    case CpuCapability::AVX512: return isa_avx512::fn(__VA_ARGS__);              \
    case CpuCapability::AVX2: return isa_avx2::fn(__VA_ARGS__);                  \
    default: return isa_default::fn(__VA_ARGS__);                                \
  }
#else
#define EMBER_GEMM_PICK(fn, ...) return isa_default::fn(__VA_ARGS__);
#endif

void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  EMBER_GEMM_PICK(gemm_f32, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta)
}

void gemm_f64(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa, const double* B,
              int64_t rsb, int64_t csb, double* C, int64_t ldc, double alpha, double beta) {
  EMBER_GEMM_PICK(gemm_f64, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta)
}

void gemm_f32(int64_t M, int64_t N, int64_t K, const Half* A, int64_t rsa, int64_t csa, const Half* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  EMBER_GEMM_PICK(gemm_strided<float>, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta)
}

void gemm_f32(int64_t M, int64_t N, int64_t K, const BFloat16* A, int64_t rsa, int64_t csa, const BFloat16* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  if (cpu_bf16_dot()) return gemm_bf16_dot(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta);
  EMBER_GEMM_PICK(gemm_strided<float>, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta)
}

void gemm_w_cols(int64_t M, const float* W, int64_t ldw, const Im2ColSrc<float>& src, float* C, int64_t ldc,
                 float beta) {
  EMBER_GEMM_PICK(gemm_w_cols<float>, M, W, ldw, src, C, ldc, beta)
}
void gemm_w_cols(int64_t M, const double* W, int64_t ldw, const Im2ColSrc<double>& src, double* C, int64_t ldc,
                 double beta) {
  EMBER_GEMM_PICK(gemm_w_cols<double>, M, W, ldw, src, C, ldc, beta)
}
void gemm_g_colsT(int64_t M, const float* G, int64_t ldg, int64_t g_image_stride, const Im2ColSrc<float>& src,
                  float* C, int64_t ldc, float beta) {
  EMBER_GEMM_PICK(gemm_g_colsT<float>, M, G, ldg, g_image_stride, src, C, ldc, beta)
}
void gemm_g_colsT(int64_t M, const double* G, int64_t ldg, int64_t g_image_stride, const Im2ColSrc<double>& src,
                  double* C, int64_t ldc, double beta) {
  EMBER_GEMM_PICK(gemm_g_colsT<double>, M, G, ldg, g_image_stride, src, C, ldc, beta)
}

void conv_direct_forward(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w, int64_t O,
                         const float* bias, const ConvGeometry& g, float* out) {
  EMBER_GEMM_PICK(conv_direct_forward<float>, x, N, C, H, W, w, O, bias, g, out)
}
void conv_direct_forward(const double* x, int64_t N, int64_t C, int64_t H, int64_t W, const double* w, int64_t O,
                         const double* bias, const ConvGeometry& g, double* out) {
  EMBER_GEMM_PICK(conv_direct_forward<double>, x, N, C, H, W, w, O, bias, g, out)
}
void conv_direct_weight_grad(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const float* gout,
                             int64_t O, const ConvGeometry& g, float* gw) {
  EMBER_GEMM_PICK(conv_direct_weight_grad<float>, x, N, C, H, W, gout, O, g, gw)
}
void conv_direct_weight_grad(const double* x, int64_t N, int64_t C, int64_t H, int64_t W, const double* gout,
                             int64_t O, const ConvGeometry& g, double* gw) {
  EMBER_GEMM_PICK(conv_direct_weight_grad<double>, x, N, C, H, W, gout, O, g, gw)
}

}  // namespace cpu
}  // namespace ember
