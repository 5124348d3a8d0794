"""Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional, batch_first) and their single-step cells.

Parameter names, shapes, gate order and default init follow PyTorch (weight_ih_l0, weight_hh_l0_reverse, ...;
LSTM gates i, f, g, o; GRU gates r, z, n), so state_dicts are interchangeable. The time loop runs in Python
over differentiable ops; the input projection of every time step is one matmul per layer and direction, and
the element-wise half of an LSTM step is one graph node. PackedSequence inputs run the same loop with the batch
shrinking as sequences end (each final state is taken at its own sequence's length).
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
    xr, xz, xn = x_proj.chunk(3, -1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (h - n)


def _lstm_gates(gates, c):
    """Differentiable (h', c') from pre-activations [N, 4H] and the cell state (the composite form)."""
    i, f, g, o = gates.chunk(4, -1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def _lstm_cell_forward(gates, c):
    """Kernels only: (h', c', sigmoid(gates), tanh(g), tanh(c')) for gates [N, 4H] in PyTorch's order i, f, g, o."""
    hs = c._shape[-1]
    act = _C.sigmoid(gates)
    g = _C.tanh(_C.narrow(gates, 1, 2 * hs, hs))
    c_new = _C.addcmul(_C.mul(_C.narrow(act, 1, hs, hs), c), _C.narrow(act, 1, 0, hs), g, 1.0)
    tc = _C.tanh(c_new)
    return _C.mul(_C.narrow(act, 1, 3 * hs, hs), tc), c_new, act, g, tc


def _lstm_cell_backward(dh, dc, act, g, c, tc):
    """Kernels only: (d gates, d c) of one step from the gradients of its h' and c'."""
    hs = c._shape[-1]
    i, f, o = _C.narrow(act, 1, 0, hs), _C.narrow(act, 1, hs, hs), _C.narrow(act, 1, 3 * hs, hs)
    dc = _C.add(dc, _C.tanh_backward(_C.mul(dh, o), tc))
    dgates = _C.cat([_C.sigmoid_backward(_C.mul(dc, g), i), _C.sigmoid_backward(_C.mul(dc, c), f),
                     _C.tanh_backward(_C.mul(dc, i), g), _C.sigmoid_backward(_C.mul(dh, tc), o)], 1)
    return dgates, _C.mul(dc, f)


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
        h, c_new, act, g, tc = _lstm_cell_forward(gates, c)
        ctx.save_for_backward(gates, c)
        ctx.cache = (act, g, tc)
        return h, c_new

    @staticmethod
    def backward(ctx, dh, dc):
        gates, c = ctx.saved_tensors
        if is_grad_enabled():
            return _composite_backward(_lstm_gates, (gates, c), ctx.needs_input_grad, (dh, dc))
        act, g, tc = ctx.cache
        return _lstm_cell_backward(dh, dc, act, g, c, tc)


def _lstm_pointwise(gates, c):
    if gates.dim() == 2 and c.dim() == 2:
        return _LSTMPointwise.apply(gates, c)
    return _lstm_gates(gates, c)


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


def _run_direction(xs, sizes, h, c, weights, reverse, step):
    """Runs one direction of one layer over the steps xs (sizes[t] rows each, sorted sequences first);
    returns (outputs [sum(sizes), H_out], final h, final c) with each sequence's state at its own length."""
    w_hh_t, b_hh, w_hr = weights
    out = [None] * len(sizes)
    if not reverse:
        done_h, done_c = [], []
        for t, b in enumerate(sizes):
            if b < h.shape[0]:  # the shortest sequences have ended: their state is final
                done_h.append(h[b:])
                h = h[:b]
                if c is not None:
                    done_c.append(c[b:])
                    c = c[:b]
            h, c = step(xs[t], h, c, w_hh_t, b_hh, w_hr)
            out[t] = h
        if done_h:
            h = cat([h] + done_h[::-1], 0)
            c = cat([c] + done_c[::-1], 0) if c is not None else None
    else:
        h_all, c_all = h, c
        first = sizes[-1]
        if first < h_all.shape[0]:
            h = h_all[:first]
            c = c_all[:first] if c_all is not None else None
        for t in range(len(sizes) - 1, -1, -1):
            b = sizes[t]
            if b > h.shape[0]:  # longer sequences start (in reverse time) from their initial state
                h = cat([h, h_all[h.shape[0]:b]], 0)
                if c is not None:
                    c = cat([c, c_all[c.shape[0]:b]], 0)
            h, c = step(xs[t], h, c, w_hh_t, b_hh, w_hr)
            out[t] = h
    return cat(out, 0), h, c



def _lstm_composite_step(x_t, h, c, w_hh_t, b_hh, w_hr):
    return _lstm_gates(addmm(x_t, h, w_hh_t), c)


def _lstm_layer_forward(proj, h0, c0, w_hh, sizes, reverse, keep):
    """One LSTM direction over packed steps with kernels only (no graph). proj [sum(sizes), 4H] holds every
    step's input projection with both biases. With keep, also returns what backward needs."""
    w_t = _C.contiguous(_C.t(w_hh))  # [H, 4H]: the per-step GEMM runs fastest on a contiguous operand
    offsets = []
    off = 0
    for b in sizes:
        offsets.append(off)
        off += b
    steps = len(sizes)
    out = [None] * steps
    saved = [None] * steps
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    done_h, done_c = [], []
    h, c = h0, c0
    first = sizes[-1] if reverse else sizes[0]
    if first < h0._shape[0]:
        h, c = _C.narrow(h0, 0, 0, first), _C.narrow(c0, 0, 0, first)
    for t in order:
        b = sizes[t]
        rows = h._shape[0]
        if b < rows:  # forward direction: the shortest sequences have ended, their state is final
            done_h.append(_C.narrow(h, 0, b, rows - b))
            done_c.append(_C.narrow(c, 0, b, rows - b))
            h, c = _C.narrow(h, 0, 0, b), _C.narrow(c, 0, 0, b)
        elif b > rows:  # reverse direction: longer sequences start from their initial state
            h = _C.cat([h, _C.narrow(h0, 0, rows, b - rows)], 0)
            c = _C.cat([c, _C.narrow(c0, 0, rows, b - rows)], 0)
        gates = _C.addmm(_C.narrow(proj, 0, offsets[t], b), h, w_t, 1.0, 1.0)
        h_new, c_new, act, g, tc = _lstm_cell_forward(gates, c)
        if keep:
            saved[t] = (act, g, c, tc, h)
        out[t] = h_new
        h, c = h_new, c_new
    if done_h:
        h = _C.cat([h] + done_h[::-1], 0)
        c = _C.cat([c] + done_c[::-1], 0)
    return (_C.cat(out, 0), h, c), (offsets, saved)


class _LSTMLayer(Function):
    """One direction of one LSTM layer as a single graph node: (proj, h0, c0, w_hh) -> (out, h_n, c_n).

    Forward runs the time loop on kernels alone; backward is hand-written back-propagation through time whose
    weight gradient is one GEMM over all steps. Under create_graph, backward differentiates the composite form
    (the same loop in differentiable ops), so higher-order gradients are exact."""

    @staticmethod
    def forward(ctx, proj, h0, c0, w_hh, sizes, reverse):
        outs, (offsets, saved) = _lstm_layer_forward(proj, h0, c0, w_hh, sizes, reverse, True)
        ctx.save_for_backward(proj, h0, c0, w_hh)
        ctx.sizes, ctx.reverse, ctx.offsets, ctx.steps = sizes, reverse, offsets, saved
        return outs

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        proj, h0, c0, w_hh = ctx.saved_tensors
        sizes, reverse = ctx.sizes, ctx.reverse
        need = ctx.needs_input_grad
        if is_grad_enabled():
            def composite(p, h, c, w):
                return _run_direction(_steps(p, sizes), sizes, h, c, (w.t(), None, None), reverse,
                                      _lstm_composite_step)
            return _composite_backward(composite, (proj, h0, c0, w_hh), need, (dout, dh_n, dc_n)) + (None, None)
        steps, offsets = ctx.steps, ctx.offsets
        n = len(sizes)
        dgates = [None] * n
        dh0_rows = []  # (first row, gradient rows) of the initial state
        if not reverse:
            order = range(n - 1, -1, -1)
            last = sizes[-1]
        else:
            order = range(n)
            last = sizes[0]
        dh, dc = _C.narrow(dh_n, 0, 0, last), _C.narrow(dc_n, 0, 0, last)
        for t in order:
            b = sizes[t]
            act, g, c_prev, tc, h_prev = steps[t]
            rows = dh._shape[0]
            if b > rows:  # forward direction: these sequences' final states came out of step t
                dh = _C.cat([dh, _C.narrow(dh_n, 0, rows, b - rows)], 0)
                dc = _C.cat([dc, _C.narrow(dc_n, 0, rows, b - rows)], 0)
            elif b < rows:  # reverse direction: rows b.. started here from the initial state
                dh0_rows.append((b, _C.narrow(dh, 0, b, rows - b), _C.narrow(dc, 0, b, rows - b)))
                dh, dc = _C.narrow(dh, 0, 0, b), _C.narrow(dc, 0, 0, b)
            dg, dc = _lstm_cell_backward(_C.add(dh, _C.narrow(dout, 0, offsets[t], b)), dc, act, g, c_prev, tc)
            dgates[t] = dg
            dh = _C.mm(dg, w_hh)
        # what is left is the gradient of the initial state's first rows; the pieces cover every row
        dh0_rows.append((0, dh, dc))
        dh0_rows.sort(key=lambda r: r[0])
        dh0 = _C.cat([r[1] for r in dh0_rows], 0) if need[1] else None
        dc0 = _C.cat([r[2] for r in dh0_rows], 0) if need[2] else None
        dproj = _C.cat(dgates, 0) if (need[0] or need[3]) else None
        dw = None
        if need[3]:
            h_prev_all = _C.cat([st[4] for st in steps], 0)
            dw = _C.mm(_C.t(dproj), h_prev_all)  # every step's recurrent weight gradient in one GEMM
        return (dproj if need[0] else None), dh0, dc0, dw, None, None


def _lstm_layer(proj, h0, c0, w_hh, sizes, reverse):
    if is_grad_enabled() and (proj.requires_grad or h0.requires_grad or c0.requires_grad or w_hh.requires_grad):
        return _LSTMLayer.apply(proj, h0, c0, w_hh, tuple(sizes), reverse)
    return _lstm_layer_forward(proj, h0, c0, w_hh, sizes, reverse, False)[0]


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

    def _cell(self, relu):
        """The step function (x_t, h, c) -> (h, c) of this mode, x_t holding the input projection plus b_hh
        (folded in for every mode but GRU, whose reset gate multiplies the hidden projection with its bias)."""
        mode = self.mode

        def step(x_t, h, c, w_hh_t, b_hh, w_hr):
            if mode == "LSTM":
                h, c = _lstm_pointwise(addmm(x_t, h, w_hh_t), c)
                return (h if w_hr is None else F.linear(h, w_hr)), c
            if mode == "GRU":
                return _gru_step(x_t, h, w_hh_t, b_hh), None  # GRU keeps w_hh untransposed for F.linear
            pre = addmm(x_t, h, w_hh_t)
            return (pre.relu() if relu else pre.tanh()), None
        return step

    def _run(self, x, sizes, h0, c0):
        """x [sum(sizes), in] (the steps one after another), h0 [layers * dirs, batch, H_out], c0 like h0 with
        hidden_size (LSTM) or None. Returns (outputs [sum(sizes), dirs * H_out], h_n, c_n or None)."""
        directions = 2 if self.bidirectional else 1
        step = self._cell(self.mode == "RNN_RELU")
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
                if self.mode == "LSTM" and w_hr is None:
                    out, h, c = _lstm_layer(proj, h, c, w_hh, sizes, direction == 1)
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
