"""Every optimizer and option against a float64 numpy implementation of PyTorch's documented update (20 steps of
linear regression from the same start), against torch.optim when PyTorch is installed, plus the fused kernels'
layout, dtype, threading and argument-checking paths."""
import math

import numpy as np
import pytest

import ember

STEPS = 20
RNG = np.random.default_rng(1234)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 4))
W0 = RNG.standard_normal((4, 3)) * 0.5
B0 = RNG.standard_normal(4) * 0.5


# ===================================================================================== float64 references


def _grads(w, b, sign):
    """Gradient of sign * mean((X w^T + b - Y)^2): the objective the run minimizes (or maximizes)."""
    d = 2.0 * (X @ w.T + b - Y) / Y.size
    return {"w": sign * (d.T @ X), "b": sign * d.sum(0)}


def _direction(p, g, lr, weight_decay, maximize, decoupled_weight_decay=False):
    """(p, g) after maximize and weight decay: g + weight_decay * p, or (decoupled) p * (1 - lr * weight_decay)."""
    g = -g if maximize else g
    if weight_decay:
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    return p, g


def ref_sgd(p, g, s, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
    p, g = _direction(p, g, lr, weight_decay, maximize)
    if momentum:
        if "buf" not in s:
            s["buf"] = g.copy()
        else:
            s["buf"] = momentum * s["buf"] + (1 - dampening) * g
        g = g + momentum * s["buf"] if nesterov else s["buf"]
    return p - lr * g


def ref_adam(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False,
             decoupled_weight_decay=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _direction(p, g, lr, weight_decay, maximize, decoupled_weight_decay)
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    v = s["v"]
    if amsgrad:
        v = s["vmax"] = np.maximum(s.get("vmax", 0), s["v"])
    m_hat = s["m"] / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(p, g, s, weight_decay=1e-2, **kw):
    return ref_adam(p, g, s, weight_decay=weight_decay, decoupled_weight_decay=True, **kw)


def ref_adagrad(p, g, s, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False):
    t = s["t"] = s.get("t", 0) + 1
    p, g = _direction(p, g, lr, weight_decay, maximize)
    clr = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return p - clr * g / (np.sqrt(s["sum"]) + eps)


def ref_rmsprop(p, g, s, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                maximize=False):
    p, g = _direction(p, g, lr, weight_decay, maximize)
    s["v"] = alpha * s.get("v", 0) + (1 - alpha) * g * g
    if centered:
        s["a"] = alpha * s.get("a", 0) + (1 - alpha) * g
        d = np.sqrt(s["v"] - s["a"] ** 2) + eps
    else:
        d = np.sqrt(s["v"]) + eps
    if momentum > 0:
        s["buf"] = momentum * s.get("buf", 0) + g / d
        return p - lr * s["buf"]
    return p - lr * g / d


def ref_adamax(p, g, s, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _direction(p, g, lr, weight_decay, maximize)
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0), np.abs(g) + eps)
    return p - lr / (1 - b1 ** t) * s["m"] / s["u"]


def ref_nadam(p, g, s, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _direction(p, g, lr, weight_decay, maximize, decoupled_weight_decay)
    mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["mu_prod"] = s.get("mu_prod", 1.0) * mu
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    d = np.sqrt(s["v"] / (1 - b2 ** t)) + eps
    p = p - lr * (1 - mu) / (1 - s["mu_prod"]) * g / d
    return p - lr * mu_next / (1 - s["mu_prod"] * mu_next) * s["m"] / d


REFS = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "Adagrad": ref_adagrad, "RMSprop": ref_rmsprop,
        "Adamax": ref_adamax, "NAdam": ref_nadam}

CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, maximize=True)),
    ("SGD", dict(lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.2, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    # NAdam's un-averaged gradient term makes this problem's trajectory sensitive at larger rates (PyTorch's
    # float32 run leaves the float64 one as far as Ember's does), so its rate stays where fp32 rounding rules
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, betas=(0.85, 0.995), maximize=True)),
]


def _ids(cfg):
    name, kw = cfg
    return name + "-" + ("-".join("%s=%s" % kv for kv in sorted(kw.items())) or "default")


def _skip_bias(step):
    """Steps at which the bias gets no gradient (grad None): per-parameter step counts must diverge."""
    return step % 3 == 2


def reference_run(name, kw, skip=False):
    sign = -1.0 if kw.get("maximize") else 1.0
    p = {"w": W0.copy(), "b": B0.copy()}
    states = {"w": {}, "b": {}}
    for step in range(STEPS):
        g = _grads(p["w"], p["b"], sign)
        for k in ("w", "b"):
            if k == "b" and skip and _skip_bias(step):
                continue
            p[k] = REFS[name](p[k], g[k], states[k], **kw)
    return p


def ember_run(name, kw, dtype=ember.float32, skip=False):
    w = ember.tensor(W0, dtype=dtype, requires_grad=True)
    b = ember.tensor(B0, dtype=dtype, requires_grad=True)
    opt = getattr(ember.optim, name)([w, b], **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    x, y = ember.tensor(X, dtype=dtype), ember.tensor(Y, dtype=dtype)
    for step in range(STEPS):
        opt.zero_grad()
        loss = ((x @ w.t() + b - y) ** 2).mean() * sign
        loss.backward()
        if skip and _skip_bias(step):
            b.grad = None
        opt.step()
    return {"w": w.detach().double().numpy(), "b": b.detach().double().numpy()}, opt


@pytest.fixture
def float64_default():
    """Counters such as NAdam's mu_product are float64 only when the default dtype is (as in PyTorch)."""
    prev = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    yield
    ember.set_default_dtype(prev)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_float64_matches_reference_exactly(cfg, float64_default):
    """In float64 the fused kernel must reproduce the documented update to double rounding."""
    name, kw = cfg
    got, _ = ember_run(name, kw, ember.float64)
    want = reference_run(name, kw)
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_float32_matches_reference_to_fp32_rounding(cfg):
    name, kw = cfg
    got, _ = ember_run(name, kw, ember.float32)
    want = reference_run(name, kw)
    moved = max(np.abs(want["w"] - W0).max(), np.abs(want["b"] - B0).max())
    assert moved > 1e-3  # the run really trained
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(REFS))
def test_skipped_parameter_keeps_its_own_step_count(name, float64_default):
    kw = dict(CONFIGS[[c[0] for c in CONFIGS].index(name)][1])
    got, opt = ember_run(name, kw, ember.float64, skip=True)
    want = reference_run(name, kw, skip=True)
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)
    if name != "SGD":
        w, b = opt.param_groups[0]["params"]
        assert opt.state[w]["step"].item() == STEPS
        assert opt.state[b]["step"].item() == STEPS - sum(_skip_bias(s) for s in range(STEPS))


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_matches_torch_optim(cfg):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    got, opt = ember_run(name, kw, ember.float32)
    w = torch.tensor(W0, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(B0, dtype=torch.float32, requires_grad=True)
    topt = getattr(torch.optim, name)([w, b], **kw)
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    sign = -1.0 if kw.get("maximize") else 1.0
    for _ in range(STEPS):
        topt.zero_grad()
        (((x @ w.t() + b - y) ** 2).mean() * sign).backward()
        topt.step()
    np.testing.assert_allclose(got["w"], w.detach().double().numpy(), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(got["b"], b.detach().double().numpy(), rtol=2e-5, atol=2e-6)
    # same state keys and values, so state dicts are interchangeable
    tstate = topt.state_dict()["state"]
    estate = opt.state_dict()["state"]
    assert set(estate) == set(tstate)
    for i in tstate:
        assert set(estate[i]) == set(tstate[i]), name
        for key, tv in tstate[i].items():
            ev = estate[i][key]
            np.testing.assert_allclose(np.asarray(ev.double()), tv.double().numpy(), rtol=1e-4, atol=2e-5)


# ===================================================================================== kernel paths


@pytest.mark.parametrize("dtype,tol", [(ember.float16, 4e-3), (ember.bfloat16, 3e-2)])
@pytest.mark.parametrize("cfg", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True)),
                                 ("AdamW", dict(lr=0.05)), ("Adagrad", dict(lr=0.1)),
                                 ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adamax", dict(lr=0.05)),
                                 ("NAdam", dict(lr=0.05))], ids=lambda c: c[0])
def test_half_precision_parameters(cfg, dtype, tol):
    """16-bit parameters update through float32 arithmetic, with state kept in the parameter's dtype: five
    steps with fixed gradients stay within 16-bit rounding of the float64 reference."""
    name, kw = cfg
    p0 = np.asarray(ember.tensor(W0, dtype=dtype).double())
    grads = [np.asarray(ember.tensor(W0[::-1] * (1 + 0.3 * k), dtype=dtype).double()) for k in range(5)]
    p = ember.tensor(p0, dtype=dtype, requires_grad=True)
    opt = getattr(ember.optim, name)([p], **kw)
    want, s = p0, {}
    for g in grads:
        p.grad = ember.tensor(g, dtype=dtype)
        opt.step()
        want = REFS[name](want, g, s, **kw)
    np.testing.assert_allclose(np.asarray(p.detach().double()), want, rtol=tol, atol=tol)
    for key, v in opt.state[p].items():
        if key not in ("step", "mu_product"):
            assert v.dtype is dtype


def _one_step(opt_cls, params, grads, **kw):
    for p, g in zip(params, grads):
        p.grad = g
    opt = opt_cls(params, **kw)
    opt.step()
    return opt


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.1, amsgrad=True)),
                                     ("RMSprop", dict(centered=True, momentum=0.5)), ("Adamax", {}),
                                     ("Adagrad", {}), ("NAdam", {})])
def test_non_contiguous_and_non_dense_parameters(name, kw):
    """Transposed parameters, gradients in another layout and non-dense leaves give the contiguous result."""
    base = RNG.standard_normal((6, 8)).astype(np.float32)
    grad = RNG.standard_normal((6, 8)).astype(np.float32)
    cls = getattr(ember.optim, name)
    ref = ember.tensor(base, requires_grad=True)
    _one_step(cls, [ref], [ember.tensor(grad)], **kw)
    # transposed leaf with a contiguous gradient of the same logical values
    pt = ember.tensor(base.T.copy()).t().detach().requires_grad_()
    assert not pt.is_contiguous()
    _one_step(cls, [pt], [ember.tensor(grad)], **kw)
    np.testing.assert_array_equal(pt.detach().numpy(), ref.detach().numpy())
    # non-dense leaf (every other column of a wider tensor): updated through a temporary, written back
    wide = ember.tensor(np.repeat(base, 2, axis=1))
    pn = wide[:, ::2].detach().requires_grad_()
    _one_step(cls, [pn], [ember.tensor(grad).t().contiguous().t()], **kw)
    np.testing.assert_array_equal(pn.detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(wide[:, 1::2].numpy(), base)  # the other columns are untouched


def test_large_groups_use_threads_and_match_reference():
    """Parameters larger than a thread's grain, mixed with tiny and empty ones, in one fused call."""
    sizes = [300_001, 7, 0, 70_000]
    ps = [RNG.standard_normal(n) for n in sizes]
    gs = [RNG.standard_normal(n) for n in sizes]
    params = [ember.tensor(p, dtype=ember.float64, requires_grad=True) for p in ps]
    opt = ember.optim.Adam(params, lr=0.01, weight_decay=0.1)
    for step in range(3):
        for p, g in zip(params, gs):
            p.grad = ember.tensor(g * (step + 1), dtype=ember.float64)
        opt.step()
    for p0, g, p in zip(ps, gs, params):
        s, want = {}, p0
        for step in range(3):
            want = ref_adam(want, g * (step + 1), s, lr=0.01, weight_decay=0.1)
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12, atol=1e-14)


def test_mixed_dtypes_in_one_group():
    a = ember.tensor(W0, dtype=ember.float64, requires_grad=True)
    b = ember.tensor(B0, dtype=ember.float32, requires_grad=True)
    a.grad = ember.ones_like(a)
    b.grad = ember.ones_like(b)
    ember.optim.Adam([a, b], lr=0.1).step()
    np.testing.assert_allclose(a.detach().numpy(), W0 - 0.1, rtol=1e-7)
    np.testing.assert_allclose(b.detach().numpy(), B0 - 0.1, rtol=1e-5)


def test_step_bumps_version_counters_of_params_and_state():
    w = ember.tensor(W0, requires_grad=True)
    w.grad = ember.ones_like(w)
    opt = ember.optim.Adam([w])
    v0 = w._version
    opt.step()
    assert w._version > v0
    ea = opt.state[w]["exp_avg"]
    v1 = ea._version
    opt.step()
    assert ea._version > v1


def test_step_after_forward_invalidates_saved_tensors():
    """The in-place update is visible to autograd: backward through a graph that saved the old weights fails."""
    w = ember.tensor(W0, requires_grad=True)
    x = ember.tensor(X)
    loss = ((x @ w.t()) ** 2).sum()
    w.grad = ember.ones_like(w)
    ember.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ===================================================================================== fused-call validation


def _adam_args(n=2, shape=(3,)):
    params = [ember.zeros(*shape) for _ in range(n)]
    grads = [ember.ones(*shape) for _ in range(n)]
    m = [ember.zeros(*shape) for _ in range(n)]
    v = [ember.zeros(*shape) for _ in range(n)]
    steps = [ember.tensor(0.0) for _ in range(n)]
    return params, grads, m, v, steps


def _call_adam(params, grads, m, v, steps, vmax=()):
    ember._C._adam_(params, grads, m, v, list(vmax), steps, 0.1, 0.9, 0.999, 1e-8, 0.0, bool(vmax), False, False)


@pytest.mark.parametrize("mutate,exc,match", [
    (lambda a: a[1].pop(), ValueError, "one 'grads' per parameter"),
    (lambda a: a[2].pop(), ValueError, "one 'exp_avg' per parameter"),
    (lambda a: a[4].pop(), ValueError, "one 'step' per parameter"),
    (lambda a: a[1].__setitem__(1, ember.ones(4)), RuntimeError, r"'grad' of parameter 1 has shape \[4\]"),
    (lambda a: a[1].__setitem__(0, ember.ones(3, dtype=ember.float64)), RuntimeError, "has dtype float64"),
    (lambda a: a[3].__setitem__(1, ember.ones(2)), RuntimeError, "'exp_avg_sq' of parameter 1 has shape"),
    (lambda a: a[0].__setitem__(0, ember.zeros(3, dtype=ember.int64)), TypeError, "floating-point"),
    (lambda a: a[4].__setitem__(1, ember.tensor(0)), RuntimeError, "one-element float32 or float64"),
    (lambda a: a[4].__setitem__(1, ember.zeros(2)), RuntimeError, "one-element float32 or float64"),
    (lambda a: a[0].__setitem__(1, ember.zeros(1).expand(3)), RuntimeError, "more than one element"),
    (lambda a: a[2].__setitem__(1, a[0][1]), RuntimeError, "shares memory with the parameter"),
])
def test_fused_call_validates_before_touching_memory(mutate, exc, match):
    args = list(_adam_args())
    mutate(args)
    params, grads, m, v, steps = args
    before = [p.numpy().copy() for p in params if p.dtype.is_floating_point and p.numel()]
    with pytest.raises(exc, match=match):
        _call_adam(params, grads, m, v, steps)
    after = [p.numpy().copy() for p in params if p.dtype.is_floating_point and p.numel()]
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)
    assert all(s.item() == 0 for s in steps if s.numel() == 1)


def test_fused_call_rejects_unexpected_optional_lists():
    params, grads, m, v, steps = _adam_args()
    with pytest.raises(ValueError, match="expected no 'max_exp_avg_sq'"):
        ember._C._adam_(params, grads, m, v, m, steps, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False)
    with pytest.raises(ValueError, match="one 'max_exp_avg_sq' per parameter"):
        ember._C._adam_(params, grads, m, v, [], steps, 0.1, 0.9, 0.999, 1e-8, 0.0, True, False, False)


def test_gradient_aliasing_a_state_buffer_is_read_from_a_copy():
    p = ember.zeros(4)
    g = ember.ones(4)
    buf = ember.ones(4)
    ember._C._sgd_([p], [buf], [buf], [False], 0.5, 0.5, 0.0, 0.0, False, False)
    # buf = 0.5 * 1 + 1 = 1.5 (with g read before buf is overwritten); p = -0.5 * 1.5
    np.testing.assert_allclose(buf.numpy(), 1.5)
    np.testing.assert_allclose(p.numpy(), -0.75)
    assert g.numpy().tolist() == [1, 1, 1, 1]


def test_nan_propagates_through_amsgrad_max_and_adamax():
    for cls, kw in [(ember.optim.Adam, dict(amsgrad=True)), (ember.optim.Adamax, {})]:
        p = ember.zeros(3, requires_grad=True)
        p.grad = ember.tensor([1.0, math.nan, 2.0])
        cls([p], **kw).step()
        r = p.detach().numpy()
        assert math.isnan(r[1]) and not math.isnan(r[0]) and not math.isnan(r[2])
