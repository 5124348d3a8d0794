"""ember.linalg: values against numpy identities (reconstructions, orthogonality) and against PyTorch when
installed, float64 gradcheck / gradgradcheck of every factorisation, batched, non-contiguous, float32 and
zero-size inputs, and PyTorch's errors for singular, non-positive-definite and malformed inputs."""
import numpy as np
import pytest

import ember
import ember.linalg as LA
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(1234)


def t64(a, rg=False):
    return ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=rg)


def npy(t):
    return t.detach().numpy()


def spd(*batch, n=4):
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def symmetric(*batch, n=4):
    a = RNG.standard_normal(batch + (n, n))
    return a + np.swapaxes(a, -1, -2)


# ---------------------------------------------------------------------------------------- values (numpy only)


def test_inv_det_slogdet_batched_and_noncontiguous():
    a = RNG.standard_normal((3, 2, 4, 4))
    A = t64(a).transpose(-1, -2)  # non-contiguous view
    at = np.swapaxes(a, -1, -2)
    X = LA.inv(A)
    assert np.allclose(npy(X) @ at, np.eye(4), atol=1e-10)
    assert np.allclose(npy(LA.det(A)), np.linalg.det(at))
    sign, logabs = LA.slogdet(A)
    assert type(LA.slogdet(A)).__name__ == "linalg_slogdet"
    assert np.allclose(npy(sign) * np.exp(npy(logabs)), np.linalg.det(at))
    assert LA.det(t64(a[0, 0])).shape == ()


def test_solve_vector_matrix_broadcast_and_left_false():
    a = RNG.standard_normal((2, 3, 3))
    b = RNG.standard_normal((2, 3))
    x = LA.solve(t64(a), t64(b))
    assert x.shape == (2, 3)
    assert np.allclose(np.einsum("bij,bj->bi", a, npy(x)), b)
    bm = RNG.standard_normal((5, 1, 3, 2))  # batch broadcast against a's (2,)
    x = LA.solve(t64(a), t64(bm))
    assert x.shape == (5, 2, 3, 2)
    assert np.allclose(a @ npy(x), np.broadcast_to(bm, (5, 2, 3, 2)))
    br = RNG.standard_normal((2, 4, 3))
    x = LA.solve(t64(a), t64(br), left=False)
    assert np.allclose(npy(x) @ a, br)


def test_factorisations_reconstruct():
    s = spd(2)
    L = npy(LA.cholesky(t64(s)))
    assert np.allclose(L @ np.swapaxes(L, -1, -2), s) and np.allclose(L, np.tril(L))
    U = npy(LA.cholesky(t64(s), upper=True))
    assert np.allclose(U, np.swapaxes(L, -1, -2))
    h = symmetric(3)
    w, V = LA.eigh(t64(h))
    assert np.all(np.diff(npy(w), axis=-1) >= 0)
    assert np.allclose(npy(V) @ (npy(w)[..., None] * np.swapaxes(npy(V), -1, -2)), h)
    assert np.allclose(npy(LA.eigvalsh(t64(h))), npy(w))
    for shape in [(5, 3), (3, 5), (2, 4, 4)]:
        a = RNG.standard_normal(shape)
        U, S, Vh = LA.svd(t64(a), full_matrices=False)
        assert np.allclose((npy(U) * npy(S)[..., None, :]) @ npy(Vh), a)
        assert np.allclose(npy(LA.svdvals(t64(a))), npy(S))
        Uf, _, Vhf = LA.svd(t64(a))
        assert Uf.shape[-1] == shape[-2] and Vhf.shape[-2] == shape[-1]
        Q, R = LA.qr(t64(a))
        k = min(shape[-2:])
        assert np.allclose(npy(Q) @ npy(R), a) and np.allclose(np.swapaxes(npy(Q), -1, -2) @ npy(Q), np.eye(k))
        assert np.allclose(npy(R), np.triu(npy(R)))
        Qc, Rc = LA.qr(t64(a), mode="complete")
        assert Qc.shape[-1] == shape[-2] and np.allclose(npy(Qc) @ npy(Rc), a)
        Q0, Rr = LA.qr(t64(a), mode="r")
        assert Q0.numel() == 0 and np.allclose(np.abs(npy(Rr)), np.abs(npy(R)))


def test_pinv_lstsq_matrix_rank():
    a = RNG.standard_normal((6, 3))
    P = npy(LA.pinv(t64(a)))
    assert np.allclose(a @ P @ a, a) and np.allclose(P @ a, np.eye(3))
    lowrank = RNG.standard_normal((5, 2)) @ RNG.standard_normal((2, 4))
    assert int(LA.matrix_rank(t64(lowrank))) == 2
    assert LA.matrix_rank(t64(lowrank)).dtype is ember.int64
    assert int(LA.matrix_rank(t64(lowrank), atol=1e9)) == 0
    assert np.allclose(npy(LA.pinv(t64(lowrank))), np.linalg.pinv(lowrank))
    h = symmetric()
    assert np.allclose(npy(LA.pinv(t64(h), hermitian=True)), np.linalg.pinv(h))
    b = RNG.standard_normal((6, 2))
    r = LA.lstsq(t64(a), t64(b))
    assert np.allclose(npy(r.solution), np.linalg.lstsq(a, b, rcond=None)[0])
    assert r.residuals.numel() == 0 and int(r.rank) == 3 and r.singular_values.numel() == 0
    r = LA.lstsq(t64(a), t64(b), driver="gelsd")
    ref = np.linalg.lstsq(a, b, rcond=None)
    assert np.allclose(npy(r.residuals), ref[1]) and np.allclose(npy(r.singular_values), ref[3])
    rv = LA.lstsq(t64(a), t64(b[:, 0]))
    assert rv.solution.shape == (3,)


def test_norms():
    a = RNG.standard_normal((3, 4, 5))
    A = t64(a)
    assert np.allclose(npy(LA.norm(A)), np.linalg.norm(a.ravel()))
    assert np.allclose(npy(LA.vector_norm(A, 3, dim=(0, 2))), (np.abs(a) ** 3).sum((0, 2)) ** (1 / 3))
    assert np.allclose(npy(LA.vector_norm(A, float("inf"))), np.abs(a).max())
    assert np.allclose(npy(LA.vector_norm(A, 0, dim=-1)), (a != 0).sum(-1))
    for ord in ["fro", "nuc", 1, -1, 2, -2, float("inf"), -float("inf")]:
        ref = np.linalg.norm(a, ord=ord, axis=(-2, -1))
        assert np.allclose(npy(LA.matrix_norm(A, ord)), ref), ord
        assert LA.matrix_norm(A, ord, keepdim=True).shape == (3, 1, 1)
        assert np.allclose(npy(LA.matrix_norm(A, ord, dim=(0, 2))), np.linalg.norm(a, ord=ord, axis=(0, 2)))
    assert np.allclose(npy(LA.norm(t64(a[0]), 2)), np.linalg.norm(a[0], 2))
    assert np.allclose(npy(LA.norm(A, dim=1)), np.linalg.norm(a, axis=1))
    z = ember.zeros(3, dtype=ember.float64, requires_grad=True)
    LA.vector_norm(z).backward()
    assert np.all(npy(z.grad) == 0)  # the subgradient 0 at the origin, as PyTorch


def test_cross_multi_dot():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((1, 3))
    assert np.allclose(npy(LA.cross(t64(a), t64(b))), np.cross(a, b))
    assert np.allclose(npy(LA.cross(t64(a.T), t64(b.T), dim=0)), np.cross(a, b).T)
    ms = [RNG.standard_normal(s) for s in [(4,), (4, 10), (10, 2), (2, 7), (7,)]]
    ref = ms[0] @ ms[1] @ ms[2] @ ms[3] @ ms[4]
    r = LA.multi_dot([t64(m) for m in ms])
    assert r.shape == () and np.allclose(npy(r), ref)
    assert np.allclose(npy(LA.multi_dot([t64(ms[1]), t64(ms[2])])), ms[1] @ ms[2])


def test_float32_and_zero_size():
    a = RNG.standard_normal((2, 3, 3)).astype(np.float32)
    A = ember.tensor(a)
    for f in [LA.inv, LA.det, lambda x: LA.svd(x)[1], lambda x: LA.qr(x)[1], LA.pinv]:
        assert f(A).dtype is ember.float32
    assert np.allclose(npy(LA.inv(A)), np.linalg.inv(a), atol=1e-4)
    s = spd(n=3).astype(np.float32)
    assert LA.cholesky(ember.tensor(s)).dtype is ember.float32
    Z = ember.zeros(0, 3, 3, dtype=ember.float64, requires_grad=True)
    assert LA.inv(Z).shape == (0, 3, 3) and LA.det(Z).shape == (0,)
    assert LA.svd(Z)[1].shape == (0, 3) and LA.eigh(Z)[0].shape == (0, 3)
    assert LA.cholesky(Z).shape == (0, 3, 3) and LA.solve(Z, ember.zeros(0, 3, dtype=ember.float64)).shape == (0, 3)
    LA.det(Z).sum().backward()
    assert Z.grad.shape == (0, 3, 3)
    assert float(LA.det(ember.zeros(0, 0, dtype=ember.float64))) == 1.0


def test_ex_variants_report_info():
    sing = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])
    r = LA.inv_ex(t64(np.stack([np.eye(3), sing])))
    assert r.info.tolist() == [0, 3] and r.info.dtype is ember.int32
    assert np.allclose(npy(r.inverse)[0], np.eye(3)) and np.isnan(npy(r.inverse)[1]).all()
    c = LA.cholesky_ex(t64(-np.eye(3)))
    assert int(c.info) == 1
    assert int(LA.cholesky_ex(t64(spd())).info) == 0
    s = LA.solve_ex(t64(sing), t64(np.ones(3)))
    assert int(s.info) == 3
    with pytest.raises(LA.LinAlgError):
        LA.inv_ex(t64(sing), check_errors=True)


def test_toplevel_aliases():
    a = RNG.standard_normal((4, 3))
    U, S, V = ember.svd(t64(a))
    assert type(ember.svd(t64(a))).__name__ == "svd" and V.shape == (3, 3)
    assert np.allclose((npy(U) * npy(S)) @ npy(V).T, a)
    U, S, V = ember.svd(t64(a), compute_uv=False)
    assert U.shape == (4, 4) and float(U.abs().sum()) == 0
    s = spd()
    assert np.allclose(npy(t64(s).inverse()), np.linalg.inv(s))
    assert np.allclose(npy(t64(s).det()), np.linalg.det(s))
    assert np.allclose(npy(ember.logdet(t64(s))), np.log(np.linalg.det(s)))
    assert np.isnan(float(ember.logdet(t64(np.diag([-1.0, 1.0])))))
    L = ember.cholesky(t64(s))
    b = RNG.standard_normal((4, 2))
    assert np.allclose(npy(ember.cholesky_solve(t64(b), L)), np.linalg.solve(s, b))
    assert np.allclose(npy(ember.cholesky_inverse(L)), np.linalg.inv(s))
    assert np.allclose(npy(t64(s).matrix_power(-2)), np.linalg.matrix_power(np.linalg.inv(s), 2))
    assert np.allclose(npy(ember.matrix_power(t64(s), 0)), np.eye(4))
    Q, R = ember.qr(t64(a), some=False)
    assert Q.shape == (4, 4)
    assert np.allclose(npy(ember.pinverse(t64(a))), np.linalg.pinv(a))
    with pytest.warns(UserWarning):
        c = ember.cross(t64(a[:, :3].T), t64(a[:, :3].T))
    assert np.allclose(npy(c), 0)


# ---------------------------------------------------------------------------------------- gradients


GRAD_CASES = [
    ("inv", LA.inv, lambda: RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)),
    ("det", LA.det, lambda: RNG.standard_normal((2, 3, 3))),
    ("slogdet", lambda a: LA.slogdet(a).logabsdet, lambda: RNG.standard_normal((3, 3))),
    ("solve", lambda a: LA.solve(a, a[..., :2].sin()), lambda: RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)),
    ("cholesky", lambda a: LA.cholesky(a @ a.mT + ember.eye(3, dtype=ember.float64)),
     lambda: RNG.standard_normal((2, 3, 3))),
    ("eigh", lambda a: (lambda w, v: (w, v.abs()))(*LA.eigh(a + a.mT)), lambda: RNG.standard_normal((3, 3))),
    ("eigvalsh", lambda a: LA.eigvalsh(a + a.mT, UPLO="U"), lambda: RNG.standard_normal((3, 3))),
    ("svd_tall", lambda a: (lambda u, s, vh: (u.abs(), s, vh.abs()))(*LA.svd(a, full_matrices=False)),
     lambda: RNG.standard_normal((4, 3))),
    ("svd_wide", lambda a: (lambda u, s, vh: (u @ vh, s))(*LA.svd(a, full_matrices=False)),
     lambda: RNG.standard_normal((2, 3, 4))),
    ("svdvals", LA.svdvals, lambda: RNG.standard_normal((3, 4))),
    ("qr_tall", lambda a: LA.qr(a), lambda: RNG.standard_normal((4, 3))),
    ("qr_wide", lambda a: LA.qr(a), lambda: RNG.standard_normal((3, 5))),
    ("pinv", LA.pinv, lambda: RNG.standard_normal((4, 3))),
    ("lstsq", lambda a: LA.lstsq(a, a[..., :1].exp()).solution, lambda: RNG.standard_normal((5, 3))),
    ("matrix_norm_nuc", lambda a: LA.matrix_norm(a, "nuc"), lambda: RNG.standard_normal((3, 4))),
    ("matrix_norm_2", lambda a: LA.matrix_norm(a, 2), lambda: RNG.standard_normal((3, 4))),
    ("cross", lambda a: LA.cross(a, a.flip(0)), lambda: RNG.standard_normal((2, 3))),
    ("multi_dot", lambda a: LA.multi_dot([a, a.t(), a]), lambda: RNG.standard_normal((2, 3))),
]


@pytest.mark.parametrize("name,fn,make", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(name, fn, make):
    A = t64(make(), True)
    assert gradcheck(fn, (A,))


@pytest.mark.parametrize("name,fn,make", [c for c in GRAD_CASES if c[0] in (
    "inv", "det", "slogdet", "solve", "cholesky", "eigh", "svd_tall", "qr_tall", "pinv")],
    ids=["inv", "det", "slogdet", "solve", "cholesky", "eigh", "svd_tall", "qr_tall", "pinv"])
def test_gradgradcheck(name, fn, make):
    A = t64(make(), True)
    assert gradgradcheck(fn, (A,))


def test_det_gradient_of_singular_matrix():
    a = np.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.3, -1.0, 2.0]])  # rank 2
    A = t64(a, True)
    LA.det(A).backward()
    cof = np.array([[np.linalg.det(np.delete(np.delete(a, i, 0), j, 1)) * (-1) ** (i + j) for j in range(3)]
                    for i in range(3)])
    assert np.allclose(npy(A.grad), cof)


def test_qr_r_mode_and_complete_tall_have_no_gradient():
    A = t64(RNG.standard_normal((4, 3)), True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        LA.qr(A, mode="r").R.sum().backward()
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        LA.qr(A, mode="complete").Q.sum().backward()


# ---------------------------------------------------------------------------------------- errors


SINGULAR = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])


def test_singular_and_not_positive_definite_errors():
    with pytest.raises(LA.LinAlgError, match=r"^linalg\.inv: The diagonal element 3 is zero, the inversion could "
                       r"not be completed because the input matrix is singular\.$"):
        LA.inv(t64(SINGULAR))
    assert issubclass(LA.LinAlgError, RuntimeError)
    with pytest.raises(LA.LinAlgError, match=r"^linalg\.inv: \(Batch element 1\): The diagonal element 3"):
        LA.inv(t64(np.stack([np.eye(3), SINGULAR])))
    with pytest.raises(LA.LinAlgError, match=r"^linalg\.inv: The diagonal element 1 is zero"):
        LA.inv(t64(np.zeros((2, 2))))
    with pytest.raises(LA.LinAlgError, match="The solver failed because the input matrix is singular"):
        LA.solve(t64(SINGULAR), t64(np.ones(3)))
    not_pd = np.diag([2.0, 1.0, -1.0, 3.0])
    with pytest.raises(LA.LinAlgError, match=r"^linalg\.cholesky: The factorization could not be completed because "
                       r"the input is not positive-definite \(the leading minor of order 3 is not "
                       r"positive-definite\)\.$"):
        LA.cholesky(t64(not_pd))
    with pytest.raises(LA.LinAlgError, match=r"\(Batch element 1\).*order 1 is"):
        LA.cholesky(t64(np.stack([np.eye(2), -np.eye(2)])))


def test_malformed_input_errors():
    with pytest.raises(RuntimeError, match="A must be batches of square matrices, but they are 2 by 3 matrices"):
        LA.inv(ember.ones(2, 3))
    with pytest.raises(RuntimeError, match="linalg.det: The input tensor A must have at least 2 dimensions"):
        LA.det(ember.ones(3))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        LA.inv(ember.ones(3, 3, dtype=ember.int64))
    with pytest.raises(RuntimeError, match=r"Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x1\)"):
        LA.solve(ember.eye(3), ember.ones(4))
    with pytest.raises(RuntimeError, match="inputs dimension -1 must have length 3. Got 4 and 4"):
        LA.cross(ember.ones(2, 4), ember.ones(2, 4))
    with pytest.raises(RuntimeError, match="expected at least 2 tensors but got 1"):
        LA.multi_dot([ember.ones(2, 2)])
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        LA.multi_dot([ember.ones(2, 3), ember.ones(4, 2)])
    with pytest.raises(TypeError, match="argument 'ord' must be Number, not str"):
        LA.vector_norm(ember.ones(3), ord="fro")
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        LA.matrix_norm(ember.ones(3, 3), ord=3)
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'foo'"):
        LA.qr(ember.ones(3, 3), mode="foo")
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        LA.eigh(ember.eye(3), UPLO="X")
    with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
        LA.lstsq(ember.ones(3, 2), ember.ones(3, 1), driver="x")
    with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D"):
        LA.norm(ember.ones(2, 2, 2), ord=2)


# ---------------------------------------------------------------------------------------- against PyTorch


TORCH_CASES = [
    ("inv", lambda m, a: m.linalg.inv(a), (2, 4, 4)),
    ("det", lambda m, a: m.linalg.det(a), (3, 3)),
    ("slogdet", lambda m, a: m.linalg.slogdet(a)[1], (2, 3, 3)),
    ("cholesky", lambda m, a: m.linalg.cholesky(a @ a.mT + 3 * m.eye(4, dtype=a.dtype)), (2, 4, 4)),
    ("eigh", lambda m, a: m.linalg.eigh(a + a.mT)[1].abs() + m.linalg.eigh(a + a.mT)[0].unsqueeze(-1), (2, 4, 4)),
    ("svd", lambda m, a: m.linalg.svd(a, full_matrices=False)[0].abs().sum(-1)
     + m.linalg.svd(a, full_matrices=False)[2].abs().sum(-2)[..., :1], (2, 5, 3)),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), (3, 5)),
    ("qr", lambda m, a: m.linalg.qr(a)[0].sum(-1) + m.linalg.qr(a)[1].sum(-2)[..., :1], (2, 5, 3)),
    ("qr_wide", lambda m, a: m.linalg.qr(a)[0].sum() + m.linalg.qr(a)[1], (3, 5)),
    ("pinv", lambda m, a: m.linalg.pinv(a), (2, 3, 5)),
    ("lstsq", lambda m, a: m.linalg.lstsq(a, a[..., :2].cos()).solution, (2, 5, 3)),
    ("solve", lambda m, a: m.linalg.solve(a, a[..., 0].exp()), (2, 3, 3)),
    ("solve_left_false", lambda m, a: m.linalg.solve(a, a[..., :2, :], left=False), (2, 3, 3)),
    ("matrix_norm", lambda m, a: m.linalg.matrix_norm(a, "nuc") + m.linalg.matrix_norm(a, -2)
     + m.linalg.matrix_norm(a, float("inf")), (2, 3, 4)),
    ("vector_norm", lambda m, a: m.linalg.vector_norm(a, 0.5, dim=-1), (2, 3, 4)),
    ("norm", lambda m, a: m.linalg.norm(a, dim=(0, 2)), (2, 3, 4)),
    ("cross", lambda m, a: m.linalg.cross(a, a.roll(1, 0), dim=1), (4, 3)),
    ("multi_dot", lambda m, a: m.linalg.multi_dot([a, a.mT, a, a[0]]), (3, 4)),
]


@pytest.mark.parametrize("name,fn,shape", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_against_torch(name, fn, shape):
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(shape)
    ea = t64(a, True)
    ta = torch.tensor(a, requires_grad=True)
    e, t = fn(ember, ea), fn(torch, ta)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(npy(e), t.detach().numpy(), rtol=1e-9, atol=1e-10)
    g = RNG.standard_normal(tuple(t.shape))
    ge, = ember.autograd.grad(e, [ea], grad_outputs=[t64(g)])
    gt, = torch.autograd.grad(t, [ta], grad_outputs=[torch.tensor(g)])
    np.testing.assert_allclose(npy(ge), gt.numpy(), rtol=1e-8, atol=1e-9)


def test_error_messages_match_torch():
    torch = pytest.importorskip("torch")
    cases = [lambda m: m.linalg.inv(m.tensor(np.stack([np.eye(3), SINGULAR]))),
             lambda m: m.linalg.cholesky(m.tensor(np.diag([1.0, -2.0, 3.0]))),
             lambda m: m.linalg.solve(m.tensor(np.stack([SINGULAR, SINGULAR])), m.ones(2, 3, dtype=m.float64)),
             lambda m: m.linalg.det(m.ones(2, 3))]
    for case in cases:
        with pytest.raises(RuntimeError) as te:
            case(torch)
        with pytest.raises(RuntimeError) as ee:
            case(ember)
        assert str(ee.value) == str(te.value)


def test_solve_triangular_reads_one_triangle():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    b = RNG.standard_normal((2, 3, 2))
    A = t64(a, True)
    X = LA.solve_triangular(A, t64(b), upper=False)
    assert np.allclose(np.tril(a) @ npy(X), b)
    X.sum().backward()
    assert np.all(npy(A.grad)[:, 0, 1:] == 0) and np.all(npy(A.grad)[:, 1, 2] == 0)
    U = LA.solve_triangular(t64(a), t64(b).mT, upper=True, left=False, unitriangular=True)
    tri = np.triu(a, 1) + np.eye(3)
    assert np.allclose(npy(U) @ tri, np.swapaxes(b, -1, -2))
    torch = pytest.importorskip("torch")
    for kw in [dict(upper=False), dict(upper=True, left=False), dict(upper=True, unitriangular=True)]:
        rhs = b if kw.get("left", True) else np.swapaxes(b, -1, -2)
        ref = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(rhs), **kw).numpy()
        assert np.allclose(npy(LA.solve_triangular(t64(a), t64(rhs), **kw)), ref)


def test_svd_driver_is_cuda_only():
    for f in (LA.svd, LA.svdvals):
        with pytest.raises(RuntimeError, match=r"^torch\.linalg\.svd: keyword argument `driver=` is only supported on "
                           r"CUDA inputs with cuSOLVER backend\.$"):
            f(ember.ones(2, 2), driver="gesvd")
