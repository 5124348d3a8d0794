"""RMSprop: gradients scaled by a running average of their square, with optional momentum and centering."""
from .. import _C
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""Implements RMSprop, exactly as PyTorch documents it:

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:  a = alpha * a + (1 - alpha) * g;   d = sqrt(v - a * a) + eps
        else:         d = sqrt(v) + eps
        if momentum > 0:  b = momentum * b + g / d;  p = p - lr * b
        else:             p = p - lr * g / d

    One fused kernel updates all parameters of a group per step.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-2).
        alpha (float, optional): smoothing constant (default: 0.99).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        momentum (float, optional): momentum factor (default: 0).
        centered (bool, optional): normalize by an estimate of the gradient's variance (default: False).
        capturable, foreach (bool, optional): accepted for compatibility.
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(momentum=0, centered=False, foreach=None, maximize=False, differentiable=False,
                                   capturable=False)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        if not 0.0 <= momentum:
            raise ValueError("Invalid momentum value: %s" % momentum)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        if not 0.0 <= alpha:
            raise ValueError("Invalid alpha value: %s" % alpha)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["square_avg"] = _buffer_like(p)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = _buffer_like(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            momentum, centered = float(group["momentum"]), bool(group["centered"])
            square_avgs, grad_avgs, buffers, steps = self._state_lists(
                group, params, "square_avg", "grad_avg" if centered else None,
                "momentum_buffer" if momentum > 0 else None, "step")
            _C._rmsprop_(params, grads, square_avgs, grad_avgs, buffers, steps, _as_float(group["lr"]),
                         float(group["alpha"]), float(group["eps"]), _as_float(group["weight_decay"], "weight_decay"),
                         momentum, centered, bool(group["maximize"]))
        return loss
