"""ember.distributions.transforms: inverses, log|det J| against autograd Jacobians, caching, composition,
domains/codomains, equality, and agreement with torch.distributions.transforms when PyTorch is installed."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.distributions import constraints
from ember.distributions import transforms as T

RNG = np.random.default_rng(3)


def t64(a, rg=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return t.detach().numpy()


ELEMENTWISE = [
    ("exp", lambda: T.ExpTransform(), lambda: RNG.standard_normal(5)),
    ("affine", lambda: T.AffineTransform(0.5, -2.0), lambda: RNG.standard_normal(5)),
    ("affine_tensor", lambda: T.AffineTransform(t64(RNG.standard_normal(5)), t64(RNG.uniform(0.5, 2, 5))),
     lambda: RNG.standard_normal(5)),
    ("sigmoid", lambda: T.SigmoidTransform(), lambda: RNG.standard_normal(5) * 3),
    ("tanh", lambda: T.TanhTransform(), lambda: RNG.standard_normal(5)),
    ("power", lambda: T.PowerTransform(2.5), lambda: RNG.uniform(0.2, 3, 5)),
    ("compose", lambda: T.ComposeTransform([T.AffineTransform(1.0, 0.5), T.ExpTransform(), T.PowerTransform(0.5)]),
     lambda: RNG.standard_normal(5)),
    ("inverse_exp", lambda: T.ExpTransform().inv, lambda: RNG.uniform(0.2, 3, 5)),
]


@pytest.mark.parametrize("name,make,xs", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise_inverse_and_log_det(name, make, xs):
    t = make()
    x = t64(xs(), True)
    y = t(x)
    assert np.allclose(npy(t.inv(y)), npy(x), atol=1e-10)
    # the diagonal Jacobian by autograd: d y_i / d x_i
    dy = ember.autograd.grad(y.sum(), [x])[0]
    assert np.allclose(npy(t.log_abs_det_jacobian(x, y)), np.log(np.abs(npy(dy))), atol=1e-10)
    assert np.allclose(npy(t.inv.log_abs_det_jacobian(y, x)), -np.log(np.abs(npy(dy))), atol=1e-10)
    assert bool(t.codomain.check(y).all()) and bool(t.domain.check(x).all())


def _jacobian(f, x):
    y = f(x)
    rows = []
    for i in range(y.shape[-1]):
        rows.append(npy(ember.autograd.grad(y[i], [x], retain_graph=True)[0]))
    return np.stack(rows)


def test_stick_breaking():
    t = T.StickBreakingTransform()
    x = t64(RNG.standard_normal(3), True)
    y = t(x)
    assert y.shape == (4,) and np.isclose(float(y.sum()), 1.0) and bool(constraints.simplex.check(y))
    assert np.allclose(npy(t.inv(y)), npy(x), atol=1e-10)
    J = _jacobian(lambda v: t(v)[:-1], x)  # the first K-1 coordinates parameterise the simplex
    assert np.allclose(float(t.log_abs_det_jacobian(x, y)), np.log(abs(np.linalg.det(J))))
    assert t.forward_shape((2, 3)) == (2, 4) and t.inverse_shape((2, 4)) == (2, 3)
    xb = t64(RNG.standard_normal((2, 3)))
    assert t.log_abs_det_jacobian(xb, t(xb)).shape == (2,)
    assert t.domain.event_dim == 1 and t.codomain.event_dim == 1


def test_softmax_transform():
    t = T.SoftmaxTransform()
    x = t64(RNG.standard_normal((2, 4)))
    y = t(x)
    assert np.allclose(npy(y), np.exp(npy(x)) / np.exp(npy(x)).sum(-1, keepdims=True))
    # not bijective: the inverse recovers x up to a constant along the event dim
    diff = npy(t.inv(y)) - npy(x)
    assert np.allclose(diff, diff[:, :1]) and not t.bijective


def test_affine_event_dim_and_independent_transform():
    scale = t64(RNG.uniform(0.5, 2, 3))
    t = T.AffineTransform(0.0, scale, event_dim=1)
    x = t64(RNG.standard_normal((2, 3)))
    assert np.allclose(npy(t.log_abs_det_jacobian(x, t(x))), np.log(npy(scale)).sum() * np.ones(2))
    it = T.IndependentTransform(T.ExpTransform(), 1)
    assert np.allclose(npy(it.log_abs_det_jacobian(x, it(x))), npy(x).sum(-1))
    assert it.domain.event_dim == 1 and repr(it) == "IndependentTransform(ExpTransform(), 1)"


def test_caching_and_equality():
    t = T.ExpTransform(cache_size=1)
    x = t64(RNG.standard_normal(3))
    y = t(x)
    assert t.inv(y) is x and t(x) is y
    assert T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.AffineTransform(0.0, 2.0) == T.AffineTransform(0.0, 2.0)
    assert T.AffineTransform(0.0, 2.0) != T.AffineTransform(0.0, 3.0)
    assert T.ExpTransform().inv == T.ExpTransform().inv and T.ExpTransform().inv.inv == T.ExpTransform()
    c = T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
    assert c == T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])
    assert isinstance(c.inv, T.ComposeTransform) and c.inv.inv is c
    assert np.allclose(npy(c.inv(c(x))), npy(x))
    assert T.identity_transform(x) is x
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)
    assert repr(T.ExpTransform().inv) == "_InverseTransform(ExpTransform())"
    assert T.AffineTransform(0.0, -2.0).sign == -1 and c.sign == 1


def test_transformed_distribution_through_compose_and_event_dims():
    base = D.Normal(t64(np.zeros(3)), t64(np.ones(3)))
    d = D.TransformedDistribution(base, [T.AffineTransform(0.0, t64([1.0, 2.0, 3.0]), event_dim=1)])
    assert d.event_shape == (3,) and d.batch_shape == ()
    x = t64(RNG.standard_normal(3))
    ref = npy(base.log_prob(x / t64([1.0, 2.0, 3.0]))).sum() - math.log(6.0)
    assert np.isclose(float(d.log_prob(x)), ref)
    with pytest.raises(ValueError, match="base_distribution needs to have shape with size at least 1"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [T.SoftmaxTransform()])


TORCH_CASES = ["ExpTransform()", "AffineTransform(0.3, -1.5)", "SigmoidTransform()", "TanhTransform()",
               "PowerTransform(1.5)", "StickBreakingTransform()",
               "ComposeTransform([AffineTransform(0.1, 2.0), SigmoidTransform()])"]


@pytest.mark.parametrize("expr", TORCH_CASES)
def test_against_torch(expr):
    torch = pytest.importorskip("torch")
    te = eval(expr, {k: getattr(T, k) for k in dir(T)})
    tt = eval(expr, {k: getattr(torch.distributions.transforms, k) for k in dir(torch.distributions.transforms)})
    x = RNG.uniform(0.2, 2.0, 4)
    ex, tx = t64(x, True), torch.tensor(x, requires_grad=True)
    ey, ty = te(ex), tt(tx)
    np.testing.assert_allclose(npy(ey), ty.detach().numpy(), rtol=1e-12)
    el, tl = te.log_abs_det_jacobian(ex, ey), tt.log_abs_det_jacobian(tx, ty)
    np.testing.assert_allclose(npy(el), tl.detach().numpy(), rtol=1e-10, atol=1e-12)
    ge = ember.autograd.grad((ey.sum() + el.sum()), [ex])[0]
    gt = torch.autograd.grad((ty.sum() + tl.sum()), [tx])[0]
    np.testing.assert_allclose(npy(ge), gt.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(npy(te.inv(ey)), x, rtol=1e-12)
    # (PyTorch stores PowerTransform's exponent as a float32 tensor, so its inverse is only float32-exact)
    np.testing.assert_allclose(npy(te.inv(ey)), tt.inv(ty).detach().numpy(), rtol=1e-7)
