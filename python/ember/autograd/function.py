"""The one mechanism behind every differentiable op: ``Function`` (forward/backward) and the graph ``Node``.

``Function.apply`` runs ``forward`` and, when grad mode is on and some input requires grad, records a node
whose ``next_functions`` point at the inputs' nodes. The ctx handed to ``forward``/``backward`` *is* that node.
Saved outputs are kept as aliases without a grad_fn, so a node never keeps its own outputs alive (no cycles);
they get their grad_fn back when unpacked under ``create_graph=True``.
"""
import weakref

from .. import _C
from .grad_mode import _state

__all__ = ["Function", "Node", "FunctionCtx", "once_differentiable"]

_Tensor = None  # ember.Tensor, set by ember._tensor once it exists


def _set_tensor_class(cls):
    global _Tensor
    _Tensor = cls


class Node:
    """A node of the autograd graph (what ``tensor.grad_fn`` returns)."""

    __slots__ = ("next_functions", "needs_input_grad", "_saved", "_saved_versions", "_saved_out", "_out_meta",
                 "__dict__", "__weakref__")
    _forward_cls = None
    _released = False
    _dirty = None
    _non_diff = None
    _materialize = True
    _pre_hooks = None
    _post_hooks = None
    _tensor_pre_hooks = None

    # ---------------------------------------------------------------- ctx API (forward/backward side)
    def save_for_backward(self, *tensors):
        """Saves tensors for backward; they are checked for in-place changes when unpacked."""
        for t in tensors:
            if t is not None and not isinstance(t, _Tensor):
                raise TypeError("save_for_backward can only save tensors or None, got %s" % type(t).__name__)
        self._saved = tensors

    @property
    def saved_tensors(self):
        """The tensors given to save_for_backward, verified to be unmodified since."""
        saved = self._saved
        if saved is None:
            if self._released:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly access saved tensors after "
                    "they have already been freed). Saved intermediate values of the graph are freed when you call "
                    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
                    "graph a second time or if you need to access saved tensors after calling backward.")
            return ()
        versions = self._saved_versions
        out_idx = self._saved_out
        for j, s in enumerate(saved):
            if s is not None and s._version != versions[j]:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    "operation: [ember.%s tensor of shape %s]%s, is at version %d; expected version %d instead. "
                    "Hint: the operation that failed was %s; find the in-place change to that tensor (ops ending "
                    "in '_', x[...] = ..., or x += ...) and make it out of place, e.g. x = x + ..."
                    % (s.dtype._name, list(s._shape),
                       (", which is output %d of %s" % (out_idx[j], self.name()))
                       if out_idx is not None and out_idx[j] >= 0 else "",
                       s._version, versions[j], self.name()))
        if out_idx is None or not _state.enabled:
            return saved
        # create_graph: saved outputs need their history back so higher-order gradients reach the inputs
        result = list(saved)
        for j, i in enumerate(out_idx):
            if i >= 0:
                s = _C.alias(saved[j])
                _C._attach(s, self, i)
                result[j] = s
        return tuple(result)

    def mark_dirty(self, *tensors):
        """Declares inputs that forward modified in place (they become its outputs)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        """Declares outputs that have no gradient (e.g. indices)."""
        self._non_diff = tensors

    def set_materialize_grads(self, value):
        """When False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)

    # ---------------------------------------------------------------- graph API
    def name(self):
        d = self.__dict__
        return d["_display"] if "_display" in d else type(self).__name__

    def __repr__(self):
        return "<%s object at %#x>" % (self.name(), id(self))

    @property
    def metadata(self):
        d = self.__dict__.get("_metadata")
        if d is None:
            d = self.__dict__["_metadata"] = {}
        return d

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node's backward; may return new grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = {}
        return _add_hook(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        return _add_hook(self._pre_hooks, fn)

    def __call__(self, *grads):
        return self._run(list(grads))

    def _run(self, grads):
        """Runs backward on the gradients of this node's outputs; returns one gradient per forward input."""
        if self._pre_hooks:
            for fn in list(self._pre_hooks.values()):
                r = fn(tuple(grads))
                if r is not None:
                    grads = list(r)
        if self._materialize:
            meta = self._out_meta
            for i, g in enumerate(grads):
                if g is None and meta is not None and meta[i] is not None:
                    grads[i] = _C.zeros_meta(meta[i])
        result = self._forward_cls.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.next_functions):
            result = self._check_count(result)
        if self._post_hooks:
            for fn in list(self._post_hooks.values()):
                r = fn(result, tuple(grads))
                if r is not None:
                    result = tuple(r)
        return result

    def _check_count(self, result):
        """backward must return one gradient per forward input; extra trailing Nones are allowed."""
        n = len(self.next_functions)
        if len(result) > n and all(r is None for r in result[n:]):
            return result[:n]
        raise RuntimeError("function %s returned an incorrect number of gradients (expected %d, got %d)"
                           % (self.name(), n, len(result)))

    def _release(self):
        if self._saved is not None:
            self._saved = None
            self._released = True


class AccumulateGrad(Node):
    """The node of a leaf tensor: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable",)

    def name(self):
        return "AccumulateGrad"


def _grad_accumulator(t):
    ref = t._grad_accumulator
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad()
        acc.variable = t
        acc.next_functions = ()
        acc.needs_input_grad = ()
        acc._saved = None
        acc._out_meta = ((t._shape, t.dtype) if t._device == "cpu" else (t._shape, t.dtype, t._device),)
        t._grad_accumulator = weakref.ref(acc)
    return acc


class _RemovableHandle:
    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks, key):
        self._hooks = weakref.ref(hooks) if hasattr(hooks, "__weakref__") else (lambda h=hooks: h)
        self._key = key

    def remove(self):
        hooks = self._hooks()
        if hooks is not None:
            hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(dict):
    """A dict of hooks that handles can refer to weakly."""
    __slots__ = ("__weakref__",)


_hook_counter = [0]


def _add_hook(hooks, fn):
    _hook_counter[0] += 1
    key = _hook_counter[0]
    hooks[key] = fn
    return _RemovableHandle(hooks, key)


class FunctionCtx:
    """The ctx passed to forward when nothing is being recorded: it accepts the same calls and ignores them."""

    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        pass

    def mark_dirty(self, *tensors):
        pass

    def mark_non_differentiable(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        pass


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        internal = cls.__module__.startswith("ember.")
        suffix = "Backward0" if internal else "Backward"
        cls._backward_cls = type(name + suffix, (Node,), {"_forward_cls": cls, "__slots__": ()})
        cls._uses_setup_context = "setup_context" in attrs or any(
            "setup_context" in b.__dict__ for b in cls.__mro__[1:] if b.__name__ != "Function")


class Function(metaclass=_FunctionMeta):
    """Base class for differentiable operations.

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as static methods (or,
    PyTorch 2 style, ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``) and are called through
    ``apply``. ``backward`` returns one gradient per input of forward (None for inputs without one).
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args):
        if _state.enabled:
            for a in args:
                if isinstance(a, _Tensor) and a._requires_grad:
                    return _record(cls, args)
        if cls._uses_setup_context:
            return cls.forward(*args)
        return cls.forward(FunctionCtx(), *args)


# _record(cls, args) -> output: builds the node (edges to the inputs' nodes, needs_input_grad), runs forward
# with grad mode off (setup_context style or ctx style), attaches the output(s) and processes saved tensors.
# It runs once per recorded op, so it is C (bindings/autograd.cpp) for the common single-output case and
# hands everything else to _wrap_outputs below.
_record = _C._record


def _wrap_outputs(node, args, out):
    dirty = node._dirty
    non_diff = node._non_diff
    if not isinstance(out, tuple) and dirty is None and non_diff is None:
        # the common case: one fresh output
        if not isinstance(out, _Tensor):
            raise TypeError("%s.forward must return a Tensor or a tuple, got %s"
                            % (node._forward_cls.__name__, type(out).__name__))
        for a in args:
            if out is a:
                out = _C.alias(out)
                break
        node._out_meta = (_C._attach(out, node, 0),)
        if node._saved is not None:
            _process_saved(node, (out,))
        return out

    outs = out if isinstance(out, tuple) else (out,)
    new_outs = []
    meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, _Tensor):
            new_outs.append(o)
            meta.append(None)
            continue
        if dirty is not None and any(o is d for d in dirty):
            _check_inplace(o)
            if non_diff is not None and any(o is d for d in non_diff):
                meta.append(None)
            elif o._base is not None:
                meta.append(_rebase_view(o, node, i))
            else:
                meta.append(_C._attach(o, node, i))
            new_outs.append(o)
            continue
        for a in args:
            if o is a:
                o = _C.alias(o)
                break
        if non_diff is not None and any(outs[i] is d for d in non_diff):
            meta.append(None)
        else:
            meta.append(_C._attach(o, node, i))
        new_outs.append(o)
    node._out_meta = tuple(meta)
    if node._saved is not None:
        _process_saved(node, new_outs, outs)
    return tuple(new_outs) if isinstance(out, tuple) else new_outs[0]


def _process_saved(node, new_outs, raw_outs=None):
    saved = node._saved
    raw = raw_outs if raw_outs is not None else new_outs
    versions = []
    out_idx = None
    kept = []
    for j, s in enumerate(saved):
        if s is None:
            versions.append(0)
            kept.append(None)
            continue
        idx = -1
        for k, o in enumerate(raw):
            if s is o or s is new_outs[k]:
                idx = k
                break
        if idx >= 0:
            if out_idx is None:
                out_idx = [-1] * len(saved)
            out_idx[j] = idx
            s = _C.alias(new_outs[idx])  # no grad_fn: the node must not keep its own output alive
        versions.append(s._version)
        kept.append(s)
    node._saved = tuple(kept)
    node._saved_versions = tuple(versions)
    if out_idx is not None:
        node._saved_out = tuple(out_idx)


def _check_inplace(t):
    if t._grad_fn is None and t._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    base = t._base
    if base is not None and base._grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")


class _CopySlices(Node):
    """In-place op on a view: the base's new history. Routes the gradient of the viewed region through the
    in-place op's backward and passes the rest of the base's gradient through unchanged."""

    __slots__ = ("_fn", "_base_geom", "_view_geom")

    def name(self):
        return "CopySlices"


class _CopySlicesFn:
    @staticmethod
    def backward(node, grad):
        base_sizes, base_strides, base_offset, dtype = node._base_geom
        sizes, strides, offset = node._view_geom
        result = _C.empty_strided(base_sizes, base_strides, dtype, grad._device)
        _C.copy_(result, grad)
        region = _C.as_strided(result, sizes, strides, offset - base_offset)
        fn = node._fn
        res = fn._run([_C.clone(region)])
        if res[0] is None:
            _C.fill_(region, 0)
        else:
            _C.copy_(region, res[0])
        return (result,) + tuple(res[1:])


_CopySlices._forward_cls = _CopySlicesFn


class _ViewOfRebased(Node):
    __slots__ = ("_base_geom", "_view_geom")

    def name(self):
        return "AsStridedBackward0"


class _ViewOfRebasedFn:
    @staticmethod
    def backward(node, grad):
        base_sizes, base_strides, base_offset, dtype = node._base_geom
        sizes, strides, offset = node._view_geom
        result = _C.empty_strided(base_sizes, base_strides, dtype, grad._device)
        _C.fill_(result, 0)
        _C.copy_(_C.as_strided(result, sizes, strides, offset - base_offset), grad)
        return (result,)


_ViewOfRebased._forward_cls = _ViewOfRebasedFn


def _refresh_view(view):
    """The view's storage changed since its history was made: rebuild it as a view of the base's current
    history (called from C when a stale view's grad_fn or requires_grad is read)."""
    base = view._base
    edge = (base._grad_fn, base._output_nr) if base._grad_fn is not None else (_grad_accumulator(base), 0)
    vn = _ViewOfRebased()
    vn._base_geom = (base._shape, base.stride(), base.storage_offset(), base.dtype)
    vn._view_geom = (view._shape, view.stride(), view.storage_offset())
    vn.next_functions = (edge,)
    vn.needs_input_grad = (True,)
    vn._saved = None
    vn._out_meta = (_C._attach(view, vn, 0),)


_C._set_view_refresh(_refresh_view)


def _rebase_view(view, fn_node, out_index):
    """view was modified in place by fn_node: give its base a CopySlices history and the view a fresh
    view node on top of it."""
    base = view._base
    if base._requires_grad:
        base_edge = (base._grad_fn, base._output_nr) if base._grad_fn is not None else (_grad_accumulator(base), 0)
    else:
        base_edge = (None, 0)
    base_geom = (base._shape, base.stride(), base.storage_offset(), base.dtype)
    view_geom = (view._shape, view.stride(), view.storage_offset())
    cs = _CopySlices()
    cs._fn = fn_node
    cs._base_geom = base_geom
    cs._view_geom = view_geom
    cs.next_functions = (base_edge,) + fn_node.next_functions[1:]
    cs.needs_input_grad = (base_edge[0] is not None,) + fn_node.needs_input_grad[1:]
    cs._saved = None
    cs._out_meta = (_C._attach(base, cs, 0),)
    vn = _ViewOfRebased()
    vn._base_geom = base_geom
    vn._view_geom = view_geom
    vn.next_functions = ((cs, 0),)
    vn.needs_input_grad = (True,)
    vn._saved = None
    meta = _C._attach(view, vn, 0)
    vn._out_meta = (meta,)
    return meta


_C._init_record(_state, _grad_accumulator, _wrap_outputs)


def once_differentiable(fn):
    """Marks a backward as not differentiable itself (it runs under no_grad even with create_graph)."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _state.enabled
        _state.enabled = False
        try:
            return fn(ctx, *args)
        finally:
            _state.enabled = prev
    return wrapper
