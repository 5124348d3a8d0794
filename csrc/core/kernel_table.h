// The device seam: one list of kernel entries (EMBER_KERNEL_ENTRIES) declares a table of function pointers per
// device. cpu/table.cpp fills the CPU table and cuda/ the CUDA one, each entry from its own namespace, so a
// kernel added to the list shows up missing for a device that lacks it (a compile error, or an entry that
// raises "not implemented for 'cuda'"). ops/ validates, promotes and allocates, then calls
// kernels_for(device).<entry>; everything below the seam (threading, chunking, vector widths, launch
// configuration) is the device's own policy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "iter/tensor_iter.h"
#include "kernels/params.h"
#include "kernels/pointwise_ops.h"

namespace ember {

// X(name, return type, (parameters)). Tensors reaching an entry are on the table's device (a cross-device
// copy is handed to the non-CPU side); the caller has checked shapes, dtypes and index ranges.
#define EMBER_KERNEL_ENTRIES(X)                                                                                     \
  /* memory: raw blocks on this device; copy_bytes moves nbytes between host and this device (either way) */     \
  X(allocate, Storage, (size_t nbytes, Device device))                                                           \
  X(copy_bytes, void, (void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes))         \
  X(synchronize, void, (Device device))                                                                          \
  X(memory_stats, MemoryStats, (int device))  /* the allocator's statistics, its cache emptied, peaks reset */    \
  X(empty_cache, void, (int device))                                                                             \
  X(reset_peak_memory, void, (int device))                                                                       \
  /* pointwise over a built TensorIter (operand 0 is the output) in compute dtype `dtype` */                    \
  X(unary, void, (kernels::UnaryOp op, const TensorIter& it, ScalarType dtype))                                  \
  X(unary_bool, void, (kernels::UnaryBoolOp op, const TensorIter& it, ScalarType dtype))                         \
  X(unary_param, void,                                                                                           \
    (kernels::UnaryParamOp op, const TensorIter& it, ScalarType dtype, double p0, double p1, double p2))         \
  X(binary, void, (kernels::BinaryOp op, const TensorIter& it, ScalarType dtype))                                \
  X(binary_bool, void, (kernels::BinaryBoolOp op, const TensorIter& it, ScalarType dtype))                       \
  X(where, void, (const TensorIter& it, size_t itemsize))                   /* out, cond(bool), a, b */          \
  X(clamp, void, (const TensorIter& it, ScalarType dtype, bool has_lo, bool has_hi))  /* out, x, lo, hi */       \
  X(addcmul, void, (const TensorIter& it, ScalarType dtype, double alpha, bool divide))                          \
  X(lerp, void, (const TensorIter& it, ScalarType dtype))                   /* out, a, b, w */                   \
  X(copy, void, (const TensorIter& it, ScalarType dst, ScalarType src))     /* out, in (casting) */              \
  X(fill, void, (const Tensor& t, double value_f, int64_t value_i, bool is_integral_value))                      \
  /* reductions: acc (keepdim shape, accumulate dtype, holding the identity) combined with all of x */           \
  X(reduce, void, (kernels::ReduceOp op, const Tensor& acc, const Tensor& x))                                    \
  X(arg_reduce, void, (bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices))  \
  X(cumulative, void, (bool is_prod, const Tensor& out, const Tensor& in, int64_t dim))                          \
  /* indexing: it = {out, src, idx_0 ..} (gather) or {dst, src, idx_0 ..} (scatter) */                           \
  X(index_gather, void,                                                                                          \
    (const TensorIter& it, int nidx, const int64_t* idx_stride_bytes, const int64_t* idx_size, size_t itemsize)) \
  X(index_scatter, void,                                                                                         \
    (const TensorIter& it, int nidx, const int64_t* idx_stride_bytes, const int64_t* idx_size, ScalarType dtype, \
     bool accumulate))                                                                                           \
  X(int_min_max, void, (const Tensor& idx, int64_t* lo, int64_t* hi))  /* results on the host */                \
  X(count_nonzero, int64_t, (const Tensor& x))                                                                   \
  X(nonzero, void, (const Tensor& x, const Tensor& out))                                                         \
  X(masked_select, void, (const Tensor& x, const Tensor& mask, const Tensor& out))                               \
  X(sort, void, (const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, bool descending))    \
  X(topk, void,                                                                                                  \
    (const Tensor& values, const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest))        \
  /* random: counter blocks from first_block under seed (kernels::random_blocks says how many); RandInt draws   \
     int_low + (bits mod int_span), exact over the whole int64 range */                                          \
  X(random_fill, void,                                                                                           \
    (const Tensor& out, kernels::RandomKind kind, double a, double b, int64_t int_low, uint64_t int_span,        \
     uint64_t seed, uint64_t first_block))                                                                       \
  X(bernoulli_tensor, void, (const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first_block))           \
  /* linear algebra and nn */                                                                                    \
  X(gemm_batched, void, (const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta))        \
  X(conv2d_forward, void,                                                                                        \
    (const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const kernels::ConvGeometry& g))   \
  X(conv2d_backward, void,                                                                                       \
    (const Tensor& gout, const Tensor& x, const Tensor& w, const kernels::ConvGeometry& g, const Tensor& gx,     \
     const Tensor& gw, const Tensor& gb))                                                                        \
  X(softmax, void, (const Tensor& out, const Tensor& x, int64_t dim, bool log))                                  \
  X(softmax_backward, void, (const Tensor& gx, const Tensor& g, const Tensor& y, int64_t dim, bool log))         \
  X(max_pool2d, void, (const Tensor& out, const Tensor& indices, const Tensor& x, const kernels::PoolGeometry& g)) \
  X(max_pool2d_backward, void, (const Tensor& gx, const Tensor& gout, const Tensor& indices))                    \
  X(avg_pool2d, void, (const Tensor& out, const Tensor& x, const kernels::PoolGeometry& g))                      \
  X(avg_pool2d_backward, void, (const Tensor& gx, const Tensor& gout, const kernels::PoolGeometry& g))           \
  X(adaptive_avg_pool2d, void, (const Tensor& out, const Tensor& x))                                             \
  X(adaptive_avg_pool2d_backward, void, (const Tensor& gx, const Tensor& gout))                                  \
  X(adaptive_max_pool2d, void, (const Tensor& out, const Tensor& indices, const Tensor& x))                      \
  X(batch_norm_stats, void, (const Tensor& x, const Tensor& mean, const Tensor& var))                            \
  X(batch_norm_apply, void,                                                                                      \
    (const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b)) \
  X(batch_norm_backward, void,                                                                                   \
    (const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x, const Tensor& mean, \
     const Tensor& invstd, const Tensor& w, bool training))                                                      \
  X(layer_norm, void,                                                                                            \
    (const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w, const Tensor& b, \
     int64_t D, double eps))                                                                                     \
  X(layer_norm_backward, void,                                                                                   \
    (const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x, const Tensor& mean, \
     const Tensor& rstd, const Tensor& w, int64_t D))                                                            \
  X(cross_entropy, void,                                                                                         \
    (const Tensor& loss, const Tensor& lse, const Tensor& x, const Tensor& target, const Tensor& weight,          \
     int64_t ignore_index, double smoothing))                                                                    \
  X(cross_entropy_backward, void,                                                                                \
    (const Tensor& gx, const Tensor& grow, const Tensor& x, const Tensor& target, const Tensor& weight,           \
     int64_t ignore_index, double smoothing, const Tensor& lse))                                                 \
  /* LSTM cell, contiguous rows: (h, c_new, act) from gates [N, 4H] and c; dh2 and dc may be undefined */    \
  X(lstm_cell, void, (const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c)) \
  X(lstm_cell_backward, void,                                                                                    \
    (const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2, const Tensor& dc,         \
     const Tensor& act, const Tensor& c, const Tensor& cn))                                                      \
  /* GRU cell: (h', act) from the projections xg, hg [N, 3H] and h; backward gives d xg, d hg and d h direct */ \
  X(gru_cell, void, (const Tensor& hnew, const Tensor& act, const Tensor& xg, const Tensor& hg, const Tensor& h))  \
  X(gru_cell_backward, void,                                                                                     \
    (const Tensor& dxg, const Tensor& dhg, const Tensor& dh_prev, const Tensor& dh, const Tensor& dh2,           \
     const Tensor& act, const Tensor& hg, const Tensor& h))                                                      \
  /* fused optimizers: every parameter of a group in one call */                                                 \
  X(sgd, void, (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::SgdOptions& o))  \
  X(adam, void, (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::AdamOptions& o)) \
  X(adagrad, void,                                                                                               \
    (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::AdagradOptions& o))        \
  X(rmsprop, void,                                                                                               \
    (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::RmspropOptions& o))        \
  X(adamax, void,                                                                                                \
    (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::AdamaxOptions& o))         \
  X(nadam, void, (ScalarType dtype, const std::vector<kernels::OptimSegment>& segs, const kernels::NadamOptions& o))

struct KernelTable {
  const char* device_name;
#define EMBER_KERNEL_SLOT(name, ret, params) ret(*name) params = nullptr;
  EMBER_KERNEL_ENTRIES(EMBER_KERNEL_SLOT)
#undef EMBER_KERNEL_SLOT
};

// Names of the entries, in list order (for error messages and the tests that list a device's gaps).
const std::vector<const char*>& kernel_entry_names();

const KernelTable& cpu_kernel_table();   // cpu/table.cpp
const KernelTable& cuda_kernel_table();  // cuda/table.cu, or cuda/no_cuda.cpp in a build without CUDA
bool cuda_built();                       // whether this build has the CUDA kernel module
int cuda_device_count();                 // usable CUDA devices (0 without a build, driver or device)
struct CudaDeviceProperties {
  std::string name;
  int major = 0, minor = 0, multi_processor_count = 0;
  int64_t total_memory = 0, l2_cache_size = 0;
};
CudaDeviceProperties cuda_device_properties(int device);  // raises without the module or the device

// torch.set_float32_matmul_precision: "highest" keeps float32 GEMMs in float32; "high" and "medium" let the
// CUDA GEMM use TF32 tensor cores (cuBLAS path). The CPU GEMM always computes in float32.
void set_float32_matmul_tf32(bool allowed);
bool float32_matmul_tf32();

// The table of a device. Tests may put another table in the CUDA slot (a host backend that exercises the
// device plumbing without a GPU); nullptr restores the real one.
const KernelTable& kernels_for(Device device);
inline const KernelTable& kernels_for(const Tensor& t) { return kernels_for(t.device()); }
void set_cuda_kernel_table_for_testing(const KernelTable* table);

// Names of the entries of `table` that raise instead of running (not implemented on that device).
std::vector<std::string> missing_kernels(const KernelTable& table);

}  // namespace ember
