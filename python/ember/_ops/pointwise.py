"""Pointwise ops: one Function per differentiable op (forward = the C kernel, backward in Ember ops so it
is itself differentiable), plus the public functions, Tensor methods, in-place variants and operators.

Backward formulas may return gradients in the broadcast shape: the engine sums them down to each input's
shape and casts them to its dtype.
"""
import math
import numbers

import numpy as np

from .. import _C, _device as _dev
from .._layout import CHANNELS_LAST as _CHANNELS_LAST, format_strides as _format_strides, preserved_strides
from .._tensor import Tensor
from .. import _sparse
from .._sparse import SparseCooTensor
from ..autograd.function import Function, _record
from ..autograd.grad_mode import _state
from ._util import check_tensor, export, is_number, method, needs_grad, write_out
from ..amp.autocast_mode import _dispatch as _autocast, POLICY as _AMP_POLICY

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _amp_listed(name):
    """Whether some autocast list names this op: only then do its generated functions check the region flag."""
    return any(name in table for table in _AMP_POLICY.values())


def _fused(name, composite):
    """The fused C kernel `name(a, b)` when no graph is being built, else the differentiable composite."""
    cop = getattr(_C, name)

    def f(a, b):
        if _state.enabled and (a._requires_grad or b._requires_grad):
            return composite(a, b)
        return cop(a, b)
    return f


def _zeros_like(g):
    return _C.zeros_meta((g._shape, g.dtype, g._device))


# ---------------------------------------------------------------------------------------- inplace support


class _CopyInto(Function):
    """dst.copy_(src) under autograd: dst takes src's values; the old value of dst gets no gradient."""

    @staticmethod
    def forward(ctx, dst, src):
        _C.copy_(dst, src)
        ctx.mark_dirty(dst)
        return dst

    @staticmethod
    def backward(ctx, grad):
        return None, grad


class _Fill(Function):
    @staticmethod
    def forward(ctx, dst, value):
        _C.fill_(dst, value)
        ctx.mark_dirty(dst)
        return dst

    @staticmethod
    def backward(ctx, grad):
        return None, (grad.sum() if ctx.needs_input_grad[1] else None)


def _check_leaf_inplace(t):
    """Raises before any data is written, like PyTorch, for in-place ops on (views of) leaves needing grad."""
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = t._base
    if base is not None and base._grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


def inplace_via(self, compute):
    """In-place op under autograd: compute(old_self) out of place on a clone of self, then copy the result
    back into self (so saved copies of the old value stay valid). The node is named after the op."""
    _check_leaf_inplace(self)
    result = compute(self.clone() if self._requires_grad else self)
    out = _CopyInto.apply(self, result)
    inner = result._grad_fn
    if inner is not None and out._grad_fn is not None:
        out._grad_fn.__dict__["_display"] = inner.name()
    return out


# ---------------------------------------------------------------------------------------- unary ops

# name -> (saved: "in" | "out" | "none", backward(g, x, out))
_UNARY = {
    "neg": ("none", lambda g, x, o: -g),
    "abs": ("in", lambda g, x, o: g * sign(x)),
    "sign": ("none", lambda g, x, o: _zeros_like(g)),
    "relu": ("out", lambda g, x, o: _relu_bw(g, o)),
    "square": ("in", lambda g, x, o: g * (x * 2)),
    "floor": ("none", lambda g, x, o: _zeros_like(g)),
    "ceil": ("none", lambda g, x, o: _zeros_like(g)),
    "round": ("none", lambda g, x, o: _zeros_like(g)),
    "trunc": ("none", lambda g, x, o: _zeros_like(g)),
    "exp": ("out", lambda g, x, o: g * o if _state.enabled else _C.mul(g, o)),
    "exp2": ("out", lambda g, x, o: g * o * _LN2),
    "log": ("in", lambda g, x, o: g / x),
    "log2": ("in", lambda g, x, o: g / (x * _LN2)),
    "log10": ("in", lambda g, x, o: g / (x * _LN10)),
    "log1p": ("in", lambda g, x, o: g / (x + 1)),
    "expm1": ("out", lambda g, x, o: g * (o + 1)),
    "sqrt": ("out", lambda g, x, o: g / (o * 2)),
    "rsqrt": ("out", lambda g, x, o: g * (o * o * o) * -0.5),
    "reciprocal": ("out", lambda g, x, o: -g * o * o),
    "sin": ("in", lambda g, x, o: g * cos(x)),
    "cos": ("in", lambda g, x, o: -g * sin(x)),
    "tan": ("out", lambda g, x, o: g * (o * o + 1)),
    "asin": ("in", lambda g, x, o: g * rsqrt(1 - x * x)),
    "acos": ("in", lambda g, x, o: -g * rsqrt(1 - x * x)),
    "atan": ("in", lambda g, x, o: g / (x * x + 1)),
    "sinh": ("in", lambda g, x, o: g * cosh(x)),
    "cosh": ("in", lambda g, x, o: g * sinh(x)),
    "tanh": ("out", lambda g, x, o: _tanh_bw(g, o)),
    "asinh": ("in", lambda g, x, o: g * rsqrt(x * x + 1)),
    "acosh": ("in", lambda g, x, o: g * rsqrt(x * x - 1)),
    "atanh": ("in", lambda g, x, o: g / (1 - x * x)),
    "sigmoid": ("out", lambda g, x, o: _sigmoid_bw(g, o)),
    "logsigmoid": ("in", lambda g, x, o: g * sigmoid(-x)),
    "silu": ("in", lambda g, x, o: _silu_bw(g, x)),
    "gelu": ("in", lambda g, x, o: _gelu_bw(g, x)),
    "gelu_tanh": ("in", lambda g, x, o: g * _gelu_tanh_grad(x)),
    "erf": ("in", lambda g, x, o: g * exp(-(x * x)) * _TWO_OVER_SQRT_PI),
    "erfc": ("in", lambda g, x, o: g * exp(-(x * x)) * -_TWO_OVER_SQRT_PI),
    "softplus": ("in", lambda g, x, o: g * sigmoid(x) * (x <= 20) + g * (x > 20)),
    "mish": ("in", lambda g, x, o: g * _mish_grad(x)),
    "lgamma": ("in", lambda g, x, o: g * digamma(x)),
    "digamma": ("in", lambda g, x, o: _no_derivative("digamma")),
}


def _no_derivative(name):
    raise NotImplementedError("the derivative for '%s' is not implemented." % name)


def _gelu_tanh_grad(x):
    k = 0.7978845608028654
    inner = (x + x * x * x * 0.044715) * k
    t = tanh(inner)
    return (t + 1) * 0.5 + x * 0.5 * (1 - t * t) * k * (x * x * 0.134145 + 1)


def _mish_grad(x):
    sp = softplus(x)
    t = tanh(sp)
    return t + x * sigmoid(x) * (1 - t * t)


_relu_bw = _fused("relu_backward", lambda g, o: g * (o > 0))
_tanh_bw = _fused("tanh_backward", lambda g, o: g * (1 - o * o))
_sigmoid_bw = _fused("sigmoid_backward", lambda g, o: g * o * (1 - o))


def _silu_grad(x):
    s = sigmoid(x)
    return s * (x * (1 - s) + 1)


def _gelu_grad(x):
    cdf = (erf(x * 0.7071067811865476) + 1) * 0.5
    pdf = exp(x * x * -0.5) * 0.3989422804014327
    return cdf + x * pdf


_silu_bw = _fused("silu_backward", lambda g, x: g * _silu_grad(x))
_gelu_bw = _fused("gelu_backward", lambda g, x: g * _gelu_grad(x))


def _make_unary_function(name, saved, formula):
    cop = getattr(_C, name)
    if saved == "out":
        def setup_context(ctx, inputs, out):
            ctx.save_for_backward(out)

        def backward(ctx, g):
            o, = ctx.saved_tensors
            return formula(g, None, o)
    elif saved == "in":
        def setup_context(ctx, inputs, out):
            ctx.save_for_backward(inputs[0])

        def backward(ctx, g):
            x, = ctx.saved_tensors
            return formula(g, x, None)
    else:
        def setup_context(ctx, inputs, out):
            pass

        def backward(ctx, g):
            return formula(g, None, None)
    return type(_camel(name), (Function,), {
        "forward": staticmethod(cop), "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward), "__module__": __name__})


def _make_unary_api(name, fn_cls):
    cop = getattr(_C, name)
    cop_ = getattr(_C, name + "_")

    listed = _amp_listed(name)

    def op(input, *, out=None):
        if not isinstance(input, Tensor):
            raise TypeError("%s(): argument 'input' (position 1) must be Tensor, not %s" % (name, type(input).__name__))
        if listed and out is None and _state.autocast and name in _state.autocast:
            return _autocast(name, op, input)
        r = _record(fn_cls, (input,)) if _state.enabled and input._requires_grad else cop(input)
        return r if out is None else write_out(out, r)

    def meth(self):
        if listed and _state.autocast and name in _state.autocast:
            return _autocast(name, meth, self)
        if _state.enabled and self._requires_grad:
            return _record(fn_cls, (self,))
        return cop(self)

    def inplace(self):
        if _state.enabled and self._requires_grad:
            return inplace_via(self, fn_cls.apply)
        cop_(self)
        return self

    op.__name__ = meth.__name__ = name
    inplace.__name__ = name + "_"
    op.__doc__ = "Elementwise %s." % name
    return op, meth, inplace


_g = globals()
for _name, (_saved, _formula) in _UNARY.items():
    if not hasattr(_C, _name):
        continue
    _cls = _make_unary_function(_name, _saved, _formula)
    _op, _meth, _inplace = _make_unary_api(_name, _cls)
    _g[_cls.__name__] = _cls
    _g[_name] = _op
    export(_op, name=_name)
    method(_name, _meth)
    method(_name + "_", _inplace)
    export(_inplace, name=_name + "_")

# PyTorch aliases
for _alias, _target in [("negative", "neg"), ("absolute", "abs"), ("fix", "trunc"), ("arcsin", "asin"),
                        ("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"), ("arccosh", "acosh"),
                        ("arctanh", "atanh"), ("special_expit", "sigmoid")]:
    export(_g[_target], name=_alias)
    method(_alias, getattr(Tensor, _target))
    method(_alias + "_", getattr(Tensor, _target + "_"))


# ---------------------------------------------------------------------------------------- bool-valued unary


def _bool_unary(name):
    cop = getattr(_C, name)

    def op(input):
        return cop(input)
    op.__name__ = name
    return op


for _name in ["isnan", "isinf", "isfinite", "logical_not"]:
    _op = _bool_unary(_name)
    _g[_name] = _op
    export(_op, name=_name)
    method(_name, _op)


def _logical_not_(self):
    _C.copy_(self, _C.logical_not(self))
    return self


method("logical_not_", _logical_not_)


@export
def isposinf(input):
    return _C.logical_and(_C.isinf(input), _C.gt(input, 0))


@export
def isneginf(input):
    return _C.logical_and(_C.isinf(input), _C.lt(input, 0))


@export
def isreal(input):
    return _C.full(input._shape, True, _C.bool)


@export
def bitwise_not(input, *, out=None):
    r = _C.bitwise_not(input)
    return r if out is None else write_out(out, r)


method("bitwise_not", lambda self: _C.bitwise_not(self))
method("isposinf", isposinf)
method("isneginf", isneginf)


def _bitwise_not_(self):
    _C.bitwise_not_(self)
    return self


method("bitwise_not_", _bitwise_not_)


# ---------------------------------------------------------------------------------------- parametrised unary


def _param_function(name, saved, formula):
    cop = getattr(_C, name)

    def forward(x, p0=0.0, p1=0.0, p2=0.0):
        return cop(x, p0, p1, p2)

    def setup_context(ctx, inputs, out):
        ctx.params = inputs[1:]
        ctx.save_for_backward(out if saved == "out" else inputs[0])

    def backward(ctx, g):
        t, = ctx.saved_tensors
        p = tuple(ctx.params) + (0.0,) * (3 - len(ctx.params))
        return (formula(g, t, *p),) + (None,) * len(ctx.params)
    return type(_camel(name), (Function,), {
        "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward), "__module__": __name__})


LeakyRelu = _param_function("leaky_relu", "in", lambda g, x, slope, _1, _2: g * where(x > 0, 1.0, slope))
Elu = _param_function("elu", "in", lambda g, x, alpha, scale, iscale: where(
    x > 0, g * scale, g * (exp(x * iscale) * (alpha * scale * iscale))))
SoftplusBeta = _param_function("softplus_beta", "in", lambda g, x, beta, th, _2: where(
    x * beta > th, g, g * sigmoid(x * beta)))
Threshold = _param_function("threshold", "in", lambda g, x, th, value, _2: g * (x > th))
Hardshrink = _param_function("hardshrink", "in", lambda g, x, lam, _1, _2: g * logical_or(x > lam, x < -lam))
Softshrink = _param_function("softshrink", "in", lambda g, x, lam, _1, _2: g * logical_or(x > lam, x < -lam))
Celu = _param_function("celu", "in", lambda g, x, alpha, _1, _2: where(x > 0, g, g * exp(x / alpha)))
Selu = _param_function("selu", "in", lambda g, x, _0, _1, _2: where(
    x > 0, g * 1.0507009873554805, g * exp(x) * (1.0507009873554805 * 1.6732632423543772)))
NanToNum = _param_function("nan_to_num", "in", lambda g, x, _0, _1, _2: g * isfinite(x))


def _apply_param(fn_cls, x, *params):
    if _state.enabled and x._requires_grad:
        return fn_cls.apply(x, *params)
    return getattr(_C, _PARAM_KERNEL[fn_cls])(x, *params)


_PARAM_KERNEL = {LeakyRelu: "leaky_relu", Elu: "elu", SoftplusBeta: "softplus_beta", Threshold: "threshold",
                 Hardshrink: "hardshrink", Softshrink: "softshrink", Celu: "celu", Selu: "selu",
                 NanToNum: "nan_to_num"}


def _param_inplace(fn_cls, x, *params):
    if _state.enabled and x._requires_grad:
        return inplace_via(x, lambda s: fn_cls.apply(s, *params))
    getattr(_C, _PARAM_KERNEL[fn_cls] + "_")(x, *params)
    return x


@export
def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replaces NaN with nan and +/-inf with posinf/neginf (default: the dtype's largest finite values)."""
    big = _finfo_max(input.dtype)
    params = (float(nan), float(big if posinf is None else posinf), float(-big if neginf is None else neginf))
    r = _apply_param(NanToNum, input, *params)
    return r if out is None else write_out(out, r)


def _finfo_max(dtype):
    return {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38}.get(
        dtype._name, 1.7976931348623157e308)


method("nan_to_num", nan_to_num)
method("nan_to_num_", lambda self, nan=0.0, posinf=None, neginf=None: _param_inplace(
    NanToNum, self, float(nan), float(_finfo_max(self.dtype) if posinf is None else posinf),
    float(-_finfo_max(self.dtype) if neginf is None else neginf)))


# ---------------------------------------------------------------------------------------- binary ops


def _operands(ctx, inputs):
    """Saves tensor operands for backward; numbers are kept as attributes (the class default is none)."""
    a, b = inputs[0], inputs[1]
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    ctx.save_for_backward(a if ta else None, b if tb else None)
    if not (ta and tb):
        ctx.nums = (None if ta else a, None if tb else b)


_NO_NUMS = (None, None)


def _load(ctx):
    a, b = ctx.saved_tensors
    na, nb = ctx.nums
    return (a if a is not None else na), (b if b is not None else nb)


class Add(Function):
    forward = staticmethod(_C.add)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    forward = staticmethod(_C.sub)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, g):
        if not ctx.needs_input_grad[1]:
            return g, None
        return g, (-g if _state.enabled else _C.neg(g))


class Mul(Function):
    forward = staticmethod(_C.mul)

    @staticmethod
    def setup_context(ctx, inputs, out):
        a, b = inputs
        need = ctx.needs_input_grad
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        # keep only what the requested gradients need
        ctx.save_for_backward(a if need[1] and ta else None, b if need[0] and tb else None)
        if not (ta and tb):
            ctx.nums = (None if ta else a, None if tb else b)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        need = ctx.needs_input_grad
        if not _state.enabled:  # plain kernels when no graph is being built (the common case)
            return (_C.mul(g, b) if need[0] else None), (_C.mul(g, a) if need[1] else None)
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Function):
    forward = staticmethod(_C.div)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        need = ctx.needs_input_grad
        ga = g / b if need[0] else None
        gb = -g * a / (b * b) if need[1] else None
        return ga, gb


class Pow(Function):
    forward = staticmethod(_C.pow)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)
        if ctx.needs_input_grad[1]:
            ctx.out = out.detach()

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            if is_number(b):
                # under create_graph x**1 keeps its x**0 factor, so the next derivative stays connected to x
                # (the 6th derivative of x**5 is 0, not an error)
                ga = _zeros_like(g) if b == 0 else (g * b if b == 1 and not _state.enabled else
                                                    g * (a ** (b - 1)) * b)
            else:
                ga = g * b * (a ** (b - 1))
        if need[1]:
            out = a ** b if _state.enabled else ctx.out
            la = log(a) if isinstance(a, Tensor) else math.log(a) if a > 0 else float("nan")
            gb = g * out * la
            if isinstance(a, Tensor):
                gb = where(logical_and(a == 0, b >= 0), 0.0, gb)
            elif a == 0:
                gb = where(b >= 0, 0.0, gb)
        return ga, gb


class Maximum(Function):
    forward = staticmethod(_C.maximum)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = g * 0.5
        ga = where(a > b, g, where(a == b, half, 0.0)) if ctx.needs_input_grad[0] else None
        gb = where(b > a, g, where(a == b, half, 0.0)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Minimum(Function):
    forward = staticmethod(_C.minimum)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        half = g * 0.5
        ga = where(a < b, g, where(a == b, half, 0.0)) if ctx.needs_input_grad[0] else None
        gb = where(b < a, g, where(a == b, half, 0.0)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Fmax(Function):
    forward = staticmethod(_C.fmax)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        take_a = logical_or(a >= b, isnan(b))
        return where(take_a, g, 0.0), where(take_a, 0.0, g)


class Fmin(Function):
    forward = staticmethod(_C.fmin)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        take_a = logical_or(a <= b, isnan(b))
        return where(take_a, g, 0.0), where(take_a, 0.0, g)


class Atan2(Function):
    forward = staticmethod(_C.atan2)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        denom = a * a + b * b
        return g * b / denom, -g * a / denom


class Hypot(Function):
    forward = staticmethod(_C.hypot)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)
        ctx.out = out.detach()

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        out = hypot(a, b) if _state.enabled else ctx.out
        return g * a / out, g * b / out


class Remainder(Function):
    forward = staticmethod(_C.remainder)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        return g, (-g * floor_divide(a, b) if ctx.needs_input_grad[1] else None)


class Fmod(Function):
    forward = staticmethod(_C.fmod)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        return g, (-g * trunc(a / b) if ctx.needs_input_grad[1] else None)


class Copysign(Function):
    forward = staticmethod(_C.copysign)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)
        ctx.out = out.detach()

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        ga = where(a == 0, 0.0, g * sign(a) * sign(ctx.out)) if ctx.needs_input_grad[0] else None
        return ga, (_zeros_like(g) if ctx.needs_input_grad[1] else None)


class Logaddexp(Function):
    forward = staticmethod(_C.logaddexp)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        return g * sigmoid(a - b), g * sigmoid(b - a)


class Xlogy(Function):
    forward = staticmethod(_C.xlogy)

    @staticmethod
    def setup_context(ctx, inputs, out):
        _operands(ctx, inputs)

    @staticmethod
    def backward(ctx, g):
        a, b = _load(ctx)
        ga = g * xlogy(a != 0, b) if ctx.needs_input_grad[0] else None
        gb = g * a / b if ctx.needs_input_grad[1] else None
        return ga, gb


class FloorDivide(Function):
    """Piecewise constant: zero gradient."""
    forward = staticmethod(_C.floor_divide)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.meta = [(x._shape, x.dtype) if isinstance(x, Tensor) else None for x in inputs]

    @staticmethod
    def backward(ctx, g):
        return tuple(_C.zeros_meta(m) if m is not None and m[1].is_floating_point else None for m in ctx.meta)


for _cls in (Mul, Div, Pow, Atan2, Hypot, Remainder, Fmod, Copysign, Logaddexp, Xlogy):
    _cls._backward_cls.nums = _NO_NUMS

_BINARY = {"add": Add, "sub": Sub, "mul": Mul, "div": Div, "pow": Pow, "maximum": Maximum, "minimum": Minimum,
           "fmax": Fmax, "fmin": Fmin, "atan2": Atan2, "hypot": Hypot, "remainder": Remainder, "fmod": Fmod,
           "copysign": Copysign, "logaddexp": Logaddexp, "xlogy": Xlogy, "floor_divide": FloorDivide}


def _make_binary_api(name, fn_cls):
    cop = getattr(_C, name)
    cop_ = getattr(_C, name + "_")
    listed = _amp_listed(name)

    def op(input, other, *, out=None):
        if listed and out is None and _state.autocast and name in _state.autocast:
            return _autocast(name, op, input, other)
        if _state.enabled and ((isinstance(input, Tensor) and input._requires_grad) or
                               (isinstance(other, Tensor) and other._requires_grad)):
            r = fn_cls.apply(input, other)
        else:
            r = cop(input, other)
        return r if out is None else write_out(out, r)

    def meth(self, other):
        if listed and _state.autocast and name in _state.autocast:
            return _autocast(name, meth, self, other)
        if _state.enabled and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
            return fn_cls.apply(self, other)
        return cop(self, other)

    def inplace(self, other):
        if _state.enabled and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
            return inplace_via(self, lambda s: fn_cls.apply(s, other))
        cop_(self, other)
        return self

    op.__name__ = meth.__name__ = name
    inplace.__name__ = name + "_"
    return op, meth, inplace


for _name, _cls in _BINARY.items():
    _op, _meth, _inplace = _make_binary_api(_name, _cls)
    _g[_name] = _op
    export(_op, name=_name)
    method(_name, _meth)
    method(_name + "_", _inplace)

_add_plain, _sub_plain = _g["add"], _g["sub"]
_add_meth, _sub_meth = Tensor.add, Tensor.sub
_add_inplace, _sub_inplace = Tensor.add_, Tensor.sub_


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


@export
def add(input, other, *, alpha=1, out=None):
    """input + alpha * other."""
    if type(other) is SparseCooTensor or type(input) is SparseCooTensor:
        if out is not None:
            raise NotImplementedError("add: out= is not supported with sparse operands")
        return input.add(other, alpha=alpha)
    return _add_plain(input, _scaled(other, alpha), out=out)


@export
def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    return _sub_plain(input, _scaled(other, alpha), out=out)


def _alpha_method(dense_op, sign, inplace):
    """Tensor.add/sub(_)(other, alpha=): a sparse other (a sparse gradient) adds into a dense result, as in
    PyTorch (the sparse class has its own methods)."""
    def meth(self, other, *, alpha=1):
        if type(other) is SparseCooTensor:
            return _sparse.dense_add(self, other, sign * alpha, inplace)
        return dense_op(self, _scaled(other, alpha))
    return meth


method("add", _alpha_method(_add_meth, 1, False))
method("sub", _alpha_method(_sub_meth, -1, False))
method("add_", _alpha_method(_add_inplace, 1, True))
method("sub_", _alpha_method(_sub_inplace, -1, True))
export(sub, name="subtract")
method("subtract", Tensor.sub)
method("subtract_", Tensor.sub_)
export(_g["mul"], name="multiply")
method("multiply", Tensor.mul)
method("multiply_", Tensor.mul_)
_div_plain, _div_meth, _div_inplace = _g["div"], Tensor.div, Tensor.div_


def _div_mode(a, b, rounding_mode):
    if rounding_mode is None:
        return None
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        a_int = isinstance(a, Tensor) and not a.dtype.is_floating_point or isinstance(a, int)
        b_int = isinstance(b, Tensor) and not b.dtype.is_floating_point or isinstance(b, int)
        if a_int and b_int:
            # exact integer arithmetic: floor division, then round negative inexact quotients toward zero
            q = floor_divide(a, b)
            inexact = logical_and(q < 0, (q * b) != a)
            return q + inexact.to(q.dtype)
        return trunc(true_divide(a, b))
    raise ValueError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '%s'"
                     % rounding_mode)


@export
def div(input, other, *, rounding_mode=None, out=None):
    """input / other (true division), or floor/trunc division with rounding_mode."""
    r = _div_mode(input, other, rounding_mode)
    if r is None:
        return _div_plain(input, other, out=out)
    return r if out is None else write_out(out, r)


def _div_method(self, other, *, rounding_mode=None):
    r = _div_mode(self, other, rounding_mode)
    return _div_meth(self, other) if r is None else r


def _div_inplace_method(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return _div_inplace(self, other)
    return self.copy_(_div_mode(self, other, rounding_mode))


method("div", _div_method)
method("div_", _div_inplace_method)
true_divide = export(lambda input, other, *, out=None: _div_plain(input, other, out=out), name="true_divide")
export(div, name="divide")
method("divide", _div_method)
method("divide_", _div_inplace_method)
method("true_divide", lambda self, other: _div_meth(self, other))
export(lambda input, exponent, *, out=None: _g["pow"](input.double() if isinstance(input, Tensor) else input,
                                                        exponent.double() if isinstance(exponent, Tensor) else exponent,
                                                        out=out), name="float_power")
method("float_power", lambda self, e: _g["pow"](self.double(), e))

# ---------------------------------------------------------------------------------------- non-differentiable binary

for _name in ["eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "bitwise_and",
              "bitwise_or", "bitwise_xor"]:
    def _mk(cop, cop_, name):
        def op(input, other, *, out=None):
            r = cop(input, other)
            return r if out is None else write_out(out, r)

        def inplace(self, other):
            cop_(self, other)
            return self
        op.__name__ = name
        return op, inplace
    _op, _inplace = _mk(getattr(_C, _name), getattr(_C, _name + "_"), _name)
    _g[_name] = _op
    export(_op, name=_name)
    method(_name, lambda self, other, _c=getattr(_C, _name): _c(self, other))
    method(_name + "_", _inplace)

for _alias, _target in [("greater", "gt"), ("greater_equal", "ge"), ("less", "lt"), ("less_equal", "le"),
                        ("not_equal", "ne")]:
    export(_g[_target], name=_alias)
    method(_alias, getattr(Tensor, _target))


# ---------------------------------------------------------------------------------------- ternary


class Where(Function):
    forward = staticmethod(_C.where)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        cond, = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (None, where(cond, g, 0.0) if need[1] else None, where(cond, 0.0, g) if need[2] else None)


@export
def where(condition, input=None, other=None, *, out=None):
    """Elements of input where condition holds, else of other; where(condition) gives nonzero indices."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' must be Tensor, not %s" % type(condition).__name__)
    r = Where.apply(condition, input, other) if needs_grad(input, other) else _C.where(condition, input, other)
    return r if out is None else write_out(out, r)


method("where", lambda self, condition, other: where(condition, self, other))


class Clamp(Function):
    @staticmethod
    def forward(x, lo, hi):
        return _C.clamp(x, lo, hi)

    @staticmethod
    def setup_context(ctx, inputs, out):
        x, lo, hi = inputs
        ctx.save_for_backward(x, lo if isinstance(lo, Tensor) else None, hi if isinstance(hi, Tensor) else None)
        ctx.nums = (None if isinstance(lo, Tensor) else lo, None if isinstance(hi, Tensor) else hi)

    @staticmethod
    def backward(ctx, g):
        x, lo_t, hi_t = ctx.saved_tensors
        lo = lo_t if lo_t is not None else ctx.nums[0]
        hi = hi_t if hi_t is not None else ctx.nums[1]
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else logical_and(keep, x <= hi)
        gx = where(keep, g, 0.0)
        glo = ghi = None
        if lo_t is not None and ctx.needs_input_grad[1]:
            glo = where(x < lo_t, g, 0.0)
        if hi_t is not None and ctx.needs_input_grad[2]:
            ghi = where(logical_and(x > hi_t, x >= (lo if lo is not None else x)), g, 0.0)
        return gx, glo, ghi


@export
def clamp(input, min=None, max=None, *, out=None):
    """Limits values to [min, max] (either bound may be None; bounds may be tensors)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    r = Clamp.apply(input, min, max) if needs_grad(input, min, max) else _C.clamp(input, min, max)
    return r if out is None else write_out(out, r)


def _clamp_(self, min=None, max=None):
    if needs_grad(self, min, max):
        return inplace_via(self, lambda s: Clamp.apply(s, min, max))
    _C.clamp_(self, min, max)
    return self


export(clamp, name="clip")
method("clamp", lambda self, min=None, max=None: clamp(self, min, max))
method("clip", lambda self, min=None, max=None: clamp(self, min, max))
method("clamp_", _clamp_)
method("clip_", _clamp_)
export(lambda input, min, *, out=None: clamp(input, min, None, out=out), name="clamp_min")
export(lambda input, max, *, out=None: clamp(input, None, max, out=out), name="clamp_max")
method("clamp_min", lambda self, min: clamp(self, min, None))
method("clamp_max", lambda self, max: clamp(self, None, max))
method("clamp_min_", lambda self, min: _clamp_(self, min, None))
method("clamp_max_", lambda self, max: _clamp_(self, None, max))


class Addcmul(Function):
    @staticmethod
    def forward(a, b, c, value):
        return _C.addcmul(a, b, c, value)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1], inputs[2])
        ctx.value = inputs[3]

    @staticmethod
    def backward(ctx, g):
        b, c = ctx.saved_tensors
        v = ctx.value
        need = ctx.needs_input_grad
        return (g if need[0] else None, g * c * v if need[1] else None, g * b * v if need[2] else None, None)


class Addcdiv(Function):
    @staticmethod
    def forward(a, b, c, value):
        return _C.addcdiv(a, b, c, value)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1], inputs[2])
        ctx.value = inputs[3]

    @staticmethod
    def backward(ctx, g):
        b, c = ctx.saved_tensors
        v = ctx.value
        need = ctx.needs_input_grad
        return (g if need[0] else None, g * v / c if need[1] else None, -g * b * v / (c * c) if need[2] else None,
                None)


def _ternary_api(fn_cls, name):
    cop, cop_ = getattr(_C, name), getattr(_C, name + "_")

    def op(input, tensor1, tensor2, *, value=1, out=None):
        if out is None and _state.autocast and name in _state.autocast:
            return _autocast(name, op, input, tensor1, tensor2, value=value)
        r = fn_cls.apply(input, tensor1, tensor2, float(value)) if needs_grad(input, tensor1, tensor2) else cop(
            input, tensor1, tensor2, float(value))
        return r if out is None else write_out(out, r)

    def inplace(self, tensor1, tensor2, *, value=1):
        if needs_grad(self, tensor1, tensor2):
            return inplace_via(self, lambda s: fn_cls.apply(s, tensor1, tensor2, float(value)))
        cop_(self, tensor1, tensor2, float(value))
        return self
    op.__name__ = name
    return op, inplace


for _name, _cls in [("addcmul", Addcmul), ("addcdiv", Addcdiv)]:
    _op, _inplace = _ternary_api(_cls, _name)
    _g[_name] = _op
    export(_op, name=_name)
    method(_name, lambda self, t1, t2, *, value=1, _o=_op: _o(self, t1, t2, value=value))
    method(_name + "_", _inplace)


class Lerp(Function):
    forward = staticmethod(_C.lerp)

    @staticmethod
    def setup_context(ctx, inputs, out):
        a, b, w = inputs
        ctx.save_for_backward(a, b, w if isinstance(w, Tensor) else None)
        ctx.w = None if isinstance(w, Tensor) else w

    @staticmethod
    def backward(ctx, g):
        a, b, wt = ctx.saved_tensors
        w = wt if wt is not None else ctx.w
        need = ctx.needs_input_grad
        return (g * (1 - w) if need[0] else None, g * w if need[1] else None,
                g * (b - a) if len(need) > 2 and need[2] else None)


@export
def lerp(input, end, weight, *, out=None):
    """input + weight * (end - input)."""
    r = Lerp.apply(input, end, weight) if needs_grad(input, end, weight) else _C.lerp(input, end, weight)
    return r if out is None else write_out(out, r)


method("lerp", lambda self, end, weight: lerp(self, end, weight))
method("lerp_", lambda self, end, weight: self.copy_(lerp(self, end, weight)))


# ---------------------------------------------------------------------------------------- comparisons


@export
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other|."""
    if not isinstance(other, Tensor):
        other = _C.full((), other, input.dtype)
    if input.dtype is not other.dtype:
        raise RuntimeError("isclose: Float and Double mismatch: %s vs %s" % (input.dtype, other.dtype))
    return _C.isclose(input, other, float(rtol), float(atol), bool(equal_nan))


@export
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when isclose holds everywhere."""
    return bool(_C.item(_C.all(isclose(input, other, rtol, atol, equal_nan), [], False)))


@export
def equal(input, other):
    """True when both tensors have the same shape and values."""
    check_tensor(input, "equal", "input")
    check_tensor(other, "equal", "other")
    if input._shape != other._shape:
        return False
    return bool(_C.item(_C.all(_C.eq(input, other), [], False)))


method("isclose", isclose)
method("allclose", allclose)
method("equal", equal)


# ---------------------------------------------------------------------------------------- copy / fill / clone


_is_contiguous_c = _C.TensorBase.is_contiguous  # the C method, for paths that run on every call


class Clone(Function):
    """A copy made by copy_fn (clone, contiguous, a memory-format copy); its gradient passes through."""

    @staticmethod
    def forward(x, copy_fn):
        return copy_fn(x)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, g):
        return g, None


def _in_format(x, memory_format):
    """Whether x is laid out densely in memory_format (size-1 dims may have any stride, as in PyTorch)."""
    if memory_format is _dev.contiguous_format:
        return x.is_contiguous()
    if x.numel() == 0:
        return True
    want = _format_strides(x._shape, memory_format)
    return all(n == 1 or s == w for n, s, w in zip(x._shape, x.stride(), want))


def _suggest_format(x):
    """The memory format x is laid out in, as PyTorch suggests it (its strides-like-channels-last rule:
    strides non-decreasing from C through the spatial dims to N, N111 shapes excluded), else contiguous."""
    for fmt, (rank, order) in _CHANNELS_LAST.items():
        if x.dim() != rank:
            continue
        shape, strides = x._shape, x.stride()
        if strides[1] == 0:
            continue
        low = 0
        for d in reversed(order):
            if shape[d] == 0 or strides[d] < low or (d == 0 and low == strides[1]):
                break
            low = strides[d] * (shape[d] if shape[d] > 1 else 1)
        else:
            return fmt
    return _dev.contiguous_format


def _fresh_contiguous(x):
    # _C.contiguous returns x itself when it is contiguous already; a clone must not
    return _C.clone(x) if x.is_contiguous() else _C.contiguous(x)


def _clone_preserve(x):
    """clone() in preserve_format: a dense input's strides, else dense strides in the input's stride order."""
    if _is_contiguous_c(x):
        return _C.clone(x)
    strides = preserved_strides(x._shape, x.stride())
    if strides == x.stride():
        return _C.clone(x)  # dense: the kernel keeps the layout
    out = _C.empty_strided(x._shape, strides, x.dtype)
    _C.copy_(out, x)
    return out


def _copy_fn(memory_format, op):
    """The non-differentiable copy for memory_format."""
    if memory_format is None or memory_format is _dev.preserve_format:
        return _clone_preserve
    if memory_format is _dev.contiguous_format:
        return _fresh_contiguous
    if memory_format in _CHANNELS_LAST:
        order = _CHANNELS_LAST[memory_format][1]
        inverse = tuple(order.index(d) for d in range(len(order)))
        return lambda x: _C.permute(_fresh_contiguous(_C.permute(x, order)), inverse)
    raise TypeError("%s(): argument 'memory_format' must be an ember.memory_format, not %r" % (op, memory_format))


def _copy_as(x, memory_format, op):
    copy_fn = _copy_fn(memory_format, op)
    if memory_format in _CHANNELS_LAST:
        _format_strides(x._shape, memory_format)  # rank check
    return Clone.apply(x, copy_fn) if _state.enabled and x._requires_grad else copy_fn(x)


@export
def clone(input, *, memory_format=None):
    """A copy of input (differentiable); preserve_format (the default) keeps a dense input's strides."""
    check_tensor(input, "clone")
    return _clone_method(input, memory_format=memory_format)


def _clone_method(self, *, memory_format=None):
    if memory_format is None and not (_state.enabled and self._requires_grad):
        return _C.clone(self) if _is_contiguous_c(self) else _clone_preserve(self)
    return _copy_as(self, memory_format, "clone")


method("clone", _clone_method)


def _contiguous(self, memory_format=None):
    """self when it is already laid out in memory_format (default contiguous_format), else a copy that is."""
    if memory_format is None or memory_format is _dev.contiguous_format:
        if _is_contiguous_c(self):
            return self
        return Clone.apply(self, _C.contiguous) if _state.enabled and self._requires_grad else _C.contiguous(self)
    if memory_format is _dev.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    if memory_format not in _CHANNELS_LAST:
        raise TypeError("contiguous(): argument 'memory_format' must be an ember.memory_format, not %r"
                        % (memory_format,))
    if _in_format(self, memory_format):
        return self
    return _copy_as(self, memory_format, "contiguous")


def _is_contiguous(self, memory_format=None):
    """Whether the elements lie densely in row-major order (or in memory_format's order)."""
    if memory_format is None:
        return _is_contiguous_c(self)
    if memory_format is _dev.preserve_format:
        raise RuntimeError("is_contiguous(): preserve_format is not a valid memory format to check against")
    if memory_format is not _dev.contiguous_format and memory_format not in _CHANNELS_LAST:
        raise TypeError("is_contiguous(): argument 'memory_format' must be an ember.memory_format, not %r"
                        % (memory_format,))
    if memory_format in _CHANNELS_LAST and self.dim() != _CHANNELS_LAST[memory_format][0]:
        return False
    return _in_format(self, memory_format)


method("contiguous", _contiguous)
method("is_contiguous", _is_contiguous)


def _copy_(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        raise TypeError("copy_(): argument 'src' must be Tensor, not %s" % type(src).__name__)
    if _state.enabled and (self._requires_grad or src._requires_grad):
        _check_leaf_inplace(self)
        return _CopyInto.apply(self, src)
    _C.copy_(self, src)
    return self


def _fill_(self, value):
    if _state.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
        _check_leaf_inplace(self)
        return _Fill.apply(self, value)
    _C.fill_(self, value)
    return self


def _zero_(self):
    return _fill_(self, 0)


method("copy_", _copy_)
method("fill_", _fill_)
method("zero_", _zero_)


@export
def zero_(input):
    return _zero_(input)


@export
def fill_(input, value):
    return _fill_(input, value)


# ---------------------------------------------------------------------------------------- dtype conversion


class ToCopy(Function):
    """A dtype conversion (PyTorch names its node ToCopyBackward0)."""

    @staticmethod
    def forward(x, dtype):
        return _C.to_dtype(x, dtype, False)

    @staticmethod
    def setup_context(ctx, inputs, out):
        pass

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine casts g back to the input's dtype


def to_dtype(x, dtype, copy=False):
    if x.dtype is dtype:
        if not copy:
            return x
        return Clone.apply(x, _clone_preserve) if _state.enabled and x._requires_grad else _clone_preserve(x)
    if _state.enabled and x._requires_grad and dtype.is_floating_point:
        return ToCopy.apply(x, dtype)
    return _C.to_dtype(x, dtype, copy)


# ---------------------------------------------------------------------------------------- operators


_NUM = (int, float, bool)


def _operand_ok(other):
    return type(other) in _NUM or isinstance(other, (Tensor, numbers.Number, np.ndarray))


def _binop(fn):
    def op(self, other):
        if not _operand_ok(other):
            return NotImplemented
        return fn(self, other)
    return op


def _rbinop(fn):
    def op(self, other):
        if not _operand_ok(other):
            return NotImplemented
        return fn(other, self)
    return op


def _fast_binop(name, fn_cls):
    """self OP other without going through the public function: the hottest path of all."""
    cop = getattr(_C, name)
    # autocast names: __pow__ and __rpow__ are "pow", __rtruediv__ is "rtruediv" (__truediv__ is not listed)
    op_listed = _amp_listed(name)
    rname = "r" + {"div": "truediv"}.get(name, name)
    rop_listed = _amp_listed(name) or _amp_listed(rname)
    rname = rname if _amp_listed(rname) else name

    def op(self, other):
        if op_listed and _state.autocast and name in _state.autocast:
            return _autocast(name, op, self, other)
        t = type(other)
        if t is float or t is int:
            if _state.enabled and self._requires_grad:
                return _record(fn_cls, (self, other))
            return cop(self, other)
        if isinstance(other, Tensor):
            if _state.enabled and (self._requires_grad or other._requires_grad):
                return _record(fn_cls, (self, other))
            return cop(self, other)
        if isinstance(other, numbers.Number):
            return fn_cls.apply(self, other) if _state.enabled and self._requires_grad else cop(self, other)
        if isinstance(other, np.ndarray):
            return op(self, _as_tensor(other))
        return NotImplemented

    def rop(self, other):
        if rop_listed and _state.autocast and rname in _state.autocast:
            return _autocast(rname, rop, self, other)
        if isinstance(other, numbers.Number):
            if _state.enabled and self._requires_grad:
                return fn_cls.apply(other, self)
            return cop(other, self)
        if isinstance(other, np.ndarray):
            return _fwd(_as_tensor(other), self)
        return NotImplemented

    def _fwd(a, b):
        if _state.enabled and (a._requires_grad or b._requires_grad):
            return fn_cls.apply(a, b)
        return cop(a, b)
    return op, rop


def _as_tensor(arr):
    from .creation import as_tensor
    return as_tensor(arr)


Tensor.__add__, Tensor.__radd__ = _fast_binop("add", Add)
Tensor.__sub__, Tensor.__rsub__ = _fast_binop("sub", Sub)
Tensor.__mul__, Tensor.__rmul__ = _fast_binop("mul", Mul)
Tensor.__truediv__, _rtruediv = _fast_binop("div", Div)


def _number_over_tensor(self, other):
    # as PyTorch: number / tensor is tensor.reciprocal() * number, whose rounding differs from one division
    if isinstance(other, numbers.Number) and not isinstance(other, bool):
        return self.reciprocal() * other
    return _rtruediv(self, other)


Tensor.__rtruediv__ = _number_over_tensor
Tensor.__pow__, Tensor.__rpow__ = _fast_binop("pow", Pow)
Tensor.__floordiv__, Tensor.__rfloordiv__ = _fast_binop("floor_divide", FloorDivide)
Tensor.__mod__, Tensor.__rmod__ = _fast_binop("remainder", Remainder)
Tensor.__iadd__ = _binop(lambda s, o: s.add_(o))
Tensor.__isub__ = _binop(lambda s, o: s.sub_(o))
Tensor.__imul__ = _binop(lambda s, o: s.mul_(o))
Tensor.__itruediv__ = _binop(lambda s, o: s.div_(o))
Tensor.__ipow__ = _binop(lambda s, o: s.pow_(o))
Tensor.__ifloordiv__ = _binop(lambda s, o: s.floor_divide_(o))
Tensor.__imod__ = _binop(lambda s, o: s.remainder_(o))
Tensor.__neg__ = lambda self: self.neg()
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = lambda self: self.abs()


def _invert(self):
    return _C.logical_not(self) if self.dtype is _C.bool else _C.bitwise_not(self)


Tensor.__invert__ = _invert
Tensor.__and__ = _binop(lambda s, o: _C.bitwise_and(s, o))
Tensor.__or__ = _binop(lambda s, o: _C.bitwise_or(s, o))
Tensor.__xor__ = _binop(lambda s, o: _C.bitwise_xor(s, o))
Tensor.__rand__ = _rbinop(lambda a, b: _C.bitwise_and(a, b))
Tensor.__ror__ = _rbinop(lambda a, b: _C.bitwise_or(a, b))
Tensor.__rxor__ = _rbinop(lambda a, b: _C.bitwise_xor(a, b))
Tensor.__iand__ = _binop(lambda s, o: s.bitwise_and_(o))
Tensor.__ior__ = _binop(lambda s, o: s.bitwise_or_(o))
Tensor.__ixor__ = _binop(lambda s, o: s.bitwise_xor_(o))
Tensor.__eq__ = _binop(lambda s, o: _C.eq(s, o))
Tensor.__ne__ = _binop(lambda s, o: _C.ne(s, o))
Tensor.__lt__ = _binop(lambda s, o: _C.lt(s, o))
Tensor.__le__ = _binop(lambda s, o: _C.le(s, o))
Tensor.__gt__ = _binop(lambda s, o: _C.gt(s, o))
Tensor.__ge__ = _binop(lambda s, o: _C.ge(s, o))
Tensor.__hash__ = lambda self: id(self)


def _shift_operands(a, b, name):
    for v in (a, b):
        if (isinstance(v, Tensor) and v.dtype.is_floating_point) or isinstance(v, float):
            raise RuntimeError("\"%s\" not implemented for floating point tensors" % name)


@export
def bitwise_left_shift(input, other):
    """input << other for integer tensors (as multiplication by 2**other, wrapping like C)."""
    _shift_operands(input, other, "lshift")
    return _C.mul(input, _C.pow(2, other))


@export
def bitwise_right_shift(input, other):
    """input >> other for integer tensors (arithmetic shift: floor division by 2**other)."""
    _shift_operands(input, other, "rshift")
    return _C.floor_divide(input, _C.pow(2, other))


Tensor.__lshift__ = _binop(bitwise_left_shift)
Tensor.__rshift__ = _binop(bitwise_right_shift)
Tensor.__rlshift__ = _rbinop(bitwise_left_shift)
Tensor.__rrshift__ = _rbinop(bitwise_right_shift)
Tensor.__ilshift__ = _binop(lambda s, o: s.copy_(bitwise_left_shift(s, o)))
Tensor.__irshift__ = _binop(lambda s, o: s.copy_(bitwise_right_shift(s, o)))
method("bitwise_left_shift", bitwise_left_shift)
method("bitwise_right_shift", bitwise_right_shift)
