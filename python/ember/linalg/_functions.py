"""The factorisations behind ember.linalg: each is one autograd Function whose forward runs LAPACK through
numpy.linalg on the CPU and whose backward is written in ember ops (so gradients of gradients work).
Also the numpy bridge and the PyTorch-worded input checks and LinAlgError."""
import numpy as np

from .. import _C
from .._tensor import Tensor
from ..autograd.function import Function

__all__ = ["LinAlgError"]


class LinAlgError(RuntimeError):
    """Raised when a factorisation or inversion fails (singular or not positive-definite input), as
    torch.linalg.LinAlgError (a RuntimeError)."""


# ---------------------------------------------------------------------------------------- numpy bridge

_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                "int64": "Long", "int32": "Int", "uint8": "Byte", "bool": "Bool"}


def torch_name(dtype):
    return _TORCH_NAMES.get(dtype._name, dtype._name)


def to_np(t):
    """A numpy view (or copy) of t's values, graph-free."""
    return t.detach().numpy()


def from_np(a, dtype=None):
    """An ember tensor of dtype (None: a's own dtype) holding a's values; a must not be used afterwards."""
    from .._ops.creation import from_numpy
    if dtype is not None:
        a = np.asarray(a, dtype=np.float32 if dtype is _C.float32 else np.float64)
    a = np.asarray(a)
    # ascontiguousarray would turn a 0-d result (det of one matrix) into shape (1,)
    return from_numpy(a if a.flags.c_contiguous and a.flags.writeable else a.copy(order="C"))


def check_float(A, op, arg="A"):
    if not isinstance(A, Tensor):
        raise TypeError("%s(): argument '%s' must be Tensor, not %s" % (op, arg, type(A).__name__))
    if A.dtype in (_C.float16, _C.bfloat16):
        raise RuntimeError("%s: Low precision dtypes not supported. Got %s" % (op, torch_name(A.dtype)))
    if not A.dtype.is_floating_point:
        raise RuntimeError("%s: Expected a floating point or complex tensor as input. Got %s"
                           % (op, torch_name(A.dtype)))


def check_square(A, op, arg="A"):
    check_float(A, op, arg)
    if A.dim() < 2:
        raise RuntimeError("%s: The input tensor %s must have at least 2 dimensions." % (op, arg))
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError("%s: %s must be batches of square matrices, but they are %d by %d matrices"
                           % (op, arg, A.shape[-2], A.shape[-1]))


def check_matrix(A, op, arg="A"):
    check_float(A, op, arg)
    if A.dim() < 2:
        raise RuntimeError("%s: The input tensor %s must have at least 2 dimensions." % (op, arg))


def eps(dtype):
    return float(np.finfo(np.float32 if dtype is _C.float32 else np.float64).eps)


def _batch_prefix(a, flat_index):
    return "(Batch element %d): " % flat_index if a.ndim > 2 else ""


def lu_info(m):
    """LAPACK getrf's info for one square matrix: the 1-based index of the first exactly-zero pivot of
    partial-pivoting LU, 0 when none. numpy.linalg reports only 'Singular matrix', so on that error path we
    redo the elimination to name the element as PyTorch does."""
    u = np.array(m, copy=True)
    n = u.shape[0]
    info = 0
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        if u[p, j] == 0:
            if info == 0:
                info = j + 1
            continue
        if p != j:
            u[[j, p]] = u[[p, j]]
        u[j + 1:, j] /= u[j, j]
        u[j + 1:, j + 1:] -= np.outer(u[j + 1:, j], u[j, j + 1:])
    return info


def lu_infos(a):
    """getrf info per batch element of a (..., n, n), as an int32 array of the batch shape."""
    flat = a.reshape((-1,) + a.shape[-2:])
    return np.array([lu_info(m) for m in flat], dtype=np.int32).reshape(a.shape[:-2])


def cholesky_info(m):
    """potrf's info for one symmetric matrix (lower triangle read): order of the first leading minor that is
    not positive-definite, 0 when all are. Leading-minor failure is monotone, so a bisection suffices."""
    def ok(k):
        try:
            np.linalg.cholesky(m[:k, :k])
            return True
        except np.linalg.LinAlgError:
            return False
    n = m.shape[0]
    if ok(n):
        return 0
    lo, hi = 0, n  # ok(lo) holds, ok(hi) fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return hi


def cholesky_infos(a):
    flat = a.reshape((-1,) + a.shape[-2:])
    return np.array([cholesky_info(m) for m in flat], dtype=np.int32).reshape(a.shape[:-2])


def raise_first(infos, a, make_message):
    """Raises LinAlgError for the first batch element whose info is non-zero."""
    flat = infos.reshape(-1)
    bad = np.nonzero(flat)[0]
    if bad.size:
        k = int(bad[0])
        raise LinAlgError(make_message(_batch_prefix(a, k), int(flat[k])))


def lapack(np_fn, a, infos_of, message):
    """np_fn(a), turning numpy's bare LinAlgError into PyTorch's message for the first failing matrix."""
    try:
        return np_fn(a)
    except np.linalg.LinAlgError:
        raise_first(infos_of(a), a, message)
        raise


def inv_message(op):
    return lambda prefix, info: ("%s: %sThe diagonal element %d is zero, the inversion could not be completed "
                                 "because the input matrix is singular." % (op, prefix, info))


def cholesky_message(op):
    return lambda prefix, info: ("%s: %sThe factorization could not be completed because the input is not "
                                 "positive-definite (the leading minor of order %d is not positive-definite)."
                                 % (op, prefix, info))


def solve_message(prefix, info):
    return "torch.linalg.solve: %sThe solver failed because the input matrix is singular." % prefix


# ---------------------------------------------------------------------------------------- helpers in ember ops


def _mT(x):
    return x.transpose(-1, -2)


def _diag(v):
    """Batched diagonal matrices from (..., k)."""
    return v.diag_embed()


def _ops():
    from . import inv, solve  # late: the public API sits on top of this module
    return inv, solve


def _offdiag_inverse_gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (the eigen/singular-vector coupling)."""
    E = w.unsqueeze(-2) - w.unsqueeze(-1)
    from .._ops.creation import eye as _eye
    from .._ops.pointwise import where
    eye = _eye(w.shape[-1], dtype=_C.bool)
    return where(eye, 0.0, 1.0 / where(eye, 1.0, E))


# ---------------------------------------------------------------------------------------- Functions


class Inv(Function):
    """A^{-1}; backward -A^{-T} g A^{-T}."""

    @staticmethod
    def forward(ctx, A):
        out = from_np(lapack(np.linalg.inv, to_np(A), lu_infos, inv_message("linalg.inv")), A.dtype)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        X, = ctx.saved_tensors
        Xt = _mT(X)
        return -(Xt.matmul(g).matmul(Xt))


class Det(Function):
    """det(A); backward g * cofactor(A) (det * A^{-T}, or an SVD form when det is exactly zero)."""

    @staticmethod
    def forward(ctx, A):
        d = from_np(np.linalg.det(to_np(A)), A.dtype)
        ctx.save_for_backward(A, d)
        return d

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        if A.numel() == 0:
            return A * 0
        inv, _ = _ops()
        if bool((d == 0).any()):
            return g.unsqueeze(-1).unsqueeze(-1) * _cofactor_svd(A)
        return (g * d).unsqueeze(-1).unsqueeze(-1) * _mT(inv(A))


def _cofactor_svd(A):
    """The cofactor matrix of possibly singular A: det(U) det(V) U diag(prod_{j != i} s_j) V^T."""
    from . import svd, det
    U, S, Vh = svd(A)
    ones = S[..., :1] * 0 + 1
    before = _C_cat([ones, S[..., :-1]], -1).cumprod(-1)
    after = _C_cat([S[..., 1:], ones], -1).flip(-1).cumprod(-1).flip(-1)
    sgn = (det(U.detach()) * det(Vh.detach())).unsqueeze(-1).unsqueeze(-1)
    return sgn * U.matmul(_diag(before * after)).matmul(Vh)


def _C_cat(ts, dim):
    from .._ops.shape import cat
    return cat(ts, dim)


class Slogdet(Function):
    """(sign, log|det A|); the sign has no gradient, log|det| has A^{-T}."""

    @staticmethod
    def forward(ctx, A):
        s, l = np.linalg.slogdet(to_np(A))
        sign, logabs = from_np(s, A.dtype), from_np(l, A.dtype)
        ctx.mark_non_differentiable(sign)
        ctx.save_for_backward(A)
        return sign, logabs

    @staticmethod
    def backward(ctx, gsign, glog):
        A, = ctx.saved_tensors
        inv, _ = _ops()
        return glog.unsqueeze(-1).unsqueeze(-1) * _mT(inv(A))


class Solve(Function):
    """X = A^{-1} B for A (..., n, n) and B (..., n, k) with equal batch shapes."""

    @staticmethod
    def forward(ctx, A, B):
        b = to_np(B)
        X = from_np(lapack(lambda a: np.linalg.solve(a, b), to_np(A), lu_infos, solve_message), A.dtype)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        _, solve = _ops()
        gB = solve(_mT(A), g)
        gA = -gB.matmul(_mT(X)) if ctx.needs_input_grad[0] else None
        return gA, gB


class Cholesky(Function):
    """Lower L with A = L L^T; backward sym(L^{-T} Phi(L^T gL) L^{-1}), Phi = lower triangle, halved diagonal."""

    @staticmethod
    def forward(ctx, A, op):
        out = from_np(lapack(np.linalg.cholesky, to_np(A), cholesky_infos, cholesky_message(op)), A.dtype)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, gL):
        L, = ctx.saved_tensors
        inv, _ = _ops()
        P = _mT(L).matmul(gL).tril()
        P = P - 0.5 * _diag(P.diagonal(0, -2, -1))
        Linv = inv(L)
        S = _mT(Linv).matmul(P).matmul(Linv)
        return 0.5 * (S + _mT(S)), None


class Eigh(Function):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix (triangle UPLO read)."""

    @staticmethod
    def forward(ctx, A, uplo):
        w, v = np.linalg.eigh(to_np(A), UPLO=uplo)
        W, V = from_np(w, A.dtype), from_np(v, A.dtype)
        ctx.save_for_backward(W, V)
        return W, V

    @staticmethod
    def backward(ctx, gw, gV):
        W, V = ctx.saved_tensors
        inner = 0
        if gw is not None:
            inner = _diag(gw)
        if gV is not None:
            X = _mT(V).matmul(gV)
            inner = inner + _offdiag_inverse_gaps(W) * (0.5 * (X - _mT(X)))
        if isinstance(inner, int):
            return None, None
        return V.matmul(inner).matmul(_mT(V)), None


class Svd(Function):
    """A = U diag(S) Vh. Backward (real case, reduced factors; for full_matrices only the first min(m, n)
    columns of U / rows of Vh take part, as in PyTorch)."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        u, s, vh = np.linalg.svd(to_np(A), full_matrices=full_matrices)
        U, S, Vh = from_np(u, A.dtype), from_np(s, A.dtype), from_np(vh, A.dtype)
        ctx.save_for_backward(U, S, Vh)
        ctx.set_materialize_grads(False)
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        if U.shape[-1] != k:
            U = U[..., :k]
            gU = gU[..., :k] if gU is not None else None
        if Vh.shape[-2] != k:
            Vh = Vh[..., :k, :]
            gVh = gVh[..., :k, :] if gVh is not None else None
        if gU is None and gVh is None:
            if gS is None:
                return None, None
            return U.matmul(_diag(gS)).matmul(Vh), None
        V = _mT(Vh)
        F = _offdiag_inverse_gaps(S * S)
        inner = _diag(gS) if gS is not None else 0
        if gU is not None:
            UtgU = _mT(U).matmul(gU)
            inner = inner + (F * (UtgU - _mT(UtgU))) * S.unsqueeze(-2)
        if gVh is not None:
            gV = _mT(gVh)
            VtgV = _mT(V).matmul(gV)
            inner = inner + S.unsqueeze(-1) * (F * (VtgV - _mT(VtgV)))
        gA = U.matmul(inner).matmul(Vh)
        if gU is not None and m > k:
            gA = gA + ((gU - U.matmul(UtgU)) / S.unsqueeze(-2)).matmul(Vh)
        if gVh is not None and n > k:
            gA = gA + U.matmul(_mT((gV - V.matmul(VtgV)) / S.unsqueeze(-2)))
        return gA, None


def _copyltu(M):
    """The symmetric matrix whose lower triangle is M's."""
    return M.tril() + _mT(M.tril(-1))


def _qr_backward_tall(gQ, gR, Q, R):
    """A = Q R with R square (m >= n): gA = (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q."""
    _, solve = _ops()
    M = 0
    if gR is not None:
        M = R.matmul(_mT(gR))
    if gQ is not None:
        M = M - _mT(gQ).matmul(Q)
    b = Q.matmul(_copyltu(M))
    if gQ is not None:
        b = b + gQ
    return solve(_mT(R), b, left=False)


class Qr(Function):
    """A = Q R (LAPACK geqrf/orgqr through numpy.linalg.qr); mode 'reduced' or 'complete'."""

    @staticmethod
    def forward(ctx, A, mode):
        q, r = np.linalg.qr(to_np(A), mode=mode)
        Q, R = from_np(q, A.dtype), from_np(r, A.dtype)
        ctx.save_for_backward(Q, R)
        ctx.set_materialize_grads(False)
        ctx.mode = mode
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        m, n = Q.shape[-2], R.shape[-1]
        if gQ is None and gR is None:
            return None, None
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                               "nrows > ncols.")
        if m >= n:
            return _qr_backward_tall(gQ, gR, Q, R), None
        # wide: A = [X | Y] with X = Q R1 square; Y = Q R2 adds Y gR2^T to X's gQ
        R1, R2 = R[..., :, :m], R[..., :, m:]
        gR1 = gR[..., :, :m] if gR is not None else None
        Y = Q.matmul(R2)
        gQ1 = gQ
        gY = None
        if gR is not None:
            gR2 = gR[..., :, m:]
            gQ1 = Y.matmul(_mT(gR2)) if gQ is None else gQ + Y.matmul(_mT(gR2))
            gY = Q.matmul(gR2)
        gX = _qr_backward_tall(gQ1, gR1, Q, R1)
        if gY is None:
            gY = gX.new_zeros(tuple(Y.shape))
        return _C_cat([gX, gY], -1), None


class QrR(Function):
    """R alone (mode='r'); it has no gradient because Q is not computed, as in PyTorch."""

    @staticmethod
    def forward(ctx, A):
        return from_np(np.linalg.qr(to_np(A), mode="r"), A.dtype)

    @staticmethod
    def backward(ctx, gR):
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                           "Please use linalg.qr(A, mode='reduced') if you are going to differentiate through "
                           "linalg.qr.")


class Pinv(Function):
    """Moore-Penrose pseudo-inverse by SVD (or eigh when hermitian), singular values at or below
    max(atol, rtol * largest) treated as zero. Backward is the Golub-Pereyra formula for constant rank."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        a = to_np(A)
        if hermitian:
            w, v = np.linalg.eigh(a)
            s = np.abs(w)
        else:
            u, s, vh = np.linalg.svd(a, full_matrices=False)
        smax = s.max(axis=-1, keepdims=True, initial=0.0) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
        cutoff = np.maximum(np.asarray(atol)[..., None], np.asarray(rtol)[..., None] * smax)
        keep = s > cutoff
        if hermitian:
            winv = np.where(keep, 1.0 / np.where(keep, w, 1.0), 0.0)
            x = (v * winv[..., None, :]) @ np.swapaxes(v, -1, -2)
        else:
            sinv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
            x = (np.swapaxes(vh, -1, -2) * sinv[..., None, :]) @ np.swapaxes(u, -1, -2)
        X = from_np(x, A.dtype)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        Xt, gt = _mT(X), _mT(g)
        AX = A.matmul(X)
        XA = X.matmul(A)
        gA = -Xt.matmul(g).matmul(Xt) + (gt - AX.matmul(gt)).matmul(X.matmul(Xt)) \
            + Xt.matmul(X).matmul(gt - gt.matmul(XA))
        return gA, None, None, None
