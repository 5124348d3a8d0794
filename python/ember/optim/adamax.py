"""Adamax: the infinity-norm variant of Adam."""
from .. import _C
from .adam import _check_betas
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Implements Adamax, exactly as PyTorch documents it (step t counts from 1 per parameter):

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    One fused kernel updates all parameters of a group per step.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 2e-3).
        betas (Tuple[float, float], optional): coefficients of the running average and of the infinity norm
            (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        foreach, capturable (bool, optional): accepted for compatibility.
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["exp_avg"] = _buffer_like(p)
                state["exp_inf"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            exp_avgs, exp_infs, steps = self._state_lists(group, params, "exp_avg", "exp_inf", "step")
            beta1, beta2 = group["betas"]
            _C._adamax_(params, grads, exp_avgs, exp_infs, steps, _as_float(group["lr"]), float(beta1),
                        float(beta2), float(group["eps"]), _as_float(group["weight_decay"], "weight_decay"),
                        bool(group["maximize"]))
        return loss
