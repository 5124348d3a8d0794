"""ember.nn.utils: gradient clipping and parameter/vector conversion."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
                            vector_to_parameters)
from nn_testing import close, npy, torch_or_skip


def _params_with_grads(scale=1.0):
    ps = [nn.Parameter(ember.zeros(3)), nn.Parameter(ember.zeros(2, 2)), nn.Parameter(ember.zeros(1))]
    grads = [np.array([3.0, 0.0, -4.0]), np.array([[1.0, 2.0], [-2.0, 1.0]]), None]
    for p, g in zip(ps, grads):
        if g is not None:
            p.grad = ember.tensor(g * scale, dtype=ember.float32)
    return ps


def test_clip_grad_norm_scales_down_and_returns_the_total_norm():
    ps = _params_with_grads()
    total = clip_grad_norm_(ps, max_norm=1.0)
    expected = math.sqrt(9 + 16 + 1 + 4 + 4 + 1)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    new = math.sqrt(sum(float((p.grad * p.grad).sum().item()) for p in ps if p.grad is not None))
    assert new == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(npy(ps[0].grad), np.array([3.0, 0.0, -4.0]) / (expected + 1e-6), rtol=1e-5)
    small = _params_with_grads(0.01)
    before = npy(small[0].grad).copy()
    clip_grad_norm_(small, max_norm=10.0)  # already below: unchanged
    np.testing.assert_array_equal(npy(small[0].grad), before)


def test_clip_grad_norm_inf_and_other_orders():
    ps = _params_with_grads()
    assert clip_grad_norm_(ps, 100.0, norm_type="inf").item() == 4.0
    ps = _params_with_grads()
    assert clip_grad_norm_(ps, 100.0, norm_type=1).item() == pytest.approx(13.0)
    single = nn.Parameter(ember.zeros(2))
    single.grad = ember.tensor([3.0, 4.0])
    assert clip_grad_norm_(single, 1.0).item() == pytest.approx(5.0)
    assert clip_grad_norm_([nn.Parameter(ember.zeros(1))], 1.0).item() == 0.0
    bad = nn.Parameter(ember.zeros(1))
    bad.grad = ember.tensor([float("nan")])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
    assert get_total_norm([ember.tensor([3.0]), ember.tensor([4.0])]).item() == pytest.approx(5.0)


def test_clip_grad_value():
    ps = _params_with_grads()
    clip_grad_value_(ps, 1.5)
    np.testing.assert_array_equal(npy(ps[0].grad), [1.5, 0.0, -1.5])
    np.testing.assert_array_equal(npy(ps[1].grad), [[1.0, 1.5], [-1.5, 1.0]])


def test_parameters_to_vector_round_trip():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(net.parameters())
    assert vec.shape == (11,)
    np.testing.assert_array_equal(npy(vec)[:6], npy(net[0].weight).ravel())
    vector_to_parameters(ember.arange(11.0), net.parameters())
    np.testing.assert_array_equal(npy(net[0].weight), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(npy(net[1].bias), [10.0])
    assert isinstance(net[0].weight, nn.Parameter) and net[0].weight.requires_grad
    # the vector is differentiable with respect to the parameters
    (parameters_to_vector(net.parameters()) * 2).sum().backward()
    assert (net[0].weight.grad == 2).all().item()
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters([1.0], net.parameters())
    with pytest.raises(RuntimeError):
        vector_to_parameters(ember.arange(12.0), net.parameters())


def test_clip_grad_norm_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (2, 2, 2))]
    for norm_type in (2.0, 1.0, 3.0, float("inf")):
        eps = [nn.Parameter(ember.zeros(*g.shape)) for g in grads]
        tps = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
        for e, t, g in zip(eps, tps, grads):
            e.grad, t.grad = ember.tensor(g), torch.tensor(g)
        close(clip_grad_norm_(eps, 0.5, norm_type), torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type), atol=1e-5)
        for e, t in zip(eps, tps):
            close(e.grad, t.grad, atol=1e-6)
