"""Finite-difference checks of analytical gradients (run them in float64)."""
import warnings

from .. import _C

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _tensors(xs):
    from .._tensor import Tensor
    return [x for x in xs if isinstance(x, Tensor)]


def _outputs(fn, inputs):
    from .._tensor import Tensor
    out = fn(*inputs)
    if isinstance(out, Tensor):
        return (out,)
    return tuple(o for o in out if isinstance(o, Tensor))


def _numerical_jacobian(fn, inputs, diff_inputs, outputs, eps):
    """J[i][j]: d flat(output j) / d flat(input i), by central differences. Inputs are perturbed through
    .data, which has its own version counter, so graphs recorded from them stay valid."""
    import numpy as np
    jac = []
    for x in diff_inputs:
        n = x.numel()
        cols = [np.zeros((n, o.numel())) for o in outputs]
        data = x.data
        shape = tuple(x.shape)
        for k in range(n):
            idx = tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()
            # fn runs with grad mode as the caller has it: it may itself differentiate (gradgradcheck)
            orig = float(_C.item(_C.getitem(data, idx)))
            _C.setitem_(data, idx, orig + eps, False)
            plus = [o.detach().double().reshape(-1).numpy().copy() for o in _outputs(fn, inputs)]
            _C.setitem_(data, idx, orig - eps, False)
            minus = [o.detach().double().reshape(-1).numpy().copy() for o in _outputs(fn, inputs)]
            _C.setitem_(data, idx, orig, False)
            for j in range(len(outputs)):
                cols[j][k] = (plus[j] - minus[j]) / (2 * eps)
        jac.append(cols)
    return jac


def _analytical_jacobian(inputs, diff_inputs, outputs):
    import numpy as np
    from . import grad as autograd_grad
    jac = [[np.zeros((x.numel(), o.numel())) for o in outputs] for x in diff_inputs]
    for j, o in enumerate(outputs):
        if not o.requires_grad:
            continue
        for m in range(o.numel()):
            g = _C.zeros_meta((o._shape, o.dtype))
            _C.setitem_(g.reshape(-1), m, 1.0, False)
            grads = autograd_grad((o,), diff_inputs, (g,), retain_graph=True, allow_unused=True)
            for i, gi in enumerate(grads):
                if gi is not None:
                    jac[i][j][:, m] = gi.detach().double().reshape(-1).numpy()
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False, fast_mode=False,
              masked=None):
    """Checks func's gradients against central finite differences for the inputs that require grad.
    Returns True, or raises GradcheckError (returns False when raise_exception=False)."""
    import numpy as np
    from .._tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff_inputs = [x for x in _tensors(inputs) if x.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them "
                         "have requires_grad=True.")
    for x in diff_inputs:
        if x.dtype is not _C.float64:
            warnings.warn("Input to gradcheck is not double precision (got %s); the check may fail because of "
                          "float rounding, use float64 inputs." % x.dtype, stacklevel=2)
    outputs = _outputs(func, inputs)
    ana = _analytical_jacobian(inputs, diff_inputs, outputs)
    num = _numerical_jacobian(func, inputs, diff_inputs, outputs, eps)
    for i in range(len(diff_inputs)):
        for j in range(len(outputs)):
            a, n = ana[i][j], num[i][j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError("Jacobian mismatch for output %d with respect to input %d,\nnumerical:%s\n"
                                     "analytical:%s\n" % (j, i, n, a))
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Checks second-order gradients: gradcheck of (inputs, grad_outputs) -> d(func)/d(inputs) . grad_outputs."""
    from .._tensor import Tensor
    from . import grad as autograd_grad
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = []
        for o in outputs:
            g = _C.zeros_meta((o._shape, o.dtype))
            _C.uniform_(g, -1.0, 1.0)
            g.requires_grad_(True)
            grad_outputs.append(g)
    grad_outputs = tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_order(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = _outputs(func, ins)
        diff = [ins[i] for i in diff_idx]
        gs = autograd_grad(outs, diff, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
