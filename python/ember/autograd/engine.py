"""The backward pass: an iterative walk of the recorded graph in dependency order.

Each node runs once, after every node that feeds it a gradient has run (dependency counting). Gradients
arriving at the same node input are summed; gradients reaching leaves are accumulated into ``.grad`` (or
captured, for ``autograd.grad``). Saved tensors are freed as nodes finish unless ``retain_graph``.
The loop is written for speed: it is the per-node overhead every training step pays.
"""
from .. import _C
from .._layout import is_dense
from .function import AccumulateGrad, _grad_accumulator
from .grad_mode import _state

__all__ = ["run_backward"]


def _root_edge(t):
    if t._grad_fn is not None:
        return t._grad_fn, t._output_nr
    if t._requires_grad:
        return _grad_accumulator(t), 0
    return None, 0


def _fix_grad(node, g, meta):
    """Makes g match the output it is the gradient of: sums broadcast dims, casts the dtype."""
    shape, dtype = meta[0], meta[1]
    gshape = g._shape
    if gshape != shape:
        try:
            # differentiable when building a graph (create_graph=True)
            g = g.sum_to_size(shape) if _state.enabled else _C.sum_to(g, shape)
        except RuntimeError:
            raise RuntimeError("Function %s returned an invalid gradient - got %s but expected shape compatible "
                               "with %s" % (node.name(), list(gshape), list(shape))) from None
    if g.dtype is not dtype:
        g = g.to(dtype)
    return g


def _accumulate(acc, g, create_graph):
    var = acc.variable
    hooks = var._backward_hooks
    if hooks:
        for fn in list(hooks.values()):
            r = fn(g)
            if r is not None:
                g = r
    old = var.grad
    if g.is_sparse or (old is not None and old.is_sparse):
        _accumulate_sparse(var, old, g)
    elif old is None:
        # own a dense copy: g may be an expanded view, or the same tensor another leaf receives
        if create_graph:
            # a zero-size g counts as contiguous whatever its strides (zero ones too): clone it
            var.grad = (g if g.is_contiguous() else g.contiguous()) if g.numel() else g.clone()
        elif g.stride() == var.stride() and g.numel():
            var.grad = _C.clone(g)
        else:
            var.grad = _grad_in_layout_of(var, g)
    elif create_graph:
        var.grad = old + g
    else:
        _C.add_(old, g)
    post = acc._post_hooks
    if post:
        for fn in list(post.values()):
            fn(var)


def _accumulate_sparse(var, old, g):
    """A sparse gradient (nn.Embedding(sparse=True)) is kept sparse, as in PyTorch: stored as it comes (the
    engine made it for this leaf alone), added to a sparse .grad by concatenating index columns, added into a
    dense .grad in place; a dense gradient reaching a sparse .grad gives a dense sum."""
    if old is None:
        var.grad = g
    elif not old.is_sparse:
        old.add_(g)
    else:
        var.grad = old + g


def _grad_in_layout_of(var, g):
    """A copy of g laid out like var when var is dense (as in PyTorch), so grad.view(...) works like on the
    parameter and fused optimizers need no copies; row-major when var overlaps itself or has gaps."""
    if g.numel() == 0:
        # nothing to copy; a zero-size leaf may carry zero strides, which in-place kernels refuse to write
        return _C.empty(var.shape, g.dtype, g._device)
    if var.is_contiguous() or not is_dense(var._shape, var.stride()):
        return _C.clone(g) if g.is_contiguous() else _C.contiguous(g)
    out = _C.empty_strided(var.shape, var.stride(), g.dtype, g._device)
    _C.copy_(out, g)
    return out


def _zero_grads(params, set_to_none):
    """zero_grad of Module and Optimizer: each parameter's .grad set to None or, detached from any graph,
    filled with zeros in place."""
    for p in params:
        g = p.grad
        if g is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            if g.is_sparse:
                g.zero_()
            else:
                _C.fill_(g, 0)


def _graph(roots):
    """Dependency counts (incoming edges) of every node reachable from roots (a root that no other node feeds
    has none), found by an iterative walk: linear in the graph's size, whatever its depth."""
    deps = {}
    seen = set(roots)
    stack = list(seen)
    pop, push = stack.pop, stack.append
    while stack:
        for nxt, _ in pop().next_functions:
            if nxt is None:
                continue
            c = deps.get(nxt)
            if c is None:
                deps[nxt] = 1
                if nxt not in seen:
                    seen.add(nxt)
                    push(nxt)
            else:
                deps[nxt] = c + 1
    return deps


def _needed(roots, deps, target_nodes):
    """Nodes that must run for autograd.grad: those with a path to a target. A target itself only has its
    incoming gradient captured; it runs only when another target lies beyond it.

    One pass in linear time: the nodes are put in topological order (a node after every node that feeds it,
    Kahn's algorithm over a copy of the dependency counts), then walked backwards, so each node's successors
    are settled before the node itself is."""
    left = dict(deps)
    topo = [n for n in set(roots) if n not in left]
    push = topo.append
    i = 0
    while i < len(topo):
        for nxt, _ in topo[i].next_functions:
            if nxt is not None:
                c = left[nxt] - 1
                left[nxt] = c
                if c == 0:
                    push(nxt)
        i += 1
    needed = set()
    add = needed.add
    for n in reversed(topo):
        for nxt, _ in n.next_functions:
            if nxt is not None and (nxt in target_nodes or nxt in needed):
                add(n)
                break
    return needed


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

    targets = target_nodes = None
    repeats = []  # (i, j): inputs[i] is the same tensor edge as the earlier inputs[j]
    if inputs is not None:
        targets = {}
        for i, t in enumerate(inputs):
            node, nr = _root_edge(t)
            if node is None:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            j = targets.setdefault((node, nr), i)
            if j != i:
                repeats.append((i, j))
        target_nodes = {n for n, _ in targets}

    deps = _graph([n for n, _, _ in roots])
    needed = _needed([n for n, _, _ in roots], deps, target_nodes) if targets is not None else None
    captured = [None] * len(inputs) if inputs is not None else None

    buffers = {}
    for node, nr, g in roots:
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * max(len(node._out_meta or ()), nr + 1)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    ready = [n for n in buffers if deps.get(n, 0) == 0]
    pop = ready.pop
    push = ready.append

    prev = _state.enabled
    _state.enabled = bool(create_graph)
    try:
        while ready:
            node = pop()
            grads = buffers.pop(node, None)
            results = None
            if grads is not None and targets is not None and node in target_nodes:
                for nr, g in enumerate(grads):
                    i = targets.get((node, nr))
                    if i is not None and g is not None:
                        captured[i] = g if captured[i] is None else captured[i] + g
            if grads is not None and (needed is None or node in needed or node.__class__ is AccumulateGrad):
                if node.__class__ is AccumulateGrad:
                    if accumulate and (target_nodes is None or node in target_nodes) and grads[0] is not None:
                        _accumulate(node, grads[0], create_graph)
                    continue
                if node._tensor_pre_hooks:
                    for nr, hooks in node._tensor_pre_hooks.items():
                        if nr < len(grads) and grads[nr] is not None:
                            for fn in list(hooks.values()):
                                r = fn(grads[nr])
                                if r is not None:
                                    grads[nr] = r
                if (node._pre_hooks is None and node._post_hooks is None and None not in grads and
                        node._materialize):
                    results = node._forward_cls.backward(node, *grads)
                    if type(results) is not tuple:
                        results = (results,)
                    if len(results) != len(node.next_functions):
                        results = node._check_count(results)
                else:
                    results = node._run(grads)
                if not retain_graph and node._saved is not None:
                    node._saved = None
                    node._released = True
            i = 0
            for nxt, nr in node.next_functions:
                if nxt is not None:
                    if results is not None:
                        g = results[i]
                        if g is not None:
                            meta = nxt._out_meta[nr]
                            if meta is not None and (g.dtype is not meta[1] or g._shape != meta[0]):
                                g = _fix_grad(node, g, meta)
                            buf = buffers.get(nxt)
                            if buf is None:
                                buf = buffers[nxt] = [None] * len(nxt._out_meta)
                                buf[nr] = g
                            else:
                                old = buf[nr]
                                buf[nr] = g if old is None else old + g
                    left = deps[nxt] - 1
                    deps[nxt] = left
                    if left == 0:
                        push(nxt)
                i += 1
    finally:
        _state.enabled = prev

    if inputs is not None and not accumulate:
        for i, j in repeats:
            captured[i] = captured[j]
        for i, t in enumerate(inputs):
            if captured[i] is None and not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
        return tuple(captured)
    return None
