// Batched GEMM on CUDA: out[b] = alpha * a[b] @ b[b] + beta * out[b] for 3-D operands at any strides.
// Two paths, chosen per call: cuBLAS (cuda/cublas.cu, loaded at run time) and our own kernels, always built:
// float16/bfloat16 on tensor cores (mma.sync m16n8k16, float32 accumulation, sm_80+), float32/float64 as a
// register-tiled SIMT kernel (exact float32: TF32 only on the cuBLAS path). EMBER_GEMM=own|cublas forces one;
// by default cuBLAS is used when it can be loaded.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdlib>
#include <cstring>

#include "core/dispatch.h"
#include "core/kernel_table.h"
#include "cuda/cublas.h"
#include "cuda/runtime.h"
#include "ops/common.h"
#include "ops/pointwise.h"

namespace ember {
namespace cuda {

void fill(const Tensor& t, double value_f, int64_t value_i, bool is_integral_value);  // cuda/pointwise.cu

namespace {

// Strided views of the three operands as the kernels read them (element strides).
struct GemmArgs {
  int64_t B, M, N, K;
  int64_t sa0, sa1, sa2, sb0, sb1, sb2, sc0, sc1, sc2;
  float alpha, beta;
};

// ---------------------------------------------------------------------------------- tensor cores (16-bit)

constexpr int kBM = 128, kBN = 128, kBK = 32, kPad = 8, kThreads = 256;

// D = A B + D on one m16n8k16 tile: A row-major 16x16, B column-major 16x8 (16-bit), C/D float32.
#define EMBER_MMA_16816(TYPE, PTX_TYPE)                                                                        \
  __device__ __forceinline__ void mma_16816(TYPE, float* c, const uint32_t* a, const uint32_t* b) {           \
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." PTX_TYPE "." PTX_TYPE                                \
                 ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"                                 \
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])                                              \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));                          \
  }
EMBER_MMA_16816(Half, "f16")
EMBER_MMA_16816(BFloat16, "bf16")
#undef EMBER_MMA_16816

__device__ __forceinline__ uint32_t pair_at(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

// 16-bit values as their bits, converted with the hardware instructions (Half's portable conversion is
// register-hungry bit twiddling)
template <class S>
__device__ __forceinline__ float bits_to_float(uint16_t b);
template <>
__device__ __forceinline__ float bits_to_float<Half>(uint16_t b) { return __half2float(__ushort_as_half(b)); }
template <>
__device__ __forceinline__ float bits_to_float<BFloat16>(uint16_t b) {
  return __bfloat162float(__ushort_as_bfloat16(b));
}
template <class S>
__device__ __forceinline__ uint16_t float_to_bits(float v);
template <>
__device__ __forceinline__ uint16_t float_to_bits<Half>(float v) { return __half_as_ushort(__float2half_rn(v)); }
template <>
__device__ __forceinline__ uint16_t float_to_bits<BFloat16>(float v) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}

// One block computes a 128 x 128 tile of C with 8 warps (2 along M x 4 along N, 64 x 32 each); the A and B
// tiles of each 32-wide k step are staged in shared memory, k-contiguous, so each mma fragment register is
// one 32-bit load of two consecutive k values (PTX ISA fragment layouts for m16n8k16).
template <class S>
__global__ void __launch_bounds__(kThreads) gemm_mma_kernel(GemmArgs g, const uint16_t* __restrict__ A,
                                                            const uint16_t* __restrict__ Bm, uint16_t* C) {
  __shared__ __align__(16) uint16_t As[kBM][kBK + kPad];
  __shared__ __align__(16) uint16_t Bs[kBN][kBK + kPad];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;  // warp's 64-row / 32-column slot
  const int grp = lane >> 2, t4 = lane & 3;
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;
  for (int64_t bi = blockIdx.z; bi < g.B; bi += gridDim.z) {
    const uint16_t* a = A + bi * g.sa0;
    const uint16_t* b = Bm + bi * g.sb0;
    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;
    for (int64_t k0 = 0; k0 < g.K; k0 += kBK) {
      // A tile [128 x 32]: each thread keeps one k column (consecutive threads, consecutive k: coalesced for
      // row-major A) and walks rows 8 apart; the B tile [32 x 128] likewise keeps one n and walks k.
      {
        const int kk = tid & (kBK - 1), r0 = tid / kBK;
        const bool k_ok = k0 + kk < g.K;
        const uint16_t* src = a + (m0 + r0) * g.sa1 + (k0 + kk) * g.sa2;
#pragma unroll
        for (int i = 0; i < kBM * kBK / kThreads; ++i) {
          const int r = r0 + i * (kThreads / kBK);
          As[r][kk] = (k_ok && m0 + r < g.M) ? src[int64_t(i) * (kThreads / kBK) * g.sa1] : uint16_t(0);
        }
      }
      {
        const int c = tid & (kBN - 1), kk0 = tid / kBN;
        const bool n_ok = n0 + c < g.N;
        const uint16_t* src = b + (k0 + kk0) * g.sb1 + (n0 + c) * g.sb2;
#pragma unroll
        for (int i = 0; i < kBN * kBK / kThreads; ++i) {
          const int kk = kk0 + i * (kThreads / kBN);
          Bs[c][kk] = (n_ok && k0 + kk < g.K) ? src[int64_t(i) * (kThreads / kBN) * g.sb1] : uint16_t(0);
        }
      }
      __syncthreads();
#pragma unroll
      for (int ks = 0; ks < kBK; ks += 16) {
        const int k = ks + t4 * 2;
        uint32_t bf[4][2];
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          const int c = wn * 32 + nt * 8 + grp;
          bf[nt][0] = pair_at(&Bs[c][k]);
          bf[nt][1] = pair_at(&Bs[c][k + 8]);
        }
#pragma unroll
        for (int mt = 0; mt < 4; ++mt) {
          const int r = wm * 64 + mt * 16 + grp;
          const uint32_t af[4] = {pair_at(&As[r][k]), pair_at(&As[r + 8][k]), pair_at(&As[r][k + 8]),
                                  pair_at(&As[r + 8][k + 8])};
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) mma_16816(S(), acc[mt][nt], af, bf[nt]);
        }
      }
      __syncthreads();
    }
    uint16_t* c = C + bi * g.sc0;
#pragma unroll
    for (int mt = 0; mt < 4; ++mt)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int64_t gm = m0 + wm * 64 + mt * 16 + grp + (r >= 2 ? 8 : 0);
          const int64_t gn = n0 + wn * 32 + nt * 8 + t4 * 2 + (r & 1);
          if (gm < g.M && gn < g.N) {
            uint16_t* o = c + gm * g.sc1 + gn * g.sc2;
            float v = g.alpha * acc[mt][nt][r];
            if (g.beta != 0.f) v += g.beta * bits_to_float<S>(*o);
            *o = float_to_bits<S>(v);
          }
        }
  }
}

// ---------------------------------------------------------------------------------- SIMT (float32, float64)

constexpr int kSB = 64, kSK = 16;  // 64 x 64 tile, 16-wide k steps, 256 threads of 4 x 4 outputs

template <class T>
__global__ void __launch_bounds__(256) gemm_simt_kernel(GemmArgs g, const T* __restrict__ A, const T* __restrict__ Bm,
                                                        T* C, T alpha, T beta) {
  __shared__ T As[kSK][kSB + 1];  // k-major: As[k][m]
  __shared__ T Bs[kSK][kSB + 1];  // Bs[k][n]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = int64_t(blockIdx.x) * kSB, n0 = int64_t(blockIdx.y) * kSB;
  for (int64_t bi = blockIdx.z; bi < g.B; bi += gridDim.z) {
    const T* a = A + bi * g.sa0;
    const T* b = Bm + bi * g.sb0;
    T acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] = T(0);
    for (int64_t k0 = 0; k0 < g.K; k0 += kSK) {
#pragma unroll
      for (int i = 0; i < kSB * kSK / 256; ++i) {
        const int idx = tid + i * 256;
        {  // A: consecutive threads take consecutive k
          const int kk = idx % kSK, r = idx / kSK;
          const int64_t gm = m0 + r, gk = k0 + kk;
          As[kk][r] = (gm < g.M && gk < g.K) ? a[gm * g.sa1 + gk * g.sa2] : T(0);
        }
        {  // B: consecutive threads take consecutive n
          const int c = idx % kSB, kk = idx / kSB;
          const int64_t gn = n0 + c, gk = k0 + kk;
          Bs[kk][c] = (gn < g.N && gk < g.K) ? b[gk * g.sb1 + gn * g.sb2] : T(0);
        }
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kSK; ++kk) {
        T av[4], bv[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
      }
      __syncthreads();
    }
    T* c = C + bi * g.sc0;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int64_t gm = m0 + ty + 16 * i, gn = n0 + tx + 16 * j;
        if (gm < g.M && gn < g.N) {
          T* o = c + gm * g.sc1 + gn * g.sc2;
          *o = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *o;
        }
      }
  }
}

GemmArgs make_args(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  GemmArgs g;
  g.B = a.sizes()[0];
  g.M = a.sizes()[1];
  g.K = a.sizes()[2];
  g.N = b.sizes()[2];
  g.sa0 = a.strides()[0], g.sa1 = a.strides()[1], g.sa2 = a.strides()[2];
  g.sb0 = b.strides()[0], g.sb1 = b.strides()[1], g.sb2 = b.strides()[2];
  g.sc0 = out.strides()[0], g.sc1 = out.strides()[1], g.sc2 = out.strides()[2];
  g.alpha = float(alpha);
  g.beta = float(beta);
  return g;
}

dim3 grid_for(const GemmArgs& g, int bm, int bn) {
  return dim3(unsigned((g.M + bm - 1) / bm), unsigned((g.N + bn - 1) / bn), unsigned(std::min<int64_t>(g.B, 65535)));
}

uint16_t* bits(const Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr()); }

void own_gemm(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  const GemmArgs g = make_args(out, a, b, alpha, beta);
  EMBER_RUNTIME_CHECK((g.N + kSB - 1) / kSB <= 65535, "matmul on CUDA: ", g.N, " output columns exceed the grid");
  DeviceGuard guard(out.device().index);
  switch (out.dtype()) {
    case ScalarType::Float16:
      gemm_mma_kernel<Half><<<grid_for(g, kBM, kBN), kThreads>>>(g, bits(a), bits(b), bits(out));
      break;
    case ScalarType::BFloat16:
      gemm_mma_kernel<BFloat16><<<grid_for(g, kBM, kBN), kThreads>>>(g, bits(a), bits(b), bits(out));
      break;
    case ScalarType::Float32:
      gemm_simt_kernel<float><<<grid_for(g, kSB, kSB), 256>>>(g, a.data<float>(), b.data<float>(), out.data<float>(),
                                                              float(alpha), float(beta));
      break;
    case ScalarType::Float64:
      gemm_simt_kernel<double><<<grid_for(g, kSB, kSB), 256>>>(g, a.data<double>(), b.data<double>(),
                                                               out.data<double>(), alpha, beta);
      break;
    default: throw TypeError(str("\"addmm_cuda\" not implemented for '", dtype_name(out.dtype()), "'"));
  }
  EMBER_CUDA_CHECK_LAUNCH();
}

enum class GemmPath { Auto, Own, Cublas };

GemmPath requested_path() {
  static const GemmPath p = [] {
    const char* e = std::getenv("EMBER_GEMM");
    if (!e || !*e) return GemmPath::Auto;
    if (!std::strcmp(e, "own")) return GemmPath::Own;
    if (!std::strcmp(e, "cublas")) return GemmPath::Cublas;
    throw std::invalid_argument(str("EMBER_GEMM must be 'own' or 'cublas', got '", e, "'"));
  }();
  return p;
}

}  // namespace

void gemm_batched(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta) {
  EMBER_TYPE_CHECK(is_floating(out.dtype()), "\"addmm_cuda\" not implemented for '", dtype_name(out.dtype()), "'");
  if (out.numel() == 0) return;
  if (a.sizes()[2] == 0) {  // an empty sum: out = beta * out
    if (beta == 0.0) fill(out, 0.0, 0, false);
    else ops::binary_(kernels::BinaryOp::mul, out, ops::scalar_tensor(beta, out.dtype()));
    return;
  }
  const GemmPath p = requested_path();
  if (p == GemmPath::Cublas || (p == GemmPath::Auto && cublas_available()))
    return cublas_gemm(out, a, b, alpha, beta, float32_matmul_tf32());
  own_gemm(out, a, b, alpha, beta);
}

}  // namespace cuda
}  // namespace ember
