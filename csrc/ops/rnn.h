// Fused LSTM and GRU cell entry points: the element-wise half of a step, the GEMMs staying with the caller.
#pragma once
#include <tuple>

#include "core/tensor.h"

namespace ember {
namespace ops {

// gates [N, 4H] (pre-activations, PyTorch's order i, f, g, o), c [N, H] -> (h, c_new, act): act [N, 4H] holds
// sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) for the backward.
std::tuple<Tensor, Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c);
// (d gates, d c) of a step from the gradient of its h (dh, plus dh2 where defined: an output's gradient on top
// of the recurrent one) and of its c_new (dc, undefined for zero), with the forward's act, c and c_new.
std::tuple<Tensor, Tensor> lstm_cell_backward(const Tensor& dh, const Tensor& dh2, const Tensor& dc, const Tensor& act,
                                              const Tensor& c, const Tensor& c_new);

// xg, hg [N, 3H] (input and hidden projections with their biases, PyTorch's order r, z, n), h [N, H] ->
// (h', act): act [N, 3H] holds r, z, n for the backward.
std::tuple<Tensor, Tensor> gru_cell(const Tensor& xg, const Tensor& hg, const Tensor& h);
// (d xg, d hg, the part of d h that bypasses the hidden projection) from the gradient of h' (dh, plus dh2 where
// defined), with the forward's act, hg and h.
std::tuple<Tensor, Tensor, Tensor> gru_cell_backward(const Tensor& dh, const Tensor& dh2, const Tensor& act,
                                                     const Tensor& hg, const Tensor& h);

}  // namespace ops
}  // namespace ember
