"""Tests of python/ember/_ops/set_ops.py: unique, unique_consecutive, bincount, searchsorted, bucketize, histc,
histogram, cdist, diff, logcumsumexp, block_diag, kron, cartesian_prod, combinations, tril/triu_indices.

The numpy section runs without PyTorch (values against numpy/itertools references, float64 gradcheck); the
PyTorch section compares values, result dtypes and gradients with torch and skips when torch is absent.
"""
import itertools
import zlib

import numpy as np
import pytest

import ember
from ember._ops import set_ops

FLOATS = [ember.float32, ember.float64]
NP_OF = {ember.float32: np.float32, ember.float64: np.float64, ember.int64: np.int64, ember.int32: np.int32,
         ember.uint8: np.uint8, ember.bool: np.bool_}


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def E(a, requires_grad=False):
    return ember.tensor(np.ascontiguousarray(a), requires_grad=requires_grad)


def npy(t):
    return t.detach().numpy()


def gradcheck(fn, *xs):
    return ember.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-6, rtol=1e-4)


# ===================================================================================== numpy references


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32, np.float64, np.uint8])
def test_unique_matches_numpy(rng, dtype):
    a = rng.integers(0, 7, size=(5, 6)).astype(dtype)
    u, inv, cnt = ember.unique(E(a), return_inverse=True, return_counts=True)
    ru, rinv, rcnt = np.unique(a, return_inverse=True, return_counts=True)
    assert u.dtype is ember.tensor(a).dtype and inv.dtype is ember.int64 and cnt.dtype is ember.int64
    np.testing.assert_array_equal(npy(u), ru)
    np.testing.assert_array_equal(npy(inv), rinv.reshape(a.shape))
    np.testing.assert_array_equal(npy(cnt), rcnt)
    # single results and the method form
    np.testing.assert_array_equal(npy(E(a).unique()), ru)
    out, c = E(a).unique(return_counts=True)
    np.testing.assert_array_equal(npy(c), rcnt)


def test_unique_noncontiguous_bool_and_empty(rng):
    a = rng.integers(-3, 3, size=(6, 8))
    t = E(a).t()[::2]
    ru, rinv = np.unique(a.T[::2], return_inverse=True)
    u, inv = ember.unique(t, return_inverse=True)
    np.testing.assert_array_equal(npy(u), ru)
    np.testing.assert_array_equal(npy(inv), rinv.reshape(t.shape))
    b = rng.random(20) > 0.3
    u, c = ember.unique(E(b), return_counts=True)
    assert u.dtype is ember.bool
    np.testing.assert_array_equal(npy(u), [False, True])
    np.testing.assert_array_equal(npy(c), [np.sum(~b), np.sum(b)])
    u, inv, c = ember.unique(ember.zeros(0, 3), return_inverse=True, return_counts=True)
    assert u.shape == (0,) and inv.shape == (0, 3) and c.shape == (0,)
    u, inv, c = ember.unique(ember.tensor(4.0), return_inverse=True, return_counts=True)
    assert npy(u).tolist() == [4.0] and inv.shape == () and int(inv) == 0 and npy(c).tolist() == [1]


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_unique_dim_matches_numpy(rng, dim):
    a = rng.integers(0, 2, size=(4, 5, 3))
    a[1] = a[3]
    a[:, 2] = a[:, 0]
    u, inv, cnt = ember.unique(E(a), dim=dim, return_inverse=True, return_counts=True)
    ru, rinv, rcnt = np.unique(a, axis=dim, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(npy(u), ru)
    np.testing.assert_array_equal(npy(inv), rinv.reshape(-1))
    np.testing.assert_array_equal(npy(cnt), rcnt)


def _consecutive_ref(a):
    vals, counts = [], []
    for v in a:
        if vals and vals[-1] == v:
            counts[-1] += 1
        else:
            vals.append(v)
            counts.append(1)
    return np.array(vals), np.repeat(np.arange(len(vals)), counts), np.array(counts)


def test_unique_consecutive_matches_reference(rng):
    a = rng.integers(0, 3, size=40)
    u, inv, cnt = ember.unique_consecutive(E(a), return_inverse=True, return_counts=True)
    ru, rinv, rcnt = _consecutive_ref(a.tolist())
    np.testing.assert_array_equal(npy(u), ru)
    np.testing.assert_array_equal(npy(inv), rinv)
    np.testing.assert_array_equal(npy(cnt), rcnt)
    m = np.array([[1, 1], [1, 1], [2, 2], [1, 1]])
    u, inv, cnt = E(m).unique_consecutive(return_inverse=True, return_counts=True, dim=0)
    np.testing.assert_array_equal(npy(u), [[1, 1], [2, 2], [1, 1]])
    np.testing.assert_array_equal(npy(inv), [0, 0, 1, 2])
    np.testing.assert_array_equal(npy(cnt), [2, 1, 1])
    u, cnt = E(m.T).unique_consecutive(return_counts=True, dim=1)
    np.testing.assert_array_equal(npy(u), [[1, 2, 1], [1, 2, 1]])


def test_bincount_matches_numpy(rng):
    a = rng.integers(0, 9, size=50)
    w = rng.standard_normal(50)
    np.testing.assert_array_equal(npy(ember.bincount(E(a))), np.bincount(a))
    np.testing.assert_array_equal(npy(ember.bincount(E(a), minlength=15)), np.bincount(a, minlength=15))
    r = ember.bincount(E(a), weights=E(w))
    assert r.dtype is ember.float64
    np.testing.assert_allclose(npy(r), np.bincount(a, weights=w), rtol=1e-12)
    r = E(a.astype(np.int32)).bincount(E(w.astype(np.float32)))
    assert r.dtype is ember.float32
    np.testing.assert_allclose(npy(r), np.bincount(a, weights=w.astype(np.float32)), rtol=1e-5, atol=1e-5)
    assert ember.bincount(E(a), weights=E(a)).dtype is ember.float64  # integer weights count in float64
    assert npy(ember.bincount(ember.zeros(0, dtype=ember.int64), minlength=3)).tolist() == [0, 0, 0]
    assert ember.bincount(ember.zeros(0, dtype=ember.int64)).shape == (0,)
    np.testing.assert_array_equal(npy(ember.bincount(E(a.astype(np.uint8))[::2])), np.bincount(a[::2]))


@pytest.mark.parametrize("limit", [None, 0])  # None: the compare-and-count path, 0: the merge-sort path
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32])
def test_searchsorted_matches_numpy(rng, monkeypatch, limit, dtype):
    if limit is not None:
        monkeypatch.setattr(set_ops, "_COMPARE_LIMIT", limit)
        monkeypatch.setattr(set_ops, "_COMPARE_MAX_M", limit)
    seq = np.sort(rng.integers(0, 20, size=15)).astype(dtype)  # duplicates: ties on both sides
    vals = rng.integers(-2, 23, size=(3, 7)).astype(dtype)
    for side in ("left", "right"):
        ref = np.searchsorted(seq, vals, side=side)
        r = ember.searchsorted(E(seq), E(vals), side=side)
        assert r.dtype is ember.int64 and r.shape == vals.shape
        np.testing.assert_array_equal(npy(r), ref)
        r = ember.searchsorted(E(seq), E(vals), right=side == "right", out_int32=True)
        assert r.dtype is ember.int32
        np.testing.assert_array_equal(npy(r), ref)
    # batched boundaries: one sorted row per leading index
    bseq = np.sort(rng.standard_normal((2, 3, 9)), -1).astype(dtype)
    bvals = rng.standard_normal((2, 3, 4)).astype(dtype)
    bvals[0, 0, 0] = bseq[0, 0, 3]
    r = npy(ember.searchsorted(E(bseq), E(bvals)))
    rr = npy(ember.searchsorted(E(bseq), E(bvals), right=True))
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(r[i, j], np.searchsorted(bseq[i, j], bvals[i, j]))
            np.testing.assert_array_equal(rr[i, j], np.searchsorted(bseq[i, j], bvals[i, j], side="right"))


def test_searchsorted_sorter_scalar_noncontiguous(rng):
    seq = rng.permutation(12).astype(np.float64) * 0.5
    sorter = np.argsort(seq)
    vals = rng.random(10) * 6
    r = ember.searchsorted(E(seq), E(vals), sorter=E(sorter))
    np.testing.assert_array_equal(npy(r), np.searchsorted(seq, vals, sorter=sorter))
    s = ember.searchsorted(E(np.sort(seq)), 2.5)
    assert s.shape == () and int(s) == np.searchsorted(np.sort(seq), 2.5)
    assert int(ember.searchsorted(ember.tensor([1, 2, 3]), 2, right=True)) == 2
    assert int(ember.searchsorted(ember.tensor([1, 2, 3]), 2.5)) == 2
    big = np.sort(rng.standard_normal((4, 10)), 0)
    t = E(big).t()  # rows sorted, not contiguous
    v = E(rng.standard_normal((10, 5)))
    r = npy(ember.searchsorted(t, v))
    for i in range(10):
        np.testing.assert_array_equal(r[i], np.searchsorted(big[:, i], npy(v)[i]))
    # NaN values go after every boundary and NaN boundaries count as largest, on both paths
    nseq = np.array([1.0, 2.0, np.nan])
    nv = np.array([1.5, np.nan, 5.0])
    for limit in (1 << 24, 0):
        set_ops._COMPARE_LIMIT, set_ops._COMPARE_MAX_M, saved = limit, limit, (set_ops._COMPARE_LIMIT,
                                                                               set_ops._COMPARE_MAX_M)
        try:
            for right in (False, True):
                assert npy(ember.searchsorted(E(nseq), E(nv), right=right)).tolist() == [1, 3, 2]
        finally:
            set_ops._COMPARE_LIMIT, set_ops._COMPARE_MAX_M = saved
    assert ember.searchsorted(E(seq), ember.zeros(0, 3)).shape == (0, 3)
    assert npy(ember.searchsorted(ember.zeros(0), E(vals))).tolist() == [0] * 10


def test_bucketize_matches_numpy(rng):
    b = np.array([1.0, 3.0, 5.0, 7.0])
    x = np.array([[0.5, 1.0, 3.0], [6.0, 7.0, 9.0]])
    np.testing.assert_array_equal(npy(ember.bucketize(E(x), E(b))), np.searchsorted(b, x, side="left"))
    np.testing.assert_array_equal(npy(ember.bucketize(E(x), E(b), right=True)), np.searchsorted(b, x, side="right"))
    assert int(ember.bucketize(3, ember.tensor([1, 2, 4]))) == 2
    assert ember.bucketize(E(x), E(b), out_int32=True).dtype is ember.int32


def _histc_ref(x, bins, lo, hi):
    x = x.ravel()
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    t = x.dtype.type
    pos = ((x - t(lo)) * t(bins) / (t(hi) - t(lo))).astype(np.int64)
    pos[pos == bins] = bins - 1
    keep = (x >= t(lo)) & (x <= t(hi))
    return np.bincount(pos[keep], minlength=bins).astype(x.dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_histc_matches_reference(rng, dtype):
    x = rng.standard_normal((30, 7)).astype(NP_OF[dtype])
    for bins, lo, hi in [(10, 0, 0), (7, -1.0, 1.5), (1, -5, 5), (13, 0.25, 0.25)]:
        r = ember.histc(E(x), bins=bins, min=lo, max=hi)
        assert r.dtype is dtype and r.shape == (bins,)
        np.testing.assert_array_equal(npy(r), _histc_ref(x, bins, lo, hi))
    # values exactly on the edges: the last bin is closed, outside values are ignored
    e = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 4.5, -1.0], dtype=NP_OF[dtype])
    np.testing.assert_array_equal(npy(E(e).histc(4, 0, 4)), [1, 1, 1, 2])
    np.testing.assert_array_equal(npy(ember.histc(ember.zeros(0, dtype=dtype), 4)), [0, 0, 0, 0])
    np.testing.assert_array_equal(npy(ember.histc(E(x).t()[::2], 5)), _histc_ref(x.T[::2], 5, 0, 0))


@pytest.mark.parametrize("dtype", FLOATS)
def test_histogram_matches_numpy(rng, dtype):
    x = rng.standard_normal(200).astype(NP_OF[dtype])
    w = rng.random(200).astype(NP_OF[dtype])
    h, edges = ember.histogram(E(x), bins=9)
    rh, redges = np.histogram(x, bins=9)
    assert h.dtype is dtype and edges.dtype is dtype
    np.testing.assert_allclose(npy(edges), redges, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(npy(h), rh)
    r = E(x).histogram(bins=5, range=(-1.0, 2.0), weight=E(w), density=True)
    assert r.hist is r[0] and r.bin_edges is r[1]
    rh, _ = np.histogram(x, bins=5, range=(-1.0, 2.0), weights=w, density=True)
    np.testing.assert_allclose(npy(r.hist), rh, rtol=1e-5)
    b = np.array([-3.0, -0.5, 0.0, 0.1, 2.0], dtype=NP_OF[dtype])
    h, edges = ember.histogram(E(x), bins=E(b))
    np.testing.assert_array_equal(npy(h), np.histogram(x, bins=b)[0])
    np.testing.assert_array_equal(npy(edges), b)
    ones = np.ones(3, dtype=NP_OF[dtype])
    h, edges = ember.histogram(E(ones), bins=4)  # a single value: the range widens by 0.5 each way
    np.testing.assert_allclose(npy(edges), [0.5, 0.75, 1.0, 1.25, 1.5])
    np.testing.assert_array_equal(npy(h), [0, 0, 3, 0])
    h, edges = ember.histogram(ember.zeros(0, dtype=dtype), bins=2)
    np.testing.assert_array_equal(npy(edges), [0, 0.5, 1.0])
    np.testing.assert_array_equal(npy(h), [0, 0])


def _cdist_ref(a, b, p):
    d = np.abs(a[..., :, None, :] - b[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(a.dtype)
    if p == np.inf:
        return d.max(-1) if d.shape[-1] else d.sum(-1)
    return (d ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
def test_cdist_matches_numpy(rng, p):
    a = rng.standard_normal((3, 5, 4))
    b = rng.standard_normal((1, 30, 4))
    for mode in set_ops._COMPUTE_MODES:
        r = ember.cdist(E(a), E(b), p=p, compute_mode=mode)
        assert r.shape == (3, 5, 30) and r.dtype is ember.float64
        np.testing.assert_allclose(npy(r), _cdist_ref(a, b, p), rtol=1e-9, atol=1e-9)
    r = ember.cdist(E(a).float(), E(b[0]).float(), p=p)
    np.testing.assert_allclose(npy(r), _cdist_ref(a, b[0], p), rtol=1e-4, atol=1e-4)
    assert ember.cdist(ember.zeros(0, 3), ember.zeros(4, 3), p=p).shape == (0, 4)
    np.testing.assert_array_equal(npy(ember.cdist(ember.ones(2, 0), ember.ones(4, 0), p=p)), np.zeros((2, 4)))


@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
def test_cdist_gradcheck(rng, p):
    a = E(rng.standard_normal((2, 3, 3)), requires_grad=True)
    b = E(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda x, y: ember.cdist(x, y, p=p), a, b)
    if p == 2:
        c = E(rng.standard_normal((30, 3)), requires_grad=True)
        assert gradcheck(lambda x, y: ember.cdist(x, y, compute_mode="use_mm_for_euclid_dist"), c, b)
        assert ember.autograd.gradgradcheck(lambda x, y: ember.cdist(x, y, p=p), (a, b))
        assert ember.autograd.gradgradcheck(lambda x, y: ember.cdist(x, y, compute_mode="use_mm_for_euclid_dist"),
                                            (c, b))
    if p == 3:
        assert ember.autograd.gradgradcheck(lambda x, y: ember.cdist(x, y, p=p), (a, b))


def test_cdist_autocast_runs_in_float32(rng):
    x = E(rng.standard_normal((30, 4)).astype(np.float32)).bfloat16()
    with ember.autocast("cpu", dtype=ember.bfloat16):
        r = ember.cdist(x, x)
    assert r.dtype is ember.float32
    np.testing.assert_allclose(npy(r), _cdist_ref(npy(x.float()), npy(x.float()), 2), atol=1e-3)


def test_cdist_zero_distance_gradient_is_finite():
    x = ember.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=ember.float64, requires_grad=True)
    for p in (0.5, 1.0, 2.0, 3.0):
        for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
            x.grad = None
            ember.cdist(x, x.detach(), p=p, compute_mode=mode).sum().backward()
            assert np.isfinite(npy(x.grad)).all()


def test_diff_matches_numpy(rng):
    a = rng.standard_normal((4, 6))
    for n in (0, 1, 2, 3, 8):
        for dim in (0, 1, -1):
            np.testing.assert_allclose(npy(ember.diff(E(a), n=n, dim=dim)), np.diff(a, n=n, axis=dim))
    np.testing.assert_array_equal(npy(ember.diff(E(a), 0, prepend=E(a))), a)  # n=0: a copy, as in PyTorch
    pre, app = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    np.testing.assert_allclose(npy(E(a).diff(2, 1, E(pre), E(app))), np.diff(a, 2, axis=1, prepend=pre, append=app))
    ai = rng.integers(0, 50, size=7)
    r = ember.diff(E(ai), prepend=ember.tensor([0.5]))
    assert r.dtype is ember.float32
    np.testing.assert_allclose(npy(r), np.diff(np.concatenate([[0.5], ai])))
    b = rng.random(9) > 0.5
    r = ember.diff(E(b))
    assert r.dtype is ember.bool
    np.testing.assert_array_equal(npy(r), b[1:] != b[:-1])
    u = np.array([1, 4, 2], dtype=np.uint8)
    np.testing.assert_array_equal(npy(ember.diff(E(u))), np.diff(u))
    np.testing.assert_allclose(npy(ember.diff(E(a).t(), dim=0)), np.diff(a.T, axis=0))
    assert ember.diff(ember.zeros(3, 0)).shape == (3, 0)
    x = E(a, requires_grad=True)
    row = E(rng.standard_normal((1, 6)), requires_grad=True)
    assert gradcheck(lambda t, r: ember.diff(t, 2, 0, prepend=r), x, row)


def _logcumsumexp_ref(a, axis):
    return np.logaddexp.accumulate(a, axis=axis)


@pytest.mark.parametrize("dtype", FLOATS)
def test_logcumsumexp_matches_numpy(rng, dtype):
    a = (rng.standard_normal((5, 37)) * 30).astype(NP_OF[dtype])
    a[0, :4] = [-1000.0, 0.0, 1000.0, -1000.0]  # a plain exp/cumsum/log would overflow or underflow here
    a[1, :3] = -np.inf
    tol = dict(rtol=1e-5, atol=1e-4) if dtype is ember.float32 else dict(rtol=1e-12, atol=1e-10)
    for dim in (0, 1, -1):
        r = ember.logcumsumexp(E(a), dim)
        assert r.dtype is dtype
        np.testing.assert_allclose(npy(r), _logcumsumexp_ref(a, dim), **tol)
    np.testing.assert_allclose(npy(E(a).t().logcumsumexp(0)), _logcumsumexp_ref(a.T, 0), **tol)
    assert ember.logcumsumexp(ember.zeros(0, 4, dtype=dtype), 0).shape == (0, 4)
    assert float(ember.logcumsumexp(ember.tensor(2.5, dtype=dtype), 0)) == 2.5


def test_logcumsumexp_gradients(rng):
    x = E(rng.standard_normal((3, 9)), requires_grad=True)
    assert gradcheck(lambda t: ember.logcumsumexp(t, 1), x)
    assert ember.autograd.gradgradcheck(lambda t: ember.logcumsumexp(t, 0), (x,))
    # leading -inf inputs: finite gradients everywhere (PyTorch gives NaN at the -inf entries), and the finite
    # entries get sum_i exp(x_j - out_i) over the outputs i >= j
    v = np.array([-np.inf, -np.inf, 0.5, 1.0])
    y = E(v, requires_grad=True)
    ember.logcumsumexp(y, 0).sum().backward()
    g = npy(y.grad)
    out = np.logaddexp.accumulate(v)
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[2:], [np.exp(v[j] - out[j:]).sum() for j in (2, 3)], rtol=1e-12)


def test_block_diag_kron_values(rng):
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal(4), np.float64(1.5)
    r = ember.block_diag(E(a), E(b), ember.tensor(c), ember.ones(0, 2, dtype=ember.float64))
    ref = np.zeros((4, 10))
    ref[:2, :3] = a
    ref[2, 3:7] = b
    ref[3, 7] = c
    np.testing.assert_array_equal(npy(r), ref)
    assert ember.block_diag().shape == (1, 0)
    assert ember.block_diag(ember.ones(2, dtype=ember.int64), ember.ones(1)).dtype is ember.float32
    for sa, sb in [((2, 3), (4, 5)), ((2, 3), (4,)), ((3,), (2, 2, 2)), ((), (3,)), ((2, 0), (3, 1))]:
        x, y = rng.standard_normal(sa), rng.standard_normal(sb)
        np.testing.assert_allclose(npy(ember.kron(E(x), E(y))), np.kron(x, y))
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(npy(E(x).t().kron(E(x[:2, :2]))), np.kron(x.T, x[:2, :2]))
    assert ember.kron(ember.ones(2, dtype=ember.int64), ember.ones(2)).dtype is ember.float32
    p, q = E(rng.standard_normal((2, 3)), True), E(rng.standard_normal((3, 2)), True)
    assert gradcheck(lambda u, v: ember.kron(u, v), p, q)
    assert gradcheck(lambda u, v: ember.block_diag(u, v, u.t()), p, q)


def test_combinatorics_values(rng):
    a, b, c = E(np.array([1, 2])), E(np.array([3, 4, 5])), E(np.array([7]))
    np.testing.assert_array_equal(npy(ember.cartesian_prod(a, b, c)), list(itertools.product([1, 2], [3, 4, 5], [7])))
    assert ember.cartesian_prod(a) is a
    assert ember.cartesian_prod(a, ember.zeros(0, dtype=ember.int64)).shape == (0, 2)
    x = rng.standard_normal(5)
    for r in (1, 2, 3, 5, 6):
        for rep in (False, True):
            fn = itertools.combinations_with_replacement if rep else itertools.combinations
            ref = np.array(list(fn(x, r))).reshape(-1, r)
            got = ember.combinations(E(x), r, rep)
            assert got.shape == ref.shape
            np.testing.assert_array_equal(npy(got), ref)
    assert ember.combinations(E(x), 0).shape == (0,)
    assert ember.combinations(ember.zeros(0), 2).shape == (0, 2)
    np.testing.assert_array_equal(npy(ember.combinations(E(np.arange(8.0))[::2])), list(itertools.combinations(
        [0.0, 2.0, 4.0, 6.0], 2)))
    u, v = E(rng.standard_normal(3), True), E(rng.standard_normal(2), True)
    assert gradcheck(lambda s, t: ember.cartesian_prod(s, t), u, v)
    assert gradcheck(lambda s: ember.combinations(s, 2, True), u)


def test_tri_indices_match_numpy():
    for row, col in [(3, 4), (4, 3), (1, 1), (0, 4), (5, 0), (6, 6)]:
        for off in (-7, -2, -1, 0, 1, 2, 9):
            r = ember.tril_indices(row, col, off)
            assert r.dtype is ember.int64 and r.shape[0] == 2
            np.testing.assert_array_equal(npy(r).reshape(2, -1), np.stack(np.tril_indices(row, off, col)))
            r = ember.triu_indices(row, col, off, dtype=ember.int32)
            assert r.dtype is ember.int32
            np.testing.assert_array_equal(npy(r).reshape(2, -1), np.stack(np.triu_indices(row, off, col)))


def test_no_grad_for_integer_results():
    x = ember.tensor([1.0, 2.0, 2.0], requires_grad=True)
    assert not ember.unique(x).requires_grad
    assert not ember.histc(x, 3).requires_grad
    assert not ember.searchsorted(x.detach(), x).requires_grad


# ===================================================================================== bad input


def test_errors():
    i64 = ember.tensor([1, 2, 2])
    f = ember.tensor([1.0, 2.0])
    cases = [
        (RuntimeError, lambda: ember.bincount(ember.tensor([-1, 2])), "non-negative"),
        (RuntimeError, lambda: ember.bincount(ember.tensor([[1, 2]])), "1-d"),
        (NotImplementedError, lambda: ember.bincount(f), "integral"),
        (RuntimeError, lambda: ember.bincount(i64, minlength=-1), "minlength"),
        (RuntimeError, lambda: ember.bincount(i64, weights=f), "same length"),
        (RuntimeError, lambda: ember.searchsorted(ember.ones(2, 3), ember.ones(3, 1)), "first N-1 dimensions"),
        (RuntimeError, lambda: ember.searchsorted(ember.ones(2, 3), ember.ones(2)), "first N-1 dimensions"),
        (RuntimeError, lambda: ember.searchsorted(ember.ones(2, 3), 1.0), "scalar only"),
        (RuntimeError, lambda: ember.searchsorted(ember.tensor(1.0), f), "positive dimension"),
        (RuntimeError, lambda: ember.searchsorted(f, f, side="left", right=True), "opposites"),
        (RuntimeError, lambda: ember.searchsorted(f, f, side="middle"), "'left' or 'right'"),
        (RuntimeError, lambda: ember.searchsorted(f, f, sorter=ember.tensor([0, 1], dtype=ember.int32)), "long"),
        (RuntimeError, lambda: ember.searchsorted(f, f, sorter=ember.tensor([0])), "same size"),
        (RuntimeError, lambda: ember.searchsorted(f, f, sorter=ember.tensor([0, 5])), "out of range"),
        (RuntimeError, lambda: ember.bucketize(f, ember.ones(1, 2)), "1 dimension"),
        (RuntimeError, lambda: ember.histc(f, bins=4, min=3, max=0), "max must be larger than min"),
        (RuntimeError, lambda: ember.histc(f, bins=0), "bins must be > 0"),
        (RuntimeError, lambda: ember.histc(ember.tensor([1.0, float("inf")])), "not finite"),
        (RuntimeError, lambda: ember.histc(ember.tensor([1.0, float("nan")])), "not finite"),
        (NotImplementedError, lambda: ember.histc(i64), "floating point"),
        (RuntimeError, lambda: ember.histogram(f, 3, range=(3.0, 0.0)), "min should not exceed max"),
        (RuntimeError, lambda: ember.histogram(f, 0), "bins must be > 0"),
        (RuntimeError, lambda: ember.histogram(f, ember.ones(1, 3)), "one dimension"),
        (RuntimeError, lambda: ember.histogram(f, ember.tensor([0.0, 1.0], dtype=ember.float64)), "same dtype"),
        (RuntimeError, lambda: ember.histogram(f, 3, weight=ember.ones(3)), "same shape"),
        (TypeError, lambda: ember.histogram(f, f, range=(0.0, 1.0)), "range"),
        (RuntimeError, lambda: ember.histogram(f, 3, range=(0.0, float("inf"))), "not finite"),
        (NotImplementedError, lambda: ember.histogram(i64, 3), "floating point"),
        (RuntimeError, lambda: ember.cdist(ember.ones(3), ember.ones(3)), "at least 2D"),
        (RuntimeError, lambda: ember.cdist(ember.ones(2, 3), ember.ones(2, 4)), "same number of columns"),
        (RuntimeError, lambda: ember.cdist(ember.ones(2, 3), ember.ones(2, 3), p=-1), "non-negative p"),
        (RuntimeError, lambda: ember.cdist(ember.ones(2, 3, dtype=ember.int64), ember.ones(2, 3)), "floating"),
        (RuntimeError, lambda: ember.cdist(ember.ones(2, 3), ember.ones(2, 3, dtype=ember.float64)), "same dtype"),
        (ValueError, lambda: ember.cdist(ember.ones(2, 3), ember.ones(2, 3), compute_mode="foo"), "compute_mode"),
        (RuntimeError, lambda: ember.cdist(ember.ones(5, 2, 3), ember.ones(3, 4, 3)), "broadcast"),
        (RuntimeError, lambda: ember.diff(ember.tensor(3.0)), "one-dimensional"),
        (RuntimeError, lambda: ember.diff(f, n=-1), "non-negative"),
        (RuntimeError, lambda: ember.diff(f, prepend=ember.tensor(0.0)), "same dimension"),
        (RuntimeError, lambda: ember.diff(ember.ones(1, 3), dim=0, append=ember.ones(1, 2)), "except along"),
        (IndexError, lambda: ember.diff(ember.ones(1, 3), dim=2), "range"),
        (NotImplementedError, lambda: ember.logcumsumexp(i64, 0), "floating point"),
        (IndexError, lambda: ember.logcumsumexp(f, 1), "range"),
        (RuntimeError, lambda: ember.block_diag(ember.ones(2, 2, 2)), "2 or fewer dimensions"),
        (RuntimeError, lambda: ember.cartesian_prod(), "non-empty"),
        (RuntimeError, lambda: ember.cartesian_prod(ember.ones(1, 2), ember.ones(3)), "1D vector"),
        (RuntimeError, lambda: ember.cartesian_prod(i64, f), "same dtype"),
        (RuntimeError, lambda: ember.combinations(ember.ones(2, 3)), "1D vector"),
        (RuntimeError, lambda: ember.combinations(f, r=-1), "non-negative"),
        (TypeError, lambda: ember.combinations(f, r=1.5), "int"),
        (RuntimeError, lambda: ember.tril_indices(-1, 4), "row must be non-negative"),
        (RuntimeError, lambda: ember.triu_indices(3, -4), "col must be non-negative"),
        (NotImplementedError, lambda: ember.tril_indices(3, 4, dtype=ember.float32), "int64 or int32"),
        (RuntimeError, lambda: ember.unique(ember.zeros(3, 0), dim=0), "0 sized dimensions"),
        (IndexError, lambda: ember.unique(ember.tensor(5), dim=0), "no dimensions"),
        (IndexError, lambda: ember.unique(ember.ones(1, 2), dim=2), "range"),
    ]
    for exc, fn, words in cases:
        with pytest.raises(exc, match=words):
            fn()


# ===================================================================================== PyTorch parity


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


TORCH_DT = {ember.float32: "float32", ember.float64: "float64", ember.int64: "int64", ember.int32: "int32",
            ember.uint8: "uint8", ember.bool: "bool"}


def T(torch, a, requires_grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=requires_grad)


def same(torch, e, t, rtol=0.0, atol=0.0):
    """ember result e equals torch result t in dtype, shape and values."""
    assert TORCH_DT[e.dtype] == str(t.dtype).replace("torch.", ""), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(npy(e), t.detach().numpy())
    else:
        np.testing.assert_allclose(npy(e), t.detach().numpy(), rtol=rtol, atol=atol)


def same_all(torch, es, ts, **tol):
    es = es if isinstance(es, tuple) else (es,)
    ts = ts if isinstance(ts, tuple) else (ts,)
    assert len(es) == len(ts)
    for e, t in zip(es, ts):
        same(torch, e, t, **tol)


def test_torch_unique(torch, rng):
    arrays = [rng.integers(0, 5, size=(4, 6)), rng.integers(0, 3, size=(3, 4, 2)).astype(np.float32),
              rng.random(11) > 0.5, np.zeros((0, 3), np.float64), np.array(7), rng.integers(0, 4, 9).astype(np.uint8)]
    for a in arrays:
        for inv, cnt in itertools.product((False, True), repeat=2):
            same_all(torch, ember.unique(E(a), return_inverse=inv, return_counts=cnt),
                     torch.unique(T(torch, a), return_inverse=inv, return_counts=cnt))
            same_all(torch, ember.unique_consecutive(E(a), return_inverse=inv, return_counts=cnt),
                     torch.unique_consecutive(T(torch, a), return_inverse=inv, return_counts=cnt))
            if a.ndim >= 2:
                for dim in range(-a.ndim, a.ndim):
                    if a.shape[dim] == 0 or 0 not in a.shape:
                        same_all(torch, ember.unique(E(a), dim=dim, return_inverse=inv, return_counts=cnt),
                                 torch.unique(T(torch, a), dim=dim, return_inverse=inv, return_counts=cnt))
                        same_all(torch, E(a).unique_consecutive(dim=dim, return_inverse=inv, return_counts=cnt),
                                 T(torch, a).unique_consecutive(dim=dim, return_inverse=inv, return_counts=cnt))
    a = rng.integers(0, 4, size=(6, 5))
    same_all(torch, E(a).t()[1:].unique(return_inverse=True), T(torch, a).t()[1:].unique(return_inverse=True))
    nan = np.array([2.0, np.nan, 1.0, np.nan, 1.0, -0.0, 0.0])  # each NaN is its own value; -0 == 0
    for fn in ("unique", "unique_consecutive"):
        same_all(torch, getattr(ember, fn)(E(nan), return_inverse=True, return_counts=True),
                 getattr(torch, fn)(T(torch, nan), return_inverse=True, return_counts=True))


def test_torch_bincount(torch, rng):
    a = rng.integers(0, 10, 40)
    for w in (None, rng.random(40).astype(np.float32), rng.random(40), rng.integers(0, 3, 40)):
        for ml in (0, 5, 20):
            e = ember.bincount(E(a), None if w is None else E(w), ml)
            t = torch.bincount(T(torch, a), None if w is None else T(torch, w), ml)
            same(torch, e, t, rtol=1e-6, atol=1e-6)
    same(torch, E(a.astype(np.int32)).bincount(), T(torch, a.astype(np.int32)).bincount())


@pytest.mark.parametrize("limit", [None, 0])
def test_torch_searchsorted_bucketize(torch, rng, monkeypatch, limit):
    if limit is not None:
        monkeypatch.setattr(set_ops, "_COMPARE_LIMIT", limit)
        monkeypatch.setattr(set_ops, "_COMPARE_MAX_M", limit)
    seq = np.sort(rng.integers(0, 10, (2, 3, 12)), -1)
    vals = rng.integers(-1, 12, (2, 3, 5))
    for dt in (np.int64, np.float32, np.float64):
        s, v = seq.astype(dt), vals.astype(dt)
        for kw in (dict(), dict(right=True), dict(side="right"), dict(side="left"), dict(out_int32=True)):
            same(torch, ember.searchsorted(E(s), E(v), **kw), torch.searchsorted(T(torch, s), T(torch, v), **kw))
            same(torch, ember.searchsorted(E(s[0, 0]), E(v), **kw),
                 torch.searchsorted(T(torch, s[0, 0]), T(torch, v), **kw))
        for scalar in (3, 2.5, -1):
            same(torch, ember.searchsorted(E(s[1, 2]), scalar), torch.searchsorted(T(torch, s[1, 2]), scalar))
            same(torch, ember.bucketize(scalar, E(s[1, 2]), right=True),
                 torch.bucketize(scalar, T(torch, s[1, 2]), right=True))
        same(torch, ember.bucketize(E(v), E(s[0, 1])), torch.bucketize(T(torch, v), T(torch, s[0, 1])))
        same(torch, ember.bucketize(E(v), E(s[0, 1]), out_int32=True, right=True),
             torch.bucketize(T(torch, v), T(torch, s[0, 1]), out_int32=True, right=True))
    # a float sequence searched with integer values and the reverse (promotion), and a sorter
    same(torch, ember.searchsorted(E(seq[0, 0] + 0.5), E(vals)), torch.searchsorted(T(torch, seq[0, 0] + 0.5),
                                                                                     T(torch, vals)))
    same(torch, ember.searchsorted(E(seq[0, 0]), E(vals + 0.5)), torch.searchsorted(T(torch, seq[0, 0]),
                                                                                     T(torch, vals + 0.5)))
    raw = rng.standard_normal(10)
    srt = np.argsort(raw)
    x = rng.standard_normal((4, 3))
    same(torch, ember.searchsorted(E(raw), E(x), sorter=E(srt)),
         torch.searchsorted(T(torch, raw), T(torch, x), sorter=T(torch, srt)))
    # NaN values go to the end, as PyTorch's binary search puts them
    f = np.array([1.0, 2.0, 3.0])
    nan = np.array([np.nan, 2.0])
    for right in (False, True):
        same(torch, ember.searchsorted(E(f), E(nan), right=right), torch.searchsorted(T(torch, f), T(torch, nan),
                                                                                       right=right))


def test_torch_histc_histogram(torch, rng):
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal((50, 3)) * 2).astype(dt)
        x[0, 0] = 1.0
        for bins, lo, hi in [(100, 0, 0), (10, -1, 1), (7, 1, 1), (3, -10, 10), (16, -0.3, 2.7)]:
            same(torch, ember.histc(E(x), bins, lo, hi), torch.histc(T(torch, x), bins, lo, hi))
        same(torch, E(x).t().histc(5), T(torch, x).t().histc(5))
        xb = T(torch, x).bfloat16()
        eb = E(x).bfloat16()
        np.testing.assert_array_equal(npy(ember.histc(eb, 9, -1.3, 2.1).float()),
                                      xb.histc(9, -1.3, 2.1).float().numpy())
        np.testing.assert_array_equal(npy(ember.histc(eb, 11).float()), xb.histc(11).float().numpy())
        same(torch, ember.histc(ember.zeros(0, dtype=ember.tensor(x).dtype), 4), torch.histc(T(torch, x[:0]), 4))
        w = rng.random(x.shape).astype(dt)
        for kw in (dict(), dict(range=(-1.0, 1.0)), dict(density=True), dict(range=(0.0, 3.0), density=True)):
            for bins in (1, 6, 25):
                e = ember.histogram(E(x), bins, **kw)
                t = torch.histogram(T(torch, x), bins, **kw)
                same(torch, e.bin_edges, t.bin_edges, rtol=1e-6, atol=1e-6)
                same(torch, e.hist, t.hist, rtol=1e-5, atol=1e-6)
                e = E(x).histogram(bins, weight=E(w), **kw)
                t = T(torch, x).histogram(bins, weight=T(torch, w), **kw)
                same(torch, e.hist, t.hist, rtol=1e-5, atol=1e-5)
        b = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 4.0], dtype=dt)
        for density in (False, True):
            e = ember.histogram(E(x), E(b), density=density)
            t = torch.histogram(T(torch, x), T(torch, b), density=density)
            same(torch, e.hist, t.hist, rtol=1e-6, atol=1e-7)
            same(torch, e.bin_edges, t.bin_edges)
        same(torch, ember.histogram(ember.ones(3, dtype=ember.tensor(x).dtype), 4).bin_edges,
             torch.histogram(torch.ones(3, dtype=T(torch, x).dtype), 4).bin_edges)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("dtype", FLOATS)
def test_torch_cdist(torch, rng, p, dtype):
    npd = NP_OF[dtype]
    tol = dict(rtol=1e-4, atol=1e-4) if dtype is ember.float32 else dict(rtol=1e-10, atol=1e-10)
    a = rng.standard_normal((2, 1, 6, 4)).astype(npd)
    b = rng.standard_normal((3, 30, 4)).astype(npd)
    b[0, 0] = a[0, 0, 0]  # a zero distance
    for mode in set_ops._COMPUTE_MODES:
        ea, eb = E(a, True), E(b, True)
        ta, tb = T(torch, a, True), T(torch, b, True)
        e = ember.cdist(ea, eb, p=p, compute_mode=mode)
        t = torch.cdist(ta, tb, p=p, compute_mode=mode)
        same(torch, e, t, **tol)
        g = rng.standard_normal(t.shape).astype(npd)
        e.backward(E(g))
        t.backward(T(torch, g))
        np.testing.assert_allclose(npy(ea.grad), ta.grad.numpy(), **tol)
        np.testing.assert_allclose(npy(eb.grad), tb.grad.numpy(), **tol)
    # non-contiguous inputs and a batch that broadcasts against a plain matrix
    x = rng.standard_normal((5, 3)).astype(npd)
    same(torch, ember.cdist(E(x).t(), E(x[:, :2]).t(), p=p), torch.cdist(T(torch, x).t(), T(torch, x[:, :2]).t(), p=p),
         **tol)
    x4 = rng.standard_normal((5, 4)).astype(npd)
    same(torch, ember.cdist(E(a[0]), E(x4), p=p), torch.cdist(T(torch, a[0]), T(torch, x4), p=p), **tol)


def test_torch_diff_logcumsumexp(torch, rng):
    for dt in (np.float32, np.float64):
        tol = dict(rtol=1e-5, atol=1e-5) if dt == np.float32 else dict(rtol=1e-11, atol=1e-11)
        a = (rng.standard_normal((4, 33)) * 10).astype(dt)
        a[2, :3] = -np.inf
        pre = rng.standard_normal((4, 2)).astype(dt)
        for n in (0, 1, 2, 40):
            for dim in (0, -1):
                kw = dict(prepend=a[:1, :30]) if dim == 0 else dict(prepend=pre)
                ea, ta = E(a[:, 3:], True), T(torch, a[:, 3:], True)
                e = ember.diff(ea, n, dim, **{k: E(v) for k, v in kw.items()})
                t = torch.diff(ta, n, dim, **{k: T(torch, v) for k, v in kw.items()})
                same(torch, e, t, **tol)
                if e.numel() and n:
                    g = rng.standard_normal(t.shape).astype(dt)
                    e.backward(E(g))
                    t.backward(T(torch, g))
                    np.testing.assert_allclose(npy(ea.grad), ta.grad.numpy(), **tol)
        for dim in (0, 1, -1):
            ea, ta = E(a, True), T(torch, a, True)
            e, t = ember.logcumsumexp(ea, dim), torch.logcumsumexp(ta, dim)
            same(torch, e, t, **tol)
            g = rng.standard_normal(t.shape).astype(dt)
            e.backward(E(g))
            t.backward(T(torch, g))
            # PyTorch's gradient is NaN at the -inf inputs; Ember's is finite there and equal elsewhere
            ok = np.isfinite(ta.grad.numpy())
            assert np.isfinite(npy(ea.grad)).all() and ok.sum() >= a.size - 3
            np.testing.assert_allclose(npy(ea.grad)[ok], ta.grad.numpy()[ok], **tol)
        same(torch, E(a).t().logcumsumexp(1), T(torch, a).t().logcumsumexp(1), **tol)
        same(torch, ember.logcumsumexp(E(a[:0]), 1), torch.logcumsumexp(T(torch, a[:0]), 1))
    b = np.array([True, False, False, True])
    same(torch, ember.diff(E(b)), torch.diff(T(torch, b)))
    i = rng.integers(0, 9, (3, 5))
    same(torch, ember.diff(E(i), 2), torch.diff(T(torch, i), 2))


def test_torch_block_diag_kron_combinatorics(torch, rng):
    for dt in (np.float32, np.float64):
        xs = [rng.standard_normal(s).astype(dt) for s in [(2, 3), (4,), (), (1, 2), (0, 2)]]
        es = [E(x, True) for x in xs]
        ts = [T(torch, x, True) for x in xs]
        e, t = ember.block_diag(*es), torch.block_diag(*ts)
        same(torch, e, t)
        g = rng.standard_normal(t.shape).astype(dt)
        e.backward(E(g))
        t.backward(T(torch, g))
        for a, b in zip(es, ts):
            np.testing.assert_array_equal(npy(a.grad), b.grad.numpy())
        for sa, sb in [((2, 3), (3, 2)), ((2, 1, 3), (4,)), ((), (2, 2)), ((3,), (0, 2))]:
            x, y = rng.standard_normal(sa).astype(dt), rng.standard_normal(sb).astype(dt)
            ex, ey, tx, ty = E(x, True), E(y, True), T(torch, x, True), T(torch, y, True)
            e, t = ember.kron(ex, ey), torch.kron(tx, ty)
            same(torch, e, t, rtol=1e-6)
            if t.numel():
                g = rng.standard_normal(t.shape).astype(dt)
                e.backward(E(g))
                t.backward(T(torch, g))
                np.testing.assert_allclose(npy(ex.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
                np.testing.assert_allclose(npy(ey.grad), ty.grad.numpy(), rtol=1e-5, atol=1e-6)
        u, v = rng.standard_normal(3).astype(dt), rng.standard_normal(4).astype(dt)
        eu, ev, tu, tv = E(u, True), E(v, True), T(torch, u, True), T(torch, v, True)
        e, t = ember.cartesian_prod(eu, ev, eu), torch.cartesian_prod(tu, tv, tu)
        same(torch, e, t)
        g = rng.standard_normal(t.shape).astype(dt)
        e.backward(E(g))
        t.backward(T(torch, g))
        np.testing.assert_allclose(npy(eu.grad), tu.grad.numpy(), rtol=1e-6)
        for r in (0, 1, 2, 3, 5):
            for rep in (False, True):
                eu.grad = None
                tu.grad = None
                e, t = ember.combinations(eu, r, rep), torch.combinations(tu, r, rep)
                same(torch, e, t)
                if t.numel():
                    g = rng.standard_normal(t.shape).astype(dt)
                    e.backward(E(g))
                    t.backward(T(torch, g))
                    np.testing.assert_allclose(npy(eu.grad), tu.grad.numpy(), rtol=1e-6, atol=1e-6)
    same(torch, ember.combinations(ember.tensor([1, 2, 3]), 2), torch.combinations(torch.tensor([1, 2, 3]), 2))
    for row, col, off in [(3, 4, 0), (4, 3, -1), (5, 5, 2), (0, 3, 0), (3, 4, -5), (2, 7, 10)]:
        for dt_e, dt_t in ((ember.int64, torch.int64), (ember.int32, torch.int32)):
            same(torch, ember.tril_indices(row, col, off, dtype=dt_e), torch.tril_indices(row, col, off, dtype=dt_t))
            same(torch, ember.triu_indices(row, col, off, dtype=dt_e), torch.triu_indices(row, col, off, dtype=dt_t))
