"""Losses (modules and functional forms) against numpy references for every reduction, float64 gradcheck and
torch."""
import itertools
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, close, leaf, npy, randn, torch_or_skip

REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _rng(seed):
    return np.random.default_rng(seed)


def _log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


# ================================================================================ regression losses


def _regression_refs():
    def smooth_l1(d, beta):
        a = np.abs(d)
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)

    def huber(d, delta):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return [
        (lambda r: nn.L1Loss(reduction=r), lambda d: np.abs(d)),
        (lambda r: nn.MSELoss(reduction=r), lambda d: d * d),
        (lambda r: nn.SmoothL1Loss(reduction=r), lambda d: smooth_l1(d, 1.0)),
        (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.5), lambda d: smooth_l1(d, 0.5)),
        (lambda r: nn.HuberLoss(reduction=r), lambda d: huber(d, 1.0)),
        (lambda r: nn.HuberLoss(reduction=r, delta=2.0), lambda d: huber(d, 2.0)),
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(6))
def test_regression_losses_numpy_and_gradcheck(case, reduction):
    make, ref = _regression_refs()[case]
    loss_fn = make(reduction)
    x = _rng(case).uniform(-3, 3, (3, 4))
    t = _rng(case + 10).uniform(-3, 3, (3, 4))
    # keep |x - t| away from the kinks (0, beta, delta)
    d = x - t
    for k in (0.0, 0.5, 1.0, 2.0):
        bad = np.abs(np.abs(d) - k) < 0.05
        x[bad] += 0.2
    out = loss_fn(ember.tensor(x), ember.tensor(t))
    close(out, _reduce(ref(x - t), reduction), atol=1e-12)
    check_grad(lambda a, b: loss_fn(a, b), leaf(x), leaf(t))


def test_regression_loss_broadcast_warning_and_weight():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(ember.ones(3, 1), ember.ones(3))
    x, t, w = randn(4, seed=1), randn(4, seed=2), ember.tensor([1.0, 2.0, 0.0, 1.0], dtype=ember.float64)
    d = npy(x) - npy(t)
    close(F.mse_loss(x, t, weight=w), (d * d * npy(w)).sum() / npy(w).sum(), atol=1e-12)
    close(F.l1_loss(x, t, weight=w, reduction="sum"), (np.abs(d) * npy(w)).sum(), atol=1e-12)
    close(F.huber_loss(x, t, weight=w), (np.where(np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5) * npy(w)).mean(),
          atol=1e-12)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.l1_loss(x, t, weight=ember.ones(2))


def test_reduction_validation_and_legacy_flags():
    with pytest.raises(ValueError, match="elementwise is not a valid value for reduction"):
        nn.MSELoss(reduction="elementwise")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.l1_loss(ember.ones(2), ember.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="negative values for beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="non-positive values for delta"):
        nn.HuberLoss(delta=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nn.L1Loss(size_average=False).reduction == "sum"
        assert nn.L1Loss(reduce=False).reduction == "none"
        assert nn.L1Loss(size_average=True, reduce=True).reduction == "mean"
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


# ================================================================================ classification losses


def _nll_ref(logp, target, weight, ignore_index, reduction):
    n = logp.shape[0]
    w = np.ones(logp.shape[1]) if weight is None else weight
    picked = np.array([logp[i, target[i]] if target[i] != ignore_index else 0.0 for i in range(n)])
    wi = np.array([w[target[i]] if target[i] != ignore_index else 0.0 for i in range(n)])
    loss = -picked * wi
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wi.sum()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_and_cross_entropy_numpy(reduction):
    x = _rng(3).standard_normal((6, 4))
    target = np.array([0, 3, 1, 1, 2, -100])
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    for w in (None, weight):
        ew = None if w is None else ember.tensor(w)
        ref = _nll_ref(_log_softmax(x), target, w, -100, reduction)
        close(F.cross_entropy(ember.tensor(x), ember.tensor(target), weight=ew, reduction=reduction), ref, atol=1e-12)
        close(nn.NLLLoss(weight=ew, reduction=reduction)(ember.tensor(_log_softmax(x)), ember.tensor(target)), ref,
              atol=1e-12)
    tgt = ember.tensor(target)
    check_grad(lambda a: F.cross_entropy(a, tgt, reduction=reduction, label_smoothing=0.1), leaf(x))
    check_grad(lambda a: F.nll_loss(a, tgt, weight=ember.tensor(weight), reduction=reduction), leaf(x))


def test_cross_entropy_probabilities_and_smoothing_numpy():
    x = _rng(4).standard_normal((5, 3))
    p = _rng(5).dirichlet(np.ones(3), 5)
    close(nn.CrossEntropyLoss()(ember.tensor(x), ember.tensor(p)), -(p * _log_softmax(x)).sum(1).mean(), atol=1e-12)
    target = np.array([0, 2, 1, 1, 0])
    eps = 0.2
    smooth = np.full((5, 3), eps / 3)
    smooth[np.arange(5), target] += 1 - eps
    close(nn.CrossEntropyLoss(label_smoothing=eps)(ember.tensor(x), ember.tensor(target)),
          -(smooth * _log_softmax(x)).sum(1).mean(), atol=1e-12)
    check_grad(lambda a, b: F.cross_entropy(a, b), leaf(x), leaf(p))


def test_cross_entropy_matches_torch_for_every_option():
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = _rng(6)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)  # [N, C, d1]
    target = rng.integers(0, 5, (4, 3))
    target[1, 2] = 2
    probs = rng.dirichlet(np.ones(5), (4, 3)).transpose(0, 2, 1).astype(np.float32)
    weight = rng.uniform(0.5, 2, 5).astype(np.float32)
    for reduction, w, smoothing, ignore in itertools.product(REDUCTIONS, (None, weight), (0.0, 0.3), (-100, 2)):
        kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=ignore)
        target[0, 0] = ignore
        ex = ember.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        eo = F.cross_entropy(ex, ember.tensor(target), weight=None if w is None else ember.tensor(w), **kw)
        to = TF.cross_entropy(tx, torch.tensor(target), weight=None if w is None else torch.tensor(w), **kw)
        close(eo, to, atol=1e-5)
        eo.sum().backward()
        to.sum().backward()
        close(ex.grad, tx.grad, atol=1e-5)
        kw.pop("ignore_index")
        eo = F.cross_entropy(ember.tensor(x), ember.tensor(probs), weight=None if w is None else ember.tensor(w), **kw)
        to = TF.cross_entropy(torch.tensor(x), torch.tensor(probs), weight=None if w is None else torch.tensor(w), **kw)
        close(eo, to, atol=1e-5)
    one = ember.tensor(x[0, :, 0])
    close(F.cross_entropy(one, ember.tensor(3)), TF.cross_entropy(torch.tensor(x[0, :, 0]), torch.tensor(3)), atol=1e-6)


def test_nll_loss_errors():
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.nll_loss(ember.randn(2, 3), ember.tensor([0, 7]))
    with pytest.raises((ValueError, RuntimeError)):
        F.nll_loss(ember.randn(2, 3), ember.tensor([0, 1, 2]))


# ================================================================================ binary losses


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_numpy_and_gradcheck(reduction):
    rng = _rng(7)
    p = rng.uniform(0.05, 0.95, (3, 4))
    t = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (3, 4))
    ref = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    close(nn.BCELoss(reduction=reduction)(ember.tensor(p), ember.tensor(t)), _reduce(ref, reduction), atol=1e-12)
    close(nn.BCELoss(weight=ember.tensor(w), reduction=reduction)(ember.tensor(p), ember.tensor(t)),
          _reduce(ref * w, reduction), atol=1e-12)
    check_grad(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), leaf(p), leaf(t))


def test_bce_edges():
    # log is clamped at -100, and the gradient stays finite at 0 and 1
    p = ember.tensor([0.0, 1.0, 0.5], requires_grad=True)
    t = ember.tensor([1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(npy(loss), [100.0, 100.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(npy(p.grad)).all()
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(ember.tensor([0.5]), ember.tensor([1.0, 0.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_numpy_pos_weight_and_gradcheck(reduction):
    rng = _rng(8)
    x = rng.uniform(-30, 30, (3, 4))  # large magnitudes: the stable form must not overflow
    t = rng.uniform(0, 1, (3, 4))
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    w = rng.uniform(0.5, 2, (3, 4))
    log_sig = -np.logaddexp(0, -x)
    log_1m = -np.logaddexp(0, x)
    ref = -(pw * t * log_sig + (1 - t) * log_1m) * w
    out = nn.BCEWithLogitsLoss(weight=ember.tensor(w), reduction=reduction, pos_weight=ember.tensor(pw))(
        ember.tensor(x), ember.tensor(t))
    close(out, _reduce(ref, reduction), atol=1e-10)
    small = x / 10
    check_grad(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=ember.tensor(pw), reduction=reduction),
               leaf(small), leaf(t))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(ember.ones(2), ember.ones(3))


def test_binary_losses_match_torch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = _rng(9)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t = (rng.uniform(0, 1, (5, 3)) > 0.5).astype(np.float32)
    pw = np.array([0.5, 1.0, 4.0], np.float32)
    for reduction in REDUCTIONS:
        ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        eo = F.binary_cross_entropy_with_logits(ex, ember.tensor(t), pos_weight=ember.tensor(pw), reduction=reduction)
        to = TF.binary_cross_entropy_with_logits(tx, torch.tensor(t), pos_weight=torch.tensor(pw), reduction=reduction)
        close(eo, to, atol=1e-6)
        eo.sum().backward()
        to.sum().backward()
        close(ex.grad, tx.grad, atol=1e-6)
        p = 1 / (1 + np.exp(-x))
        ep, tp = ember.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
        eo, to = F.binary_cross_entropy(ep, ember.tensor(t), reduction=reduction), TF.binary_cross_entropy(
            tp, torch.tensor(t), reduction=reduction)
        close(eo, to, atol=1e-6)
        eo.sum().backward()
        to.sum().backward()
        close(ep.grad, tp.grad, atol=1e-5)


# ================================================================================ KL divergence


@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
def test_kl_div_numpy_and_gradcheck(reduction):
    rng = _rng(10)
    logq = _log_softmax(rng.standard_normal((4, 3)))
    p = rng.dirichlet(np.ones(3), 4)
    p[0, 1] = 0.0  # 0 * log 0 counts as 0
    pointwise = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - logq), 0.0)
    ref = pointwise.sum() / 4 if reduction == "batchmean" else _reduce(pointwise, reduction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        close(nn.KLDivLoss(reduction=reduction)(ember.tensor(logq), ember.tensor(p)), ref, atol=1e-12)
        close(nn.KLDivLoss(reduction=reduction, log_target=True)(ember.tensor(logq), ember.tensor(np.log(p + 1e-300))),
              ref, atol=1e-10)
        check_grad(lambda a: F.kl_div(a, ember.tensor(p), reduction=reduction), leaf(logq))
    if reduction == "mean":
        with pytest.warns(UserWarning, match="batchmean"):
            F.kl_div(ember.tensor(logq), ember.tensor(p), reduction="mean")


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_regression_and_kl_losses_match_torch():
    torch = torch_or_skip()
    rng = _rng(11)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    t = rng.standard_normal((4, 5)).astype(np.float32)
    for name, kw in [("L1Loss", {}), ("MSELoss", {}), ("SmoothL1Loss", dict(beta=0.7)), ("HuberLoss", dict(delta=0.8)),
                     ("KLDivLoss", dict(log_target=True))]:
        for reduction in REDUCTIONS:
            e_mod, t_mod = getattr(nn, name)(reduction=reduction, **kw), getattr(torch.nn, name)(reduction=reduction,
                                                                                                  **kw)
            ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            eo, to = e_mod(ex, ember.tensor(t)), t_mod(tx, torch.tensor(t))
            close(eo, to, atol=1e-5)
            eo.sum().backward()
            to.sum().backward()
            close(ex.grad, tx.grad, atol=1e-5)


def test_loss_modules_hold_weights_as_buffers():
    w = ember.tensor([1.0, 2.0])
    ce = nn.CrossEntropyLoss(weight=w)
    assert ce.weight is w and list(ce.state_dict()) == ["weight"]
    ce.double()
    assert ce.weight.dtype is ember.float64
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(pos_weight=ember.ones(3))
    assert list(bce.state_dict()) == ["pos_weight"]


def test_mse_loss_is_one_graph_node():
    # as in PyTorch (tutorials print loss.grad_fn): one MseLossBackward0 node, differentiable twice
    x = leaf(_rng(3).standard_normal((2, 5)))
    t = leaf(_rng(4).standard_normal((2, 5)))
    for reduction in REDUCTIONS:
        assert type(F.mse_loss(x, t, reduction=reduction).grad_fn).__name__ == "MseLossBackward0"
        assert ember.autograd.gradgradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), (x, t))
    assert F.mse_loss(x.detach(), t.detach()).grad_fn is None
