"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""
from .. import _C
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Implements Adagrad, exactly as PyTorch documents it (step t counts from 1 per parameter):

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                      (sum starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    State is created for every parameter at construction (as in PyTorch); one fused kernel updates all
    parameters of a group per step.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-2).
        lr_decay (float, optional): learning rate decay (default: 0).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        initial_accumulator_value (float, optional): initial value of the sum of squares (default: 0).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-10).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        foreach, fused (bool, optional): accepted for compatibility.
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, fused=None)
    _sparse_grad_error = None  # sparse gradients take PyTorch's sparse update (_sparse_step)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError("Invalid lr_decay value: %s" % lr_decay)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: %s" % initial_accumulator_value)
        if not 0.0 <= eps:
            raise ValueError("Invalid epsilon value: %s" % eps)
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _scalar_state(0.0)
        state["sum"] = _buffer_like(p, float(group["initial_accumulator_value"]))

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:  # a group added after construction
                self._init_state(p, group)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            params, grads, sparse_params, sparse_grads = self._split_sparse(group, params, grads)
            if sparse_params:
                self._sparse_step(group, sparse_params, sparse_grads)
            if not params:
                continue
            sums, steps = self._state_lists(group, params, "sum", "step")
            _C._adagrad_(params, grads, sums, steps, _as_float(group["lr"]), float(group["lr_decay"]),
                         _as_float(group["weight_decay"], "weight_decay"), float(group["eps"]),
                         bool(group["maximize"]))
        return loss

    def _sparse_step(self, group, params, grads):
        """PyTorch's update for sparse gradients (nn.Embedding(sparse=True)): the sum of squares and the
        parameter change only at the coalesced gradient's rows."""
        if _as_float(group["weight_decay"], "weight_decay") != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        lr, lr_decay, eps = _as_float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if len(state) == 0:
                self._init_state(p, group)
        for p, grad, state in zip(params, grads, states):
            state["step"].add_(1)
            step = state["step"].item()
            grad = (-grad if group["maximize"] else grad).coalesce()
            clr = lr / (1 + (step - 1) * lr_decay)
            values = grad._values()
            state_sum = state["sum"]
            state_sum.add_(grad._with(values.pow(2)))
            std = state_sum.sparse_mask(grad)._values().sqrt_().add_(eps)
            p.detach().add_(grad._with(values / std), alpha=-clr)
