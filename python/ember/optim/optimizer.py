"""``Optimizer``: the base class of every ember.optim algorithm.

It holds ``param_groups`` (a list of dicts: the tensors to optimise plus per-group options) and ``state`` (a
per-parameter dict of buffers), and converts both to and from ``state_dict()`` in PyTorch's structure: state
keyed by parameter index, groups holding index lists. Subclasses implement ``step`` by collecting, per group,
the parameters that have a gradient and their state buffers (``_groups_with_grads``, ``_state_lists``) and
handing them to one fused C++ kernel (``ember._C._adam_`` ...).
"""
import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

from .. import _C
from .._layout import is_dense
from .._tensor import Tensor
from ..autograd.engine import _zero_grads
from ..autograd.function import _add_hook
from ..autograd.grad_mode import _state

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks an option a param group must specify when the optimizer has no default for it."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks = OrderedDict()
_global_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """Registers hook(optimizer, args, kwargs) -> None or (args, kwargs), run before every optimizer's step."""
    return _add_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Registers hook(optimizer, args, kwargs), run after every optimizer's step."""
    return _add_hook(_global_post_hooks, hook)


def _typename(obj):
    return obj.type() if isinstance(obj, Tensor) else type(obj).__name__


def _hooked_step(step):
    """Wraps a subclass's step: step hooks, no_grad around the update, and the flag lr schedulers check to
    warn when they are stepped before the optimizer."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError("%s must return None or a tuple of (new_args, new_kwargs), but got %s."
                                       % (step, result))
        prev = _state.enabled
        _state.enabled = False
        try:
            out = step(self, *args, **kwargs)
        finally:
            _state.enabled = prev
        self._opt_called = True
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper


def _closure_loss(closure):
    """Runs the closure with gradients enabled (step itself runs under no_grad)."""
    if closure is None:
        return None
    prev = _state.enabled
    _state.enabled = True
    try:
        return closure()
    finally:
        _state.enabled = prev


def _buffer_like(p, fill=0.0):
    """A state buffer for p: p's dtype and (when p is dense) p's memory layout, so the fused kernel reads
    param, grad and state in one order without copies (PyTorch's memory_format=preserve_format)."""
    shape, stride = p._shape, p.stride()
    dense = is_dense(shape, stride)
    if p._device == "cpu" and (p.is_contiguous() or not dense):
        return _C.full(shape, fill, p.dtype)
    t = _C.empty_strided(shape, stride, p.dtype, p._device) if dense else _C.empty(shape, p.dtype, p._device)
    _C.fill_(t, fill)
    return t


def _scalar_dtype():
    # PyTorch keeps step counters in float32 unless the default dtype is float64
    return _C.float64 if _C.get_default_dtype() is _C.float64 else _C.float32


def _scalar_state(value):
    """A 0-d counter such as state['step'] (a tensor, as in PyTorch's optimizer state)."""
    return _C.full((), float(value), _scalar_dtype())


def _as_float(x, name="lr"):
    """A hyper-parameter as a Python float (one-element tensors are accepted, like PyTorch's Tensor lr)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError("Tensor %s must be 1-element" % name)
        return float(x.item())
    return float(x)


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= _as_float(lr):
        raise ValueError("Invalid learning rate: %s" % (lr,))


def _check_flags(fused, foreach, differentiable):
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: Ember updates parameters with fused "
                                  "kernels outside the autograd graph")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _params_with_grad(group):
    """The group's parameters the step updates: those that require grad and have a gradient."""
    params, grads = [], []
    for p in group["params"]:
        g = p.grad
        if g is not None and p.requires_grad:
            params.append(p)
            grads.append(g)
    return params, grads


def _gather(states, keys):
    return [[] if key is None else [state[key] for state in states] for key in keys]


class Optimizer:
    r"""Base class for all optimizers.

    Args:
        params (iterable): an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter groups:
            ``{"params": [...], "lr": 0.1, ...}``). Specifies what tensors should be optimized. Use ordered
            collections (lists), not sets: the order is what ``state_dict`` indices refer to.
        defaults (dict): default values of optimization options, used when a group doesn't specify them.
    """

    # Options a param group saved before they existed lacks; __setstate__ (so also load_state_dict) adds them.
    _group_defaults_on_load = {}
    # What step() raises for a sparse gradient (nn.Embedding(sparse=True)); None where the algorithm takes them.
    _sparse_grad_error = "{name} does not support sparse gradients"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks", "_optimizer_state_dict_pre_hooks",
                     "_optimizer_state_dict_post_hooks", "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        if self._group_defaults_on_load:
            for group in self.param_groups:
                for name, value in self._group_defaults_on_load.items():
                    group.setdefault(name, value)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += "\nParameter Group %d\n" % i
            for key in sorted(group.keys()):
                if key != "params":
                    s += "    %s: %s\n" % (key, group[key])
        return s + ")"

    # ------------------------------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Adds a parameter group (a dict with "params" and optional per-group options) to param_groups.

        Useful when fine-tuning: frozen layers can be made trainable and added as training progresses.
        Options the group does not specify take the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError("param_group must be a dict, but got %s" % type(param_group).__name__)
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization parameter "
                                 + name)
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)

        param_set = set()
        for group in self.param_groups:
            param_set.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                                 "%s to the optimizer" % ("with names" if "param_names" in param_group
                                                          else "without names"))
        if not param_set.isdisjoint(param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none=True):
        """Resets the gradients of all optimized tensors.

        Args:
            set_to_none (bool): set ``.grad`` to None (the default: less memory, and the next step skips
                parameters that received no gradient) instead of filling it with zeros.
        """
        _zero_grads(chain.from_iterable(group["params"] for group in self.param_groups), set_to_none)

    def step(self, closure=None):
        """Performs a single optimization step; closure (optional) re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _groups_with_grads(self):
        """Yields (group, params, grads) for each param group that has a parameter to update."""
        for group in self.param_groups:
            params, grads = _params_with_grad(group)
            if params:
                if self._sparse_grad_error is not None:
                    for g in grads:
                        if g.is_sparse:
                            raise RuntimeError(self._sparse_grad_error.format(name=type(self).__name__))
                yield group, params, grads

    def _split_sparse(self, group, params, grads):
        """(dense params, dense grads, sparse params, sparse grads) of a group, for algorithms that take both."""
        if not any(g.is_sparse for g in grads):
            return params, grads, (), ()
        dense = [(p, g) for p, g in zip(params, grads) if not g.is_sparse]
        sparse = [(p, g) for p, g in zip(params, grads) if g.is_sparse]
        return [p for p, _ in dense], [g for _, g in dense], [p for p, _ in sparse], [g for _, g in sparse]

    def _state_lists(self, group, params, *keys):
        """Per key, the list of state[key] over params, in order (the buffers a fused kernel takes). A key of
        None gives an empty list: a buffer the group's options leave out. When a state lacks a key,
        _init_states completes the states first."""
        states = [self.state[p] for p in params]
        try:  # most steps find every buffer: look them up first, initialise only when one is missing
            return _gather(states, keys)
        except KeyError:
            self._init_states(group, params, states)
            return _gather(states, keys)

    def _init_states(self, group, params, states):
        """Adds to each state (that of the parameter at the same position) the entries the next step reads
        and it lacks, leaving complete states as they are; algorithms that use _state_lists define it."""
        raise NotImplementedError

    def register_step_pre_hook(self, hook):
        """Registers hook(optimizer, args, kwargs) -> None or (args, kwargs), called before step()."""
        return _add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Registers hook(optimizer, args, kwargs), called after step()."""
        return _add_hook(self._optimizer_step_post_hooks, hook)

    # ------------------------------------------------------------------------------------------ state dicts
    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Registers hook(optimizer), called before state_dict() builds its result."""
        return self._add_ordered_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Registers hook(optimizer, state_dict) -> state_dict or None, called on state_dict()'s result."""
        return self._add_ordered_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Registers hook(optimizer, state_dict) -> state_dict or None, called before loading."""
        return self._add_ordered_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Registers hook(optimizer), called after load_state_dict()."""
        return self._add_ordered_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    @staticmethod
    def _add_ordered_hook(hooks, hook, prepend):
        handle = _add_hook(hooks, hook)
        if prepend:
            hooks.move_to_end(handle._key, last=False)
        return handle

    def state_dict(self):
        """The optimizer's state as a dict, in PyTorch's structure.

        * ``state``: {parameter index: {buffer name: tensor or number}} (parameters themselves are not saved);
        * ``param_groups``: a list of dicts holding each group's options and ``params``, the list of indices of
          its parameters (indices count through the groups in order).

        Tensors in the result are the optimizer's own buffers, not copies (save or clone them).
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        mapping = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _cast_state(param, value, key=None):
        """A loaded state value made ready for param: tensors take the parameter's floating dtype (counters
        such as 'step' stay as they are); nested containers are rebuilt."""
        if isinstance(value, Tensor):
            if key in ("step", "mu_product"):
                return value if value.dtype.is_floating_point else _C.to_dtype(value, _scalar_dtype(), False)
            if param.dtype.is_floating_point and value.dtype is not param.dtype:
                return _C.to_dtype(value, param.dtype, False)
            return value
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, key=k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, v) for v in value)
        if key in ("step", "mu_product") and isinstance(value, (int, float)) and not isinstance(value, bool):
            # old-style Python-number counters become the tensor counters the kernels update
            return _scalar_state(value)
        return value

    def load_state_dict(self, state_dict):
        """Loads optimizer state from a dict returned by state_dict() (possibly of another run or a PyTorch
        optimizer of the same kind). Groups must match in number and sizes; options come from the dict.

        Create lr schedulers before loading: constructing one overwrites the groups' learning rates.
        """
        state_dict = dict(state_dict)
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)
