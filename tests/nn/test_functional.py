"""ember.nn.functional: completeness of the namespace, one_hot, interpolate, normalize and friends, linear and
bilinear, pad and the re-exported kernels."""
import inspect

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from nn_testing import check_grad, close, npy, randn, torch_or_skip


def test_every_public_name_exists_and_is_documented():
    for name in F.__all__:
        fn = getattr(F, name)
        assert callable(fn), name
    # every layer, activation and loss listed by the issue has a function form
    for name in ["linear", "bilinear", "conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                 "adaptive_avg_pool2d", "batch_norm", "layer_norm", "group_norm", "dropout", "dropout2d", "embedding",
                 "softmax", "log_softmax", "relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "softplus",
                 "hardtanh", "sigmoid", "tanh", "one_hot", "pad", "interpolate", "scaled_dot_product_attention",
                 "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div"]:
        assert name in F.__all__ and getattr(F, name).__doc__, name


def test_signatures_match_torch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    for name in F.__all__:
        try:
            theirs = inspect.signature(getattr(TF, name))
        except (ValueError, TypeError, AttributeError):
            continue  # C builtins without a Python signature
        if list(theirs.parameters) == ["args", "kwargs"]:
            continue  # dispatch wrappers (e.g. max_pool1d's return_indices switch)
        ours = inspect.signature(getattr(F, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        for p in theirs.parameters.values():
            if p.default is not inspect.Parameter.empty:
                assert ours.parameters[p.name].default == p.default, (name, p.name)


def test_linear_and_bilinear():
    x, w, b = randn(3, 4, seed=1), randn(2, 4, seed=2), randn(2, seed=3)
    close(F.linear(x, w, b), npy(x) @ npy(w).T + npy(b), atol=1e-12)
    close(F.linear(randn(2, 3, 4, seed=4), w), npy(randn(2, 3, 4, seed=4)) @ npy(w).T, atol=1e-12)
    check_grad(F.linear, randn(2, 3, requires_grad=True), randn(2, 3, requires_grad=True, seed=5),
               randn(2, requires_grad=True, seed=6))
    w3 = randn(2, 3, 4, requires_grad=True, seed=7)
    check_grad(F.bilinear, randn(2, 3, requires_grad=True), randn(2, 4, requires_grad=True, seed=8), w3)
    with pytest.raises(RuntimeError):
        F.bilinear(randn(2, 3), randn(3, 4), w3)


def test_one_hot():
    out = F.one_hot(ember.tensor([0, 2, 1]))
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(npy(out), np.eye(3, dtype=np.int64)[[0, 2, 1]])
    assert F.one_hot(ember.tensor([[1], [0]]), num_classes=4).shape == (2, 1, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(ember.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(ember.tensor([-1]))
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(ember.tensor([1.0]))


def test_interpolate_nearest_and_bilinear_numpy():
    x = ember.arange(6.0, dtype=ember.float64).reshape(1, 1, 2, 3)
    up = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(npy(up)[0, 0], np.repeat(np.repeat(npy(x)[0, 0], 2, 0), 2, 1))
    aligned = F.interpolate(x, size=(3, 5), mode="bilinear", align_corners=True)
    # align_corners: corners map to corners and the grid is linear in between
    np.testing.assert_allclose(npy(aligned)[0, 0], np.add.outer(np.linspace(0, 3, 3), np.linspace(0, 2, 5)),
                               atol=1e-12)
    half = F.interpolate(x, size=(2, 6), mode="bilinear")
    # align_corners=False: source position (i + 0.5) / 2 - 0.5, clamped at 0
    np.testing.assert_allclose(npy(half)[0, 0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2], atol=1e-12)
    down = F.interpolate(ember.arange(8.0).reshape(1, 1, 8), size=3)
    np.testing.assert_array_equal(npy(down)[0, 0], [0, 2, 5])
    area = F.interpolate(ember.arange(8.0).reshape(1, 1, 8), size=4, mode="area")
    np.testing.assert_allclose(npy(area)[0, 0], [0.5, 2.5, 4.5, 6.5])
    check_grad(lambda t: F.interpolate(t, scale_factor=1.5, mode="bilinear"),
               randn(1, 1, 2, 3, requires_grad=True, seed=9))
    check_grad(lambda t: F.interpolate(t, size=4, mode="linear", align_corners=True),
               randn(1, 2, 3, requires_grad=True, seed=10))


def test_interpolate_errors():
    x = ember.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D input"):
        F.interpolate(ember.randn(1, 1, 4), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 2, 2))


def test_interpolate_matches_torch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = np.random.default_rng(11)
    x4 = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    x3 = rng.standard_normal((2, 3, 7)).astype(np.float32)
    x5 = rng.standard_normal((1, 2, 3, 4, 5)).astype(np.float32)
    cases = [(x4, dict(scale_factor=2)), (x4, dict(size=(3, 4))), (x4, dict(scale_factor=(1.7, 0.6))),
             (x4, dict(size=(9, 13), mode="nearest-exact")), (x4, dict(scale_factor=1.5, mode="bilinear")),
             (x4, dict(size=(4, 11), mode="bilinear", align_corners=True)),
             (x4, dict(scale_factor=2.3, mode="bilinear", recompute_scale_factor=True)),
             (x4, dict(size=(2, 3), mode="area")), (x3, dict(scale_factor=3, mode="linear")),
             (x3, dict(size=4, mode="linear", align_corners=True)), (x3, dict(scale_factor=0.5)),
             (x5, dict(scale_factor=2, mode="trilinear")), (x5, dict(size=(2, 5, 7)))]
    for arr, kw in cases:
        e = ember.tensor(arr, requires_grad=True)
        t = torch.tensor(arr, requires_grad=True)
        eo, to = F.interpolate(e, **kw), TF.interpolate(t, **kw)
        assert tuple(eo.shape) == tuple(to.shape), kw
        close(eo, to, atol=1e-5)
        g = rng.standard_normal(tuple(to.shape)).astype(np.float32)
        eo.backward(ember.tensor(g))
        to.backward(torch.tensor(g))
        close(e.grad, t.grad, atol=1e-4)


def test_normalize_cosine_similarity_pairwise_distance():
    x, y = randn(4, 3, seed=12), randn(4, 3, seed=13)
    xn, yn = npy(x), npy(y)
    close(F.normalize(x), xn / np.linalg.norm(xn, axis=1, keepdims=True), atol=1e-12)
    close(F.normalize(x, p=1, dim=0), xn / np.abs(xn).sum(0, keepdims=True), atol=1e-12)
    close(F.normalize(ember.zeros(2, 2)), np.zeros((2, 2)))
    close(F.cosine_similarity(x, y), (xn * yn).sum(1) / np.linalg.norm(xn, axis=1) / np.linalg.norm(yn, axis=1),
          atol=1e-12)
    close(F.pairwise_distance(x, y), np.linalg.norm(xn - yn + 1e-6, axis=1), atol=1e-12)
    check_grad(lambda a: F.normalize(a), randn(2, 3, requires_grad=True, seed=14))
    torch = torch_or_skip()
    TF = torch.nn.functional
    close(F.cosine_similarity(x, y, dim=0), TF.cosine_similarity(torch.tensor(xn), torch.tensor(yn), dim=0))


def test_pad_modes():
    x = ember.arange(6.0).reshape(1, 2, 3)
    np.testing.assert_array_equal(npy(F.pad(x, (1, 2))), np.pad(npy(x), ((0, 0), (0, 0), (1, 2))))
    np.testing.assert_array_equal(npy(F.pad(x, (1, 1), mode="reflect")),
                                  np.pad(npy(x), ((0, 0), (0, 0), (1, 1)), mode="reflect"))
    np.testing.assert_array_equal(npy(F.pad(x, (2, 0), mode="replicate")),
                                  np.pad(npy(x), ((0, 0), (0, 0), (2, 0)), mode="edge"))
    np.testing.assert_array_equal(npy(F.pad(x, (1, 1, 1, 0), value=-1.0)),
                                  np.pad(npy(x), ((0, 0), (1, 0), (1, 1)), constant_values=-1))
