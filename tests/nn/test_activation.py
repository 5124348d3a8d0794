"""Activation modules and their functional forms: numpy references, float64 gradcheck, in-place variants,
reprs and torch agreement."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, close, npy, randn, to_torch, torch_or_skip

_erf = np.vectorize(math.erf)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

# (module, numpy reference)
CASES = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (nn.LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (nn.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Hardtanh(), lambda x: np.clip(x, -1, 1)),
    (nn.Hardtanh(-2.0, 0.5), lambda x: np.clip(x, -2, 0.5)),
    (nn.Softplus(), _softplus),
    (nn.Softplus(beta=2.0, threshold=3.0), lambda x: _softplus(x, 2.0, 3.0)),
    (nn.Softmax(dim=1), lambda x: _softmax(x, 1)),
    (nn.Softmax(dim=-1), lambda x: _softmax(x, -1)),
    (nn.LogSoftmax(dim=1), lambda x: np.log(_softmax(x, 1))),
    (nn.Softmin(dim=0), lambda x: _softmax(-x, 0)),
    (nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    (nn.CELU(2.0), lambda x: np.maximum(0, x) + np.minimum(0, 2.0 * np.expm1(x / 2.0))),
    (nn.SELU(), lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x))),
    (nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    (nn.Hardswish(), lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    (nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (nn.Threshold(0.1, 20.0), lambda x: np.where(x > 0.1, x, 20.0)),
    (nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
    (nn.Hardshrink(), lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    (nn.Softshrink(0.3), lambda x: np.where(x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0))),
    (nn.GLU(), lambda x: x[..., :2] / (1 + np.exp(-x[..., 2:]))),
    (nn.PReLU(), lambda x: np.where(x > 0, x, 0.25 * x)),
]


def _input(seed=0):
    # values kept away from the kinks at 0, +-0.3, +-0.5, +-1, 6, ... so finite differences are smooth
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, (3, 4))
    kinks = np.array([0, 0.1, 0.3, 0.5, 1, 2, 3, 6, -0.3, -0.5, -1, -2, -3])
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x[near] += 0.1
    return x


@pytest.mark.parametrize("module,ref", CASES, ids=[repr(m) for m, _ in CASES])
def test_activation_numpy_reference_and_gradcheck(module, ref):
    x = _input()
    m = module.double()
    close(m(ember.tensor(x)), ref(x), atol=1e-10, rtol=1e-7)
    check_grad(lambda t: m(t), ember.tensor(x, requires_grad=True))


@pytest.mark.parametrize("module,ref", CASES, ids=[repr(m) for m, _ in CASES])
def test_activation_matches_torch(module, ref):
    torch = torch_or_skip()
    t_mod = eval("torch.nn." + repr(module))  # the repr is also a valid constructor call
    x = _input(1).astype(np.float32)
    e_in = ember.tensor(x, requires_grad=True)
    t_in = torch.tensor(x, requires_grad=True)
    m = module.float()
    eo, to = m(e_in), t_mod(t_in)
    close(eo, to, atol=1e-6)
    eo.sum().backward()
    to.sum().backward()
    close(e_in.grad, t_in.grad, atol=1e-5)
    assert repr(module) == repr(t_mod)


def test_activation_reprs():
    assert repr(nn.ReLU(True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2, True)) == "LeakyReLU(negative_slope=0.2, inplace=True)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.Hardtanh(-2, 2, True)) == "Hardtanh(min_val=-2, max_val=2, inplace=True)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Softmax()) == "Softmax(dim=None)"
    assert repr(nn.LogSoftmax(1)) == "LogSoftmax(dim=1)"
    assert repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.SiLU()) == "SiLU()"
    assert repr(nn.RReLU()) == "RReLU(lower=0.125, upper=0.3333333333333333)"


def test_activation_hyperparameter_validation():
    with pytest.raises(ValueError, match="must be greater than min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(ember.ones(1), approximate="fast")
    with pytest.raises(ValueError, match="lambda must be greater or equal to 0"):
        nn.Softshrink(-1.0)
    with pytest.raises(ValueError):
        nn.CELU(0.0)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(ember.ones(3))


def test_hardtanh_and_relu6_gradient_is_zero_at_the_bounds():
    x = ember.tensor([-1.0, -0.5, 1.0, 0.0, 6.0, 3.0], requires_grad=True)
    F.hardtanh(x[:3]).sum().backward()
    np.testing.assert_array_equal(npy(x.grad)[:3], [0, 1, 0])
    x.grad = None
    F.relu6(x[3:]).sum().backward()
    np.testing.assert_array_equal(npy(x.grad)[3:], [0, 0, 1])


def test_inplace_activations():
    for fn, ref in [(lambda t: F.relu(t, inplace=True), lambda a: np.maximum(a, 0)),
                    (lambda t: F.leaky_relu(t, 0.1, inplace=True), lambda a: np.where(a > 0, a, 0.1 * a)),
                    (lambda t: F.elu(t, inplace=True), lambda a: np.where(a > 0, a, np.expm1(a))),
                    (lambda t: F.hardtanh(t, inplace=True), lambda a: np.clip(a, -1, 1)),
                    (lambda t: F.relu6(t, inplace=True), lambda a: np.clip(a, 0, 6)),
                    (lambda t: F.silu(t, inplace=True), lambda a: a / (1 + np.exp(-a))),
                    (lambda t: F.threshold(t, 0.5, -1.0, inplace=True), lambda a: np.where(a > 0.5, a, -1.0))]:
        a = _input(2)
        x = ember.tensor(a)
        y = fn(x)
        assert y is x
        close(x, ref(a), atol=1e-10)
    # in place inside a graph: the gradient flows through the in-place op
    w = ember.tensor(_input(3), requires_grad=True)
    h = w * 2
    nn.ReLU(inplace=True)(h)
    h.sum().backward()
    np.testing.assert_array_equal(npy(w.grad), 2.0 * (npy(w) > 0))
    w.grad = None
    h = w * 1.0
    F.hardtanh_(h)
    h.sum().backward()
    np.testing.assert_array_equal(npy(w.grad), (np.abs(npy(w)) < 1).astype(float))


def test_prelu_per_channel_and_rrelu_modes():
    prelu = nn.PReLU(3).double()
    with ember.no_grad():
        prelu.weight.copy_(ember.tensor([0.1, 0.2, 0.3]))
    x = randn(2, 3, 4, seed=4)
    slopes = np.array([0.1, 0.2, 0.3])[None, :, None]
    close(prelu(x), np.where(npy(x) > 0, npy(x), slopes * npy(x)), atol=1e-12)
    assert repr(prelu) == "PReLU(num_parameters=3)"
    check_grad(lambda t, w: F.prelu(t, w), ember.tensor(_input(5), requires_grad=True),
               ember.tensor([0.25], dtype=ember.float64, requires_grad=True))
    rrelu = nn.RReLU(0.1, 0.3)
    z = -ember.ones(10000)
    y = rrelu(z)
    slopes = -npy(y)
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.01
    np.testing.assert_allclose(npy(rrelu.eval()(z)), -0.2, rtol=1e-6)
    assert (rrelu.train()(ember.ones(5)) == 1).all().item()


def test_softmax_implicit_dim_and_dtype():
    x = randn(2, 3, seed=6)
    close(nn.Softmax()(x), _softmax(npy(x), 1), atol=1e-12)
    close(F.softmax(ember.tensor([1, 2, 3]), 0, dtype=ember.float64), _softmax(np.array([1.0, 2, 3]), 0), atol=1e-12)
    close(nn.Softmax2d()(randn(2, 3, 2, 2, seed=7)), _softmax(npy(randn(2, 3, 2, 2, seed=7)), 1), atol=1e-12)


def test_functional_forms_match_torch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    x = _input(8).astype(np.float32)
    e, t = ember.tensor(x), torch.tensor(x)
    for name, args in [("relu", ()), ("relu6", ()), ("elu", (0.7,)), ("selu", ()), ("celu", (1.5,)),
                       ("leaky_relu", (0.3,)), ("gelu", ()), ("logsigmoid", ()), ("hardshrink", (0.4,)),
                       ("tanhshrink", ()), ("softsign", ()), ("softplus", (2.0, 5.0)), ("softshrink", (0.2,)),
                       ("tanh", ()), ("sigmoid", ()), ("hardsigmoid", ()), ("silu", ()), ("mish", ()),
                       ("hardswish", ()), ("hardtanh", (-0.5, 0.5)), ("threshold", (0.2, 3.0)), ("glu", (1,))]:
        close(getattr(F, name)(e, *args), getattr(TF, name)(t, *args), atol=1e-6)
    close(F.softmin(e, 1), TF.softmin(t, 1), atol=1e-6)
    close(F.rrelu(e, 0.1, 0.3, False), TF.rrelu(t, 0.1, 0.3, False), atol=1e-6)
    w = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    close(F.prelu(ember.tensor(x.T.copy()).reshape(1, 4, 3), ember.tensor(w)),
          TF.prelu(torch.tensor(x.T.copy()).reshape(1, 4, 3), torch.tensor(w)), atol=1e-6)
    close(F.gelu(e, approximate="tanh"), TF.gelu(t, approximate="tanh"), atol=1e-6)
    assert to_torch(e).shape == t.shape
