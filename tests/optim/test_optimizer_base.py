"""Optimizer base behaviour: param groups, defaults, validation, zero_grad, skipping, closures, hooks, and
state_dict round trips, including a training run interrupted, checkpointed with ember.save and resumed."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember import optim

RNG = np.random.default_rng(7)
X = RNG.standard_normal((32, 5)).astype(np.float32)
Y = RNG.standard_normal((32, 2)).astype(np.float32)
W0 = (RNG.standard_normal((2, 5)) * 0.3).astype(np.float32)
B0 = (RNG.standard_normal(2) * 0.3).astype(np.float32)

ALL = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.02, amsgrad=True, weight_decay=0.01)),
    (optim.AdamW, dict(lr=0.02)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (optim.Adamax, dict(lr=0.02)),
    (optim.NAdam, dict(lr=0.02, weight_decay=0.01)),
    (optim.Adadelta, dict(lr=0.5, weight_decay=0.01)),
    (optim.RAdam, dict(lr=0.02, weight_decay=0.01, decoupled_weight_decay=True)),
    (optim.ASGD, dict(lr=0.02, t0=3)),
    (optim.Rprop, dict(lr=0.01)),
]
IDS = [c[0].__name__ for c in ALL]


def model():
    """A linear regression 'model': its parameters and state_dict."""
    w = ember.tensor(W0, requires_grad=True)
    b = ember.tensor(B0, requires_grad=True)
    return w, b


def loss_of(w, b, step):
    # the data seen changes with the step, like minibatches
    rows = slice((step * 8) % 32, (step * 8) % 32 + 8)
    x, y = ember.tensor(X[rows]), ember.tensor(Y[rows])
    return ((x @ w.t() + b - y) ** 2).mean()


def train(opt, w, b, steps, start=0, sched=None):
    for step in range(start, start + steps):
        opt.zero_grad()
        loss_of(w, b, step).backward()
        opt.step()
        if sched is not None:
            sched.step()


# ============================================================================================ construction


def test_param_groups_fill_defaults_and_keep_per_group_options():
    w, b = model()
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5, "momentum": 0.1}], lr=0.1, momentum=0.9)
    assert len(opt.param_groups) == 2
    g0, g1 = opt.param_groups
    assert g0["params"] == [w] and g1["params"] == [b]
    assert g0["lr"] == 0.1 and g0["momentum"] == 0.9 and g0["dampening"] == 0 and g0["nesterov"] is False
    assert g1["lr"] == 0.5 and g1["momentum"] == 0.1
    assert set(g0) == {"params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                       "differentiable", "fused"}
    assert opt.defaults["lr"] == 0.1


def test_per_group_lr_is_used():
    w, b = model()
    w.grad = ember.ones_like(w)
    b.grad = ember.ones_like(b)
    optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1).step()
    np.testing.assert_allclose(w.detach().numpy(), W0 - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), B0 - 0.5, rtol=1e-6)


def test_add_param_group():
    w, b = model()
    opt = optim.Adam([w], lr=0.01)
    opt.add_param_group({"params": [b], "lr": 0.1})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([w])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {ember.zeros(1, requires_grad=True)}})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is int"):
        opt.add_param_group({"params": [3]})
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [w * 2]})


def test_named_parameters_are_recorded():
    w, b = model()
    opt = optim.SGD([("weight", w), ("bias", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [ember.zeros(1, requires_grad=True)]})


def test_required_option():
    class Bare(optim.Optimizer):
        def __init__(self, params, lr=optim.optimizer.required):
            super().__init__(params, dict(lr=lr))

    w, _ = model()
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Bare([w])
    assert Bare([{"params": [w], "lr": 0.3}]).param_groups[0]["lr"] == 0.3
    assert repr(optim.optimizer.required) == "<required parameter>"


def test_bad_params_argument():
    w, _ = model()
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got ember.FloatTensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w], lr=0.1)


@pytest.mark.parametrize("cls,kw,msg", [
    (optim.SGD, dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (optim.SGD, dict(lr=0.1, momentum=-1), "Invalid momentum value: -1"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (optim.SGD, dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    (optim.Adam, dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    (optim.Adam, dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    (optim.AdamW, dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.RMSprop, dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    (optim.RMSprop, dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    (optim.Adamax, dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    (optim.NAdam, dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
])
def test_hyper_parameters_validated_at_construction(cls, kw, msg):
    w, _ = model()
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        cls([w], **kw)


def test_unsupported_flags():
    w, _ = model()
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.Adam([w], differentiable=True)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        optim.SGD([w], lr=0.1, fused=True, foreach=True)
    optim.Adam([w], foreach=True)  # accepted: every Ember update is fused
    optim.Adam([w], fused=True, capturable=True)


def test_tensor_lr_is_accepted():
    w, _ = model()
    w.grad = ember.ones_like(w)
    optim.SGD([w], lr=ember.tensor(0.25)).step()
    np.testing.assert_allclose(w.detach().numpy(), W0 - 0.25, rtol=1e-6)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.SGD([w], lr=ember.tensor([0.1, 0.2]))


def test_repr_lists_groups_like_pytorch():
    w, b = model()
    r = repr(optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1))
    assert r.startswith("SGD (\nParameter Group 0\n    dampening: 0\n")
    assert "Parameter Group 1\n" in r and "    lr: 0.5\n" in r and r.endswith(")")


# ============================================================================================ stepping


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_parameters_without_grad_or_requires_grad_are_skipped(cls, kw):
    w, b = model()
    frozen = ember.tensor(B0.copy())  # requires_grad=False, but a stale gradient is attached
    frozen.grad = ember.ones(2)
    nograd = ember.tensor(B0.copy(), requires_grad=True)
    opt = cls([w, b, frozen, nograd], **kw)
    for _ in range(3):
        opt.zero_grad()
        frozen.grad = ember.ones(2)
        loss_of(w, b, 0).backward()
        opt.step()
    np.testing.assert_array_equal(frozen.numpy(), B0.astype(np.float32))
    np.testing.assert_array_equal(nograd.detach().numpy(), B0.astype(np.float32))
    assert not np.allclose(w.detach().numpy(), W0.astype(np.float32))
    if cls is not optim.Adagrad:  # Adagrad creates state for every parameter up front, as PyTorch does
        assert frozen not in opt.state and nograd not in opt.state


def test_zero_grad_set_to_none_and_to_zero():
    w, b = model()
    opt = optim.SGD([w, b], lr=0.1)
    loss_of(w, b, 0).backward()
    opt.zero_grad()
    assert w.grad is None and b.grad is None
    loss_of(w, b, 0).backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and not g.requires_grad
    assert np.all(w.grad.numpy() == 0) and np.all(b.grad.numpy() == 0)
    # zero gradients still count as a step (unlike None): momentum buffers appear
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.step()
    assert "momentum_buffer" in opt.state[w]


def test_zero_grad_detaches_a_grad_with_history():
    w, _ = model()
    w.grad = (ember.ones_like(w, requires_grad=True) * 2)
    assert w.grad.grad_fn is not None
    optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.grad_fn is None and np.all(w.grad.numpy() == 0)


def test_step_with_closure_returns_loss_and_enables_grad():
    w, b = model()
    opt = optim.SGD([w, b], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        assert ember.is_grad_enabled()
        loss = loss_of(w, b, 0)
        loss.backward()
        calls.append(loss.item())
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert len(calls) == 1 and loss.item() == calls[0]
    assert optim.SGD([w], lr=0.1).step() is None


def test_sgd_without_momentum_keeps_no_state():
    w, b = model()
    opt = optim.SGD([w, b], lr=0.1)
    train(opt, w, b, 2)
    assert len(opt.state) == 0 and opt.state_dict()["state"] == {}


def test_step_hooks():
    w, b = model()
    opt = optim.Adam([w, b])
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", len(o.state))))
    hg = optim.register_optimizer_step_pre_hook(lambda o, args, kwargs: seen.append(("global", type(o).__name__)))
    loss_of(w, b, 0).backward()
    opt.step()
    assert seen == [("global", "Adam"), ("pre", True), ("post", 2)]
    for h in (h1, h2, hg):
        h.remove()
    opt.step()
    assert len(seen) == 3


def test_step_pre_hook_can_replace_arguments():
    w, b = model()
    opt = optim.SGD([w, b], lr=0.1)
    called = []
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: called.append(1) or 5.0}))
    assert opt.step() == 5.0 and called == [1]


# ============================================================================================ state dicts


def test_state_dict_structure_matches_pytorch():
    w, b = model()
    extra = ember.zeros(3, requires_grad=True)
    opt = optim.Adam([{"params": [w, b]}, {"params": [extra], "lr": 0.5}], lr=0.01)
    loss_of(w, b, 0).backward()
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert sorted(sd["state"]) == [0, 1]  # extra had no gradient: no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].item() == 1.0 and sd["state"][0]["step"].dtype is ember.float32
    assert sd["state"][0]["exp_avg"] is opt.state[w]["exp_avg"]


def test_load_state_dict_errors():
    w, b = model()
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    other = optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        other.load_state_dict(sd)
    single = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        single.load_state_dict(sd)


def test_load_state_dict_casts_state_to_the_parameter_dtype_and_takes_options():
    w = ember.tensor(W0.astype(np.float64), requires_grad=True)
    w.grad = ember.ones_like(w)
    src = optim.Adam([ember.tensor(W0, requires_grad=True)], lr=0.3)
    src.param_groups[0]["params"][0].grad = ember.ones(2, 5)
    src.step()
    dst = optim.Adam([w], lr=0.01)
    dst.load_state_dict(src.state_dict())
    assert dst.param_groups[0]["lr"] == 0.3 and dst.param_groups[0]["params"][0] is w
    assert dst.state[w]["exp_avg"].dtype is ember.float64
    assert dst.state[w]["step"].dtype is ember.float32  # counters keep their own dtype
    dst.step()
    assert dst.state[w]["step"].item() == 2


def test_old_style_number_steps_are_upgraded():
    w, b = model()
    opt = optim.Adam([w])
    sd = {"state": {0: {"step": 3, "exp_avg": ember.zeros(2, 5), "exp_avg_sq": ember.zeros(2, 5)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    assert isinstance(opt.state[w]["step"], ember.Tensor)
    w.grad = ember.ones_like(w)
    opt.step()
    assert opt.state[w]["step"].item() == 4


def test_state_dict_hooks():
    w, b = model()
    opt = optim.SGD([w], lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: dict(sd, extra=1))
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append("load-pre"))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load-post"), prepend=True)
    sd = opt.state_dict()
    assert sd["extra"] == 1 and log == ["pre"]
    opt.load_state_dict(sd)
    assert log == ["pre", "load-pre", "load-post"]


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_interrupted_training_resumes_exactly(cls, kw, tmp_path):
    """N steps, checkpoint (model + optimizer + scheduler + epoch) with ember.save, fresh objects, ember.load,
    continue: the parameters end bit-identical to an uninterrupted run."""
    total, cut = 12, 5

    def make():
        w, b = model()
        opt = cls([{"params": [w]}, {"params": [b], "lr": kw.get("lr", 0.01) * 0.5}], **kw)
        sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7)
        return w, b, opt, sched

    w1, b1, opt1, sched1 = make()
    train(opt1, w1, b1, total, sched=sched1)

    w2, b2, opt2, sched2 = make()
    train(opt2, w2, b2, cut, sched=sched2)
    path = tmp_path / "ckpt.pt"
    ember.save({"model": {"weight": w2, "bias": b2}, "optimizer": opt2.state_dict(),
                "scheduler": sched2.state_dict(), "epoch": cut}, path)
    del w2, b2, opt2, sched2

    ckpt = ember.load(path)
    w3, b3, opt3, sched3 = make()
    with ember.no_grad():
        w3.copy_(ckpt["model"]["weight"])
        b3.copy_(ckpt["model"]["bias"])
    opt3.load_state_dict(ckpt["optimizer"])
    sched3.load_state_dict(ckpt["scheduler"])
    train(opt3, w3, b3, total - ckpt["epoch"], start=ckpt["epoch"], sched=sched3)

    np.testing.assert_array_equal(w3.detach().numpy(), w1.detach().numpy())
    np.testing.assert_array_equal(b3.detach().numpy(), b1.detach().numpy())
    assert sched3.get_last_lr() == sched1.get_last_lr()
    for p1, p3 in zip(opt1.param_groups[0]["params"] + opt1.param_groups[1]["params"],
                      opt3.param_groups[0]["params"] + opt3.param_groups[1]["params"]):
        for key, v in opt1.state[p1].items():
            np.testing.assert_array_equal(np.asarray(opt3.state[p3][key]), np.asarray(v))


@pytest.mark.parametrize("cls,kw", ALL, ids=IDS)
def test_pytorch_optimizer_state_continues_in_ember(cls, kw):
    """A torch.optim state_dict (converted tensor by tensor) resumes in Ember as it would in PyTorch."""
    torch = pytest.importorskip("torch")
    tw = torch.tensor(W0, dtype=torch.float32, requires_grad=True)
    tb = torch.tensor(B0, dtype=torch.float32, requires_grad=True)
    topt = getattr(torch.optim, cls.__name__)([tw, tb], **kw)

    def tstep(step):
        rows = slice((step * 8) % 32, (step * 8) % 32 + 8)
        x, y = torch.tensor(X[rows], dtype=torch.float32), torch.tensor(Y[rows], dtype=torch.float32)
        topt.zero_grad()
        (((x @ tw.t() + tb - y) ** 2).mean()).backward()
        topt.step()

    for s in range(4):
        tstep(s)
    sd = topt.state_dict()
    conv = {"param_groups": sd["param_groups"],
            "state": {k: {n: ember.tensor(v.numpy()) if torch.is_tensor(v) else v for n, v in st.items()}
                      for k, st in sd["state"].items()}}
    w = ember.tensor(tw.detach().numpy(), requires_grad=True)
    b = ember.tensor(tb.detach().numpy(), requires_grad=True)
    opt = cls([w, b], **kw)
    opt.load_state_dict(conv)
    for s in range(4, 8):
        tstep(s)
    train(opt, w, b, 4, start=4)
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), tb.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_reduces_loss():
    w, b = model()
    opt = optim.Adam([w, b], lr=0.05)
    first = loss_of(w, b, 0).item()
    for step in range(100):
        opt.zero_grad()
        loss = loss_of(w, b, 0)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first and math.isfinite(loss.item())


def test_scheduler_warns_when_stepped_before_optimizer():
    w, b = model()
    opt = optim.SGD([w], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = optim.SGD([b], lr=0.1)
    sched2 = optim.lr_scheduler.StepLR(opt2, 2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
