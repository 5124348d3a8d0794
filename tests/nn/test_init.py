"""ember.nn.init and every layer's default initialisation, checked statistically (Kolmogorov-Smirnov distance to
the exact distribution, seeded so the tests are deterministic) and, with torch installed, against torch's own
samples."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.init as init
from nn_testing import npy, torch_or_skip

_erf = np.vectorize(math.erf)


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(1234)


def _ks_uniform(x, a, b):
    x = np.sort(np.asarray(x, np.float64).ravel())
    n = x.size
    cdf = np.clip((x - a) / (b - a), 0, 1)
    return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def _ks_normal(x, mean, std):
    x = np.sort(np.asarray(x, np.float64).ravel())
    n = x.size
    cdf = 0.5 * (1 + _erf((x - mean) / (std * np.sqrt(2))))
    return max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))


def _ks_limit(n):
    return 1.95 / np.sqrt(n)  # 0.1% significance


def assert_uniform(t, bound):
    x = npy(t)
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert _ks_uniform(x, -bound, bound) < _ks_limit(x.size)


def assert_normal(t, std, mean=0.0):
    x = npy(t)
    assert _ks_normal(x, mean, std) < _ks_limit(x.size)


# ================================================================================ the init functions


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fan_in_fan_out():
    assert init._calculate_fan_in_and_fan_out(ember.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 4, 3, 2)) == (24, 48)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(5))


def test_basic_fills_return_the_tensor_and_need_no_grad_mode():
    w = nn.Parameter(ember.empty(3, 4))
    assert init.constant_(w, 0.5) is w and (w == 0.5).all().item()
    assert init.ones_(w) is w and (w == 1).all().item()
    assert init.zeros_(w) is w and (w == 0).all().item()
    assert w.requires_grad and w.grad_fn is None  # filled in place without recording history
    init.eye_(w)
    np.testing.assert_array_equal(npy(w), np.eye(3, 4))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(ember.empty(2, 2, 2))
    d = init.dirac_(ember.empty(4, 2, 3, 3), groups=2)
    x = ember.randn(1, 2, 5, 5)
    y = nn.functional.conv2d(x, d, padding=1, groups=1)
    np.testing.assert_allclose(npy(y)[0, :2], npy(x)[0], atol=1e-6)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        init.dirac_(ember.empty(2, 2))


def test_uniform_and_normal_distributions_and_generators():
    t = ember.empty(40000)
    assert_uniform(init.uniform_(t, -2.0, 2.0), 2.0)
    assert_normal(init.normal_(t, 1.5, 0.5), 0.5, 1.5)
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    a = init.normal_(ember.empty(10), generator=g1)
    b = init.normal_(ember.empty(10), generator=g2)
    np.testing.assert_array_equal(npy(a), npy(b))


def test_xavier_and_kaiming():
    w = ember.empty(200, 300)
    assert_uniform(init.xavier_uniform_(w, gain=2.0), 2.0 * math.sqrt(6 / 500))
    assert_normal(init.xavier_normal_(w), math.sqrt(2 / 500))
    assert_uniform(init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2) * math.sqrt(3 / 300))
    assert_normal(init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 200))
    assert_uniform(init.kaiming_uniform_(w, a=math.sqrt(5)), 1 / math.sqrt(300))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(w, mode="fan_avg")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(ember.empty(0, 3))


def test_trunc_normal():
    t = init.trunc_normal_(ember.empty(50000), mean=0.5, std=2.0, a=-1.0, b=3.0)
    x = npy(t).astype(np.float64)
    assert x.min() >= -1.0 and x.max() <= 3.0
    # KS against the truncated normal CDF
    lo, hi = (-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0
    phi = lambda z: 0.5 * (1 + _erf(z / np.sqrt(2)))  # noqa: E731
    xs = np.sort(x)
    cdf = (phi((xs - 0.5) / 2.0) - phi(lo)) / (phi(hi) - phi(lo))
    n = xs.size
    d = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert d < _ks_limit(n)
    narrow = npy(init.trunc_normal_(ember.empty(20000), std=0.02))
    assert_normal(ember.tensor(narrow), 0.02)  # bounds at +-100 std: a plain normal
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        tail = npy(init.trunc_normal_(ember.empty(1000), mean=0.0, std=1.0, a=4.0, b=5.0))
    assert tail.min() >= 4.0 and tail.max() <= 5.0 and np.isfinite(tail).all()


def test_orthogonal_and_sparse():
    for shape in [(5, 5), (3, 7), (7, 3), (4, 2, 3)]:
        w = init.orthogonal_(ember.empty(*shape), gain=2.0)
        m = npy(w).reshape(shape[0], -1).astype(np.float64)
        gram = m @ m.T if shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(ember.empty(3))
    s = npy(init.sparse_(ember.empty(10, 6), sparsity=0.3))
    assert ((s == 0).sum(0) >= 3).all()


def test_init_functions_match_torch_samples():
    torch = torch_or_skip()
    torch.manual_seed(0)
    for name, kw in [("xavier_uniform_", {}), ("xavier_normal_", dict(gain=0.5)),
                     ("kaiming_uniform_", dict(a=0.1, mode="fan_out")), ("kaiming_normal_", {}),
                     ("trunc_normal_", dict(std=0.7, a=-1.0, b=0.5)), ("orthogonal_", {})]:
        e = npy(getattr(init, name)(ember.empty(100, 80), **kw)).ravel()
        t = getattr(torch.nn.init, name)(torch.empty(100, 80), **kw).numpy().ravel()
        assert _ks_two_sample(e, t) < 1.95 * np.sqrt(2 / e.size), name


def _ks_two_sample(a, b):
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return np.abs(fa - fb).max()


# ================================================================================ default layer initialisation


def test_linear_and_conv_defaults():
    lin = nn.Linear(300, 200)
    assert_uniform(lin.weight, 1 / math.sqrt(300))
    big_bias = nn.Linear(50, 20000)
    assert_uniform(big_bias.bias, 1 / math.sqrt(50))
    conv = nn.Conv2d(32, 64, 3, groups=2)
    bound = 1 / math.sqrt(16 * 9)
    assert_uniform(conv.weight, bound)
    assert np.abs(npy(conv.bias)).max() <= bound
    tconv = nn.ConvTranspose2d(64, 32, 3)  # fan_in from weight dim 1: out_channels * k * k
    assert_uniform(tconv.weight, 1 / math.sqrt(32 * 9))
    conv1 = nn.Conv1d(16, 300, 5)
    assert_uniform(conv1.weight, 1 / math.sqrt(80))
    bil = nn.Bilinear(20, 30, 40)
    assert_uniform(bil.weight, 1 / math.sqrt(20))


def test_other_layer_defaults():
    assert_normal(nn.Embedding(200, 100).weight, 1.0)
    for cls in (nn.RNN, nn.LSTM, nn.GRU):
        rnn = cls(64, 100)
        for p in rnn.parameters():
            assert np.abs(npy(p)).max() <= 0.1 * (1 + 1e-6)
        assert_uniform(rnn.weight_hh_l0, 0.1)
    mha = nn.MultiheadAttention(64, 4)
    assert_uniform(mha.in_proj_weight, math.sqrt(6 / (64 + 192)))
    assert_uniform(mha.out_proj.weight, 1 / math.sqrt(64))
    assert (mha.in_proj_bias == 0).all().item() and (mha.out_proj.bias == 0).all().item()
    kv = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    assert np.abs(npy(kv.bias_k)).max() > 0
    for norm in (nn.BatchNorm2d(5), nn.LayerNorm(5), nn.GroupNorm(1, 5)):
        assert (norm.weight == 1).all().item() and (norm.bias == 0).all().item()
    bn = nn.BatchNorm1d(5)
    assert (bn.running_mean == 0).all().item() and (bn.running_var == 1).all().item()
    assert (nn.PReLU(3).weight == 0.25).all().item()


def test_default_inits_match_torch_distributions():
    torch = torch_or_skip()
    torch.manual_seed(0)
    specs = [("Linear", (120, 100), "weight"), ("Conv2d", (8, 16, 5), "weight"),
             ("ConvTranspose2d", (16, 8, 5), "weight"), ("Bilinear", (10, 12, 30), "weight"),
             ("Embedding", (100, 50), "weight"), ("LSTM", (20, 30), "weight_ih_l0"),
             ("GRU", (20, 30), "weight_hh_l0"), ("MultiheadAttention", (32, 4), "in_proj_weight"),
             ("Linear", (10, 5000), "bias")]
    for name, args, attr in specs:
        e = npy(getattr(getattr(nn, name)(*args), attr)).ravel()
        t = getattr(getattr(torch.nn, name)(*args), attr).detach().numpy().ravel()
        assert e.shape == t.shape, name
        assert _ks_two_sample(e, t) < 1.95 * np.sqrt(2 / e.size), (name, attr)
