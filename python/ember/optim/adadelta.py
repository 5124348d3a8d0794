"""Adadelta: per-coordinate step sizes from running averages of squared gradients and squared updates."""
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Implements Adadelta, exactly as PyTorch documents it:

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                       (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta               (acc_delta)
        p = p - lr * delta

    Written with ember tensor ops, one parameter at a time (PyTorch's single-tensor path).

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): coefficient that scales delta before it is applied (default: 1.0).
        rho (float, optional): coefficient of the running averages (default: 0.9).
        eps (float, optional): term added inside the square roots for numerical stability (default: 1e-6).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        foreach, capturable (bool, optional): accepted for compatibility (the same loop runs either way).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError("Invalid rho value: %s" % rho)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["square_avg"] = _buffer_like(p)
                state["acc_delta"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            square_avgs, acc_deltas, steps = self._state_lists(group, params, "square_avg", "acc_delta", "step")
            lr = _as_float(group["lr"])
            rho, eps = float(group["rho"]), float(group["eps"])
            weight_decay = _as_float(group["weight_decay"], "weight_decay")
            for p, g, v, u, step in zip(params, grads, square_avgs, acc_deltas, steps):
                step.add_(1)
                if group["maximize"]:
                    g = -g
                if weight_decay != 0:
                    g = g.add(p, alpha=weight_decay)
                v.mul_(rho).addcmul_(g, g, value=1 - rho)
                delta = u.add(eps).sqrt_().div_(v.add(eps).sqrt_()).mul_(g)
                u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
                p.add_(delta, alpha=-lr)
        return loss
