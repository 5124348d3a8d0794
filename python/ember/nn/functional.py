"""``ember.nn.functional``: the function form of every layer, activation and loss, with PyTorch's signatures.

Convolution, pooling, normalisation, softmax, embedding, dropout, padding, nll_loss and cross_entropy live in
``ember._ops.nn`` (where fused kernels replace their internals); this module re-exports them and adds the
rest, composed from differentiable Ember ops.
"""
import math
import warnings

from .. import _C
from ..autograd.function import Function
from ..autograd.grad_mode import _state, no_grad
from .._ops import pointwise as _pw
from .._ops._util import check_tensor, needs_grad
from .._ops.linalg import linear
from .._ops.nn import (  # noqa: F401  (re-exported)
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, batch_norm, conv1d,
    conv2d, conv_transpose2d, cross_entropy, dropout, dropout2d, embedding, group_norm, layer_norm, log_softmax,
    max_pool1d, max_pool2d, nll_loss, pad, softmax, softmin)
from ..amp.autocast_mode import _dispatch as _autocast

__all__ = [
    "linear", "bilinear", "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
    "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "batch_norm", "layer_norm",
    "group_norm", "embedding", "dropout", "dropout2d", "pad", "one_hot", "interpolate", "upsample",
    "upsample_nearest", "upsample_bilinear", "normalize", "cosine_similarity", "pairwise_distance",
    "unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "grid_sample", "affine_grid",
    "scaled_dot_product_attention", "multi_head_attention_forward",
    # activations
    "threshold", "threshold_", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu", "elu_", "selu", "selu_",
    "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_", "glu", "gelu", "logsigmoid",
    "hardshrink", "tanhshrink", "softsign", "softplus", "softmin", "softmax", "log_softmax", "softshrink", "tanh",
    "sigmoid", "hardsigmoid", "silu", "mish", "hardswish",
    # losses
    "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "smooth_l1_loss", "huber_loss", "kl_div", "ctc_loss",
]


# ------------------------------------------------------------------------------------------------ linear


def bilinear(input1, input2, weight, bias=None):
    """y = x1^T A x2 + b over the last dim: input1 [*, in1], input2 [*, in2], weight [out, in1, in2] ->
    [*, out]."""
    if _state.autocast and "bilinear" in _state.autocast:
        return _autocast("bilinear", bilinear, input1, input2, weight, bias)
    check_tensor(input1, "bilinear", "input1")
    check_tensor(input2, "bilinear", "input2")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError("bilinear(): input1 size %d and input2 size %d do not match weight %s"
                           % (input1.shape[-1], input2.shape[-1], list(weight.shape)))
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError("bilinear(): input batch dimensions do not match: got %s and %s"
                           % (list(input1.shape[:-1]), list(input2.shape[:-1])))
    # one GEMM: x1 @ A viewed as [in1, out * in2], then contract with x2
    t = input1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2))
    t = t.reshape(tuple(input1.shape[:-1]) + (out_f, in2))
    y = (t * input2.unsqueeze(-2)).sum(-1)
    return y + bias if bias is not None else y


# ------------------------------------------------------------------------------------------------ activations


def _inplace_or(fn_cls, x, inplace, *params):
    return _pw._param_inplace(fn_cls, x, *params) if inplace else _pw._apply_param(fn_cls, x, *params)


def threshold(input, threshold, value, inplace=False):
    """y = x where x > threshold, else value."""
    return _inplace_or(_pw.Threshold, input, inplace, float(threshold), float(value), 0.0)


def threshold_(input, threshold, value):
    """In-place threshold."""
    return _inplace_or(_pw.Threshold, input, True, float(threshold), float(value), 0.0)


def relu(input, inplace=False):
    """max(x, 0)."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    """In-place relu."""
    return input.relu_()


class _Hardtanh(Function):
    """clamp(x, lo, hi) whose gradient is zero at the bounds too, as PyTorch's hardtanh (and relu6) define it."""

    @staticmethod
    def forward(x, lo, hi):
        return _C.clamp(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0])
        ctx.bounds = inputs[1:]

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds
        return _pw.where(_pw.logical_and(x > lo, x < hi), g, 0.0), None, None


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if needs_grad(input):
        if inplace:
            return _pw.inplace_via(input, lambda s: _Hardtanh.apply(s, min_val, max_val))
        return _Hardtanh.apply(input, min_val, max_val)
    if inplace:
        _C.clamp_(input, min_val, max_val)
        return input
    return _C.clamp(input, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place hardtanh."""
    return hardtanh(input, min_val, max_val, True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _inplace_or(_pw.Elu, input, inplace, float(alpha), 1.0, 1.0)


def elu_(input, alpha=1.0):
    """In-place elu."""
    return elu(input, alpha, True)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants alpha=1.6733, scale=1.0507."""
    return _inplace_or(_pw.Selu, input, inplace)


def selu_(input):
    """In-place selu."""
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _inplace_or(_pw.Celu, input, inplace, float(alpha))


def celu_(input, alpha=1.0):
    """In-place celu."""
    return celu(input, alpha, True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    return _inplace_or(_pw.LeakyRelu, input, inplace, float(negative_slope), 0.0, 0.0)


def leaky_relu_(input, negative_slope=0.01):
    """In-place leaky_relu."""
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    """Leaky ReLU with a learnable slope: one per channel (dim 1) or a single one shared by all."""
    if _state.autocast and "prelu" in _state.autocast:
        return _autocast("prelu", prelu, input, weight)
    check_tensor(input, "prelu")
    if weight.numel() != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        c = input.shape[1] if input.dim() >= 2 else input.shape[0]
        if weight.numel() != c:
            raise RuntimeError("Mismatch of parameter numbers and input channel size. Found parameter numbers = %d "
                               "and channel size = %d." % (weight.numel(), c))
        if input.dim() >= 2:
            weight = weight.reshape([1, c] + [1] * (input.dim() - 2))
    else:
        weight = weight.reshape(())
    return _pw.where(input > 0, input, input * weight)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomised leaky ReLU: negative inputs are scaled by a slope drawn from U(lower, upper) per element in
    training, by (lower + upper) / 2 in evaluation."""
    check_tensor(input, "rrelu")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slope = _C.empty(input._shape, input.dtype)
    _C.uniform_(slope, float(lower), float(upper), None)
    out = _pw.where(input >= 0, input, input * slope)
    return input.copy_(out) if inplace else out


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, True)


def glu(input, dim=-1):
    """Gated linear unit: a * sigmoid(b) where a, b are the halves of input along dim."""
    check_tensor(input, "glu")
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError("Halving dimension must be even, but dimension %d is size %d"
                           % (dim % input.dim(), n))
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF); approximate='tanh' uses the tanh approximation."""
    if approximate == "none":
        return input.gelu()
    if approximate == "tanh":
        return input.gelu_tanh()
    raise RuntimeError("approximate argument must be either none or tanh.")


def logsigmoid(input):
    """log(sigmoid(x)), computed stably."""
    return input.logsigmoid()


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return _pw._apply_param(_pw.Hardshrink, input, float(lambd))


def softshrink(input, lambd=0.5):
    """x - lambd for x > lambd, x + lambd for x < -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError("lambda must be greater or equal to 0, but found to be %s." % lambd)
    return _pw._apply_param(_pw.Softshrink, input, float(lambd))


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear (x) where beta * x > threshold."""
    if beta == 1.0 and threshold == 20.0:
        return input.softplus()
    return _pw._apply_param(_pw.SoftplusBeta, input, float(beta), float(threshold))


def tanh(input):
    """Elementwise tanh."""
    return input.tanh()


def sigmoid(input):
    """Elementwise logistic sigmoid 1 / (1 + exp(-x))."""
    return input.sigmoid()


def hardsigmoid(input, inplace=False):
    """Piecewise-linear sigmoid: relu6(x + 3) / 6."""
    out = hardtanh(input / 6 + 0.5, 0.0, 1.0)
    return input.copy_(out) if inplace else out


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return input.silu_() if inplace else input.silu()


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return input.mish_() if inplace else input.mish()


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    out = input * hardtanh(input / 6 + 0.5, 0.0, 1.0)
    return input.copy_(out) if inplace else out


# ------------------------------------------------------------------------------------------------ vision, ctc

from ._functional_vision import (  # noqa: E402,F401  (re-exported)
    affine_grid, fold, grid_sample, interpolate, pixel_shuffle, pixel_unshuffle, unfold, upsample, upsample_bilinear,
    upsample_nearest)
from ._functional_extra import (  # noqa: E402,F401  (re-exported)
    cosine_similarity, ctc_loss, normalize, one_hot, pairwise_distance)


# ------------------------------------------------------------------------------------------------ attention


def _safe_softmax(scores):
    """softmax over the last dim where rows with every score -inf (fully masked) give zeros, not NaN, and pass
    no NaN gradient back."""
    with no_grad():
        dead = (scores == float("-inf")).all(-1, keepdim=True)
    if not bool(dead.any()):
        return softmax(scores, -1)
    return softmax(scores.masked_fill(dead, 0.0), -1).masked_fill(dead, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q K^T * scale + mask) V over [..., L, E] queries and [..., S, E] keys.

    attn_mask: a bool mask (True = may attend) or a float mask added to the scores, broadcast to [..., L, S];
    is_causal: a lower-triangular mask (attn_mask must then be None); scale defaults to 1/sqrt(E); enable_gqa
    repeats key/value heads (dim -3) to match the query heads. Rows with nothing to attend to give zeros.
    """
    if _state.autocast and "scaled_dot_product_attention" in _state.autocast:
        return _autocast("scaled_dot_product_attention", scaled_dot_product_attention, query, key, value, attn_mask,
                         dropout_p, is_causal, scale, enable_gqa)
    check_tensor(query, "scaled_dot_product_attention", "query")
    L, S = query.shape[-2], key.shape[-2]
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError("scaled_dot_product_attention: query and key must have the same embedding size, got %d "
                           "and %d" % (query.shape[-1], key.shape[-1]))
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query.matmul(key.transpose(-2, -1)) * factor
    masked = False
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        from .._ops.creation import ones
        keep = ones(L, S, dtype=_C.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), float("-inf"))
        masked = True
    elif attn_mask is not None:
        if attn_mask.dtype is _C.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
        masked = True
    weights = _safe_softmax(scores) if masked else softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


def _canonical_mask(mask, dtype, name):
    """Bool masks (True = masked out) become additive float masks with -inf; float masks pass through."""
    if mask is None:
        return None
    if mask.dtype is _C.bool:
        from .._ops.creation import zeros
        return zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise AssertionError("only bool and floating types of %s are supported" % name)
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """The computation of nn.MultiheadAttention on sequence-first inputs: query [L, N, E] (or [L, E]), key and
    value [S, N, E_k/E_v]. Returns (output [L, N, E], attention weights [N, L, S] averaged over heads (or
    [N, heads, L, S]) when need_weights, else None). Masks use PyTorch's convention: True = not allowed."""
    batched = query.dim() == 3
    if not batched:
        if query.dim() != 2 or key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found %d-D "
                                 "and %d-D tensors respectively" % (key.dim(), value.dim()))
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError("was expecting embedding dimension of %d, but got %d" % (embed_dim_to_check, embed_dim))
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError("embed_dim %d not divisible by num_heads %d" % (embed_dim, num_heads))
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    dtype = query.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, dtype, "key_padding_mask")
    attn_mask = _canonical_mask(attn_mask, dtype, "attn_mask")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:
            # self-attention: one projection for q, k and v
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
            q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None, None, None)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, key.shape[0]):
                raise RuntimeError("The shape of the 2D attn_mask is %s, but should be %s."
                                   % (tuple(attn_mask.shape), (tgt_len, key.shape[0])))
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, key.shape[0]):
                raise RuntimeError("The shape of the 3D attn_mask is %s, but should be %s."
                                   % (tuple(attn_mask.shape), (bsz * num_heads, tgt_len, key.shape[0])))
        else:
            raise RuntimeError("attn_mask's dimension %d is not supported" % attn_mask.dim())

    from .._ops.shape import cat
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:
        from .._ops.creation import zeros
        k = cat([k, zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype)], 1)
        v = cat([v, zeros(bsz * num_heads, 1, head_dim, dtype=v.dtype)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError("expecting key_padding_mask shape of %s, but got %s"
                                 % ((bsz, src_len), tuple(key_padding_mask.shape)))
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len).reshape(
            bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = (q * (1.0 / math.sqrt(head_dim))).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights.matmul(v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        attn_mask = attn_mask.reshape(-1, num_heads, attn_mask.shape[-2], src_len) if attn_mask.shape[0] != 1 else \
            attn_mask.unsqueeze(0)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, False)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    return out, None


# ------------------------------------------------------------------------------------------------ losses

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce, emit_warning=True):
    """The deprecated size_average/reduce flags -> a reduction string."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use reduction='%s' instead." % ret,
                      stacklevel=3)
    return ret


def _reduction(size_average, reduce, reduction, allowed=_REDUCTIONS):
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise ValueError("%s is not a valid value for reduction" % reduction)
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn("Using a target size (%s) that is different to the input size (%s). This will likely lead to "
                      "incorrect results due to broadcasting. Please ensure they have the same size."
                      % (target.shape, input.shape), stacklevel=3)


def _weighted(loss, weight, input, reduction, mean_by_weight=True):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum() if mean_by_weight else loss.mean()
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum, or none) of |input - target|; with weight, the weighted sum divided by sum(weight)."""
    if _state.autocast and "l1_loss" in _state.autocast:
        return _autocast("l1_loss", l1_loss, input, target, size_average, reduce, reduction, weight)
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    loss = (input - target).abs()
    return _weighted(loss, weight, input, reduction) if weight is not None else _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean (or sum, or none) of (input - target)^2; with weight, the weighted sum divided by sum(weight)."""
    if _state.autocast and "mse_loss" in _state.autocast:
        return _autocast("mse_loss", mse_loss, input, target, size_average, reduce, reduction, weight)
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if weight is None and input.shape == target.shape and input.numel() > 0 and needs_grad(input, target):
        return MseLoss.apply(input, target, reduction)
    d = input - target
    loss = d * d
    return _weighted(loss, weight, input, reduction) if weight is not None else _reduce(loss, reduction)


class MseLoss(Function):
    """(input - target)^2 reduced, as one graph node (PyTorch's MseLossBackward0)."""

    @staticmethod
    def forward(input, target, reduction):
        d = input - target
        return _reduce(d * d, reduction)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], inputs[1])
        ctx.reduction = inputs[2]

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        scale = 2.0 / x.numel() if ctx.reduction == "mean" else 2.0
        gd = (x - t) * (g * scale)
        need = ctx.needs_input_grad
        return (gd if need[0] else None), (-gd if need[1] else None), None


class _BinaryCrossEntropy(Function):
    """Unreduced BCE. Its own backward, (x - t) / max(x (1 - x), 1e-12), stays finite at x = 0 or 1 where the
    gradient of the clamped logs would be 0/0."""

    @staticmethod
    def forward(x, t):
        log_x = _C.clamp(_C.log(x), -100.0, None)
        log_1mx = _C.clamp(_C.log(_C.sub(1.0, x)), -100.0, None)
        return _C.neg(_C.add(_C.mul(t, log_x), _C.mul(_C.sub(1.0, t), log_1mx)))

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - t) / (x * (1 - x)).clamp_min(1e-12)
        if ctx.needs_input_grad[1]:
            gt = g * ((1 - x).log().clamp_min(-100.0) - x.log().clamp_min(-100.0))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w * (t * log(x) + (1 - t) * log(1 - x)) for probabilities x in [0, 1]; each log is clamped at -100 so
    that x = 0 or 1 gives a finite loss, as in PyTorch."""
    if _state.autocast and "binary_cross_entropy" in _state.autocast:
        return _autocast("binary_cross_entropy", binary_cross_entropy, input, target, weight, size_average, reduce,
                         reduction)
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input, "binary_cross_entropy")
    if target.shape != input.shape:
        raise ValueError("Using a target size (%s) that is different to the input size (%s) is deprecated. Please "
                         "ensure they have the same size." % (target.shape, input.shape))
    if input.numel() and bool(((input < 0) | (input > 1)).any()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    target = target.to(input.dtype)
    loss = _BinaryCrossEntropy.apply(input, target) if needs_grad(input, target) else \
        _BinaryCrossEntropy.forward(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in one stable expression:
    (1 - t) * x + (1 + (pos_weight - 1) * t) * log(1 + exp(-x)); pos_weight scales the positive term (one value
    per class, broadcast over the last dim)."""
    if _state.autocast and "binary_cross_entropy_with_logits" in _state.autocast:
        return _autocast("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, input, target, weight,
                         size_average, reduce, reduction, pos_weight)
    reduction = _reduction(size_average, reduce, reduction)
    check_tensor(input, "binary_cross_entropy_with_logits")
    if target.shape != input.shape:
        raise ValueError("Target size (%s) must be the same as input size (%s)" % (target.shape, input.shape))
    # log(1 + exp(-x)) = softplus(-x) = -logsigmoid(x), stable for large |x|
    nls = -input.logsigmoid()
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * nls
    else:
        loss = (1 - target) * input + nls
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 * d^2 / beta where |d| < beta, |d| - 0.5 * beta elsewhere (d = input - target); beta=0 is L1."""
    if _state.autocast and "smooth_l1_loss" in _state.autocast:
        return _autocast("smooth_l1_loss", smooth_l1_loss, input, target, size_average, reduce, reduction, beta)
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = _pw.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 * d^2 where |d| < delta, delta * (|d| - 0.5 * delta) elsewhere (d = input - target)."""
    if _state.autocast and "huber_loss" in _state.autocast:
        return _autocast("huber_loss", huber_loss, input, target, reduction, delta, weight)
    _warn_size(input, target)
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = (input - target).abs()
    loss = _pw.where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    return _weighted(loss, weight, input, reduction, False) if weight is not None else _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log(target) - input) with input given as log-probabilities (and target as
    log-probabilities too when log_target). reduction='batchmean' divides the sum by the batch size, which is the
    mathematical KL divergence; 'mean' averages over every element."""
    if _state.autocast and "kl_div" in _state.autocast:
        return _autocast("kl_div", kl_div, input, target, size_average, reduce, reduction, log_target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError("%s is not a valid value for reduction" % reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)

