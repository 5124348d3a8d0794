"""F.linear on inputs of 3 or more dims, which runs as one GEMM (bias fused) over the leading dims folded into
rows: values and gradients against numpy and PyTorch, non-contiguous and zero-size inputs, no bias, the graph
it records (one addmm, no separate bias add) and shape errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from nn_testing import check_grad, npy

SHAPES = [(5, 3, 4), (2, 3, 1, 4), (1, 1, 4), (0, 3, 4), (3, 0, 4), (7, 4)]


def _data(rng, shape, out=6, dtype=np.float64):
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((out, shape[-1])).astype(dtype)
    b = rng.standard_normal(out).astype(dtype)
    return x, w, b


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_values_and_grads_match_numpy(shape, bias, dtype):
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    x, w, b = _data(rng, shape, dtype=dtype)
    g = rng.standard_normal(shape[:-1] + (6,)).astype(dtype)
    ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    eb = ember.tensor(b, requires_grad=True) if bias else None
    out = F.linear(ex, ew, eb)
    ref = x @ w.T + (b if bias else 0)
    assert tuple(out.shape) == ref.shape and out.dtype == ex.dtype
    np.testing.assert_allclose(npy(out), ref, **_tol(dtype))
    out.backward(ember.tensor(g))
    g2, x2 = g.reshape(-1, 6), x.reshape(-1, shape[-1])
    np.testing.assert_allclose(ex.grad.numpy(), g @ w, **_tol(dtype))
    np.testing.assert_allclose(ew.grad.numpy(), g2.T @ x2, **_tol(dtype))
    assert ew.grad.is_contiguous()
    if bias:
        np.testing.assert_allclose(eb.grad.numpy(), g2.sum(0), **_tol(dtype))


def test_one_gemm_with_fused_bias():
    # the recorded graph is addmm under a reshape: no separate bias add node for 3-D input
    x = ember.randn(4, 3, 5, requires_grad=True)
    out = F.linear(x, ember.randn(2, 5, requires_grad=True), ember.randn(2, requires_grad=True))
    names = []
    stack = [out.grad_fn]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        names.append(type(n).__name__)
        stack.extend(f for f, _ in n.next_functions)
    assert any(n.startswith("Addmm") for n in names)
    assert not any(n.startswith("Add") and not n.startswith("Addmm") for n in names), names
    assert not any(n.startswith("Matmul") for n in names), names


def test_non_contiguous_input():
    rng = np.random.default_rng(1)
    x, w, b = _data(rng, (4, 3, 5))
    ex = ember.tensor(np.ascontiguousarray(x.transpose(1, 0, 2)), requires_grad=True)
    out = F.linear(ex.transpose(0, 1), ember.tensor(w), ember.tensor(b))
    np.testing.assert_allclose(npy(out), x @ w.T + b, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), np.broadcast_to((np.ones(6) @ w), (3, 4, 5)), rtol=1e-12)


def test_low_dim_inputs_unchanged():
    rng = np.random.default_rng(2)
    x, w, b = _data(rng, (5,))
    np.testing.assert_allclose(npy(F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))), w @ x + b,
                               rtol=1e-12)
    np.testing.assert_allclose(npy(F.linear(ember.tensor(x), ember.tensor(w))), w @ x, rtol=1e-12)


def test_bias_shapes():
    # a 0-d bias and a bias broadcasting over the whole [*, out] output (allowed by PyTorch) still work
    rng = np.random.default_rng(5)
    x, w, _ = _data(rng, (2, 3, 4), out=3)
    for bias in (np.float64(0.5), rng.standard_normal((3, 3)), rng.standard_normal((2, 1, 3))):
        args = (ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True),
                ember.tensor(bias, requires_grad=True))
        np.testing.assert_allclose(npy(F.linear(*args)), x @ w.T + bias, rtol=1e-12, atol=1e-12)
        check_grad(F.linear, *args)


def test_gradcheck_3d():
    rng = np.random.default_rng(3)
    x, w, b = _data(rng, (2, 3, 4), out=3)
    check_grad(F.linear, ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True),
               ember.tensor(b, requires_grad=True))


def test_shape_mismatch_raises():
    with pytest.raises(RuntimeError, match="cannot be multiplied|shape"):
        F.linear(ember.randn(2, 3, 4), ember.randn(6, 5), ember.randn(6))
    with pytest.raises(RuntimeError, match="cannot be multiplied|shape"):
        F.linear(ember.randn(2, 3, 4), ember.randn(6, 5))


def test_module_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w, b = _data(rng, (6, 5, 8), out=7, dtype=np.float32)
    g = rng.standard_normal((6, 5, 7)).astype(np.float32)
    tl = torch.nn.Linear(8, 7)
    el = ember.nn.Linear(8, 7)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(w))
        tl.bias.copy_(torch.tensor(b))
    el.load_state_dict({"weight": ember.tensor(w), "bias": ember.tensor(b)})
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    tout, eout = tl(tx), el(ex)
    tout.backward(torch.tensor(g))
    eout.backward(ember.tensor(g))
    np.testing.assert_allclose(npy(eout), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(el.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(el.bias.grad.numpy(), tl.bias.grad.numpy(), rtol=1e-5, atol=1e-4)
