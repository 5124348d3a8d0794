"""Adam (and, with decoupled_weight_decay=True, AdamW): adaptive moment estimation with optional AMSGrad."""
from .. import _C
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["Adam"]


def _check_betas(betas):
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError("Invalid beta parameter at index 0: %s" % (betas[0],))
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError("Invalid beta parameter at index 1: %s" % (betas[1],))


class Adam(Optimizer):
    r"""Implements Adam, exactly as PyTorch documents it (step t counts from 1 per parameter):

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:
            p = p * (1 - lr * weight_decay)     if decoupled_weight_decay (AdamW)
            g = g + weight_decay * p            otherwise
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                   if amsgrad (and v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    One fused kernel updates all parameters of a group per step.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-3).
        betas (Tuple[float, float], optional): coefficients of the running averages of the gradient and its
            square (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        amsgrad (bool, optional): use the AMSGrad variant (default: False).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        decoupled_weight_decay (bool, optional): AdamW-style decay of the parameter itself (default: False).
        foreach, fused, capturable (bool, optional): accepted for compatibility; Ember always uses its fused
            CPU kernel.
        differentiable (bool, optional): must be False (updates are not recorded by autograd).
    """

    _group_defaults_on_load = dict(amsgrad=False, maximize=False, foreach=None, capturable=False, differentiable=False,
                                   decoupled_weight_decay=False, fused=None)

    _sparse_grad_error = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, betas=(_as_float(betas[0], "betas[0]"), _as_float(betas[1], "betas[1]")), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        amsgrad = bool(group["amsgrad"])
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["exp_avg"] = _buffer_like(p)
                state["exp_avg_sq"] = _buffer_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _buffer_like(p)
            elif amsgrad and "max_exp_avg_sq" not in state:
                # amsgrad switched on mid-run: the running maximum starts now
                state["max_exp_avg_sq"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            amsgrad = bool(group["amsgrad"])
            exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = self._state_lists(
                group, params, "exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None, "step")
            beta1, beta2 = group["betas"]
            _C._adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, _as_float(group["lr"]),
                      _as_float(beta1, "betas[0]"), _as_float(beta2, "betas[1]"), float(group["eps"]),
                      _as_float(group["weight_decay"], "weight_decay"), amsgrad, bool(group["maximize"]),
                      bool(group["decoupled_weight_decay"]))
        return loss
