"""max_pool2d / avg_pool2d / adaptive_avg_pool2d / adaptive_max_pool2d forward and backward (csrc/cpu/pool.cpp)
against naive numpy loops written from PyTorch's documented semantics, float64 gradcheck, and PyTorch."""
import numpy as np
import pytest

import ember
from cpu_util import E, F, N, T, TF, needs_torch, torch


def out_size(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    if ceil_mode:
        o = -(-(size + 2 * p - eff) // s) + 1
        if (o - 1) * s >= size + p:  # the last window must start inside the input or the left padding
            o -= 1
        return o
    return (size + 2 * p - eff) // s + 1


def max_pool_ref(x, k, s, p, d, ceil_mode):
    """(values, flat h*W+w indices); the first maximum in row-major window order wins; NaN wins."""
    n, c, h, w = x.shape
    oh, ow = out_size(h, k[0], s[0], p[0], d[0], ceil_mode), out_size(w, k[1], s[1], p[1], d[1], ceil_mode)
    val = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for a in range(n):
        for b in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    best, bi = None, -1
                    for i in range(k[0]):
                        for j in range(k[1]):
                            iy, ix = oy * s[0] - p[0] + i * d[0], ox * s[1] - p[1] + j * d[1]
                            if 0 <= iy < h and 0 <= ix < w:
                                v = x[a, b, iy, ix]
                                if bi < 0 or v > best or (np.isnan(v) and not np.isnan(best)):
                                    best, bi = v, iy * w + ix
                    val[a, b, oy, ox], idx[a, b, oy, ox] = best, bi
    return val, idx


def avg_pool_ref(x, k, s, p, ceil_mode, count_include_pad, divisor_override):
    n, c, h, w = x.shape
    oh, ow = out_size(h, k[0], s[0], p[0], 1, ceil_mode), out_size(w, k[1], s[1], p[1], 1, ceil_mode)
    out = np.empty((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            y0, x0 = oy * s[0] - p[0], ox * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])  # clipped to the padded input
            area = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            total = x[:, :, y0:y1, x0:x1].sum((2, 3))
            div = divisor_override or (area if count_include_pad else (y1 - y0) * (x1 - x0))
            out[:, :, oy, ox] = total / div
    return out


def avg_pool_backward_ref(g, shape, k, s, p, count_include_pad, divisor_override):
    """Each output cell's gradient spread evenly (by the forward's divisor) over its window inside the input."""
    h, w = shape[2], shape[3]
    gx = np.zeros(shape)
    for oy in range(g.shape[2]):
        for ox in range(g.shape[3]):
            y0, x0 = oy * s[0] - p[0], ox * s[1] - p[1]
            y1, x1 = min(y0 + k[0], h + p[0]), min(x0 + k[1], w + p[1])
            area = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
            div = divisor_override or (area if count_include_pad else (y1 - y0) * (x1 - x0))
            gx[:, :, y0:y1, x0:x1] += g[:, :, oy:oy + 1, ox:ox + 1] / div
    return gx


def adaptive_bounds(size, out):
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def adaptive_ref(x, oh, ow, op):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for i, (a, b) in enumerate(adaptive_bounds(h, oh)):
        for j, (e, f) in enumerate(adaptive_bounds(w, ow)):
            win = x[:, :, a:b, e:f].reshape(n, c, -1)
            if op == "avg":
                out[:, :, i, j] = win.mean(-1)
            else:
                am = win.argmax(-1)
                out[:, :, i, j] = np.take_along_axis(win, am[..., None], -1)[..., 0]
                idx[:, :, i, j] = (a + am // (f - e)) * w + e + am % (f - e)
    return out, idx


def scatter_grad(g, idx, shape):
    gx = np.zeros(shape[:2] + (shape[2] * shape[3],))
    n, c = shape[:2]
    for a in range(n):
        for b in range(c):
            np.add.at(gx[a, b], idx[a, b].ravel(), g[a, b].ravel())
    return gx.reshape(shape)


def _as2(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ----------------------------------------------------------------------------------------------- max pool

# (N, C, H, W), kernel, stride, padding, dilation, ceil_mode
MAX_CASES = [
    ((2, 3, 7, 9), 2, None, 0, 1, False),
    ((2, 3, 7, 9), 2, None, 0, 1, True),
    ((1, 2, 8, 7), 3, 2, 1, 1, False),
    ((1, 2, 8, 7), 3, 2, 1, 1, True),
    ((2, 2, 9, 10), (3, 2), (2, 1), (1, 0), (2, 1), False),
    ((2, 2, 9, 10), (3, 2), (2, 3), (1, 1), (1, 2), True),
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
    ((1, 3, 5, 5), 5, 1, 2, 1, True),
    ((2, 4, 33, 17), 3, 3, 1, 1, True),
    ((4, 16, 32, 32), 2, 2, 0, 1, False),  # many planes: split across threads
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", MAX_CASES, ids=[str(i) for i in range(len(MAX_CASES))])
def test_max_pool2d(case, dtype, rng):
    xs, k, s, p, d, ceil = case
    x = rng.standard_normal(xs).astype(dtype)
    k2, s2 = _as2(k), _as2(s if s is not None else k)
    ref, ridx = max_pool_ref(x, k2, s2, _as2(p), _as2(d), ceil)
    ex = E(x, True)
    out, idx = F.max_pool2d(ex, k, s, p, d, ceil_mode=ceil, return_indices=True)
    np.testing.assert_array_equal(N(out), ref)
    np.testing.assert_array_equal(N(idx), ridx)
    assert idx.dtype == ember.int64
    g = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(E(g))
    np.testing.assert_allclose(N(ex.grad), scatter_grad(g, ridx, xs), rtol=1e-6, atol=1e-6)
    # without indices: the same values
    np.testing.assert_array_equal(N(F.max_pool2d(E(x), k, s, p, d, ceil_mode=ceil)), ref)


def test_max_pool2d_ties_nan_inf_and_overlap(rng):
    # ties: the first maximum in the window wins; overlapping windows accumulate into the same input
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = 5.0
    x[0, 0, 3, 0] = np.nan
    x[0, 0, 0, 3] = -np.inf
    ex = E(x, True)
    out, idx = F.max_pool2d(ex, 3, 1, return_indices=True)
    ref, ridx = max_pool_ref(x, (3, 3), (1, 1), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(N(out), ref)
    np.testing.assert_array_equal(N(idx), ridx)
    out.sum().backward()
    np.testing.assert_array_equal(N(ex.grad), scatter_grad(np.ones(ref.shape), ridx, x.shape))
    # an all -inf window
    y = np.full((1, 1, 2, 2), -np.inf)
    assert N(F.max_pool2d(E(y), 2))[0, 0, 0, 0] == -np.inf


def test_max_pool2d_unbatched_noncontiguous_int(rng):
    x = rng.standard_normal((3, 8, 9))
    ref, _ = max_pool_ref(x[None], (2, 2), (2, 2), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(N(F.max_pool2d(E(x), 2)), ref[0])
    xt = E(np.ascontiguousarray(x.transpose(0, 2, 1))).transpose(1, 2)
    np.testing.assert_array_equal(N(F.max_pool2d(xt, 2)), ref[0])
    xi = rng.integers(-100, 100, (1, 2, 6, 6))
    ref_i, _ = max_pool_ref(xi, (3, 3), (2, 2), (1, 1), (1, 1), True)
    np.testing.assert_array_equal(N(F.max_pool2d(E(xi), 3, 2, 1, ceil_mode=True)), ref_i)


# ----------------------------------------------------------------------------------------------- avg pool

# (N, C, H, W), kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
AVG_CASES = [
    ((2, 3, 7, 9), 2, None, 0, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, True, None),
    ((2, 3, 7, 9), 3, 2, 1, False, False, None),
    ((2, 3, 7, 9), 3, 2, 1, True, True, None),
    ((2, 3, 7, 9), 3, 2, 1, True, False, None),
    ((1, 2, 8, 5), (3, 2), (2, 3), (1, 1), True, True, None),
    ((1, 2, 8, 5), (3, 2), (2, 3), (1, 1), True, False, None),
    ((1, 2, 6, 6), 3, 2, 1, False, True, 5),
    ((1, 2, 6, 6), 2, 1, 0, True, False, 3),
    ((1, 1, 1, 1), 1, 1, 0, False, True, None),
    ((2, 4, 33, 17), 4, 3, 2, True, False, None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", AVG_CASES, ids=[str(i) for i in range(len(AVG_CASES))])
def test_avg_pool2d(case, dtype, rng):
    xs, k, s, p, ceil, cip, div = case
    x = rng.standard_normal(xs).astype(dtype)
    ref = avg_pool_ref(x.astype(np.float64), _as2(k), _as2(s if s is not None else k), _as2(p), ceil, cip, div)
    ex = E(x, True)
    out = F.avg_pool2d(ex, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(N(out), ref, **tol)
    g = rng.standard_normal(ref.shape)
    out.backward(E(g.astype(dtype)))
    gref = avg_pool_backward_ref(g, xs, _as2(k), _as2(s if s is not None else k), _as2(p), cip, div)
    np.testing.assert_allclose(N(ex.grad), gref, **tol)


# ----------------------------------------------------------------------------------------------- adaptive

ADAPTIVE = [((2, 3, 7, 9), (3, 4)), ((1, 2, 10, 10), (5, 5)), ((1, 2, 5, 7), (1, 1)), ((1, 1, 4, 6), (4, 6)),
            ((2, 2, 3, 5), (7, 8)), ((1, 2, 13, 11), (4, None)), ((1, 1, 1, 1), 1), ((3, 8, 17, 19), 6)]


def _osize(o, h, w):
    if isinstance(o, int):
        return o, o
    return (h if o[0] is None else o[0]), (w if o[1] is None else o[1])


@pytest.mark.parametrize("case", ADAPTIVE, ids=[str(i) for i in range(len(ADAPTIVE))])
def test_adaptive_avg_pool2d(case, rng):
    xs, o = case
    oh, ow = _osize(o, xs[2], xs[3])
    x = rng.standard_normal(xs)
    ref, _ = adaptive_ref(x, oh, ow, "avg")
    ex = E(x, True)
    out = F.adaptive_avg_pool2d(ex, o)
    np.testing.assert_allclose(N(out), ref, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(ref.shape)
    out.backward(E(g))
    gx = np.zeros(xs)
    for i, (a, b) in enumerate(adaptive_bounds(xs[2], oh)):
        for j, (e, f) in enumerate(adaptive_bounds(xs[3], ow)):
            gx[:, :, a:b, e:f] += g[:, :, i:i + 1, j:j + 1] / ((b - a) * (f - e))
    np.testing.assert_allclose(N(ex.grad), gx, rtol=1e-12, atol=1e-12)
    # float32 too
    np.testing.assert_allclose(N(F.adaptive_avg_pool2d(E(x.astype(np.float32)), o)), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ADAPTIVE, ids=[str(i) for i in range(len(ADAPTIVE))])
def test_adaptive_max_pool2d(case, rng):
    xs, o = case
    oh, ow = _osize(o, xs[2], xs[3])
    x = rng.standard_normal(xs)
    ref, ridx = adaptive_ref(x, oh, ow, "max")
    ex = E(x, True)
    out, idx = F.adaptive_max_pool2d(ex, o, return_indices=True)
    np.testing.assert_array_equal(N(out), ref)
    np.testing.assert_array_equal(N(idx), ridx)
    g = rng.standard_normal(ref.shape)
    out.backward(E(g))
    np.testing.assert_allclose(N(ex.grad), scatter_grad(g, ridx, xs), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------- gradcheck


def test_gradcheck_pools():
    rng = np.random.default_rng(11)
    gc = ember.autograd.gradcheck
    # distinct values far apart, so finite differences never flip an argmax
    x = E(rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1, True)
    assert gc(lambda t: F.max_pool2d(t, 2, 2, ceil_mode=True), (x,), eps=1e-4)
    assert gc(lambda t: F.max_pool2d(t, 3, 2, 1, dilation=1), (x,), eps=1e-4)
    assert gc(lambda t: F.max_pool2d(t, 2, 1, 0, dilation=2), (x,), eps=1e-4)
    assert gc(lambda t: F.adaptive_max_pool2d(t, (3, 4)), (x,), eps=1e-4)
    y = E(rng.standard_normal((2, 2, 5, 6)), True)
    assert gc(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), (y,))
    assert gc(lambda t: F.avg_pool2d(t, 2, 1, 1, count_include_pad=True), (y,))
    assert gc(lambda t: F.avg_pool2d(t, 2, divisor_override=3), (y,))
    assert gc(lambda t: F.adaptive_avg_pool2d(t, (4, 4)), (y,))
    assert ember.autograd.gradgradcheck(lambda t: F.avg_pool2d(t, 2, 1), (y,))
    assert ember.autograd.gradgradcheck(lambda t: F.adaptive_avg_pool2d(t, (3, 2)), (y,))


# ----------------------------------------------------------------------------------------------- PyTorch


@needs_torch
def test_pools_match_torch(rng):
    for xs, k, s, p, d, ceil in MAX_CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        e, ei = F.max_pool2d(E(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
        t, ti = TF.max_pool2d(T(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
        np.testing.assert_array_equal(N(e), t.numpy())
        np.testing.assert_array_equal(N(ei), ti.numpy())
    for xs, k, s, p, ceil, cip, div in AVG_CASES:
        x = rng.standard_normal(xs).astype(np.float32)
        ex, tx = E(x, True), T(x, True)
        e = F.avg_pool2d(ex, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
        t = TF.avg_pool2d(tx, k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
        np.testing.assert_allclose(N(e), t.detach().numpy(), rtol=1e-5, atol=1e-6)
        g = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        e.backward(E(g))
        t.backward(torch.tensor(g))
        np.testing.assert_allclose(N(ex.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    for xs, o in ADAPTIVE:
        x = rng.standard_normal(xs).astype(np.float32)
        np.testing.assert_allclose(N(F.adaptive_avg_pool2d(E(x), o)), TF.adaptive_avg_pool2d(T(x), o).numpy(),
                                   rtol=1e-5, atol=1e-6)
        e, ei = F.adaptive_max_pool2d(E(x), o, return_indices=True)
        t, ti = TF.adaptive_max_pool2d(T(x), o, return_indices=True)
        np.testing.assert_array_equal(N(e), t.numpy())
        np.testing.assert_array_equal(N(ei), ti.numpy())
