"""ASGD: averaged stochastic gradient descent (SGD with a decaying step and a running average of the iterates)."""
from .optimizer import Optimizer, _as_float, _buffer_like, _check_flags, _check_lr, _closure_loss, _scalar_state

__all__ = ["ASGD"]


class ASGD(Optimizer):
    r"""Implements averaged SGD, exactly as PyTorch documents it (step t counts from 1 per parameter; eta
    starts at lr and mu at 1):

    .. code-block:: text

        g = -grad if maximize else grad
        if weight_decay != 0:  g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)         (ax = p while mu == 1)
        eta = lr / (1 + lambd * lr * t)^alpha
        mu = 1 / max(1, t - t0)

    The average ``ax`` is kept in the state (``optimizer.state[p]["ax"]``); ``eta`` and ``mu`` are 0-d tensors
    like ``step``, in float32 unless the default dtype is float64 (as in PyTorch). Written with ember tensor
    ops, one parameter at a time (PyTorch's single-tensor path).

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-2).
        lambd (float, optional): decay term (default: 1e-4).
        alpha (float, optional): power for the eta update (default: 0.75).
        t0 (float, optional): point at which averaging starts (default: 1e6).
        weight_decay (float, optional): weight decay (L2 penalty) (default: 0).
        foreach, capturable (bool, optional): accepted for compatibility (the same loop runs either way).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        differentiable (bool, optional): must be False.
    """

    _group_defaults_on_load = dict(foreach=None, maximize=False, differentiable=False, capturable=False)

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError("Invalid weight_decay value: %s" % weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        # states saved with Python-number eta and mu (older PyTorch) get the 0-d tensors step() updates
        for st in self.state.values():
            for key in ("eta", "mu"):
                if key in st and isinstance(st[key], (int, float)):
                    st[key] = _scalar_state(st[key])

    def _init_states(self, group, params, states):
        for p, state in zip(params, states):
            if len(state) == 0:
                state["step"] = _scalar_state(0.0)
                state["eta"] = _scalar_state(_as_float(group["lr"]))
                state["mu"] = _scalar_state(1.0)
                state["ax"] = _buffer_like(p)

    def step(self, closure=None):
        """Performs a single optimization step.

        Args:
            closure (Callable, optional): a closure that reevaluates the model and returns the loss.
        """
        loss = _closure_loss(closure)
        for group, params, grads in self._groups_with_grads():
            axs, etas, mus, steps = self._state_lists(group, params, "ax", "eta", "mu", "step")
            lr = _as_float(group["lr"])
            lambd, alpha, t0 = float(group["lambd"]), float(group["alpha"]), float(group["t0"])
            weight_decay = _as_float(group["weight_decay"], "weight_decay")
            for p, g, ax, eta_t, mu_t, step_t in zip(params, grads, axs, etas, mus, steps):
                if group["maximize"]:
                    g = -g
                step = step_t.add_(1).item()
                if weight_decay != 0:
                    g = g.add(p, alpha=weight_decay)
                eta = eta_t.item()
                p.mul_(1 - lambd * eta).add_(g, alpha=-eta)
                mu = mu_t.item()
                if mu != 1:
                    ax.add_(p.sub(ax).mul_(mu))
                else:
                    ax.copy_(p)
                # the new values pass through a 0-d tensor of the scalar dtype (float32 unless the default is
                # float64) before landing in eta/mu, as PyTorch's torch.as_tensor(...) does: after a
                # load_state_dict has cast eta/mu to the parameter's float64 they still round the same way
                eta_t.copy_(_scalar_state(lr / ((1 + lambd * lr * step) ** alpha)))
                mu_t.copy_(_scalar_state(1 / max(1, step - t0)))
        return loss
