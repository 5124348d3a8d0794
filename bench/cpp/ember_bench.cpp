// Google Benchmark cases for Ember's CPU kernels through the C++ API (csrc/ops/*.h, csrc/cpu/kernels.h):
// the packed GEMM (square, tall-skinny, transposed operands), elementwise ops, reductions, conv2d forward and
// backward, and softmax. Threads: Ember's default (OMP_NUM_THREADS, else the CPU affinity mask).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/tensor.h"
#include "cpu/kernels.h"
#include "ops/conv.h"
#include "ops/factory.h"
#include "ops/linalg.h"
#include "ops/nn.h"
#include "ops/pointwise.h"
#include "ops/reduce.h"

namespace {

using ember::DimVector;
using ember::ScalarType;
using ember::Tensor;
namespace ops = ember::ops;
namespace cpu = ember::cpu;

Tensor randn(const DimVector& shape, ScalarType dt = ScalarType::Float32) {
  Tensor t = ember::empty(shape, dt);
  ops::normal_(t, 0.0, 1.0, nullptr);
  return t;
}

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOPS"] =
      benchmark::Counter(flops_per_iter * double(state.iterations()), benchmark::Counter::kIsRate);
}

void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.SetBytesProcessed(int64_t(bytes_per_iter * double(state.iterations())));
}

// ------------------------------------------------------------------------------------------------- GEMM

// cpu::gemm_f32 on raw buffers: C[M x N] = op(A) @ op(B). Args: M, N, K, transA, transB. A transposed
// operand is stored as its transpose (column-major for the GEMM), so the packer reads it with swapped strides.
void BM_gemm_f32(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const bool ta = state.range(3) != 0, tb = state.range(4) != 0;
  Tensor a = randn({M * K}), b = randn({K * N}), c = ember::empty({M, N}, ScalarType::Float32);
  const int64_t rsa = ta ? 1 : K, csa = ta ? M : 1, rsb = tb ? 1 : N, csb = tb ? K : 1;
  for (auto _ : state) {
    cpu::gemm_f32(M, N, K, a.data<float>(), rsa, csa, b.data<float>(), rsb, csb, c.data<float>(), N, 1.0f, 0.0f);
    benchmark::DoNotOptimize(c.data<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * double(M) * double(N) * double(K));
}

void gemm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "tA", "tB"});
  for (int64_t n : {128, 256, 512, 1024, 2048}) b->Args({n, n, n, 0, 0});
  b->Args({4096, 64, 4096, 0, 0});  // tall-skinny: a long, thin output
  b->Args({64, 4096, 64, 0, 0});    // short, wide output with a short K
  b->Args({1024, 1024, 1024, 1, 0});  // A^T
  b->Args({1024, 1024, 1024, 0, 1});  // B^T
  b->Args({1024, 1024, 1024, 1, 1});  // A^T B^T
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_gemm_f32)->Apply(gemm_args);

void BM_gemm_f64(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n, n}, ScalarType::Float64), b = randn({n, n}, ScalarType::Float64);
  Tensor c = ember::empty({n, n}, ScalarType::Float64);
  for (auto _ : state) {
    cpu::gemm_f64(n, n, n, a.data<double>(), n, 1, b.data<double>(), n, 1, c.data<double>(), n, 1.0, 0.0);
    benchmark::DoNotOptimize(c.data<double>());
    benchmark::ClobberMemory();
  }
  set_flops(state, 2.0 * double(n) * double(n) * double(n));
}
BENCHMARK(BM_gemm_f64)->ArgName("n")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// ops::matmul: the full op (checks, output allocation, batched dispatch) around the same GEMM.
void BM_matmul_op(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n, n}), b = randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(ops::matmul(a, b));
  set_flops(state, 2.0 * double(n) * double(n) * double(n));
}
BENCHMARK(BM_matmul_op)->ArgName("n")->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// Batched matmul with a broadcast right operand: [8, 256, 256] @ [256, 256].
void BM_matmul_batched_broadcast(benchmark::State& state) {
  Tensor a = randn({8, 256, 256}), b = randn({256, 256});
  for (auto _ : state) benchmark::DoNotOptimize(ops::matmul(a, b));
  set_flops(state, 2.0 * 8 * 256.0 * 256.0 * 256.0);
}
BENCHMARK(BM_matmul_batched_broadcast)->Unit(benchmark::kMillisecond)->UseRealTime();

// ------------------------------------------------------------------------------------------------- elementwise

// Output allocated per call, like a non-in-place op in Python. Arg: element count.
void BM_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n}), b = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(ops::binary(ember::ops::BinaryOp::add, a, b));
  set_bytes(state, 3.0 * 4.0 * double(n));
}

void BM_add_inplace(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n}), b = randn({n});
  for (auto _ : state) {
    ops::binary_(ember::ops::BinaryOp::add, a, b);
    benchmark::ClobberMemory();
  }
  set_bytes(state, 3.0 * 4.0 * double(n));
}

void BM_exp(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a = randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(ops::unary(ember::ops::UnaryOp::exp, a));
  set_bytes(state, 2.0 * 4.0 * double(n));
}

// [rows, 1024] * [1024]: the right operand broadcast along rows.
void BM_mul_broadcast(benchmark::State& state) {
  const int64_t n = state.range(0), cols = 1024, rows = n / cols;
  Tensor a = randn({rows, cols}), b = randn({cols});
  for (auto _ : state) benchmark::DoNotOptimize(ops::binary(ember::ops::BinaryOp::mul, a, b));
  set_bytes(state, 2.0 * 4.0 * double(n));
}

void elementwise_args(benchmark::internal::Benchmark* b) {
  b->ArgName("n")->Arg(1 << 20)->Arg(16 << 20)->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_add)->Apply(elementwise_args);
BENCHMARK(BM_add_inplace)->Apply(elementwise_args);
BENCHMARK(BM_exp)->Apply(elementwise_args);
BENCHMARK(BM_mul_broadcast)->Apply(elementwise_args);

// ------------------------------------------------------------------------------------------------- reductions

// sum of a square 2-D float32 tensor with n elements: dim -1 = everything, 0 = down the columns, 1 = along rows.
void BM_sum(benchmark::State& state) {
  const int64_t n = state.range(0), dim = state.range(1);
  int64_t side = 1;
  while (side * side < n) side *= 2;
  Tensor x = randn({side, side});
  DimVector dims;
  if (dim >= 0) dims.push_back(dim);
  for (auto _ : state) benchmark::DoNotOptimize(ops::sum(x, dims, false));
  set_bytes(state, 4.0 * double(side * side));
}
BENCHMARK(BM_sum)
    ->ArgNames({"n", "dim"})
    ->ArgsProduct({{1 << 20, 16 << 20}, {-1, 0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// ------------------------------------------------------------------------------------------------- conv2d

// 3x3, 64 -> 64 channels, stride 1, padding 1 on [32, 64, 32, 32] (the reference convolution).
struct ConvSetup {
  Tensor x = randn({32, 64, 32, 32}), w = randn({64, 64, 3, 3}), b = randn({64}), g = randn({32, 64, 32, 32});
  DimVector stride{1, 1}, padding{1, 1, 1, 1}, dilation{1, 1};
  double flops() const { return 2.0 * 32 * 64 * 32 * 32 * 64 * 9; }
};

void BM_conv2d_forward(benchmark::State& state) {
  ConvSetup s;
  for (auto _ : state) benchmark::DoNotOptimize(ops::conv2d(s.x, s.w, s.b, s.stride, s.padding, s.dilation, 1));
  set_flops(state, s.flops());
}
BENCHMARK(BM_conv2d_forward)->Unit(benchmark::kMillisecond)->UseRealTime();

// grad_input + grad_weight + grad_bias (twice the forward's FLOPs)
void BM_conv2d_backward(benchmark::State& state) {
  ConvSetup s;
  for (auto _ : state)
    benchmark::DoNotOptimize(ops::conv2d_backward(s.g, s.x, s.w, s.stride, s.padding, s.dilation, 1, true, true, true));
  set_flops(state, 2.0 * s.flops());
}
BENCHMARK(BM_conv2d_backward)->Unit(benchmark::kMillisecond)->UseRealTime();

// ------------------------------------------------------------------------------------------------- softmax

// softmax / log_softmax over the last dim of [rows, cols] float32. Args: rows, cols, log.
void BM_softmax(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const bool log = state.range(2) != 0;
  Tensor x = randn({rows, cols});
  for (auto _ : state) benchmark::DoNotOptimize(ops::softmax(x, -1, log));
  set_bytes(state, 2.0 * 4.0 * double(rows * cols));
}
BENCHMARK(BM_softmax)
    ->ArgNames({"rows", "cols", "log"})
    ->Args({4096, 1024, 0})
    ->Args({4096, 1024, 1})
    ->Args({64, 32768, 0})
    ->Args({256, 10, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Google Benchmark < 1.8 wants --benchmark_min_time=0.05; 1.8+ wants 0.05s. Accept the new spelling on old
// versions by dropping the suffix.
void normalize_min_time_flag(int argc, char** argv) {
#ifdef EMBER_BENCHMARK_MIN_TIME_IS_DOUBLE
  const std::string flag = "--benchmark_min_time=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.compare(0, flag.size(), flag) == 0 && a.size() > flag.size() && a.back() == 's') argv[i][a.size() - 1] = 0;
  }
#else
  (void)argc;
  (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  normalize_min_time_flag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("ember_threads", std::to_string(ember::get_num_threads()));
  benchmark::AddCustomContext("ember_cpu_capability", ember::cpu_capability_name(ember::cpu_capability()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
