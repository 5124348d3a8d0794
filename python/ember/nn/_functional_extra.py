"""Losses and vector utilities of ``ember.nn.functional``: ctc_loss, one_hot, normalize, cosine_similarity and
pairwise_distance, with PyTorch's signatures, semantics and errors.

ctc_loss is one Function: its forward runs the alpha recursion of Graves et al. (2006) in log space, vectorised
over the batch and the label positions (one step per time frame), and its backward runs the beta recursion and
returns the exact gradient with respect to log_probs.
"""
import numbers

import numpy as np

from .. import _C
from .._tensor import Tensor
from ..autograd.function import Function
from .._ops import pointwise as _pw
from .._ops._util import check_tensor, write_out
from .._ops.creation import arange as _arange, tensor as _tensor, zeros as _zeros
from .._ops.shape import cat as _cat, stack as _stack
from ..amp.autocast_mode import _dispatch as _autocast
from ..autograd.grad_mode import _state

__all__ = ["ctc_loss", "one_hot", "normalize", "cosine_similarity", "pairwise_distance"]

_NEG_INF = float("-inf")


# ------------------------------------------------------------------------------------------------ one_hot etc.


def one_hot(tensor, num_classes=-1):
    """[*] int64 class indices -> [*, num_classes] int64 one-hot; num_classes=-1 infers max(tensor) + 1."""
    check_tensor(tensor, "one_hot", "tensor")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral):
        raise TypeError("one_hot(): argument 'num_classes' (position 2) must be int, not %s"
                        % type(num_classes).__name__)
    num_classes = int(num_classes)
    if tensor.dtype is not _C.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    shape = tuple(tensor.shape)
    if tensor.numel() == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return _zeros(shape + (num_classes,), dtype=_C.int64, device=tensor.device)
    if int(tensor.min().item()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    top = int(tensor.max().item())
    if num_classes == -1:
        num_classes = top + 1
    elif num_classes < -1:
        raise RuntimeError("Class values must be smaller than num_classes. (num_classes=%d is negative; pass -1 to "
                           "infer it)" % num_classes)
    elif top >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes. (got class %d with num_classes=%d)"
                           % (top, num_classes))
    out = _zeros(shape + (num_classes,), dtype=_C.int64, device=tensor.device)
    return out.scatter_(-1, tensor.unsqueeze(-1), 1)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along dim (an int or a tuple of ints); out= makes it non-differentiable."""
    if _state.autocast and out is None and "normalize" in _state.autocast:
        return _autocast("normalize", normalize, input, p, dim, eps)
    check_tensor(input, "normalize")
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    r = input / denom
    if out is not None:
        return write_out(out, r)
    return r


def _float_operands(x1, x2, op):
    """PyTorch's rule for the distance functions: integer operands are converted to the common floating type;
    a non-floating common type is an error."""
    check_tensor(x1, op, "x1")
    check_tensor(x2, op, "x2")
    dtype = _C.promote_types(x1.dtype, x2.dtype)
    if not dtype.is_floating_point:
        raise RuntimeError("expected common dtype to be floating point, yet common dtype is %s" % dtype)
    return (x1 if x1.dtype is dtype else x1.to(dtype)), (x2 if x2.dtype is dtype else x2.to(dtype))


def _clamped_norm(x, dim, eps):
    """||x||_2 along dim whose value is clamped below at eps while its gradient stays that of the unclamped norm
    (PyTorch clamps in place under no_grad)."""
    n = x.norm(2, dim, keepdim=True)
    nd = n.detach()
    return n + (nd.clamp_min(eps) - nd)


def _broadcast_shape(a, b):
    nd = max(len(a), len(b))
    a, b = (1,) * (nd - len(a)) + a, (1,) * (nd - len(b)) + b
    for i, (m, n) in enumerate(zip(a, b)):
        if m != n and m != 1 and n != 1:
            raise RuntimeError("The size of tensor a (%d) must match the size of tensor b (%d) at non-singleton "
                               "dimension %d" % (m, n, i))
    return tuple(n if m == 1 else m for m, n in zip(a, b))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along dim, inputs broadcast against each other."""
    if _state.autocast and "cosine_similarity" in _state.autocast:
        return _autocast("cosine_similarity", cosine_similarity, x1, x2, dim, eps)
    x1, x2 = _float_operands(x1, x2, "cosine_similarity")
    shape = _broadcast_shape(tuple(x1.shape), tuple(x2.shape))
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    return ((x1 / _clamped_norm(x1, dim, eps)) * (x2 / _clamped_norm(x2, dim, eps))).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim of the broadcast inputs."""
    check_tensor(x1, "pairwise_distance", "x1")
    check_tensor(x2, "pairwise_distance", "x2")
    dtype = _C.promote_types(x1.dtype, x2.dtype)
    if not dtype.is_floating_point:
        # PyTorch takes the norm of the integral difference (eps does not promote it) and rejects it
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got %s" % dtype)
    d = x1 - x2 + eps
    if d.dim() == 0:
        return d.abs() if p != 0 else (d != 0).to(d.dtype)
    return d.norm(p, -1, keepdim=keepdim)


# ------------------------------------------------------------------------------------------------ ctc_loss


def _lse(*xs):
    """log(sum(exp(x))) of same-shape tensors, -inf (not NaN) where every term is -inf."""
    m = xs[0]
    for x in xs[1:]:
        m = _pw.maximum(m, x)
    m = m.masked_fill(m == _NEG_INF, 0.0)
    s = (xs[0] - m).exp()
    for x in xs[1:]:
        s = s + (x - m).exp()
    return s.log() + m


def _shift(x, k):
    """x shifted along the last dim with -inf filled in: x[..., s - k] for k > 0, x[..., s + |k|] for k < 0."""
    n = x.shape[-1]
    if abs(k) >= n:
        return x.new_full(x.shape, _NEG_INF)
    fill = x.new_full(tuple(x.shape[:-1]) + (abs(k),), _NEG_INF)
    return _cat([fill, x[..., :n - k]], -1) if k > 0 else _cat([x[..., -k:], fill], -1)


class CtcLoss(Function):
    """Per-sample CTC negative log-likelihood. Inputs: log_probs [T, N, C], the blank-interleaved labels ext
    [N, 2S + 1], skip [N, 2S + 1] (True where the transition s - 2 -> s is allowed), lengths as int64 tensors [N].
    Returns [N]: -log p(target | input), +inf for impossible alignments (0 with zero_infinity)."""

    @staticmethod
    def forward(ctx, log_probs, ext, skip, in_len, tgt_len, zero_infinity):
        t_max, n, _ = log_probs.shape
        lp_ext = log_probs.gather(2, ext.unsqueeze(0).expand(t_max, n, ext.shape[1]))   # [T, N, L]
        pos = _arange(ext.shape[1], device=ext.device).unsqueeze(0)
        alpha = lp_ext[0].masked_fill(pos >= 2, _NEG_INF)
        alphas = [alpha]
        no_skip = skip.logical_not()
        for t in range(1, t_max):
            alpha = _lse(alpha, _shift(alpha, 1), _shift(alpha, 2).masked_fill(no_skip, _NEG_INF)) + lp_ext[t]
            alphas.append(alpha)
        alpha = _stack(alphas)                                                               # [T, N, L]
        last = alpha.gather(0, (in_len - 1).clamp_min(0).reshape(1, n, 1).expand(1, n, ext.shape[1]))[0]
        end = last.gather(1, (2 * tgt_len).reshape(n, 1))
        end_label = last.gather(1, (2 * tgt_len - 1).clamp_min(0).reshape(n, 1)).masked_fill(
            (tgt_len == 0).reshape(n, 1), _NEG_INF)
        nll = -_lse(end, end_label).reshape(n)
        # an empty input aligns only with an empty target
        empty_in = in_len == 0
        nll = _pw.where(empty_in, _pw.where(tgt_len == 0, 0.0, float("inf")).to(nll.dtype), nll)
        # saved (not kept as attributes) so that the [T, N, L] intermediates are freed after backward
        ctx.save_for_backward(log_probs, ext, skip, in_len, tgt_len, alpha, lp_ext, nll)
        ctx.zero_infinity = zero_infinity
        if zero_infinity:
            nll = nll.masked_fill(nll == float("inf"), 0.0)
        return nll

    @staticmethod
    def backward(ctx, g):
        log_probs, ext, skip, in_len, tgt_len, alpha, lp_ext, nll = ctx.saved_tensors
        t_max, n, c = log_probs.shape
        length = ext.shape[1]
        pos = _arange(length, device=ext.device).unsqueeze(0)
        # beta_t(s): log-probability of emitting the rest of the target from state s at time t (including y_t)
        ends = _pw.logical_or(pos == 2 * tgt_len.reshape(n, 1),
                              _pw.logical_and(pos == 2 * tgt_len.reshape(n, 1) - 1, tgt_len.reshape(n, 1) > 0))
        no_skip_next = _shift(skip.to(log_probs.dtype), -2) != 1      # s -> s + 2 not allowed
        last_t = (in_len - 1).reshape(n, 1)
        beta = lp_ext[t_max - 1].new_full((n, length), _NEG_INF)
        betas = [None] * t_max
        for t in range(t_max - 1, -1, -1):
            rec = _lse(beta, _shift(beta, -1), _shift(beta, -2).masked_fill(no_skip_next, _NEG_INF)) + lp_ext[t]
            init = lp_ext[t].masked_fill(ends.logical_not(), _NEG_INF)
            beta = _pw.where(last_t == t, init, rec.masked_fill(last_t < t, _NEG_INF))
            betas[t] = beta
        beta = _stack(betas)
        # d nll / d lp_ext[t, s] = -exp(alpha + beta - lp_ext + nll); several states may share a class
        gamma = (alpha + beta - lp_ext + nll.reshape(1, n, 1)).exp()
        grad_ext = -gamma * g.reshape(1, n, 1)
        if ctx.zero_infinity:
            grad_ext = grad_ext.masked_fill((nll == float("inf")).reshape(1, n, 1), 0.0)
        grad = _zeros(t_max, n, c, dtype=log_probs.dtype, device=log_probs.device)
        grad = grad.scatter_add(2, ext.unsqueeze(0).expand(t_max, n, length), grad_ext)
        return grad, None, None, None, None, None


def _lengths(v, name, n_expected):
    """input_lengths / target_lengths (a tensor, a sequence of ints, or an int when unbatched) -> list of ints."""
    if isinstance(v, Tensor):
        if v.dtype.is_floating_point or v.dtype is _C.bool:
            raise RuntimeError("%s must be integral" % name)
        vals = [int(x) for x in v.reshape(-1).tolist()]
    elif isinstance(v, numbers.Integral) and not isinstance(v, bool):
        vals = [int(v)]
    elif isinstance(v, (list, tuple)):
        vals = [int(x) for x in v]
    else:
        raise TypeError("ctc_loss(): %s must be a Tensor or a tuple of ints, not %s" % (name, type(v).__name__))
    if len(vals) != n_expected:
        raise RuntimeError("%s must be of size batch_size" % name)
    return vals


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist Temporal Classification loss.

    log_probs: [T, N, C] (or [T, C]) log-probabilities (e.g. log_softmax output); targets: [N, S] padded (or [S]
    unbatched) or 1-D concatenated (sum(target_lengths)); input_lengths / target_lengths: [N] tensors or tuples
    of ints. reduction 'mean' divides each loss by its target length (at least 1) and averages over the batch.
    zero_infinity zeroes infinite losses (inputs too short to align) and their gradients.

    The gradient is the exact derivative with respect to log_probs. (PyTorch's kernel returns that derivative
    plus exp(log_probs), i.e. the logits' gradient assuming log_probs came from log_softmax; the two agree once
    back-propagated through log_softmax.)
    """
    if _state.autocast and "ctc_loss" in _state.autocast:
        return _autocast("ctc_loss", ctc_loss, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                         zero_infinity)
    check_tensor(log_probs, "ctc_loss", "log_probs")
    check_tensor(targets, "ctc_loss", "targets")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError("%s is not a valid value for reduction" % reduction)
    if log_probs.dim() not in (2, 3):
        raise RuntimeError("Expected 3-dimensional tensor, but got %d-dimensional tensor for argument #1 'log_probs' "
                           "(while checking arguments for ctc_loss)" % log_probs.dim())
    if not log_probs.dtype.is_floating_point:
        raise NotImplementedError("ctc_loss(): log_probs must be a floating point tensor, got %s" % log_probs.dtype)
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if not batched:
        targets = targets.unsqueeze(0)
    t_max, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    il = _lengths(input_lengths, "input_lengths", n)
    tl = _lengths(target_lengths, "target_lengths", n)
    for v in il:
        if v > t_max:
            raise RuntimeError("Expected input_lengths to have value at most %d, but got value %d (while checking "
                               "arguments for ctc_loss)" % (t_max, v))
        if v < 0:
            raise RuntimeError("Expected input_lengths to have value at least 0, but got value %d (while checking "
                               "arguments for ctc_loss)" % v)
    for v in tl:
        if v < 0:
            raise RuntimeError("Expected target_lengths to have value at least 0, but got value %d (while checking "
                               "arguments for ctc_loss)" % v)
    if targets.dim() not in (1, 2):
        raise RuntimeError("Expected 1 to 2 dimensions, but got %d-dimensional tensor for argument #2 'targets' "
                           "(while checking arguments for ctc_loss)" % targets.dim())
    if targets.dtype is _C.bool:
        raise RuntimeError("ctc_loss(): targets must be an integer tensor, got %s" % targets.dtype)
    tg = np.asarray(targets.detach().cpu().numpy())
    s_max = max(tl) if tl else 0
    if tg.ndim == 1:
        # concatenated targets
        if tg.shape[0] != sum(tl):
            raise RuntimeError("Expected tensor to have size %d at dimension 0, but got size %d for argument #2 "
                               "'targets' (while checking arguments for ctc_loss)" % (sum(tl), tg.shape[0]))
        offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
    else:
        if tg.shape[0] != n:
            raise RuntimeError("Expected tensor to have size %d at dimension 0, but got size %d for argument #2 "
                               "'targets' (while checking arguments for ctc_loss)" % (n, tg.shape[0]))
        if tg.shape[1] < s_max:
            raise RuntimeError("Expected tensor to have size at least %d at dimension 1, but got size %d for argument "
                               "#2 'targets' (while checking arguments for ctc_loss)" % (s_max, tg.shape[1]))
    labels = np.full((n, s_max), blank, dtype=np.int64)
    for b in range(n):
        row = tg[offsets[b]:offsets[b] + tl[b]] if tg.ndim == 1 else tg[b, :tl[b]]
        row = row.astype(np.int64)
        bad = (row < 0) | (row >= c)
        if bad.any():
            raise IndexError("ctc_loss(): target value %d of sample %d is out of range for %d classes"
                             % (int(row[bad][0]), b, c))
        labels[b, :tl[b]] = row
    # the extended label sequence: blank, l1, blank, l2, ..., blank
    ext = np.full((n, 2 * s_max + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    dev = lp.device
    args = (lp, _tensor(ext, device=dev), _tensor(skip, device=dev), _tensor(il, dtype=_C.int64, device=dev),
            _tensor(tl, dtype=_C.int64, device=dev), bool(zero_infinity))
    nll = CtcLoss.apply(*args)
    if reduction == "mean":
        denom = _tensor(tl, dtype=nll.dtype, device=dev).clamp_min(1)
        return (nll / denom).mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.reshape(())
