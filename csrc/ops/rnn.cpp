// Fused LSTM and GRU cells: argument checks and allocation on the operands' device; the kernels are the device's.
#include "ops/rnn.h"

#include "core/kernel_table.h"
#include "core/shape.h"
#include "ops/common.h"

namespace ember {
namespace ops {

namespace {

void check_state(const Tensor& t, const Tensor& like, int64_t N, int64_t cols, const char* op, const char* what) {
  if (!t.defined()) return;
  EMBER_RUNTIME_CHECK(t.dim() == 2 && t.sizes()[0] == N && t.sizes()[1] == cols, op, ": expected ", what, " of shape [",
                      N, ", ", cols, "], got ", shape_str(t.sizes()));
  EMBER_TYPE_CHECK(t.dtype() == like.dtype(), op, ": expected ", what, " of dtype ", dtype_name(like.dtype()),
                   ", got ", dtype_name(t.dtype()));
}

Tensor contiguous_or_undef(const Tensor& t) { return t.defined() ? contiguous(t) : t; }

// the state every other operand is checked against: floating point, [N, H]
void check_cell_state(const Tensor& s, const char* op, const char* what) {
  EMBER_TYPE_CHECK(is_floating(s.dtype()), op, ": expected a floating point ", what, ", got ", dtype_name(s.dtype()));
  EMBER_RUNTIME_CHECK(s.dim() == 2, op, ": expected a 2-D ", what, " [N, H], got ", shape_str(s.sizes()));
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c) {
  check_devices({&gates, &c}, "lstm_cell");
  check_cell_state(c, "lstm_cell", "cell state");
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  check_state(gates, c, N, 4 * H, "lstm_cell", "gates");
  Tensor g = contiguous(gates), cc = contiguous(c);
  Tensor h = empty({N, H}, c.dtype(), c.device()), cn = empty({N, H}, c.dtype(), c.device());
  Tensor act = empty({N, 4 * H}, c.dtype(), c.device());
  if (N && H) kernels_for(h).lstm_cell(h, cn, act, g, cc);
  return {h, cn, act};
}

std::tuple<Tensor, Tensor> lstm_cell_backward(const Tensor& dh, const Tensor& dh2, const Tensor& dc, const Tensor& act,
                                              const Tensor& c, const Tensor& c_new) {
  const char* op = "lstm_cell_backward";
  check_devices({&dh, &dh2, &dc, &act, &c, &c_new}, op);
  check_cell_state(c, op, "cell state");
  const int64_t N = c.sizes()[0], H = c.sizes()[1];
  EMBER_RUNTIME_CHECK(dh.defined() && act.defined() && c_new.defined(), op, ": dh, act and c_new are required");
  check_state(dh, c, N, H, op, "dh");
  check_state(dh2, c, N, H, op, "dh2");
  check_state(dc, c, N, H, op, "dc");
  check_state(act, c, N, 4 * H, op, "act");
  check_state(c_new, c, N, H, op, "c_new");
  Tensor dgates = empty({N, 4 * H}, c.dtype(), c.device()), dcp = empty({N, H}, c.dtype(), c.device());
  if (N && H)
    kernels_for(dgates).lstm_cell_backward(dgates, dcp, contiguous(dh), contiguous_or_undef(dh2),
                                           contiguous_or_undef(dc), contiguous(act), contiguous(c), contiguous(c_new));
  return {dgates, dcp};
}

std::tuple<Tensor, Tensor> gru_cell(const Tensor& xg, const Tensor& hg, const Tensor& h) {
  check_devices({&xg, &hg, &h}, "gru_cell");
  check_cell_state(h, "gru_cell", "hidden state");
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  check_state(xg, h, N, 3 * H, "gru_cell", "input projection");
  check_state(hg, h, N, 3 * H, "gru_cell", "hidden projection");
  Tensor hnew = empty({N, H}, h.dtype(), h.device()), act = empty({N, 3 * H}, h.dtype(), h.device());
  if (N && H) kernels_for(hnew).gru_cell(hnew, act, contiguous(xg), contiguous(hg), contiguous(h));
  return {hnew, act};
}

std::tuple<Tensor, Tensor, Tensor> gru_cell_backward(const Tensor& dh, const Tensor& dh2, const Tensor& act,
                                                     const Tensor& hg, const Tensor& h) {
  const char* op = "gru_cell_backward";
  check_devices({&dh, &dh2, &act, &hg, &h}, op);
  check_cell_state(h, op, "hidden state");
  const int64_t N = h.sizes()[0], H = h.sizes()[1];
  EMBER_RUNTIME_CHECK(dh.defined() && act.defined() && hg.defined(), op, ": dh, act and hg are required");
  check_state(dh, h, N, H, op, "dh");
  check_state(dh2, h, N, H, op, "dh2");
  check_state(act, h, N, 3 * H, op, "act");
  check_state(hg, h, N, 3 * H, op, "hidden projection");
  Tensor dxg = empty({N, 3 * H}, h.dtype(), h.device()), dhg = empty({N, 3 * H}, h.dtype(), h.device());
  Tensor dhp = empty({N, H}, h.dtype(), h.device());
  if (N && H)
    kernels_for(dxg).gru_cell_backward(dxg, dhg, dhp, contiguous(dh), contiguous_or_undef(dh2), contiguous(act),
                                       contiguous(hg), contiguous(h));
  return {dxg, dhg, dhp};
}

}  // namespace ops
}  // namespace ember
