"""Learning-rate schedulers: the lr sequence of step() equals PyTorch's documented closed forms (and
torch.optim.lr_scheduler when installed); state_dict round trips; argument validation."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.optim import SGD, Adam, lr_scheduler as S

EPOCHS = 40
BASE = 0.1


def make_opt(cls=SGD, lr=BASE, groups=1, **kw):
    params = [ember.zeros(2, requires_grad=True) for _ in range(groups)]
    return cls([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], lr=lr, **kw)


def lr_sequence(sched, epochs=EPOCHS, metrics=None):
    """lrs of every group after construction and after each step (optimizer stepped first, as required)."""
    seq = [list(sched.get_last_lr())]
    for e in range(epochs):
        sched.optimizer.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        seq.append(list(sched.get_last_lr()))
        assert seq[-1] == [g["lr"] for g in sched.optimizer.param_groups]
    return np.array(seq)


def closed(fn, groups=1, epochs=EPOCHS):
    return np.array([[fn(BASE * (i + 1), e) for i in range(groups)] for e in range(epochs + 1)])


def cosine(base, eta_min, t, T):
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2


CASES = {
    "StepLR": (lambda o: S.StepLR(o, step_size=7, gamma=0.5), lambda b, e: b * 0.5 ** (e // 7)),
    "MultiStepLR": (lambda o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
                    lambda b, e: b * 0.3 ** sum(m <= e for m in [5, 12, 12, 30])),
    "ExponentialLR": (lambda o: S.ExponentialLR(o, gamma=0.93), lambda b, e: b * 0.93 ** e),
    "CosineAnnealingLR": (lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.001),
                          lambda b, e: cosine(b, 0.001, e, 15)),
    "LambdaLR": (lambda o: S.LambdaLR(o, lr_lambda=lambda e: 1.0 / (1 + e) + 0.01 * (e % 3)),
                 lambda b, e: b * (1.0 / (1 + e) + 0.01 * (e % 3))),
    "LinearLR": (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=10),
                 lambda b, e: b * (0.25 + (0.9 - 0.25) * min(e, 10) / 10)),
    "CosineAnnealingWarmRestarts": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.002),
        lambda b, e: cosine(b, 0.002, *_sgdr(e, 5, 2))),
    "CosineAnnealingWarmRestarts-T_mult1": (
        lambda o: S.CosineAnnealingWarmRestarts(o, T_0=6),
        lambda b, e: cosine(b, 0.0, e % 6, 6)),
}


def _sgdr(e, T0, mult):
    """(T_cur, T_i) of SGDR at epoch e: periods T0, T0*mult, T0*mult^2, ..."""
    T = T0
    while e >= T:
        e -= T
        T *= mult
    return e, T


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("groups", [1, 2])
def test_chainable_form_equals_closed_form(name, groups):
    make, fn = CASES[name]
    seq = lr_sequence(make(make_opt(groups=groups)))
    np.testing.assert_allclose(seq, closed(fn, groups), rtol=1e-12, atol=1e-15)


def test_cosine_annealing_beyond_t_max_follows_the_curve_back_up():
    seq = lr_sequence(S.CosineAnnealingLR(make_opt(), T_max=10), epochs=35)
    np.testing.assert_allclose(seq[:, 0], [cosine(BASE, 0, e, 10) for e in range(36)], atol=1e-12)


def test_one_cycle_lr_closed_form_and_momentum():
    total, max_lr = 30, 1.0
    opt = make_opt(momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=0.3)
    lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(total - 1):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
    initial, final = max_lr / 25, max_lr / 25 / 1e4
    up = 0.3 * total - 1

    def anneal(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

    want_lr = [anneal(initial, max_lr, t / up) if t <= up else anneal(max_lr, final, (t - up) / (total - 1 - up))
               for t in range(total)]
    want_m = [anneal(0.95, 0.85, t / up) if t <= up else anneal(0.85, 0.95, (t - up) / (total - 1 - up))
              for t in range(total)]
    np.testing.assert_allclose(lrs, want_lr, rtol=1e-12)
    np.testing.assert_allclose(moms, want_m, rtol=1e-12)
    opt.step()
    sched.step()  # step number total is still allowed (PyTorch checks step_num > total_steps)
    with pytest.raises(ValueError, match="Tried to step 31 times. The specified number of total steps is 30"):
        opt.step()
        sched.step()


def test_one_cycle_linear_three_phase_with_adam_betas():
    opt = make_opt(Adam)
    sched = S.OneCycleLR(opt, max_lr=0.5, epochs=2, steps_per_epoch=10, anneal_strategy="linear", three_phase=True)
    seq = [opt.param_groups[0]["lr"]]
    betas = [opt.param_groups[0]["betas"][0]]
    for _ in range(19):
        opt.step()
        sched.step()
        seq.append(opt.param_groups[0]["lr"])
        betas.append(opt.param_groups[0]["betas"][0])
    init, mn = 0.5 / 25, 0.5 / 25 / 1e4
    e1, e2, e3 = 0.3 * 20 - 1, 2 * 0.3 * 20 - 2, 19

    def lin(a, b, pct):
        return (b - a) * pct + a

    want = [lin(init, 0.5, t / e1) if t <= e1 else lin(0.5, init, (t - e1) / (e2 - e1)) if t <= e2
            else lin(init, mn, (t - e2) / (e3 - e2)) for t in range(20)]
    np.testing.assert_allclose(seq, want, rtol=1e-12, atol=1e-15)
    assert betas[0] == 0.95 and abs(betas[int(e1)] - 0.85) < 1e-12
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_sequential_lr():
    opt = make_opt()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=4)
    decay = S.ExponentialLR(opt, gamma=0.9)
    seq = lr_sequence(S.SequentialLR(opt, [warm, decay], milestones=[6]), epochs=15)[:, 0]
    want = [BASE * (0.1 + 0.9 * min(e, 4) / 4) if e < 6 else BASE * 0.9 ** (e - 6) for e in range(16)]
    np.testing.assert_allclose(seq, want, rtol=1e-12)


def test_reduce_lr_on_plateau():
    opt = make_opt(groups=2)
    sched = S.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1, min_lr=[0.02, 0.0])
    metrics = [5, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    seq = lr_sequence(sched, epochs=len(metrics), metrics=metrics)
    # bad epochs accumulate past patience -> halve; cooldown epochs don't count; min_lr clamps group 0
    want0, want1, best, bad, cool, lr = [BASE], [2 * BASE], math.inf, 0, 0, [BASE, 2 * BASE]
    for m in metrics:
        if m < best * (1 - 1e-4):
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > 2:
            lr = [max(lr[0] * 0.5, 0.02), max(lr[1] * 0.5, 0.0)]
            cool, bad = 1, 0
        want0.append(lr[0])
        want1.append(lr[1])
    np.testing.assert_allclose(seq[:, 0], want0)
    np.testing.assert_allclose(seq[:, 1], want1)
    assert seq[-1, 0] == 0.02 and seq[-1, 1] < 2 * BASE / 4


def test_reduce_lr_on_plateau_max_abs_and_tensor_metric():
    opt = make_opt()
    sched = S.ReduceLROnPlateau(opt, mode="max", threshold=0.5, threshold_mode="abs", patience=0)
    sched.step(ember.tensor(1.0))
    sched.step(ember.tensor(1.4))  # not better by 0.5: reduce
    assert math.isclose(sched.get_last_lr()[0], BASE * 0.1)
    sched.step(2.0)
    assert math.isclose(sched.get_last_lr()[0], BASE * 0.1)


SCHEDULERS_FOR_TORCH = {
    "StepLR": dict(step_size=7, gamma=0.5),
    "MultiStepLR": dict(milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": dict(gamma=0.93),
    "CosineAnnealingLR": dict(T_max=15, eta_min=0.001),
    "LinearLR": dict(start_factor=0.25, end_factor=0.9, total_iters=10),
    "CosineAnnealingWarmRestarts": dict(T_0=5, T_mult=2, eta_min=0.002),
    "OneCycleLR": dict(max_lr=1.0, total_steps=EPOCHS + 1),
    "ConstantLR": dict(factor=0.4, total_iters=6),
    "PolynomialLR": dict(total_iters=12, power=1.7),
    "MultiplicativeLR": dict(lr_lambda=lambda epoch: 0.95 if epoch % 3 else 0.5),
}


def test_constant_polynomial_multiplicative_closed_forms():
    seq = lr_sequence(S.ConstantLR(make_opt(groups=2), factor=0.25, total_iters=4))
    want = [BASE * (0.25 if e < 4 else 1.0) for e in range(EPOCHS + 1)]
    np.testing.assert_allclose(seq[:, 0], want, rtol=1e-12)
    np.testing.assert_allclose(seq[:, 1], 2 * np.array(want), rtol=1e-12)
    seq = lr_sequence(S.PolynomialLR(make_opt(), total_iters=10, power=2.0))
    want = [BASE * (1 - min(e, 10) / 10) ** 2 for e in range(EPOCHS + 1)]
    np.testing.assert_allclose(seq[:, 0], want, rtol=1e-12, atol=1e-15)
    seq = lr_sequence(S.MultiplicativeLR(make_opt(), lr_lambda=lambda e: 0.9))
    np.testing.assert_allclose(seq[:, 0], [BASE * 0.9 ** e for e in range(EPOCHS + 1)], rtol=1e-12)
    with pytest.raises(ValueError, match="between 0 and 1"):
        S.ConstantLR(make_opt(), factor=1.5)


@pytest.mark.parametrize("name", sorted(SCHEDULERS_FOR_TORCH))
def test_matches_torch_schedulers(name):
    torch = pytest.importorskip("torch")
    kw = SCHEDULERS_FOR_TORCH[name]
    ours = lr_sequence(getattr(S, name)(make_opt(groups=2, momentum=0.9), **kw))
    tparams = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [p], "lr": BASE * (i + 1)} for i, p in enumerate(tparams)], lr=BASE,
                           momentum=0.9)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    theirs = [list(tsched.get_last_lr())]
    for _ in range(EPOCHS):
        topt.step()
        tsched.step()
        theirs.append(list(tsched.get_last_lr()))
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-12, atol=1e-15)


def test_step_with_epoch_uses_closed_form_and_warns():
    opt = make_opt()
    sched = S.StepLR(opt, step_size=3, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(7)
    assert math.isclose(sched.get_last_lr()[0], BASE * 0.25)
    sgdr = S.CosineAnnealingWarmRestarts(make_opt(), T_0=4)
    sgdr.step(5.5)  # fractional epochs position inside the second cycle
    assert math.isclose(sgdr.get_last_lr()[0], cosine(BASE, 0, 1.5, 4))


@pytest.mark.parametrize("name", sorted(CASES))
def test_state_dict_round_trip_resumes_the_schedule(name):
    make, fn = CASES[name]
    opt1 = make_opt()
    s1 = make(opt1)
    lr_sequence(s1, epochs=9)
    sd = s1.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 9
    opt2 = make_opt()
    s2 = make(opt2)
    s2.load_state_dict(sd)
    opt2.load_state_dict(opt1.state_dict())
    rest = lr_sequence(s2, epochs=10)
    np.testing.assert_allclose(rest[1:, 0], closed(fn, 1, 19)[10:, 0], rtol=1e-12, atol=1e-15)


def test_state_dict_of_lambda_lr_and_sequential_lr():
    class Factor:
        def __init__(self):
            self.k = 0.5

        def __call__(self, e):
            return self.k ** e

    opt = make_opt()
    fn = Factor()
    s = S.LambdaLR(opt, [fn])
    fn.k = 0.25
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"k": 0.25}]
    assert S.LambdaLR(make_opt(), lambda e: 1.0).state_dict()["lr_lambdas"] == [None]
    other = Factor()
    S.LambdaLR(make_opt(), [other]).load_state_dict(sd)
    assert other.k == 0.25
    opt = make_opt()
    seq = S.SequentialLR(opt, [S.ExponentialLR(opt, 0.5), S.ExponentialLR(opt, 0.9)], milestones=[3])
    sd = seq.state_dict()
    assert isinstance(sd["_schedulers"], list) and len(sd["_schedulers"]) == 2


def test_save_and_load_scheduler_state_with_ember(tmp_path):
    opt = make_opt()
    s = S.ReduceLROnPlateau(opt, patience=1)
    s.step(1.0)
    ember.save(s.state_dict(), tmp_path / "s.ckpt")
    s2 = S.ReduceLROnPlateau(make_opt(), patience=1)
    s2.load_state_dict(ember.load(tmp_path / "s.ckpt"))
    assert s2.best == 1.0 and s2.mode_worse == math.inf and s2.num_bad_epochs == 0
    m = S.MultiStepLR(make_opt(), milestones=[2, 2, 5])
    ember.save(m.state_dict(), tmp_path / "m.ckpt")
    m2 = S.MultiStepLR(make_opt(), milestones=[1])
    m2.load_state_dict(ember.load(tmp_path / "m.ckpt"))
    assert m2.milestones == m.milestones and type(m2.milestones) is type(m.milestones)
    o = S.OneCycleLR(make_opt(momentum=0.9), max_lr=1.0, total_steps=10)
    ember.save(o.state_dict(), tmp_path / "o.ckpt")
    assert ember.load(tmp_path / "o.ckpt")["_schedule_phases"] == o.state_dict()["_schedule_phases"]


@pytest.mark.parametrize("make,exc,msg", [
    (lambda o: S.StepLR(object(), 3), TypeError, "object is not an Optimizer"),
    (lambda o: S.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative factor"),
    (lambda o: S.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "Expected positive integer T_0"),
    (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "Expected integer T_mult >= 1"),
    (lambda o: S.LambdaLR(o, [lambda e: 1, lambda e: 2]), ValueError, "Expected 1 lr_lambdas, but got 2"),
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0, 0]), ValueError, "expected 1 min_lrs, got 2"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0), ValueError, "You must define either total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "Expected positive integer total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=5, anneal_strategy="x"), ValueError, "anneal_strategy"),
    (lambda o: S.SequentialLR(o, [], []), ValueError, "expects at least one scheduler"),
    (lambda o: S.SequentialLR(o, [S.StepLR(o, 2), S.StepLR(o, 3)], []), ValueError, "one more than the number"),
    (lambda o: S.SequentialLR(o, [S.StepLR(make_opt(), 2)], []), ValueError, "belong to the same optimizer"),
    (lambda o: S.SequentialLR(o, [S.ReduceLROnPlateau(o)], []), ValueError, "does not support `ReduceLROnPlateau`"),
    (lambda o: S.StepLR(o, 3, last_epoch=4), KeyError, "initial_lr"),
])
def test_argument_validation(make, exc, msg):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=msg):
            make(make_opt())


def test_resuming_with_last_epoch_requires_initial_lr_and_continues():
    opt = make_opt()
    S.StepLR(opt, step_size=2, gamma=0.5)
    assert opt.param_groups[0]["initial_lr"] == BASE
    s = S.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)
    assert s.last_epoch == 4 and s.base_lrs == [BASE]
