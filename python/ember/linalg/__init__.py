"""ember.linalg: PyTorch's torch.linalg on the CPU. Factorisations run LAPACK through numpy.linalg (see
_functions.py); norms, cross, multi_dot, pinv-based lstsq and matrix_rank are composed from ember ops, so
everything is differentiable where PyTorch defines a gradient and batched over leading dimensions."""
import numbers

import numpy as np

from .. import return_types
from .._tensor import Tensor
from .._ops._util import needs_grad, write_out
from . import _functions as F
from ._functions import LinAlgError, check_float, check_matrix, check_square

__all__ = ["LinAlgError", "norm", "vector_norm", "matrix_norm", "inv", "inv_ex", "solve", "solve_ex", "det",
           "slogdet", "solve_triangular", "svd", "svdvals", "qr", "cholesky", "cholesky_ex", "eigh", "eigvalsh", "pinv", "lstsq",
           "matrix_rank", "cross", "multi_dot", "matmul", "diagonal", "vecdot", "matrix_power"]

_INF = float("inf")


def _out(r, out):
    if out is None:
        return r
    if isinstance(r, tuple):
        for o, v in zip(out, r):
            write_out(o, v)
        return type(r)(*out) if hasattr(r, "_fields") else tuple(out)
    return write_out(out, r)


def _info_tensor(infos):
    return F.from_np(np.asarray(infos, dtype=np.int32))


# ---------------------------------------------------------------------------------------- inverses, solves


def _infos(a, infos_of, probe):
    """Per-matrix LAPACK info: zeros when the batched probe (inv or cholesky) succeeds, which is the common
    case and one LAPACK call; the per-matrix diagnosis runs only when it fails."""
    try:
        probe(a)
        return np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        return infos_of(a)


def _ex_variant(A, infos_of, message, check_errors, np_fn, recorded):
    """The *_ex pattern: LAPACK's per-matrix info instead of an error (unless check_errors); failed matrices
    come back as NaN, and when none failed the result is the differentiable one from recorded()."""
    a = F.to_np(A)
    infos = _infos(a, infos_of, np_fn)
    if check_errors:
        F.raise_first(infos, a, message)
    if not infos.any():
        return recorded(), infos
    x = np.full(a.shape, np.nan, dtype=a.dtype)
    good = infos == 0
    if good.any():
        x[good] = np_fn(a[good])
    return F.from_np(x, A.dtype), infos


def inv(A, *, out=None):
    """The inverse of each square matrix in A (..., n, n). Singular input raises LinAlgError."""
    check_square(A, "linalg.inv")
    return _out(F.Inv.apply(A), out)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info): info is LAPACK's per-matrix status (0 = success, i > 0 = the i-th pivot is zero);
    a singular matrix's inverse holds NaN. Raises only when check_errors=True."""
    check_square(A, "linalg.inv_ex")
    r, infos = _ex_variant(A, F.lu_infos, F.inv_message("linalg.inv_ex"), check_errors, np.linalg.inv,
                           lambda: F.Inv.apply(A))
    return _out(return_types.linalg_inv_ex(r, _info_tensor(infos)), out)


def _solve_shapes(A, B, left, op):
    check_square(A, op)
    check_float(B, op, "B")
    if A.dtype is not B.dtype:
        raise RuntimeError("%s: Expected A and B to have the same dtype, but found A of type %s and B of type %s "
                           "instead" % (op, F.torch_name(A.dtype), F.torch_name(B.dtype)))
    n = A.shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vector else B
    if not left:
        if vector:
            raise RuntimeError("%s: Vector broadcasting of the left hand side is not supported for left=False. "
                               "In this case linalg.solve is equivalent to B / A.squeeze(-1)" % op)
    rows = Bm.shape[-2] if left else Bm.shape[-1]
    if rows != n:
        eq = "AX = B" if left else "XA = B"
        bshape = "%dx%d" % (Bm.shape[-2], Bm.shape[-1])
        raise RuntimeError("%s: Incompatible shapes of A and B for the equation %s (%dx%d and %s)"
                           % (op, eq, n, n, bshape))
    return vector, Bm


def _broadcast_solve(A, Bm, left):
    """Solves A X = Bm (left) or X A = Bm with the batch dims broadcast."""
    if not left:
        return _broadcast_solve(A.mT, Bm.mT, True).mT
    from .._ops.shape import broadcast_shapes
    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2])))
    Ab = A.expand(batch + tuple(A.shape[-2:]))
    Bb = Bm.expand(batch + tuple(Bm.shape[-2:]))
    return F.Solve.apply(Ab, Bb)


def solve(A, B, *, left=True, out=None):
    """The solution X of A X = B (left=True) or X A = B. B may be a (batch of) vector(s) of shape (*, n)
    when left=True. Singular A raises LinAlgError."""
    vector, Bm = _solve_shapes(A, B, left, "linalg.solve")
    X = _broadcast_solve(A, Bm, left)
    return _out(X.squeeze(-1) if vector else X, out)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(result, info) as linalg.solve, with LAPACK's info instead of an error unless check_errors=True."""
    vector, Bm = _solve_shapes(A, B, left, "linalg.solve_ex")
    a = F.to_np(A)
    infos = _infos(a, F.lu_infos, np.linalg.inv)
    if check_errors:
        F.raise_first(infos, a, F.solve_message)
    if infos.any():
        from .._ops.shape import broadcast_shapes
        batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2])))
        x = np.full(batch + tuple(Bm.shape[-2:]), np.nan, dtype=a.dtype)
        X = F.from_np(x, A.dtype)
    else:
        X = _broadcast_solve(A, Bm, left)
    return _out(return_types.linalg_solve_ex(X.squeeze(-1) if vector else X, _info_tensor(infos)), out)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """The solution X of A X = B (left) or X A = B for triangular A: only A's upper (or lower) triangle is
    read (and not its diagonal when unitriangular), so gradients for the other entries are zero."""
    check_square(A, "linalg.solve_triangular")
    check_float(B, "linalg.solve_triangular", "B")
    if B.dim() < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    T = A.triu() if upper else A.tril()
    if unitriangular:
        from .._ops.creation import eye
        I = eye(A.shape[-1], dtype=A.dtype)
        T = T * (1 - I) + I
    return _out(_broadcast_solve(T, B, left), out)


def det(A, *, out=None):
    """The determinant of each square matrix in A."""
    check_square(A, "linalg.det")
    return _out(F.Det.apply(A), out)


def slogdet(A, *, out=None):
    """(sign, logabsdet) of each square matrix: det = sign * exp(logabsdet), stable for large or tiny dets."""
    check_square(A, "linalg.slogdet")
    sign, logabs = F.Slogdet.apply(A)
    return _out(return_types.linalg_slogdet(sign, logabs), out)


# ---------------------------------------------------------------------------------------- factorisations


def cholesky(A, *, upper=False, out=None):
    """Lower factor L of A = L L^T (upper=True: U = L^T) for symmetric positive-definite A; only the lower
    triangle of A is read. Raises LinAlgError naming the first leading minor that is not positive-definite."""
    check_square(A, "linalg.cholesky")
    L = F.Cholesky.apply(A, "linalg.cholesky")
    return _out(L.mT if upper else L, out)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info): info is the order of the first failing leading minor (0 = success)."""
    check_square(A, "linalg.cholesky_ex")
    r, infos = _ex_variant(A, F.cholesky_infos, F.cholesky_message("linalg.cholesky_ex"), check_errors,
                           np.linalg.cholesky, lambda: F.Cholesky.apply(A, "linalg.cholesky_ex"))
    return _out(return_types.linalg_cholesky_ex(r.mT if upper else r, _info_tensor(infos)), out)


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError("Expected UPLO argument to be 'L' or 'U', but got %s" % UPLO)


def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric A, reading the UPLO triangle.
    Gradients assume distinct eigenvalues (the eigenvector gradient divides by their gaps)."""
    check_square(A, "linalg.eigh")
    _check_uplo(UPLO)
    w, V = F.Eigh.apply(A, UPLO)
    return _out(return_types.linalg_eigh(w, V), out)


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues (ascending) of symmetric A."""
    check_square(A, "linalg.eigvalsh")
    _check_uplo(UPLO)
    if needs_grad(A):
        return _out(F.Eigh.apply(A, UPLO)[0], out)
    return _out(F.from_np(np.linalg.eigvalsh(F.to_np(A), UPLO=UPLO), A.dtype), out)


def _check_driver(driver, op):
    if driver is not None:  # the gesvd/gesvdj/gesvda choice exists for cuSOLVER only, as in PyTorch
        raise RuntimeError("torch.linalg.%s: keyword argument `driver=` is only supported on CUDA inputs with "
                           "cuSOLVER backend." % op)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh and S descending. Gradients through U and Vh assume distinct non-zero
    singular values (and, as in PyTorch, use only the first min(m, n) singular vectors)."""
    check_matrix(A, "linalg.svd")
    _check_driver(driver, "svd")
    U, S, Vh = F.Svd.apply(A, bool(full_matrices))
    return _out(return_types.linalg_svd(U, S, Vh), out)


def svdvals(A, *, driver=None, out=None):
    """The singular values of A, descending."""
    check_matrix(A, "linalg.svdvals")
    _check_driver(driver, "svd")  # PyTorch words svdvals' refusal the same way
    if needs_grad(A):  # through the full node so that gradients of gradients see U and Vh
        return _out(F.Svd.apply(A, False)[1], out)
    return _out(F.from_np(np.linalg.svd(F.to_np(A), compute_uv=False), A.dtype), out)


def qr(A, mode="reduced", *, out=None):
    """(Q, R) with A = Q R; mode 'reduced' (Q is m x k), 'complete' (Q is m x m) or 'r' (Q empty)."""
    check_matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError("qr received unrecognized mode '%s' but expected one of 'reduced' (default), 'r', or "
                           "'complete'" % mode)
    if mode == "r":
        return _out(return_types.linalg_qr(F.from_np(np.zeros((0,)), A.dtype), F.QrR.apply(A)), out)
    Q, R = F.Qr.apply(A, mode)
    return _out(return_types.linalg_qr(Q, R), out)


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The pseudo-inverse; singular values <= max(atol, rtol * largest) count as zero. rtol defaults to
    eps * max(m, n) when atol is not given either, else to 0."""
    check_matrix(A, "linalg.pinv")
    atol_v, rtol_v = _tolerances(A, atol, rtol)
    return _out(F.Pinv.apply(A, atol_v, rtol_v, bool(hermitian)), out)


def _tolerances(A, atol, rtol):
    def val(t):
        if t is None:
            return None
        return F.to_np(t).astype(np.float64) if isinstance(t, Tensor) else float(t)
    atol_v, rtol_v = val(atol), val(rtol)
    if rtol_v is None:
        rtol_v = F.eps(A.dtype) * max(A.shape[-2], A.shape[-1]) if atol_v is None or np.all(atol_v == 0) else 0.0
    return (0.0 if atol_v is None else atol_v), rtol_v


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    """The number of singular values (|eigenvalues| when hermitian) above max(atol, rtol * largest), int64."""
    check_matrix(A, "linalg.matrix_rank")
    atol_v, rtol_v = _tolerances(A, atol, rtol)
    a = F.to_np(A)
    s = np.abs(np.linalg.eigvalsh(a)) if hermitian else np.linalg.svd(a, compute_uv=False)
    smax = s.max(axis=-1) if s.shape[-1] else np.zeros(s.shape[:-1])
    cutoff = np.maximum(atol_v, rtol_v * smax)
    return _out(F.from_np((s > cutoff[..., None]).sum(-1).astype(np.int64)), out)


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B: (solution, residuals, rank, singular_values) as PyTorch's CPU
    drivers fill them (residuals for m > n and full rank except with gelsy; rank except with gels;
    singular values with gelsd/gelss). The solution is the minimum-norm one, pinv(A) @ B, so gradients flow."""
    check_matrix(A, "torch.linalg.lstsq")
    check_float(B, "torch.linalg.lstsq", "B")
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if B.dim() < 1 or A.dim() < B.dim() or A.dim() - B.dim() > 1:
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = A.dim() - B.dim() == 1
    Bm = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if Bm.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)" if not vector else
                           "torch.linalg.lstsq: input.size(-2) should match other.size(-1)")
    r = F.eps(A.dtype) * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    X = F.Pinv.apply(A, 0.0, 0.0 if driver == "gels" else r, False).matmul(Bm)
    a = F.to_np(A)
    s = np.linalg.svd(a, compute_uv=False)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    rank = (s > r * smax).sum(-1).astype(np.int64)
    empty = F.from_np(np.zeros((0,)), A.dtype)
    if m > n and driver != "gelsy" and bool(np.all(rank == n)):
        residuals = (A.matmul(X) - Bm).pow(2).sum(-2)
    else:
        residuals = empty
    rank_t = F.from_np(rank if driver != "gels" else np.zeros((0,), np.int64))
    sv = F.from_np(s, A.dtype) if driver in ("gelsd", "gelss") else empty
    return return_types.linalg_lstsq(X.squeeze(-1) if vector else X, residuals, rank_t, sv)


# ---------------------------------------------------------------------------------------- norms


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """sum(|x|^ord)^(1/ord) over dim (all elements when None); ord may be inf, -inf or 0 (count of non-zeros)."""
    from .._ops.reduction import norm as _norm
    if not isinstance(ord, numbers.Number) or isinstance(ord, bool):
        raise TypeError("linalg_vector_norm(): argument 'ord' must be Number, not %s" % type(ord).__name__)
    check_float(x, "linalg.vector_norm", "x")
    if dtype is not None:
        x = x.to(dtype)
    if isinstance(dim, numbers.Integral):
        dim = [int(dim)]
    if x.numel() == 0 and ord < 0 or (x.numel() == 0 and ord == _INF and dim is None):
        raise RuntimeError("linalg.vector_norm cannot compute the %s norm on an empty tensor because the operation "
                           "does not have an identity" % ord)
    return _out(_norm(x, float(ord), None if dim is None else list(dim), keepdim), out)


def _matrix_dims(A, dim, op):
    if len(dim) != 2:
        raise RuntimeError("%s: dim must be a 2-tuple. Got %s" % (op, " ".join(str(d) for d in dim)))
    d0, d1 = dim[0] % A.dim(), dim[1] % A.dim()
    if d0 == d1:
        raise RuntimeError("%s: dims must be different. Got (%d, %d)" % (op, dim[0], dim[1]))
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norms over the two dims: 'fro', 'nuc', 2 / -2 (largest / smallest singular value), 1 / -1 (max /
    min column sum of |A|) and inf / -inf (max / min row sum)."""
    check_float(A, "linalg.matrix_norm")
    if A.dim() < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = _matrix_dims(A, tuple(dim), "linalg.matrix_norm")
    if ord == "fro":
        return _out(vector_norm(A, 2, (d0, d1), keepdim), out)
    if ord in ("nuc", 2, -2):
        M = A.movedim((d0, d1), (-2, -1))
        s = svdvals(M)
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return _out(r, out)
    if ord in (1, -1, _INF, -_INF):
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = A.abs().sum(sum_dim, keepdim=True)
        r = s.amax(red_dim, keepdim=True) if ord > 0 else s.amin(red_dim, keepdim=True)
        if not keepdim:
            r = r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return _out(r, out)
    if isinstance(ord, str):
        raise RuntimeError("linalg.matrix_norm: Order %s not supported." % ord)
    raise RuntimeError("linalg.matrix_norm: Order %s not supported." % (int(ord) if ord == int(ord) else ord))


def norm(A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None):
    """Vector or matrix norm: a matrix norm when dim is a 2-tuple or (dim None and ord given) A is 2-D; else a
    vector norm (all elements flattened when ord and dim are both None)."""
    check_float(A, "linalg.norm")
    if isinstance(dim, numbers.Integral):
        dim = (int(dim),)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
        if len(dim) != 1:
            raise RuntimeError("linalg.norm: If dim is specified, it must be of length 1 or 2. Got [%s]"
                               % ", ".join(str(d) for d in dim))
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.dim() == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if A.dim() == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got %dD."
                       % A.dim())


# ---------------------------------------------------------------------------------------- products


def cross(input, other, *, dim=-1, out=None):
    """The 3-vector cross product along dim, with broadcasting."""
    from .._ops.shape import broadcast_tensors, stack
    if input.dim() != other.dim():
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = dim % max(input.dim(), 1)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError("linalg.cross: inputs dimension %d must have length 3. Got %d and %d"
                           % (dim, input.shape[d], other.shape[d]))
    a, b = broadcast_tensors(input, other)
    a0, a1, a2 = (a.select(d, i) for i in range(3))
    b0, b1, b2 = (b.select(d, i) for i in range(3))
    r = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)
    return _out(r, out)


def multi_dot(tensors, *, out=None):
    """The chained product of 2-D matrices (the first and last may be 1-D), multiplied in the cheapest order."""
    ts = list(tensors)
    n = len(ts)
    if n < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got %d" % n)
    for i, t in enumerate(ts):
        if i == 0 or i == n - 1:
            if t.dim() not in (1, 2):
                raise RuntimeError("multi_dot(): the %s tensor must be 1D or 2D but got %dD"
                                   % ("first" if i == 0 else "last", t.dim()))
        elif t.dim() != 2:
            raise RuntimeError("multi_dot(): tensor %d must be 2D but got %dD" % (i, t.dim()))
        if t.dtype is not ts[0].dtype:
            raise RuntimeError("multi_dot(): all tensors must have be the same dtype but tensor 0 is %s and "
                               "tensor %d is %s" % (F.torch_name(ts[0].dtype), i, F.torch_name(t.dtype)))
    first_vec, last_vec = ts[0].dim() == 1, ts[-1].dim() == 1
    mats = list(ts)
    if first_vec:
        mats[0] = ts[0].unsqueeze(0)
    if last_vec:
        mats[-1] = ts[-1].unsqueeze(-1)
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError("multi_dot(): tensors %d and %d with shapes %s and %s cannot be multiplied"
                               % (i, i + 1, list(ts[i].shape), list(ts[i + 1].shape)))
    dims = [mats[0].shape[0]] + [m.shape[1] for m in mats]
    # matrix-chain order by dynamic programming (cost[i][j]: cheapest product of mats[i..j])
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return product(i, k).mm(product(k + 1, j))
    r = product(0, n - 1)
    if first_vec:
        r = r.squeeze(0)
    if last_vec:
        r = r.squeeze(-1)
    return _out(r, out)


def matmul(input, other, *, out=None):
    """Alias of ember.matmul."""
    from .._ops.linalg import matmul as _matmul
    return _matmul(input, other, out=out)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """Alias of ember.diagonal with matrix-friendly defaults."""
    return A.diagonal(offset, dim1, dim2)


def vecdot(x, y, *, dim=-1, out=None):
    """Dot product of vectors along dim, with broadcasting."""
    return _out((x * y).sum(dim), out)


def matrix_power(A, n, *, out=None):
    """A to the integer power n (n < 0 inverts first)."""
    check_square(A, "linalg.matrix_power")
    if not isinstance(n, numbers.Integral):
        raise TypeError("matrix_power(): argument 'n' must be int, not %s" % type(n).__name__)
    if n == 0:
        from .._ops.creation import eye
        r = eye(A.shape[-1], dtype=A.dtype).expand(tuple(A.shape)).clone()
        return _out(r, out)
    base = inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:  # square-and-multiply
        if n & 1:
            result = base if result is None else result.matmul(base)
        n >>= 1
        if n:
            base = base.matmul(base)
    return _out(result, out)


# ---------------------------------------------------------------------------------------- top-level aliases
# PyTorch keeps these older spellings at the top level (ember.det, Tensor.det, ...); ember/__init__ installs
# TOPLEVEL into its namespace and they become Tensor methods here.


def _det(input):
    """Alias of linalg.det."""
    return det(input)


def inverse(input, *, out=None):
    """Alias of linalg.inv."""
    return inv(input, out=out)


def _cholesky(input, upper=False, *, out=None):
    """Alias of linalg.cholesky(input, upper=upper)."""
    return cholesky(input, upper=upper, out=out)


def _slogdet(input):
    """(sign, logabsdet) as return_types.slogdet."""
    sign, logabs = slogdet(input)
    return return_types.slogdet(sign, logabs)


def logdet(input):
    """log(det(input)): NaN where the determinant is negative, -inf where it is zero."""
    from .._ops.pointwise import where
    sign, logabs = slogdet(input)
    return where(sign < 0, float("nan"), logabs)


def _svd(input, some=True, compute_uv=True, *, out=None):
    """(U, S, V) with input = U diag(S) V^T (note V, not Vh); some=False gives full U and V. With
    compute_uv=False U and V are zero-filled (m x m) and (n x n) matrices, as in PyTorch."""
    if not compute_uv:
        S = svdvals(input)
        m, n = input.shape[-2], input.shape[-1]
        batch = tuple(input.shape[:-2])
        return _out(return_types.svd(input.new_zeros(batch + (m, m)), S, input.new_zeros(batch + (n, n))), out)
    U, S, Vh = svd(input, full_matrices=not some)
    return _out(return_types.svd(U, S, Vh.mT), out)


def _qr(input, some=True, *, out=None):
    """Alias of linalg.qr(input, 'reduced' if some else 'complete')."""
    Q, R = qr(input, "reduced" if some else "complete")
    return _out(return_types.qr(Q, R), out)


def pinverse(input, rcond=1e-15):
    """Alias of linalg.pinv(input, rtol=rcond)."""
    return pinv(input, rtol=rcond)


def _cross(input, other, dim=None, *, out=None):
    """torch.cross: dim=None picks the first dimension of size 3 (deprecated in PyTorch, which warns)."""
    if dim is None:
        import warnings
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.", UserWarning, stacklevel=2)
        from .._ops.shape import broadcast_shapes
        shape = tuple(broadcast_shapes(tuple(input.shape), tuple(other.shape)))
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return cross(input, other, dim=dim, out=out)


def chain_matmul(*matrices, out=None):
    """Alias of linalg.multi_dot for 2-D matrices (deprecated in PyTorch)."""
    if len(matrices) == 1:
        return matrices[0]
    return multi_dot(matrices, out=out)


def cholesky_solve(B, L, upper=False, *, out=None):
    """X with (L L^T) X = B given the Cholesky factor L (or U = L^T when upper=True)."""
    Lo = L.mT if upper else L
    return _out(solve(Lo.mT, solve(Lo, B)), out)


def cholesky_inverse(L, upper=False, *, out=None):
    """(L L^T)^{-1} given the Cholesky factor L (or U when upper=True)."""
    Lo = L.mT if upper else L
    Linv = inv(Lo)
    return _out(Linv.mT.matmul(Linv), out)


TOPLEVEL = {"det": _det, "inverse": inverse, "cholesky": _cholesky, "slogdet": _slogdet, "logdet": logdet,
            "svd": _svd, "qr": _qr, "pinverse": pinverse, "cross": _cross, "chain_matmul": chain_matmul,
            "cholesky_solve": cholesky_solve, "cholesky_inverse": cholesky_inverse, "matrix_power": matrix_power}
for _name in ("det", "inverse", "cholesky", "slogdet", "logdet", "svd", "qr", "pinverse", "cross", "matrix_power",
              "cholesky_solve", "cholesky_inverse"):
    setattr(Tensor, _name, TOPLEVEL[_name])
del _name
