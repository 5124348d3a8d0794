"""Adadelta, RAdam, ASGD, Rprop, SparseAdam and LBFGS: float64 runs against numpy implementations of the documented
updates (no torch needed), against torch.optim in float64 and float32 when PyTorch is installed (weight decay,
maximize, parameter groups), state_dict round trips that resume bit-identically, and argument validation."""
import math

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim.sparse_adam import _sparse_adam_update

STEPS = 20
RNG = np.random.default_rng(2024)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 4))
W0 = RNG.standard_normal((4, 3)) * 0.5
B0 = RNG.standard_normal(4) * 0.5
B_LR_SCALE = 0.5  # the bias lives in a second param group with half the learning rate


@pytest.fixture
def float64_default():
    """Step counters and ASGD's eta/mu are float64 only when the default dtype is (in PyTorch too)."""
    prev = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    torch = None
    try:
        import torch
        tprev = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
    except ImportError:
        pass
    yield
    ember.set_default_dtype(prev)
    if torch is not None:
        torch.set_default_dtype(tprev)


# ===================================================================================== numpy references


def _direction(p, g, lr, weight_decay, maximize, decoupled=False):
    g = -g if maximize else g
    if weight_decay:
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
    return p, g


def ref_adadelta(p, g, s, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False):
    p, g = _direction(p, g, lr, weight_decay, maximize)
    s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0) + (1 - rho) * delta * delta
    return p - lr * delta


def ref_radam(p, g, s, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
              maximize=False):
    b1, b2 = betas
    t = s["t"] = s.get("t", 0) + 1
    p, g = _direction(p, g, lr, weight_decay, maximize, decoupled_weight_decay)
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if rho_t > 5:
        r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return p - lr * m_hat * r * math.sqrt(1 - b2 ** t) / (np.sqrt(s["v"]) + eps)
    return p - lr * m_hat


def ref_asgd(p, g, s, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False):
    t = s["t"] = s.get("t", 0) + 1
    eta, mu = s.get("eta", lr), s.get("mu", 1.0)
    p, g = _direction(p, g, lr, weight_decay, maximize)
    p = p * (1 - lambd * eta) - eta * g
    s["ax"] = p.copy() if mu == 1 else s["ax"] + mu * (p - s["ax"])
    s["eta"] = lr / (1 + lambd * lr * t) ** alpha
    s["mu"] = 1 / max(1, t - t0)
    return p


def ref_rprop(p, g, s, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False):
    g = -g if maximize else g
    prev = s.get("prev", np.zeros_like(p))
    size = s.get("size", np.full_like(p, lr))
    prod = g * prev
    factor = np.where(prod > 0, etas[1], np.where(prod < 0, etas[0], 1.0))
    s["size"] = np.clip(size * factor, *step_sizes)
    g = np.where(prod < 0, 0.0, g)
    s["prev"] = g
    return p - np.sign(g) * s["size"]


REFS = {"Adadelta": ref_adadelta, "RAdam": ref_radam, "ASGD": ref_asgd, "Rprop": ref_rprop}

CONFIGS = [
    ("Adadelta", dict(lr=0.5)),
    ("Adadelta", dict(lr=1.0, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    # RAdam's rectification switches on at step 6 with beta2 = 0.999; with 0.9 it does at once
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, weight_decay=0.05, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.05, alpha=0.6, t0=5)),  # averaging starts within the run
    ("ASGD", dict(lr=0.05, t0=3, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.05)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08))),  # both clamps bite
    ("Rprop", dict(lr=0.02, maximize=True)),
]


def _ids(cfg):
    name, kw = cfg
    return name + "-" + "-".join("%s=%s" % kv for kv in sorted(kw.items()))


def _grads(w, b, sign):
    d = 2.0 * (X @ w.T + b - Y) / Y.size
    return {"w": sign * (d.T @ X), "b": sign * d.sum(0)}


def _skip_bias(step):
    return step % 4 == 3


def reference_run(name, kw, steps=STEPS, skip=False):
    sign = -1.0 if kw.get("maximize") else 1.0
    p = {"w": W0.copy(), "b": B0.copy()}
    states = {"w": {}, "b": {}}
    kws = {"w": kw, "b": dict(kw, lr=kw["lr"] * B_LR_SCALE)}
    for step in range(steps):
        g = _grads(p["w"], p["b"], sign)
        for k in ("w", "b"):
            if not (k == "b" and skip and _skip_bias(step)):
                p[k] = REFS[name](p[k], g[k], states[k], **kws[k])
    return p, states


def make(lib, name, kw, dtype):
    w = lib.tensor(W0, dtype=dtype, requires_grad=True)
    b = lib.tensor(B0, dtype=dtype, requires_grad=True)
    opt = getattr(lib.optim, name)([{"params": [w]}, {"params": [b], "lr": kw["lr"] * B_LR_SCALE}], **kw)
    return w, b, opt


def train(lib, w, b, opt, kw, steps, start=0, skip=False):
    sign = -1.0 if kw.get("maximize") else 1.0
    x, y = lib.tensor(X, dtype=w.dtype), lib.tensor(Y, dtype=w.dtype)
    for step in range(start, start + steps):
        opt.zero_grad()
        (((x @ w.t() + b - y) ** 2).mean() * sign).backward()
        if skip and _skip_bias(step):
            b.grad = None
        opt.step()


def ember_run(name, kw, dtype=ember.float64, steps=STEPS, skip=False):
    w, b, opt = make(ember, name, kw, dtype)
    train(ember, w, b, opt, kw, steps, skip=skip)
    return {"w": w.detach().double().numpy(), "b": b.detach().double().numpy()}, opt


# ===================================================================================== element-wise optimizers


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_float64_matches_numpy_reference(cfg, float64_default):
    name, kw = cfg
    got, opt = ember_run(name, kw)
    want, states = reference_run(name, kw)
    moved = np.abs(want["w"] - W0).max()
    assert moved > 1e-2  # the run really trained
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-13)
    if name == "ASGD":  # the average is state too
        w = opt.param_groups[0]["params"][0]
        np.testing.assert_allclose(opt.state[w]["ax"].numpy(), states["w"]["ax"], rtol=1e-10, atol=1e-13)
        assert opt.state[w]["eta"].item() == pytest.approx(states["w"]["eta"], rel=1e-14)


@pytest.mark.parametrize("name", sorted(REFS))
def test_parameter_without_grad_keeps_its_own_step_count(name, float64_default):
    kw = next(kw for n, kw in CONFIGS if n == name)
    got, opt = ember_run(name, kw, skip=True)
    want, _ = reference_run(name, kw, skip=True)
    for k in ("w", "b"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-13)
    w, b = opt.param_groups[0]["params"][0], opt.param_groups[1]["params"][0]
    assert opt.state[w]["step"].item() == STEPS
    assert opt.state[b]["step"].item() == STEPS - sum(_skip_bias(s) for s in range(STEPS))


def _torch_run(torch, name, kw, dtype, steps=STEPS):
    w, b, opt = make(torch, name, kw, dtype)
    train(torch, w, b, opt, kw, steps)
    return w, b, opt


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_float64_matches_torch_optim(cfg, float64_default):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    got, opt = ember_run(name, kw)
    tw, tb, topt = _torch_run(torch, name, kw, torch.float64)
    np.testing.assert_allclose(got["w"], tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["b"], tb.detach().numpy(), rtol=1e-12, atol=1e-14)
    # the same state entries with the same values: state dicts are interchangeable
    esd, tsd = opt.state_dict(), topt.state_dict()
    assert [sorted(g) for g in esd["param_groups"]] == [sorted(g) for g in tsd["param_groups"]]
    for i, tstate in tsd["state"].items():
        assert set(esd["state"][i]) == set(tstate)
        for key, tv in tstate.items():
            np.testing.assert_allclose(np.asarray(esd["state"][i][key]), tv.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_float32_matches_torch_optim(cfg):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    got, opt = ember_run(name, kw, ember.float32)
    tw, tb, topt = _torch_run(torch, name, kw, torch.float32)
    np.testing.assert_allclose(got["w"], tw.detach().double().numpy(), rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(got["b"], tb.detach().double().numpy(), rtol=2e-5, atol=2e-6)
    for st in opt.state.values():
        assert st["step"].dtype is ember.float32 and all(v.dtype is ember.float32 for v in st.values())


@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=_ids)
def test_state_dict_round_trip_resumes_exactly(cfg, tmp_path):
    """Stop mid-run, save the optimizer with ember.save, load into a fresh optimizer: the updates continue
    bit-identically to an uninterrupted run (float32, so counters and eta/mu are float32 state too)."""
    name, kw = cfg
    w1, b1, opt1 = make(ember, name, kw, ember.float32)
    train(ember, w1, b1, opt1, kw, 15)

    w2, b2, opt2 = make(ember, name, kw, ember.float32)
    train(ember, w2, b2, opt2, kw, 6)
    ember.save({"w": w2, "b": b2, "opt": opt2.state_dict()}, tmp_path / "ckpt.pt")
    ckpt = ember.load(tmp_path / "ckpt.pt")
    w3, b3, opt3 = make(ember, name, kw, ember.float32)
    with ember.no_grad():
        w3.copy_(ckpt["w"])
        b3.copy_(ckpt["b"])
    opt3.load_state_dict(ckpt["opt"])
    train(ember, w3, b3, opt3, kw, 9, start=6)
    np.testing.assert_array_equal(w3.detach().numpy(), w1.detach().numpy())
    np.testing.assert_array_equal(b3.detach().numpy(), b1.detach().numpy())
    for p1, p3 in zip([w1, b1], [w3, b3]):
        for key, v in opt1.state[p1].items():
            np.testing.assert_array_equal(opt3.state[p3][key].numpy(), v.numpy())
            assert opt3.state[p3][key].dtype is v.dtype


@pytest.mark.parametrize("name", sorted(REFS))
def test_pytorch_state_dict_continues_in_ember(name, float64_default):
    torch = pytest.importorskip("torch")
    kw = next(kw for n, kw in CONFIGS[::-1] if n == name)
    tw, tb, topt = _torch_run(torch, name, kw, torch.float64, steps=7)
    sd = topt.state_dict()
    conv = {"param_groups": sd["param_groups"],
            "state": {k: {n: ember.tensor(v.numpy()) for n, v in st.items()} for k, st in sd["state"].items()}}
    w, b, opt = make(ember, name, kw, ember.float64)
    with ember.no_grad():
        w.copy_(ember.tensor(tw.detach().numpy()))
        b.copy_(ember.tensor(tb.detach().numpy()))
    opt.load_state_dict(conv)
    train(torch, tw, tb, topt, kw, 6)
    train(ember, w, b, opt, kw, 6)
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.detach().numpy(), tb.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(REFS))
def test_non_contiguous_parameter_matches_contiguous(name):
    kw = next(kw for n, kw in CONFIGS if n == name)
    base = RNG.standard_normal((5, 7)).astype(np.float32)
    grads = [RNG.standard_normal((5, 7)).astype(np.float32) for _ in range(3)]
    ref = ember.tensor(base, requires_grad=True)
    pt = ember.tensor(base.T.copy()).t().detach().requires_grad_()
    wide = ember.tensor(np.repeat(base, 2, axis=1))
    pn = wide[:, ::2].detach().requires_grad_()
    assert not pt.is_contiguous() and not pn.is_contiguous()
    opts = [getattr(optim, name)([p], **kw) for p in (ref, pt, pn)]
    for g in grads:
        for p, opt in zip((ref, pt, pn), opts):
            p.grad = ember.tensor(g)
            opt.step()
    np.testing.assert_array_equal(pt.detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(pn.detach().numpy(), ref.detach().numpy())
    np.testing.assert_array_equal(wide[:, 1::2].numpy(), base)  # the interleaved columns are untouched


def test_step_returns_closure_loss_and_zero_size_parameters_are_fine():
    for name in sorted(REFS):
        p = ember.zeros(0, requires_grad=True)
        w = ember.tensor(W0, requires_grad=True)
        opt = getattr(optim, name)([p, w])

        def closure():
            opt.zero_grad()
            loss = (w * w).sum() + p.sum()
            loss.backward()
            return loss

        loss = opt.step(closure)
        assert loss.item() == pytest.approx(float((W0 ** 2).sum()), rel=1e-6)
        assert not np.allclose(w.detach().numpy(), W0)


def test_rprop_step_sizes_grow_shrink_and_clamp():
    """Same-sign gradients grow the step by etaplus up to the maximum; a sign change shrinks it by etaminus
    and skips that coordinate once (prev is set to 0, so the next step neither grows nor shrinks)."""
    p = ember.zeros(2, dtype=ember.float64, requires_grad=True)
    opt = optim.Rprop([p], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.01, 0.3))
    history = []
    for g in ([1.0, 1.0], [1.0, 1.0], [1.0, -1.0], [1.0, -1.0], [1.0, -1.0]):
        p.grad = ember.tensor(g, dtype=ember.float64)
        opt.step()
        history.append((p.detach().numpy().copy(), opt.state[p]["step_size"].numpy().copy()))
    np.testing.assert_allclose([h[1] for h in history], [[0.1, 0.1], [0.2, 0.2], [0.3, 0.1], [0.3, 0.1],
                                                         [0.3, 0.2]])
    # the flipped coordinate does not move on the step of the flip
    np.testing.assert_allclose([h[0][1] for h in history], [-0.1, -0.3, -0.3, -0.2, 0.0], atol=1e-15)


def test_nan_gradient_propagates():
    for name in sorted(REFS):
        p = ember.zeros(3, requires_grad=True)
        opt = getattr(optim, name)([p], lr=0.1)
        p.grad = ember.tensor([1.0, math.nan, 2.0])
        opt.step()
        opt.step()
        r = p.detach().numpy()
        assert math.isnan(r[1]) and not math.isnan(r[0]) and not math.isnan(r[2]), name


@pytest.mark.parametrize("cls,kw,msg", [
    (optim.Adadelta, dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (optim.Adadelta, dict(rho=1.5), "Invalid rho value: 1.5"),
    (optim.Adadelta, dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    (optim.Adadelta, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (optim.RAdam, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.RAdam, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.RAdam, dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (optim.RAdam, dict(betas=(0.9, -0.5)), "Invalid beta parameter at index 1: -0.5"),
    (optim.RAdam, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.ASGD, dict(lr=-0.01), "Invalid learning rate: -0.01"),
    (optim.ASGD, dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.Rprop, dict(lr=-0.01), "Invalid learning rate: -0.01"),
    (optim.Rprop, dict(etas=(1.5, 2.0)), "Invalid eta values: 1.5, 2.0"),
    (optim.Rprop, dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    (optim.SparseAdam, dict(lr=0.0), "Invalid learning rate: 0.0"),
    (optim.SparseAdam, dict(eps=0.0), "Invalid epsilon value: 0.0"),
    (optim.SparseAdam, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (optim.LBFGS, dict(lr=-1), "Invalid learning rate: -1"),
    (optim.RAdam, dict(lr=ember.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
    (optim.SparseAdam, dict(lr=ember.tensor([0.1, 0.2])), "Tensor lr must be 1-element"),
])
def test_bad_hyper_parameters_raise_like_pytorch(cls, kw, msg):
    w = ember.tensor(W0, requires_grad=True)
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cls([w], **kw)
    try:
        import torch
    except ImportError:
        return
    tkw = {k: torch.tensor(v.numpy()) if isinstance(v, ember.Tensor) else v for k, v in kw.items()}
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        getattr(torch.optim, cls.__name__)([torch.tensor(W0, requires_grad=True)], **tkw)


def test_signatures_and_defaults_match_pytorch():
    torch = pytest.importorskip("torch")
    import inspect
    for name in ("Adadelta", "RAdam", "ASGD", "Rprop", "SparseAdam", "LBFGS"):
        ours = inspect.signature(getattr(optim, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
        assert list(ours) == list(theirs), name
        for k, p in theirs.items():
            assert ours[k].kind == p.kind, (name, k)
            if p.default is not inspect.Parameter.empty:
                assert ours[k].default == p.default, (name, k)
        w = ember.tensor(W0, requires_grad=True)
        tw = torch.tensor(W0, requires_grad=True)
        assert getattr(optim, name)([w]).defaults == getattr(torch.optim, name)([tw]).defaults, name


def test_unsupported_flags_and_tensor_lr():
    w = ember.tensor(W0, requires_grad=True)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.RAdam([w], differentiable=True)
    optim.Rprop([w], foreach=True, capturable=True)
    w.grad = ember.ones_like(w)
    before = w.detach().numpy().copy()
    optim.Rprop([w], lr=ember.tensor(0.25)).step()  # first Rprop step: sign(g) * lr
    np.testing.assert_allclose(w.detach().numpy(), before - 0.25, rtol=1e-6)


# ===================================================================================== SparseAdam


def test_sparse_adam_refuses_dense_gradients_like_pytorch():
    """A dense gradient: PyTorch's SparseAdam raises this RuntimeError, and so does Ember's."""
    w = ember.tensor(W0, requires_grad=True)
    b = ember.tensor(B0, requires_grad=True)
    opt = optim.SparseAdam([w, b], lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        return ember.tensor(3.0)

    assert opt.step(closure).item() == 3.0  # no gradients yet: nothing to do
    ((ember.tensor(X) @ w.t() + b) ** 2).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
        opt.step()
    np.testing.assert_array_equal(w.detach().numpy(), W0)
    assert len(opt.state) == 0 and calls == [1]
    try:
        import torch
    except ImportError:
        return
    tw = torch.tensor(W0, requires_grad=True)
    topt = torch.optim.SparseAdam([tw], lr=0.1)
    (tw ** 2).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients, please consider Adam"):
        topt.step()


def ref_sparse_adam(p, m, v, t, rows, vals, lr, beta1, beta2, eps):
    p, m, v = p.copy(), m.copy(), v.copy()
    m[rows] = beta1 * m[rows] + (1 - beta1) * vals
    v[rows] = beta2 * v[rows] + (1 - beta2) * vals * vals
    p[rows] -= lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m[rows] / (np.sqrt(v[rows]) + eps)
    return p, m, v


def _row_batches():
    rng = np.random.default_rng(5)
    return [(np.sort(rng.choice(6, size=k, replace=False)), rng.standard_normal((k, 3))) for k in (2, 4, 0, 3, 6)]


@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_adam_masked_update_matches_reference(maximize):
    """The masked update SparseAdam applies to a (coalesced) sparse gradient: only the listed rows move."""
    p0 = RNG.standard_normal((6, 3))
    p = ember.tensor(p0, dtype=ember.float64)
    m, v = ember.zeros_like(p), ember.zeros_like(p)
    rp, rm, rv = p0, np.zeros_like(p0), np.zeros_like(p0)
    for t, (rows, vals) in enumerate(_row_batches(), 1):
        _sparse_adam_update(p, m, v, t, ember.tensor(rows[None], dtype=ember.int64),
                            ember.tensor(vals, dtype=ember.float64), lr=0.1, beta1=0.8, beta2=0.95, eps=1e-8,
                            maximize=maximize)
        if len(rows):
            rp, rm, rv = ref_sparse_adam(rp, rm, rv, t, rows, -vals if maximize else vals, 0.1, 0.8, 0.95, 1e-8)
        np.testing.assert_allclose(p.numpy(), rp, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(m.numpy(), rm, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(v.numpy(), rv, rtol=1e-12, atol=1e-14)


def test_sparse_adam_masked_update_matches_torch_sparse_gradients():
    torch = pytest.importorskip("torch")
    p0 = RNG.standard_normal((6, 3))
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.SparseAdam([tp], lr=0.05, betas=(0.85, 0.99), maximize=True)
    p = ember.tensor(p0, dtype=ember.float64)
    m, v = ember.zeros_like(p), ember.zeros_like(p)
    for t, (rows, vals) in enumerate(_row_batches(), 1):
        tp.grad = torch.sparse_coo_tensor(torch.tensor(rows[None]), torch.tensor(vals), (6, 3),
                                          check_invariants=True)
        topt.step()
        _sparse_adam_update(p, m, v, t, ember.tensor(rows[None], dtype=ember.int64),
                            ember.tensor(vals, dtype=ember.float64), lr=0.05, beta1=0.85, beta2=0.99, eps=1e-8,
                            maximize=True)
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m.numpy(), topt.state[tp]["exp_avg"].numpy(), rtol=1e-13, atol=1e-15)
    assert topt.state[tp]["step"] == 5


def test_sparse_adam_state_dict_keeps_pytorch_structure():
    torch = pytest.importorskip("torch")
    tp = torch.tensor(W0, requires_grad=True)
    topt = torch.optim.SparseAdam([tp])
    tp.grad = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.ones(2, 3, dtype=torch.float64), (4, 3),
                                      check_invariants=True)
    topt.step()
    sd = topt.state_dict()
    conv = {"param_groups": sd["param_groups"],
            "state": {k: {n: ember.tensor(v.numpy()) if torch.is_tensor(v) else v for n, v in st.items()}
                      for k, st in sd["state"].items()}}
    w = ember.tensor(W0, requires_grad=True)
    opt = optim.SparseAdam([w])
    opt.load_state_dict(conv)
    assert opt.state[w]["step"] == 1 and isinstance(opt.state[w]["step"], int)
    np.testing.assert_array_equal(opt.state[w]["exp_avg"].numpy(), topt.state[tp]["exp_avg"].numpy())
    assert sorted(opt.state_dict()["param_groups"][0]) == sorted(sd["param_groups"][0])


# ===================================================================================== LBFGS


def rosenbrock(x):
    a = 1 - x[0]
    b = x[1] - x[0] * x[0]
    return a * a + 100 * (b * b)


A_LS = RNG.standard_normal((12, 4))
Y_LS = RNG.standard_normal(12)


def lbfgs_run(lib, problem, steps, x0, **kw):
    """Iterates of `steps` LBFGS steps (one closure-driven step each) and the optimizer."""
    if problem == "rosenbrock":
        x = lib.tensor(list(x0), dtype=lib.float64, requires_grad=True)
        params, loss_fn = [x], lambda: rosenbrock(x)
    else:  # least squares over a transposed (non-contiguous) weight and a bias
        w = lib.tensor(np.asarray(x0)[:3].reshape(3, 1).copy(), dtype=lib.float64).t().detach().requires_grad_()
        b = lib.tensor([x0[3]], dtype=lib.float64, requires_grad=True)
        a, y = lib.tensor(A_LS[:, :3], dtype=lib.float64), lib.tensor(Y_LS, dtype=lib.float64)
        params, loss_fn = [w, b], lambda: (((a @ w.t()).reshape(-1) + b - y) ** 2).sum() * 0.5
    opt = lib.optim.LBFGS(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    iterates = []
    for _ in range(steps):
        opt.step(closure)
        iterates.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(iterates), opt


def ref_lbfgs(fg, x, steps, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
              history_size=100):
    """The documented L-BFGS with a fixed step, in numpy: steepest descent first, then the two-loop recursion
    over the last history_size pairs (s, y) with y.s > 1e-10, initial Hessian (y.s / y.y) I."""
    max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
    n_total, hist, H, d, t, prev_g = 0, [], 1.0, None, None, None
    iterates = []
    for _ in range(steps):
        loss, g = fg(x)
        evals = 1
        if np.abs(g).max() > tolerance_grad:
            for n in range(1, max_iter + 1):
                n_total += 1
                if n_total == 1:
                    d = -g
                else:
                    y, s = g - prev_g, d * t
                    if y @ s > 1e-10:
                        hist = (hist + [(s, y, 1.0 / (y @ s))])[-history_size:]
                        H = (y @ s) / (y @ y)
                    q, al = -g, []
                    for s_i, y_i, ro_i in reversed(hist):
                        al.append(ro_i * (s_i @ q))
                        q = q - al[-1] * y_i
                    d = H * q
                    for (s_i, y_i, ro_i), a_i in zip(hist, reversed(al)):
                        d = d + (a_i - ro_i * (y_i @ d)) * s_i
                prev_g, prev_loss = g, loss
                t = min(1.0, 1.0 / np.abs(g).sum()) * lr if n_total == 1 else lr
                if g @ d > -tolerance_change:
                    break
                x = x + t * d
                if n == max_iter:
                    break
                loss, g = fg(x)
                evals += 1
                if (evals >= max_eval or np.abs(g).max() <= tolerance_grad or np.abs(t * d).max() <= tolerance_change
                        or abs(loss - prev_loss) < tolerance_change):
                    break
        iterates.append(x.copy())
    return np.array(iterates)


def _rosen_fg(x):
    a, b = 1 - x[0], x[1] - x[0] ** 2
    return a * a + 100 * b * b, np.array([-2 * a - 400 * x[0] * b, 200 * b])


def _ls_fg(x):
    r = A_LS[:, :3] @ x[:3] + x[3] - Y_LS
    return 0.5 * r @ r, np.concatenate([A_LS[:, :3].T @ r, [r.sum()]])


LS_X0 = (0.3, -0.2, 0.5, 0.1)


@pytest.mark.parametrize("problem,x0,kw", [
    ("rosenbrock", (0.5, 0.5), dict()),
    ("rosenbrock", (-1.2, 1.0), dict(lr=0.5, max_iter=7, history_size=3)),
    ("least_squares", LS_X0, dict(lr=0.3, max_iter=4)),
    ("least_squares", LS_X0, dict(lr=0.3, history_size=2, max_eval=3)),
], ids=["rosen", "rosen-short-history", "lsq", "lsq-max_eval"])
def test_lbfgs_fixed_step_matches_numpy_reference(problem, x0, kw):
    got, opt = lbfgs_run(ember, problem, 4, x0, **kw)
    want = ref_lbfgs(_rosen_fg if problem == "rosenbrock" else _ls_fg, np.array(x0, dtype=float), 4, **kw)
    assert np.abs(want[-1] - np.array(x0)).max() > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_lbfgs_strong_wolfe_converges_and_satisfies_wolfe_conditions():
    """Without torch: the line search reaches the minima (Rosenbrock's (1, 1), the least-squares solution), and
    every accepted step meets the strong Wolfe conditions along its direction."""
    got, opt = lbfgs_run(ember, "rosenbrock", 3, (-1.2, 1.0), line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                         tolerance_change=1e-14)
    np.testing.assert_allclose(got[-1], [1.0, 1.0], atol=1e-9)
    got, opt = lbfgs_run(ember, "least_squares", 2, LS_X0, line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                         tolerance_change=1e-14)
    A = np.concatenate([A_LS[:, :3], np.ones((12, 1))], 1)
    np.testing.assert_allclose(got[-1], np.linalg.lstsq(A, Y_LS, rcond=None)[0], atol=1e-8)

    x = ember.tensor([-1.2, 1.0], dtype=ember.float64, requires_grad=True)
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=1, max_eval=25)
    for _ in range(8):
        x0 = x.detach().numpy().copy()
        f0, g0 = _rosen_fg(x0)
        opt.step(lambda: (opt.zero_grad(), rosenbrock(x))[1].backward() or rosenbrock(x))
        st = opt.state[x]
        d, t = st["d"].numpy(), st["t"]
        f1, g1 = _rosen_fg(x.detach().numpy())
        assert t > 0
        np.testing.assert_allclose(x.detach().numpy(), x0 + t * d, rtol=1e-14)
        assert f1 <= f0 + 1e-4 * t * (g0 @ d)
        assert abs(g1 @ d) <= -0.9 * (g0 @ d)


@pytest.mark.parametrize("problem,x0,kw", [
    ("rosenbrock", (-1.5, 2.0), dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", (-1.2, 1.0), dict(line_search_fn="strong_wolfe", lr=0.1, history_size=3, max_iter=7)),
    ("rosenbrock", (0.5, 0.5), dict()),
    ("rosenbrock", (-1.2, 1.0), dict(lr=0.5)),
    ("least_squares", LS_X0, dict(line_search_fn="strong_wolfe", max_iter=3)),
    ("least_squares", LS_X0, dict(lr=0.3, history_size=2, tolerance_change=1e-12)),
], ids=["rosen-wolfe", "rosen-wolfe-short", "rosen", "rosen-lr", "lsq-wolfe", "lsq"])
def test_lbfgs_matches_torch_iterates(problem, x0, kw):
    torch = pytest.importorskip("torch")
    got, opt = lbfgs_run(ember, problem, 5, x0, **kw)
    want, topt = lbfgs_run(torch, problem, 5, x0, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    st, tst = opt.state[opt.param_groups[0]["params"][0]], topt.state[topt.param_groups[0]["params"][0]]
    assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
    assert set(st) == set(tst)
    assert len(st["old_dirs"]) == len(tst["old_dirs"])
    np.testing.assert_allclose(st["d"].numpy(), tst["d"].numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(st["ro"], [float(r) for r in tst["ro"]], rtol=1e-8)


def test_lbfgs_state_dict_round_trip_and_pytorch_state_resume(tmp_path):
    x0 = (-1.2, 1.0)
    kw = dict(line_search_fn="strong_wolfe", max_iter=3, max_eval=8)
    full, _ = lbfgs_run(ember, "rosenbrock", 5, x0, **kw)
    first, opt = lbfgs_run(ember, "rosenbrock", 2, x0, **kw)
    ember.save(opt.state_dict(), tmp_path / "lbfgs.pt")  # history lists, floats and tensors
    sd = ember.load(tmp_path / "lbfgs.pt")
    assert len(sd["state"][0]["old_dirs"]) == 5 and "al" in sd["state"][0]
    x = ember.tensor(first[-1], dtype=ember.float64, requires_grad=True)
    opt2 = optim.LBFGS([x], **kw)
    opt2.load_state_dict(sd)

    def closure():
        opt2.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    rest = []
    for _ in range(3):
        opt2.step(closure)
        rest.append(x.detach().numpy().copy())
    np.testing.assert_array_equal(np.array(rest), full[2:])

    torch = pytest.importorskip("torch")
    tfirst, topt = lbfgs_run(torch, "rosenbrock", 2, x0, **kw)
    tsd = topt.state_dict()

    def conv(v):
        if torch.is_tensor(v):
            return ember.tensor(v.numpy())
        return [conv(u) for u in v] if isinstance(v, list) else v

    x = ember.tensor(tfirst[-1], dtype=ember.float64, requires_grad=True)
    opt3 = optim.LBFGS([x], **kw)
    opt3.load_state_dict({"param_groups": tsd["param_groups"],
                          "state": {k: {n: conv(v) for n, v in st.items()} for k, st in tsd["state"].items()}})
    for _ in range(3):
        opt3.step(lambda: (opt3.zero_grad(), rosenbrock(x))[1].backward() or rosenbrock(x))
    np.testing.assert_allclose(x.detach().numpy(), full[-1], rtol=1e-10)


def test_lbfgs_stops_at_optimum_and_respects_max_eval():
    x = ember.tensor([1.0, 1.0], dtype=ember.float64, requires_grad=True)
    opt = optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert calls == [1] and opt.state[x]["func_evals"] == 1 and opt.state[x]["n_iter"] == 0
    x = ember.tensor([-1.2, 1.0], dtype=ember.float64, requires_grad=True)
    for ls in (None, "strong_wolfe"):
        opt = optim.LBFGS([x], lr=0.1, max_iter=50, max_eval=9, line_search_fn=ls)
        calls.clear()
        opt.step(closure)
        # PyTorch's line search may take one evaluation beyond max_eval (it does here, 10)
        assert 1 < len(calls) <= (9 if ls is None else 10) and opt.state[x]["func_evals"] == len(calls)


def test_lbfgs_float32_and_parameters_without_gradient():
    x = ember.tensor([-1.2, 1.0], requires_grad=True)
    unused = ember.ones(3, requires_grad=True)  # never gets a gradient: treated as zeros, never moves
    opt = optim.LBFGS([x, unused], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(4):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-3)
    np.testing.assert_array_equal(unused.detach().numpy(), np.ones(3, np.float32))
    assert opt.state[x]["d"].dtype is ember.float32


def test_lbfgs_validation():
    w = ember.tensor(W0, requires_grad=True)
    b = ember.tensor(B0, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [b]}])
    opt = optim.LBFGS([w], line_search_fn="backtracking")
    assert opt.defaults["max_eval"] == 25

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)
    with pytest.raises(TypeError):
        optim.LBFGS([w]).step(None)
    with pytest.raises(TypeError):
        optim.LBFGS([w]).step()
    assert optim.LBFGS([w], max_iter=8).defaults["max_eval"] == 10
