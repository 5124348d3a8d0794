"""CyclicLR and ChainedScheduler: lr (and momentum) sequences against the documented closed forms (numpy, no
torch needed) and torch.optim.lr_scheduler when installed; state_dict round trips; argument validation."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.optim import lr_scheduler as S

ITERS = 40


def make_opt(lib=ember, cls="SGD", lrs=(0.1, 0.2), **kw):
    params = [lib.zeros(2, requires_grad=True) for _ in lrs]
    return getattr(lib.optim, cls)([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=lrs[0], **kw)


def sequence(sched, iters=ITERS):
    """Per iteration (after construction, then after each step): lrs of every group, then momentum (or
    beta1) of every group."""
    opt = sched.optimizer

    def row():
        lrs = list(sched.get_last_lr())
        assert lrs == [g["lr"] for g in opt.param_groups]
        return lrs + [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]

    seq = [row()]
    for _ in range(iters):
        opt.step()
        sched.step()
        seq.append(row())
    return np.array(seq, dtype=float)


def clr_closed_form(it, base, top, up, down, scale, scale_mode, base_m=0.8, max_m=0.9):
    """The CLR policy at iteration it: (lr, momentum)."""
    total = up + down
    cycle = math.floor(1 + it / total)
    x = 1 + it / total - cycle
    f = x / (up / total) if x <= up / total else (x - 1) / (up / total - 1)
    s = scale(cycle if scale_mode == "cycle" else it)
    return base + (top - base) * f * s, max_m - (max_m - base_m) * f * s


CLR_CASES = {
    "triangular": (dict(base_lr=0.01, max_lr=0.1, step_size_up=4),
                   dict(up=4, down=4, scale=lambda c: 1.0, scale_mode="cycle")),
    "triangular-asymmetric": (dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.5], step_size_up=3, step_size_down=7),
                              dict(up=3, down=7, scale=lambda c: 1.0, scale_mode="cycle")),
    "triangular2": (dict(base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2"),
                    dict(up=5, down=5, scale=lambda c: 1 / 2.0 ** (c - 1), scale_mode="cycle")),
    "exp_range": (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=4, mode="exp_range", gamma=0.95),
                  dict(up=3, down=4, scale=lambda i: 0.95 ** i, scale_mode="iterations")),
    "scale_fn-cycle": (dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda c: 1 / (1 + c),
                            mode="not-used"),
                       dict(up=4, down=4, scale=lambda c: 1 / (1 + c), scale_mode="cycle")),
    "scale_fn-iterations": (dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda i: math.exp(-0.05 * i),
                                 scale_mode="iterations"),
                            dict(up=4, down=4, scale=lambda i: math.exp(-0.05 * i), scale_mode="iterations")),
}


def _per_group(v, groups=2):
    return list(v) if isinstance(v, (list, tuple)) else [v] * groups


@pytest.mark.parametrize("name", sorted(CLR_CASES))
@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_cyclic_lr_matches_closed_form(name, cls):
    kw, form = CLR_CASES[name]
    opt = make_opt(cls=cls, **({"momentum": 0.5} if cls == "SGD" else {}))
    seq = sequence(S.CyclicLR(opt, **kw))
    bases, tops = _per_group(kw["base_lr"]), _per_group(kw["max_lr"])
    want = [[clr_closed_form(it, b, t, **form)[0] for b, t in zip(bases, tops)]
            + [clr_closed_form(it, b, t, **form)[1] for b, t in zip(bases, tops)] for it in range(ITERS + 1)]
    np.testing.assert_allclose(seq, np.array(want), rtol=1e-12, atol=1e-15)
    assert seq[0, 0] == bases[0]  # the schedule starts at base_lr, whatever lr the optimizer had
    if cls == "Adam":
        assert all(g["betas"][1] == 0.999 for g in opt.param_groups)  # beta2 is left alone


@pytest.mark.parametrize("name", sorted(CLR_CASES))
@pytest.mark.parametrize("cls", ["SGD", "Adam"])
def test_cyclic_lr_matches_torch(name, cls):
    torch = pytest.importorskip("torch")
    kw, _ = CLR_CASES[name]
    okw = {"momentum": 0.5} if cls == "SGD" else {}
    got = sequence(S.CyclicLR(make_opt(cls=cls, **okw), **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = sequence(torch.optim.lr_scheduler.CyclicLR(make_opt(torch, cls=cls, **okw), **kw))
    np.testing.assert_array_equal(got, want)


def test_cyclic_lr_without_momentum_cycling_and_per_group_momentum_bounds():
    opt = make_opt(cls="Adagrad")  # no momentum, no betas: fine when not cycled
    seq = sequence(S.CyclicLR(opt, 0.01, 0.1, step_size_up=2, cycle_momentum=False), iters=4)
    np.testing.assert_allclose(seq[:, :2], [[0.01] * 2, [0.055] * 2, [0.1] * 2, [0.055] * 2, [0.01] * 2])
    opt = make_opt(momentum=0.9)
    sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=2, base_momentum=[0.5, 0.6], max_momentum=[0.95, 0.9])
    seq = sequence(sched, iters=2)
    np.testing.assert_allclose(seq[:, 2:], [[0.95, 0.9], [0.725, 0.75], [0.5, 0.6]])
    assert opt.param_groups[1]["max_momentum"] == 0.9 and opt.param_groups[1]["base_momentum"] == 0.6


def test_cyclic_lr_validation():
    opt = make_opt(momentum=0.9)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        S.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 with `cycle_momentum`"):
        S.CyclicLR(make_opt(cls="Adagrad"), 0.01, 0.1)
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer.param_groups"):
        S.CyclicLR(opt, 0.01, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="base_momentum must have the same length"):
        S.CyclicLR(opt, 0.01, 0.1, base_momentum=[0.8])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.CyclicLR(object(), 0.01, 0.1)


class Halving:
    """A callable-object scale_fn with state (its __dict__ is saved by state_dict)."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, c):
        return self.base ** (c - 1)


def test_cyclic_lr_state_dict_round_trip():
    def build(fn):
        opt = make_opt(cls="Adam")
        return opt, S.CyclicLR(opt, 0.01, 0.1, step_size_up=3, scale_fn=fn)

    fn = Halving()
    opt1, s1 = build(fn)
    full = sequence(s1, iters=20)
    opt2, s2 = build(Halving())
    sequence(s2, iters=8)
    sd = s2.state_dict()
    assert sd["_scale_fn_custom"] == {"base": 0.5} and "optimizer" not in sd
    fn3 = Halving()
    fn3.base = 0.1  # restored from the state dict
    opt3, s3 = build(fn3)
    opt3.load_state_dict(opt2.state_dict())
    s3.load_state_dict(sd)
    assert fn3.base == 0.5
    rest = sequence(s3, iters=12)
    np.testing.assert_array_equal(rest, full[8:])
    # a plain function is not saved
    _, s4 = build(lambda c: 1.0)
    assert s4.state_dict()["_scale_fn_custom"] is None


def test_cyclic_lr_resume_with_last_epoch():
    opt = make_opt(momentum=0.9)
    sched = S.CyclicLR(opt, 0.01, 0.1, step_size_up=4)
    full = sequence(sched, iters=10)
    opt2 = make_opt(momentum=0.9)
    sched2 = S.CyclicLR(opt2, 0.01, 0.1, step_size_up=4)
    sequence(sched2, iters=5)
    opt3 = make_opt(momentum=0.9)
    opt3.load_state_dict(opt2.state_dict())
    sched3 = S.CyclicLR(opt3, 0.01, 0.1, step_size_up=4, last_epoch=4)  # continues at iteration 5
    np.testing.assert_allclose(sequence(sched3, iters=5), full[5:], rtol=1e-15)


# ============================================================================================ ChainedScheduler


def test_chained_scheduler_multiplies_the_chained_factors():
    """PyTorch's docstring example: ConstantLR(0.1, 20 iterations) chained with ExponentialLR(0.9)."""
    opt = make_opt(lrs=(0.05, 0.5))
    sched = S.ChainedScheduler([S.ConstantLR(opt, factor=0.1, total_iters=20), S.ExponentialLR(opt, gamma=0.9)],
                               optimizer=opt)
    seq = sequence(sched, iters=30)[:, :2]
    want = [[base * (0.1 if e < 20 else 1.0) * 0.9 ** e for base in (0.05, 0.5)] for e in range(31)]
    np.testing.assert_allclose(seq, want, rtol=1e-12)
    # (PyTorch's docstring prints these ten times larger; 0.05 * 0.1 * 0.9^19 is 0.000675)
    assert seq[19, 0] == pytest.approx(0.000675, rel=1e-3) and seq[20, 0] == pytest.approx(0.006078, rel=1e-3)


def _chain(lib, opt):
    L = lib.optim.lr_scheduler
    return L.ChainedScheduler([L.LinearLR(opt, start_factor=0.2, total_iters=6), L.StepLR(opt, 5, gamma=0.5),
                               L.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)])


def test_chained_scheduler_matches_torch():
    torch = pytest.importorskip("torch")
    got = sequence(_chain(ember, make_opt()))
    want = sequence(_chain(torch, make_opt(torch)))
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-16)


def test_chained_scheduler_state_dict_round_trip():
    full = sequence(_chain(ember, make_opt()), iters=25)
    opt2 = make_opt()
    s2 = _chain(ember, opt2)
    sequence(s2, iters=10)
    sd = s2.state_dict()
    assert len(sd["_schedulers"]) == 3 and "optimizer" not in sd
    opt3 = make_opt()
    s3 = _chain(ember, opt3)
    opt3.load_state_dict(opt2.state_dict())
    s3.load_state_dict(sd)
    assert s3.get_last_lr() == s2.get_last_lr()
    np.testing.assert_allclose(sequence(s3, iters=15), full[10:], rtol=1e-14)
    assert "_schedulers" in sd  # loading did not consume the caller's dict


def test_chained_scheduler_validation():
    opt, other = make_opt(), make_opt()
    with pytest.raises(ValueError, match="expects at least one scheduler to be chained"):
        S.ChainedScheduler([])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.ChainedScheduler([S.StepLR(opt, 2), S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        S.ChainedScheduler([S.StepLR(opt, 2), S.StepLR(other, 2)])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        S.ChainedScheduler([S.StepLR(opt, 2)], optimizer=other)
    with pytest.raises(TypeError, match="at index 0 should have `optimizer` as its attribute"):
        S.ChainedScheduler([object()], optimizer=opt)


def test_chained_scheduler_with_cyclic_lr_and_momentum():
    """A chain can hold CyclicLR; its momentum cycling still reaches the optimizer."""
    opt = make_opt(momentum=0.9)
    sched = S.ChainedScheduler([S.CyclicLR(opt, 0.01, 0.1, step_size_up=2), S.ExponentialLR(opt, gamma=1.0)])
    seq = sequence(sched, iters=4)
    np.testing.assert_allclose(seq[:, 0], [0.01, 0.055, 0.1, 0.055, 0.01], rtol=1e-12)
    np.testing.assert_allclose(seq[:, 2], [0.9, 0.85, 0.8, 0.85, 0.9], rtol=1e-12)
