"""CUDA kernels against the CPU results, on a real GPU (skipped without one). The CUDA module implements the
entries these tests cover; _C._missing_kernels('cuda') lists the others, which must raise a clear error."""
import numpy as np
import pytest

import ember
from ember import _C

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")

FLOAT_UNARY = ["neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "floor", "erf"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "atan2"]


def _rand(shape, dtype=ember.float32, positive=False):
    x = ember.randn(*shape, dtype=ember.float64)
    return (x.abs() + 0.1 if positive else x).to(dtype)


def _close(dev, cpu, dtype):
    tol = {ember.float32: 1e-5, ember.float64: 1e-12, ember.float16: 2e-3, ember.bfloat16: 2e-2}.get(dtype, 0)
    np.testing.assert_allclose(dev.cpu().double().numpy(), cpu.double().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
@pytest.mark.parametrize("op", FLOAT_UNARY)
def test_unary_matches_cpu_small(op, dtype):
    x = _rand((37, 19), dtype, positive=op in ("log", "sqrt"))
    _close(getattr(x.cuda(), op)(), getattr(x, op)(), dtype)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("layout", ["dense", "broadcast", "transposed", "sliced"])
def test_binary_matches_cpu_small(op, layout):
    a, b = _rand((64, 48), positive=True), _rand((64, 48), positive=True)
    if layout == "broadcast":
        b = b[:1]
    elif layout == "transposed":
        a, b = _rand((48, 64), positive=True).t(), b
    elif layout == "sliced":
        a, b = _rand((64, 96), positive=True)[:, ::2], b
    _close(getattr(ember, op)(a.cuda(), b.cuda()), getattr(ember, op)(a, b), ember.float32)


@pytest.mark.parametrize("src", [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int64,
                                 ember.int32, ember.uint8, ember.bool])
@pytest.mark.parametrize("dst", [ember.float32, ember.float16, ember.int64, ember.bool])
def test_casts_match_cpu_small(src, dst):
    x = (ember.randn(33, 7) * 50).to(src)
    np.testing.assert_array_equal(x.cuda().to(dst).cpu().numpy(), x.to(dst).numpy())


def test_fill_where_compare_small():
    x = _rand((1000,))
    xc = x.cuda()
    np.testing.assert_array_equal((xc > 0).cpu().numpy(), (x > 0).numpy())
    np.testing.assert_array_equal(ember.where(xc > 0, xc, ember.zeros_like(xc)).cpu().numpy(),
                                  ember.where(x > 0, x, ember.zeros_like(x)).numpy())
    t = ember.empty(5, 7, device="cuda").t()  # strided fill
    t.fill_(3.5)
    assert (t.cpu() == 3.5).all()


def test_large_and_64bit_indexed_small():
    n = (1 << 24) + 3  # odd length: the vector loop plus a tail
    x = ember.arange(n, dtype=ember.float32)
    np.testing.assert_array_equal((x.cuda() * 2).cpu().numpy(), (x * 2).numpy())


def test_missing_kernels_raise_naming_the_entry_small():
    missing = _C._missing_kernels("cuda")
    if "reduce" in missing:
        with pytest.raises(NotImplementedError, match="\"reduce\" not implemented for 'cuda'"):
            ember.ones(3, device="cuda").sum()


def test_allocator_reuses_blocks_small():
    x = ember.randn(256, 256, device="cuda")
    y = (x * 2 + 1).exp()
    del y
    raw = ember.cuda.memory_stats()["num_device_alloc"]
    for _ in range(5):
        y = (x * 2 + 1).exp()
        del y
    assert ember.cuda.memory_stats()["num_device_alloc"] == raw
    assert ember.cuda.memory_allocated() >= 256 * 256 * 4


def test_device_properties_small():
    p = ember.cuda.get_device_properties(0)
    assert p.multi_processor_count > 0 and p.total_memory > 0
    assert ember.cuda.get_device_capability() == (p.major, p.minor)
