"""Neural-network ops with PyTorch's functional signatures: softmax family and losses, convolution,
pooling, normalisation, embedding, dropout and padding. ``ember.nn.functional`` re-exports these.

Each op is an autograd Function (or a composition of differentiable ops). Heavy ones run as fused C++
kernels where ``ember._C`` provides them; the rest are composed from Ember ops.
"""
import builtins
import numbers
import warnings
from math import prod as _prod

from .. import _C
from ..autograd.function import Function
from ..autograd.grad_mode import _state, no_grad
from ._util import check_tensor, export, method, needs_grad
from ..amp.autocast_mode import _dispatch as _autocast

_Reduction = ("none", "mean", "sum")


def _pair(v, n=2, name="argument"):
    if isinstance(v, numbers.Integral):
        return (int(v),) * n
    v = tuple(int(x) for x in v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise ValueError("expected %s to be a single int or a tuple of %d ints, got %r" % (name, n, v))
    return v


def _check_reduction(reduction):
    if reduction not in _Reduction:
        raise ValueError("%s is not a valid value for reduction" % reduction)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ---------------------------------------------------------------------------------------- softmax family


def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit dim


class Softmax(Function):
    """softmax (log=False) or log_softmax (log=True) along dim, as one fused kernel each way."""

    @staticmethod
    def forward(x, dim, log):
        return _C.softmax(x, dim, log)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(out)
        ctx.dim, ctx.log = inputs[1], inputs[2]

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        if not _state.enabled:
            return _C.softmax_backward(g, y, ctx.dim, ctx.log), None, None
        if ctx.log:
            return g - y.exp() * g.sum(ctx.dim, keepdim=True), None, None
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None, None


def _softmax_like(log, input, dim, dtype, name):
    check_tensor(input, name)
    if dim is None:
        dim = _softmax_dim(input.dim())
    if dtype is not None:
        from .creation import _dtype
        input = input.to(_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError("%s: expected a floating point input, got %s (pass dtype=ember.float32)"
                           % (name, input.dtype))
    return Softmax.apply(input, int(dim), log) if needs_grad(input) else _C.softmax(input, int(dim), log)


@export
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    if _state.autocast and "softmax" in _state.autocast:
        return _autocast("softmax", softmax, input, dim, _stacklevel, dtype=dtype)
    return _softmax_like(False, input, dim, dtype, "softmax")


@export
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along dim, computed stably in one pass."""
    if _state.autocast and "log_softmax" in _state.autocast:
        return _autocast("log_softmax", log_softmax, input, dim, _stacklevel, dtype=dtype)
    return _softmax_like(True, input, dim, dtype, "log_softmax")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if _state.autocast and "softmin" in _state.autocast:
        return _autocast("softmin", softmin, input, dim, _stacklevel, dtype=dtype)
    return softmax(-input, dim, dtype=dtype)


method("softmax", lambda self, dim=None, dtype=None: softmax(self, dim, dtype=dtype))
method("log_softmax", lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype=dtype))


# ---------------------------------------------------------------------------------------- classification losses


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log likelihood of class-index targets given log-probabilities (class dim 1, or 0 for 1-D)."""
    if _state.autocast and "nll_loss" in _state.autocast:
        return _autocast("nll_loss", nll_loss, input, target, weight, size_average, ignore_index, reduce, reduction)
    _check_reduction(reduction)
    check_tensor(input, "nll_loss")
    if target.dtype.is_floating_point:
        raise RuntimeError("nll_loss: expected target of dtype int64 (class indices), got %s" % target.dtype)
    cdim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[cdim]
    if input.dim() == 1:
        if target.dim() != 0:
            raise ValueError("Expected a 0-d target for 1-D input, got target of shape %s" % list(target.shape))
    elif target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError("Expected target of shape %s for input of shape %s, got %s"
                         % (list(input.shape[:1] + input.shape[2:]), list(input.shape), list(target.shape)))
    tgt = target.long()
    valid = tgt != ignore_index
    safe = tgt.masked_fill(valid.logical_not(), 0)
    bad = (safe < 0) | (safe >= n_classes)
    if bool(bad.any()):
        v = int(safe[bad].reshape(-1)[0].item())
        raise IndexError("Target %d is out of bounds for %d classes." % (v, n_classes))
    picked = input.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    if weight is not None:
        w = weight.index_select(0, safe.reshape(-1)).reshape(safe.shape) * valid.to(weight.dtype)
    else:
        w = valid.to(input.dtype)
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum()


class CrossEntropyFn(Function):
    """Fused log-softmax + NLL over [N, C] logits with class-index targets; the forward's per-row
    log-sum-exp is saved, so the backward is one pass over the logits."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction):
        rows, lse = _C.cross_entropy(x, target, weight, ignore_index, smoothing)
        ctx.save_for_backward(x, target, weight, lse)  # saved, so it is freed with the graph's buffers
        ctx.args = (ignore_index, smoothing, reduction)
        return _ce_reduce(rows, target, weight, ignore_index, reduction)

    @staticmethod
    def backward(ctx, g):
        x, target, weight, lse = ctx.saved_tensors
        ignore_index, smoothing, reduction = ctx.args
        if _state.enabled:
            return _composite_grads(lambda xx: _cross_entropy_composite(
                xx, target, weight, ignore_index, reduction, smoothing), (x,), (True,), g) + (None,) * 5
        n = x.shape[0]
        if reduction == "none":
            grow = g
        else:
            scale = g if reduction == "sum" else g / _ce_denominator(target, weight, ignore_index, x.dtype)
            grow = _C.expand(_C.reshape(scale, (1,)), (n,))
        gx = _C.cross_entropy_backward(grow, x, target, weight, ignore_index, smoothing, lse)
        return gx, None, None, None, None, None


def _ce_denominator(target, weight, ignore_index, dtype):
    valid = _C.ne(target, ignore_index)
    if weight is None:
        return _C.to_dtype(_C.sum(valid, [], False, None), dtype, False)
    safe = _C.where(valid, target, 0)
    w = _C.index_select(weight, 0, _C.reshape(safe, (-1,)))
    return _C.sum(_C.mul(w, valid), [], False, None)


def _ce_reduce(rows, target, weight, ignore_index, reduction):
    if reduction == "none":
        return rows
    total = _C.sum(rows, [], False, None)
    if reduction == "sum":
        return total
    return _C.div(total, _ce_denominator(target, weight, ignore_index, rows.dtype))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax + NLL over class dim 1 (0 for 1-D input): class-index or probability targets, with
    weight, ignore_index and label_smoothing as PyTorch documents them."""
    if _state.autocast and "cross_entropy" in _state.autocast:
        return _autocast("cross_entropy", cross_entropy, input, target, weight, size_average, ignore_index, reduce,
                         reduction, label_smoothing)
    _check_reduction(reduction)
    check_tensor(input, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError("label_smoothing must be between 0.0 and 1.0. Got: %s" % label_smoothing)
    if (input.dim() == 2 and not target.dtype.is_floating_point and target.dim() == 1 and
            input.dtype.is_floating_point and (weight is None or not needs_grad(weight))):
        if target.shape[0] != input.shape[0]:
            raise ValueError("Expected input batch_size (%d) to match target batch_size (%d)."
                             % (input.shape[0], target.shape[0]))
        args = (input, target, weight, int(ignore_index), float(label_smoothing), reduction)
        if needs_grad(input):
            return CrossEntropyFn.apply(*args)
        return _ce_reduce(_C.cross_entropy(*args[:5])[0], target, weight, args[3], reduction)
    return _cross_entropy_composite(input, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy_composite(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """cross_entropy composed of differentiable ops (any shape, probability targets, double backward)."""
    cdim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[cdim]
    logp = log_softmax(input, cdim)
    wshape = [1] * input.dim()
    if input.dim():
        wshape[cdim] = n_classes
    if target.dtype.is_floating_point:  # class probabilities
        if target.shape != input.shape:
            raise RuntimeError("cross_entropy: probability targets must have the input's shape %s, got %s"
                               % (list(input.shape), list(target.shape)))
        t = target * (1 - label_smoothing) + label_smoothing / n_classes if label_smoothing > 0 else target
        terms = logp * t
        if weight is not None:
            terms = terms * weight.reshape(wshape)
        loss = -terms.sum(cdim)
        if reduction == "mean":
            return loss.sum() / (loss.numel() if input.dim() > 1 else 1) if loss.dim() else loss
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing <= 0:
        return nll
    valid = target != ignore_index
    smooth = -(logp * weight.reshape(wshape)).sum(cdim) if weight is not None else -logp.sum(cdim)
    smooth = smooth * valid.to(smooth.dtype)
    if reduction == "none":
        sm = smooth
    elif reduction == "sum":
        sm = smooth.sum()
    elif weight is not None:
        safe = target.masked_fill(valid.logical_not(), 0)
        sm = smooth.sum() / (weight.index_select(0, safe.reshape(-1)) * valid.reshape(-1).to(weight.dtype)).sum()
    else:
        sm = smooth.sum() / valid.sum().to(smooth.dtype)
    return nll * (1 - label_smoothing) + sm * (label_smoothing / n_classes)


# ---------------------------------------------------------------------------------------- padding


class ConstantPad(Function):
    @staticmethod
    def forward(x, pads, value):
        return _C.constant_pad(x, pads, value)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.pads = inputs[1]

    @staticmethod
    def backward(ctx, g):
        # padding by -p crops by p (and vice versa): the gradient of a pad is the opposite pad
        neg = tuple(-p for p in ctx.pads)
        return (ConstantPad.apply(g, neg, 0.0) if _state.enabled else _C.constant_pad(g, neg, 0.0)), None, None


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad)//2 dims: pad = (left, right, top, bottom, ...). Modes: constant, reflect,
    replicate, circular."""
    if _state.autocast and "pad_%s" % mode in _state.autocast:
        return _autocast("pad_%s" % mode, _pad, input, pad, mode, value)
    check_tensor(input, "pad")
    pads = tuple(int(p) for p in pad)
    if len(pads) % 2 or len(pads) // 2 > input.dim():
        raise ValueError("Padding length must be divisible by 2 and at most twice the number of dims, got %d for "
                         "a %d-D input" % (len(pads), input.dim()))
    if mode == "constant":
        v = 0.0 if value is None else value
        return ConstantPad.apply(input, pads, v) if needs_grad(input) else _C.constant_pad(input, pads, v)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError("Unsupported padding mode: %s" % mode)
    from .creation import tensor
    out = input
    nd = input.dim()
    for i in range(len(pads) // 2):
        d = nd - 1 - i
        lo, hi = pads[2 * i], pads[2 * i + 1]
        n = out.shape[d]
        if mode == "reflect":
            if lo >= n or hi >= n:
                raise RuntimeError("Argument #4: Padding size should be less than the corresponding input dimension, "
                                   "but got: padding (%d, %d) at dimension %d of input %s" % (lo, hi, d, list(input.shape)))
            idx = list(range(lo, 0, -1)) + list(range(n)) + list(range(n - 2, n - 2 - hi, -1))
        elif mode == "replicate":
            idx = [0] * lo + list(range(n)) + [n - 1] * hi
        else:
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            idx = list(range(n - lo, n)) + list(range(n)) + list(range(hi))
        out = out.index_select(d, tensor(idx, dtype=_C.int64))
    return out


_pad = pad  # pad's own hook calls it under a name its `pad` argument does not shadow


# ---------------------------------------------------------------------------------------- convolution


def _conv_args(input, weight, stride, padding, dilation, groups, nd, name):
    check_tensor(input, name)
    check_tensor(weight, name, "weight")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError("Expected %dD (unbatched) or %dD (batched) input to %s, but got input of size: %s"
                           % (nd + 1, nd + 2, name, list(input.shape)))
    if weight.dim() != nd + 2:
        raise RuntimeError("%s: expected a %d-D weight, got %s" % (name, nd + 2, list(weight.shape)))
    if input.dtype is not weight.dtype:
        raise RuntimeError("%s: input type (%s) and weight type (%s) should be the same"
                           % (name, input.dtype, weight.dtype))
    stride, dilation = _pair(stride, nd, "stride"), _pair(dilation, nd, "dilation")
    c = input.shape[-nd - 1]
    if groups <= 0 or c % groups or weight.shape[0] % groups:
        raise RuntimeError("%s: groups=%d must divide in_channels=%d and out_channels=%d"
                           % (name, groups, c, weight.shape[0]))
    if weight.shape[1] * groups != c:
        raise RuntimeError("Given groups=%d, weight of size %s, expected input%s to have %d channels, but got %d "
                           "channels instead" % (groups, list(weight.shape), list(input.shape),
                                                 weight.shape[1] * groups, c))
    k = weight.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            padding = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            total = [dilation[i] * (k[i] - 1) for i in range(nd)]
            padding = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise ValueError("Invalid padding string %r, should be one of {'valid', 'same'}" % padding)
    else:
        padding = tuple((p, p) for p in _pair(padding, nd, "padding"))
    for i in range(nd):
        size = input.shape[-nd + i] + padding[i][0] + padding[i][1]
        if size < dilation[i] * (k[i] - 1) + 1:
            raise RuntimeError("Calculated padded input size per channel: (%s). Kernel size: (%s). Kernel size can't "
                               "be greater than actual input size" % (size, k[i]))
    return stride, padding, dilation


class Conv2dFn(Function):
    """Fused im2col + GEMM convolution (ember._C.conv2d) with its fused backward."""

    @staticmethod
    def forward(x, w, b, stride, padding, dilation, groups):
        return _C.conv2d(x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, out):
        x, w, b = inputs[:3]
        ctx.save_for_backward(x, w, b)
        ctx.args = inputs[3:]

    @staticmethod
    def backward(ctx, g):
        x, w, b = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.args
        need = ctx.needs_input_grad
        if _state.enabled:
            # create_graph: differentiate the composite form so the gradient is itself differentiable
            return _composite_grads(lambda xx, ww, bb: _conv2d_composite(
                xx, ww, bb, stride, ((padding[0], padding[1]), (padding[2], padding[3])), dilation, groups),
                (x, w, b), need[:3], g) + (None,) * 4
        gx, gw, gb = _C.conv2d_backward(g, x, w, stride, padding, dilation, groups, need[0], need[1],
                                        b is not None and need[2])
        return gx, gw, gb, None, None, None, None


def _composite_grads(fn, inputs, need, g):
    """Gradients of fn(*inputs) weighted by g, computed through the differentiable composite form of a fused
    op, so that they are themselves differentiable (create_graph=True / double backward)."""
    from ..autograd import grad
    from ..autograd.grad_mode import enable_grad
    with enable_grad():
        out = fn(*inputs)
        wanted = [t for t, n in zip(inputs, need) if t is not None and n]
        gs = list(grad(out, wanted, g, create_graph=True, allow_unused=True))
    return tuple(gs.pop(0) if t is not None and n else None for t, n in zip(inputs, need))


def _conv2d_impl(x, weight, bias, stride, padding, dilation, groups):
    """Convolution through the fused kernel (padding given as ((top, bottom), (left, right)))."""
    pads = (padding[0][0], padding[0][1], padding[1][0], padding[1][1])
    if needs_grad(x, weight, bias):
        return Conv2dFn.apply(x, weight, bias, tuple(stride), pads, tuple(dilation), groups)
    return _C.conv2d(x, weight, bias, tuple(stride), pads, tuple(dilation), groups)


def _conv2d_composite(x, weight, bias, stride, padding, dilation, groups):
    """x [N, C, H, W] -> im2col windows -> one grouped matmul -> [N, O, oh, ow] (differentiable ops only)."""
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    (pt, pb), (pl, pr) = padding
    if pt or pb or pl or pr:
        x = pad(x, (pl, pr, pt, pb))
    hp, wp = x.shape[2], x.shape[3]
    oh = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    x = x.contiguous()
    sn, sc, sh, sw = x.stride()
    cols = x.as_strided((n, c, kh, kw, oh, ow),
                        (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]))
    cols = cols.reshape(n, groups, cg * kh * kw, oh * ow)
    wm = weight.reshape(groups, o // groups, cg * kh * kw)
    out = wm.unsqueeze(0).matmul(cols).reshape(n, o, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, o, 1, 1)
    return out


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of [N, C, H, W] (or [C, H, W]) input with [O, C/groups, kH, kW]."""
    if _state.autocast and "conv2d" in _state.autocast:
        return _autocast("conv2d", conv2d, input, weight, bias, stride, padding, dilation, groups)
    stride, padding, dilation = _conv_args(input, weight, stride, padding, dilation, groups, 2, "conv2d")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    out = _conv2d_impl(x, weight, bias, stride, padding, dilation, groups)
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of [N, C, L] (or [C, L]) input with [O, C/groups, k]."""
    if _state.autocast and "conv1d" in _state.autocast:
        return _autocast("conv1d", conv1d, input, weight, bias, stride, padding, dilation, groups)
    stride, padding, dilation = _conv_args(input, weight, stride, padding, dilation, groups, 1, "conv1d")
    batched = input.dim() == 3
    x = (input if batched else input.unsqueeze(0)).unsqueeze(2)
    out = _conv2d_impl(x, weight.unsqueeze(2), bias, (1, stride[0]), ((0, 0), padding[0]), (1, dilation[0]), groups)
    out = out.squeeze(2)
    return out if batched else out.squeeze(0)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input); weight is
    [C_in, C_out/groups, kH, kW]."""
    if _state.autocast and "conv_transpose2d" in _state.autocast:
        return _autocast("conv_transpose2d", conv_transpose2d, input, weight, bias, stride, padding, output_padding,
                         groups, dilation)
    check_tensor(input, "conv_transpose2d")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    stride, padding = _pair(stride, 2, "stride"), _pair(padding, 2, "padding")
    output_padding, dilation = _pair(output_padding, 2, "output_padding"), _pair(dilation, 2, "dilation")
    n, cin, h, w = x.shape
    if weight.shape[0] != cin:
        raise RuntimeError("conv_transpose2d: weight of size %s expects %d input channels, got %d"
                           % (list(weight.shape), weight.shape[0], cin))
    _, cog, kh, kw = weight.shape
    for i in range(2):
        if output_padding[i] >= builtins.max(stride[i], dilation[i]):
            raise RuntimeError("output padding must be smaller than either stride or dilation, got output_padding=%s"
                               % (output_padding,))
    # insert stride-1 zeros between input pixels, pad by dilation*(k-1)-padding, convolve with the flipped,
    # transposed kernel
    if stride != (1, 1):
        from .creation import zeros
        up = zeros(n, cin, (h - 1) * stride[0] + 1, (w - 1) * stride[1] + 1, dtype=x.dtype)
        up = up.index_put((None, None, _arange(0, up.shape[2], stride[0]).reshape(-1, 1),
                           _arange(0, up.shape[3], stride[1]).reshape(1, -1)), x)
        x = up
    ph = dilation[0] * (kh - 1) - padding[0]
    pw = dilation[1] * (kw - 1) - padding[1]
    pads = (pw, pw + output_padding[1], ph, ph + output_padding[0])
    x = pad(x, pads) if any(pads) else x
    wt = weight.reshape(groups, cin // groups, cog, kh, kw).transpose(1, 2).reshape(groups * cog, cin // groups, kh, kw)
    wt = wt.flip(2, 3)
    out = _conv2d_impl(x, wt, bias, (1, 1), ((0, 0), (0, 0)), dilation, groups)
    return out if batched else out.squeeze(0)


def _arange(start, end, step):
    from .creation import arange
    return arange(start, end, step)


# ---------------------------------------------------------------------------------------- pooling


def _pool_geometry(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    if ceil_mode:
        out = -(-(size + 2 * p - eff) // s) + 1
        if (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
            out -= 1
    else:
        out = (size + 2 * p - eff) // s + 1
    return out


def _pool_args(input, kernel_size, stride, padding, dilation, name, ceil_mode=False):
    """Normalised (kernel, stride, padding, dilation) pairs of a 2-D pooling, after PyTorch's checks (in its
    order and words), so that bad geometry fails here rather than inside the kernel."""
    check_tensor(input, name)
    k = _pair(kernel_size, 2, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) else _pair(stride, 2, "stride")
    p = _pair(padding, 2, "padding")
    d = _pair(dilation, 2, "dilation")
    if any(not -2 ** 31 <= v < 2 ** 31 for v in k + s + p + d):
        # PyTorch's 2-D pooling takes C ints (and a huge window would make the kernel loop ~forever)
        raise RuntimeError("value cannot be converted to type int without overflow")
    if 0 in s:
        raise RuntimeError("stride should not be zero")
    for i in range(2):
        if p[i] < 0:
            raise RuntimeError("pad must be non-negative, but got pad: %d" % p[i])
        if p[i] > int((d[i] * (k[i] - 1) + 1) / 2):  # C++ division: truncates towards zero
            raise RuntimeError("pad should be at most half of effective kernel size, but got pad=%d, kernel_size=%d "
                               "and dilation=%d" % (p[i], k[i], d[i]))
    if k[0] <= 0 or k[1] <= 0:
        raise RuntimeError("kernel size should be greater than zero, but got kH: %d kW: %d" % k)
    if s[0] <= 0 or s[1] <= 0:
        raise RuntimeError("stride should be greater than zero, but got dH: %d dW: %d" % s)
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError("dilation should be greater than zero, but got dilationH: %d dilationW: %d" % d)
    shape = tuple(input.shape)
    if input.dim() not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           "got:%s" % list(shape))
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got padW = %d, padH = %d, "
                           "kW = %d, kH = %d" % (p[1], p[0], k[1], k[0]))
    c, h, w = shape[-3:]
    oh = _pool_geometry(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = _pool_geometry(w, k[1], s[1], p[1], d[1], ceil_mode)
    if oh < 1 or ow < 1:
        raise RuntimeError("Given input size: (%dx%dx%d). Calculated output size: (%dx%dx%d). Output size is too "
                           "small" % (c, h, w, c, oh, ow))
    return k, s, p, d


def _pool1d_args(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    """max_pool1d's own checks (PyTorch words them apart from the 2-D ones); the 2-D ones follow."""
    check_tensor(input, name)
    if input.dim() not in (2, 3) or 0 in tuple(input.shape)[-2:]:
        raise RuntimeError("%s: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but "
                           "got:%s" % (name, list(input.shape)))
    k = _pair(kernel_size, 1, "kernel_size")[0]
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0) else \
        _pair(stride, 1, "stride")[0]
    p, d = _pair(padding, 1, "padding")[0], _pair(dilation, 1, "dilation")[0]
    for what, v, low in (("kernel_size", k, 1), ("stride", s, 1), ("padding", p, 0), ("dilation", d, 1)):
        if v < low:
            raise RuntimeError("%s() %s must be %s, but got %d"
                               % (name, what, "non-negative" if low == 0 else "greater than zero", v))
    if p > k // 2:
        raise RuntimeError("%s() padding should be at most half of kernel size, but got padding=%d and kernel_size=%d"
                           % (name, p, k))
    out = _pool_geometry(input.shape[-1], k, s, p, d, ceil_mode)
    if out < 1:
        raise RuntimeError("%s() Invalid computed output size: %d" % (name, out))
    return k, s, p, d


def _windows(x, k, s, p, d, ceil_mode, fill):
    """[N, C, H, W] -> [N, C, oh, ow, kh*kw] windows over x padded with `fill` (a view when no padding)."""
    n, c, h, w = x.shape
    oh = _pool_geometry(h, k[0], s[0], p[0], d[0], ceil_mode)
    ow = _pool_geometry(w, k[1], s[1], p[1], d[1], ceil_mode)
    # pad enough on the right/bottom for ceil_mode windows that hang over the edge
    need_h = (oh - 1) * s[0] + d[0] * (k[0] - 1) + 1 - (h + 2 * p[0])
    need_w = (ow - 1) * s[1] + d[1] * (k[1] - 1) + 1 - (w + 2 * p[1])
    pads = (p[1], p[1] + builtins.max(need_w, 0), p[0], p[0] + builtins.max(need_h, 0))
    if any(pads):
        x = pad(x, pads, value=fill)
    x = x.contiguous()
    sn, sc, sh, sw = x.stride()
    win = x.as_strided((n, c, oh, ow, k[0], k[1]), (sn, sc, sh * s[0], sw * s[1], sh * d[0], sw * d[1]))
    return win.reshape(n, c, oh, ow, k[0] * k[1]), oh, ow, pads


class _ArgmaxPoolFn(Function):
    """Shared by the max poolings, whose forward returns (values, argmax indices): the indices are saved and
    not differentiable, and the input's gradient scatters g to them."""

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.mark_non_differentiable(out[1])
        ctx.save_for_backward(out[1])
        ctx.shape = inputs[0]._shape

    @staticmethod
    def input_grad(ctx, g):
        idx, = ctx.saved_tensors
        return IndexedPoolGrad.apply(g, idx, ctx.shape) if _state.enabled else _C.max_pool2d_backward(g, idx, ctx.shape)


class MaxPool2dFn(_ArgmaxPoolFn):
    @staticmethod
    def forward(x, k, s, p, d, ceil_mode):
        return _C.max_pool2d(x, k, s, p, d, ceil_mode)

    @staticmethod
    def backward(ctx, g, g_idx):
        return _ArgmaxPoolFn.input_grad(ctx, g), None, None, None, None, None


class IndexedPoolGrad(Function):
    """Gradient of max pooling: g scattered to the argmax positions (its own gradient gathers them back)."""

    @staticmethod
    def forward(g, idx, shape):
        return _C.max_pool2d_backward(g, idx, shape)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, gg):
        idx, = ctx.saved_tensors
        n, c = idx.shape[0], idx.shape[1]
        # explicit sizes, not -1: -1 is ambiguous for an empty batch
        flat = gg.reshape(n, c, _prod(gg.shape[2:])).gather(2, idx.reshape(n, c, _prod(idx.shape[2:])))
        return flat.reshape(idx.shape), None, None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over kH x kW windows; with return_indices also the flat (h * W + w) index of each maximum."""
    k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, "max_pool2d", ceil_mode)
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    if needs_grad(x):
        values, idx = MaxPool2dFn.apply(x, k, s, p, d, bool(ceil_mode))
    else:
        values, idx = _C.max_pool2d(x, k, s, p, d, bool(ceil_mode))
    if not batched:
        values, idx = values.squeeze(0), idx.squeeze(0)
    return (values, idx) if return_indices else values


def _max_pool2d_composite(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                          return_indices=False):
    """max_pool2d composed of window views and max (a reference for the kernel)."""
    k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, "max_pool2d", ceil_mode)
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    win, oh, ow, pads = _windows(x, k, s, p, d, ceil_mode, float("-inf"))
    values, arg = win.max(-1)
    if not return_indices:
        return values if batched else values.squeeze(0)
    n, c, h, w = x.shape
    from .creation import arange
    pos = arange(h * w, dtype=_C.int64).reshape(1, 1, h, w)
    pwin, _, _, _ = _windows(pos, k, s, p, d, ceil_mode, -1)
    idx = pwin.expand(n, c, oh, ow, k[0] * k[1]).gather(-1, arg.unsqueeze(-1)).squeeze(-1)
    return (values, idx) if batched else (values.squeeze(0), idx.squeeze(0))


class AvgPool2dFn(Function):
    @staticmethod
    def forward(x, k, s, p, ceil_mode, include_pad, divisor):
        return _C.avg_pool2d(x, k, s, p, ceil_mode, include_pad, divisor)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape, ctx.args = inputs[0]._shape, inputs[1:]

    @staticmethod
    def backward(ctx, g):
        return AvgPoolGrad.apply(g, ctx.shape, ctx.args), None, None, None, None, None, None


class AvgPoolGrad(Function):
    """The (linear) gradient of average pooling; its own gradient is average pooling again."""

    @staticmethod
    def forward(g, shape, args):
        return _C.avg_pool2d_backward(g, shape, *args)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.args = inputs[2]

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2dFn.apply(gg, *ctx.args) if _state.enabled else _C.avg_pool2d(gg, *ctx.args), None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kH x kW windows (padding counted when count_include_pad)."""
    k, s, p, _ = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d", ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    args = (k, s, p, bool(ceil_mode), bool(count_include_pad), int(divisor_override or 0))
    out = AvgPool2dFn.apply(x, *args) if needs_grad(x) else _C.avg_pool2d(x, *args)
    return out if batched else out.squeeze(0)


def _avg_pool2d_composite(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                          divisor_override=None):
    """avg_pool2d composed of window views and sums (a reference for the kernel)."""
    k, s, p, _ = _pool_args(input, kernel_size, stride, padding, 1, "avg_pool2d", ceil_mode)
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    win, oh, ow, pads = _windows(x, k, s, p, (1, 1), ceil_mode, 0.0)
    total = win.sum(-1)
    if divisor_override:
        out = total / divisor_override
    else:
        h, w = x.shape[2], x.shape[3]
        div_h = [_avg_count(i, s[0], k[0], p[0], h, count_include_pad) for i in range(oh)]
        div_w = [_avg_count(j, s[1], k[1], p[1], w, count_include_pad) for j in range(ow)]
        from .creation import tensor
        div = tensor([[a * b for b in div_w] for a in div_h], dtype=total.dtype)
        out = total / div
    return out if batched else out.squeeze(0)


def _avg_count(i, s, k, p, size, include_pad):
    start = i * s - p
    end = builtins.min(start + k, size + p)
    if include_pad:
        return end - start
    return builtins.min(end, size) - builtins.max(start, 0)


def _adaptive_bounds(size, out):
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


class AdaptiveAvgPool2dFn(Function):
    @staticmethod
    def forward(x, oh, ow):
        return _C.adaptive_avg_pool2d(x, oh, ow)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.shape = inputs[0]._shape

    @staticmethod
    def backward(ctx, g):
        return AdaptiveAvgPoolGrad.apply(g, ctx.shape), None, None


class AdaptiveAvgPoolGrad(Function):
    @staticmethod
    def forward(g, shape):
        return _C.adaptive_avg_pool2d_backward(g, shape)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.out_hw = inputs[0]._shape[2:]

    @staticmethod
    def backward(ctx, gg):
        oh, ow = ctx.out_hw
        return (AdaptiveAvgPool2dFn.apply(gg, oh, ow) if _state.enabled else _C.adaptive_avg_pool2d(gg, oh, ow)), None


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (windows from floor(i*H/oh) to ceil((i+1)*H/oh))."""
    x, batched, oh, ow = _adaptive_args(input, output_size, "adaptive_avg_pool2d")
    if oh == 0 or ow == 0:
        out = _empty_pool(x, oh, ow)
    else:
        out = AdaptiveAvgPool2dFn.apply(x, oh, ow) if needs_grad(x) else _C.adaptive_avg_pool2d(x, oh, ow)
    return out if batched else out.squeeze(0)


def _adaptive_avg_pool2d_composite(input, output_size):
    check_tensor(input, "adaptive_avg_pool2d")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    h, w = x.shape[2], x.shape[3]
    oh, ow = _adaptive_size(output_size, h, w)
    if oh == 1 and ow == 1:
        out = x.mean((2, 3), keepdim=True)
    elif h % oh == 0 and w % ow == 0:
        out = x.reshape(x.shape[0], x.shape[1], oh, h // oh, ow, w // ow).mean((3, 5))
    else:
        from .shape import stack
        rows = stack([x.narrow(2, a, b - a).mean(2) for a, b in _adaptive_bounds(h, oh)], 2)
        out = stack([rows.narrow(3, a, b - a).mean(3) for a, b in _adaptive_bounds(w, ow)], 3)
    return out if batched else out.squeeze(0)


class AdaptiveMaxPool2dFn(_ArgmaxPoolFn):
    @staticmethod
    def forward(x, oh, ow):
        return _C.adaptive_max_pool2d(x, oh, ow)

    @staticmethod
    def backward(ctx, g, g_idx):
        return _ArgmaxPoolFn.input_grad(ctx, g), None, None


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed output size; with return_indices also flat h * W + w indices."""
    x, batched, oh, ow = _adaptive_args(input, output_size, "adaptive_max_pool2d")
    if oh == 0 or ow == 0:
        out, idx = _empty_pool(x, oh, ow), _C.full((x.shape[0], x.shape[1], oh, ow), 0, _C.int64)
    else:
        out, idx = AdaptiveMaxPool2dFn.apply(x, oh, ow) if needs_grad(x) else _C.adaptive_max_pool2d(x, oh, ow)
    if not batched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def _adaptive_max_pool2d_composite(input, output_size, return_indices=False):
    check_tensor(input, "adaptive_max_pool2d")
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    n, c, h, w = x.shape
    oh, ow = _adaptive_size(output_size, h, w)
    from .creation import arange
    from .shape import stack
    pos = arange(h * w, dtype=_C.int64).reshape(1, 1, h, w).expand(n, c, h, w)
    vals, idxs = [], []
    for a, b in _adaptive_bounds(h, oh):
        vrow, irow = [], []
        for e, f in _adaptive_bounds(w, ow):
            win = x[:, :, a:b, e:f].reshape(n, c, (b - a) * (f - e))
            v, i = win.max(-1)
            vrow.append(v)
            irow.append(pos[:, :, a:b, e:f].reshape(n, c, (b - a) * (f - e)).gather(-1, i.unsqueeze(-1)).squeeze(-1))
        vals.append(stack(vrow, -1))
        idxs.append(stack(irow, -1))
    out, idx = stack(vals, 2), stack(idxs, 2)
    if not batched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def _adaptive_size(output_size, h, w, name="adaptive_avg_pool2d"):
    """(oh, ow) of an adaptive pooling: an int, or a pair whose None entries keep the input size."""
    if isinstance(output_size, numbers.Integral):
        oh = ow = int(output_size)
    else:
        sizes = tuple(output_size)
        if len(sizes) != 2:
            raise RuntimeError("%s: output_size must be 2" % name)
        oh, ow = (h if sizes[0] is None else int(sizes[0])), (w if sizes[1] is None else int(sizes[1]))
    if oh < 0 or ow < 0:
        raise RuntimeError("%s: elements of output_size must be greater than or equal to 0 but received {%d, %d}"
                           % (name, oh, ow))
    return oh, ow


def _adaptive_args(input, output_size, name):
    """Checks a [N, C, H, W] or [C, H, W] input (as PyTorch does: only the first dim may be empty); returns it
    batched, whether it was, and the output size."""
    check_tensor(input, name)
    if input.dim() not in (3, 4):
        raise RuntimeError("%s(): Expected 3D or 4D tensor, but got %s" % (name, list(input.shape)))
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError("%s(): Expected input to have non-zero size for non-batch dimensions, but input has "
                               "sizes %s with dimension %d being empty" % (name, list(input.shape), i))
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    oh, ow = _adaptive_size(output_size, x.shape[2], x.shape[3], name)
    return x, batched, oh, ow


def _empty_pool(x, oh, ow):
    """The zero-size result of pooling x to oh x ow (0 in one of them), still attached to x's graph."""
    return x.sum((2, 3), keepdim=True).expand(x.shape[0], x.shape[1], oh, ow)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of [N, C, L] (or [C, L]) input."""
    k, s, p, d = _pool1d_args(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d")
    r = max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode, return_indices)
    if return_indices:
        return r[0].squeeze(-2), r[1].squeeze(-2)
    return r.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of [N, C, L] (or [C, L]) input."""
    return avg_pool2d(input.unsqueeze(-2), (1, _pair(kernel_size, 1)[0]),
                      (1, _pair(stride if stride is not None else kernel_size, 1)[0]), (0, _pair(padding, 1)[0]),
                      ceil_mode, count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of [N, C, L] input to a fixed output length."""
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, _pair(output_size, 1, "output_size")[0])).squeeze(-2)


# ---------------------------------------------------------------------------------------- normalisation


class BatchNormFn(Function):
    """Fused batch norm. In training the running statistics were already updated by the forward kernel; the
    backward uses the saved batch mean and inverse standard deviation."""

    @staticmethod
    def forward(x, weight, bias, running_mean, running_var, training, momentum, eps):
        y, mean, invstd = _C.batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps)
        return y, mean, invstd

    @staticmethod
    def setup_context(ctx, inputs, out):
        x, weight, bias, rm, rv, training, momentum, eps = inputs
        ctx.mark_non_differentiable(out[1], out[2])
        ctx.save_for_backward(x, weight, bias, out[1], out[2], rm, rv)
        ctx.args = (training, eps)

    @staticmethod
    def backward(ctx, g, _gm, _gi):
        x, weight, bias, mean, invstd, rm, rv = ctx.saved_tensors
        training, eps = ctx.args
        need = ctx.needs_input_grad
        if _state.enabled:
            stats = (None, None) if training else (rm, rv)
            return _composite_grads(lambda xx, ww, bb: _batch_norm_composite(
                xx, stats[0], stats[1], ww, bb, training, 0.0, eps), (x, weight, bias), need[:3], g) + (None,) * 5
        gx, gw, gb = _C.batch_norm_backward(g, x, weight, mean, invstd, training, need[0],
                                            weight is not None and need[1], bias is not None and need[2])
        return gx, gw, gb, None, None, None, None, None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalises each channel (dim 1) with batch statistics (training) or running statistics; in training
    the running statistics are updated in place (unbiased variance), as PyTorch does."""
    check_tensor(input, "batch_norm")
    if input.dim() < 2:
        raise ValueError("expected 2D or higher input (got %dD input)" % input.dim())
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm in eval mode needs running_mean and running_var")
    if training and input.numel() // max(input.shape[1], 1) <= 1:
        raise ValueError("Expected more than 1 value per channel when training, got input size %s"
                         % list(input.shape))
    rm = running_mean.detach() if running_mean is not None else None
    rv = running_var.detach() if running_var is not None else None
    args = (input, weight, bias, rm, rv, bool(training), float(momentum if momentum is not None else 0.1),
            float(eps))
    if needs_grad(input, weight, bias):
        return BatchNormFn.apply(*args)[0]
    return _C.batch_norm(*args)[0]


def _batch_norm_composite(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                          eps=1e-5):
    """batch_norm composed of differentiable ops (the kernel's reference and double-backward path)."""
    check_tensor(input, "batch_norm")
    if input.dim() < 2:
        raise ValueError("expected 2D or higher input (got %dD input)" % input.dim())
    c = input.shape[1]
    dims = [0] + list(range(2, input.dim()))
    shape = [1, c] + [1] * (input.dim() - 2)
    if training:
        count = input.numel() // c
        if count <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input size %s"
                             % list(input.shape))
        var, mean = _var_mean(input, dims)
        if running_mean is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
        if running_var is not None:
            with no_grad():
                running_var.mul_(1 - momentum).add_(var.detach() * (momentum * count / (count - 1)))
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm in eval mode needs running_mean and running_var")
        mean, var = running_mean, running_var
    out = (input - mean.reshape(shape)) * (var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _var_mean(x, dims, keepdim=False):
    """Biased variance and mean over dims (the statistics every norm uses)."""
    from .reduction import var_mean
    return var_mean(x, dims, correction=0, keepdim=keepdim)


class LayerNormFn(Function):
    @staticmethod
    def forward(x, ndim, weight, bias, eps):
        return _C.layer_norm(x, ndim, weight, bias, eps)

    @staticmethod
    def setup_context(ctx, inputs, out):
        x, ndim, weight, bias, eps = inputs
        ctx.mark_non_differentiable(out[1], out[2])
        ctx.save_for_backward(x, weight, bias, out[1], out[2])
        ctx.args = (ndim, eps)

    @staticmethod
    def backward(ctx, g, _gm, _gr):
        x, weight, bias, mean, rstd = ctx.saved_tensors
        ndim, eps = ctx.args
        need = ctx.needs_input_grad
        if _state.enabled:
            shape = tuple(x.shape[x.dim() - ndim:])
            gx, gw, gb = _composite_grads(lambda xx, ww, bb: _layer_norm_composite(xx, shape, ww, bb, eps),
                                          (x, weight, bias), (need[0], need[2], need[3]), g)
            return gx, None, gw, gb, None
        gx, gw, gb = _C.layer_norm_backward(g, x, mean, rstd, weight, ndim, need[0],
                                            weight is not None and need[2], bias is not None and need[3])
        return gx, None, gw, gb, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalises over the last len(normalized_shape) dims (biased variance), then scales and shifts."""
    if _state.autocast and "layer_norm" in _state.autocast:
        return _autocast("layer_norm", layer_norm, input, normalized_shape, weight, bias, eps)
    check_tensor(input, "layer_norm")
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(ns):]) != ns:
        raise RuntimeError("Given normalized_shape=%s, expected input with shape [*, %s], but got input of size%s"
                           % (list(ns), ", ".join(str(s) for s in ns), list(input.shape)))
    args = (input, len(ns), weight, bias, float(eps))
    if needs_grad(input, weight, bias):
        return LayerNormFn.apply(*args)[0]
    return _C.layer_norm(*args)[0]


def _layer_norm_composite(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """layer_norm composed of differentiable ops (the kernel's reference and double-backward path)."""
    check_tensor(input, "layer_norm")
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    dims = list(range(input.dim() - len(ns), input.dim()))
    var, mean = _var_mean(input, dims, keepdim=True)
    out = (input - mean) * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalises each of num_groups channel groups of each sample (biased variance), then applies the
    per-channel weight and bias."""
    if _state.autocast and "group_norm" in _state.autocast:
        return _autocast("group_norm", group_norm, input, num_groups, weight, bias, eps)
    check_tensor(input, "group_norm")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError("Expected number of channels in input to be divisible by num_groups, but got input of "
                           "shape %s and num_groups=%d" % (list(input.shape), num_groups))
    x = input.reshape(n, num_groups, _prod(input.shape[1:]) // num_groups)  # not -1: n may be 0
    var, mean = _var_mean(x, [2], keepdim=True)
    out = ((x - mean) * (var + eps).rsqrt()).reshape(input.shape)
    shape = [1, c] + [1] * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


# ---------------------------------------------------------------------------------------- embedding / dropout


class _Embedding(Function):
    @staticmethod
    def forward(weight, indices, padding_idx, scale_grad_by_freq=False, sparse=False):
        return _C.index_select(weight, 0, _C.reshape(indices, (-1,))).reshape(tuple(indices.shape) + (weight.shape[1],))

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1])
        ctx.num, ctx.padding_idx, ctx.scale_freq = inputs[0].shape[0], inputs[2], inputs[3]
        ctx.sparse = len(inputs) > 4 and inputs[4]

    @staticmethod
    def backward(ctx, g):
        idx, = ctx.saved_tensors
        from .indexing import index_add
        flat = idx.reshape(-1)
        rows = g.reshape(-1, g.shape[-1])
        if ctx.scale_freq:
            # each index's gradient is divided by how often that index occurs in the batch
            ones = _C.full((flat.shape[0],), 1, g.dtype)
            counts = index_add(_C.zeros_meta(((ctx.num,), g.dtype, g._device)), 0, flat, ones)
            rows = rows / counts.index_select(0, flat).unsqueeze(1)
        if ctx.sparse and not _state.enabled:
            # PyTorch's sparse gradient: one uncoalesced row per lookup, the padding_idx lookups left out
            if ctx.padding_idx is not None:
                keep = (flat != ctx.padding_idx).nonzero().reshape(-1)
                flat, rows = flat.index_select(0, keep), rows.index_select(0, keep)
            else:
                rows = rows.clone()
            from .._sparse import SparseCooTensor
            return SparseCooTensor._make(flat.reshape(1, -1), rows, (ctx.num, g.shape[-1]), False), None, None, \
                None, None
        gw = index_add(_C.zeros_meta(((ctx.num, g.shape[-1]), g.dtype, g._device)), 0, flat, rows)
        if ctx.padding_idx is not None:
            gw = gw.index_fill(0, _tensor_of([ctx.padding_idx]), 0.0)
        return gw, None, None, None, None


def _tensor_of(v):
    from .creation import tensor
    return tensor(v, dtype=_C.int64)


class PaddingIdxError(AssertionError, ValueError):
    """An out-of-range padding_idx. PyTorch raises AssertionError; Ember raised ValueError before, so this is
    both and code catching either keeps working."""


def _check_padding_idx(padding_idx, num_embeddings, op):
    """PyTorch's padding_idx rule (nn.Embedding and F.embedding): an int in [-num_embeddings, num_embeddings),
    negative values counting from the end; anything else is refused. Returns the non-negative index."""
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError("%s(): argument 'padding_idx' must be int, not %s" % (op, type(padding_idx).__name__))
    padding_idx = int(padding_idx)
    if not -num_embeddings <= padding_idx < num_embeddings:
        # an AssertionError, as PyTorch raises (explicit, so that python -O keeps the check)
        raise PaddingIdxError("Padding_idx must be within num_embeddings")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of weight at the integer indices in input (the padding_idx row gets no gradient)."""
    check_tensor(input, "embedding")
    if input.dtype.is_floating_point:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           "Long, Int; but got %s instead" % input.dtype)
    if padding_idx is not None:
        padding_idx = _check_padding_idx(padding_idx, weight.shape[0] if weight.dim() else 0, "embedding")
    if max_norm is not None:
        with no_grad():
            rows = weight.index_select(0, input.reshape(-1))
            norms = rows.norm(norm_type, dim=1, keepdim=True)
            scale = (max_norm / (norms + 1e-7)).clamp(max=1.0)
            weight.index_copy_(0, input.reshape(-1), rows * scale)
    idx = input.long()
    if needs_grad(weight):
        return _Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq), bool(sparse))
    return _Embedding.forward(weight, idx, padding_idx)


class _Dropout(Function):
    @staticmethod
    def forward(x, mask, scale):
        return _C.mul(_C.mul(x, mask), scale)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1])
        ctx.scale = inputs[2]

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        return g * mask * ctx.scale, None, None


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability p and scales the rest by 1/(1-p) (identity when not training)."""
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    check_tensor(input, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    mask = _C.empty(input._shape, input.dtype)
    _C.bernoulli_scalar_(mask, 1.0 - p, None)
    out = _Dropout.apply(input, mask, 1.0 / (1.0 - p)) if needs_grad(input) else _Dropout.forward(
        input, mask, 1.0 / (1.0 - p))
    if inplace:
        return input.copy_(out)
    return out


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels with probability p: one draw per (dim 0, dim 1) pair, as PyTorch does (so a 3-D
    input counts as [N, C, L], with PyTorch's warning)."""
    if p < 0.0 or p > 1.0:
        raise ValueError("dropout probability has to be between 0 and 1, but got %s" % p)
    check_tensor(input, "dropout2d")
    if input.dim() not in (3, 4):
        warnings.warn("dropout2d: Received a %d-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use "
                      "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      "inputs)." % input.dim(), stacklevel=2)
    if input.dim() == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", stacklevel=2)
    if not training or p == 0.0:
        return input
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    mask = _C.empty(shape, input.dtype)
    _C.bernoulli_scalar_(mask, 1.0 - p, None)
    out = input * mask * (1.0 / (1.0 - p)) if p < 1.0 else input * 0.0
    return input.copy_(out) if inplace else out


export(softmax, name="softmax")
export(log_softmax, name="log_softmax")
for _n, _f in [("conv1d", conv1d), ("conv2d", conv2d), ("conv_transpose2d", conv_transpose2d),
               ("max_pool2d", max_pool2d), ("avg_pool2d", avg_pool2d), ("batch_norm", batch_norm),
               ("layer_norm", layer_norm), ("group_norm", group_norm), ("embedding", embedding),
               ("dropout", dropout), ("adaptive_avg_pool2d", adaptive_avg_pool2d),
               ("adaptive_max_pool2d", adaptive_max_pool2d), ("adaptive_avg_pool1d", adaptive_avg_pool1d),
               ("max_pool1d", max_pool1d), ("avg_pool1d", avg_pool1d)]:
    export(_f, name=_n)
