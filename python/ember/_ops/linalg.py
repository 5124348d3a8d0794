"""Matrix products (matmul with PyTorch's shape rules, mm, bmm, mv, dot, outer, addmm, baddbmm), einsum
and tensordot built on them. Gradients for broadcast batch dims are summed by the engine."""
import numbers
import string
from math import prod as _prod

from .. import _C
from .._tensor import Tensor
from ..autograd.function import Function
from ..autograd.grad_mode import _state
from ._util import export, method, needs_grad, write_out
from ..amp.autocast_mode import _dispatch as _autocast


def _mm_like(t, left, right):
    """left @ right, laid out like the 2-D tensor t: when t is column-major (typically weight.t()), compute
    (right^T @ left^T)^T, so the gradient arrives contiguous once it flows back through the .t(), as the
    parameter is (and as PyTorch's gradients are)."""
    if t.dim() == 2 and t.shape[0] > 1 and t.stride(0) == 1 and t.stride(1) == t.shape[0]:
        return right.t().mm(left.t()).t()
    return left.mm(right)


def _matmul_grads(ctx, g, a, b):
    need = ctx.needs_input_grad
    ga = gb = None
    if a.dim() == 2 and b.dim() == 2:
        return (_mm_like(a, g, b.t()) if need[0] else None), (_mm_like(b, a.t(), g) if need[1] else None)
    if a.dim() == 1 and b.dim() == 1:
        return (g * b if need[0] else None), (g * a if need[1] else None)
    if need[0]:
        if b.dim() == 1:
            ga = g.unsqueeze(-1) * b
        else:
            g2 = g.unsqueeze(-2) if a.dim() == 1 else g
            ga = g2.matmul(b.transpose(-1, -2))
            if a.dim() == 1:
                ga = ga.squeeze(-2)
    if need[1]:
        if a.dim() == 1:
            gb = a.unsqueeze(-1) * g.unsqueeze(-2)
        else:
            g2 = g.unsqueeze(-1) if b.dim() == 1 else g
            gb = a.transpose(-1, -2).matmul(g2)
            if b.dim() == 1:
                gb = gb.squeeze(-1)
    return ga, gb


def _product_function(name, cop):
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(*inputs)

    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _matmul_grads(ctx, g, a, b)
    return type(name, (Function,), {"forward": staticmethod(cop), "setup_context": staticmethod(setup_context),
                                    "backward": staticmethod(backward), "__module__": __name__})


Matmul = _product_function("Matmul", _C.matmul)
Mm = _product_function("Mm", _C.mm)
Bmm = _product_function("Bmm", _C.bmm)
Mv = _product_function("Mv", _C.mv)
Dot = _product_function("Dot", _C.dot)


def _product_api(fn_cls, cop, name):
    def op(input, other, *, out=None):
        if not isinstance(input, Tensor) or not isinstance(other, Tensor):
            raise TypeError("%s(): arguments must be Tensors, got %s and %s"
                            % (name, type(input).__name__, type(other).__name__))
        if _state.autocast and out is None and name in _state.autocast:
            return _autocast(name, op, input, other)
        if _state.enabled and (input._requires_grad or other._requires_grad):
            r = fn_cls.apply(input, other)
        else:
            r = cop(input, other)
        return r if out is None else write_out(out, r)
    op.__name__ = name
    return op


matmul = export(_product_api(Matmul, _C.matmul, "matmul"), name="matmul")
mm = export(_product_api(Mm, _C.mm, "mm"), name="mm")
bmm = export(_product_api(Bmm, _C.bmm, "bmm"), name="bmm")
mv = export(_product_api(Mv, _C.mv, "mv"), name="mv")
dot = export(_product_api(Dot, _C.dot, "dot"), name="dot")
for _n, _f in [("matmul", matmul), ("mm", mm), ("bmm", bmm), ("mv", mv), ("dot", dot)]:
    method(_n, _f)
export(dot, name="vdot")
method("vdot", dot)


def _matmul_op(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(self, other)


def _rmatmul_op(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented
    return matmul(other, self)


Tensor.__matmul__ = _matmul_op
Tensor.__rmatmul__ = _rmatmul_op


@export
def outer(input, vec2, *, out=None):
    """The outer product of two 1-D tensors."""
    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError("outer: expected 1D tensors, got %dD and %dD" % (input.dim(), vec2.dim()))
    r = input.unsqueeze(1) * vec2.unsqueeze(0)
    return r if out is None else write_out(out, r)


export(outer, name="ger")
method("outer", outer)
method("ger", outer)


@export
def inner(input, other):
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    return matmul(input, other.transpose(-1, -2)) if other.dim() > 1 else matmul(input, other)


method("inner", inner)


class Addmm(Function):
    """beta * input + alpha * (m1 @ m2) in one GEMM call (what Linear uses)."""

    @staticmethod
    def forward(input, m1, m2, beta, alpha):
        return _C.addmm(input, m1, m2, beta, alpha)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1], inputs[2])
        ctx.beta, ctx.alpha = inputs[3], inputs[4]

    @staticmethod
    def backward(ctx, g):
        m1, m2 = ctx.saved_tensors
        need = ctx.needs_input_grad
        gi = (g if ctx.beta == 1 else g * ctx.beta) if need[0] else None
        g1 = _mm_like(m1, g, m2.t()) if need[1] else None
        g2 = _mm_like(m2, m1.t(), g) if need[2] else None
        if ctx.alpha != 1:
            g1 = g1 * ctx.alpha if g1 is not None else None
            g2 = g2 * ctx.alpha if g2 is not None else None
        return gi, g1, g2, None, None


@export
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * mat1 @ mat2."""
    if _state.autocast and out is None and "addmm" in _state.autocast:
        return _autocast("addmm", addmm, input, mat1, mat2, beta=beta, alpha=alpha)
    if needs_grad(input, mat1, mat2):
        r = Addmm.apply(input, mat1, mat2, float(beta), float(alpha))
    else:
        r = _C.addmm(input, mat1, mat2, float(beta), float(alpha))
    return r if out is None else write_out(out, r)


class Baddbmm(Function):
    @staticmethod
    def forward(input, b1, b2, beta, alpha):
        return _C.baddbmm(input, b1, b2, beta, alpha)

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.save_for_backward(inputs[1], inputs[2])
        ctx.beta, ctx.alpha = inputs[3], inputs[4]

    @staticmethod
    def backward(ctx, g):
        b1, b2 = ctx.saved_tensors
        need = ctx.needs_input_grad
        gi = g * ctx.beta if need[0] else None
        g1 = g.bmm(b2.transpose(1, 2)) * ctx.alpha if need[1] else None
        g2 = b1.transpose(1, 2).bmm(g) * ctx.alpha if need[2] else None
        return gi, g1, g2, None, None


@export
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * batch1 @ batch2 (batched)."""
    if _state.autocast and out is None and "baddbmm" in _state.autocast:
        return _autocast("baddbmm", baddbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    if needs_grad(input, batch1, batch2):
        r = Baddbmm.apply(input, batch1, batch2, float(beta), float(alpha))
    else:
        r = _C.baddbmm(input, batch1, batch2, float(beta), float(alpha))
    return r if out is None else write_out(out, r)


@export
def addmv(input, mat, vec, *, beta=1, alpha=1):
    if _state.autocast and "addmv" in _state.autocast:
        return _autocast("addmv", addmv, input, mat, vec, beta=beta, alpha=alpha)
    return input * beta + mv(mat, vec) * alpha if beta != 1 or alpha != 1 else input + mv(mat, vec)


@export
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    if _state.autocast and "addbmm" in _state.autocast:
        return _autocast("addbmm", addbmm, input, batch1, batch2, beta=beta, alpha=alpha)
    return input * beta + bmm(batch1, batch2).sum(0) * alpha


method("addmm", lambda self, mat1, mat2, *, beta=1, alpha=1: addmm(self, mat1, mat2, beta=beta, alpha=alpha))
method("baddbmm", lambda self, b1, b2, *, beta=1, alpha=1: baddbmm(self, b1, b2, beta=beta, alpha=alpha))
method("addmv", lambda self, mat, vec, *, beta=1, alpha=1: addmv(self, mat, vec, beta=beta, alpha=alpha))
method("addbmm", lambda self, b1, b2, *, beta=1, alpha=1: addbmm(self, b1, b2, beta=beta, alpha=alpha))


def _inplace_product(op, name):
    def inplace(self, m1, m2, *, beta=1, alpha=1):
        # in-place calls are never autocast (PyTorch casts out-of-place ops only)
        prev = _state.autocast
        _state.autocast = frozenset()
        try:
            r = op(self, m1, m2, beta=beta, alpha=alpha)
        finally:
            _state.autocast = prev
        return self.copy_(r)
    inplace.__name__ = name
    inplace.__doc__ = "In-place %s: self = beta * self + alpha * (m1 @ m2)." % name[:-1]
    return inplace


method("addmm_", _inplace_product(addmm, "addmm_"))
method("baddbmm_", _inplace_product(baddbmm, "baddbmm_"))


def linear(input, weight, bias=None):
    """input @ weight.T + bias. Input of 2 or more dims runs as one GEMM with the bias fused in: leading dims
    are folded into the rows (as PyTorch does), so the backward's input and weight gradients are single GEMMs
    over all rows too."""
    if _state.autocast and "linear" in _state.autocast:
        return _autocast("linear", linear, input, weight, bias)
    nd = input.dim()
    if nd < 2 or weight.dim() != 2 or (bias is not None and bias.dim() > 1):
        # (a bias of more dims broadcasts against the whole output, as PyTorch allows)
        out = matmul(input, weight.t())
        return out + bias if bias is not None else out
    lead = input.shape[:-1]
    x = input if nd == 2 else input.reshape(_prod(lead), input.shape[-1])
    out = addmm(bias, x, weight.t()) if bias is not None else mm(x, weight.t())
    return out if nd == 2 else out.reshape(*lead, weight.shape[0])


# ---------------------------------------------------------------------------------------- einsum / tensordot


def _parse_einsum(equation, operands):
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError("einsum(): more operands were provided than specified in the equation"
                         if len(operands) > len(terms) else
                         "einsum(): fewer operands were provided than specified in the equation")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in string.ascii_letters if c not in used]
    ell = None
    out_terms = []
    for term, op in zip(terms, operands):
        if "..." in term:
            n_ell = op.dim() - (len(term) - 3)
            if ell is None:
                ell = "".join(spare[:max(n_ell, 0)])
                spare = spare[len(ell):]
            n = len(ell)
            if n_ell > n:
                extra = "".join(spare[:n_ell - n])
                spare = spare[len(extra):]
                ell = extra + ell
            term = term.replace("...", ell[len(ell) - n_ell:] if n_ell > 0 else "")
        if len(term) != op.dim():
            raise RuntimeError("einsum(): the number of subscripts in the equation (%d) does not match the number "
                               "of dimensions (%d) for operand %d%s" % (len(term), op.dim(), len(out_terms),
                                                                          "" if "..." in equation else
                                                                          " and no ellipsis was given"))
        out_terms.append(term)
    if rhs is None:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = (ell or "") + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in (ell or "")))
    else:
        rhs = rhs.replace("...", ell or "")
    return out_terms, rhs


def _diag_repeated(op, term):
    """Takes diagonals for labels repeated within one operand ('ii' -> 'i')."""
    while True:
        for i, c in enumerate(term):
            j = term.find(c, i + 1)
            if j >= 0:
                op = op.diagonal(0, i, j)
                term = term[:i] + term[i + 1:j] + term[j + 1:] + c
                break
        else:
            return op, term


def _sum_out(op, term, keep):
    dims = [i for i, c in enumerate(term) if c not in keep]
    if dims:
        op = op.sum(dims)
        term = "".join(c for c in term if c in keep)
    return op, term


def _contract(a, ta, b, tb, keep):
    """Contracts a (labels ta) with b (labels tb), keeping labels in keep; returns (result, labels)."""
    batch = [c for c in ta if c in tb and c in keep]
    contracted = [c for c in ta if c in tb and c not in keep]
    a_only = [c for c in ta if c not in tb]
    b_only = [c for c in tb if c not in ta]
    sizes = {}
    for t, op in ((ta, a), (tb, b)):
        for c, s in zip(t, op.shape):
            if c in sizes and sizes[c] != s and s != 1 and sizes[c] != 1:
                raise RuntimeError("einsum(): operands do not broadcast with remapped shapes (subscript %s has "
                                   "sizes %d and %d)" % (c, sizes[c], s))
            if sizes.get(c, 1) == 1:  # size 1 broadcasts to the other operand's size, 0 included
                sizes[c] = s
    A = a.permute([ta.index(c) for c in batch + a_only + contracted])
    B = b.permute([tb.index(c) for c in batch + contracted + b_only])

    def prod(cs):
        n = 1
        for c in cs:
            n *= sizes[c]
        return n
    nb, m, k, n = prod(batch), prod(a_only), prod(contracted), prod(b_only)
    A = A.expand([sizes[c] for c in batch + a_only + contracted]).reshape(nb, m, k)
    B = B.expand([sizes[c] for c in batch + contracted + b_only]).reshape(nb, k, n)
    out = bmm(A, B).reshape([sizes[c] for c in batch + a_only + b_only])
    return out, "".join(batch + a_only + b_only)


@export
def einsum(equation, *operands):
    """Einstein summation (ellipsis, repeated labels and any number of operands)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, rhs = _parse_einsum(equation, operands)
    ops = []
    for op, term in zip(operands, terms):
        op, term = _diag_repeated(op, term)
        ops.append((op, term))
    # sum out labels that appear in one operand only and not in the output
    for i, (op, term) in enumerate(ops):
        others = "".join(t for j, (_, t) in enumerate(ops) if j != i)
        ops[i] = _sum_out(op, term, set(rhs) | set(others))
    acc, tacc = ops[0]
    for i in range(1, len(ops)):
        op, term = ops[i]
        later = set("".join(t for _, t in ops[i + 1:]))
        acc, tacc = _contract(acc, tacc, op, term, set(rhs) | later)
    acc, tacc = _sum_out(acc, tacc, set(rhs))
    if sorted(tacc) != sorted(rhs):
        raise RuntimeError("einsum(): output subscript %s does not appear in the equation for any input operand"
                           % "".join(c for c in rhs if c not in tacc))
    return acc.permute([tacc.index(c) for c in rhs]) if tacc != rhs else acc


@export
def tensordot(a, b, dims=2, out=None):
    """Sum over the last `dims` dims of a and the first of b (or the given dim lists)."""
    if _state.autocast and out is None and "tensordot" in _state.autocast:
        return _autocast("tensordot", tensordot, a, b, dims)
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError("tensordot expects dims >= 0, but got dims=%d" % dims)
        if dims > a.dim() or dims > b.dim():
            raise RuntimeError("tensordot expects dims < ndim_a or ndim_b, but got dims=%d" % dims)
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = [list(d) if not isinstance(d, numbers.Integral) else [d] for d in dims]
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    for ds, t in ((da, a), (db, b)):
        for d in ds:
            if not -max(t.dim(), 1) <= d < max(t.dim(), 1):
                raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got %d)"
                                 % (-max(t.dim(), 1), max(t.dim(), 1) - 1, d))
    da = [d % a.dim() for d in da]
    db = [d % b.dim() for d in db]
    if len(set(da)) != len(da) or len(set(db)) != len(db):
        raise RuntimeError("tensordot: a dimension appears more than once in dims")
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = 1
    for d in da:
        k *= a.shape[d]
    m = n = 1
    for d in fa:
        m *= a.shape[d]
    for d in fb:
        n *= b.shape[d]
    A = a.permute(fa + da).reshape(m, k)  # explicit sizes: -1 is ambiguous when k is 0
    B = b.permute(db + fb).reshape(k, n)
    r = mm(A, B).reshape([a.shape[d] for d in fa] + [b.shape[d] for d in fb])
    return r if out is None else write_out(out, r)
