"""ember.distributions: closed-form log_prob/entropy/moments against numpy references, Monte-Carlo checks of
sample moments with fixed seeds, reparameterised gradients (gradcheck of log_prob/entropy, the implicit Gamma
gradient against its defining identity and PyTorch), shapes, expand, validation errors, and agreement with
torch.distributions when PyTorch is installed."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.autograd import gradcheck

RNG = np.random.default_rng(7)
_lgamma = np.vectorize(math.lgamma)


def t64(a, rg=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return t.detach().numpy()


# ---------------------------------------------------------------------------------------- closed forms


def test_normal_closed_forms_and_shapes():
    loc, scale = RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)
    d = D.Normal(t64(loc), t64(scale))
    x = RNG.standard_normal((4, 3))
    ref = -((x - loc) ** 2) / (2 * scale ** 2) - np.log(scale) - 0.5 * math.log(2 * math.pi)
    assert np.allclose(npy(d.log_prob(t64(x))), ref)
    assert np.allclose(npy(d.entropy()), 0.5 + 0.5 * math.log(2 * math.pi) + np.log(scale))
    erf = np.vectorize(math.erf)
    assert np.allclose(npy(d.cdf(t64(x))), 0.5 * (1 + erf((x - loc) / (scale * math.sqrt(2)))))
    p = RNG.uniform(0.01, 0.99, (4, 3))
    assert np.allclose(npy(d.cdf(d.icdf(t64(p)))), p, atol=1e-12)
    assert d.batch_shape == (3,) and d.event_shape == ()
    assert d.sample((5, 2)).shape == (5, 2, 3) and d.rsample().shape == (3,)
    assert D.Normal(0.0, 1.0).batch_shape == () and D.Normal(0.0, 1.0).sample().shape == ()
    assert np.allclose(npy(d.stddev), scale) and np.allclose(npy(d.variance), scale ** 2)
    e = d.expand((2, 3))
    assert e.batch_shape == (2, 3) and e.log_prob(t64(x[:2])).shape == (2, 3)


def test_uniform_bernoulli_categorical_closed_forms():
    u = D.Uniform(t64([0.0, -1.0]), t64([2.0, 3.0]))
    assert np.allclose(npy(u.log_prob(t64([1.0, 0.0]))), -np.log([2.0, 4.0]))
    assert np.allclose(npy(u.entropy()), np.log([2.0, 4.0]))
    assert np.allclose(npy(u.cdf(t64([1.0, 0.0]))), [0.5, 0.25])
    assert np.allclose(npy(u.icdf(t64([0.5, 0.25]))), [1.0, 0.0])
    assert np.allclose(npy(u.variance), np.array([4.0, 16.0]) / 12)
    p = np.array([0.2, 0.7])
    b = D.Bernoulli(t64(p))
    assert np.allclose(npy(b.log_prob(t64([1.0, 0.0]))), np.log([0.2, 0.3]))
    assert np.allclose(npy(b.entropy()), -(p * np.log(p) + (1 - p) * np.log(1 - p)))
    assert np.allclose(npy(D.Bernoulli(logits=t64([0.0, 2.0])).probs), 1 / (1 + np.exp(-np.array([0.0, 2.0]))))
    assert np.allclose(npy(b.logits), np.log(p / (1 - p)))
    assert npy(b.mode).tolist() == [0.0, 1.0] and np.isnan(float(D.Bernoulli(0.5).mode))
    assert b.enumerate_support().shape == (2, 2)
    probs = RNG.uniform(0.1, 1, (2, 4))
    c = D.Categorical(t64(probs))
    pn = probs / probs.sum(-1, keepdims=True)
    assert np.allclose(npy(c.log_prob(ember.tensor([1, 3]))), np.log(pn[[0, 1], [1, 3]]))
    assert np.allclose(npy(c.entropy()), -(pn * np.log(pn)).sum(-1))
    assert np.allclose(npy(D.Categorical(logits=t64(np.log(probs))).probs), pn)
    assert c.sample((3,)).shape == (3, 2) and c.sample().dtype is ember.int64
    assert c.enumerate_support().shape == (4, 2)
    assert c.mode.tolist() == pn.argmax(-1).tolist() and np.isnan(npy(c.mean)).all()
    oh = D.OneHotCategorical(t64(probs))
    s = oh.sample((5,))
    assert s.shape == (5, 2, 4) and np.all(npy(s).sum(-1) == 1)
    assert np.allclose(npy(oh.log_prob(t64(np.eye(4)[[1, 3]]))), np.log(pn[[0, 1], [1, 3]]))
    assert oh.event_shape == (4,) and oh.batch_shape == (2,)


def test_gamma_beta_dirichlet_closed_forms():
    c, r = RNG.uniform(0.5, 3, 3), RNG.uniform(0.5, 2, 3)
    g = D.Gamma(t64(c), t64(r))
    x = RNG.uniform(0.1, 3, 3)
    ref = c * np.log(r) + (c - 1) * np.log(x) - r * x - _lgamma(c)
    assert np.allclose(npy(g.log_prob(t64(x))), ref)
    assert np.allclose(npy(g.mean), c / r) and np.allclose(npy(g.variance), c / r ** 2)
    # Gamma(1, r) is Exponential(r): closed-form CDF and entropy
    e = D.Gamma(t64(np.ones(3)), t64(r))
    assert np.allclose(npy(e.cdf(t64(x))), 1 - np.exp(-r * x))
    assert np.allclose(npy(e.entropy()), 1 - np.log(r))
    # integer shape: P(k, x) = 1 - e^-x sum_{j<k} x^j / j!
    k = D.Gamma(t64([3.0, 3.0]), t64([1.0, 1.0]))
    xs = np.array([0.5, 7.0])
    ref = 1 - np.exp(-xs) * (1 + xs + xs ** 2 / 2)
    assert np.allclose(npy(k.cdf(t64(xs))), ref, rtol=1e-12)
    a, b = RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 3, 2)
    be = D.Beta(t64(a), t64(b))
    v = np.array([0.3, 0.8])
    logB = _lgamma(a) + _lgamma(b) - _lgamma(a + b)
    assert np.allclose(npy(be.log_prob(t64(v))), (a - 1) * np.log(v) + (b - 1) * np.log(1 - v) - logB)
    assert np.allclose(npy(be.mean), a / (a + b))
    assert be.batch_shape == (2,) and be.sample((3,)).shape == (3, 2)
    alpha = RNG.uniform(0.5, 3, (2, 3))
    di = D.Dirichlet(t64(alpha))
    v = RNG.dirichlet(np.ones(3), 2)
    ref = ((alpha - 1) * np.log(v)).sum(-1) + _lgamma(alpha.sum(-1)) - _lgamma(alpha).sum(-1)
    assert np.allclose(npy(di.log_prob(t64(v))), ref)
    assert di.batch_shape == (2,) and di.event_shape == (3,)
    s = di.sample((4,))
    assert s.shape == (4, 2, 3) and np.allclose(npy(s).sum(-1), 1)
    # Beta entropy equals the two-category Dirichlet entropy; Dirichlet(1,1,1) is uniform on the simplex
    assert np.allclose(npy(D.Dirichlet(t64(np.ones(3))).entropy()), -math.log(2.0))


def test_multivariate_normal_parameterisations_agree():
    n = 3
    A = RNG.standard_normal((2, n, n))
    cov = A @ np.swapaxes(A, -1, -2) + n * np.eye(n)
    loc = RNG.standard_normal(n)
    x = RNG.standard_normal((4, 2, n))
    dc = D.MultivariateNormal(t64(loc), covariance_matrix=t64(cov))
    dp = D.MultivariateNormal(t64(loc), precision_matrix=t64(np.linalg.inv(cov)))
    dt = D.MultivariateNormal(t64(loc), scale_tril=t64(np.linalg.cholesky(cov)))
    diff = x - loc
    maha = np.einsum("...i,...ij,...j->...", diff, np.linalg.inv(cov), diff)
    ref = -0.5 * (n * math.log(2 * math.pi) + np.log(np.linalg.det(cov)) + maha)
    for d in (dc, dp, dt):
        assert d.batch_shape == (2,) and d.event_shape == (n,)
        assert np.allclose(npy(d.log_prob(t64(x))), ref)
        assert np.allclose(npy(d.covariance_matrix), cov)
        assert np.allclose(npy(d.precision_matrix), np.linalg.inv(cov))
        assert np.allclose(npy(d.entropy()), 0.5 * n * (1 + math.log(2 * math.pi)) + 0.5 * np.log(np.linalg.det(cov)))
        assert np.allclose(npy(d.variance), np.diagonal(cov, 0, -2, -1))
    assert dc.rsample((5,)).shape == (5, 2, n)


def test_independent_and_transformed():
    loc, scale = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2, (2, 3))
    base = D.Normal(t64(loc), t64(scale))
    ind = D.Independent(base, 1)
    assert ind.batch_shape == (2,) and ind.event_shape == (3,)
    x = RNG.standard_normal((2, 3))
    assert np.allclose(npy(ind.log_prob(t64(x))), npy(base.log_prob(t64(x))).sum(-1))
    assert np.allclose(npy(ind.entropy()), npy(base.entropy()).sum(-1))
    assert repr(ind).startswith("Independent(Normal(")
    ln = D.LogNormal(t64(loc), t64(scale))
    y = np.exp(x)
    ref = -((x - loc) ** 2) / (2 * scale ** 2) - np.log(scale) - 0.5 * math.log(2 * math.pi) - x
    assert np.allclose(npy(ln.log_prob(t64(y))), ref)
    assert np.allclose(npy(ln.mean), np.exp(loc + scale ** 2 / 2))
    assert np.allclose(npy(ln.variance), (np.exp(scale ** 2) - 1) * np.exp(2 * loc + scale ** 2))
    assert np.allclose(npy(ln.entropy()), npy(base.entropy()) + loc)
    assert np.allclose(npy(ln.cdf(t64(y))), npy(base.cdf(t64(x))))
    assert np.allclose(npy(ln.icdf(t64(np.full((2, 3), 0.3)))), np.exp(npy(base.icdf(t64(np.full((2, 3), 0.3))))))
    # a decreasing transform flips the CDF
    neg = D.TransformedDistribution(base, [D.AffineTransform(0.0, -1.0)])
    assert np.allclose(npy(neg.cdf(t64(-x))), 1 - npy(base.cdf(t64(x))))
    # stick breaking maps an event of 2 reals to the 3-simplex
    sb = D.TransformedDistribution(D.Normal(t64(np.zeros(2)), t64(np.ones(2))), [D.StickBreakingTransform()])
    assert sb.event_shape == (3,) and sb.batch_shape == ()
    s = sb.sample((4,))
    assert s.shape == (4, 3) and np.allclose(npy(s).sum(-1), 1)
    assert sb.log_prob(s).shape == (4,)


# ---------------------------------------------------------------------------------------- Monte Carlo


MC_CASES = [
    ("normal", lambda: D.Normal(t64([0.5, -1.0]), t64([1.0, 2.0]))),
    ("uniform", lambda: D.Uniform(t64([0.0, 1.0]), t64([1.0, 5.0]))),
    ("bernoulli", lambda: D.Bernoulli(t64([0.2, 0.9]))),
    ("gamma_small", lambda: D.Gamma(t64([0.3, 0.8]), t64([1.0, 2.0]))),
    ("gamma", lambda: D.Gamma(t64([2.5, 10.0]), t64([0.5, 3.0]))),
    ("beta", lambda: D.Beta(t64([0.5, 2.0]), t64([0.7, 5.0]))),
    ("dirichlet", lambda: D.Dirichlet(t64([0.5, 1.0, 3.0]))),
    ("lognormal", lambda: D.LogNormal(t64([0.0, 0.3]), t64([0.25, 0.5]))),
    ("mvn", lambda: D.MultivariateNormal(t64([1.0, -1.0]), t64([[2.0, 0.6], [0.6, 1.0]]))),
]


@pytest.mark.parametrize("name,make", MC_CASES, ids=[c[0] for c in MC_CASES])
def test_sample_moments(name, make):
    ember.manual_seed(2024)
    d = make()
    n = 40000
    s = npy(d.sample((n,)))
    mean, var = npy(d.mean), npy(d.variance)
    # 6 standard errors of the sample mean, and of the sample variance via the 4th moment
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(s.mean(0) - mean) < 6 * se_mean + 1e-12), (s.mean(0), mean)
    m4 = ((s - mean) ** 4).mean(0)
    se_var = np.sqrt(np.maximum(m4 - var ** 2, 0) / n)
    assert np.all(np.abs(s.var(0) - var) < 6 * se_var + 1e-12), (s.var(0), var)
    assert np.all(npy(d.support.check(ember.tensor(s))))


def test_seed_reproducibility():
    for make in [c[1] for c in MC_CASES] + [lambda: D.Categorical(t64([0.2, 0.3, 0.5]))]:
        ember.manual_seed(5)
        a = npy(make().sample((7,)))
        ember.manual_seed(5)
        b = npy(make().sample((7,)))
        assert np.array_equal(a, b)


def test_categorical_frequencies():
    ember.manual_seed(1)
    p = np.array([0.1, 0.2, 0.7])
    s = npy(D.Categorical(t64(p)).sample((30000,)))
    freq = np.bincount(s, minlength=3) / s.size
    assert np.all(np.abs(freq - p) < 6 * np.sqrt(p * (1 - p) / s.size))


# ---------------------------------------------------------------------------------------- gradients


def test_rsample_gradients_reach_parameters():
    loc, scale = t64([0.5, -1.0], True), t64([1.0, 2.0], True)
    ember.manual_seed(0)
    x = D.Normal(loc, scale).rsample((3,))
    x.sum().backward()
    assert np.allclose(npy(loc.grad), [3.0, 3.0])
    ember.manual_seed(0)
    eps = npy(D.Normal(t64([0.0, 0.0]), t64([1.0, 1.0])).sample((3,)))
    assert np.allclose(npy(scale.grad), eps.sum(0))
    # MVN: d/dL of sum(L eps) = sum over samples of eps broadcast across rows
    L = t64([[1.0, 0.0], [0.5, 2.0]], True)
    ember.manual_seed(0)
    D.MultivariateNormal(t64([0.0, 0.0]), scale_tril=L).rsample((4,)).sum().backward()
    assert L.grad is not None and np.isfinite(npy(L.grad)).all()


def test_implicit_gamma_gradient_identity():
    """d z / d alpha at fixed quantile: F(z(alpha + h); alpha + h) = F(z(alpha); alpha)."""
    from ember.distributions.utils import gammainc, standard_gamma_grad
    alpha = np.array([0.2, 0.9, 1.0, 3.5, 40.0])
    z = np.array([0.01, 0.7, 1.5, 5.0, 35.0])
    dz = npy(standard_gamma_grad(t64(alpha), t64(z)))
    h = 1e-6
    for i in range(len(alpha)):
        F0 = float(gammainc(t64(alpha[i]), t64(z[i])))
        F1 = float(gammainc(t64(alpha[i] + h), t64(z[i] + h * dz[i])))
        assert abs(F1 - F0) < 1e-10 * max(1.0, abs(dz[i]))


@pytest.mark.parametrize("make,moment", [
    (lambda a: D.Gamma(a, t64(2.0)), lambda a: a / 2),  # E[X] = a / rate
    (lambda a: D.Beta(a, t64(1.5)), lambda a: a / (a + 1.5)),
    (lambda a: D.Dirichlet(ember.stack([a, t64(2.0)])), lambda a: a / (a + 2.0)),
], ids=["gamma", "beta", "dirichlet"])
def test_reparameterised_gradient_matches_moment_derivative(make, moment):
    """E[d sample / d a] = d E[sample] / d a, by Monte Carlo with a fixed seed."""
    ember.manual_seed(11)
    a0 = 0.7
    a = t64(a0, True)
    s = make(a).rsample((40000,))
    first = s if s.dim() == 1 else s[..., 0]
    samples_grad = ember.autograd.grad(first.mean(), [a])[0]
    h = 1e-6
    exact = (moment(a0 + h) - moment(a0 - h)) / (2 * h)
    # the per-sample derivatives have a spread of O(1): 40000 samples give a standard error near 0.005
    assert abs(float(samples_grad) - exact) < 0.03 * max(1.0, abs(exact)), (float(samples_grad), exact)


GRAD_CASES = [
    ("normal", lambda p: D.Normal(p[0], p[1].exp()), 2, lambda d: t64([0.3, -0.2])),
    ("uniform", lambda p: D.Uniform(p[0] - 3, p[1].exp() + 3), 2, lambda d: t64([0.5, 0.1])),
    ("bernoulli_logits", lambda p: D.Bernoulli(logits=p[0]), 1, lambda d: t64([1.0, 0.0])),
    ("bernoulli_probs", lambda p: D.Bernoulli(probs=p[0].sigmoid()), 1, lambda d: t64([1.0, 0.0])),
    ("categorical", lambda p: D.Categorical(logits=p[0]), 1, lambda d: ember.tensor(1)),
    ("gamma", lambda p: D.Gamma(p[0].exp(), p[1].exp()), 2, lambda d: t64([0.7, 2.0])),
    ("beta", lambda p: D.Beta(p[0].exp(), p[1].exp()), 2, lambda d: t64([0.3, 0.6])),
    ("dirichlet", lambda p: D.Dirichlet(p[0].exp()), 1, lambda d: t64([0.2, 0.8])),
    ("lognormal", lambda p: D.LogNormal(p[0], p[1].exp()), 2, lambda d: t64([0.7, 2.0])),
]


@pytest.mark.parametrize("name,make,nparams,value", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck_log_prob_and_entropy(name, make, nparams, value):
    params = [t64(RNG.standard_normal(2) * 0.5, True) for _ in range(nparams)]
    v = value(None)
    assert gradcheck(lambda *p: make(p).log_prob(v), params)
    assert gradcheck(lambda *p: make(p).entropy(), params)


def test_gradcheck_mvn():
    A = t64(RNG.standard_normal((3, 3)) * 0.3 + np.eye(3) * 1.5, True)
    loc = t64(RNG.standard_normal(3), True)
    x = t64(RNG.standard_normal(3))
    assert gradcheck(lambda m, a: D.MultivariateNormal(m, a @ a.mT).log_prob(x), (loc, A))
    assert gradcheck(lambda a: D.MultivariateNormal(loc.detach(), scale_tril=a.tril()).entropy(), (A,))
    assert gradcheck(lambda a: D.MultivariateNormal(loc.detach(), precision_matrix=a @ a.mT).log_prob(x), (A,))


def test_gradcheck_gamma_cdf_in_value():
    x = t64([0.5, 2.0], True)
    assert gradcheck(lambda v: D.Gamma(t64([0.7, 3.0]), t64([1.0, 2.0])).cdf(v), (x,))


# ---------------------------------------------------------------------------------------- validation


def test_parameter_validation_errors():
    with pytest.raises(ValueError, match=r"Expected parameter scale \(Tensor of shape \(\)\) of distribution "
                       r"Normal\(loc: 0.0, scale: -1.0\) to satisfy the constraint GreaterThan\(lower_bound=0.0\), "
                       r"but found invalid values:\n-1.0"):
        D.Normal(0.0, -1.0, validate_args=True)
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but not both."):
        D.Bernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match="constraint Interval"):
        D.Bernoulli(t64([0.2, 2.0]), validate_args=True)
    with pytest.raises(ValueError, match="constraint Simplex"):
        D.Categorical(t64([0.2, -2.0]), validate_args=True)
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        D.Categorical(t64(1.0))
    with pytest.raises(ValueError, match="`concentration` parameter must be at least one-dimensional."):
        D.Dirichlet(t64(1.0))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix or scale_tril"):
        D.MultivariateNormal(t64([0.0, 0.0]))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional."):
        D.MultivariateNormal(t64(0.0), t64(np.eye(1)))
    with pytest.raises(ValueError, match="constraint PositiveDefinite"):
        D.MultivariateNormal(t64([0.0, 0.0]), t64([[1.0, 2.0], [2.0, 1.0]]), validate_args=True)
    with pytest.raises(ValueError, match="constraint LessThan"):
        D.Uniform(1.0, 0.0, validate_args=True)
    with pytest.raises(ValueError, match="constraint GreaterThan"):
        D.Gamma(t64([-1.0]), 1.0, validate_args=True)
    with pytest.raises(ValueError, match=r"Expected reinterpreted_batch_ndims <= len\(base_distribution.batch_shape\), "
                       r"actual 2 vs 1"):
        D.Independent(D.Normal(t64([0.0, 0.0]), 1.0), 2)
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0


def test_sample_validation_errors():
    d = D.Normal(t64([0.0]), t64([1.0]), validate_args=True)
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        d.log_prob(1.0)
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape\\+event_shape"):
        D.Normal(t64([0.0, 1.0]), 1.0, validate_args=True).log_prob(t64([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"Expected value argument \(Tensor of shape \(\)\) to be within the support "
                       r"\(Interval\(lower_bound=0.0, upper_bound=1.0\)\) of the distribution "
                       r"Uniform\(low: 0.0, high: 1.0\)"):
        D.Uniform(0.0, 1.0, validate_args=True).log_prob(t64(2.0))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(t64([1.0, 1.0, 1.0]), validate_args=True).log_prob(t64([0.5, 0.5]))
    with pytest.raises(ValueError, match="within the support"):
        D.Bernoulli(0.3, validate_args=True).log_prob(t64(0.5))
    # without validation out-of-support values give -inf rather than an error
    assert float(D.Uniform(0.0, 1.0, validate_args=False).log_prob(t64(2.0))) == -math.inf


def test_default_validate_args_switch():
    try:
        D.Distribution.set_default_validate_args(False)
        assert D.Normal(0.0, -1.0).scale.item() == -1.0
        D.Distribution.set_default_validate_args(True)
        with pytest.raises(ValueError):
            D.Normal(0.0, -1.0)
        with pytest.raises(ValueError):
            D.Distribution.set_default_validate_args(3)
    finally:
        D.Distribution.set_default_validate_args(True)


def test_expand_requires_custom_method_in_subclasses():
    class MyNormal(D.Normal):
        def __init__(self, loc):
            super().__init__(loc, 1.0)
    with pytest.raises(NotImplementedError, match="must also define a custom .expand"):
        MyNormal(t64([0.0])).expand((3,))


# ---------------------------------------------------------------------------------------- against PyTorch


def _torch_cases(torch):
    td = torch.distributions
    P = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)  # noqa: E731
    c2 = RNG.uniform(0.5, 3, (2, 3))
    cov = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 1.5]])
    return [
        ("Normal", [RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)], lambda m, p: m.Normal(*p),
         RNG.standard_normal(3)),
        ("Uniform", [np.array([0.0, -1.0]), np.array([2.0, 3.0])], lambda m, p: m.Uniform(*p), np.array([0.5, 2.0])),
        ("Bernoulli", [np.array([0.2, 0.9])], lambda m, p: m.Bernoulli(probs=p[0]), np.array([1.0, 0.0])),
        ("BernoulliLogits", [np.array([0.2, -1.9])], lambda m, p: m.Bernoulli(logits=p[0]), np.array([1.0, 0.0])),
        ("Categorical", [RNG.uniform(0.1, 1, (2, 4))], lambda m, p: m.Categorical(probs=p[0]), np.array([1, 3])),
        ("CategoricalLogits", [RNG.standard_normal((2, 4))], lambda m, p: m.Categorical(logits=p[0]),
         np.array([0, 2])),
        ("OneHot", [RNG.uniform(0.1, 1, (2, 4))], lambda m, p: m.OneHotCategorical(probs=p[0]), np.eye(4)[[1, 2]]),
        ("Gamma", [RNG.uniform(0.5, 3, 3), RNG.uniform(0.5, 2, 3)], lambda m, p: m.Gamma(*p),
         RNG.uniform(0.1, 3, 3)),
        ("Beta", [RNG.uniform(0.5, 3, 3), RNG.uniform(0.5, 3, 3)], lambda m, p: m.Beta(*p), RNG.uniform(0.1, 0.9, 3)),
        ("Dirichlet", [c2], lambda m, p: m.Dirichlet(p[0]), RNG.dirichlet(np.ones(3), 2)),
        ("MVN", [RNG.standard_normal(3), cov], lambda m, p: m.MultivariateNormal(p[0], covariance_matrix=p[1]),
         RNG.standard_normal((2, 3))),
        ("MVNPrecision", [RNG.standard_normal(3), np.linalg.inv(cov)],
         lambda m, p: m.MultivariateNormal(p[0], precision_matrix=p[1]), RNG.standard_normal((2, 3))),
        ("LogNormal", [RNG.standard_normal(3), RNG.uniform(0.5, 2, 3)], lambda m, p: m.LogNormal(*p),
         RNG.uniform(0.1, 3, 3)),
        ("Independent", [RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2, (2, 3))],
         lambda m, p: m.Independent(m.Normal(*p), 1), RNG.standard_normal((2, 3))),
    ], P, td


def test_against_torch():
    torch = pytest.importorskip("torch")
    cases, P, td = _torch_cases(torch)
    for name, params, make, value in cases:
        ep = [t64(p, True) for p in params]
        tp = [P(p) for p in params]
        e, t = make(D, ep), make(td, tp)
        assert tuple(e.batch_shape) == tuple(t.batch_shape) and tuple(e.event_shape) == tuple(t.event_shape), name
        is_index = name.startswith("Categorical")
        ev = ember.tensor(value) if is_index else t64(value)
        tv = torch.tensor(value)
        out_e = [e.log_prob(ev), e.entropy()]
        out_t = [t.log_prob(tv), t.entropy()]
        for attr in ("mean", "variance", "mode", "stddev"):
            a, b = getattr(e, attr), getattr(t, attr)
            np.testing.assert_allclose(npy(a), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name + attr)
        if name in ("Normal", "Uniform", "Gamma", "LogNormal"):
            out_e.append(e.cdf(ev))
            out_t.append(t.cdf(tv))
        if name in ("Normal", "Uniform", "LogNormal"):
            out_e.append(e.icdf(t64(np.full(value.shape, 0.3))))
            out_t.append(t.icdf(torch.full(value.shape, 0.3, dtype=torch.float64)))
        for k, (a, b) in enumerate(zip(out_e, out_t)):
            np.testing.assert_allclose(npy(a), b.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg="%s %d" % (name, k))
            if name == "Gamma" and k == 2:
                continue  # PyTorch has no gradient of igamma in the concentration
            gs = ember.autograd.grad(a.sum(), ep, allow_unused=True, retain_graph=True)
            gt = torch.autograd.grad(b.sum(), tp, allow_unused=True, retain_graph=True)
            for x, y in zip(gs, gt):
                if y is not None:
                    np.testing.assert_allclose(npy(x), y.numpy(), rtol=1e-8, atol=1e-10,
                                               err_msg="%s grad %d" % (name, k))


def test_gamma_gradient_against_torch():
    torch = pytest.importorskip("torch")
    alpha = np.array([0.05, 0.3, 1.0, 2.5, 8.0, 30.0, 200.0])
    z = np.array([1e-8, 0.2, 1.3, 2.0, 9.5, 25.0, 210.0])
    from ember.distributions.utils import standard_gamma_grad
    ours = npy(standard_gamma_grad(t64(alpha), t64(z)))
    ref = torch._standard_gamma_grad(torch.tensor(alpha), torch.tensor(z)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=2e-4)


EXPAND_CASES = MC_CASES + [("categorical", lambda: D.Categorical(t64([[0.2, 0.8], [0.5, 0.5]]))),
                           ("independent", lambda: D.Independent(D.Normal(t64([[0.0, 1.0]]), 1.0), 1))]


@pytest.mark.parametrize("name,make", EXPAND_CASES, ids=[c[0] for c in EXPAND_CASES])
def test_expand_shapes_and_values(name, make):
    d = make()
    batch = (4,) + tuple(d.batch_shape)
    e = d.expand(batch)
    assert tuple(e.batch_shape) == batch and tuple(e.event_shape) == tuple(d.event_shape)
    ember.manual_seed(3)
    x = d.sample((4,))
    assert tuple(x.shape) == batch + tuple(d.event_shape)
    assert np.allclose(npy(e.log_prob(x)), npy(d.log_prob(x)))
    assert tuple(e.sample((2,)).shape) == (2,) + batch + tuple(d.event_shape)
    assert type(e) is type(d)


def test_float32_zero_size_and_noncontiguous_parameters():
    for d in [D.Normal(ember.zeros(3), ember.ones(3)), D.Gamma(ember.ones(3), ember.ones(3)),
              D.Beta(ember.ones(3), ember.ones(3)), D.Dirichlet(ember.ones(2, 3)),
              D.MultivariateNormal(ember.zeros(3), ember.eye(3)), D.Bernoulli(ember.full((3,), 0.3))]:
        x = d.sample((2,))
        assert x.dtype is ember.float32 and d.log_prob(x).dtype is ember.float32
    for d in [D.Normal(ember.zeros(0), 1.0), D.Gamma(ember.ones(0), 1.0), D.Dirichlet(ember.ones(0, 3)),
              D.Categorical(ember.ones(0, 3)), D.MultivariateNormal(ember.zeros(0, 2), ember.eye(2))]:
        x = d.sample((5,))
        assert x.shape[0] == 5 and x.numel() == 0 and d.log_prob(x).numel() == 0
    loc = t64(RNG.standard_normal((3, 2))).t()  # non-contiguous
    scale = t64(RNG.uniform(0.5, 2, (3, 2))).t()
    d = D.Normal(loc, scale)
    x = t64(RNG.standard_normal((2, 3)))
    ref = -((npy(x) - npy(loc)) ** 2) / (2 * npy(scale) ** 2) - np.log(npy(scale)) - 0.5 * math.log(2 * math.pi)
    assert np.allclose(npy(d.log_prob(x)), ref)
