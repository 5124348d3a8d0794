// One LSTM and one GRU unit, forward and backward, shared by the CPU row loops (cpu/row_kernels.inc) and the
// CUDA kernels (cuda/rnn.cu). Gate orders are PyTorch's: i, f, g, o and r, z, n. T is the compute type
// (float32 for 16-bit storage).
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

// One GRU unit (gates r, z, n): input projections (xr, xz, xn) and hidden ones (hr, hz, hn, bias included) with
// the previous h -> r, z, n and h' = n + z (h - n)
template <class T>
EMBER_HD inline void gru_unit(T xr, T xz, T xn, T hr, T hz, T hn, T h, T& r, T& z, T& n, T& hnew) {
  r = kmath::sigmoid(xr + hr);
  z = kmath::sigmoid(xz + hz);
  n = kmath::tanh(xn + r * hn);
  hnew = n + z * (h - n);
}

// d (the gradient reaching h') -> gradients of the pre-activations r and z (shared by both projections), of
// the input projection's n (dxn), of the hidden projection's n (dhn) and of h outside the projections (dh)
template <class T>
EMBER_HD inline void gru_unit_backward(T d, T r, T z, T n, T hn, T h, T& dr, T& dz, T& dxn, T& dhn, T& dh) {
  const T dnv = d * (T(1) - z) * (T(1) - n * n);
  dr = dnv * hn * r * (T(1) - r);
  dz = d * (h - n) * z * (T(1) - z);
  dxn = dnv;
  dhn = dnv * r;
  dh = d * z;
}

}  // namespace kernels
}  // namespace ember
