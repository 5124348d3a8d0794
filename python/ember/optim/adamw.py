"""AdamW: Adam with decoupled weight decay (the parameter itself decays, not through the gradient)."""
from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""Implements AdamW, exactly as PyTorch documents it: Adam whose weight decay shrinks the parameter,
    ``p = p * (1 - lr * weight_decay)``, before the Adam update (see :class:`Adam` for the rest).

    Args:
        params (iterable): tensors to optimize, or dicts defining parameter groups.
        lr (float, optional): learning rate (default: 1e-3).
        betas (Tuple[float, float], optional): running-average coefficients (default: (0.9, 0.999)).
        eps (float, optional): term added to the denominator for numerical stability (default: 1e-8).
        weight_decay (float, optional): weight decay coefficient (default: 1e-2).
        amsgrad (bool, optional): use the AMSGrad variant (default: False).
        maximize (bool, optional): maximize the objective instead of minimizing (default: False).
        foreach, fused, capturable (bool, optional): accepted for compatibility.
        differentiable (bool, optional): must be False.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
