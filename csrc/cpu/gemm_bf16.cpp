// bfloat16 GEMM on AVX512-BF16: A and B are packed as bfloat16 panels of k pairs, and vdpbf16ps adds two
// products per float32 lane at a time (twice the multiply-adds of a float32 FMA). cpu/gemm.cpp calls it for
// bfloat16 operands while cpu_bf16_dot() holds. Products are exact and sums float32, but the instruction treats
// bfloat16 subnormals as zero.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm_operands.h"
#include "cpu/kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")

namespace ember {
namespace cpu {

namespace {

// 8 x 48 float32 tile (24 accumulators, 3 B vectors and a broadcast); KC counts k values (pairs = KC / 2)
constexpr int MR = 8, NV = 3, NR = 16 * NV;
constexpr int64_t KC = 1024, MC = MR * 12, NC = NR * 64;

using PanelBuffer = AlignedBuffer<uint16_t>;

// R-wide panels of a strided matrix X (element (r, k) at r * rs + k * cs) for rows [r0, r0 + m) and k in
// [k0, k0 + kc): panel layout [k pair][R][2], zero-padded past m rows and to an even kc. As A, rows are rows of
// A; as B, "rows" are columns of B (rs = B's column stride).
template <int R>
void pack_pairs(const BFloat16* X, int64_t rs, int64_t cs, int64_t r0, int64_t m, int64_t k0, int64_t kc,
                uint16_t* out) {
  const int64_t kp = (kc + 1) / 2;
  for (int64_t p0 = 0; p0 < m; p0 += R) {
    const int64_t n = std::min<int64_t>(R, m - p0);
    if (rs == 1 && cs != 1 && n == R && R % 16 == 0) {
      // a full panel of a row-major B: rows k and k + 1 interleaved 16 columns at a time
      const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                           6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      int64_t k = 0;
      for (; k + 1 < kc; k += 2) {
        const BFloat16* r0p = X + (r0 + p0) + (k0 + k) * cs;
        uint16_t* dst = out + (k >> 1) * R * 2;
        for (int c = 0; c < R; c += 16) {
          const __m512i ab = _mm512_inserti64x4(
              _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0p + c))),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0p + cs + c)), 1);
          _mm512_store_si512(dst + 2 * c, _mm512_permutexvar_epi16(idx, ab));
        }
      }
      if (k < kc) {  // odd kc: the last pair's second half is the zero padding set below
        const BFloat16* src = X + (r0 + p0) + (k0 + k) * cs;
        for (int64_t i = 0; i < R; ++i) out[(k >> 1) * R * 2 + 2 * i] = src[i].bits;
      }
    } else if (rs == 1 && cs != 1) {  // k-major source (a row-major B): each k is one contiguous run of n
      for (int64_t k = 0; k < kc; ++k) {
        const BFloat16* src = X + (r0 + p0) + (k0 + k) * cs;
        uint16_t* dst = out + (k >> 1) * R * 2 + (k & 1);
        for (int64_t i = 0; i < n; ++i) dst[2 * i] = src[i].bits;
        for (int64_t i = n; i < R; ++i) dst[2 * i] = 0;
      }
    } else if (cs == 1) {
      // row-major rows (A): a pair (k, k + 1) of a row is already one 32-bit word, so the panel is a transpose
      // of words
      for (int64_t i = 0; i < R; ++i) {
        uint16_t* dst = out + 2 * i;
        if (i < n) {
          const BFloat16* src = X + (r0 + p0 + i) * rs + k0;
          int64_t k = 0;
          for (; k + 1 < kc; k += 2) std::memcpy(dst + (k >> 1) * R * 2, src + k, 4);
          if (k < kc) dst[(k >> 1) * R * 2] = src[k].bits;
        } else {
          for (int64_t p = 0; p < kp; ++p) std::memset(dst + p * R * 2, 0, 4);
        }
      }
    } else {
      for (int64_t i = 0; i < R; ++i) {
        uint16_t* dst = out + 2 * i;
        if (i < n) {
          const BFloat16* src = X + (r0 + p0 + i) * rs + k0 * cs;
          for (int64_t k = 0; k < kc; ++k) dst[(k >> 1) * R * 2 + (k & 1)] = src[k * cs].bits;
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[(k >> 1) * R * 2 + (k & 1)] = 0;
        }
      }
    }
    if (kc & 1)
      for (int64_t i = 0; i < R; ++i) out[(kp - 1) * R * 2 + 2 * i + 1] = 0;
    out += kp * R * 2;
  }
}

// c[MR x NR] = alpha * (a @ b) + beta * c over kp k pairs, for the valid m x n corner
void micro_kernel(int64_t kp, const uint16_t* __restrict a, const uint16_t* __restrict b, float* c, int64_t ldc,
                  float alpha, float beta, int64_t m, int64_t n) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  const int32_t* ap = reinterpret_cast<const int32_t*>(a);
  for (int64_t p = 0; p < kp; ++p) {
    __m512bh bv[NV];
    for (int j = 0; j < NV; ++j) bv[j] = (__m512bh)_mm512_load_si512(b + (p * NR + j * 16) * 2);
    for (int i = 0; i < MR; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(ap[p * MR + i]);
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (m == MR && n == NR) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NV; ++j) {
        float* cp = c + i * ldc + j * 16;
        __m512 r = _mm512_mul_ps(acc[i][j], va);
        if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cp), r);
        _mm512_storeu_ps(cp, r);
      }
    return;
  }
  alignas(64) float tmp[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) _mm512_store_ps(tmp + i * NR + j * 16, acc[i][j]);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const float r = alpha * tmp[i * NR + j];
      c[i * ldc + j] = beta == 0.f ? r : r + beta * c[i * ldc + j];
    }
}

// One thread's share, with its own panels: C[M x N] = alpha * A @ B + beta * C.
void gemm_serial(int64_t M, int64_t N, int64_t K, const BFloat16* A, int64_t rsa, int64_t csa, const BFloat16* B,
                 int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  const int64_t kc_max = std::min<int64_t>(KC, K + (K & 1));
  const int64_t nc_max = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
  const int64_t mc_max = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  PanelBuffer bbuf(size_t(kc_max * nc_max)), abuf(size_t(kc_max * mc_max));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc), kp = (kc + 1) / 2;
      const float beta_k = pc == 0 ? beta : 1.f;
      for (int64_t jr = 0; jr < nc; jr += NR)  // B's columns are the panel rows: row stride csb, k stride rsb
        pack_pairs<NR>(B, csb, rsb, jc + jr, std::min<int64_t>(NR, nc - jr), pc, kc,
                       bbuf.data() + (jr / NR) * kp * NR * 2);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_pairs<MR>(A, rsa, csa, ic, mc, pc, kc, abuf.data());
        for (int64_t jr = 0; jr < nc; jr += NR)
          for (int64_t ir = 0; ir < mc; ir += MR)
            micro_kernel(kp, abuf.data() + (ir / MR) * kp * MR * 2, bbuf.data() + (jr / NR) * kp * NR * 2,
                         C + (ic + ir) * ldc + jc + jr, ldc, alpha, beta_k, std::min<int64_t>(MR, mc - ir),
                         std::min<int64_t>(NR, nc - jr));
      }
    }
  }
}

}  // namespace

void gemm_bf16_dot(int64_t M, int64_t N, int64_t K, const BFloat16* A, int64_t rsa, int64_t csa, const BFloat16* B,
                   int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta) {
  const int nt = in_parallel_region() ? 1 : get_num_threads();
  if (nt == 1 || 2.0 * double(M) * double(N) * double(K) < 4e6) {
    gemm_serial(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, alpha, beta);
  } else if (M >= N) {  // independent row blocks, one per thread, aligned to the tile
    parallel_for(0, (M + MR - 1) / MR, 1, [&](int64_t b0, int64_t b1) {
      const int64_t r0 = b0 * MR, r1 = std::min(M, b1 * MR);
      gemm_serial(r1 - r0, N, K, A + r0 * rsa, rsa, csa, B, rsb, csb, C + r0 * ldc, ldc, alpha, beta);
    });
  } else {
    parallel_for(0, (N + NR - 1) / NR, 1, [&](int64_t b0, int64_t b1) {
      const int64_t c0 = b0 * NR, c1 = std::min(N, b1 * NR);
      gemm_serial(M, c1 - c0, K, A, rsa, csa, B + c0 * csb, rsb, csb, C + c0, ldc, alpha, beta);
    });
  }
}

}  // namespace cpu
}  // namespace ember

#pragma GCC pop_options

#else

namespace ember {
namespace cpu {
void gemm_bf16_dot(int64_t, int64_t, int64_t, const BFloat16*, int64_t, int64_t, const BFloat16*, int64_t, int64_t,
                   float*, int64_t, float, float) {
  throw std::logic_error("gemm_bf16_dot: this build has no AVX512-BF16 kernel");  // cpu_bf16_dot() is false here
}
}  // namespace cpu
}  // namespace ember

#endif
