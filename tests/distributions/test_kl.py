"""kl_divergence: every registered pair against a Monte-Carlo estimate E_p[log p - log q] (fixed seed,
6 standard errors), KL(p, p) = 0, float64 gradcheck, dispatch rules and errors, and PyTorch's values and
gradients when it is installed."""
import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.autograd import gradcheck

RNG = np.random.default_rng(11)


def t64(a, rg=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return t.detach().numpy()


def _cov(seed):
    a = np.random.default_rng(seed).standard_normal((3, 3))
    return a @ a.T + 2 * np.eye(3)


# (name, make(module, params) -> (p, q), numpy parameters)
PAIRS = [
    ("normal", lambda m, p: (m.Normal(p[0], p[1]), m.Normal(p[2], p[3])),
     [RNG.standard_normal(2), RNG.uniform(0.5, 2, 2), RNG.standard_normal(2), RNG.uniform(0.5, 2, 2)]),
    ("bernoulli", lambda m, p: (m.Bernoulli(p[0]), m.Bernoulli(p[1])),
     [RNG.uniform(0.1, 0.9, 2), RNG.uniform(0.1, 0.9, 2)]),
    ("categorical", lambda m, p: (m.Categorical(p[0]), m.Categorical(p[1])),
     [RNG.uniform(0.1, 1, (2, 4)), RNG.uniform(0.1, 1, (2, 4))]),
    ("onehot", lambda m, p: (m.OneHotCategorical(p[0]), m.OneHotCategorical(p[1])),
     [RNG.uniform(0.1, 1, (2, 4)), RNG.uniform(0.1, 1, (2, 4))]),
    ("uniform", lambda m, p: (m.Uniform(p[0], p[1]), m.Uniform(p[0] - 1, p[1] + 0.5)),
     [np.array([0.0, 1.0]), np.array([1.0, 3.0])]),
    ("uniform_normal", lambda m, p: (m.Uniform(p[0], p[1]), m.Normal(p[2], p[3])),
     [np.array([0.0, 1.0]), np.array([1.0, 3.0]), RNG.standard_normal(2), RNG.uniform(0.5, 2, 2)]),
    ("beta", lambda m, p: (m.Beta(p[0], p[1]), m.Beta(p[2], p[3])),
     [RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 3, 2)]),
    ("gamma", lambda m, p: (m.Gamma(p[0], p[1]), m.Gamma(p[2], p[3])),
     [RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 2, 2), RNG.uniform(0.5, 3, 2), RNG.uniform(0.5, 2, 2)]),
    ("dirichlet", lambda m, p: (m.Dirichlet(p[0]), m.Dirichlet(p[1])),
     [RNG.uniform(0.5, 3, (2, 3)), RNG.uniform(0.5, 3, (2, 3))]),
    # symmetrised / triangular views of the matrix parameters, so finite differences stay on the valid set
    ("mvn", lambda m, p: (m.MultivariateNormal(p[0], (p[1] + p[1].mT) / 2),
                          m.MultivariateNormal(p[2], scale_tril=p[3].tril())),
     [RNG.standard_normal(3), _cov(1), RNG.standard_normal(3), np.linalg.cholesky(_cov(2))]),
    ("independent", lambda m, p: (m.Independent(m.Normal(p[0], p[1]), 1), m.Independent(m.Normal(p[2], p[3]), 1)),
     [RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2, (2, 3)), RNG.standard_normal((2, 3)),
      RNG.uniform(0.5, 2, (2, 3))]),
    ("lognormal", lambda m, p: (m.LogNormal(p[0], p[1]), m.LogNormal(p[2], p[3])),
     [RNG.standard_normal(2), RNG.uniform(0.5, 2, 2), RNG.standard_normal(2), RNG.uniform(0.5, 2, 2)]),
]


@pytest.mark.parametrize("name,make,params", PAIRS, ids=[c[0] for c in PAIRS])
def test_kl_against_monte_carlo(name, make, params):
    ember.manual_seed(99)
    p, q = make(D, [t64(a) for a in params])
    kl = npy(D.kl_divergence(p, q))
    x = p.sample((40000,))
    if name == "uniform_normal":
        x = x.clamp(min=p.low, max=p.high)  # keep samples inside p's support for log_prob
    diff = npy(p.log_prob(x) - q.log_prob(x))
    se = diff.std(0) / np.sqrt(diff.shape[0])
    assert np.all(np.abs(diff.mean(0) - kl) < 6 * se + 1e-9), (diff.mean(0), kl)
    assert np.allclose(npy(D.kl_divergence(p, p)), 0, atol=1e-12)


@pytest.mark.parametrize("name,make,params", [c for c in PAIRS if c[0] not in ("uniform", "uniform_normal")],
                         ids=[c[0] for c in PAIRS if c[0] not in ("uniform", "uniform_normal")])
def test_kl_gradcheck(name, make, params):
    ps = [t64(a, True) for a in params]
    assert gradcheck(lambda *a: D.kl_divergence(*make(D, list(a))), ps)


def test_infinite_kl_outside_support():
    assert float(D.kl_divergence(D.Uniform(0.0, 2.0), D.Uniform(0.5, 3.0))) == float("inf")
    assert float(D.kl_divergence(D.Bernoulli(t64(0.5)), D.Bernoulli(t64(0.0)))) == float("inf")
    assert float(D.kl_divergence(D.Bernoulli(t64(0.0)), D.Bernoulli(t64(0.5)))) == pytest.approx(np.log(2))
    c = D.kl_divergence(D.Categorical(t64([0.5, 0.5, 0.0])), D.Categorical(t64([0.5, 0.25, 0.25])))
    assert float(c) == pytest.approx(0.5 * np.log(2))


def test_dispatch_and_errors():
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Gamma and q type "
                       "Normal"):
        D.kl_divergence(D.Gamma(1.0, 1.0), D.Normal(0.0, 1.0))

    class MyNormal(D.Normal):
        pass
    # a subclass without its own rule uses its parent's
    v = D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 1.0))
    assert float(v) == pytest.approx(0.5)

    @D.register_kl(MyNormal, MyNormal)
    def _kl(p, q):
        return ember.tensor(42.0)
    assert float(D.kl_divergence(MyNormal(0.0, 1.0), MyNormal(1.0, 1.0))) == 42.0
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Independent(D.Normal(t64(np.zeros((2, 2))), 1.0), 1),
                        D.Independent(D.Normal(t64(np.zeros((2, 2))), 1.0), 2))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.MultivariateNormal(t64(np.zeros(2)), t64(np.eye(2))),
                        D.MultivariateNormal(t64(np.zeros(3)), t64(np.eye(3))))


@pytest.mark.parametrize("name,make,params", PAIRS, ids=[c[0] for c in PAIRS])
def test_kl_against_torch(name, make, params):
    torch = pytest.importorskip("torch")
    ep = [t64(a, True) for a in params]
    tp = [torch.tensor(a, requires_grad=True) for a in params]
    e = D.kl_divergence(*make(D, ep))
    t = torch.distributions.kl_divergence(*make(torch.distributions, tp))
    np.testing.assert_allclose(npy(e), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    ge = ember.autograd.grad(e.sum(), ep)
    gt = torch.autograd.grad(t.sum(), tp)
    for a, b in zip(ge, gt):
        np.testing.assert_allclose(npy(a), b.numpy(), rtol=1e-8, atol=1e-10)
