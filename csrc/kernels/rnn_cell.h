// One LSTM unit, forward and backward, shared by the CPU row loops (cpu/row_kernels.inc) and the CUDA kernel
// (cuda/rnn.cu). Gate order is PyTorch's: i, f, g, o. T is the compute type (float32 for 16-bit storage).
#pragma once
#include "kernels/math.h"

namespace ember {
namespace kernels {

// pre-activations (pi, pf, pg, po) and the previous cell state c -> activations, c_new and h
template <class T>
EMBER_HD inline void lstm_unit(T pi, T pf, T pg, T po, T c, T& i, T& f, T& g, T& o, T& cn, T& h) {
  i = kmath::sigmoid(pi);
  f = kmath::sigmoid(pf);
  g = kmath::tanh(pg);
  o = kmath::sigmoid(po);
  cn = f * c + i * g;
  h = o * kmath::tanh(cn);
}

// d is the gradient reaching h, dc the one reaching c_new; gives the four pre-activation gradients and d c
template <class T>
EMBER_HD inline void lstm_unit_backward(T d, T dc, T i, T f, T g, T o, T c, T cn, T& di, T& df, T& dg, T& dout,
                                        T& dcp) {
  const T tc = kmath::tanh(cn);
  const T dct = d * o * (T(1) - tc * tc) + dc;
  di = dct * g * i * (T(1) - i);
  df = dct * c * f * (T(1) - f);
  dg = dct * i * (T(1) - g * g);
  dout = d * tc * o * (T(1) - o);
  dcp = dct * f;
}

}  // namespace kernels
}  // namespace ember
