"""Tensor repr in PyTorch's format: ``tensor([[1., 2.]], requires_grad=True)``."""
import math

import numpy as np

from . import _C

__all__ = ["tensor_repr", "set_printoptions"]


class _Options:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _Options()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Controls how tensors print (same options as torch.set_printoptions)."""
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """Chooses integer / fixed / scientific notation from the nonzero finite values (PyTorch's rules) and
    pads every element to the widest of those."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        if not floating:
            self.width = max((len(str(v)) for v in values), default=1)
            return
        vals = values[np.isfinite(values) & (values != 0)]
        if vals.size == 0:
            return
        absv = np.abs(vals)
        lo, hi = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        p = PRINT_OPTS.precision
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                self.width = max(len("{:.{}e}".format(v, p)) for v in vals.tolist())
            else:
                self.width = max(len("{:.0f}".format(v)) + 1 for v in vals.tolist())
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            self.width = max(len("{:.{}e}".format(v, p)) for v in vals.tolist())
        else:
            self.width = max(len("{:.{}f}".format(v, p)) for v in vals.tolist())
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, v):
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = "{:.{}e}".format(v, PRINT_OPTS.precision)
        elif self.int_mode:
            s = "{:.0f}".format(v)
            if math.isfinite(v):
                s += "."
        else:
            s = "{:.{}f}".format(v, PRINT_OPTS.precision)
        return s.rjust(self.width)


def _gather_values(arr, summarize, edge):
    if not summarize:
        return arr.reshape(-1)
    parts = []

    def walk(x):
        if x.ndim == 0:
            parts.append(x.reshape(1))
            return
        n = x.shape[0]
        idx = list(range(n)) if n <= 2 * edge else list(range(edge)) + list(range(n - edge, n))
        if x.ndim == 1:
            parts.append(x[idx])
            return
        for i in idx:
            walk(x[i])
    walk(arr)
    return np.concatenate(parts) if parts else arr.reshape(-1)


def _to_str(arr, fmt, indent, summarize, edge):
    if arr.ndim == 0:
        return fmt.format(arr.item())
    n = arr.shape[0]
    if arr.ndim == 1:
        if summarize and n > 2 * edge:
            items = [fmt.format(v) for v in arr[:edge].tolist()] + [" ..."] + [
                fmt.format(v) for v in arr[-edge:].tolist()]
        else:
            items = [fmt.format(v) for v in arr.tolist()]
        per_line = max(1, (PRINT_OPTS.linewidth - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and n > 2 * edge:
        rows = [_to_str(arr[i], fmt, indent + 1, summarize, edge) for i in range(edge)] + ["..."] + [
            _to_str(arr[i], fmt, indent + 1, summarize, edge) for i in range(n - edge, n)]
    else:
        rows = [_to_str(arr[i], fmt, indent + 1, summarize, edge) for i in range(n)]
    sep = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def _default_for(dtype):
    return dtype in (_C.get_default_dtype(), _C.int64, _C.bool)


def tensor_repr(t, prefix="tensor("):
    dt = t.dtype
    data = t.detach()
    if data._device != "cpu":
        data = _C._to_device(data, "cpu")  # printed from a host copy
    if dt is _C.bfloat16 or dt is _C.float16:
        arr = _C.to_numpy(_C.to_dtype(data, _C.float32, False))
    else:
        arr = _C.to_numpy(data)
    floating = dt.is_floating_point
    indent = len(prefix)
    suffixes = []
    if t.numel() == 0:
        body = "[]"
        if t.dim() != 1:
            suffixes.append("size=%s" % (tuple(t.shape),))
    else:
        summarize = t.numel() > PRINT_OPTS.threshold
        edge = PRINT_OPTS.edgeitems
        vals = _gather_values(arr, summarize, edge)
        if dt is _C.bool:
            vals = vals.astype(bool)
        fmt = _Formatter(vals.astype(np.float64) if floating else vals.tolist() if dt is _C.bool else vals, floating)
        if dt is _C.bool:
            fmt.width = max(len(str(v)) for v in vals.tolist())
        body = _to_str(arr, fmt, indent, summarize, edge)
    if t._device != "cpu":
        suffixes.append("device='%s'" % t._device)
    if not _default_for(dt) or (t.numel() == 0 and dt is not _C.get_default_dtype()):
        suffixes.append("dtype=ember.%s" % dt._name)
    if t._grad_fn is not None:
        suffixes.append("grad_fn=<%s>" % t._grad_fn.name())
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = prefix + body
    for s in suffixes:
        out += ", " + s
    return out + ")"
