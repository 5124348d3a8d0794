"""ember.amp.GradScaler: scaling, inf/NaN step skipping, the growth/backoff schedule (against PyTorch's CPU
GradScaler when installed), unscale_ semantics and errors, state_dict, pickling, every optimizer."""
import math
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember.amp import GradScaler

rng = np.random.default_rng(0)


def make_param(n=4):
    return ember.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)


def set_grads(params, values):
    for p, v in zip(params, values):
        p.grad = ember.tensor(np.asarray(v, dtype=np.float32))


def test_scale_outputs():
    s = GradScaler("cpu", init_scale=8.0)
    x = ember.tensor([1.0, -2.0])
    np.testing.assert_array_equal(s.scale(x).numpy(), [8.0, -16.0])
    a, (b, c) = s.scale([x, (x, x * 2)])
    assert isinstance(a, ember.Tensor) and float(c[1]) == -32.0
    assert list(map(float, s.scale(iter([x[0]])))) == [8.0]
    assert s.scale(x.to(ember.bfloat16)).dtype is ember.bfloat16
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        s.scale([1.0])


def test_unscale_step_update_and_skip():
    p = make_param()
    opt = ember.optim.SGD([p], lr=1.0)
    s = GradScaler("cpu", init_scale=4.0, growth_interval=2)
    s.scale(ember.tensor(1.0))
    set_grads([p], [[4.0, 8.0, -4.0, 0.0]])
    before = p.detach().numpy().copy()
    s.unscale_(opt)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, 2.0, -1.0, 0.0])
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called on this optimizer"):
        s.unscale_(opt)
    s.step(opt)  # does not unscale again
    np.testing.assert_allclose(p.detach().numpy(), before - [1.0, 2.0, -1.0, 0.0])
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step\\(\\)"):
        s.unscale_(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last update\\(\\)"):
        s.step(opt)
    s.update()
    assert s.get_scale() == 4.0 and s._get_growth_tracker() == 1
    # an inf gradient: step skipped, scale backs off, tracker resets
    for bad in (math.inf, -math.inf, math.nan):
        set_grads([p], [[1.0, bad, 0.0, 0.0]])
        kept = p.detach().numpy().copy()
        assert s.step(opt) is None
        np.testing.assert_array_equal(p.detach().numpy(), kept)
        s.update()
        assert s._get_growth_tracker() == 0
    assert s.get_scale() == 0.5
    # two clean steps grow it
    for _ in range(2):
        set_grads([p], [[1.0, 1.0, 1.0, 1.0]])
        s.step(opt)
        s.update()
    assert s.get_scale() == 1.0 and s._get_growth_tracker() == 0


def test_errors():
    p = make_param()
    opt = ember.optim.SGD([p], lr=0.1)
    s = GradScaler("cpu")
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        s.step(opt)
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        s.update()
    s.scale(ember.tensor(1.0))
    with pytest.raises(AssertionError, match="No inf checks were recorded prior to update"):
        s.update()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        s.step(opt, closure=lambda: 0.0)
    q = ember.ones(4, dtype=ember.float16, requires_grad=True)
    q.grad = ember.ones(4, dtype=ember.float16)
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        s.unscale_(ember.optim.SGD([q], lr=0.1))
    with pytest.raises(ValueError, match="growth factor must be > 1.0"):
        GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="backoff factor must be < 1.0"):
        GradScaler("cpu", backoff_factor=1.0)
    with pytest.raises(RuntimeError, match="device type"):
        GradScaler("tpu")


def test_update_with_new_scale():
    s = GradScaler("cpu")
    s.scale(ember.tensor(1.0))
    s.update(new_scale=123.0)
    assert s.get_scale() == 123.0
    s.update(new_scale=ember.tensor([7.0]))
    assert s.get_scale() == 7.0
    with pytest.raises(AssertionError, match="new_scale should be a float"):
        s.update(new_scale=ember.tensor([1.0, 2.0]))


def _schedule(lib, finite_pattern, **kw):
    s = lib.amp.GradScaler("cpu", **kw)
    p = lib.zeros(3, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    out = []
    for ok in finite_pattern:
        s.scale(lib.ones(()))
        p.grad = lib.tensor([1.0, 2.0, 3.0] if ok else [1.0, float("inf"), 3.0])
        s.step(opt)
        s.update()
        out.append((s.get_scale(), s._get_growth_tracker(), [round(float(v), 6) for v in p.detach()]))
    return out


PATTERN = [True, True, True, False, True, True, True, True, False, False, True, True, True]


def test_schedule_values():
    sched = _schedule(ember, PATTERN, init_scale=16.0, growth_interval=3, growth_factor=4.0, backoff_factor=0.25)
    scales = [s for s, _, _ in sched]
    assert scales == [16.0, 16.0, 64.0, 16.0, 16.0, 16.0, 64.0, 64.0, 16.0, 4.0, 4.0, 4.0, 16.0]
    assert [t for _, t, _ in sched] == [1, 2, 0, 0, 1, 2, 0, 1, 0, 0, 1, 2, 0]


def test_schedule_matches_torch():
    torch = pytest.importorskip("torch")
    kw = dict(init_scale=2.0 ** 10, growth_interval=3, growth_factor=2.0, backoff_factor=0.5)
    assert _schedule(ember, PATTERN, **kw) == _schedule(torch, PATTERN, **kw)


def test_growth_stops_at_float32_overflow():
    s = GradScaler("cpu", init_scale=2.0 ** 127, growth_interval=1)
    p = make_param()
    opt = ember.optim.SGD([p], lr=0.0)
    s.scale(ember.tensor(1.0))
    p.grad = ember.zeros(4)
    s.step(opt)
    s.update()
    assert s.get_scale() == 2.0 ** 127 and s._get_growth_tracker() == 0


def test_state_dict_round_trip_and_pickle():
    s = GradScaler("cpu", init_scale=32.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=7)
    p = make_param()
    opt = ember.optim.SGD([p], lr=0.1)
    for _ in range(2):
        s.scale(ember.tensor(1.0))
        p.grad = ember.ones(4)
        s.step(opt)
        s.update()
    sd = s.state_dict()
    assert sd == {"scale": 32.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 7,
                  "_growth_tracker": 2}
    t = GradScaler("cpu")
    t.load_state_dict(sd)
    assert t.state_dict() == sd
    t.scale(ember.tensor(1.0))  # lazily created tensors take the loaded values
    assert t.get_scale() == 32.0 and t._get_growth_tracker() == 2
    u = GradScaler("cpu")
    u.scale(ember.tensor(1.0))
    u.load_state_dict(sd)  # existing tensors are filled
    assert u.get_scale() == 32.0 and u._get_growth_tracker() == 2
    v = pickle.loads(pickle.dumps(s))
    assert v.state_dict() == sd
    s.scale(ember.tensor(1.0))
    p.grad = ember.ones(4)
    s.unscale_(opt)
    with pytest.raises(AssertionError, match="may only be pickled"):
        pickle.dumps(s)
    off = GradScaler("cpu", enabled=False)
    assert off.state_dict() == {}
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        GradScaler("cpu").load_state_dict({})


def test_disabled_is_a_pass_through():
    s = GradScaler("cpu", enabled=False)
    x = ember.tensor([3.0])
    assert s.scale(x) is x and s.get_scale() == 1.0 and not s.is_enabled()
    p = make_param()
    opt = ember.optim.SGD([p], lr=1.0)
    p.grad = ember.ones(4)
    before = p.detach().numpy().copy()
    s.step(opt)
    s.update()
    np.testing.assert_allclose(p.detach().numpy(), before - 1.0)
    s.unscale_(opt)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        assert not GradScaler().is_enabled()
    with pytest.warns(FutureWarning):
        assert ember.cpu.amp.GradScaler().is_enabled()


def test_per_optimizer_and_param_groups():
    a, b, c = make_param(), make_param(), make_param()
    opt1 = ember.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=1.0)
    opt2 = ember.optim.Adam([c], lr=0.1)
    s = GradScaler("cpu", init_scale=2.0)
    s.scale(ember.tensor(1.0))
    set_grads([a, b, c], [[2.0] * 4, [4.0] * 4, [1.0, math.nan, 1.0, 1.0]])
    a0, b0, c0 = (t.detach().numpy().copy() for t in (a, b, c))
    s.step(opt1)
    s.step(opt2)  # this optimizer saw a NaN: only its step is skipped
    s.update()
    np.testing.assert_allclose(a.detach().numpy(), a0 - 1.0)
    np.testing.assert_allclose(b.detach().numpy(), b0 - 1.0)
    np.testing.assert_array_equal(c.detach().numpy(), c0)
    assert s.get_scale() == 1.0


OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adamax", "Adagrad", "Adadelta", "RMSprop", "Rprop", "NAdam", "RAdam", "ASGD"]


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS if hasattr(ember.optim, n)])
def test_every_optimizer(name):
    p = make_param()
    opt = getattr(ember.optim, name)([p], lr=0.01)
    s = GradScaler("cpu", init_scale=1024.0)
    for finite in (False, True):
        before = p.detach().numpy().copy()
        loss = (p * p).sum()
        s.scale(loss).backward()
        if not finite:
            p.grad.data[0] = float("inf")
        s.step(opt)
        s.update()
        moved = not np.array_equal(p.detach().numpy(), before)
        assert moved == finite
        p.grad = None
    assert s.get_scale() == 512.0


def test_lbfgs_closure_when_disabled():
    p = make_param()
    opt = ember.optim.LBFGS([p], lr=0.5, max_iter=5)
    s = GradScaler("cpu", enabled=False)

    def closure():
        opt.zero_grad()
        loss = ((p - 1.0) ** 2).sum()
        loss.backward()
        return loss
    first = closure().item()
    s.step(opt, closure=closure)
    assert closure().item() < first


def test_training_recovers_from_overflow():
    """A huge initial scale makes the first scaled gradients overflow: those steps are skipped and the scale
    backs off until training proceeds; the loss then falls, under bfloat16 autocast."""
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.Tanh(), ember.nn.Linear(16, 1))
    opt = ember.optim.SGD(model.parameters(), lr=0.002)
    s = GradScaler("cpu", init_scale=2.0 ** 127, growth_interval=50)
    x = ember.tensor(rng.standard_normal((32, 8)).astype(np.float32))
    y = ember.tensor(5 * rng.standard_normal((32, 1)).astype(np.float32))
    losses, skipped = [], 0
    for _ in range(60):
        opt.zero_grad()
        with ember.autocast("cpu"):
            loss = ember.nn.functional.mse_loss(model(x), y, reduction="sum")  # gradients ~10: 10 * 2**127 is inf
        s.scale(loss).backward()
        scale_before = s.get_scale()
        s.step(opt)
        s.update()
        skipped += s.get_scale() < scale_before
        losses.append(loss.item())
    assert skipped >= 1 and s.get_scale() < 2.0 ** 127
    assert all(math.isfinite(p.detach().sum().item()) for p in model.parameters())
    assert losses[-1] < 0.8 * losses[0]


def test_unscale_then_clip():
    p = make_param()
    opt = ember.optim.SGD([p], lr=1.0)
    s = GradScaler("cpu", init_scale=1024.0)
    s.scale((p * 100).sum()).backward()
    s.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), [100.0] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ember.nn.utils.clip_grad_norm_([p], 1.0)
    before = p.detach().numpy().copy()
    s.step(opt)
    s.update()
    assert np.linalg.norm(before - p.detach().numpy()) == pytest.approx(1.0, rel=1e-4)
