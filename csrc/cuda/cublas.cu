// cuBLAS through dlopen (see cuda/cublas.h): the handful of entry points the GEMM uses, declared here with
// the documented ABI (cublas_api.h), one handle per device.
#include "cuda/cublas.h"

#include <dlfcn.h>

#include <mutex>
#include <vector>

#include "cuda/blas_plan.h"
#include "cuda/library_locator.h"
#include "cuda/runtime.h"
#include "ops/common.h"

namespace ember {
namespace cuda {

namespace {

// cublas_api.h / library_types.h values
using cublasHandle_t = void*;
using cublasStatus_t = int;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kR32F = 0, kR64F = 1, kR16F = 2, kR16BF = 14;
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77, kCompute64F = 70;
constexpr int kGemmDefault = -1;

using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
using GemmFn = cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int,
                                  long long, const void*, int, int, long long, const void*, void*, int, int,
                                  long long, int, int, int);

struct Cublas {
  bool ok = false;
  std::string reason;
  CreateFn create = nullptr;
  SetStreamFn set_stream = nullptr;
  GemmFn gemm = nullptr;
  std::mutex mutex;
  std::vector<cublasHandle_t> handles;  // per device, created on first use
};

Cublas& lib() {
  static Cublas* c = [] {
    Cublas* c = new Cublas();  // leaked: handles stay valid through interpreter shutdown
    const std::string path = locate_library("cublas");
    if (path.empty()) {
      c->reason = "cuBLAS was not found (install it with: pip install \"ember[cuda]\")";
      return c;
    }
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      c->reason = std::string("cuBLAS at ") + path + " could not be opened: " + dlerror();
      return c;
    }
    c->create = reinterpret_cast<CreateFn>(dlsym(h, "cublasCreate_v2"));
    c->set_stream = reinterpret_cast<SetStreamFn>(dlsym(h, "cublasSetStream_v2"));
    c->gemm = reinterpret_cast<GemmFn>(dlsym(h, "cublasGemmStridedBatchedEx"));
    if (!c->create || !c->set_stream || !c->gemm) {
      c->reason = std::string("cuBLAS at ") + path + " lacks cublasCreate_v2/cublasGemmStridedBatchedEx";
      return c;
    }
    c->ok = true;
    return c;
  }();
  return *c;
}

cublasHandle_t handle(int device) {
  Cublas& c = lib();
  std::lock_guard<std::mutex> g(c.mutex);
  if (int(c.handles.size()) <= device) c.handles.resize(size_t(device) + 1, nullptr);
  if (!c.handles[size_t(device)]) {
    cublasHandle_t h = nullptr;
    const cublasStatus_t st = c.create(&h);
    EMBER_RUNTIME_CHECK(st == 0, "cublasCreate failed with status ", st, " on cuda:", device);
    c.handles[size_t(device)] = h;
  }
  return c.handles[size_t(device)];
}

int data_type(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return kR32F;
    case ScalarType::Float64: return kR64F;
    case ScalarType::Float16: return kR16F;
    case ScalarType::BFloat16: return kR16BF;
    default: throw TypeError(str("cuBLAS GEMM: unsupported dtype ", dtype_name(t)));
  }
}

}  // namespace

bool cublas_available() { return lib().ok; }
const std::string& cublas_unavailable_reason() { return lib().reason; }

void cublas_gemm(const Tensor& out, const Tensor& a0, const Tensor& b0, double alpha, double beta, bool allow_tf32) {
  Cublas& c = lib();
  EMBER_RUNTIME_CHECK(c.ok, c.reason);
  const int64_t B = a0.sizes()[0], M = a0.sizes()[1], K = a0.sizes()[2], N = b0.sizes()[2];
  Tensor a = a0, b = b0;
  auto strides = [](const Tensor& t) { return std::vector<int64_t>(t.strides().begin(), t.strides().end()); };
  std::optional<BlasGemmPlan> p;
  for (int attempt = 0; attempt < 3 && !p; ++attempt) {
    auto sa = strides(a), sb = strides(b), sc = strides(out);
    p = plan_blas_gemm(B, M, N, K, sa.data(), sb.data(), sc.data());
    if (p) break;
    // an operand cuBLAS cannot take as it is: copy A first, then B (out is allocated contiguous by ops/)
    if (attempt == 0) a = ops::contiguous(a);
    else b = ops::contiguous(b);
  }
  EMBER_RUNTIME_CHECK(p, "cuBLAS GEMM: sizes ", M, "x", K, " @ ", K, "x", N, " (batch ", B,
                      ") exceed cuBLAS's int range or the output layout is unsupported");
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  cublasHandle_t h = handle(dev);
  EMBER_RUNTIME_CHECK(c.set_stream(h, nullptr) == 0, "cublasSetStream failed");
  const Tensor& ca = p->swapped ? b : a;  // cuBLAS's a and b
  const Tensor& cb = p->swapped ? a : b;
  const int dt = data_type(out.dtype());
  const bool f64 = out.dtype() == ScalarType::Float64;
  const int compute = f64 ? kCompute64F : (out.dtype() == ScalarType::Float32 && allow_tf32) ? kCompute32FFastTF32
                                                                                            : kCompute32F;
  const float alpha_f = float(alpha), beta_f = float(beta);
  const void* alpha_p = f64 ? static_cast<const void*>(&alpha) : static_cast<const void*>(&alpha_f);
  const void* beta_p = f64 ? static_cast<const void*>(&beta) : static_cast<const void*>(&beta_f);
  const cublasStatus_t st = c.gemm(h, p->trans_a ? kOpT : kOpN, p->trans_b ? kOpT : kOpN, int(p->m), int(p->n),
                                   int(p->k), alpha_p, ca.data_ptr(), dt, int(p->lda), p->stride_a, cb.data_ptr(), dt,
                                   int(p->ldb), p->stride_b, beta_p, out.data_ptr(), dt, int(p->ldc), p->stride_c,
                                   int(p->batch), compute, kGemmDefault);
  EMBER_RUNTIME_CHECK(st == 0, "cublasGemmStridedBatchedEx failed with status ", st, " (", M, "x", K, " @ ", K, "x",
                      N, ", batch ", B, ", ", dtype_name(out.dtype()), ")");
}

}  // namespace cuda
}  // namespace ember
