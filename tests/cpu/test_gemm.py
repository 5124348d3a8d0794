"""The packed GEMM (csrc/cpu/gemm.cpp) and the matrix products built on it, against float64 numpy.

Sizes cover both paths of cpu::gemm_batched (the direct loop below M*N*K = 4096, the packed kernel above),
edge tiles (M, N not multiples of any micro-tile: 8x48 / 14x16 for AVX-512, 6x16 / 6x8 for AVX2, 6x8 / 6x4
baseline), K not a multiple of the 256 K-block, N past the 4096 (float32) / 2048 (float64) N-block, and both
thread partitions (rows when M >= N, columns otherwise). Every GEMM test runs under each CPU capability.

Error bound: |C - C_ref| <= 2 (K + 2) eps (|A| |B| + |beta C|), the textbook bound for a K-term dot product.
"""
import functools

import numpy as np
import pytest

import ember
from cpu_util import E, N, T, needs_torch, round_bf16, round_f16, run_isolated, torch

DTYPES = [np.float32, np.float64]


def reference(a, b, c=None, alpha=1.0, beta=0.0):
    """(ref, bound): the product in float64 and an error bound for computing it in a's dtype."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ref = alpha * np.matmul(a64, b64)
    mag = abs(alpha) * np.matmul(np.abs(a64), np.abs(b64))
    if c is not None and beta != 0:
        c64 = np.asarray(c, np.float64)
        ref = ref + beta * c64
        mag = mag + np.abs(beta * c64)
    k = a64.shape[-1] if a64.ndim else 1
    eps = np.finfo(np.asarray(a).dtype).eps
    return ref, 2 * (k + 2) * eps * mag + np.finfo(np.asarray(a).dtype).tiny


def check(actual, a, b, c=None, alpha=1.0, beta=0.0, msg=""):
    ref, bound = reference(a, b, c, alpha, beta)
    got = N(actual) if isinstance(actual, ember.Tensor) else actual
    assert got.shape == ref.shape, "%s: shape %s != %s" % (msg, got.shape, ref.shape)
    assert got.dtype == np.asarray(a).dtype, "%s: dtype %s" % (msg, got.dtype)
    err = np.abs(got.astype(np.float64) - ref)
    bad = ~(err <= bound)
    assert not bad.any(), "%s: %d of %d elements off; worst error %g (bound %g)" % (
        msg, bad.sum(), bad.size, err[bad].max(), bound[bad][np.argmax(err[bad])])


def randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------------------------- plain mm

# (M, N, K): tiny-loop path first, then the packed path with edge tiles and partial K blocks
MM_SHAPES = [
    (1, 1, 1), (7, 7, 7), (1, 33, 7), (33, 1, 7), (7, 1, 1000),
    (16, 16, 16), (33, 33, 33), (17, 49, 257), (15, 17, 513), (1, 1000, 33), (1000, 1, 33), (1000, 7, 33),
    (7, 1000, 33), (14, 16, 1), (13, 47, 300), (5, 2100, 5),
    (300, 40, 200), (40, 300, 200), (129, 65, 1031),  # threaded: row split, column split
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_mm_sizes(capability, dtype, rng):
    for m, n, k in MM_SHAPES:
        a, b = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype)
        check(ember.mm(E(a), E(b)), a, b, msg="mm %dx%dx%d" % (m, n, k))


@functools.lru_cache(maxsize=None)
def _square(n, dtype):
    """Operands and (reference, bound) for a large square product, computed once for all capabilities."""
    rng = np.random.default_rng(n)
    a, b = randn(rng, (n, n), dtype), randn(rng, (n, n), dtype)
    return a, b, reference(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_large_square(capability, dtype):
    a, b, (ref, bound) = _square(1024 if dtype == np.float32 else 515, dtype)
    err = np.abs(N(E(a) @ E(b)).astype(np.float64) - ref)
    assert (err <= bound).all(), "worst error %g" % err.max()


def test_zero_sizes(capability, rng):
    for m, n, k in [(0, 5, 3), (5, 0, 3), (4, 6, 0), (0, 0, 0)]:
        a, b = randn(rng, (m, k), np.float32), randn(rng, (k, n), np.float32)
        r = N(ember.mm(E(a), E(b)))
        assert r.shape == (m, n)
        assert (r == 0).all()
    a, b = randn(rng, (50, 0), np.float32), randn(rng, (0, 60), np.float32)
    c = randn(rng, (50, 60), np.float32)
    check(ember.addmm(E(c), E(a), E(b), beta=0.5, alpha=2.0), a, b, c, 2.0, 0.5, msg="K=0 addmm")


# ----------------------------------------------------------------------------------------------- layouts


def layout(arr, kind, rng):
    """An ember view with arr's values: contiguous, transposed (column-major) or a stepped slice with an
    offset (neither stride is 1 and the storage holds garbage in between)."""
    if kind == "contig":
        return E(arr)
    if kind == "transposed":
        return E(arr.T).t()
    big = rng.standard_normal((2 * arr.shape[0] + 1, 3 * arr.shape[1] + 2)).astype(arr.dtype) * 1e3
    big[1::2, 2::3][:arr.shape[0], :arr.shape[1]] = arr
    v = E(big)[1::2, 2::3][:arr.shape[0], :arr.shape[1]]
    assert not v.is_contiguous()
    return v


LAYOUTS = ["contig", "transposed", "sliced"]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("la", LAYOUTS)
@pytest.mark.parametrize("lb", LAYOUTS)
def test_mm_layouts(capability, dtype, la, lb, rng):
    for m, n, k in [(5, 6, 7), (37, 29, 45), (70, 50, 300)]:
        a, b = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype)
        ta, tb = layout(a, la, rng), layout(b, lb, rng)
        check(ta @ tb, a, b, msg="%s @ %s %dx%dx%d" % (la, lb, m, n, k))
        np.testing.assert_array_equal(N(ta), a)  # operands untouched


def test_mm_expanded_operands(capability, rng):
    # stride-0 rows / columns (a broadcast vector as a matrix)
    row = randn(rng, (1, 40), np.float32)
    b = randn(rng, (40, 50), np.float32)
    a = np.broadcast_to(row, (30, 40))
    check(E(row).expand(30, 40) @ E(b), a, b, msg="expanded rows")
    col = randn(rng, (40, 1), np.float32)
    check(E(a.copy()) @ E(col).expand(40, 50), a, np.broadcast_to(col, (40, 50)), msg="expanded cols")


# ----------------------------------------------------------------------------------------------- alpha / beta


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_addmm_alpha_beta(capability, dtype, rng):
    for m, n, k in [(3, 4, 5), (33, 47, 65), (100, 61, 300)]:
        a, b = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype)
        c = randn(rng, (m, n), dtype)
        for alpha, beta in [(1.0, 1.0), (2.5, -0.5), (-1.0, 0.0), (0.5, 2.0)]:
            r = ember.addmm(E(c), E(a), E(b), beta=beta, alpha=alpha)
            check(r, a, b, c, alpha, beta, msg="addmm alpha=%s beta=%s %dx%dx%d" % (alpha, beta, m, n, k))
        # broadcast bias (what Linear passes), transposed weight
        bias = randn(rng, (n,), dtype)
        w = randn(rng, (n, k), dtype)
        check(ember.addmm(E(bias), E(a), E(w).t()), a, w.T, np.broadcast_to(bias, (m, n)), 1.0, 1.0,
              msg="addmm bias")


def test_addmm_beta_zero_ignores_nan(capability, rng):
    for m, n, k in [(3, 4, 5), (40, 50, 60)]:
        a, b = randn(rng, (m, k), np.float32), randn(rng, (k, n), np.float32)
        c = np.full((m, n), np.nan, np.float32)
        r = N(ember.addmm(E(c), E(a), E(b), beta=0.0, alpha=1.5))
        assert np.isfinite(r).all()
        check(r, a, b, None, 1.5, 0.0, msg="beta=0")
        r = N(ember.baddbmm(E(c[None]), E(a[None]), E(b[None]), beta=0.0))
        assert np.isfinite(r).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_baddbmm(capability, dtype, rng):
    for bs, m, n, k in [(1, 2, 3, 4), (3, 17, 19, 33), (4, 50, 40, 70)]:
        a, b = randn(rng, (bs, m, k), dtype), randn(rng, (bs, k, n), dtype)
        c = randn(rng, (bs, m, n), dtype)
        r = ember.baddbmm(E(c), E(a), E(b), beta=0.25, alpha=-2.0)
        check(r, a, b, c, -2.0, 0.25, msg="baddbmm")
        # input broadcast over the batch, transposed batch operands
        c1 = randn(rng, (1, m, n), dtype)
        ta = E(np.ascontiguousarray(a.transpose(0, 2, 1))).transpose(1, 2)
        r = ember.baddbmm(E(c1), ta, E(b), beta=1.0, alpha=1.0)
        check(r, a, b, np.broadcast_to(c1, (bs, m, n)), 1.0, 1.0, msg="baddbmm broadcast input")


def test_linear_fused_bias(capability, rng):
    from cpu_util import F
    for shape in [(1, 7), (33, 7), (5, 3, 64)]:
        x = randn(rng, shape, np.float32)
        w, b = randn(rng, (50, shape[-1]), np.float32), randn(rng, (50,), np.float32)
        ex, ew, eb = E(x, True), E(w, True), E(b, True)
        y = F.linear(ex, ew, eb)
        check(y, x, w.T, np.broadcast_to(b, shape[:-1] + (50,)), 1.0, 1.0, msg="linear %s" % (shape,))
        g = randn(rng, shape[:-1] + (50,), np.float32)
        y.backward(E(g))
        g2, x2 = g.reshape(-1, 50), x.reshape(-1, shape[-1])
        check(ex.grad.reshape(-1, shape[-1]), g2, w, msg="linear grad x")
        check(ew.grad, g2.T, x2, msg="linear grad w")
        np.testing.assert_allclose(N(eb.grad), g2.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------------- batched


BATCHED = [
    ((3, 4, 5), (3, 5, 6)), ((2, 3, 17, 33), (33, 19)), ((17, 33), (2, 3, 33, 19)),
    ((3, 1, 20, 30), (1, 4, 30, 25)), ((5,), (2, 5, 7)), ((2, 7, 5), (5,)), ((40,), (40,)), ((6, 40), (40,)),
    ((40,), (40, 6)), ((1, 64, 64), (8, 64, 64)), ((2, 1, 1, 50), (4, 50, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_matmul_broadcast(capability, dtype, rng):
    for sa, sb in BATCHED:
        a, b = randn(rng, sa, dtype), randn(rng, sb, dtype)
        check(ember.matmul(E(a), E(b)), a, b, msg="matmul %s @ %s" % (sa, sb))


def test_bmm_strided(capability, rng):
    a = randn(rng, (4, 30, 20), np.float32)
    b = randn(rng, (4, 40, 20), np.float32)  # used transposed: [4, 20, 40]
    bt = b.transpose(0, 2, 1)
    ea = E(np.ascontiguousarray(a.transpose(1, 0, 2))).permute(1, 0, 2)  # batch stride < row stride
    check(ember.bmm(ea, E(b).transpose(1, 2)), a, bt, msg="bmm permuted")
    # a stride-0 batch dim (expanded)
    a1 = randn(rng, (1, 30, 20), np.float32)
    check(ember.bmm(E(a1).expand(4, 30, 20), E(bt)), np.broadcast_to(a1, (4, 30, 20)), bt, msg="bmm expanded")
    # stepped slices in every dim
    big = randn(rng, (8, 30, 40), np.float32)
    bigb = randn(rng, (4, 60, 41), np.float32)
    check(ember.bmm(E(big)[::2, :, ::2], E(bigb)[:, ::3, 1::2]), big[::2, :, ::2], bigb[:, ::3, 1::2],
          msg="bmm sliced")


def test_mv_dot(capability, rng):
    for m, k in [(1, 1), (7, 33), (100, 1000)]:
        a, v = randn(rng, (m, k), np.float32), randn(rng, (k,), np.float32)
        check(ember.mv(E(a), E(v)), a, v, msg="mv")
        check(ember.mv(E(a.T).t(), E(v)), a, v, msg="mv transposed")
        check(ember.dot(E(v), E(v * 2)), v, v * 2, msg="dot")


EINSUM = [
    ("ij,jk->ik", (7, 33), (33, 9)), ("ij,kj->ik", (20, 30), (25, 30)), ("ji,jk->ik", (30, 20), (30, 25)),
    ("bij,bjk->bik", (3, 17, 19), (3, 19, 23)), ("bhqd,bhkd->bhqk", (2, 3, 9, 16), (2, 3, 11, 16)),
    ("ij,j->i", (40, 30), (30,)), ("i,i->", (50,), (50,)), ("i,j->ij", (5,), (7,)), ("bij,jk->bik", (2, 9, 8), (8, 7)),
    ("...ij,...jk->...ik", (2, 5, 4), (2, 4, 3)),
]


@pytest.mark.parametrize("eq,sa,sb", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum_two_operands(capability, eq, sa, sb, rng):
    a, b = randn(rng, sa, np.float64), randn(rng, sb, np.float64)
    ref = np.einsum(eq, a, b)
    np.testing.assert_allclose(N(ember.einsum(eq, E(a), E(b))), ref, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------- 16-bit


@pytest.mark.parametrize("lowp", ["bfloat16", "float16"])
def test_low_precision_through_float32(capability, lowp, rng):
    rnd = round_bf16 if lowp == "bfloat16" else round_f16
    dt = ember.bfloat16 if lowp == "bfloat16" else ember.float16
    unit = 2.0 ** -8 if lowp == "bfloat16" else 2.0 ** -11
    for m, n, k in [(3, 4, 5), (33, 47, 65), (64, 70, 300)]:
        a = rnd(rng.standard_normal((m, k)))
        b = rnd(rng.standard_normal((k, n)))
        c = rnd(rng.standard_normal((m, n)))
        ea, eb, ec = E(a).to(dt), E(b).to(dt), E(c).to(dt)
        r = ea @ eb
        assert r.dtype == dt
        # float32 accumulation then one rounding: within one 16-bit unit of the exact product
        ref = a.astype(np.float64) @ b.astype(np.float64)
        mag = np.abs(a) @ np.abs(b)
        assert (np.abs(N(r) - ref) <= unit * np.abs(ref) + 1e-5 * mag + 1e-30).all()
        r = ember.addmm(ec, ea, eb.t().contiguous().t(), beta=0.5, alpha=2.0)
        ref = 2.0 * ref + 0.5 * c
        assert (np.abs(N(r) - ref) <= unit * np.abs(ref) + 3e-5 * mag + 1e-30).all()
        rb = ember.bmm(ea.unsqueeze(0).expand(2, m, k), eb.unsqueeze(0).expand(2, k, n))
        assert rb.dtype == dt and rb.shape == (2, m, n)
        np.testing.assert_array_equal(N(rb)[1], N(ea @ eb))


# ----------------------------------------------------------------------------------------------- gradients


def _leaf(a):
    return E(a, requires_grad=True)


def test_gradcheck_products():
    rng = np.random.default_rng(7)
    gc = ember.autograd.gradcheck
    x = lambda *s: _leaf(rng.standard_normal(s))  # noqa: E731
    assert gc(ember.mm, (x(3, 4), x(4, 5)))
    assert gc(ember.matmul, (x(2, 1, 3, 4), x(3, 4, 2)))
    assert gc(ember.matmul, (x(4), x(2, 4, 3)))
    assert gc(ember.matmul, (x(2, 3, 4), x(4)))
    assert gc(ember.matmul, (x(4), x(4)))
    assert gc(ember.bmm, (x(2, 3, 4), x(2, 4, 2)))
    assert gc(lambda c, a, b: ember.addmm(c, a, b, beta=0.5, alpha=-2.0), (x(3, 5), x(3, 4), x(4, 5)))
    assert gc(lambda c, a, b: ember.addmm(c, a, b), (x(5), x(3, 4), x(4, 5)))
    assert gc(lambda c, a, b: ember.baddbmm(c, a, b, beta=2.0, alpha=0.5), (x(2, 3, 2), x(2, 3, 4), x(2, 4, 2)))
    assert gc(lambda a, b: ember.einsum("bij,bkj->bik", a, b), (x(2, 3, 4), x(2, 2, 4)))
    # a product big enough for the packed kernel, operands transposed
    a, b = x(17, 16), x(17, 16)
    assert gc(lambda p, q: p @ q.t(), (a, b))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_matmul_backward_large(capability, dtype, rng):
    # the gradients are GEMMs with transposed operands: dA = G B^T, dB = A^T G
    a, b = randn(rng, (2, 70, 130), dtype), randn(rng, (130, 90), dtype)
    g = randn(rng, (2, 70, 90), dtype)
    ta, tb = E(a, True), E(b, True)
    (ta @ tb).backward(E(g))
    check(ta.grad, g, np.swapaxes(b, 0, 1), msg="grad a")
    ref, bound = reference(a.transpose(0, 2, 1), g)  # per batch; the gradient sums them
    got = N(tb.grad).astype(np.float64)
    assert (np.abs(got - ref.sum(0)) <= bound.sum(0)).all(), "grad b (summed over the broadcast batch)"


# ----------------------------------------------------------------------------------------------- PyTorch


@needs_torch
def test_matches_torch(rng):
    for sa, sb in BATCHED:
        a, b = randn(rng, sa, np.float32), randn(rng, sb, np.float32)
        ta, tb = T(a, True), T(b, True)
        ea, eb = E(a, True), E(b, True)
        rt, re = torch.matmul(ta, tb), ember.matmul(ea, eb)
        np.testing.assert_allclose(N(re), rt.detach().numpy(), rtol=1e-4, atol=1e-4)
        g = randn(rng, rt.shape, np.float32)
        rt.backward(torch.tensor(g))
        re.backward(E(g))
        np.testing.assert_allclose(N(ea.grad), ta.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(N(eb.grad), tb.grad.numpy(), rtol=1e-4, atol=1e-4)
    c, a, b = randn(rng, (9,), np.float32), randn(rng, (33, 20), np.float32), randn(rng, (20, 9), np.float32)
    np.testing.assert_allclose(N(ember.addmm(E(c), E(a), E(b), beta=0.3, alpha=1.7)),
                               torch.addmm(T(c), T(a), T(b), beta=0.3, alpha=1.7).numpy(), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------------------------- environment


SUBPROCESS = r"""
import numpy as np, ember
assert ember._C.cpu_capability() == "default", ember._C.cpu_capability()
rng = np.random.default_rng(0)
for m, n, k in [(7, 9, 11), (130, 70, 300)]:
    for dt in (np.float32, np.float64):
        a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
        r = (ember.tensor(a) @ ember.tensor(b)).numpy()
        ref = a.astype(np.float64) @ b.astype(np.float64)
        tol = 2 * (k + 2) * np.finfo(dt).eps * (np.abs(a).astype(np.float64) @ np.abs(b))
        assert (np.abs(r - ref) <= tol).all(), (m, n, k, dt)
x = rng.standard_normal(100003).astype(np.float32)
y = (ember.tensor(x).exp() + ember.tensor(x)).numpy()
assert np.allclose(y, np.exp(x.astype(np.float64)) + x, rtol=1e-6, atol=1e-6)
print("ok")
"""


def test_env_forces_default_capability():
    p = run_isolated(SUBPROCESS, {"EMBER_CPU_CAPABILITY": "default"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "ok"


N_BLOCK = r"""
import numpy as np, ember
ember.set_num_threads(1)  # one thread: the whole N range goes through one gemm_serial
rng = np.random.default_rng(0)
for cap in ("default", "avx2", "avx512"):
    ember._C.set_cpu_capability(cap)
    for m, n, k, dt in [(8, 4100, 8, np.float32), (3, 4096, 5, np.float32), (2, 8200, 3, np.float32),
                        (5, 2100, 5, np.float64), (3, 4097, 7, np.float64)]:
        a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
        r = (ember.tensor(a) @ ember.tensor(b)).numpy()
        assert np.allclose(r, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4), (cap, m, n, k, dt)
print("ok")
"""


def test_n_block_boundary():
    """N past the N cache block (and N = 4096 exactly): every packed-B panel must fit its buffer. Regression: the
    AVX-512 float32 NC (4096) was not a multiple of NR (48), so packing overran the buffer (heap corruption,
    abort); runs in a child so a regression cannot take pytest down."""
    p = run_isolated(N_BLOCK)
    assert p.returncode == 0, "exit %d: %s" % (p.returncode, (p.stdout + p.stderr)[-2000:])


# ------------------------------------------------------------------- small M: B read in place, narrow tiles

# M up to 4 register tiles with a row-major B take the in-place path (B not packed); N and M just past a vector,
# a half tile and a whole tile exercise the narrow micro-kernels of the last panels.
SMALL_M_SHAPES = [(m, n, k) for m in (1, 4, 5, 8, 9, 20, 32) for n in (48, 49, 64, 95, 100, 256)
                  for k in (1, 64, 300)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_small_m_in_place_b(capability, dtype, rng):
    for m, n, k in SMALL_M_SHAPES:
        a, b, c = randn(rng, (m, k), dtype), randn(rng, (k, n), dtype), randn(rng, (m, n), dtype)
        check(ember.mm(E(a), E(b)), a, b, msg="mm %dx%dx%d" % (m, n, k))
        check(ember.addmm(E(c), E(a), E(b), beta=0.5, alpha=-2.0), a, b, c, -2.0, 0.5,
              msg="addmm %dx%dx%d" % (m, n, k))
        # B with a row stride past its width (a column slice of a wider matrix), A transposed
        wide = randn(rng, (k, n + 7), dtype)
        at = randn(rng, (k, m), dtype)
        check(ember.mm(E(at).t(), E(wide)[:, 3:3 + n]), at.T, wide[:, 3:3 + n], msg="strided %dx%dx%d" % (m, n, k))
    a, b = randn(rng, (5, 70), np.float32), randn(rng, (70, 100), np.float32)
    r = N(ember.addmm(E(np.full((5, 100), np.nan, np.float32)), E(a), E(b), beta=0.0))
    assert np.isfinite(r).all()


PACKED_VS_IN_PLACE = r"""
import numpy as np, ember, sys
ember.set_num_threads(1)
rng = np.random.default_rng(7)
out = []
for cap in ("default", "avx2", "avx512"):
    ember._C.set_cpu_capability(cap)
    for m, n, k in [(20, 64, 256), (20, 256, 64), (3, 100, 300), (32, 49, 17)]:
        for dt in (np.float32, np.float64):
            a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
            out.append((ember.tensor(a) @ ember.tensor(b)).numpy())
np.save(sys.argv[1] if len(sys.argv) > 1 else "/dev/null", np.concatenate([o.ravel().astype(np.float64) for o in out]))
print("ok")
"""


def test_in_place_b_matches_packed_bitwise(tmp_path):
    """EMBER_GEMM_PACKED=1 packs B for every product; the in-place path sums the same products in the same order,
    so both give identical bits."""
    results = []
    for packed in ("0", "1"):
        path = str(tmp_path / ("r%s.npy" % packed))
        p = run_isolated(PACKED_VS_IN_PLACE.replace('sys.argv[1] if len(sys.argv) > 1 else "/dev/null"', repr(path)),
                         {"EMBER_GEMM_PACKED": packed})
        assert p.returncode == 0, (p.stdout + p.stderr)[-2000:]
        results.append(np.load(path))
    assert np.array_equal(results[0], results[1])


# ---------------------------------------------------- bfloat16 on AVX512-BF16 (vdpbf16ps), and the float path

@pytest.fixture(params=("bf16_dot", "float_panels"))
def bf16_path(request):
    """Forces bfloat16 GEMMs through vdpbf16ps (skipped where the CPU has no AVX512-BF16) or through float32
    panels; restores the default afterwards."""
    prev = ember._C.cpu_bf16_dot()
    ember._C.set_cpu_bf16_dot(request.param == "bf16_dot")
    try:
        if request.param == "bf16_dot" and not ember._C.cpu_bf16_dot():
            pytest.skip("this CPU (or the forced capability) has no AVX512-BF16")
        yield request.param
    finally:
        ember._C.set_cpu_bf16_dot(prev)


@pytest.mark.parametrize("m,n,k", [(16, 48, 64), (17, 49, 33), (9, 100, 1), (64, 70, 300), (130, 96, 1025),
                                   (200, 300, 64), (8, 48, 2)])
def test_bfloat16_gemm_paths(bf16_path, m, n, k, rng):
    """Exact bfloat16 products summed in float32, rounded once to bfloat16: within one bfloat16 unit plus the
    float32 summation bound. Covers odd K (a zero-padded last pair), K past the 1024 K-block, partial panels,
    transposed operands (the generic packing) and alpha/beta."""
    a, b, c = (round_bf16(rng.standard_normal(s)) for s in ((m, k), (k, n), (m, n)))
    ea, eb, ec = (E(x).to(ember.bfloat16) for x in (a, b, c))
    ref = a.astype(np.float64) @ b.astype(np.float64)
    mag = np.abs(a) @ np.abs(b)
    bound = 2.0 ** -8 * np.abs(ref) + 2 * (k + 2) * 2.0 ** -24 * mag + 1e-30
    for x, y in [(ea, eb), (ea.t().contiguous().t(), eb), (ea, eb.t().contiguous().t())]:
        r = N(x @ y)
        assert (np.abs(r - ref) <= bound).all(), "worst %g" % np.abs(r - ref).max()
    r = N(ember.addmm(ec, ea, eb, beta=0.5, alpha=-2.0))
    ref2 = -2.0 * ref + 0.5 * c
    assert (np.abs(r - ref2) <= 2.0 ** -8 * np.abs(ref2) + 2 * bound + 1e-30).all()


def test_bfloat16_dot_threads_agree(rng, restore_threads):
    """Row and column thread partitions of the vdpbf16ps GEMM give the one-thread result bit for bit."""
    if not ember._C.cpu_bf16_dot():
        pytest.skip("this CPU has no AVX512-BF16")
    for m, n, k in [(300, 100, 257), (40, 500, 129)]:
        ea, eb = (E(round_bf16(rng.standard_normal(s))).to(ember.bfloat16) for s in ((m, k), (k, n)))
        ember.set_num_threads(1)
        one = N(ea @ eb)
        ember.set_num_threads(2)
        np.testing.assert_array_equal(N(ea @ eb), one)
