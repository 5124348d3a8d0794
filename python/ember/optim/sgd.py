"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from .. import _C
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Implements stochastic gradient descent (optionally with momentum), exactly as PyTorch documents it:

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        if momentum != 0:
            b = g                                        on the first step
            b = momentum * b + (1 - dampening) * g       afterwards
            g = g + momentum * b if nesterov else b
        p = p - lr * g

    One fused kernel updates all parameters of a group per step.

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-3).
        momentum (float, optional): momentum factor (default: 0).
        dampening (float, optional): dampening for momentum (default: 0).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        nesterov (bool, optional): enables Nesterov momentum (default: False).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        foreach, fused (bool, optional): accepted for compatibility; Ember always uses its fused kernel.
        differentiable (bool, optional): must be False (updates are not recorded by autograd).
    """

    _group_defaults_on_load = dict(nesterov=False, maximize=False, foreach=None, differentiable=False, fused=False)

    _sparse_grad_error = None  # sparse gradients take PyTorch's sparse update (_sparse_step)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError("Invalid momentum value: %s" % momentum)
        if weight_decay < 0.0:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)

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
            momentum = group["momentum"]
            buffers, fresh = [], []
            if momentum != 0:
                for p in params:
                    buf = self.state[p].get("momentum_buffer")
                    fresh.append(buf is None)
                    # a new buffer's contents are set by the kernel (it becomes the gradient)
                    buffers.append(_buffer_like(p) if buf is None else buf)
            _C._sgd_(params, grads, buffers, fresh, _as_float(group["lr"]), float(momentum),
                     float(group["dampening"]), _as_float(group["weight_decay"], "weight_decay"),
                     bool(group["nesterov"]), bool(group["maximize"]))
            # new buffers join the state only once the update has succeeded
            for p, buf, new in zip(params, buffers, fresh):
                if new:
                    self.state[p]["momentum_buffer"] = buf
        return loss

    def _sparse_step(self, group, params, grads):
        """PyTorch's update for sparse gradients (nn.Embedding(sparse=True)), in sparse arithmetic: the momentum
        buffer stays sparse (index columns accumulate), the parameter changes only where a buffer has entries."""
        lr, momentum = _as_float(group["lr"]), float(group["momentum"])
        dampening, nesterov = float(group["dampening"]), bool(group["nesterov"])
        if _as_float(group["weight_decay"], "weight_decay") != 0:
            # as PyTorch: weight decay adds the dense parameter to the sparse gradient
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
        for p, grad in zip(params, grads):
            d_p = -grad if group["maximize"] else grad
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d_p.clone().detach()
                else:
                    buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
                d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
            p.detach().add_(d_p, alpha=-lr)
