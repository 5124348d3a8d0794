"""SparseAdam: Adam restricted to the entries a sparse gradient holds (dense parameters, sparse gradients).

As PyTorch's, it accepts only gradients of sparse COO layout (``grad.is_sparse``, as ``nn.Embedding(sparse=True)``
produces them) and refuses dense ones with ``RuntimeError: SparseAdam does not support dense gradients, please
consider Adam instead``. The masked update (:func:`_sparse_adam_update`) works on the coalesced gradient's
``(indices, values)``: moments and parameter change only at the rows the gradient holds.
"""
import math

from .._tensor import Tensor
from .adam import _check_betas
from .optimizer import Optimizer, _as_float, _buffer_like, _closure_loss

__all__ = ["SparseAdam"]

_DENSE_GRAD_ERROR = "SparseAdam does not support dense gradients, please consider Adam instead"


def _sparse_adam_update(param, exp_avg, exp_avg_sq, step, indices, values, *, lr, beta1, beta2, eps, maximize):
    """One SparseAdam update of the entries of param at ``indices`` (a (sparse_dim, nnz) int64 tensor of
    unique positions in param's leading sparse_dim dimensions) given the gradient ``values`` there (nnz rows
    of the remaining dimensions); ``step`` is the step count including this step. Entries not listed keep
    their parameter and moments."""
    if values.numel() == 0:
        return
    if maximize:
        values = -values
    where = tuple(indices[i] for i in range(indices.shape[0]))
    old_m = exp_avg[where]
    old_v = exp_avg_sq[where]
    m_update = values.sub(old_m).mul_(1 - beta1)
    v_update = values.pow(2).sub_(old_v).mul_(1 - beta2)
    # the moments change by the update (as a sparse add would), and the step reads the new moments
    exp_avg[where] = old_m.add(m_update)
    exp_avg_sq[where] = old_v.add(v_update)
    numer = m_update.add_(old_m)
    denom = v_update.add_(old_v).sqrt_().add_(eps)
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    param[where] = param[where].add(numer.div_(denom).mul_(-step_size))


class SparseAdam(Optimizer):
    r"""Implements PyTorch's SparseAdam: Adam whose moments and parameter entries change only where the
    (sparse-layout) gradient has entries, with per-parameter step t counting from 1:

    .. code-block:: text

        at the gradient's entries only (g = -grad if maximize else grad):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)

    A dense gradient makes ``step()`` raise ``RuntimeError`` (use :class:`Adam`), as in PyTorch.

    Args:
        params (iterable): dense tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate, > 0 (default: 1e-3).
        betas (Tuple[float, float], optional): coefficients of the running averages of the gradient and its
            square (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator, > 0 (default: 1e-8).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < _as_float(lr):
            raise ValueError("Invalid learning rate: %s" % (lr,))
        if not 0.0 < eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        _check_betas(betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        sparse_params = [[i, j] for i, group in enumerate(self.param_groups)
                         for j, p in enumerate(group["params"]) if p.is_sparse]
        if sparse_params:
            raise ValueError("Sparse params at indices %s: SparseAdam requires dense parameter tensors"
                             % sparse_params)

    def load_state_dict(self, state_dict):
        """Loads a state_dict; the per-parameter ``step`` stays a Python int, as PyTorch keeps it."""
        super().load_state_dict(state_dict)
        for state in self.state.values():
            if "step" in state:
                state["step"] = int(state["step"])

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.

        Raises:
            RuntimeError: a parameter has a dense gradient.
        """
        loss = _closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            # refuse before touching any state, so a failed step leaves the optimizer as it was
            if any(not p.grad.is_sparse for p in params):
                raise RuntimeError(_DENSE_GRAD_ERROR)
            beta1, beta2 = group["betas"]
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = _buffer_like(p)
                    state["exp_avg_sq"] = _buffer_like(p)
                state["step"] += 1
                grad = p.grad.coalesce()  # the update is non-linear: repeated indices must be summed first
                _sparse_adam_update(p, state["exp_avg"], state["exp_avg_sq"], state["step"], grad._indices(),
                                    grad._values(), lr=_as_float(group["lr"]), beta1=float(beta1),
                                    beta2=float(beta2), eps=float(group["eps"]), maximize=bool(group["maximize"]))
        return loss
