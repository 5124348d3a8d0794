"""Rprop: resilient backpropagation (per-coordinate step sizes driven by the sign of the gradient only)."""
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Implements Rprop, exactly as PyTorch documents it (``prev`` starts at 0, each step size at lr):

    .. code-block:: text

        g = -grad if maximize else grad
        s = sign(g * prev)
        step_size = clamp(step_size * (etaplus if s > 0 else etaminus if s < 0 else 1), *step_sizes)
        g = 0 where s < 0                 (a sign change: skip this coordinate once)
        p = p - sign(g) * step_size
        prev = g

    Written with ember tensor ops, one parameter at a time (PyTorch's single-tensor path).

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): initial step size (default: 1e-2).
        etas (Tuple[float, float], optional): (etaminus, etaplus), the multiplicative decrease and increase
            factors, with 0 < etaminus < 1 < etaplus (default: (0.5, 1.2)).
        step_sizes (Tuple[float, float], optional): minimal and maximal step sizes (default: (1e-6, 50)).
        foreach, capturable (bool, optional): accepted for compatibility (the same loop runs either way).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError("Invalid eta values: %s, %s" % (etas[0], etas[1]))
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["prev"] = _buffer_like(p)
                state["step_size"] = _buffer_like(p, _as_float(group["lr"]))

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            prevs, step_sizes, steps = self._state_lists(group, params, "prev", "step_size", "step")
            etaminus, etaplus = (float(e) for e in group["etas"])
            step_size_min, step_size_max = (float(s) for s in group["step_sizes"])
            for p, g, prev, step_size, step_t in zip(params, grads, prevs, step_sizes, steps):
                if group["maximize"]:
                    g = -g
                step_t.add_(1)
                # the factor per coordinate; a NaN product stays NaN, as in PyTorch
                factor = g.mul(prev).sign()
                flipped = factor.lt(0)
                factor.masked_fill_(factor.gt(0), etaplus)
                factor.masked_fill_(flipped, etaminus)
                factor.masked_fill_(factor.eq(0), 1.0)
                step_size.mul_(factor).clamp_(step_size_min, step_size_max)
                g = g.masked_fill(flipped, 0.0)
                p.addcmul_(g.sign(), step_size, value=-1)
                prev.copy_(g)
        return loss
