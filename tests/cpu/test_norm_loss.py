"""Fused softmax / log_softmax, cross-entropy, batch norm, layer norm, group norm, embedding and dropout
(csrc/cpu/nn.cpp, csrc/cpu/norm.cpp and their Python Functions) against numpy written from PyTorch's
documented formulas, float64 gradcheck for every backward, and PyTorch when installed."""
import numpy as np
import pytest

import ember
from cpu_util import E, F, N, T, TF, needs_torch, torch

gradcheck, gradgradcheck = ember.autograd.gradcheck, ember.autograd.gradgradcheck


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if np.dtype(dtype) == np.float32 else dict(rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------------------------------------- softmax


def log_softmax_ref(x, dim):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))


SOFTMAX_SHAPES = [((7,), 0), ((1,), 0), ((3, 33), 1), ((3, 33), 0), ((3, 33), -1), ((2, 5, 7), 1), ((2, 5, 7), 0),
                  ((4, 3, 5, 6), 2), ((1031, 3), 0), ((3, 1031), -1), ((64, 2048), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape,dim", SOFTMAX_SHAPES, ids=["%s-%d" % (s, d) for s, d in SOFTMAX_SHAPES])
def test_softmax_log_softmax(shape, dim, dtype, rng):
    # float32 log-probabilities (~ -10) and gradients summed over rows of 2048 carry absolute errors of a few
    # float32 ulps of the row's magnitude (PyTorch's too)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=2e-5, atol=1e-5)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    ref = log_softmax_ref(x, dim)
    ex = E(x, True)
    y = F.softmax(ex, dim)
    np.testing.assert_allclose(N(y), np.exp(ref), **_tol(dtype))
    np.testing.assert_allclose(N(F.log_softmax(E(x), dim)), ref, **tol)
    g = rng.standard_normal(shape)
    y.backward(E(g.astype(dtype)))
    p = np.exp(ref)
    np.testing.assert_allclose(N(ex.grad), p * (g - (g * p).sum(dim, keepdims=True)), **tol)
    ex = E(x, True)
    F.log_softmax(ex, dim).backward(E(g.astype(dtype)))
    np.testing.assert_allclose(N(ex.grad), g - p * g.sum(dim, keepdims=True), **tol)


def test_softmax_noncontiguous(rng):
    x = rng.standard_normal((6, 9, 5))
    xt = E(np.ascontiguousarray(x.transpose(2, 0, 1))).permute(1, 2, 0)  # the softmax dim has stride 1 elsewhere
    for dim in (0, 1, 2):
        np.testing.assert_allclose(N(F.softmax(xt, dim)), np.exp(log_softmax_ref(x, dim)), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(N(F.log_softmax(E(x)[:, ::2], dim)), log_softmax_ref(x[:, ::2], dim),
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_softmax_huge_logits(dtype):
    big = np.finfo(dtype).max / 2
    x = np.array([[1e4, 1e4 + 1, -1e4, 0.0],
                  [big, big, -big, 0.0],
                  [-np.inf, 0.0, 1.0, -np.inf],
                  [-1e30, -1e30 + 1e24, -1e30, -1e30]], dtype=dtype)
    ref = log_softmax_ref(x, 1)
    sm = N(F.softmax(E(x), 1))
    assert np.isfinite(sm).all()
    np.testing.assert_allclose(sm, np.exp(ref), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(sm.sum(1), 1.0, rtol=1e-6)
    ls = N(F.log_softmax(E(x), 1))
    assert np.isfinite(ls[:, 1]).all()
    assert (ls[np.isinf(ref)] == -np.inf).all()
    # rows whose maximum is small enough that max + log(sum) keeps the digits of log(sum)
    np.testing.assert_allclose(ls[2:][np.isfinite(ref[2:])], ref[2:][np.isfinite(ref[2:])], rtol=1e-6, atol=1e-6)
    # gradients stay finite
    ex = E(x, True)
    F.log_softmax(ex, 1)[:, 1].sum().backward()
    assert np.isfinite(N(ex.grad)).all()
    ex = E(x, True)
    F.softmax(ex, 1)[:, 1].sum().backward()
    assert np.isfinite(N(ex.grad)).all()
    # an all -inf row is NaN, as in PyTorch
    z = np.full((1, 3), -np.inf, dtype)
    assert np.isnan(N(F.softmax(E(z), 1))).all()
    assert np.isnan(N(F.log_softmax(E(z), 1))).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_log_softmax_large_logits_precision(dtype):
    big = np.finfo(dtype).max / 2
    x = np.array([[1e4, 1e4 + 1, -1e4, 0.0], [big, big, -big, 0.0]], dtype=dtype)
    ref = log_softmax_ref(x, 1)
    # x - max is exact here, so the result is as accurate as log(sum): a few ulps of the log-probability
    np.testing.assert_allclose(N(F.log_softmax(E(x), 1))[:, :2], ref[:, :2], rtol=1e-6, atol=1e-6)


def test_softmax_low_precision(rng):
    x = rng.standard_normal((5, 40)).astype(np.float32) * 4
    for dt in (ember.bfloat16, ember.float16):
        ex = E(x).to(dt)
        y = F.softmax(ex, -1)
        assert y.dtype == dt
        np.testing.assert_allclose(N(y), np.exp(log_softmax_ref(N(ex), -1)), rtol=1e-2, atol=1e-3)


def test_gradcheck_softmax():
    rng = np.random.default_rng(1)
    for shape, dim in [((3, 5), 1), ((2, 3, 4), 0), ((2, 3, 4), 1), ((4,), 0)]:
        x = E(rng.standard_normal(shape), True)
        assert gradcheck(lambda t: F.softmax(t, dim), (x,))
        assert gradcheck(lambda t: F.log_softmax(t, dim), (x,))
    x = E(rng.standard_normal((3, 4)), True)
    assert gradgradcheck(lambda t: F.log_softmax(t, 1), (x,))
    assert gradgradcheck(lambda t: F.softmax(t, 0), (x,))


# ----------------------------------------------------------------------------------------------- cross-entropy


def ce_ref(x, target, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    """PyTorch's cross_entropy: (loss, d loss / d x for an upstream gradient of ones)."""
    x = np.asarray(x, np.float64)
    cdim = 0 if x.ndim == 1 else 1
    C = x.shape[cdim]
    logp = log_softmax_ref(x, cdim)
    lp = np.moveaxis(logp, cdim, -1)  # classes last
    p = np.exp(lp)
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    if np.asarray(target).dtype.kind == "f":
        t = np.moveaxis(np.asarray(target, np.float64), cdim, -1)
        t = t * (1 - ls) + ls / C
        loss = -(lp * t * w).sum(-1)
        grad = p * (t * w).sum(-1, keepdims=True) - t * w
        denom = loss.size if x.ndim > 1 else 1
    else:
        target = np.asarray(target)
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        wt = w[safe] * valid
        onehot = np.eye(C)[safe]
        nll = -np.take_along_axis(lp, safe[..., None], -1)[..., 0] * wt
        smooth = -(lp * w).sum(-1) * valid
        loss = (1 - ls) * nll + ls / C * smooth
        grad = ((1 - ls) * wt[..., None] * (p - onehot) + ls / C * valid[..., None] * (w.sum() * p - w))
        denom = wt.sum()
    if reduction == "none":
        return loss, np.moveaxis(grad, -1, cdim)
    if reduction == "sum":
        return loss.sum(), np.moveaxis(grad, -1, cdim)
    return loss.sum() / denom, np.moveaxis(grad, -1, cdim) / denom


def _targets(rng, shape, C, ignore=None, frac=0.3):
    t = rng.integers(0, C, shape)
    if ignore is not None:
        t = np.where(rng.random(shape) < frac, ignore, t)
    return t


CE_CASES = [
    # (input shape, weight?, ignore_index, label_smoothing)
    ((5, 7), False, -100, 0.0),
    ((5, 7), True, -100, 0.0),
    ((6, 7), False, 2, 0.0),
    ((6, 7), True, -1, 0.0),
    ((6, 7), False, -100, 0.2),
    ((6, 7), True, 3, 0.15),
    ((1, 1), False, -100, 0.0),
    ((300, 1031), True, 5, 0.1),
    ((7,), False, -100, 0.0),
    ((7,), True, -100, 0.3),
    ((3, 5, 4), False, 1, 0.0),  # [N, C, d]
    ((2, 5, 3, 2), True, 0, 0.25),  # [N, C, d1, d2]
]
REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES, ids=[str(i) for i in range(len(CE_CASES))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_cross_entropy_class_indices(case, reduction, dtype, rng):
    shape, use_w, ii, ls = case
    C = shape[0] if len(shape) == 1 else shape[1]
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = _targets(rng, tshape, C, ii if ii != -100 else None)
    if reduction == "mean" and ii != -100 and tshape:
        t.flat[0] = 0 if ii != 0 else 1  # at least one target counts
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if use_w else None
    ref, gref = ce_ref(x, t, w, ii, reduction, ls)
    ex = E(x, True)
    loss = F.cross_entropy(ex, E(t), E(w) if use_w else None, ignore_index=ii, reduction=reduction,
                           label_smoothing=ls)
    assert loss.dtype == ex.dtype
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(N(loss), ref, **tol)
    if reduction == "none":
        loss.sum().backward()
    else:
        loss.backward()
    np.testing.assert_allclose(N(ex.grad), gref, **tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 7), (7,), (3, 4, 2)], ids=str)
def test_cross_entropy_probabilities(shape, reduction, rng):
    cdim = 0 if len(shape) == 1 else 1
    x = rng.standard_normal(shape) * 2
    t = np.exp(log_softmax_ref(rng.standard_normal(shape), cdim))
    w = rng.uniform(0.2, 2.0, shape[cdim])
    for weight, ls in [(None, 0.0), (w, 0.0), (None, 0.1), (w, 0.3)]:
        ref, gref = ce_ref(x, t, weight, reduction=reduction, ls=ls)
        ex = E(x, True)
        loss = F.cross_entropy(ex, E(t), None if weight is None else E(weight), reduction=reduction,
                               label_smoothing=ls)
        np.testing.assert_allclose(N(loss), ref, rtol=1e-11, atol=1e-12)
        (loss.sum() if reduction == "none" else loss).backward()
        np.testing.assert_allclose(N(ex.grad), gref, rtol=1e-11, atol=1e-12)


def test_cross_entropy_huge_logits_and_all_ignored():
    x = np.array([[1e4, -1e4, 0.0], [1e38, 0.0, -1e38]], np.float32)
    t = np.array([1, 2])
    ex = E(x, True)
    loss = F.cross_entropy(ex, E(t), reduction="none")
    np.testing.assert_allclose(N(loss), [2e4, 2e38], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(N(ex.grad), [[1, -1, 0], [1, 0, -1]], atol=1e-6)
    # every target ignored: mean is 0/0 = NaN (PyTorch), sum is 0
    t = np.array([-100, -100])
    assert np.isnan(float(F.cross_entropy(E(x), E(t))))
    assert float(F.cross_entropy(E(x), E(t), reduction="sum")) == 0.0


def test_cross_entropy_bad_target():
    x = E(np.zeros((2, 3)))
    with pytest.raises(IndexError):
        F.cross_entropy(x, E(np.array([0, 3])))
    with pytest.raises(IndexError):
        F.cross_entropy(x, E(np.array([-1, 0])))


def test_gradcheck_cross_entropy():
    rng = np.random.default_rng(2)
    x2 = E(rng.standard_normal((4, 5)), True)
    t2 = E(np.array([0, 4, 2, 2]))
    w = E(rng.uniform(0.5, 2, 5))
    for kw in [dict(), dict(weight=w), dict(ignore_index=2), dict(label_smoothing=0.2, weight=w),
               dict(reduction="sum", label_smoothing=0.1), dict(reduction="none", ignore_index=4)]:
        assert gradcheck(lambda a: F.cross_entropy(a, t2, **kw), (x2,)), kw
    x3 = E(rng.standard_normal((2, 3, 4)), True)
    t3 = E(rng.integers(0, 3, (2, 4)))
    assert gradcheck(lambda a: F.cross_entropy(a, t3, label_smoothing=0.1), (x3,))
    prob = E(np.exp(log_softmax_ref(rng.standard_normal((4, 5)), 1)), True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), (x2, prob))
    # the weight's own gradient (composite path)
    wg = E(rng.uniform(0.5, 2, 5), True)
    assert gradcheck(lambda a, ww: F.cross_entropy(a, t2, weight=ww), (x2, wg))
    assert gradgradcheck(lambda a: F.cross_entropy(a, t2, weight=w, label_smoothing=0.1), (x2,))


# ----------------------------------------------------------------------------------------------- batch norm


def bn_ref(x, rm, rv, w, b, training, momentum, eps):
    """(y, new running mean, new running var)."""
    x = np.asarray(x, np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axes), x.var(axes)
        n = x.size // x.shape[1]
        rm = None if rm is None else (1 - momentum) * rm + momentum * mean
        rv = None if rv is None else (1 - momentum) * rv + momentum * var * n / (n - 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y, rm, rv


def bn_backward_ref(g, x, w, training, rv, eps):
    """(gx, gw, gb) in training (batch statistics) or eval (running variance rv)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    wc = np.ones(x.shape[1]) if w is None else w
    if training:
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
        invstd = 1 / np.sqrt(var + eps)
        xh = (x - mean) * invstd
        m = x.size // x.shape[1]
        gsum, gxh = g.sum(axes, keepdims=True), (g * xh).sum(axes, keepdims=True)
        gx = wc.reshape(shape) * invstd / m * (m * g - gsum - xh * gxh)
    else:
        invstd = 1 / np.sqrt(rv.reshape(shape) + eps)
        gx = g * wc.reshape(shape) * invstd
        xh = None
    return gx, xh


BN_SHAPES = [(4, 3), (5, 3, 7), (2, 4, 5, 3), (1, 2, 1, 3), (8, 16, 9, 9)]


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_batch_norm_train(shape, affine, dtype, rng):
    C = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w = rng.standard_normal(C).astype(dtype) if affine else None
    b = rng.standard_normal(C).astype(dtype) if affine else None
    rm0, rv0 = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    rm, rv = E(rm0), E(rv0)
    ex = E(x, True)
    ew, eb = (E(w, True), E(b, True)) if affine else (None, None)
    y = F.batch_norm(ex, rm, rv, ew, eb, training=True, momentum=0.3, eps=1e-3)
    yref, rmref, rvref = bn_ref(x, rm0.astype(np.float64), rv0.astype(np.float64), w, b, True, 0.3, 1e-3)
    np.testing.assert_allclose(N(y), yref, **_tol(dtype))
    np.testing.assert_allclose(N(rm), rmref, **_tol(dtype))
    np.testing.assert_allclose(N(rv), rvref, **_tol(dtype))  # unbiased variance
    g = rng.standard_normal(shape)
    y.backward(E(g.astype(dtype)))
    gx, xh = bn_backward_ref(g, x.astype(np.float64), None if w is None else w.astype(np.float64), True, None, 1e-3)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(N(ex.grad), gx, **tol)
    if affine:
        axes = (0,) + tuple(range(2, len(shape)))
        np.testing.assert_allclose(N(ew.grad), (g * xh).sum(axes), **tol)
        np.testing.assert_allclose(N(eb.grad), g.sum(axes), **tol)


@pytest.mark.parametrize("shape", BN_SHAPES[:4], ids=str)
def test_batch_norm_eval(shape, rng):
    C = shape[1]
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    rm0, rv0 = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    rm, rv = E(rm0), E(rv0)
    ex, ew, eb = E(x, True), E(w, True), E(b, True)
    y = F.batch_norm(ex, rm, rv, ew, eb, training=False, eps=1e-4)
    yref, _, _ = bn_ref(x, rm0, rv0, w, b, False, 0.1, 1e-4)
    np.testing.assert_allclose(N(y), yref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(N(rm), rm0)  # untouched in eval
    np.testing.assert_array_equal(N(rv), rv0)
    g = rng.standard_normal(shape)
    y.backward(E(g))
    gx, _ = bn_backward_ref(g, x, w, False, rv0, 1e-4)
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(N(ex.grad), gx, rtol=1e-12, atol=1e-12)
    xh = (x - rm0.reshape((1, -1) + (1,) * (len(shape) - 2))) / np.sqrt(rv0 + 1e-4).reshape(
        (1, -1) + (1,) * (len(shape) - 2))
    np.testing.assert_allclose(N(ew.grad), (g * xh).sum(axes), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(N(eb.grad), g.sum(axes), rtol=1e-12, atol=1e-12)


def test_batch_norm_running_stats_over_steps(rng):
    rm, rv = E(np.zeros(3)), E(np.ones(3))
    rm_ref, rv_ref = np.zeros(3), np.ones(3)
    for _ in range(4):
        x = rng.standard_normal((6, 3, 2)) * 3 + 2
        F.batch_norm(E(x), rm, rv, training=True, momentum=0.1)
        _, rm_ref, rv_ref = bn_ref(x, rm_ref, rv_ref, None, None, True, 0.1, 1e-5)
    np.testing.assert_allclose(N(rm), rm_ref, rtol=1e-12)
    np.testing.assert_allclose(N(rv), rv_ref, rtol=1e-12)
    # no running stats at all in training
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(N(F.batch_norm(E(x), None, None, training=True)),
                               bn_ref(x, None, None, None, None, True, 0.1, 1e-5)[0], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        F.batch_norm(E(np.ones((1, 3))), None, None, training=True)


def test_gradcheck_batch_norm():
    rng = np.random.default_rng(3)
    x = E(rng.standard_normal((3, 2, 4)), True)
    w, b = E(rng.standard_normal(2), True), E(rng.standard_normal(2), True)
    assert gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, training=True), (x, w, b))
    rm, rv = E(rng.standard_normal(2)), E(rng.uniform(0.5, 2, 2))
    assert gradcheck(lambda a, c, d: F.batch_norm(a, rm, rv, c, d, training=False), (x, w, b))
    x4 = E(rng.standard_normal((2, 3, 2, 2)), True)
    assert gradcheck(lambda a: F.batch_norm(a, None, None, training=True), (x4,))
    assert gradgradcheck(lambda a, c: F.batch_norm(a, None, None, c, None, training=True), (x, w))


# ----------------------------------------------------------------------------------------------- layer / group norm


def ln_ref(x, nd, w, b, eps):
    axes = tuple(range(x.ndim - nd, x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("shape,nd", [((7,), 1), ((3, 33), 1), ((2, 3, 5), 2), ((4, 1031), 1), ((2, 1, 1), 1),
                                      ((64, 3, 16, 16), 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_layer_norm(shape, nd, affine, dtype, rng):
    ns = shape[len(shape) - nd:]
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    w = rng.standard_normal(ns).astype(dtype) if affine else None
    b = rng.standard_normal(ns).astype(dtype) if affine else None
    ex = E(x, True)
    ew, eb = (E(w, True), E(b, True)) if affine else (None, None)
    y = F.layer_norm(ex, ns, ew, eb, eps=1e-4)
    tol = _tol(dtype) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(N(y), ln_ref(x64, nd, w, b, 1e-4), **tol)
    g = rng.standard_normal(shape)
    y.backward(E(g.astype(dtype)))
    axes = tuple(range(len(shape) - nd, len(shape)))
    D = int(np.prod(ns))
    xh = ln_ref(x64, nd, None, None, 1e-4)
    rstd = 1 / np.sqrt(x64.var(axes, keepdims=True) + 1e-4)
    gw_ = g * (1 if w is None else w.astype(np.float64))
    gx = rstd / D * (D * gw_ - gw_.sum(axes, keepdims=True) - xh * (gw_ * xh).sum(axes, keepdims=True))
    np.testing.assert_allclose(N(ex.grad), gx, **tol)
    if affine:
        lead = tuple(range(len(shape) - nd))
        np.testing.assert_allclose(N(ew.grad), (g * xh).sum(lead), **tol)
        np.testing.assert_allclose(N(eb.grad), g.sum(lead), **tol)


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((2, 4, 3, 3), 2), ((1, 4, 7), 4), ((3, 4, 2, 2), 1)],
                         ids=str)
def test_group_norm(shape, groups, rng):
    x = rng.standard_normal(shape) * 2 + 1
    C = shape[1]
    w, b = rng.standard_normal(C), rng.standard_normal(C)
    xg = x.reshape(shape[0], groups, -1)
    ref = ((xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + 1e-5)).reshape(shape)
    bshape = (1, C) + (1,) * (len(shape) - 2)
    ref = ref * w.reshape(bshape) + b.reshape(bshape)
    np.testing.assert_allclose(N(F.group_norm(E(x), groups, E(w), E(b))), ref, rtol=1e-11, atol=1e-12)


def test_gradcheck_layer_group_norm():
    rng = np.random.default_rng(4)
    x = E(rng.standard_normal((3, 2, 4)), True)
    w, b = E(rng.standard_normal((2, 4)), True), E(rng.standard_normal((2, 4)), True)
    assert gradcheck(lambda a, c, d: F.layer_norm(a, (2, 4), c, d), (x, w, b))
    w1, b1 = E(rng.standard_normal(4), True), E(rng.standard_normal(4), True)
    assert gradcheck(lambda a, c, d: F.layer_norm(a, 4, c, d), (x, w1, b1))
    assert gradcheck(lambda a: F.layer_norm(a, (4,)), (x,))
    assert gradgradcheck(lambda a, c: F.layer_norm(a, (4,), c), (x, w1))
    xg = E(rng.standard_normal((2, 4, 3)), True)
    wg, bg = E(rng.standard_normal(4), True), E(rng.standard_normal(4), True)
    assert gradcheck(lambda a, c, d: F.group_norm(a, 2, c, d), (xg, wg, bg))


# ----------------------------------------------------------------------------------------------- embedding


def test_embedding_forward_and_accumulating_grad(rng):
    w = rng.standard_normal((10, 4))
    idx = np.array([[1, 3, 1], [9, 1, 0]])
    ew = E(w, True)
    out = F.embedding(E(idx), ew)
    np.testing.assert_array_equal(N(out), w[idx])
    g = rng.standard_normal((2, 3, 4))
    out.backward(E(g))
    gw = np.zeros_like(w)
    np.add.at(gw, idx.ravel(), g.reshape(-1, 4))
    np.testing.assert_allclose(N(ew.grad), gw, rtol=1e-12, atol=1e-12)
    assert np.abs(N(ew.grad)[1] - g.reshape(-1, 4)[[0, 2, 4]].sum(0)).max() < 1e-12  # row 1 used 3 times


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_padding_idx(padding_idx, rng):
    w = rng.standard_normal((6, 3)).astype(np.float32)
    idx = np.array([0, 3, 5, 3, 2, 0, 5])
    ew = E(w, True)
    out = F.embedding(E(idx), ew, padding_idx=padding_idx)
    np.testing.assert_array_equal(N(out), w[idx])  # the padding row is still looked up
    g = rng.standard_normal((7, 3)).astype(np.float32)
    out.backward(E(g))
    gw = np.zeros_like(w)
    np.add.at(gw, idx, g)
    gw[padding_idx % 6] = 0
    np.testing.assert_allclose(N(ew.grad), gw, rtol=1e-6, atol=1e-6)


def test_embedding_large_and_gradcheck(rng):
    w = rng.standard_normal((1000, 33)).astype(np.float32)
    idx = rng.integers(0, 1000, (64, 17))
    ew = E(w, True)
    out = F.embedding(E(idx), ew)
    np.testing.assert_array_equal(N(out), w[idx])
    out.sum().backward()
    counts = np.bincount(idx.ravel(), minlength=1000).astype(np.float32)
    np.testing.assert_array_equal(N(ew.grad), np.repeat(counts[:, None], 33, 1))
    w2 = E(np.random.default_rng(5).standard_normal((5, 3)), True)
    i2 = E(np.array([[0, 2, 2], [4, 0, 1]]))
    assert gradcheck(lambda t: F.embedding(i2, t), (w2,))
    # padding_idx=3 is not looked up here, so it does not change the gradient
    assert gradcheck(lambda t: F.embedding(i2, t, padding_idx=3), (w2,))


def _renorm_ref(w, idx, max_norm):
    w = w.copy()
    for i in np.unique(idx):
        n = np.linalg.norm(w[i])
        if n > max_norm:
            w[i] *= max_norm / (n + 1e-7)
    return w


@pytest.mark.parametrize("idx", [[1, 2, 7], [1, 2, 1]], ids=["distinct", "repeated_indices"])
def test_embedding_max_norm(idx, rng):
    w = rng.standard_normal((10, 3)) * 2
    idx = np.array(idx)
    ew = E(w)
    out = F.embedding(E(idx), ew, max_norm=0.5)
    ref = _renorm_ref(w, idx, 0.5)
    np.testing.assert_allclose(N(out), ref[idx], rtol=1e-6)
    np.testing.assert_allclose(N(ew), ref, rtol=1e-6)  # rows renormalised in place, the others untouched


# ----------------------------------------------------------------------------------------------- dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_and_gradient(p):
    ember.manual_seed(1234)
    n = 200_000
    x = E(np.ones(n, np.float32), True)
    y = F.dropout(x, p, training=True)
    out = N(y)
    kept = out != 0
    # survivors are scaled by exactly 1 / (1 - p); the dropped fraction is p within 5 standard deviations
    np.testing.assert_allclose(out[kept], np.float32(1) / np.float32(1 - p), rtol=1e-6)
    sd = np.sqrt(p * (1 - p) / n)
    assert abs((~kept).mean() - p) < 5 * sd, ((~kept).mean(), p)
    # no long runs of one value (a broken counter-based generator would repeat)
    assert 0 < np.abs(np.diff(kept.astype(np.int8))).sum() < n
    # the gradient uses the same mask and scale
    g = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    y.backward(E(g))
    np.testing.assert_allclose(N(x.grad), np.where(kept, g / np.float32(1 - p), 0), rtol=1e-6, atol=1e-7)


def test_dropout_seed_and_modes(rng):
    x = rng.standard_normal((50, 40)).astype(np.float32)
    ember.manual_seed(7)
    a = N(F.dropout(E(x), 0.5))
    ember.manual_seed(7)
    b = N(F.dropout(E(x), 0.5))
    c = N(F.dropout(E(x), 0.5))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    np.testing.assert_array_equal(N(F.dropout(E(x), 0.5, training=False)), x)
    np.testing.assert_array_equal(N(F.dropout(E(x), 0.0)), x)
    assert (N(F.dropout(E(x), 1.0)) == 0).all()
    with pytest.raises(ValueError):
        F.dropout(E(x), 1.5)
    xd = rng.standard_normal((30, 20))
    ember.manual_seed(3)
    ex = E(xd, True)
    y = F.dropout(ex, 0.4)
    mask = N(y) != 0
    y.backward(E(np.ones_like(xd)))
    np.testing.assert_allclose(N(ex.grad), mask / 0.6, rtol=1e-12)


# ----------------------------------------------------------------------------------------------- PyTorch


@needs_torch
def test_cross_entropy_matches_torch(rng):
    for shape, use_w, ii, ls in CE_CASES:
        C = shape[0] if len(shape) == 1 else shape[1]
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
        t = _targets(rng, tshape, C, ii if ii != -100 else None)
        if tshape:
            t.flat[0] = 0 if ii != 0 else 1
        w = rng.uniform(0.2, 2.0, C).astype(np.float32) if use_w else None
        for red in REDUCTIONS:
            kw = dict(ignore_index=ii, reduction=red, label_smoothing=ls)
            ex, tx = E(x, True), T(x, True)
            e = F.cross_entropy(ex, E(t), None if w is None else E(w), **kw)
            r = TF.cross_entropy(tx, torch.tensor(t), None if w is None else T(w), **kw)
            np.testing.assert_allclose(N(e), r.detach().numpy(), rtol=1e-4, atol=1e-5, err_msg=str((shape, red)))
            (e.sum() if red == "none" else e).backward()
            (r.sum() if red == "none" else r).backward()
            np.testing.assert_allclose(N(ex.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@needs_torch
def test_norms_match_torch(rng):
    x = rng.standard_normal((4, 3, 5, 2)).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    erm, erv = E(np.zeros(3, np.float32)), E(np.ones(3, np.float32))
    trm, trv = torch.zeros(3), torch.ones(3)
    ex, tx = E(x, True), T(x, True)
    e = F.batch_norm(ex, erm, erv, E(w), E(b), training=True, momentum=0.2)
    t = TF.batch_norm(tx, trm, trv, T(w), T(b), training=True, momentum=0.2)
    np.testing.assert_allclose(N(e), t.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(N(erm), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(N(erv), trv.numpy(), rtol=1e-5, atol=1e-6)
    e.backward(E(np.ones(x.shape, np.float32) * np.arange(2, dtype=np.float32)))
    t.backward(torch.ones(x.shape) * torch.arange(2.0))
    np.testing.assert_allclose(N(ex.grad), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    lw = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(N(F.layer_norm(E(x), (5, 2), E(lw))),
                               TF.layer_norm(T(x), (5, 2), T(lw)).numpy(), rtol=1e-5, atol=1e-5)
    xg = rng.standard_normal((2, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(N(F.group_norm(E(xg), 3)), TF.group_norm(T(xg), 3).numpy(), rtol=1e-5, atol=1e-5)
    for dim in (0, 1, 2, -1):
        np.testing.assert_allclose(N(F.log_softmax(E(x), dim)), TF.log_softmax(T(x), dim).numpy(), rtol=1e-5,
                                   atol=1e-6)
    z = np.array([[-np.inf, -np.inf], [1e30, -1e30]], np.float32)
    np.testing.assert_array_equal(N(F.softmax(E(z), 1)), TF.softmax(T(z), 1).numpy())
    np.testing.assert_array_equal(N(F.log_softmax(E(z), 1)), TF.log_softmax(T(z), 1).numpy())
