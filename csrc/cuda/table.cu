// The CUDA kernel table: starts from the table whose every entry raises "not implemented for 'cuda'" and
// fills the entries the CUDA module implements (_C._missing_kernels('cuda') lists the rest).
#include "core/kernel_table.h"
#include "cuda/runtime.h"

namespace ember {

const KernelTable& cuda_missing_table();

namespace cuda {
void unary(kernels::UnaryOp op, const TensorIter& it, ScalarType dtype);
void unary_bool(kernels::UnaryBoolOp op, const TensorIter& it, ScalarType dtype);
void binary(kernels::BinaryOp op, const TensorIter& it, ScalarType dtype);
void binary_bool(kernels::BinaryBoolOp op, const TensorIter& it, ScalarType dtype);
void copy(const TensorIter& it, ScalarType dst, ScalarType src);
void fill(const Tensor& t, double value_f, int64_t value_i, bool is_integral_value);
void where(const TensorIter& it, size_t itemsize);
void unary_param(kernels::UnaryParamOp op, const TensorIter& it, ScalarType dtype, double p0, double p1, double p2);
void clamp(const TensorIter& it, ScalarType dtype, bool has_lo, bool has_hi);
void addcmul(const TensorIter& it, ScalarType dtype, double alpha, bool divide);
void lerp(const TensorIter& it, ScalarType dtype);
void gemm_batched(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta);
void reduce(kernels::ReduceOp op, const Tensor& acc, const Tensor& x);
void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices);
void cumulative(bool is_prod, const Tensor& out, const Tensor& in, int64_t dim);
void random_fill(const Tensor& out, kernels::RandomKind kind, double a, double b, int64_t int_low, uint64_t int_span,
                 uint64_t seed, uint64_t first);
void bernoulli_tensor(const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first);
void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c);
void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn);
void gru_cell(const Tensor& hnew, const Tensor& act, const Tensor& xg, const Tensor& hg, const Tensor& h);
void gru_cell_backward(const Tensor& dxg, const Tensor& dhg, const Tensor& dh_prev, const Tensor& dh,
                       const Tensor& dh2, const Tensor& act, const Tensor& hg, const Tensor& h);
}  // namespace cuda

const KernelTable& cuda_kernel_table() {
  static const KernelTable t = [] {
    KernelTable k = cuda_missing_table();
#define EMBER_CUDA_SLOT(name) k.name = &cuda::name;
    EMBER_CUDA_SLOT(allocate)
    EMBER_CUDA_SLOT(copy_bytes)
    EMBER_CUDA_SLOT(synchronize)
    EMBER_CUDA_SLOT(memory_stats)
    EMBER_CUDA_SLOT(empty_cache)
    EMBER_CUDA_SLOT(reset_peak_memory)
    EMBER_CUDA_SLOT(unary)
    EMBER_CUDA_SLOT(unary_bool)
    EMBER_CUDA_SLOT(binary)
    EMBER_CUDA_SLOT(binary_bool)
    EMBER_CUDA_SLOT(copy)
    EMBER_CUDA_SLOT(fill)
    EMBER_CUDA_SLOT(where)
    EMBER_CUDA_SLOT(unary_param)
    EMBER_CUDA_SLOT(clamp)
    EMBER_CUDA_SLOT(addcmul)
    EMBER_CUDA_SLOT(lerp)
    EMBER_CUDA_SLOT(gemm_batched)
    EMBER_CUDA_SLOT(reduce)
    EMBER_CUDA_SLOT(arg_reduce)
    EMBER_CUDA_SLOT(cumulative)
    EMBER_CUDA_SLOT(random_fill)
    EMBER_CUDA_SLOT(bernoulli_tensor)
    EMBER_CUDA_SLOT(lstm_cell)
    EMBER_CUDA_SLOT(lstm_cell_backward)
    EMBER_CUDA_SLOT(gru_cell)
    EMBER_CUDA_SLOT(gru_cell_backward)
#undef EMBER_CUDA_SLOT
    return k;
  }();
  return t;
}

bool cuda_built() { return true; }
int cuda_device_count() { return cuda::device_count(); }

CudaDeviceProperties cuda_device_properties(int device) {
  EMBER_RUNTIME_CHECK(device >= 0 && device < cuda::device_count(), "CUDA error: invalid device ordinal ", device,
                      " (", cuda::device_count(), " device(s) visible)");
  cudaDeviceProp p;
  EMBER_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  CudaDeviceProperties r;
  r.name = p.name;
  r.major = p.major;
  r.minor = p.minor;
  r.multi_processor_count = p.multiProcessorCount;
  r.total_memory = int64_t(p.totalGlobalMem);
  r.l2_cache_size = int64_t(p.l2CacheSize);
  return r;
}

}  // namespace ember

