"""Pooling geometry errors: windows larger than the padded input, padding over half the kernel, non-positive
kernel/stride/dilation, empty non-batch dims, bad adaptive output sizes: each raises RuntimeError before the
kernel runs, worded as PyTorch words it (compared with PyTorch where installed); valid edge cases still work.
"""
import re

import numpy as np
import pytest

import ember
import ember.nn.functional as F

# (function, input shape, kwargs, message PyTorch gives)
ERRORS = [
    ("max_pool2d", (1, 1, 2, 2), dict(kernel_size=3),
     "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"),
    ("max_pool2d", (2, 3, 5, 2), dict(kernel_size=(2, 3)),
     "Given input size: (3x5x2). Calculated output size: (3x2x0). Output size is too small"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=3, dilation=2),
     "Given input size: (1x4x4). Calculated output size: (1x0x0). Output size is too small"),
    ("max_pool2d", (1, 1, 3, 3), dict(kernel_size=2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=3, padding=2, dilation=2),
     "pad should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, kW = 3, kH = 3"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=2, padding=-1), "pad must be non-negative, but got pad: -1"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=2, stride=0), "stride should not be zero"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=2, stride=-1),
     "stride should be greater than zero, but got dH: -1 dW: -1"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=-1, stride=1),
     "kernel size should be greater than zero, but got kH: -1 kW: -1"),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=2, dilation=0),
     "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    ("max_pool2d", (1, 1, 0, 5), dict(kernel_size=1),
     "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 1, 0, 5]"),
    ("max_pool2d", (1, 0, 3, 3), dict(kernel_size=2),
     "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 0, 3, 3]"),
    ("avg_pool2d", (1, 1, 2, 2), dict(kernel_size=3),
     "Given input size: (1x2x2). Calculated output size: (1x0x0). Output size is too small"),
    ("avg_pool2d", (1, 1, 3, 3), dict(kernel_size=2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    ("avg_pool2d", (1, 1, 3, 3), dict(kernel_size=2, stride=0), "stride should not be zero"),
    ("avg_pool2d", (1, 1, 3, 3), dict(kernel_size=2, divisor_override=0), "divisor must be not zero"),
    ("avg_pool2d", (1, 1, 0, 3), dict(kernel_size=2),
     "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 1, 0, 3]"),
    ("max_pool1d", (1, 1, 2), dict(kernel_size=3), "max_pool1d() Invalid computed output size: 0"),
    ("max_pool1d", (3, 2), dict(kernel_size=3), "max_pool1d() Invalid computed output size: 0"),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=2, padding=2),
     "max_pool1d() padding should be at most half of kernel size, but got padding=2 and kernel_size=2"),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=2, stride=0),
     "max_pool1d() stride must be greater than zero, but got 0"),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=0), "max_pool1d() kernel_size must be greater than zero, but got 0"),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=2, padding=-1), "max_pool1d() padding must be non-negative, but got -1"),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=2, dilation=0),
     "max_pool1d() dilation must be greater than zero, but got 0"),
    ("max_pool1d", (1, 0, 5), dict(kernel_size=2),
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:[1, 0, 5]"),
    ("max_pool1d", (5,), dict(kernel_size=2),
     "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:[5]"),
    ("avg_pool1d", (1, 1, 2), dict(kernel_size=3),
     "Given input size: (1x1x2). Calculated output size: (1x1x0). Output size is too small"),
    ("avg_pool1d", (1, 1, 5), dict(kernel_size=2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    ("adaptive_avg_pool2d", (1, 1, 0, 3), dict(output_size=2),
     "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
     "[1, 1, 0, 3] with dimension 2 being empty"),
    ("adaptive_max_pool2d", (1, 1, 0, 3), dict(output_size=2),
     "adaptive_max_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
     "[1, 1, 0, 3] with dimension 2 being empty"),
    ("adaptive_avg_pool2d", (1, 1, 3, 3), dict(output_size=-1),
     "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but received {-1, -1}"),
    ("adaptive_avg_pool2d", (1, 1, 3, 3), dict(output_size=(2, 3, 4)), "adaptive_avg_pool2d: output_size must be 2"),
    ("adaptive_avg_pool2d", (3,), dict(output_size=2), "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [3]"),
    ("adaptive_avg_pool1d", (1, 1, 0), dict(output_size=2),
     "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
     "[1, 1, 1, 0] with dimension 3 being empty"),
]

# valid edge cases: (function, input shape, kwargs, output shape)
VALID = [
    ("max_pool2d", (1, 1, 2, 2), dict(kernel_size=3, padding=1), (1, 1, 1, 1)),
    ("max_pool2d", (1, 1, 2, 2), dict(kernel_size=3, ceil_mode=True, padding=1, stride=2), (1, 1, 2, 2)),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=3, padding=1, dilation=2), (1, 1, 1, 1)),
    ("max_pool2d", (1, 1, 4, 4), dict(kernel_size=3, padding=1, dilation=2, stride=1), (1, 1, 2, 2)),
    ("max_pool2d", (0, 2, 4, 4), dict(kernel_size=2), (0, 2, 2, 2)),
    ("max_pool2d", (1, 1, 1, 1), dict(kernel_size=1), (1, 1, 1, 1)),
    ("max_pool2d", (1, 1, 5, 5), dict(kernel_size=5), (1, 1, 1, 1)),
    ("avg_pool2d", (1, 1, 2, 2), dict(kernel_size=3, padding=1), (1, 1, 1, 1)),
    ("avg_pool2d", (0, 1, 3, 3), dict(kernel_size=2), (0, 1, 1, 1)),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=3, padding=1, dilation=2), (1, 1, 1)),
    ("max_pool1d", (1, 1, 5), dict(kernel_size=3, padding=1, dilation=2, stride=1), (1, 1, 3)),
    ("max_pool1d", (0, 1, 5), dict(kernel_size=2), (0, 1, 2)),
    ("avg_pool1d", (2, 3, 4), dict(kernel_size=4), (2, 3, 1)),
    ("adaptive_avg_pool2d", (1, 1, 3, 3), dict(output_size=0), (1, 1, 0, 0)),
    ("adaptive_avg_pool2d", (2, 1, 3, 3), dict(output_size=(0, 2)), (2, 1, 0, 2)),
    ("adaptive_max_pool2d", (1, 1, 3, 3), dict(output_size=0), (1, 1, 0, 0)),
    ("adaptive_avg_pool1d", (1, 1, 3), dict(output_size=0), (1, 1, 0)),
    ("adaptive_avg_pool1d", (1, 2, 5), dict(output_size=(2,)), (1, 2, 2)),
    ("adaptive_avg_pool2d", (0, 2, 3, 3), dict(output_size=2), (0, 2, 2, 2)),
    ("adaptive_avg_pool2d", (1, 2, 3, 5), dict(output_size=(2, None)), (1, 2, 2, 5)),
]


def _x(mod, shape):
    return mod.tensor(np.random.default_rng(0).uniform(-1, 1, size=shape).astype(np.float32))


@pytest.mark.parametrize("fn,shape,kwargs,message", ERRORS, ids=["%s-%d" % (e[0], i) for i, e in enumerate(ERRORS)])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_bad_geometry_raises(fn, shape, kwargs, message, requires_grad):
    x = _x(ember, shape).requires_grad_(requires_grad)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        getattr(F, fn)(x, **kwargs)


@pytest.mark.parametrize("fn,shape,kwargs,message", ERRORS, ids=["%s-%d" % (e[0], i) for i, e in enumerate(ERRORS)])
def test_torch_raises_the_same(fn, shape, kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as info:
        getattr(torch.nn.functional, fn)(_x(torch, shape), **kwargs)
    assert message in str(info.value)


def test_ceil_mode_window_starting_in_right_padding_is_dropped():
    # ceil_mode must not create a window that starts in the right padding: 5 with k=5, p=2, s=2 gives 3
    out = F.max_pool2d(_x(ember, (1, 1, 5, 5)), 5, stride=2, padding=2, ceil_mode=True)
    assert out.shape == (1, 1, 3, 3)


@pytest.mark.parametrize("fn,shape,kwargs,out_shape", VALID, ids=["%s-%d" % (v[0], i) for i, v in enumerate(VALID)])
def test_valid_edge_cases(fn, shape, kwargs, out_shape):
    x = _x(ember, shape).double().requires_grad_()
    out = getattr(F, fn)(x, **kwargs)
    assert tuple(out.shape) == out_shape
    out.sum().backward()
    assert x.grad.shape == x.shape
    try:
        import torch
    except ImportError:
        return
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tout = getattr(torch.nn.functional, fn)(tx, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6)
    if tout.numel():  # PyTorch's adaptive pooling backward refuses an empty output; Ember gives zeros
        tout.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    else:
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(shape))


def test_modules_raise_too():
    with pytest.raises(RuntimeError, match="Output size is too small"):
        ember.nn.MaxPool2d(3)(ember.randn(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        ember.nn.AvgPool2d(4)(ember.randn(1, 3, 3))
    with pytest.raises(RuntimeError, match="Invalid computed output size"):
        ember.nn.MaxPool1d(4)(ember.randn(1, 2, 3))
