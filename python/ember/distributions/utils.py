"""Helpers shared by the distributions: parameter broadcasting, probs/logits conversion, lazy properties,
and the special functions they need with gradients (digamma with its trigamma derivative, erfinv, the
regularised incomplete gamma function) plus the Gamma sampler with implicit reparameterisation."""
import math
import numbers

import numpy as np

import ember
from .._tensor import Tensor
from ..autograd.function import Function, once_differentiable

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "lazy_property", "clamp_probs",
           "standard_gamma", "digamma", "trigamma", "erfinv", "gammainc"]

euler_constant = 0.57721566490153286060


def broadcast_all(*values):
    """Broadcasts tensors and numbers to one shape; numbers become tensors of the tensors' dtype (or the
    default dtype when all are numbers)."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                             "implementing __torch_function__.")
    dtype = tensors[0].dtype if tensors else ember.get_default_dtype()
    vs = [v if isinstance(v, Tensor) else ember.tensor(float(v), dtype=dtype) for v in values]
    return tuple(ember.broadcast_tensors(*vs)) if len(vs) > 1 else (vs[0],)


def _fmt(t):
    """A tensor as PyTorch's f-strings show it (in reprs and messages): a 0-d tensor as its Python number."""
    return str(t.item()) if isinstance(t, Tensor) and t.dim() == 0 else str(t)


def _sum_rightmost(value, dim):
    """Sums out the dim rightmost dimensions of value."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def clamp_probs(probs):
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid for binary, softmax over the last dim otherwise."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def probs_to_logits(probs, is_binary=False):
    """Logits from probabilities (clamped away from 0 and 1 so the logits stay finite)."""
    ps = clamp_probs(probs)
    if is_binary:
        return ps.log() - (-ps).log1p()
    return ps.log()


class lazy_property:
    """A property computed on first access and then stored on the instance (so probs/logits are derived on
    demand from whichever was given)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


# ---------------------------------------------------------------------------------------- special functions


def trigamma(x):
    """psi'(x) for x > 0 in ember ops (so it has gradients itself): ten recurrence steps
    psi'(x) = psi'(x + 1) + 1 / x^2, then the asymptotic series at x + 10 (error below 1e-12)."""
    acc = 0
    z = x
    for _ in range(10):
        acc = acc + 1.0 / (z * z)
        z = z + 1.0
    iz = 1.0 / z
    iz2 = iz * iz
    series = iz + iz2 * (0.5 + iz * (1.0 / 6 + iz2 * (-1.0 / 30 + iz2 * (1.0 / 42 + iz2 * (-1.0 / 30)))))
    return acc + series


class Digamma(Function):
    """digamma with the trigamma derivative (ember.digamma itself has no gradient)."""

    @staticmethod
    def forward(x):
        return ember.digamma(x)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * trigamma(x)


def digamma(x):
    return Digamma.apply(x)


class ErfInv(Function):
    """Inverse error function: Giles' single-precision approximation refined by Newton steps on erf (to
    float64 accuracy); derivative sqrt(pi)/2 * exp(erfinv(y)^2)."""

    @staticmethod
    def forward(y):
        a = y.detach().numpy().astype(np.float64)
        w = -np.log(np.maximum((1.0 - a) * (1.0 + a), 1e-300))
        small = w < 5.0
        ws = w - 2.5
        wl = np.sqrt(np.maximum(w, 5.0)) - 3.0
        ps = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941]
        pl = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682]
        p_s, p_l = np.zeros_like(a), np.zeros_like(a)
        for cs, cl in zip(ps, pl):
            p_s = p_s * ws + cs
            p_l = p_l * wl + cl
        x = np.where(small, p_s, p_l) * a
        erf = np.vectorize(math.erf, otypes=[np.float64])
        for _ in range(3):  # Newton: f(x) = erf(x) - y, f' = 2/sqrt(pi) exp(-x^2)
            fin = np.isfinite(x) & (np.abs(a) < 1)
            step = (erf(x) - a) / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
            x = np.where(fin, x - np.where(fin, step, 0.0), x)
        x = np.where(a == 1, np.inf, np.where(a == -1, -np.inf, x))
        x = np.where(np.abs(a) > 1, np.nan, x)
        return ember.from_numpy(np.ascontiguousarray(x.reshape(a.shape))).to(y.dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(out)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (math.sqrt(math.pi) / 2) * (x * x).exp()


def erfinv(y):
    return ErfInv.apply(y)


def _lgamma_np(a):
    return ember.lgamma(ember.from_numpy(np.ascontiguousarray(a, dtype=np.float64))).numpy()


def _gammainc_np(a, x):
    """Regularised lower incomplete gamma P(a, x) and its complement Q, elementwise in float64: the power
    series where x < a + 1, Lentz's continued fraction for Q elsewhere (Numerical Recipes' split)."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    a, x = a.ravel(), x.ravel()
    P = np.zeros_like(x)
    pos = x > 0
    log_pre = np.where(pos, a * np.log(np.where(pos, x, 1.0)) - x - _lgamma_np(a), -np.inf)
    series = pos & (x < a + 1)
    if series.any():
        P[series] = np.exp(log_pre[series]) * _series(a[series], x[series])
    frac = pos & ~series
    h = _continued_fraction(a[frac], x[frac]) if frac.any() else None
    if frac.any():
        P[frac] = 1.0 - np.exp(log_pre[frac]) * h
    Q = 1.0 - P
    if frac.any():
        Q[frac] = np.exp(log_pre[frac]) * h
    return P, Q, log_pre


def _series(a, x):
    """sum_n x^n / (a (a+1) ... (a+n)), each element iterated until its own term is negligible."""
    term = 1.0 / a
    total = term.copy()
    ap = a.copy()
    live = np.arange(a.size)
    for _ in range(100000):
        ap[live] += 1.0
        term[live] *= x[live] / ap[live]
        total[live] += term[live]
        live = live[np.abs(term[live]) >= np.abs(total[live]) * 1e-16]
        if live.size == 0:
            break
    return total


def _continued_fraction(a, x):
    """Lentz's evaluation of Q(a, x) e^x x^-a Gamma(a)'s continued fraction, per-element convergence (the
    factors settle within a few ulps of 1, so the test is |delta - 1| < 1e-15)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full_like(x, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    live = np.arange(a.size)
    for i in range(1, 100000):
        an = -i * (i - a[live])
        b[live] += 2.0
        dl = an * d[live] + b[live]
        dl = np.where(np.abs(dl) < tiny, tiny, dl)
        cl = b[live] + an / c[live]
        cl = np.where(np.abs(cl) < tiny, tiny, cl)
        dl = 1.0 / dl
        delta = dl * cl
        d[live], c[live] = dl, cl
        h[live] *= delta
        live = live[np.abs(delta - 1.0) >= 1e-15]
        if live.size == 0:
            break
    return h


def _dP_da(a, x):
    """d P(a, x) / d a by a central difference of the series/fraction above (relative step 1e-5; the
    function is smooth in a, so this is accurate to ~1e-9)."""
    h = 1e-5 * np.maximum(a, 1e-3)
    Pp, Qp, _ = _gammainc_np(a + h, x)
    Pm, Qm, _ = _gammainc_np(a - h, x)
    # differencing the smaller of P and Q keeps relative accuracy in both tails
    use_q = Qp + Qm < Pp + Pm
    return np.where(use_q, -(Qp - Qm), Pp - Pm) / (2 * h)


class GammaInc(Function):
    """P(a, x), the regularised lower incomplete gamma function (the Gamma CDF). Gradient in x is the
    density; in a the finite difference of _dP_da (not differentiable again)."""

    @staticmethod
    def forward(a, x):
        an, xn = np.broadcast_arrays(a.detach().numpy(), x.detach().numpy())
        P, _, _ = _gammainc_np(an, xn)
        return ember.from_numpy(np.ascontiguousarray(P.reshape(an.shape))).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], inputs[1])

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        ga = gx = None
        if ctx.needs_input_grad[1]:
            xs = x.clamp(min=ember.finfo(x.dtype).tiny)
            gx = g * ((a - 1) * xs.log() - xs - a.lgamma()).exp() * (x > 0).to(x.dtype)
        if ctx.needs_input_grad[0]:
            an, xn = np.broadcast_arrays(a.detach().numpy(), x.detach().numpy())
            d = _dP_da(an.ravel(), xn.ravel()).reshape(an.shape)
            ga = g * ember.from_numpy(np.ascontiguousarray(d)).to(g.dtype)
        return ga, gx


def gammainc(a, x):
    a, x = broadcast_all(a, x)
    return GammaInc.apply(a, x)


# ---------------------------------------------------------------------------------------- Gamma sampling


def _sample_standard_gamma(alpha):
    """Marsaglia & Tsang (2000) squeeze-rejection sampling of Gamma(alpha, 1) in float64, drawing the normal
    and uniform variates from ember's default generator (so ember.manual_seed makes it reproducible).
    alpha < 1 uses Gamma(alpha) = Gamma(alpha + 1) * U^(1/alpha)."""
    a = np.asarray(alpha, dtype=np.float64)
    shape = a.shape
    a = a.ravel()
    boost = a < 1
    d = np.where(boost, a + 1, a) - 1.0 / 3
    c = 1.0 / np.sqrt(9.0 * d)
    out = np.full(a.shape, np.nan)
    todo = np.ones(a.shape, dtype=bool)
    while todo.any():
        n = int(todo.sum())
        x = ember.randn(n, dtype=ember.float64).numpy()
        u = ember.rand(n, dtype=ember.float64).numpy()
        dd, cc = d[todo], c[todo]
        v = (1.0 + cc * x) ** 3
        ok = v > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ok & (np.log(u) < 0.5 * x * x + dd - dd * v + dd * np.log(np.where(ok, v, 1.0)))
        idx = np.nonzero(todo)[0]
        out[idx[accept]] = (dd * v)[accept]
        todo[idx[accept]] = False
    if boost.any():
        u = ember.rand(int(boost.sum()), dtype=ember.float64).numpy()
        out[boost] = out[boost] * u ** (1.0 / a[boost])
    return np.maximum(out, np.finfo(np.float64).tiny).reshape(shape)


class StandardGamma(Function):
    """A Gamma(alpha, 1) sample whose gradient is the implicit reparameterisation gradient
    (Figurnov et al. 2018): dz/dalpha = -(dF(z; alpha)/dalpha) / f(z; alpha), F the CDF and f the density,
    i.e. the derivative of the inverse CDF at the sample's fixed quantile. First-order only."""

    @staticmethod
    def forward(alpha):
        z = _sample_standard_gamma(alpha.detach().numpy())
        out = ember.from_numpy(np.ascontiguousarray(z)).to(alpha.dtype)
        return out

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[0], out)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        alpha, z = ctx.saved_tensors
        return g * standard_gamma_grad(alpha, z)


def standard_gamma_grad(alpha, z):
    """dz/dalpha of Gamma(alpha, 1) samples z at fixed CDF value (graph-free)."""
    a = alpha.detach().numpy().astype(np.float64).ravel()
    x = z.detach().numpy().astype(np.float64).ravel()
    dP = _dP_da(a, x)
    log_density = (a - 1) * np.log(x) - x - _lgamma_np(a)
    grad = -dP / np.exp(log_density)
    return ember.from_numpy(np.ascontiguousarray(grad.reshape(tuple(alpha.shape)))).to(alpha.dtype)


def standard_gamma(alpha):
    """Gamma(alpha, 1) samples of alpha's shape, reparameterised (gradients flow to alpha)."""
    return StandardGamma.apply(alpha)
