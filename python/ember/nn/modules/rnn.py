"""Recurrent layers: RNN, LSTM and GRU (multi-layer, bidirectional, batch_first) and their single-step cells.

Parameter names, shapes, gate order and default init follow PyTorch (weight_ih_l0, weight_hh_l0_reverse, ...;
LSTM gates i, f, g, o; GRU gates r, z, n), so state_dicts are interchangeable. The time loop runs in Python
over differentiable ops; the input projection of every time step is one matmul per layer and direction.
"""
import math
import numbers
import warnings

from ..._ops.creation import zeros
from ..._ops.shape import cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ._utils import new_empty
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _rnn_step(x_proj, h, w_hh, b_hh, relu):
    pre = x_proj + F.linear(h, w_hh, b_hh)
    return pre.relu() if relu else pre.tanh()


def _lstm_step(x_proj, h, c, w_hh, b_hh, w_hr):
    gates = x_proj + F.linear(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
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
        """Checks input and returns (sequence-first batched input, batched?)."""
        if input.dim() not in (2, 3):
            raise ValueError("%s: Expected input to be 2D or 3D, got %dD tensor instead"
                             % (type(self).__name__, input.dim()))
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[-1] != self.input_size:
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected %d, got %d"
                               % (self.input_size, input.shape[-1]))
        return input, batched

    def _check_hidden(self, hx, expected, batched, what="hidden"):
        if batched and hx.dim() != 3:
            raise RuntimeError("For batched 3-D input, hx should also be 3-D but got %d-D tensor" % hx.dim())
        if not batched and hx.dim() != 2:
            raise RuntimeError("For unbatched 2-D input, hx should also be 2-D but got %d-D tensor" % hx.dim())
        hx = hx if batched else hx.unsqueeze(1)
        if tuple(hx.shape) != expected:
            raise RuntimeError("Expected %s size %s, got %s" % (what, expected, list(hx.shape)))
        return hx

    def _run(self, x, h0, c0):
        """x [L, N, in], h0 [layers * dirs, N, H_out], c0 like h0 with hidden_size (LSTM) or None."""
        directions = 2 if self.bidirectional else 1
        relu = self.mode == "RNN_RELU"
        h_n, c_n = [], []
        seq_len = x.shape[0]
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                idx = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                xs = F.linear(x, w_ih, b_ih).unbind(0)  # every time step's input projection in one matmul
                h = h0[idx]
                c = c0[idx] if c0 is not None else None
                steps = range(seq_len) if direction == 0 else range(seq_len - 1, -1, -1)
                out = [None] * seq_len
                for t in steps:
                    if self.mode == "LSTM":
                        h, c = _lstm_step(xs[t], h, c, w_hh, b_hh, w_hr)
                    elif self.mode == "GRU":
                        h = _gru_step(xs[t], h, w_hh, b_hh)
                    else:
                        h = _rnn_step(xs[t], h, w_hh, b_hh, relu)
                    out[t] = h
                outputs.append(stack(out, 0) if seq_len else x.new_zeros((0,) + tuple(h.shape)))
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            x = outputs[0] if directions == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(h_n, 0), (stack(c_n, 0) if c0 is not None else None)

    def _finish(self, output, batched):
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def _forward_h(self, input, hx):
        """forward of RNN and GRU, whose only state is h: returns (output, h_n)."""
        x, batched = self._prepare(input)
        d = 2 if self.bidirectional else 1
        expected = (self.num_layers * d, x.shape[1], self.hidden_size)
        h0 = zeros(expected, dtype=x.dtype) if hx is None else self._check_hidden(hx, expected, batched)
        out, h_n, _ = self._run(x, h0, None)
        return self._finish(out, batched), (h_n if batched else h_n.squeeze(1))


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
        x, batched = self._prepare(input)
        d = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * d, x.shape[1], real_hidden)
        c_shape = (self.num_layers * d, x.shape[1], self.hidden_size)
        if hx is None:
            h0, c0 = zeros(h_shape, dtype=x.dtype), zeros(c_shape, dtype=x.dtype)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0 = self._check_hidden(hx[0], h_shape, batched)
            c0 = self._check_hidden(hx[1], c_shape, batched, "cell")
        out, h_n, c_n = self._run(x, h0, c0)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(out, batched), (h_n, c_n)


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
