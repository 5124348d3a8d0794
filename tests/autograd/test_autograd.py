"""Autograd semantics: accumulation, graph structure, hooks, grad modes, memory release, retain_graph, version
counters, in-place on views, higher-order gradients, autograd.grad, gradcheck and custom Functions."""
import gc
import weakref

import numpy as np
import pytest

import ember
from ember.autograd import Function


@pytest.fixture(autouse=True)
def _grad_mode_guard():
    """Every test starts with grad mode on; a test that leaks a disabled grad mode cannot break the others."""
    ember.set_grad_enabled(True)
    yield
    ember.set_grad_enabled(True)


def _leaf(data, dtype=ember.float64):
    return ember.tensor(data, dtype=dtype, requires_grad=True)


# ================================================================================ accumulation and reduction


def test_grad_accumulates_across_backward_calls():
    x = _leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    g = x.grad
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    assert x.grad is g  # accumulated in place into the same tensor
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_same_leaf_used_twice_sums_gradients():
    x = _leaf([2.0])
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.tolist() == [5.0]


def test_backward_with_explicit_gradient():
    x = _leaf([1.0, 2.0])
    y = x * 3
    y.backward(ember.tensor([1.0, 10.0], dtype=ember.float64))
    assert x.grad.tolist() == [3.0, 30.0]
    z = _leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="scalar outputs"):
        z.backward()
    with pytest.raises(RuntimeError, match="shape"):
        z.backward(ember.ones(3, dtype=ember.float64))


@pytest.mark.parametrize("xshape, yshape", [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((1,), (5, 5)), ((), (2, 3)),
                                             ((2, 1, 3), (4, 1))])
def test_broadcast_gradient_is_reduced_to_input_shape(xshape, yshape):
    rng = np.random.RandomState(0)
    xn, yn = rng.randn(*xshape), rng.randn(*yshape)
    x, y = _leaf(xn), _leaf(yn)
    out = x * y
    wn = rng.randn(*out.shape)
    (out * ember.tensor(wn)).sum().backward()
    assert x.grad.shape == x.shape and y.grad.shape == y.shape
    full = np.broadcast_shapes(xshape, yshape)
    gx = np.broadcast_to(yn, full) * wn
    gy = np.broadcast_to(xn, full) * wn

    def reduce_to(g, shape):
        while g.ndim > len(shape):
            g = g.sum(0)
        for i, s in enumerate(shape):
            if s == 1:
                g = g.sum(i, keepdims=True)
        return g
    np.testing.assert_allclose(x.grad.numpy(), reduce_to(gx, xshape), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), reduce_to(gy, yshape), rtol=1e-12)


def test_expand_gradient_sums():
    x = _leaf([[1.0], [2.0]])
    x.expand(2, 5).sum().backward()
    assert x.grad.tolist() == [[5.0], [5.0]]


def test_gradient_of_integer_and_float_mix_keeps_leaf_dtype():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    y = (x * ember.tensor([1.0, 2.0], dtype=ember.float64)).sum()
    assert y.dtype is ember.float64
    y.backward()
    assert x.grad.dtype is ember.float32
    assert x.grad.tolist() == [1.0, 2.0]


# ================================================================================ graph structure


def test_requires_grad_propagation_and_is_leaf():
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2)
    assert a.is_leaf and b.is_leaf
    c = a + b
    assert c.requires_grad and not c.is_leaf
    d = b * 2
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert (c.sum()).requires_grad
    assert not (a > 0).requires_grad  # comparisons are not differentiable
    assert not a.argmax().requires_grad
    e = a.detach()
    assert e.is_leaf and not e.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        d.sum().backward()
    with pytest.raises(RuntimeError, match="(?i)floating point|float"):
        ember.ones(2, dtype=ember.int64).requires_grad_()


def test_grad_fn_names_and_next_functions():
    x = ember.ones(2, 3, requires_grad=True)
    w = ember.ones(3, requires_grad=True)
    c = ember.ones(2, 3)
    y = x * w
    assert type(y.grad_fn).__name__ == "MulBackward0"
    assert y.grad_fn.name() == "MulBackward0"
    (n0, i0), (n1, i1) = y.grad_fn.next_functions
    assert n0.name() == "AccumulateGrad" and n0.variable is x and i0 == 0
    assert n1.name() == "AccumulateGrad" and n1.variable is w
    z = (y + c).sum()
    assert z.grad_fn.name() == "SumBackward0"
    add = z.grad_fn.next_functions[0][0]
    assert add.name() == "AddBackward0"
    assert add.next_functions[0][0] is y.grad_fn
    assert add.next_functions[1][0] is None  # c does not require grad
    assert (x @ w).grad_fn.name() in ("MvBackward0", "MatmulBackward0")
    assert x.exp().grad_fn.name() == "ExpBackward0"
    assert x.t().grad_fn.name() in ("TBackward0", "TransposeBackward0", "PermuteBackward0")
    # the same leaf gets the same AccumulateGrad node while it is alive
    assert (x * 2).grad_fn.next_functions[0][0] is (x + 1).grad_fn.next_functions[0][0]
    assert x.grad_fn is None


def test_grad_fn_output_nr_for_multi_output():
    x = ember.tensor([[3.0, 1.0], [2.0, 5.0]], requires_grad=True)
    vals, idx = x.max(dim=1)
    assert vals.requires_grad and not idx.requires_grad
    vals.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    a, b = x.unbind(0)
    (a * 2 + b * 3).sum().backward()
    assert x.grad.tolist() == [[3.0, 2.0], [3.0, 4.0]]


def test_detach_shares_storage_and_stops_gradients():
    x = _leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.data_ptr() == y.data_ptr()
    assert not d.requires_grad and d.grad_fn is None
    z = (y * d).sum()  # d is a constant
    z.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    d.add_(1)  # same storage (and version counter) as y
    assert y.tolist() == [3.0, 5.0]
    # detach_ in place
    w = x * 1
    w.detach_()
    assert not w.requires_grad and w.grad_fn is None


def test_requires_grad_toggle():
    x = ember.ones(3)
    r = x.requires_grad_()
    assert r is x and x.requires_grad
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    x.requires_grad_(False)
    assert not (x * 2).requires_grad
    y = _leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)


def test_retain_grad():
    x = _leaf([1.0, 2.0])
    y = x * 3
    z = y * y
    y.retain_grad()
    assert y.retains_grad
    z.sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert x.grad.tolist() == [18.0, 36.0]
    q = x * 2
    (q * 1).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):
        assert q.grad is None  # a non-leaf without retain_grad keeps no gradient (and reading it warns)


def test_non_leaf_grad_access_warns():
    q = _leaf([1.0]) * 2
    q.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):
        assert q.grad is None


# ================================================================================ hooks


def test_hook_on_leaf_modifies_gradient():
    x = _leaf([1.0, 2.0])
    seen = []
    h = x.register_hook(lambda g: (seen.append(g.tolist()), g * 10)[1])
    (x * x).sum().backward()
    assert seen == [[2.0, 4.0]]
    assert x.grad.tolist() == [20.0, 40.0]
    h.remove()
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    assert seen == [[2.0, 4.0]]


def test_hook_on_non_leaf_modifies_downstream_gradient():
    x = _leaf([1.0, 2.0])
    y = x * 2
    calls = []

    def hook(g):
        calls.append(g.clone())
        return g + 1
    handle = y.register_hook(hook)
    (y * 3).sum().backward(retain_graph=True)
    assert calls[0].tolist() == [3.0, 3.0]
    assert x.grad.tolist() == [8.0, 8.0]  # (3 + 1) * 2
    handle.remove()
    x.grad = None
    (y * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    assert len(calls) == 1


def test_hook_returning_none_keeps_gradient_and_multiple_hooks_chain():
    x = _leaf([1.0])
    x.register_hook(lambda g: None)
    x.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g + 1)
    (x * 5).sum().backward()
    assert x.grad.tolist() == [11.0]


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_hook(lambda g: g)


def test_post_accumulate_grad_hook():
    x = _leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * 4).sum().backward()
    assert seen == [[4.0, 4.0]]


# ================================================================================ grad modes


def test_no_grad_context_and_decorator():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ember.no_grad()
    def f(t):
        assert not ember.is_grad_enabled()
        return t * 2
    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_as_decorator():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        with ember.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad

    @ember.enable_grad()
    def f(t):
        return t * 2
    with ember.no_grad():
        assert f(x).requires_grad
        assert not ember.is_grad_enabled()


def test_set_grad_enabled_context_function_and_decorator():
    x = ember.ones(2, requires_grad=True)
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    with ember.set_grad_enabled(True):
        assert (x * 2).requires_grad
    ember.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_set_grad_enabled_decorator():
    x = ember.ones(2, requires_grad=True)

    @ember.set_grad_enabled(False)
    def f(t):
        return t * 2
    assert ember.is_grad_enabled()
    assert not f(x).requires_grad
    assert ember.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError("boom")
    assert ember.is_grad_enabled()

    @ember.no_grad()
    def g():
        raise KeyError

    with pytest.raises(KeyError):
        g()
    assert ember.is_grad_enabled()


def test_no_grad_generator_decorator():
    @ember.no_grad()
    def gen():
        for _ in range(2):
            yield ember.is_grad_enabled()
    assert list(gen()) == [False, False]
    assert ember.is_grad_enabled()


def test_inplace_update_under_no_grad_allowed_on_leaf():
    w = ember.ones(3, requires_grad=True)
    with ember.no_grad():
        w -= 0.5
        w.mul_(2)
    assert w.is_leaf and w.requires_grad
    assert w.tolist() == [1.0, 1.0, 1.0]


# ================================================================================ memory


def test_saved_tensors_freed_after_backward():
    gc.collect()
    base = ember._C._live_storages()
    x = ember.randn(100, 100, requires_grad=True)
    y = x.exp()      # saves its output
    z = y * x        # saves y and x
    w = z.tanh()     # saves its output
    loss = w.sum()
    refs = [weakref.ref(t) for t in (y, z, w)]
    del y, z, w
    gc.collect()
    during = ember._C._live_storages()
    assert during >= base + 4  # x, loss, and the saved y and tanh output
    loss.backward()
    gc.collect()
    assert all(r() is None for r in refs)  # backward released every intermediate
    after = ember._C._live_storages()
    # left alive: x, x.grad, loss (and nothing that backward saved)
    assert after <= base + 3, (base, during, after)
    del loss
    gc.collect()
    assert ember._C._live_storages() <= base + 2
    x.grad = None
    del x
    gc.collect()
    assert ember._C._live_storages() == base


def test_graph_freed_when_output_dropped_without_backward():
    gc.collect()
    base = ember._C._live_storages()
    x = ember.randn(50, requires_grad=True)
    for _ in range(20):
        y = (x.sin() * x.cos()).exp().sum()
    del y
    gc.collect()
    assert ember._C._live_storages() == base + 1


def test_no_storage_leak_over_training_steps():
    w = ember.randn(20, 20, requires_grad=True)
    inp = ember.randn(8, 20)

    def step():
        loss = ((inp @ w).tanh() ** 2).mean()
        loss.backward()
        with ember.no_grad():
            w.sub_(0.01 * w.grad)
        w.grad = None
    step()
    gc.collect()
    base = ember._C._live_storages()
    for _ in range(30):
        step()
    gc.collect()
    assert ember._C._live_storages() == base


def test_intermediate_weakref_dies_after_backward():
    x = ember.randn(10, requires_grad=True)
    h = x * 2
    ref_node = weakref.ref(h.grad_fn)
    ref_h = weakref.ref(h)
    loss = (h * h).sum()
    del h
    loss.backward()
    del loss
    gc.collect()
    assert ref_h() is None
    assert ref_node() is None


# ================================================================================ retain_graph


def test_second_backward_raises_without_retain_graph():
    x = _leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_autograd_grad_frees_graph_too():
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    (g,) = ember.autograd.grad(y, x)
    assert g.tolist() == [2.0, 4.0]
    assert x.grad is None
    with pytest.raises(RuntimeError, match="second time"):
        ember.autograd.grad(y, x)


# ================================================================================ version counter / in-place


def test_inplace_modification_of_saved_tensor_raises():
    x = _leaf([1.0, 2.0])
    y = x * 2
    z = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_modification_of_saved_output_raises():
    x = _leaf([0.5, 1.0])
    y = x.exp()  # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_through_view_of_saved_tensor_raises():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1
    z = y.sin()  # saves y
    y[1:].zero_()  # same version counter through the view
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine():
    x = _leaf([1.0, 2.0])
    y = x + 1  # add saves nothing
    y.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_inplace_grad_fn_name():
    y = _leaf([1.0]) + 1
    y.mul_(3)
    assert y.grad_fn.name() == "MulBackward0"


def test_version_counter_increments():
    x = ember.zeros(3)
    versions = [x._version]
    for op in (lambda: x.add_(1), lambda: x.__setitem__(0, 2.0), lambda: x.copy_(ember.ones(3)),
               lambda: x.detach().zero_(), lambda: x[1:].fill_(3), lambda: x.__imul__(2)):
        op()
        versions.append(x._version)
    assert all(b > a for a, b in zip(versions, versions[1:])), versions
    (x + 1).exp()
    x.sum()
    assert x._version == versions[-1]  # out-of-place ops leave it alone


def test_setitem_bumps_version_by_one():
    x = ember.zeros(3)
    v = x._version
    x[0] = 2.0
    assert x._version == v + 1


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[1:].mul_(2)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x.narrow(0, 0, 2).fill_(5.0)


def test_rejected_inplace_on_view_of_leaf_leaves_data_untouched():
    x = ember.ones(3, requires_grad=True)
    for op in (lambda: x[1:].mul_(2), lambda: x[1:].zero_(), lambda: x[:2].copy_(ember.zeros(2)),
               lambda: x.narrow(0, 0, 2).exp_()):
        with pytest.raises(RuntimeError):
            op()
    assert x.tolist() == [1.0, 1.0, 1.0]


def test_inplace_on_view_of_non_leaf_propagates_gradient():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1
    y[0].mul_(3)
    assert y.grad_fn.name() == "CopySlices"
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 1.0]
    assert y.tolist() == [3.0, 2.0, 3.0]


def test_inplace_on_view_nonlinear_and_setitem():
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x.clone()
    y[:, 1].pow_(2)          # column 1 squared
    y[0] = y[0] * 10          # row 0 scaled (setitem from an expression of y itself)
    y.sum().backward()
    # y = [[10*x00, 10*x01^2], [x10, x11^2]]
    np.testing.assert_allclose(x.grad.numpy(), [[10.0, 40.0], [1.0, 8.0]])


def test_setitem_gradient_flows_to_value_and_zeroes_overwritten():
    x = _leaf([1.0, 2.0, 3.0])
    v = _leaf([5.0])
    y = x * 2
    y[1] = v[0] * v[0]
    (y * ember.tensor([1.0, 10.0, 100.0], dtype=ember.float64)).sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 200.0]
    assert v.grad.tolist() == [100.0]


def test_view_of_modified_base_sees_new_history():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 1
    v = y[1:]
    y.mul_(2)
    v.sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 2.0]


def test_masked_assignment_gradient():
    x = _leaf([-1.0, 2.0, -3.0, 4.0])
    y = x * 1
    y[y < 0] = 0
    (y * y).sum().backward()
    assert x.grad.tolist() == [0.0, 4.0, 0.0, 8.0]


# ================================================================================ higher order


def test_second_derivative_of_cube():
    x = _leaf([1.0, -2.0, 3.0])
    y = (x ** 3).sum()
    (g,) = ember.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([1.0, -2.0, 3.0]) ** 2)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = ember.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(gg.detach().numpy(), [6.0, -12.0, 18.0])
    (ggg,) = ember.autograd.grad(gg.sum(), x)
    np.testing.assert_allclose(ggg.numpy(), [6.0, 6.0, 6.0])


def test_backward_create_graph_then_backward_on_grad():
    x = _leaf([2.0])
    y = x ** 3
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    assert g.tolist() == [12.0]
    x.grad = None
    g.backward()
    assert x.grad.tolist() == [12.0]  # d(3x^2)/dx = 6x


def test_gradient_penalty_pattern():
    rng = np.random.RandomState(0)
    w = _leaf(rng.randn(3, 1))
    xn = rng.randn(5, 3)
    x = ember.tensor(xn, requires_grad=True)
    out = (x @ w).tanh()
    (gx,) = ember.autograd.grad(out.sum(), x, create_graph=True)
    penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()

    def penalty_np(wn):
        a = xn @ wn
        gxn = (1 - np.tanh(a) ** 2) * wn.T  # (5, 3)
        return ((np.linalg.norm(gxn, axis=1) - 1) ** 2).mean()
    eps = 1e-6
    wn = w.detach().numpy().copy()
    num = np.zeros_like(wn)
    for i in range(3):
        e = np.zeros_like(wn)
        e[i] = eps
        num[i] = (penalty_np(wn + e) - penalty_np(wn - e)) / (2 * eps)
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(penalty.item(), penalty_np(wn), rtol=1e-10)


def test_gradgradcheck_builtin_ops():
    x = _leaf(np.random.RandomState(1).rand(3) + 0.5)
    assert ember.autograd.gradgradcheck(lambda t: (t.exp() * t.log()).sum() + (t ** 2).tanh().sum(), (x,))


# ================================================================================ autograd.grad


def test_autograd_grad_allow_unused():
    x = _leaf([1.0])
    y = _leaf([2.0])
    z = (x * 3).sum()
    with pytest.raises(RuntimeError, match="not have been used"):
        ember.autograd.grad(z, [x, y], retain_graph=True)
    gx, gy = ember.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [3.0] and gy is None
    gx, gy = ember.autograd.grad(z, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0]
    assert x.grad is None and y.grad is None


def test_autograd_grad_with_grad_outputs_and_multiple_outputs():
    x = _leaf([1.0, 2.0])
    a = x * 2
    b = x * x
    (g,) = ember.autograd.grad([a, b], x, grad_outputs=[ember.ones(2, dtype=ember.float64),
                                                       ember.tensor([1.0, 0.5], dtype=ember.float64)])
    assert g.tolist() == [4.0, 4.0]


def test_autograd_grad_of_intermediate():
    x = _leaf([3.0])
    h = x * x
    y = h * 5
    (gh,) = ember.autograd.grad(y, h)
    assert gh.tolist() == [5.0]


def test_backward_inputs_restricts_accumulation():
    x = _leaf([1.0])
    y = _leaf([1.0])
    (x * y * 2).sum().backward(inputs=[x])
    assert x.grad.tolist() == [2.0]
    assert y.grad is None


# ================================================================================ gradcheck and Function


class GoodSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class WrongSquare(GoodSquare):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * g  # deliberately wrong


def test_gradcheck_passes_correct_and_catches_wrong_backward():
    x = _leaf([0.3, -1.2, 2.0])
    assert ember.autograd.gradcheck(GoodSquare.apply, (x,))
    with pytest.raises(ember.autograd.GradcheckError, match="(?i)jacobian mismatch"):
        ember.autograd.gradcheck(WrongSquare.apply, (x,))
    assert ember.autograd.gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError):  # GradcheckError is a RuntimeError, as in PyTorch
        ember.autograd.gradcheck(WrongSquare.apply, (x,))


def test_gradcheck_builtin_multi_input():
    rng = np.random.RandomState(0)
    a, b = _leaf(rng.randn(2, 3)), _leaf(rng.randn(3, 2))
    assert ember.autograd.gradcheck(lambda p, q: (p @ q).sigmoid(), (a, b))


class MyReLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype)


class MyReLU2(Function):
    """PyTorch 2 style: forward without ctx plus setup_context."""

    @staticmethod
    def forward(x):
        return x.clamp(min=0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype)


@pytest.mark.parametrize("fn", [MyReLU, MyReLU2])
def test_custom_relu_matches_builtin(fn):
    rng = np.random.RandomState(3)
    data = rng.randn(4, 5)
    x1 = _leaf(data)
    x2 = _leaf(data)
    w = ember.tensor(rng.randn(4, 5))
    y1 = fn.apply(x1)
    y2 = ember.relu(x2)
    assert y1.grad_fn.name() == fn.__name__ + "Backward"
    assert y1.grad_fn.next_functions[0][0].variable is x1
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())
    np.testing.assert_array_equal(x1.grad.numpy(), (data > 0) * w.numpy())
    # without grad the Function still runs and records nothing
    with ember.no_grad():
        y = fn.apply(x1)
    assert y.grad_fn is None and not y.requires_grad
    assert fn.apply(ember.tensor(data)).grad_fn is None


def test_custom_function_used_in_larger_graph_and_twice():
    x = _leaf([-1.0, 2.0])
    y = MyReLU.apply(x * 3) + MyReLU.apply(-x)
    y.sum().backward()
    assert x.grad.tolist() == [-1.0, 3.0]


def test_needs_input_grad():
    seen = {}

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["fwd"] = ctx.needs_input_grad
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            seen["bwd"] = ctx.needs_input_grad
            ga = g * b * ctx.k if ctx.needs_input_grad[0] else None
            gb = g * a * ctx.k if ctx.needs_input_grad[1] else None
            return ga, gb, None

    a = _leaf([2.0])
    b = ember.tensor([5.0], dtype=ember.float64)
    Mul.apply(a, b, 3.0).sum().backward()
    assert seen["fwd"] == (True, False, False)
    assert seen["bwd"] == (True, False, False)
    assert a.grad.tolist() == [15.0]


def test_mark_dirty():
    class AddOneInplace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2  # deliberately distinctive

    leaf = _leaf([1.0, 2.0])
    x = leaf * 1
    y = AddOneInplace.apply(x)
    assert y is x  # the dirty input is returned as the output
    assert x.tolist() == [2.0, 3.0]
    assert x.grad_fn.name() == "AddOneInplaceBackward"
    x.sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="leaf Variable"):
        AddOneInplace.apply(_leaf([1.0]))


def test_mark_non_differentiable():
    class SortWithIdx(Function):
        @staticmethod
        def forward(ctx, x):
            vals, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.n = x.shape[0]
            return vals, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            out = ember.zeros(ctx.n, dtype=gv.dtype)
            out[idx] = gv
            return out

    x = _leaf([3.0, 1.0, 2.0])
    vals, idx = SortWithIdx.apply(x)
    assert vals.requires_grad and not idx.requires_grad
    assert idx.tolist() == [1, 2, 0]
    (vals * ember.tensor([1.0, 10.0, 100.0], dtype=ember.float64)).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_function_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match="(?i)incorrect number of gradients|expected 2"):
        Bad.apply(_leaf([1.0]), _leaf([1.0])).sum().backward()


def test_function_with_create_graph_is_differentiable():
    x = _leaf([1.5, -0.5])
    (g,) = ember.autograd.grad(GoodSquare.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [3.0, -1.0]
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.tolist() == [2.0, 2.0]


# ================================================================================ training loop


def test_two_layer_network_trains_with_manual_updates():
    ember.manual_seed(0)
    n, d_in, h, d_out = 64, 4, 32, 1
    x = ember.randn(n, d_in)
    target = (x[:, :1] * x[:, 1:2]).tanh() + 0.5 * x[:, 2:3].sin()
    w1 = (ember.randn(d_in, h) * 0.5).requires_grad_()
    b1 = ember.zeros(h, requires_grad=True)
    w2 = (ember.randn(h, d_out) * 0.1).requires_grad_()
    b2 = ember.zeros(d_out, requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 0.2
    losses = []
    for _ in range(300):
        hidden = (x @ w1 + b1).tanh()
        pred = hidden @ w2 + b2
        loss = ((pred - target) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()
        # momentum-free SGD; every parameter stays a leaf
        assert all(p.is_leaf and p.requires_grad for p in params)
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_grad_with_the_same_input_listed_twice():
    # PyTorch returns the full gradient for every occurrence
    x = _leaf([1.0, 2.0])
    gx1, gx2 = ember.autograd.grad((x * x).sum(), [x, x])
    np.testing.assert_allclose(gx1.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(gx2.numpy(), [2.0, 4.0])


def test_leaf_gradient_takes_the_parameters_layout():
    # as in PyTorch: weight.t() inside a product gives a contiguous weight.grad (so .view works and fused
    # optimizers read it in place), and any gradient reaching a contiguous leaf is stored contiguous
    w = ember.randn(5, 3, requires_grad=True)
    b = ember.randn(5, requires_grad=True)
    x = ember.randn(4, 3, requires_grad=True)
    (ember.addmm(b, x, w.t()) ** 2).sum().backward()
    assert w.grad.is_contiguous() and w.grad.stride() == w.stride()
    w2 = w.detach().clone().requires_grad_()
    ((x.detach() @ w2.t()) ** 2).sum().backward()
    assert w2.grad.is_contiguous()
    xn, wn = x.detach().numpy(), w.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), 2 * (xn @ wn.T + b.detach().numpy()).T @ xn, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w2.grad.numpy(), 2 * (xn @ wn.T).T @ xn, rtol=1e-4, atol=1e-5)
    v = ember.randn(3, 6, requires_grad=True)
    v.t()[:, 1:].sum().backward()  # a transposed view's gradient
    assert v.grad.is_contiguous()
    np.testing.assert_array_equal(v.grad.numpy(), np.r_[np.zeros((1, 6)), np.ones((2, 6))])
