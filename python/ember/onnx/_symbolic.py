"""ONNX converters: one function per traced op, with the op's own signature (tensor arguments arrive as
_tracer.Value, everything else as given). Each appends nodes to the graph g and returns the name of each output
tensor. ``g.out`` holds the op's real output tensors (their dtype and static shape guide casts and reshapes)."""
import math

import numpy as np

from .. import _C
from ._tracer import Value, numpy_dtype as _np, onnx_dtype

CONVERTERS = {}
MODULES = {}  # nn.Module classes recorded as one op (filled in at the end)

_INT64_MAX = 2 ** 63 - 1


def conv(*names):
    def deco(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------------------------ helpers

def _out_dtype(g, i=0):
    return g.out[i].dtype


def _as(g, x, dtype):
    """x (a Value or a Python number) as a graph value of the given ember dtype."""
    if isinstance(x, Value):
        return x.name if x.dtype is dtype else g.op("Cast", [x], to=onnx_dtype(dtype))
    if isinstance(x, bool) or isinstance(x, (int, float)):
        return g.scalar(x, dtype)
    g.unsupported("argument of type %s" % type(x).__name__)


def _dim(d, n):
    return d + n if d < 0 else d


def _sizes(args):
    """view(2, 3) / view((2, 3)) / view(ember.Size) -> list of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return [int(a) for a in args]


def _reshape(g, x, target):
    """Reshape to the traced target shape, copying leading dims that keep their input size (ONNX's 0), so a
    dynamic batch axis stays dynamic."""
    out_shape = list(g.out[0].shape) if g.out else list(target)
    spec, prefix = [], True
    for i, t in enumerate(target):
        if prefix and i < x.dim() and i < len(out_shape) and out_shape[i] == x.shape[i]:
            spec.append(0)
        else:
            prefix = False
            spec.append(int(t))
    if -1 not in spec and spec.count(0) < len(spec) and 0 not in [s for s in out_shape]:
        # one dim left to infer keeps the reshape valid when a copied dim changes
        last = max(i for i, s in enumerate(spec) if s != 0)
        spec[last] = -1
    return g.op("Reshape", [x, g.ints(spec)])


def _unary(op_type):
    return lambda g, input, *args, **kwargs: g.op(op_type, [input])


for _name, _op in [("relu", "Relu"), ("sigmoid", "Sigmoid"), ("tanh", "Tanh"), ("exp", "Exp"), ("log", "Log"),
                   ("sqrt", "Sqrt"), ("abs", "Abs"), ("__abs__", "Abs"), ("neg", "Neg"), ("__neg__", "Neg"),
                   ("negative", "Neg"), ("reciprocal", "Reciprocal"), ("erf", "Erf"), ("sin", "Sin"),
                   ("cos", "Cos"), ("floor", "Floor"), ("ceil", "Ceil"), ("sign", "Sign"), ("softsign", "Softsign"),
                   ("logical_not", "Not"), ("bitwise_not", "Not"), ("__invert__", "Not")]:
    CONVERTERS[_name] = _unary(_op)


@conv("contiguous", "clone", "detach", "__pos__", "alias", "dropout", "dropout1d", "dropout2d", "dropout3d",
      "alpha_dropout", "feature_alpha_dropout")
def _identity(g, input, *args, **kwargs):
    if "dropout" in g.op_name:  # F.dropout(input, p=0.5, training=True, inplace=False)
        p = kwargs.get("p", args[0] if args else 0.5)
        training = kwargs.get("training", args[1] if len(args) > 1 else True)
        if training and p > 0:
            g.unsupported("dropout in training mode (export the model in eval mode)")
    return g.op("Identity", [input])


@conv("rsqrt")
def _rsqrt(g, input):
    return g.op("Reciprocal", [g.op("Sqrt", [input])])


@conv("square")
def _square(g, input):
    return g.op("Mul", [input, input])


# ------------------------------------------------------------------------------------------- activations

@conv("gelu")
def _gelu(g, input, approximate="none"):
    dt = input.dtype
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [g.op("Mul", [input, input]), input])
        inner = g.op("Mul", [g.op("Add", [input, g.op("Mul", [cube, g.scalar(0.044715, dt)])]),
                             g.scalar(math.sqrt(2 / math.pi), dt)])
        t = g.op("Tanh", [inner])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.op("Erf", [g.op("Mul", [input, g.scalar(1 / math.sqrt(2), dt)])])
    return g.op("Mul", [g.op("Mul", [input, g.scalar(0.5, dt)]), g.op("Add", [t, g.scalar(1.0, dt)])])


@conv("leaky_relu")
def _leaky_relu(g, input, negative_slope=0.01, inplace=False):
    return g.op("LeakyRelu", [input], alpha=float(negative_slope))


@conv("elu")
def _elu(g, input, alpha=1.0, inplace=False):
    return g.op("Elu", [input], alpha=float(alpha))


@conv("celu")
def _celu(g, input, alpha=1.0, inplace=False):
    if input.dtype is not _C.float32:
        g.unsupported("celu on %s (ONNX Celu is float32 only)" % input.dtype)
    return g.op("Celu", [input], alpha=float(alpha))


@conv("selu")
def _selu(g, input, inplace=False):
    return g.op("Selu", [input], alpha=1.6732632423543772, gamma=1.0507009873554805)


@conv("softplus")
def _softplus(g, input, beta=1.0, threshold=20.0):
    if beta == 1:
        return g.op("Softplus", [input])
    b = g.scalar(beta, input.dtype)
    return g.op("Div", [g.op("Softplus", [g.op("Mul", [input, b])]), b])


@conv("silu")
def _silu(g, input, inplace=False):
    return g.op("Mul", [input, g.op("Sigmoid", [input])])


@conv("mish")
def _mish(g, input, inplace=False):
    return g.op("Mul", [input, g.op("Tanh", [g.op("Softplus", [input])])])


@conv("hardtanh")
def _hardtanh(g, input, min_val=-1.0, max_val=1.0, inplace=False):
    return g.op("Clip", [input, g.scalar(min_val, input.dtype), g.scalar(max_val, input.dtype)])


@conv("relu6")
def _relu6(g, input, inplace=False):
    return _hardtanh(g, input, 0.0, 6.0)


@conv("clamp", "clip")
def _clamp(g, input, min=None, max=None):
    lo = None if min is None else _as(g, min, input.dtype)
    hi = None if max is None else _as(g, max, input.dtype)
    return g.op("Clip", [input, lo, hi])


@conv("hardsigmoid")
def _hardsigmoid(g, input, inplace=False):
    return g.op("HardSigmoid", [input], alpha=1.0 / 6, beta=0.5)


@conv("hardswish")
def _hardswish(g, input, inplace=False):
    return g.op("HardSwish", [input])


@conv("logsigmoid")
def _logsigmoid(g, input):
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [input])])])


@conv("prelu")
def _prelu(g, input, weight):
    w = weight.name
    if input.dim() > 2 and weight.shape[0] > 1:  # one slope per channel (dim 1)
        w = g.op("Reshape", [weight, g.ints([weight.shape[0]] + [1] * (input.dim() - 2))])
    return g.op("PRelu", [input, w])


def _softmax_dim(dim, ndim):
    if dim is None:  # PyTorch's legacy implicit choice
        return 0 if ndim in (0, 1, 3) else 1
    return dim


@conv("softmax", "log_softmax")
def _softmax(g, input, dim=None, _stacklevel=3, dtype=None):
    x = input.name if dtype is None else g.op("Cast", [input], to=onnx_dtype(dtype))
    op = "LogSoftmax" if g.op_name == "log_softmax" else "Softmax"
    return g.op(op, [x], axis=_softmax_dim(dim, input.dim()))


# ---------------------------------------------------------------------------------------- binary / math

def _binary(op_type, swap=False):
    def convert(g, input, other, *, alpha=1, rounding_mode=None, out=None):
        if rounding_mode is not None:
            g.unsupported("rounding_mode=%r" % rounding_mode)
        dt = _out_dtype(g)
        a, b = _as(g, input, dt), _as(g, other, dt)
        if alpha != 1:
            b = g.op("Mul", [b, g.scalar(alpha, dt)])
        return g.op(op_type, [b, a] if swap else [a, b])
    return convert


for _names, _op, _swap in [(("add", "__add__", "__iadd__", "__radd__"), "Add", False),
                           (("sub", "subtract", "__sub__", "__isub__"), "Sub", False),
                           (("__rsub__", "rsub"), "Sub", True),
                           (("mul", "multiply", "__mul__", "__imul__", "__rmul__"), "Mul", False),
                           (("div", "divide", "true_divide", "__truediv__", "__itruediv__"), "Div", False),
                           (("__rtruediv__",), "Div", True), (("pow", "__pow__", "__ipow__"), "Pow", False),
                           (("__rpow__",), "Pow", True), (("maximum",), "Max", False), (("minimum",), "Min", False),
                           (("logical_and", "__and__"), "And", False), (("logical_or", "__or__"), "Or", False)]:
    for _n in _names:
        CONVERTERS[_n] = _binary(_op, _swap)


def _compare(op_type):
    def convert(g, input, other):
        dt = input.dtype if isinstance(input, Value) else other.dtype
        if isinstance(other, Value) and isinstance(input, Value) and other.dtype is not dt:
            dt = _C.promote_types(input.dtype, other.dtype)
        return g.op(op_type, [_as(g, input, dt), _as(g, other, dt)])
    return convert


for _names, _op in [(("eq", "__eq__"), "Equal"), (("lt", "__lt__"), "Less"), (("gt", "__gt__"), "Greater"),
                    (("le", "__le__"), "LessOrEqual"), (("ge", "__ge__"), "GreaterOrEqual")]:
    for _n in _names:
        CONVERTERS[_n] = _compare(_op)


@conv("ne", "__ne__")
def _ne(g, input, other):
    return g.op("Not", [_compare("Equal")(g, input, other)])


@conv("matmul", "mm", "bmm", "__matmul__")
def _matmul(g, input, other, *, out=None):
    return g.op("MatMul", [input, other])


@conv("__rmatmul__")
def _rmatmul(g, input, other):
    return g.op("MatMul", [other, input])


@conv("where")
def _where(g, condition, input=None, other=None, *, out=None):
    if input is None:
        g.unsupported("where(condition) with one argument (data-dependent shape)")
    dt = _out_dtype(g)
    return g.op("Where", [_as(g, condition, _C.bool), _as(g, input, dt), _as(g, other, dt)])


@conv("masked_fill")
def _masked_fill(g, input, mask, value):
    return g.op("Where", [_as(g, mask, _C.bool), _as(g, value, input.dtype), input])


# ---------------------------------------------------------------------------------------------- layers

@conv("linear")
def _linear(g, input, weight, bias=None):
    if input.dim() == 2:
        return g.op("Gemm", [input, weight, bias], transB=1)
    y = g.op("MatMul", [input, g.op("Transpose", [weight], perm=[1, 0])])
    return y if bias is None else g.op("Add", [y, bias])


def _tuple(v, n):
    return [int(x) for x in v] if isinstance(v, (tuple, list)) else [int(v)] * n


@conv("conv1d", "conv2d", "conv3d")
def _conv(g, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    n = weight.dim() - 2
    attrs = dict(strides=_tuple(stride, n), dilations=_tuple(dilation, n), group=int(groups),
                 kernel_shape=list(weight.shape[2:]))
    if padding == "same":
        if any(s != 1 for s in attrs["strides"]):
            g.unsupported("padding='same' with stride > 1")
        pads = []
        for k, d in zip(weight.shape[2:], attrs["dilations"]):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        attrs["pads"] = [p[0] for p in pads] + [p[1] for p in pads]
    elif padding == "valid":
        attrs["pads"] = [0] * (2 * n)
    else:
        attrs["pads"] = _tuple(padding, n) * 2
    return g.op("Conv", [input, weight, bias], **attrs)


@conv("conv_transpose1d", "conv_transpose2d")
def _conv_transpose(g, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    n = weight.dim() - 2
    return g.op("ConvTranspose", [input, weight, bias], strides=_tuple(stride, n), pads=_tuple(padding, n) * 2,
                output_padding=_tuple(output_padding, n), dilations=_tuple(dilation, n), group=int(groups),
                kernel_shape=list(weight.shape[2:]))


def _pool_attrs(g, input, n, kernel_size, stride, padding, ceil_mode):
    k = _tuple(kernel_size, n)
    s = k if stride is None or stride == [] or stride == () else _tuple(stride, n)
    return dict(kernel_shape=k, strides=s, pads=_tuple(padding, n) * 2, ceil_mode=int(bool(ceil_mode)))


def _spatial(name):
    return 1 if name.endswith("1d") else 3 if name.endswith("3d") else 2


@conv("max_pool1d", "max_pool2d", "max_pool3d")
def _max_pool(g, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    if return_indices:
        g.unsupported("return_indices=True")
    n = _spatial(g.op_name)
    return g.op("MaxPool", [input], dilations=_tuple(dilation, n),
                **_pool_attrs(g, input, n, kernel_size, stride, padding, ceil_mode))


@conv("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(g, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    if divisor_override is not None:
        g.unsupported("divisor_override")
    n = _spatial(g.op_name)
    attrs = _pool_attrs(g, input, n, kernel_size, stride, padding, ceil_mode)
    if ceil_mode and any(attrs["pads"]):
        g.unsupported("ceil_mode=True with padding (ONNX and PyTorch count the last window differently)")
    return g.op("AveragePool", [input], count_include_pad=int(bool(count_include_pad)), **attrs)


@conv("adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d")
def _adaptive_pool(g, input, output_size, return_indices=False):
    n = _spatial(g.op_name)
    is_max = "max" in g.op_name
    if return_indices:
        g.unsupported("return_indices=True")
    in_sizes = list(input.shape[-n:])
    out_sizes = [i if o is None else int(o) for o, i in zip(_tuple_opt(output_size, n), in_sizes)]
    if all(o == 1 for o in out_sizes):
        return g.op("GlobalMaxPool" if is_max else "GlobalAveragePool", [input])
    if any(i % o for i, o in zip(in_sizes, out_sizes)):
        g.unsupported("output_size %s that does not divide the input size %s" % (out_sizes, in_sizes))
    k = [i // o for i, o in zip(in_sizes, out_sizes)]
    return g.op("MaxPool" if is_max else "AveragePool", [input], kernel_shape=k, strides=k)


def _tuple_opt(v, n):
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


@conv("batch_norm")
def _batch_norm(g, input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                eps=1e-5):
    if training or running_mean is None:
        g.unsupported("batch statistics (training mode or no running statistics); export in eval mode")
    c = input.shape[1]
    dt = input.dtype
    scale = weight if weight is not None else g.const(np.ones(c, _np(dt)))
    shift = bias if bias is not None else g.const(np.zeros(c, _np(dt)))
    return g.op("BatchNormalization", [input, scale, shift, running_mean, running_var], epsilon=float(eps))


@conv("layer_norm")
def _layer_norm(g, input, normalized_shape, weight=None, bias=None, eps=1e-5):
    k = len(_sizes([normalized_shape]) if not isinstance(normalized_shape, int) else [normalized_shape])
    shape = input.shape[-k:]
    scale = weight if weight is not None else g.const(np.ones(shape, _np(input.dtype)))
    return g.op("LayerNormalization", [input, scale, bias], axis=-k, epsilon=float(eps))


@conv("group_norm")
def _group_norm(g, input, num_groups, weight=None, bias=None, eps=1e-5):
    # normalise [N, G, rest] per group (InstanceNormalization over the flattened group), then the affine per
    # channel; the batch dim stays dynamic
    n, c = input.dim(), input.shape[1]
    dt = _np(input.dtype)
    x = g.op("Reshape", [input, g.ints([0, num_groups, -1])])
    x = g.op("InstanceNormalization", [x, g.const(np.ones(num_groups, dt)), g.const(np.zeros(num_groups, dt))],
             epsilon=float(eps))
    x = g.op("Reshape", [x, g.op("Shape", [input])])
    per_channel = g.ints([c] + [1] * (n - 2))
    if weight is not None:
        x = g.op("Mul", [x, g.op("Reshape", [weight, per_channel])])
    if bias is not None:
        x = g.op("Add", [x, g.op("Reshape", [bias, per_channel])])
    return x


@conv("embedding")
def _embedding(g, input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
               sparse=False):
    if max_norm is not None:
        g.unsupported("max_norm (it renormalises the weight in place)")
    return g.op("Gather", [weight, _as(g, input, _C.int64)], axis=0)


@conv("interpolate", "upsample")
def _interpolate(g, input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None, antialias=False):
    if antialias or mode not in ("nearest", "linear", "bilinear", "bicubic"):
        g.unsupported("mode=%r%s" % (mode, " with antialias" if antialias else ""))
    in_sp, out_sp = input.shape[2:], g.out[0].shape[2:]
    if scale_factor is not None and not recompute_scale_factor:
        sf = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * len(in_sp)
    else:
        sf = [o / i for o, i in zip(out_sp, in_sp)]
    # scales keep N (and a dynamic batch) free; PyTorch's sizes are floor(in * scale), as ONNX's
    scales = g.const(np.asarray([1.0, 1.0] + [float(f) for f in sf], np.float32))
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs = dict(mode="cubic" if mode == "bicubic" else "linear",
                     coordinate_transformation_mode="align_corners" if align_corners else "pytorch_half_pixel")
        if mode == "bicubic":
            attrs["cubic_coeff_a"] = -0.75
    return g.op("Resize", [input, None, scales], **attrs)


@conv("pixel_shuffle")
def _pixel_shuffle(g, input, upscale_factor):
    return g.op("DepthToSpace", [input], blocksize=int(upscale_factor), mode="CRD")


@conv("pixel_unshuffle")
def _pixel_unshuffle(g, input, downscale_factor):
    r, (n, c, h, w) = int(downscale_factor), input.shape
    x = g.op("Reshape", [input, g.ints([0, c, h // r, r, w // r, r])])
    x = g.op("Transpose", [x], perm=[0, 1, 3, 5, 2, 4])
    return g.op("Reshape", [x, g.ints([0, c * r * r, h // r, w // r])])


@conv("pad")
def _pad(g, input, pad, mode="constant", value=None):
    n = input.dim()
    begins, ends = [0] * n, [0] * n
    for i in range(len(pad) // 2):  # pad lists (left, right) pairs from the last dim backwards
        begins[n - 1 - i], ends[n - 1 - i] = int(pad[2 * i]), int(pad[2 * i + 1])
    modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    if mode not in modes or (mode == "circular" and g.opset < 19):
        g.unsupported("mode=%r" % mode)
    v = g.scalar(0 if value is None else value, input.dtype) if mode == "constant" else None
    return g.op("Pad", [input, g.ints(begins + ends), v], mode=modes[mode])


# ------------------------------------------------------------------------------------------ shape ops

@conv("view", "reshape")
def _view(g, input, *shape):
    return _reshape(g, input, _sizes(shape))


@conv("view_as", "reshape_as")
def _view_as(g, input, other):
    return _reshape(g, input, other.shape)


@conv("flatten")
def _flatten(g, input, start_dim=0, end_dim=-1):
    n = input.dim()
    if n == 0:
        return _reshape(g, input, [1])
    s, e = _dim(start_dim, n), _dim(end_dim, n)
    return _reshape(g, input, list(input.shape[:s]) + [-1] + list(input.shape[e + 1:]))


@conv("unflatten")
def _unflatten(g, input, dim, sizes):
    d = _dim(dim, input.dim())
    return _reshape(g, input, list(input.shape[:d]) + list(g.out[0].shape[d:d + len(sizes)]) +
                    list(input.shape[d + 1:]))


@conv("unsqueeze")
def _unsqueeze(g, input, dim):
    return g.op("Unsqueeze", [input, g.ints([_dim(dim, input.dim() + 1)])])


@conv("squeeze")
def _squeeze(g, input, dim=None):
    if dim is None:
        axes = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        axes = [_dim(d, input.dim()) for d in dims if input.shape[_dim(d, input.dim())] == 1]
    return g.op("Squeeze", [input, g.ints(axes)]) if axes else g.op("Identity", [input])


@conv("transpose", "swapaxes", "swapdims")
def _transpose(g, input, dim0, dim1):
    perm = list(range(input.dim()))
    a, b = _dim(dim0, input.dim()), _dim(dim1, input.dim())
    perm[a], perm[b] = perm[b], perm[a]
    return g.op("Transpose", [input], perm=perm)


@conv("t")
def _t(g, input):
    return g.op("Transpose", [input], perm=[1, 0]) if input.dim() == 2 else g.op("Identity", [input])


@conv("T")
def _T(g, input):
    return g.op("Transpose", [input], perm=list(range(input.dim()))[::-1])


@conv("mT")
def _mT(g, input):
    perm = list(range(input.dim()))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return g.op("Transpose", [input], perm=perm)


@conv("permute")
def _permute(g, input, *dims):
    return g.op("Transpose", [input], perm=[_dim(d, input.dim()) for d in _sizes(dims)])


@conv("expand")
def _expand(g, input, *sizes):
    # 1 where the input already has the size: Expand broadcasts, so those dims (a dynamic batch) stay dynamic
    out, lead = g.out[0].shape, g.out[0].dim() - input.dim()
    spec = [1 if i >= lead and input.shape[i - lead] == s else s for i, s in enumerate(out)]
    return g.op("Expand", [input, g.ints(spec)])


@conv("expand_as")
def _expand_as(g, input, other):
    return g.op("Expand", [input, g.op("Shape", [other])])


@conv("repeat")
def _repeat(g, input, *sizes):
    reps = _sizes(sizes)
    x = input.name
    if len(reps) > input.dim():
        x = g.op("Reshape", [input, g.ints([1] * (len(reps) - input.dim()) + list(input.shape))])
    return g.op("Tile", [x, g.ints(reps)])


@conv("cat", "concat", "concatenate")
def _cat(g, tensors, dim=0, *, out=None):
    vals = [t for t in tensors if not (isinstance(t, Value) and t.shape == (0,))]  # PyTorch skips empty 1-d
    dt = _out_dtype(g)
    return g.op("Concat", [_as(g, t, dt) for t in vals], axis=_dim(dim, g.out[0].dim()))


@conv("stack")
def _stack(g, tensors, dim=0, *, out=None):
    d = _dim(dim, g.out[0].dim())
    dt = _out_dtype(g)
    return g.op("Concat", [g.op("Unsqueeze", [_as(g, t, dt), g.ints([d])]) for t in tensors], axis=d)


@conv("split", "chunk", "tensor_split", "unbind")
def _split(g, input, split_size_or_sections=None, dim=0):
    if g.op_name == "unbind":
        dim = split_size_or_sections or 0
    d = _dim(dim, input.dim())
    sizes = [t.shape[d] for t in g.out]
    parts = g.op("Split", [input, g.ints(sizes)], outputs=len(sizes), axis=d)
    parts = [parts] if isinstance(parts, str) else parts
    if g.op_name == "unbind":
        parts = [g.op("Squeeze", [p, g.ints([d])]) for p in parts]
    return parts


@conv("narrow")
def _narrow(g, input, dim, start, length):
    d = _dim(dim, input.dim())
    s = _dim(int(start), input.shape[d])
    return g.op("Slice", [input, g.ints([s]), g.ints([s + int(length)]), g.ints([d])])


@conv("select")
def _select(g, input, dim, index):
    d = _dim(dim, input.dim())
    return g.op("Gather", [input, g.const(np.asarray(_dim(int(index), input.shape[d]), np.int64))], axis=d)


@conv("__getitem__")
def _getitem(g, input, index):
    items = list(index) if isinstance(index, tuple) else [index]
    if any(isinstance(i, Value) and i.dtype is _C.bool for i in items):
        g.unsupported("boolean-mask indexing (data-dependent shape)")
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (input.dim() - n_real)
    items += [slice(None)] * (input.dim() - sum(1 for i in items if i is not None))
    x = input.name
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    gathers = []
    d = out_pos = 0
    for item in items:
        if item is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        size = input.shape[d]
        if isinstance(item, slice):
            start, stop, step = item.start, item.stop, item.step or 1
            if step < 0:
                g.unsupported("negative slice steps")
            if (start, stop, step) != (None, None, 1):
                starts.append(0 if start is None else int(start))
                ends.append(_INT64_MAX if stop is None else int(stop))
                axes.append(d)
                steps.append(step)
            out_pos += 1
        elif isinstance(item, (Value, list)):
            gathers.append((d, item))
            out_pos += 1
        else:
            i = _dim(int(item), size)
            starts.append(i)
            ends.append(i + 1)
            axes.append(d)
            steps.append(1)
            squeeze.append(d)
        d += 1
    if len(gathers) > 1:
        g.unsupported("advanced indexing with more than one index tensor")
    if starts:
        x = g.op("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for gd, idx in gathers:  # a single index tensor keeps its place (its dims replace dim gd)
        if isinstance(idx, list):
            idx = g.const(np.asarray(idx, np.int64))
        elif idx.dim() != 1:
            g.unsupported("index tensors that are not 1-D")
        else:
            idx = _as(g, idx, _C.int64)
        x = g.op("Gather", [x, idx], axis=gd)
    if squeeze:
        x = g.op("Squeeze", [x, g.ints(squeeze)])
    if unsqueeze:
        x = g.op("Unsqueeze", [x, g.ints(unsqueeze)])
    return x if x != input.name else g.op("Identity", [x])


# ------------------------------------------------------------------------------------------- dtype ops

def _cast_to(g, input, dtype):
    return g.op("Identity", [input]) if dtype is input.dtype else g.op("Cast", [input], to=onnx_dtype(dtype))


@conv("to", "type", "type_as", "float", "double", "half", "bfloat16", "long", "int", "bool", "byte")
def _to(g, input, *args, **kwargs):
    return _cast_to(g, input, _out_dtype(g))


@conv("zeros_like", "ones_like", "full_like")
def _fill_like(g, input, *args, **kwargs):
    out = g.out[0]
    value = {"zeros_like": 0, "ones_like": 1}.get(g.op_name)
    if value is None:
        value = kwargs.get("fill_value", args[0] if args else None)
    t = g.onnx.numpy_helper.from_array(np.asarray([value], dtype=_np(out.dtype)))
    y = g.op("ConstantOfShape", [g.op("Shape", [input])], value=t)
    return g.op("Cast", [y], to=16) if out.dtype is _C.bfloat16 else y


# ------------------------------------------------------------------------------------------ reductions

def _reduce_dims(dim, n):
    if dim is None:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else [dim]
    return [_dim(int(d), n) for d in dims]


def _reduction(op_type):
    def convert(g, input, dim=None, keepdim=False, *, dtype=None, out=None):
        x = input.name if dtype is None else g.op("Cast", [input], to=onnx_dtype(dtype))
        if input.dtype is _C.bool or (op_type == "ReduceSum" and not input.dtype.is_floating_point):
            x = g.op("Cast", [x], to=onnx_dtype(_out_dtype(g)))
        return g.reduce(op_type, x, _reduce_dims(dim, input.dim()), keepdim)
    return convert


CONVERTERS["sum"] = _reduction("ReduceSum")
CONVERTERS["mean"] = _reduction("ReduceMean")
CONVERTERS["amax"] = _reduction("ReduceMax")
CONVERTERS["amin"] = _reduction("ReduceMin")
CONVERTERS["prod"] = _reduction("ReduceProd")


@conv("max", "min")
def _max(g, input, dim=None, keepdim=False, *, out=None):
    op = "ReduceMax" if g.op_name == "max" else "ReduceMin"
    if isinstance(dim, Value):  # max(a, b): elementwise
        return g.op("Max" if g.op_name == "max" else "Min", [input, dim])
    if dim is None:
        return g.reduce(op, input, None, False)
    d = _dim(dim, input.dim())
    arg = "ArgMax" if g.op_name == "max" else "ArgMin"
    return [g.reduce(op, input, [d], keepdim), g.op(arg, [input], axis=d, keepdims=int(keepdim))]


@conv("argmax", "argmin")
def _argmax(g, input, dim=None, keepdim=False):
    op = "ArgMax" if g.op_name == "argmax" else "ArgMin"
    if dim is None:
        return g.op(op, [g.op("Reshape", [input, g.ints([-1])])], axis=0, keepdims=0)
    return g.op(op, [input], axis=_dim(dim, input.dim()), keepdims=int(keepdim))


# ------------------------------------------------------------------------------------------- attention

def _neg_inf_mask(g, mask, dtype, keep_true):
    """A bool mask as additive -inf/0 (True means masked out, or kept when keep_true); float masks add."""
    if mask.dtype is not _C.bool:
        return _as(g, mask, dtype)
    m = g.op("Not", [mask]) if keep_true else mask.name
    return g.op("Where", [m, g.scalar(float("-inf"), dtype), g.scalar(0.0, dtype)])


def _causal(g, L, S, dtype):
    return g.const(np.triu(np.full((L, S), -np.inf, _np(dtype)), 1))


@conv("scaled_dot_product_attention")
def _sdpa(g, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    if enable_gqa and query.shape[-3:-2] != key.shape[-3:-2]:
        g.unsupported("enable_gqa with fewer key heads than query heads")
    dt = query.dtype
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    s = 1 / math.sqrt(E) if scale is None else scale
    perm = list(range(key.dim()))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    scores = g.op("Mul", [g.op("MatMul", [query, g.op("Transpose", [key], perm=perm)]), g.scalar(s, dt)])
    if is_causal:
        scores = g.op("Add", [scores, _causal(g, L, S, dt)])
    if attn_mask is not None:
        scores = g.op("Add", [scores, _neg_inf_mask(g, attn_mask, dt, keep_true=True)])
    return g.op("MatMul", [g.op("Softmax", [scores], axis=-1), value])


@conv("multi_head_attention_forward")
def _mha(g, query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
         add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=True, key_padding_mask=None,
         need_weights=True, attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
         v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True, is_causal=False):
    if bias_k is not None or bias_v is not None or add_zero_attn or static_k is not None or static_v is not None:
        g.unsupported("bias_k/bias_v/add_zero_attn/static_k/static_v")
    if training and dropout_p > 0:
        g.unsupported("attention dropout in training mode (export the model in eval mode)")
    dt = query.dtype
    batched = query.dim() == 3
    q_in, k_in, v_in = query.name, key.name, value.name
    if not batched:
        q_in, k_in, v_in = (g.op("Unsqueeze", [x, g.ints([1])]) for x in (q_in, k_in, v_in))
    L, S = query.shape[0], key.shape[0]
    E = embed_dim_to_check
    h, d = num_heads, embed_dim_to_check // num_heads

    def proj(x, i, w_sep):
        if use_separate_proj_weight:
            w = w_sep.name
        else:
            w = g.op("Slice", [in_proj_weight, g.ints([i * E]), g.ints([(i + 1) * E]), g.ints([0])])
        y = g.op("MatMul", [x, g.op("Transpose", [w], perm=[1, 0])])
        if in_proj_bias is not None:
            y = g.op("Add", [y, g.op("Slice", [in_proj_bias, g.ints([i * E]), g.ints([(i + 1) * E]), g.ints([0])])])
        # [len, N, E] -> [N * h, len, d]
        return g.op("Transpose", [g.op("Reshape", [y, g.ints([0, -1, d])])], perm=[1, 0, 2])
    q = proj(q_in, 0, q_proj_weight)
    k = proj(k_in, 1, k_proj_weight)
    v = proj(v_in, 2, v_proj_weight)
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 2, 1])]), g.scalar(1 / math.sqrt(d), dt)])
    scores = g.op("Reshape", [scores, g.ints([-1, h, L, S])])  # [N, h, L, S]
    if attn_mask is not None:
        m = _neg_inf_mask(g, attn_mask, dt, keep_true=False)
        if attn_mask.dim() == 3:
            m = g.op("Reshape", [m, g.ints([-1, h, L, S])])
        scores = g.op("Add", [scores, m])
    elif is_causal:
        scores = g.op("Add", [scores, _causal(g, L, S, dt)])
    if key_padding_mask is not None:  # [N, S] (or [S] unbatched), True = ignore that key
        m = _neg_inf_mask(g, key_padding_mask, dt, keep_true=False)
        if not batched:
            m = g.op("Unsqueeze", [m, g.ints([0])])
        scores = g.op("Add", [scores, g.op("Unsqueeze", [m, g.ints([1, 2])])])
    attn = g.op("Softmax", [scores], axis=-1)
    ctx = g.op("MatMul", [g.op("Reshape", [attn, g.ints([-1, L, S])]), v])        # [N * h, L, d]
    ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[1, 0, 2]), g.ints([0, -1, E])])  # [L, N, E]
    out = g.op("Add", [g.op("MatMul", [ctx, g.op("Transpose", [out_proj_weight], perm=[1, 0])]), out_proj_bias]) \
        if out_proj_bias is not None else g.op("MatMul", [ctx, g.op("Transpose", [out_proj_weight], perm=[1, 0])])
    if not batched:
        out = g.op("Squeeze", [out, g.ints([1])])
    outs = [out]
    if need_weights:
        w = g.reduce("ReduceMean", attn, [1], False) if average_attn_weights else attn
        if not batched:
            w = g.op("Squeeze", [w, g.ints([0])])
        outs.append(w)
    return outs


# --------------------------------------------------------------------------------------- recurrent layers

_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}  # PyTorch -> ONNX


def _rnn_module(g, module, input, hx=None):
    from ..nn.utils.rnn import PackedSequence
    if isinstance(input, PackedSequence):
        g.unsupported("PackedSequence input")
    mode = module.mode
    if getattr(module, "proj_size", 0):
        g.unsupported("LSTM with proj_size")
    if module.training and module.dropout > 0 and module.num_layers > 1:
        g.unsupported("dropout between layers in training mode")
    kind = "LSTM" if mode == "LSTM" else "GRU" if mode == "GRU" else mode
    gates = len(_GATE_ORDER[kind])
    H, D = module.hidden_size, 2 if module.bidirectional else 1
    dt = input.dtype
    batched = input.dim() == 3
    x = input.name
    if not batched:
        x = g.op("Unsqueeze", [x, g.ints([1])])
    elif module.batch_first:
        x = g.op("Transpose", [x], perm=[1, 0, 2])
    h0 = c0 = None
    if hx is not None:
        h0, c0 = (hx if isinstance(hx, (tuple, list)) else (hx, None)) if kind == "LSTM" else (hx, None)
        if not batched:
            h0 = g.op("Unsqueeze", [h0, g.ints([1])])
            c0 = g.op("Unsqueeze", [c0, g.ints([1])]) if c0 is not None else None

    def stacked(layer):
        ws, rs, bs = [], [], []
        for direction in range(D):
            w_ih, w_hh, b_ih, b_hh, _ = module._weights(layer, direction)
            order = _GATE_ORDER[kind]

            def reorder(t):
                a = t.detach().float().numpy() if t.dtype is _C.bfloat16 else t.detach().numpy()
                return np.concatenate([a[i * H:(i + 1) * H] for i in order], axis=0)
            ws.append(reorder(w_ih))
            rs.append(reorder(w_hh))
            zero = np.zeros(gates * H, ws[-1].dtype)
            bs.append(np.concatenate([reorder(b_ih) if b_ih is not None else zero,
                                      reorder(b_hh) if b_hh is not None else zero]))
        prefix = "%s.l%d" % (g.fresh("rnn"), layer)
        return (g.const(np.stack(ws), prefix + ".W"), g.const(np.stack(rs), prefix + ".R"),
                g.const(np.stack(bs), prefix + ".B"))

    def layer_state(state, layer):
        if state is None:
            return None
        return g.op("Slice", [state, g.ints([layer * D]), g.ints([(layer + 1) * D]), g.ints([0])])

    hs, cs = [], []
    for layer in range(module.num_layers):
        W, R, B = stacked(layer)
        attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
        ins = [x, W, R, B, None, layer_state(h0, layer)]
        if kind == "LSTM":
            ins.append(layer_state(c0, layer))
            y, y_h, y_c = g.op("LSTM", ins, outputs=3, **attrs)
            cs.append(y_c)
        elif kind == "GRU":
            y, y_h = g.op("GRU", ins, outputs=2, linear_before_reset=1, **attrs)
        else:
            y, y_h = g.op("RNN", ins, outputs=2, activations=["Relu" if kind == "RNN_RELU" else "Tanh"] * D,
                          **attrs)
        hs.append(y_h)
        # Y [seq, D, batch, H] -> [seq, batch, D * H]
        x = g.op("Reshape", [g.op("Transpose", [y], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
    out = x
    if not batched:
        out = g.op("Squeeze", [out, g.ints([1])])
    elif module.batch_first:
        out = g.op("Transpose", [out], perm=[1, 0, 2])

    def finish(states):
        s = states[0] if len(states) == 1 else g.op("Concat", states, axis=0)
        return g.op("Squeeze", [s, g.ints([1])]) if not batched else s
    if dt is not _C.float32 and dt is not _C.float64:
        g.unsupported("recurrent layers in %s" % dt)
    return [out, finish(hs)] + ([finish(cs)] if kind == "LSTM" else [])


def _register_modules():
    from ..nn import GRU, LSTM, RNN
    for cls in (LSTM, GRU, RNN):
        MODULES[cls] = True
        CONVERTERS[cls.__name__] = _rnn_module


_register_modules()
