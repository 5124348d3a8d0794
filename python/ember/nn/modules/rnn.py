"""Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional, batch_first) and their single-step cells.

Parameter names, shapes, gate order and default init follow PyTorch (weight_ih_l0, weight_hh_l0_reverse, ...;
LSTM gates i, f, g, o; GRU gates r, z, n), so state_dicts are interchangeable. The input projection of every
time step is one matmul per layer and direction; the time loop of a layer and direction is then one graph node
(_FusedLayer) that runs kernels step by step and back-propagates through time by hand, with the recurrent
weight gradient as one GEMM over all steps. LSTM with proj_size runs the same loop as differentiable ops per step.
PackedSequence inputs run the same loops with the batch shrinking as sequences end (each final state is taken
at its own sequence's length).
"""
import math
import numbers
import warnings

from ... import _C
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ..._ops.creation import zeros
from ..._ops.linalg import addmm
from ..._ops.shape import cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from ._utils import new_empty
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _rnn_step(x_proj, h, w_hh, b_hh, relu):
    pre = x_proj + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(x_proj, h, c, w_hh, b_hh, w_hr):
    gates = x_proj + F.linear(h, w_hh, b_hh)
    h, c = _lstm_pointwise(gates, c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(x_proj, h, w_hh, b_hh):
    # the reset gate multiplies (W_hn h + b_hn), so the hidden projection is computed whole, then split
    return _gru_pointwise(x_proj, F.linear(h, w_hh, b_hh), h)


def _gru_gates(x_proj, hg, h):
    """Differentiable h' from the input and hidden projections [N, 3H] and h (the composite form)."""
    xr, xz, xn = x_proj.chunk(3, -1)
    hr, hz, hn = hg.chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)


def _lstm_gates(gates, c):
    """Differentiable (h', c') from pre-activations [N, 4H] and the cell state (the composite form)."""
    i, f, g, o = gates.chunk(4, -1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def _composite_backward(fn, inputs, need, grads):
    """Gradients of fn(*inputs) (the differentiable composite form of a fused node) with a graph, for
    create_graph=True: higher-order gradients then come from the composite ops."""
    from ...autograd import grad
    wanted = [t for t, n in zip(inputs, need) if n]
    gs = list(grad(fn(*inputs), wanted, grads, create_graph=True, allow_unused=True))
    return tuple(gs.pop(0) if n else None for n in need[:len(inputs)])


class _LSTMPointwise(Function):
    """The element-wise half of an LSTM step as one graph node: (gates [N, 4H], c) -> (h, c').

    Composed from separate ops it would record about a dozen nodes per time step; here forward runs the kernels
    without recording and backward writes the gate derivatives directly (through the composite form under
    create_graph, so higher-order gradients stay exact)."""

    @staticmethod
    def forward(ctx, gates, c):
        h, c_new, act = _C.lstm_cell(gates, c)
        ctx.save_for_backward(gates, c, act, c_new)
        return h, c_new

    @staticmethod
    def backward(ctx, dh, dc):
        gates, c, act, c_new = ctx.saved_tensors
        if is_grad_enabled():
            return _composite_backward(_lstm_gates, (gates, c), ctx.needs_input_grad, (dh, dc))
        return _C.lstm_cell_backward(dh, None, dc, act, c, c_new)


def _lstm_pointwise(gates, c):
    if gates.dim() == 2 and c.dim() == 2:
        return _LSTMPointwise.apply(gates, c)
    return _lstm_gates(gates, c)


class _GRUPointwise(Function):
    """The element-wise half of a GRU step as one graph node: (x_proj, hg, h) -> h', as _LSTMPointwise."""

    @staticmethod
    def forward(ctx, xg, hg, h):
        h_new, act = _C.gru_cell(xg, hg, h)
        ctx.save_for_backward(xg, hg, h, act)
        return h_new

    @staticmethod
    def backward(ctx, dh):
        xg, hg, h, act = ctx.saved_tensors
        if is_grad_enabled():
            return _composite_backward(_gru_gates, (xg, hg, h), ctx.needs_input_grad, (dh,))
        return _C.gru_cell_backward(dh, None, act, hg, h)


def _gru_pointwise(xg, hg, h):
    if xg.dim() == 2 and hg.dim() == 2 and h.dim() == 2:
        return _GRUPointwise.apply(xg, hg, h)
    return _gru_gates(xg, hg, h)


class _Steps(Function):
    """Splits x [sum(sizes), G] into consecutive row blocks of the given sizes (the time steps) as one node
    whose backward concatenates the blocks' gradients; a narrow per step would instead send back a zero-filled
    tensor of x's full shape for every step (quadratic in the sequence length)."""

    @staticmethod
    def forward(x, sizes):
        out = []
        offset = 0
        for n in sizes:
            out.append(_C.narrow(x, 0, offset, n))
            offset += n
        return tuple(out)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, *grads):
        return cat(list(grads), 0), None


def _steps(x, sizes):
    if len(sizes) == 1:
        return (x,)
    return _Steps.apply(x, tuple(sizes))


def _time_loop(sizes, reverse, states0, narrow, concat, step):
    """Drives one direction over packed steps (sizes[t] rows at step t, longest sequences first), keeping the
    state rows in line with the batch: going forward, rows whose sequence has ended are set aside as final;
    going backward in time, rows join from states0 as their sequence starts. step(t, states) returns the new
    states, the first being the step's output. narrow(x, start, length) and concat(list) work on rows, as
    graph ops or as plain kernels. Returns (outputs per step, final states with each row at its own length)."""
    out = [None] * len(sizes)
    first = sizes[-1] if reverse else sizes[0]
    states = [narrow(s, 0, first) if first < s.shape[0] else s for s in states0]
    done = []
    for t in (range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))):
        b = sizes[t]
        rows = states[0].shape[0]
        if b < rows:
            done.append([narrow(s, b, rows - b) for s in states])
            states = [narrow(s, 0, b) for s in states]
        elif b > rows:
            states = [concat([s, narrow(s0, rows, b - rows)]) for s, s0 in zip(states, states0)]
        states = step(t, states)
        out[t] = states[0]
    if done:
        states = [concat([s] + [d[k] for d in done[::-1]]) for k, s in enumerate(states)]
    return out, states


def _run_direction(xs, sizes, h, c, weights, reverse, step):
    """One direction of one layer in differentiable ops over the steps xs (see _time_loop); returns
    (outputs [sum(sizes), H_out], final h, final c or None)."""
    w_hh_t, b_hh, w_hr = weights

    def one(t, states):
        h, c = step(xs[t], states[0], states[1] if len(states) > 1 else None, w_hh_t, b_hh, w_hr)
        return [h] if c is None else [h, c]
    out, states = _time_loop(sizes, reverse, [h] if c is None else [h, c], lambda x, i, n: x.narrow(0, i, n),
                             lambda xs: cat(xs, 0), one)
    return cat(out, 0), states[0], (states[1] if len(states) > 1 else None)


def _step_fn(mode):
    """The differentiable step (x_t, h, c, w_rec, b_hh, w_hr) -> (h, c) of a mode. x_t holds the input projection
    plus b_hh (folded in for every mode but GRU, whose reset gate multiplies the hidden projection with its bias);
    w_rec is w_hh.t(), except for GRU which keeps w_hh for F.linear."""
    def lstm(x_t, h, c, w_rec, b_hh, w_hr):
        h, c = _lstm_pointwise(addmm(x_t, h, w_rec), c)
        return (h if w_hr is None else F.linear(h, w_hr)), c

    def gru(x_t, h, c, w_rec, b_hh, w_hr):
        return _gru_step(x_t, h, w_rec, b_hh), None

    def rnn(x_t, h, c, w_rec, b_hh, w_hr):
        pre = addmm(x_t, h, w_rec)
        return (pre.relu() if mode == "RNN_RELU" else pre.tanh()), None
    return {"LSTM": lstm, "GRU": gru}.get(mode, rnn)


# Kernel-level steps of the fused layer. forward(x_t, states, w_t, b_hh) -> (new states, saved for backward);
# backward(dh, dout_t, d other states, saved) -> (d x_t, d of the recurrent GEMM's output, the part of d h_prev
# that does not go through the GEMM (or None), d other states of the previous step), where dh is the gradient
# reaching the step's h from later steps and dout_t the one from the layer's output at this step.

def _lstm_kernel_forward(x_t, states, w_t, b_hh):
    h, c = states
    h_new, c_new, act = _C.lstm_cell(_C.addmm(x_t, h, w_t, 1.0, 1.0), c)
    return (h_new, c_new), (act, c, c_new)


def _lstm_kernel_backward(dh, dout_t, drest, saved):
    dgates, dc = _C.lstm_cell_backward(dh, dout_t, drest[0], *saved)
    return dgates, dgates, None, [dc]


def _gru_kernel_forward(x_t, states, w_t, b_hh):
    h = states[0]
    hg = _C.addmm(b_hh, h, w_t, 1.0, 1.0) if b_hh is not None else _C.mm(h, w_t)
    h_new, act = _C.gru_cell(x_t, hg, h)
    return (h_new,), (act, hg, h)


def _gru_kernel_backward(dh, dout_t, drest, saved):
    dxg, dhg, dh_direct = _C.gru_cell_backward(dh, dout_t, *saved)
    return dxg, dhg, dh_direct, []


def _rnn_kernels(relu):
    def forward(x_t, states, w_t, b_hh):
        pre = _C.addmm(x_t, states[0], w_t, 1.0, 1.0)
        h = _C.relu(pre) if relu else _C.tanh(pre)
        return (h,), (h,)

    def backward(dh, dout_t, drest, saved):
        dh = _C.add(dh, dout_t)
        dpre = _C.relu_backward(dh, saved[0]) if relu else _C.tanh_backward(dh, saved[0])
        return dpre, dpre, None, []
    return forward, backward


_KERNELS = {"LSTM": (_lstm_kernel_forward, _lstm_kernel_backward),
            "GRU": (_gru_kernel_forward, _gru_kernel_backward),
            "RNN_TANH": _rnn_kernels(False), "RNN_RELU": _rnn_kernels(True)}


def _fused_forward(mode, proj, w_hh, b_hh, states0, sizes, reverse, keep):
    """One direction of one layer over packed steps with kernels only (no graph): proj [sum(sizes), G] holds
    every step's input projection, states0 the initial (h,) or (h, c). Returns ((out, *final states), backward
    data); with keep, what backward needs is saved per step."""
    cell = _KERNELS[mode][0]
    w_t = _C.contiguous(_C.t(w_hh))  # [H, G]: the per-step GEMM runs fastest on a contiguous operand
    offsets = []
    off = 0
    for b in sizes:
        offsets.append(off)
        off += b
    saved = [None] * len(sizes)

    def one(t, states):
        new, sv = cell(_C.narrow(proj, 0, offsets[t], sizes[t]), states, w_t, b_hh)
        if keep:
            saved[t] = (sv, states[0])
        return list(new)
    out, states = _time_loop(sizes, reverse, list(states0), lambda x, i, n: _C.narrow(x, 0, i, n),
                             lambda xs: _C.cat(xs, 0), one)
    return (_C.cat(out, 0),) + tuple(states), (offsets, saved)


class _FusedLayer(Function):
    """One direction of one recurrent layer as a single graph node:
    (proj, w_hh, b_hh, h0[, c0]) -> (out, h_n[, c_n]).

    Forward runs the time loop on kernels alone; backward is hand-written back-propagation through time whose
    recurrent weight gradient is one GEMM over all steps. Under create_graph, backward differentiates the
    composite form (the same loop in differentiable ops), so higher-order gradients are exact."""

    @staticmethod
    def forward(ctx, mode, sizes, reverse, proj, w_hh, b_hh, *states0):
        outs, (offsets, saved) = _fused_forward(mode, proj, w_hh, b_hh, states0, sizes, reverse, True)
        # the steps' tensors go through save_for_backward too, so that backward frees them (unless retain_graph)
        per_step = len(saved[0][0]) + 1
        ctx.save_for_backward(proj, w_hh, b_hh, *states0, *[x for sv, h in saved for x in sv + (h,)])
        ctx.args, ctx.offsets, ctx.layout = (mode, sizes, reverse), offsets, (len(states0), per_step)
        return outs

    @staticmethod
    def backward(ctx, dout, *dstates_n):
        mode, sizes, reverse = ctx.args
        n_states, per_step = ctx.layout
        saved = ctx.saved_tensors
        proj, w_hh, b_hh, states0 = saved[0], saved[1], saved[2], saved[3:3 + n_states]
        flat = saved[3 + n_states:]
        steps = [(flat[k:k + per_step - 1], flat[k + per_step - 1]) for k in range(0, len(flat), per_step)]
        need = ctx.needs_input_grad[3:]
        if is_grad_enabled():
            step = _step_fn(mode)

            def composite(p, w, bias, h, c=None):
                w_rec = w if mode == "GRU" else w.t()
                out, hn, cn = _run_direction(_steps(p, sizes), sizes, h, c, (w_rec, bias, None), reverse, step)
                return (out, hn, cn) if c is not None else (out, hn)
            grads = _composite_backward(composite, (proj, w_hh, b_hh) + tuple(states0), need,
                                        (dout,) + tuple(dstates_n))
            return (None, None, None) + grads
        cell_backward = _KERNELS[mode][1]
        offsets = ctx.offsets
        n = len(sizes)
        dprojs, drecs = [None] * n, [None] * n
        initial = []  # (first row, gradients of those rows of each initial state)
        last = sizes[0] if reverse else sizes[-1]
        ds = [_C.narrow(d, 0, 0, last) for d in dstates_n]
        for t in (range(n) if reverse else range(n - 1, -1, -1)):
            b = sizes[t]
            rows = ds[0]._shape[0]
            if b > rows:  # forward direction: these sequences' final states came out of step t
                ds = [_C.cat([d, _C.narrow(dn, 0, rows, b - rows)], 0) for d, dn in zip(ds, dstates_n)]
            elif b < rows:  # reverse direction: rows b.. started here from the initial states
                initial.append((b, [_C.narrow(d, 0, b, rows - b) for d in ds]))
                ds = [_C.narrow(d, 0, 0, b) for d in ds]
            sv = steps[t][0]
            dproj, drec, dh_direct, drest = cell_backward(ds[0], _C.narrow(dout, 0, offsets[t], b), ds[1:], sv)
            dprojs[t], drecs[t] = dproj, drec
            dh = _C.mm(drec, w_hh) if dh_direct is None else _C.addmm(dh_direct, drec, w_hh, 1.0, 1.0)
            ds = [dh] + drest
        initial.append((0, ds))  # what is left belongs to the initial states' first rows
        initial.sort(key=lambda r: r[0])
        dstates0 = [_C.cat([r[1][k] for r in initial], 0) if need[3 + k] else None for k in range(len(states0))]
        dproj = _C.cat(dprojs, 0) if need[0] else None
        dw = db = None
        if need[1] or need[2]:
            drec_all = dproj if drecs[0] is dprojs[0] and dproj is not None else _C.cat(drecs, 0)
            if need[1]:  # every step's recurrent weight gradient in one GEMM
                dw = _C.mm(_C.t(drec_all), _C.cat([st[1] for st in steps], 0))
            if need[2]:
                db = _C.sum(drec_all, [0], False, None)
        return (None, None, None, dproj, dw, db) + tuple(dstates0)


def _fused_layer(mode, proj, w_hh, b_hh, states0, sizes, reverse):
    tensors = (proj, w_hh, b_hh) + tuple(states0)
    if is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return _FusedLayer.apply(mode, tuple(sizes), reverse, proj, w_hh, b_hh, *states0)
    return _fused_forward(mode, proj, w_hh, b_hh, states0, sizes, reverse, False)[0]


class RNNBase(Module):
    """Shared machinery of RNN, LSTM and GRU: hyper-parameter checks, parameter registration
    (per layer and direction: weight_ih, weight_hh, bias_ih, bias_hh[, weight_hr]), init from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) and the layer/direction/time loops."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + str(mode))
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element "
                             "being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          "expects num_layers greater than 1, but got dropout=%s and num_layers=%s"
                          % (dropout, num_layers), stacklevel=2)
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                        ("proj_size", proj_size)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError("%s should be of type int, got: %s" % (name, type(v).__name__))
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                params = [("weight_ih_l%d%s", (gate_size, layer_input)), ("weight_hh_l%d%s", (gate_size, real_hidden))]
                if bias:
                    params += [("bias_ih_l%d%s", (gate_size,)), ("bias_hh_l%d%s", (gate_size,))]
                if proj_size > 0:
                    params.append(("weight_hr_l%d%s", (proj_size, hidden_size)))
                names = []
                for fmt, shape in params:
                    name = fmt % (layer, suffix)
                    setattr(self, name, Parameter(new_empty(shape, device, dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """Compacts weights for cuDNN in PyTorch; Ember's weights are always usable as they are, so this does
        nothing (kept so that code calling it runs)."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters as a list per layer and direction."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self):
        s = "%s, %s" % (self.input_size, self.hidden_size)
        if self.proj_size != 0:
            s += ", proj_size=%s" % self.proj_size
        if self.num_layers != 1:
            s += ", num_layers=%s" % self.num_layers
        if self.bias is not True:
            s += ", bias=%s" % self.bias
        if self.batch_first is not False:
            s += ", batch_first=%s" % self.batch_first
        if self.dropout != 0:
            s += ", dropout=%s" % self.dropout
        if self.bidirectional is not False:
            s += ", bidirectional=%s" % self.bidirectional
        return s

    # -------------------------------------------------------------------------------------------- forward

    def _weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        # absent names (no bias, no projection) give None
        return tuple(getattr(self, "%s_l%d%s" % (kind, layer, suffix), None)
                     for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def _prepare(self, input):
        """Checks input; returns (data [steps * rows, input_size], rows per step, batch size, batched?, the
        PackedSequence or None). A padded batch is a packed one whose steps all have the full batch."""
        if isinstance(input, PackedSequence):
            data = input.data
            if data.dim() != 2:
                raise RuntimeError("input must have 2 dimensions, got %d" % data.dim())
            sizes = [int(b) for b in input.batch_sizes.tolist()]
            batch = sizes[0] if sizes else 0
            packed, batched = input, True
        else:
            if input.dim() not in (2, 3):
                raise ValueError("%s: Expected input to be 2D or 3D, got %dD tensor instead"
                                 % (type(self).__name__, input.dim()))
            batched = input.dim() == 3
            if not batched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            steps, batch = input.shape[0], input.shape[1]
            if steps == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            data = input.reshape(steps * batch, input.shape[2])
            sizes = [batch] * steps
            packed = None
        if data.shape[-1] != self.input_size:
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected %d, got %d"
                               % (self.input_size, data.shape[-1]))
        return data, sizes, batch, batched, packed

    def _check_hidden(self, hx, expected, batched, what="hidden", packed=None):
        if batched and hx.dim() != 3:
            raise RuntimeError("For batched 3-D input, hx should also be 3-D but got %d-D tensor" % hx.dim())
        if not batched and hx.dim() != 2:
            raise RuntimeError("For unbatched 2-D input, hx should also be 2-D but got %d-D tensor" % hx.dim())
        hx = hx if batched else hx.unsqueeze(1)
        if tuple(hx.shape) != expected:
            raise RuntimeError("Expected %s size %s, got %s" % (what, expected, list(hx.shape)))
        if packed is not None and packed.sorted_indices is not None:
            # the user's states are in the original batch order; packed rows are sorted by length
            hx = hx.index_select(1, packed.sorted_indices.to(hx.device))
        return hx

    def _run(self, x, sizes, h0, c0):
        """x [sum(sizes), in] (the steps one after another), h0 [layers * dirs, batch, H_out], c0 like h0 with
        hidden_size (LSTM) or None. Returns (outputs [sum(sizes), dirs * H_out], h_n, c_n or None)."""
        directions = 2 if self.bidirectional else 1
        step = _step_fn(self.mode)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                idx = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                if self.mode != "GRU" and b_ih is not None:
                    b_ih, b_hh = b_ih + b_hh, None
                proj = F.linear(x, w_ih, b_ih)  # every time step's input projection in one matmul
                h = h0[idx]
                c = c0[idx] if c0 is not None else None
                if w_hr is None:
                    res = _fused_layer(self.mode, proj, w_hh, b_hh, (h, c) if c is not None else (h,), sizes,
                                       direction == 1)
                    out, h, c = res if c is not None else res + (None,)
                else:
                    w_rec = w_hh if self.mode == "GRU" else w_hh.t()
                    out, h, c = _run_direction(_steps(proj, sizes), sizes, h, c, (w_rec, b_hh, w_hr),
                                               direction == 1, step)
                outputs.append(out)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            x = outputs[0] if directions == 1 else cat(outputs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(h_n, 0), (stack(c_n, 0) if c0 is not None else None)

    def _finish(self, output, sizes, batch, batched, packed):
        """Packed or padded output in the input's layout."""
        if packed is not None:
            return PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        output = output.reshape(len(sizes), batch, output.shape[-1])
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def _finish_hidden(self, h, batched, packed):
        if packed is not None and packed.unsorted_indices is not None:
            return h.index_select(1, packed.unsorted_indices.to(h.device))
        return h if batched else h.squeeze(1)

    def _forward_h(self, input, hx):
        """forward of RNN and GRU, whose only state is h: returns (output, h_n)."""
        x, sizes, batch, batched, packed = self._prepare(input)
        d = 2 if self.bidirectional else 1
        expected = (self.num_layers * d, batch, self.hidden_size)
        if hx is None:
            h0 = zeros(expected, dtype=x.dtype, device=x.device)
        else:
            h0 = self._check_hidden(hx, expected, batched, packed=packed)
        out, h_n, _ = self._run(x, sizes, h0, None)
        return self._finish(out, sizes, batch, batched, packed), self._finish_hidden(h_n, batched, packed)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked num_layers deep.

    forward(input, hx=None): input [L, N, H_in] ([N, L, H_in] with batch_first, or unbatched [L, H_in]);
    hx [num_layers * num_directions, N, H] (zeros by default). Returns (output [L, N, D * H], h_n).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError("Unknown nonlinearity '%s'. Select from 'tanh' or 'relu'." % nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._forward_h(input, hx)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from x_t and h_{t-1}; c_t = f * c_{t-1} + i * g,
    h_t = o * tanh(c_t) (projected by weight_hr to proj_size when proj_size > 0).

    forward(input, (h_0, c_0)=None) returns (output, (h_n, c_n)); shapes as for RNN, with c of size
    hidden_size and h of size proj_size (when set).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input, hx=None):
        x, sizes, batch, batched, packed = self._prepare(input)
        d = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * d, batch, real_hidden)
        c_shape = (self.num_layers * d, batch, self.hidden_size)
        if hx is None:
            h0 = zeros(h_shape, dtype=x.dtype, device=x.device)
            c0 = zeros(c_shape, dtype=x.dtype, device=x.device)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0 = self._check_hidden(hx[0], h_shape, batched, packed=packed)
            c0 = self._check_hidden(hx[1], c_shape, batched, "cell", packed=packed)
        out, h_n, c_n = self._run(x, sizes, h0, c0)
        hidden = (self._finish_hidden(h_n, batched, packed), self._finish_hidden(c_n, batched, packed))
        return self._finish(out, sizes, batch, batched, packed), hidden


class GRU(RNNBase):
    """Gated recurrent unit: r = sigmoid(.), z = sigmoid(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
    h_t = (1 - z) * n + z * h_{t-1}. Same call convention as RNN."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         device, dtype)

    def forward(self, input, hx=None):
        return self._forward_h(input, hx)


class RNNCellBase(Module):
    """Parameters of a single recurrent step: weight_ih [G*H, in], weight_hh [G*H, H], bias_ih, bias_hh, all
    from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
                raise ValueError("%s must be a positive int, got %r" % (name, v))
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(new_empty((num_chunks * hidden_size, input_size), device, dtype))
        self.weight_hh = Parameter(new_empty((num_chunks * hidden_size, hidden_size), device, dtype))
        if bias:
            self.bias_ih = Parameter(new_empty((num_chunks * hidden_size,), device, dtype))
            self.bias_hh = Parameter(new_empty((num_chunks * hidden_size,), device, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-draws every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = "%s, %s" % (self.input_size, self.hidden_size)
        if self.bias is not True:
            s += ", bias=%s" % self.bias
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += ", nonlinearity=%s" % self.nonlinearity
        return s

    def _prepare(self, input, hx, size):
        if input.dim() not in (1, 2):
            raise ValueError("%s: Expected input to be 1D or 2D, got %dD instead" % (type(self).__name__, input.dim()))
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError("%s: Expected hidden to be 1D or 2D, got %dD instead" % (type(self).__name__, hx.dim()))
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            hx = zeros(input.shape[0], size, dtype=input.dtype)
        elif not batched:
            hx = hx.unsqueeze(0)
        return input, hx, batched


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError("Unknown nonlinearity: %s" % nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, h, batched = self._prepare(input, hx, self.hidden_size)
        h = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                      self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is None:
            x, h, batched = self._prepare(input, None, self.hidden_size)
            c = zeros(h.shape, dtype=h.dtype)
        else:
            x, h, batched = self._prepare(input, hx[0], self.hidden_size)
            c = hx[1] if batched else hx[1].unsqueeze(0)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, h, batched = self._prepare(input, hx, self.hidden_size)
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
