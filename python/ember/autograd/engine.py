"""The backward pass: an iterative walk of the recorded graph in dependency order.

Each node runs once, after every node that feeds it a gradient has run (dependency counting). Gradients
arriving at the same node input are summed; gradients reaching leaves are accumulated into ``.grad`` (or
captured, for ``autograd.grad``). Saved tensors are freed as nodes finish unless ``retain_graph``.
"""
from .. import _C
from .function import AccumulateGrad, _grad_accumulator
from .grad_mode import _state

__all__ = ["run_backward"]


def _root_edge(t):
    if t._grad_fn is not None:
        return t._grad_fn, t._output_nr
    if t._requires_grad:
        return _grad_accumulator(t), 0
    return None, 0


def _check_grad(node, nr, g):
    """Makes g match the metadata of the output it is the gradient of (sum broadcast dims, cast dtype)."""
    meta = node._out_meta[nr] if node._out_meta is not None and nr < len(node._out_meta) else None
    if meta is None:
        return g
    shape, dtype = meta
    gshape = g._shape
    if gshape != shape:
        try:
            g = _C.sum_to(g, shape)
        except RuntimeError:
            raise RuntimeError("Function %s returned an invalid gradient - got %s but expected shape compatible "
                               "with %s" % (node.name(), list(gshape), list(shape))) from None
    if g.dtype is not dtype:
        g = _Tensor_to(g, dtype)
    return g


def _Tensor_to(g, dtype):
    return g.to(dtype)


def _accumulate(acc, g, create_graph):
    var = acc.variable
    hooks = var._backward_hooks
    if hooks:
        for fn in list(hooks.values()):
            r = fn(g)
            if r is not None:
                g = r
    if var.grad is None:
        # own a dense copy: g may be an expanded view, or the same tensor another leaf receives
        if create_graph:
            var.grad = g if g.is_contiguous() else g.contiguous()
        else:
            var.grad = _C.clone(g)
    elif create_graph:
        var.grad = var.grad + g
    else:
        _C.add_(var.grad, g)
    post = acc._post_hooks
    if post:
        for fn in list(post.values()):
            fn(var)


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, allow_unused=False,
                 accumulate=True):
    """Backpropagates grad_tensors from tensors. With inputs: returns their gradients (autograd.grad) when
    accumulate is False, or accumulates only into them when True."""
    roots = []
    for t, g in zip(tensors, grad_tensors):
        node, nr = _root_edge(t)
        if node is None:
            raise RuntimeError("element %d of tensors does not require grad and does not have a grad_fn"
                               % len(roots))
        roots.append((node, nr, g))

    # targets: (node, nr) -> input index, for inputs given to grad()/backward(inputs=...)
    targets = None
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            node, nr = _root_edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            targets[(node, nr)] = i
        target_nodes = {n for n, _ in targets}

    # dependency counts over the reachable graph
    deps = {}
    order = []
    seen = set()
    stack = [n for n, _, _ in roots]
    for n in stack:
        seen.add(n)
    while stack:
        n = stack.pop()
        order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)

    needed = None
    if targets is not None:
        # only nodes with a path to a target need to run
        needed = set(target_nodes)
        changed = True
        while changed:
            changed = False
            for n in order:
                if n in needed:
                    continue
                for nxt, _ in n.next_functions:
                    if nxt is not None and nxt in needed:
                        needed.add(n)
                        changed = True
                        break

    captured = [None] * len(inputs) if inputs is not None else None
    buffers = {}
    for node, nr, g in roots:
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * max(len(node._out_meta or ()), nr + 1)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    ready = [n for n in buffers if deps.get(n, 0) == 0]

    prev = _state.enabled
    _state.enabled = bool(create_graph)
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is not None and targets is not None:
                for nr, g in enumerate(grads):
                    i = targets.get((node, nr))
                    if i is not None and g is not None:
                        captured[i] = g if captured[i] is None else captured[i] + g
            run = grads is not None and any(g is not None for g in grads)
            if needed is not None and node not in needed:
                run = False
            if type(node) is AccumulateGrad:
                if run and accumulate and (targets is None or node in target_nodes):
                    _accumulate(node, grads[0], create_graph)
                continue
            results = ()
            if run:
                thooks = node._tensor_pre_hooks
                if thooks:
                    for nr, hooks in thooks.items():
                        if nr < len(grads) and grads[nr] is not None:
                            for fn in list(hooks.values()):
                                r = fn(grads[nr])
                                if r is not None:
                                    grads[nr] = r
                results = node._run(grads)
                if not retain_graph:
                    node._release()
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = results[i] if i < len(results) else None
                if g is not None:
                    g = _check_grad(nxt, nr, g)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * len(nxt._out_meta or ((),))
                    old = buf[nr]
                    buf[nr] = g if old is None else old + g
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    ready.append(nxt)
    finally:
        _state.enabled = prev

    if inputs is not None and not accumulate:
        for i, t in enumerate(inputs):
            if captured[i] is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        return tuple(captured)
    return None
