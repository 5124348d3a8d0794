// CPU kernel entry points. Each takes a built TensorIter (operand 0 is the output) and the compute dtype;
// the ops/ layer has already validated arguments, promoted dtypes and allocated outputs.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "iter/tensor_iter.h"
#include "kernels/params.h"
#include "kernels/pointwise_ops.h"

namespace ember {
namespace cpu {

using kernels::BinaryBoolOp;
using kernels::BinaryOp;
using kernels::UnaryBoolOp;
using kernels::UnaryOp;
using kernels::UnaryParamOp;
using kernels::ConvGeometry;
using kernels::PoolGeometry;
using kernels::RandomKind;
using kernels::ReduceOp;

// pointwise.cpp (compiled per ISA)
void unary(UnaryOp op, const TensorIter& it, ScalarType dtype);            // out, x
void unary_bool(UnaryBoolOp op, const TensorIter& it, ScalarType dtype);   // out(bool), x
void unary_param(UnaryParamOp op, const TensorIter& it, ScalarType dtype, double p0, double p1, double p2);
void binary(BinaryOp op, const TensorIter& it, ScalarType dtype);          // out, a, b
void binary_bool(BinaryBoolOp op, const TensorIter& it, ScalarType dtype); // out(bool), a, b
void where(const TensorIter& it, size_t itemsize);                         // out, cond(bool), a, b
void clamp(const TensorIter& it, ScalarType dtype, bool has_lo, bool has_hi);  // out, x, lo, hi
// out = a + alpha * b * c (addcmul) or a + alpha * b / c (addcdiv)
void addcmul(const TensorIter& it, ScalarType dtype, double alpha, bool divide);
// out = a + w * (b - a)
void lerp(const TensorIter& it, ScalarType dtype);  // out, a, b, w

// copy.cpp
void copy(const TensorIter& it, ScalarType dst, ScalarType src);  // out, in (casting)
void fill(const Tensor& t, double value_f, int64_t value_i, bool is_integral_value);

// reduce.cpp
// Reduces `in` into `acc` (same ndim, size 1 or equal per dim; acc dtype = accumulate dtype), combining with
// what acc already holds. reduce_into runs serially; reduce (the table entry) splits the work across threads.
void reduce_into(ReduceOp op, const Tensor& acc, const Tensor& in);
void reduce(ReduceOp op, const Tensor& acc, const Tensor& in);
// argmax/argmin along `dim` of in; values (same dtype as in) and int64 indices get the reduced shape.
void arg_reduce(bool is_max, const Tensor& in, int64_t dim, const Tensor& values, const Tensor& indices);
void cumulative(bool is_prod, const Tensor& out, const Tensor& in, int64_t dim);  // cumsum / cumprod

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// index.cpp. Operands: it = {out, src, idx_0 .. idx_{n-1}}; each element reads
// src + sum_k wrap(idx_k) * idx_stride_bytes[k], where wrap adds idx_size[k] to negative indices.
// Index values were validated by the caller.
void index_gather(const TensorIter& it, int nidx, const int64_t* idx_stride_bytes, const int64_t* idx_size,
                  size_t itemsize);
// it = {dst, src, idx_0 ..}: dst + offset = src (or += src when accumulate). Serial: duplicates are summed.
void index_scatter(const TensorIter& it, int nidx, const int64_t* idx_stride_bytes, const int64_t* idx_size,
                   ScalarType dtype, bool accumulate);
// Smallest and largest value of an int64 tensor (for bounds checks before any memory is touched).
void int_min_max(const Tensor& idx, int64_t* lo, int64_t* hi);
// Writes the C-order coordinates of nonzero elements into out [n, ndim] (n counted by the caller).
int64_t count_nonzero(const Tensor& x);
void nonzero(const Tensor& x, const Tensor& out);
// Elements of x where mask is true, in C order, into the 1-D out (x and mask have the same shape).
void masked_select(const Tensor& x, const Tensor& mask, const Tensor& out);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// linalg.cpp: out[b] = alpha * a[b] @ b_[b] + beta * out[b] for 3-D operands [B,M,K] x [B,K,N] -> [B,M,N],
// any strides (batch strides may be 0). beta == 0 ignores out's previous contents (even NaN).
void gemm_batched(const Tensor& out, const Tensor& a, const Tensor& b, double alpha, double beta);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// sort.cpp: along `dim`; values/indices have x's shape (topk: k along dim). NaN sorts as the largest value.
void sort(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, bool descending);
void topk(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// random.cpp: fill a contiguous tensor from counter blocks starting at `first_block` under `seed`.
void random_fill(const Tensor& out, RandomKind kind, double a, double b, int64_t int_low, uint64_t int_span,
                 uint64_t seed, uint64_t first_block);
// out (float dtype, contiguous): Bernoulli draws with per-element probabilities p (same shape, float).
void bernoulli_tensor(const Tensor& out, const Tensor& p, uint64_t seed, uint64_t first_block);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// nn.cpp: softmax / log_softmax along dim (out and x same shape, float32/float64), and its backward
// (gx = y * (g - sum(g * y)) or, for log_softmax, g - exp(y) * sum(g)).
void softmax(const Tensor& out, const Tensor& x, int64_t dim, bool log);
void softmax_backward(const Tensor& gx, const Tensor& g, const Tensor& y, int64_t dim, bool log);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// gemm.cpp: C[M x N] (row stride ldc, unit column stride) = alpha * A @ B + beta * C, with A [M x K] and
// B [K x N] at any strides (transposed or sliced operands are packed, never copied first). beta == 0 ignores
// C's old contents. Multithreaded over the pool; picks the AVX-512 / AVX2 / baseline micro-kernel at run time.
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta);
void gemm_f64(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa, const double* B,
              int64_t rsb, int64_t csb, double* C, int64_t ldc, double alpha, double beta);
// float16/bfloat16 A and B, converted to float32 while packing; C is float32 (the caller's accumulator).
void gemm_f32(int64_t M, int64_t N, int64_t K, const Half* A, int64_t rsa, int64_t csa, const Half* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta);
void gemm_f32(int64_t M, int64_t N, int64_t K, const BFloat16* A, int64_t rsa, int64_t csa, const BFloat16* B,
              int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta);
// the same with AVX512-BF16 dot products (cpu/gemm_bf16.cpp); only while cpu_bf16_dot() holds
void gemm_bf16_dot(int64_t M, int64_t N, int64_t K, const BFloat16* A, int64_t rsa, int64_t csa, const BFloat16* B,
                   int64_t rsb, int64_t csb, float* C, int64_t ldc, float alpha, float beta);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// conv.cpp: 2-D convolution on contiguous NCHW tensors (float32/float64).
// Auto picks per call; Gemm / Direct force one (for tests and benchmarks; Direct still needs stride 1).
enum class ConvAlgorithm { Auto, Gemm, Direct };
void set_conv_algorithm(ConvAlgorithm a);
void conv2d_forward(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g);
// Any of gx / gw / gb may be undefined (not requested).
void conv2d_backward(const Tensor& gout, const Tensor& x, const Tensor& w, const ConvGeometry& g, const Tensor& gx,
                     const Tensor& gw, const Tensor& gb);

// The column matrix of one image (channels C, spatial H x W) under geometry g, never materialised: the GEMM
// packs straight from the image. Rows are taps (c, i, j), columns are output pixels.
template <class T>
struct Im2ColSrc {
  const T* x;
  int64_t C, H, W;
  ConvGeometry g;
  int64_t images = 1;        // columns run over `images` images, image_stride elements apart
  int64_t image_stride = 0;
};
// C[M x L] = W[M x K] @ cols + beta * C (W row-major with row stride ldw; K = channels * kh * kw).
void gemm_w_cols(int64_t M, const float* W, int64_t ldw, const Im2ColSrc<float>& src, float* C, int64_t ldc,
                 float beta);
void gemm_w_cols(int64_t M, const double* W, int64_t ldw, const Im2ColSrc<double>& src, double* C, int64_t ldc,
                 double beta);
// C[M x K] = G @ cols^T + beta * C, with G [M x L] row-major (row stride ldg): the weight gradient.
// With src.images > 1, G's columns also run over images: column (n, l) is G[n * g_image_stride + row * ldg + l].
void gemm_g_colsT(int64_t M, const float* G, int64_t ldg, int64_t g_image_stride, const Im2ColSrc<float>& src,
                  float* C, int64_t ldc, float beta);
void gemm_g_colsT(int64_t M, const double* G, int64_t ldg, int64_t g_image_stride, const Im2ColSrc<double>& src,
                  double* C, int64_t ldc, double beta);

}  // namespace cpu
}  // namespace ember

namespace ember {
namespace cpu {

// pool.cpp: NCHW, contiguous. oh/ow come from the caller (ceil_mode already applied).
void max_pool2d(const Tensor& out, const Tensor& indices, const Tensor& x, const PoolGeometry& g);
void max_pool2d_backward(const Tensor& gx, const Tensor& gout, const Tensor& indices);  // also adaptive max
void avg_pool2d(const Tensor& out, const Tensor& x, const PoolGeometry& g);
void avg_pool2d_backward(const Tensor& gx, const Tensor& gout, const PoolGeometry& g);
void adaptive_avg_pool2d(const Tensor& out, const Tensor& x);
void adaptive_avg_pool2d_backward(const Tensor& gx, const Tensor& gout);
void adaptive_max_pool2d(const Tensor& out, const Tensor& indices, const Tensor& x);

// norm.cpp: x contiguous [N, C, ...] for batch norm (per-channel statistics; var is biased), rows of the
// last dims for layer norm, [N, C] logits with int64 targets for cross-entropy (per-row losses, and the
// log-sum-exp per row the backward reuses; grow is the gradient of each row's loss).
void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var);
void batch_norm_apply(const Tensor& y, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                      const Tensor& b);
void batch_norm_backward(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                         const Tensor& mean, const Tensor& invstd, const Tensor& w, bool training);
void layer_norm(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x, const Tensor& w,
                const Tensor& b, int64_t D, double eps);  // rows of D elements
void layer_norm_backward(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                         const Tensor& mean, const Tensor& rstd, const Tensor& w, int64_t D);
void cross_entropy(const Tensor& loss, const Tensor& lse, const Tensor& x, const Tensor& target, const Tensor& weight,
                   int64_t ignore_index, double smoothing);
void cross_entropy_backward(const Tensor& gx, const Tensor& grow, const Tensor& x, const Tensor& target,
                            const Tensor& weight, int64_t ignore_index, double smoothing, const Tensor& lse);
void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c);
void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn);
void gru_cell(const Tensor& hnew, const Tensor& act, const Tensor& xg, const Tensor& hg, const Tensor& h);
void gru_cell_backward(const Tensor& dxg, const Tensor& dhg, const Tensor& dh_prev, const Tensor& dh,
                       const Tensor& dh2, const Tensor& act, const Tensor& hg, const Tensor& h);

// Sum of channel c of a contiguous [N, C, S] array, accumulated in double in one fixed order (n, then s):
// batch norm's mean and the convolution's bias gradient.
template <class T>
inline double channel_sum(const T* p, int64_t N, int64_t C, int64_t S, int64_t c) {
  double s = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* r = p + (n * C + c) * S;
    for (int64_t i = 0; i < S; ++i) s += double(r[i]);
  }
  return s;
}

}  // namespace cpu
}  // namespace ember
