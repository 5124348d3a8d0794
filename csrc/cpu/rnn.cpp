// Fused recurrent cell kernels: the element-wise half of an LSTM or GRU step (gate activations, new states)
// and its backward, one pass over contiguous rows of H units (cpu/row_kernels.inc). float16/bfloat16 rows are
// staged through float32 scratch.
#include <algorithm>
#include <array>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "cpu/kernels.h"
#include "cpu/row_kernels_isa.h"
#include "cpu/staging.h"

namespace ember {
namespace cpu {

namespace {

// An operand of a cell kernel: a contiguous [N, width * H] tensor, or undefined (an optional input).
struct CellArg {
  const Tensor* t;
  int width;
};

// Calls row(in, out) for each of the N rows, with in/out arrays of row pointers (nullptr for undefined inputs)
// in compute type A: T itself, or float for 16-bit storage, whose rows are converted into per-thread scratch and
// back. Each unit costs several exp-like evaluations, so threads split rows sooner than kGrainSize elements.
template <class T, size_t NI, size_t NO, class Row>
void cell_rows(int64_t N, int64_t H, const std::array<CellArg, NI>& ins, const std::array<CellArg, NO>& outs,
               const Row& row) {
  using A = opmath_t<T>;
  int64_t staged = 0;
  for (const CellArg& a : ins) staged += a.width * H;
  for (const CellArg& a : outs) staged += a.width * H;
  const int64_t grain = std::max<int64_t>(1, kGrainSize / 16 / std::max<int64_t>(H, 1));
  parallel_for(0, N, grain, [&](int64_t r0, int64_t r1) {
    A* buf = nullptr;
    if constexpr (!std::is_same<A, T>::value) buf = scratch_floats(staged, 0);
    for (int64_t r = r0; r < r1; ++r) {
      std::array<const A*, NI> in;
      std::array<A*, NO> out;
      A* next = buf;
      for (size_t k = 0; k < NI; ++k) {
        const int64_t w = ins[k].width * H;
        if (!ins[k].t->defined()) {
          in[k] = nullptr;
        } else if constexpr (std::is_same<A, T>::value) {
          in[k] = ins[k].t->template data<T>() + r * w;
        } else {
          const T* src = ins[k].t->template data<T>() + r * w;
          for (int64_t i = 0; i < w; ++i) next[i] = A(src[i]);
          in[k] = next;
          next += w;
        }
      }
      for (size_t k = 0; k < NO; ++k) {
        if constexpr (std::is_same<A, T>::value) {
          out[k] = outs[k].t->template data<T>() + r * outs[k].width * H;
        } else {
          out[k] = next;
          next += outs[k].width * H;
        }
      }
      row(in, out);
      if constexpr (!std::is_same<A, T>::value)
        for (size_t k = 0; k < NO; ++k)
          store_floats(out[k], outs[k].width * H, outs[k].t->template data<T>() + r * outs[k].width * H, 1);
    }
  });
}

// the flags of the backward rows, taken out of their loops
template <class A, bool kDh2, bool kDc>
void lstm_backward_row(bool avx2, A* dg, A* dcp, const A* dh, const A* dh2, const A* dc, const A* act, const A* c,
                       const A* cn, int64_t H) {
#ifdef EMBER_HAVE_AVX2_ROWS
  if (avx2) return isa_avx2::lstm_cell_backward_row<A, kDh2, kDc>(dg, dcp, dh, dh2, dc, act, c, cn, H);
#endif
  (void)avx2;
  isa_default::lstm_cell_backward_row<A, kDh2, kDc>(dg, dcp, dh, dh2, dc, act, c, cn, H);
}

template <class A, bool kDh2>
void gru_backward_row(bool avx2, A* dxg, A* dhg, A* dhp, const A* dh, const A* dh2, const A* act, const A* hg,
                      const A* h, int64_t H) {
#ifdef EMBER_HAVE_AVX2_ROWS
  if (avx2) return isa_avx2::gru_cell_backward_row<A, kDh2>(dxg, dhg, dhp, dh, dh2, act, hg, h, H);
#endif
  (void)avx2;
  isa_default::gru_cell_backward_row<A, kDh2>(dxg, dhg, dhp, dh, dh2, act, hg, h, H);
}

// float32 and float64 run their own copy; 16-bit types the float32 one
bool avx2_rows(ScalarType dt) { return use_avx2_float_copy(is_reduced_float(dt) ? ScalarType::Float32 : dt); }

}  // namespace

void lstm_cell(const Tensor& h, const Tensor& cn, const Tensor& act, const Tensor& gates, const Tensor& c) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  const bool avx2 = avx2_rows(c.dtype());
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell", [&] {
    using A = opmath_t<scalar_t>;
    cell_rows<scalar_t, 2, 3>(N, H, {{{&gates, 4}, {&c, 1}}}, {{{&h, 1}, {&cn, 1}, {&act, 4}}},
                              [&](const std::array<const A*, 2>& in, const std::array<A*, 3>& out) {
                                EMBER_ROW_RUN(lstm_cell_row<A>, out[0], out[1], out[2], in[0], in[1], H);
                              });
  });
}

void lstm_cell_backward(const Tensor& dgates, const Tensor& dc_prev, const Tensor& dh, const Tensor& dh2,
                        const Tensor& dc, const Tensor& act, const Tensor& c, const Tensor& cn) {
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  const bool avx2 = avx2_rows(c.dtype());
  EMBER_DISPATCH_FLOATING(c.dtype(), "lstm_cell_backward", [&] {
    using A = opmath_t<scalar_t>;
    cell_rows<scalar_t, 6, 2>(
        N, H, {{{&dh, 1}, {&dh2, 1}, {&dc, 1}, {&act, 4}, {&c, 1}, {&cn, 1}}}, {{{&dgates, 4}, {&dc_prev, 1}}},
        [&](const std::array<const A*, 6>& in, const std::array<A*, 2>& out) {
          auto run = in[1] ? (in[2] ? &lstm_backward_row<A, true, true> : &lstm_backward_row<A, true, false>)
                           : (in[2] ? &lstm_backward_row<A, false, true> : &lstm_backward_row<A, false, false>);
          run(avx2, out[0], out[1], in[0], in[1], in[2], in[3], in[4], in[5], H);
        });
  });
}

void gru_cell(const Tensor& hnew, const Tensor& act, const Tensor& xg, const Tensor& hg, const Tensor& h) {
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  const bool avx2 = avx2_rows(h.dtype());
  EMBER_DISPATCH_FLOATING(h.dtype(), "gru_cell", [&] {
    using A = opmath_t<scalar_t>;
    cell_rows<scalar_t, 3, 2>(N, H, {{{&xg, 3}, {&hg, 3}, {&h, 1}}}, {{{&hnew, 1}, {&act, 3}}},
                              [&](const std::array<const A*, 3>& in, const std::array<A*, 2>& out) {
                                EMBER_ROW_RUN(gru_cell_row<A>, out[0], out[1], in[0], in[1], in[2], H);
                              });
  });
}

void gru_cell_backward(const Tensor& dxg, const Tensor& dhg, const Tensor& dh_prev, const Tensor& dh,
                       const Tensor& dh2, const Tensor& act, const Tensor& hg, const Tensor& h) {
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  const bool avx2 = avx2_rows(h.dtype());
  EMBER_DISPATCH_FLOATING(h.dtype(), "gru_cell_backward", [&] {
    using A = opmath_t<scalar_t>;
    cell_rows<scalar_t, 5, 3>(N, H, {{{&dh, 1}, {&dh2, 1}, {&act, 3}, {&hg, 3}, {&h, 1}}},
                              {{{&dxg, 3}, {&dhg, 3}, {&dh_prev, 1}}},
                              [&](const std::array<const A*, 5>& in, const std::array<A*, 3>& out) {
                                auto run = in[1] ? &gru_backward_row<A, true> : &gru_backward_row<A, false>;
                                run(avx2, out[0], out[1], out[2], in[0], in[1], in[2], in[3], in[4], H);
                              });
  });
}

}  // namespace cpu
}  // namespace ember
