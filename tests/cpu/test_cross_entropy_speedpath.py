"""The fused cross-entropy path (csrc/cpu/row_kernels.inc row kernels in baseline and AVX2 copies, and
CrossEntropyFn saving the forward's log-sum-exp): values and gradients against numpy written from PyTorch's
documented formula under every CPU capability, and against PyTorch for every option combination, with rows
shorter than, equal to and longer than a vector width (with tails), ignored rows and empty batches. The
softmax / log_softmax contiguous-row kernels from the same file are checked under every capability too."""
import numpy as np
import pytest

import ember
from cpu_util import E, F, needs_torch, torch

CLASSES = (1, 5, 16, 17, 37, 1000)  # under, at and past the 8/16-lane widths, with and without tails


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if np.dtype(dtype) == np.float32 else dict(rtol=1e-11, atol=1e-12)


def ce_ref(x, t, w=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """loss and d loss / d x in float64 from the documented formula:
    row loss = (1 - eps) w_t (-log p_t) + eps / C sum_c w_c (-log p_c), zero for ignored rows; 'mean'
    divides by sum over kept rows of w_t."""
    x = np.asarray(x, np.float64)
    n, c = x.shape
    w = np.ones(c) if w is None else np.asarray(w, np.float64)
    m = x.max(axis=1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    keep = t != ignore_index
    ts = np.where(keep, t, 0)
    wt = w[ts] * keep
    rows = (1 - smoothing) * wt * -logp[np.arange(n), ts] + smoothing / c * keep * -(logp * w).sum(axis=1)
    p = np.exp(logp)
    onehot = np.zeros_like(x)
    onehot[np.arange(n), ts] = 1
    grow = (1 - smoothing) * wt[:, None] * (p - onehot) + smoothing / c * keep[:, None] * (w.sum() * p - w)
    if reduction == "none":
        return rows, grow  # gradient of sum(rows)
    if reduction == "sum":
        return rows.sum(), grow
    with np.errstate(invalid="ignore", divide="ignore"):
        return rows.sum() / wt.sum(), grow / wt.sum()


def _case(rng, n, c, dtype, ignore_rows=0, scale=3.0):
    x = (rng.standard_normal((n, c)) * scale).astype(dtype)
    t = rng.integers(0, c, size=n)
    t[:ignore_rows] = -100
    return x, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("c", CLASSES)
def test_matches_numpy_every_capability(capability, c, dtype, rng):
    x, t = _case(rng, 23, c, dtype, ignore_rows=3)
    w = rng.uniform(0.5, 2.0, c).astype(dtype)
    for weight, smoothing, reduction in [(None, 0.0, "mean"), (w, 0.0, "sum"), (None, 0.2, "none"),
                                         (w, 0.1, "mean")]:
        ex = E(x, True)
        out = F.cross_entropy(ex, ember.tensor(t), weight=None if weight is None else E(weight),
                              reduction=reduction, label_smoothing=smoothing)
        ref, gref = ce_ref(x, t, weight, reduction=reduction, smoothing=smoothing)
        np.testing.assert_allclose(out.detach().numpy(), ref, **_tol(dtype))
        out.sum().backward()
        np.testing.assert_allclose(ex.grad.numpy(), gref, **_tol(dtype))
        assert ex.grad.dtype == ex.dtype and ex.grad.shape == ex.shape


def test_grad_flows_scaled_per_row(rng):
    # reduction='none' with a non-uniform upstream gradient: each row's gradient is scaled by its own g
    x, t = _case(rng, 9, 37, np.float64, ignore_rows=2)
    g = rng.standard_normal(9)
    ex = E(x, True)
    F.cross_entropy(ex, ember.tensor(t), reduction="none", label_smoothing=0.05).backward(E(g))
    _, gref = ce_ref(x, t, reduction="none", smoothing=0.05)
    np.testing.assert_allclose(ex.grad.numpy(), gref * g[:, None], rtol=1e-11, atol=1e-12)


def test_large_logits_stay_finite(rng):
    # the max is subtracted before exp: logits of 1e4 neither overflow nor lose the loss; the gradient is
    # exp(x - lse) with lse saved in float32, so it carries lse's rounding (ulp(1e4) / 2 relative to p)
    x, t = _case(rng, 6, 37, np.float32, scale=1.0)
    x = x + np.float32(1e4)
    ex = E(x, True)
    out = F.cross_entropy(ex, ember.tensor(t))
    ref, gref = ce_ref(x, t)
    np.testing.assert_allclose(out.item(), ref, rtol=1e-3)
    out.backward()
    np.testing.assert_allclose(ex.grad.numpy(), gref, rtol=1e-3, atol=1e-6)


def test_nan_logit_poisons_only_its_row(rng):
    x, t = _case(rng, 4, 40, np.float32)
    x[2, 33] = np.nan  # in the tail past two 16-lane blocks
    ex = E(x, True)
    rows = F.cross_entropy(ex, ember.tensor(t), reduction="none")
    r = rows.detach().numpy()
    assert np.isnan(r[2]) and np.isfinite(np.delete(r, 2)).all()
    rows.sum().backward()
    g = ex.grad.numpy()
    assert np.isnan(g[2]).all() and np.isfinite(np.delete(g, 2, axis=0)).all()


def test_every_row_ignored(rng):
    x, t = _case(rng, 5, 17, np.float32, ignore_rows=5)
    for reduction in ("none", "sum", "mean"):
        ex = E(x, True)
        out = F.cross_entropy(ex, ember.tensor(t), reduction=reduction, label_smoothing=0.1)
        v = out.detach().numpy()
        if reduction == "mean":
            assert np.isnan(v)  # 0 / 0, as PyTorch
        else:
            assert (v == 0).all()
        out.sum().backward()
        g = ex.grad.numpy()
        assert (g == 0).all() or (reduction == "mean" and np.isnan(g).all())


def test_empty_batch():
    for reduction, expect in (("none", (0,)), ("sum", ())):
        ex = ember.zeros(0, 17, requires_grad=True)
        out = F.cross_entropy(ex, ember.zeros(0, dtype=ember.int64), reduction=reduction)
        assert tuple(out.shape) == expect and out.detach().numpy().sum() == 0
        out.sum().backward()
        assert tuple(ex.grad.shape) == (0, 17)
    assert np.isnan(F.cross_entropy(ember.zeros(0, 17), ember.zeros(0, dtype=ember.int64)).item())


def test_non_contiguous_logits_and_int32_targets(rng):
    x, t = _case(rng, 37, 11, np.float64)
    ex = E(np.ascontiguousarray(x.T), True)
    out = F.cross_entropy(ex.t(), ember.tensor(t.astype(np.int32)), label_smoothing=0.3)
    ref, gref = ce_ref(x, t, smoothing=0.3)
    np.testing.assert_allclose(out.item(), ref, rtol=1e-11)
    out.backward()
    np.testing.assert_allclose(ex.grad.numpy().T, gref, rtol=1e-11, atol=1e-12)


def test_threads_give_identical_results(restore_threads, rng):
    # rows are independent, so splitting them across threads changes nothing bit for bit
    x, t = _case(rng, 300, 257, np.float32, ignore_rows=7)
    res = []
    for n in (1, 2):
        ember.set_num_threads(n)
        ex = E(x, True)
        out = F.cross_entropy(ex, ember.tensor(t), label_smoothing=0.1)
        out.backward()
        res.append((out.item(), ex.grad.numpy().copy()))
    assert res[0][0] == res[1][0]
    np.testing.assert_array_equal(res[0][1], res[1][1])


def test_backward_twice_with_retain_graph(rng):
    x, t = _case(rng, 8, 19, np.float64)
    ex = E(x, True)
    out = F.cross_entropy(ex, ember.tensor(t))
    out.backward(retain_graph=True)
    g1 = ex.grad.numpy().copy()
    out.backward()
    np.testing.assert_allclose(ex.grad.numpy(), 2 * g1, rtol=1e-12)


def test_double_backward_still_composite(rng):
    x, t = _case(rng, 4, 9, np.float64)
    ex = E(x, True)
    assert ember.autograd.gradgradcheck(lambda a: F.cross_entropy(a, ember.tensor(t), label_smoothing=0.1), (ex,))


def test_bad_inputs_raise():
    x = ember.randn(4, 6)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, ember.tensor([0, 1, 6, 2]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, ember.tensor([0, -3, 1, 2]))
    with pytest.raises(ValueError, match="batch_size"):
        F.cross_entropy(x, ember.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="weight"):
        F.cross_entropy(x, ember.tensor([0, 1, 2, 3]), weight=ember.ones(5))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, ember.tensor([0, 1, 2, 3]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, ember.tensor([0, 1, 2, 3]), reduction="avg")


# ----------------------------------------------------------------------------------------------- softmax rows


def _softmax_ref(x, log):
    x = np.asarray(x, np.float64)
    m = x.max(axis=-1, keepdims=True)
    m = np.where(np.isneginf(m), 0, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    return lp if log else np.exp(lp)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("n", CLASSES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_rows_every_capability(capability, log, n, dtype, rng):
    x = (rng.standard_normal((3, 5, n)) * 3).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    ex = E(x, True)
    y = (F.log_softmax if log else F.softmax)(ex, -1)
    ref = _softmax_ref(x, log)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    np.testing.assert_allclose(y.detach().numpy(), ref, **tol)
    y.backward(E(g))
    p = np.exp(_softmax_ref(x, True))
    gref = g - p * g.sum(-1, keepdims=True) if log else p * (g - (g * p).sum(-1, keepdims=True))
    np.testing.assert_allclose(ex.grad.numpy(), gref, **tol)


def test_softmax_rows_special_values(capability):
    x = np.array([[-np.inf] * 20,  # all -inf: NaN for both (0 / 0), as in PyTorch
                  [0.0] * 19 + [np.nan],
                  [1.0] * 18 + [np.inf, 2.0],
                  [-np.inf] * 19 + [3.0]], np.float32)
    for log in (False, True):
        y = (F.log_softmax if log else F.softmax)(E(x), 1).numpy()
        np.testing.assert_allclose(y, _softmax_ref(x, log).astype(np.float32), equal_nan=True, rtol=1e-6)


# ----------------------------------------------------------------------------------------------- PyTorch


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("c", CLASSES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_matches_torch(dtype, c, weighted, smoothing, rng):
    # every reduction, with no, some and every row ignored
    n = 11
    ignore_index = 3 if c > 3 else -100
    w = rng.uniform(0.5, 2.0, c).astype(dtype) if weighted else None
    for reduction in ("none", "mean", "sum"):
        for ignored in (0, 2, n):
            x, t = _case(rng, n, c, dtype)
            t[:ignored] = ignore_index
            g = rng.standard_normal(n if reduction == "none" else ()).astype(dtype)
            kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
            tx = torch.tensor(x, requires_grad=True)
            tout = torch.nn.functional.cross_entropy(tx, torch.tensor(t), **kw,
                                                     weight=None if w is None else torch.tensor(w))
            tout.backward(torch.tensor(g))
            ex = E(x, True)
            eout = F.cross_entropy(ex, ember.tensor(t), weight=None if w is None else E(w), **kw)
            eout.backward(E(g))
            tol = _tol(dtype)
            np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), equal_nan=True, **tol)
            np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), equal_nan=True, **tol)


@needs_torch
def test_language_model_shape_matches_torch(rng):
    # the benchmark's [700, 1000] float32 logits
    x, t = _case(rng, 700, 1000, np.float32, scale=1.0)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.cross_entropy(tx, torch.tensor(t))
    tout.backward()
    ex = E(x, True)
    eout = F.cross_entropy(ex, ember.tensor(t))
    eout.backward()
    np.testing.assert_allclose(eout.item(), tout.item(), rtol=1e-5)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-9)


@needs_torch
def test_empty_batch_matches_torch():
    for reduction in ("none", "mean", "sum"):
        tx = torch.zeros(0, 7, requires_grad=True)
        tout = torch.nn.functional.cross_entropy(tx, torch.zeros(0, dtype=torch.int64), reduction=reduction)
        ex = ember.zeros(0, 7, requires_grad=True)
        eout = F.cross_entropy(ex, ember.zeros(0, dtype=ember.int64), reduction=reduction)
        assert tuple(eout.shape) == tuple(tout.shape)
        np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), equal_nan=True)
