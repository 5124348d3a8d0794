"""RAdam: Adam with a rectified (variance-corrected) adaptive learning rate."""
import math

from .adam import _check_betas
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""Implements RAdam, exactly as PyTorch documents it (step t counts from 1 per parameter):

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:
            p = p * (1 - lr * weight_decay)     if decoupled_weight_decay
            g = g + weight_decay * p            otherwise
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
            p = p - lr * m_hat * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:
            p = p - lr * m_hat

    Written with ember tensor ops, one parameter at a time (PyTorch's single-tensor path).

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-3).
        betas (Tuple[float, float], optional): coefficients of the running averages of the gradient and its
            square (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (default: 0).
        decoupled_weight_decay (bool, optional): AdamW-style decay of the parameter itself (default: False).
        foreach, capturable (bool, optional): accepted for compatibility (the same loop runs either way).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, decoupled_weight_decay=False,
                                   capturable=False)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["exp_avg"] = _buffer_like(p)
                state["exp_avg_sq"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            exp_avgs, exp_avg_sqs, steps = self._state_lists(group, params, "exp_avg", "exp_avg_sq", "step")
            lr = _as_float(group["lr"])
            beta1, beta2 = (_as_float(b, "betas[%d]" % i) for i, b in enumerate(group["betas"]))
            eps = float(group["eps"])
            weight_decay = _as_float(group["weight_decay"], "weight_decay")
            rho_inf = 2 / (1 - beta2) - 1
            for p, g, m, v, step_t in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
                if group["maximize"]:
                    g = -g
                step = step_t.add_(1).item()
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        p.mul_(1 - lr * weight_decay)
                    else:
                        g = g.add(p, alpha=weight_decay)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                m_hat = m / bias_correction1
                rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
                if rho_t > 5.0:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    adaptive = math.sqrt(bias_correction2) / v.sqrt().add_(eps)
                    p.sub_(m_hat.mul_(lr).mul_(adaptive).mul_(rect))
                else:
                    p.sub_(m_hat.mul_(lr))
        return loss
