"""The backward engine's work grows linearly with the graph: long chains, wide fans, many leaves, many roots
and diamond ladders (exponentially many paths) cost a bounded number of engine steps per node.

The main checks count the lines the engine's own Python code executes (sys.settrace restricted to
ember/autograd/engine.py), which is deterministic and independent of how loaded the machine is; a quadratic
step shows up as a ratio of ~16 between a graph and one four times its size. One loose timing check and a
recursion-limit check on a 100,000-op chain complete the picture.
"""
import gc
import sys
import time

import numpy as np
import pytest

import ember
from ember.autograd import engine

_ENGINE_FILE = engine.__file__


class _LineCounter:
    """Counts line events in engine.py frames; stops tracing (and flags it) past `limit` events, so a
    super-linear engine fails the test quickly instead of crawling under the tracer."""

    def __init__(self, limit):
        self.limit = limit
        self.count = 0
        self.exceeded = False

    def _local(self, frame, event, arg):
        if event == "line":
            self.count += 1
            if self.count > self.limit:
                self.exceeded = True
                frame.f_trace = None
                return None
        return self._local

    def _global(self, frame, event, arg):
        if self.exceeded or frame.f_code.co_filename != _ENGINE_FILE:
            return None
        return self._local

    def run(self, fn):
        prev = sys.gettrace()
        sys.settrace(self._global)
        try:
            fn()
        finally:
            sys.settrace(prev)
        return self.count


def _engine_lines(build, n, per_node_limit=400):
    """Engine line events for one backward over the graph build(n) makes; build returns a zero-argument
    callable that runs the backward pass."""
    run = build(n)
    counter = _LineCounter(per_node_limit * n)
    count = counter.run(run)
    assert not counter.exceeded, "engine ran more than %d lines for a graph of %d nodes" % (counter.limit, n)
    return count


def _chain(n):
    x = ember.ones(3, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001
    return x, y.sum()


def _chain_grad(n):
    x, out = _chain(n)
    return lambda: ember.autograd.grad(out, x)


def _chain_backward(n):
    x, out = _chain(n)
    return lambda: out.backward()


def _chain_backward_inputs(n):
    x, out = _chain(n)
    return lambda: out.backward(inputs=[x])


def _many_leaves_grad(n):
    leaves = [ember.ones(2, requires_grad=True) for _ in range(n)]
    s = leaves[0]
    for leaf in leaves[1:]:
        s = s + leaf
    out = s.sum()
    return lambda: ember.autograd.grad(out, leaves)


def _many_leaves_backward(n):
    leaves = [ember.ones(2, requires_grad=True) for _ in range(n)]
    s = leaves[0]
    for leaf in leaves[1:]:
        s = s + leaf
    out = s.sum()
    return lambda: out.backward()


def _wide_fan(n):
    # one input feeding n ops whose results are summed pairwise in a balanced tree
    x = ember.ones(2, requires_grad=True)
    level = [x * float(i) for i in range(n)]
    while len(level) > 1:
        level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    out = level[0].sum()
    return lambda: ember.autograd.grad(out, x)


def _diamond_ladder(n):
    # every rung splits and rejoins: 2**n paths from the output to x, n * 3 nodes
    x = ember.ones(2, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 0.5 + y * 0.5
    out = y.sum()
    return lambda: ember.autograd.grad(out, x)


def _many_roots(n):
    x = ember.ones(2, requires_grad=True)
    outs = [(x * float(i)).sum() for i in range(n)]
    return lambda: ember.autograd.backward(outs)


def _grad_of_intermediate(n):
    # autograd.grad to a node half way up a chain: only the upper half is needed
    x = ember.ones(3, requires_grad=True)
    y = x
    mid = None
    for i in range(n):
        y = y * 1.0001
        if i == n // 2:
            mid = y
    out = y.sum()
    return lambda: ember.autograd.grad(out, [mid, x])


_GRAPHS = [_chain_grad, _chain_backward, _chain_backward_inputs, _many_leaves_grad, _many_leaves_backward,
           _wide_fan, _diamond_ladder, _many_roots, _grad_of_intermediate]


@pytest.mark.parametrize("build", _GRAPHS, ids=lambda f: f.__name__.lstrip("_"))
def test_engine_work_is_linear_in_graph_size(build):
    small, large = 1000, 4000
    a = _engine_lines(build, small)
    b = _engine_lines(build, large)
    # linear: ~4x; a quadratic step would give ~16x
    assert b < 6 * a, "engine lines: %d for %d nodes, %d for %d nodes" % (a, small, b, large)


def test_chain_gradient_values():
    # the linear-time needed-set keeps the results of the old fixed point
    x, out = _chain(2000)
    (g,) = ember.autograd.grad(out, x)
    np.testing.assert_allclose(g.numpy(), np.full(3, 1.0001 ** 2000), rtol=1e-3)
    x2 = ember.ones(2, dtype=ember.float64, requires_grad=True)
    y = x2
    for _ in range(30):
        y = y * 0.5 + y * 0.5
    (g2,) = ember.autograd.grad(y.sum(), x2)
    np.testing.assert_allclose(g2.numpy(), [1.0, 1.0])
    leaves = [ember.ones(2, requires_grad=True) for _ in range(50)]
    s = leaves[0]
    for i, leaf in enumerate(leaves[1:]):
        s = s + leaf * float(i)
    grads = ember.autograd.grad(s.sum(), leaves)
    assert [g.tolist() for g in grads] == [[1.0, 1.0]] + [[float(i)] * 2 for i in range(49)]


def test_grad_skips_nodes_that_lead_to_no_input():
    # a branch with no path to the requested input must not run: its backward would raise
    class Boom(ember.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1.0

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("ran a node no input needs")

    x = ember.ones(2, requires_grad=True)
    w = ember.ones(2, requires_grad=True)
    y = Boom.apply(w)
    for _ in range(100):
        y = y * 1.0
    out = (x * 2.0 + y).sum()
    (g,) = ember.autograd.grad(out, x)
    assert g.tolist() == [2.0, 2.0]


def _best_time(fn_factory, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        run = fn_factory()
        gc.collect()
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def test_chain_backward_time_is_roughly_linear():
    # loose: on a loaded machine the 4x longer chain must take < 10x as long (quadratic: ~16x)
    small = _best_time(lambda: _chain_grad(5000))
    large = _best_time(lambda: _chain_grad(20000))
    assert large < 10 * small + 0.05, "grad: %.3fs for 5k ops, %.3fs for 20k ops" % (small, large)


def test_hundred_thousand_op_chain_without_recursion():
    # the engine and the graph's release must not recurse per node: run both under a tight recursion limit
    n = 100000
    x, out = _chain(n)
    depth = len(__import__("inspect").stack(0))
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)
    try:
        (g,) = ember.autograd.grad(out, x, retain_graph=True)
        out.backward()
        del out
        gc.collect()
    finally:
        sys.setrecursionlimit(old)
    expected = 1.0001 ** n
    np.testing.assert_allclose(g.numpy(), np.full(3, expected), rtol=1e-2)
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, expected), rtol=1e-2)
