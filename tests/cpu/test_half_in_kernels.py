"""float16/bfloat16 inside the kernels (issue 10, point 2): 16-bit tensors are loaded, computed in float32 and
stored rounded by the kernels themselves, never converted as whole tensors above the kernel table.

Two kinds of checks: values (each op against its float32 computation rounded once, and against PyTorch where
installed, forward and backward), and memory (through the tests' host backend, whose allocator counts bytes:
an op on a 16-bit tensor may allocate its output, not float32 copies of its operands)."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F

HALF = [ember.float16, ember.bfloat16]
NP_HALF = {ember.float16: np.float16}


def rounded(x32, dtype):
    """A float32 ember tensor rounded once to dtype and read back as float64 numpy."""
    return x32.to(dtype).double().numpy()


def half_input(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal(shape).astype(np.float32)).to(dtype)


# ops whose float32 result rounded once is exactly what the 16-bit kernel must give
EXACT = {
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "add": lambda x: x + x.flip(0),
    "mul_broadcast": lambda x: x * x[0],
    "div_scalar": lambda x: x / 3.0,
    "pow": lambda x: x.abs() ** 1.5,
    "clamp": lambda x: x.clamp(-0.5, 0.7),
    "addcmul": lambda x: ember.addcmul(x, x, x, value=0.5),
    "lerp": lambda x: ember.lerp(x, x.flip(1), 0.3),
    "where": lambda x: ember.where(x > 0, x, -x),
    "softmax": lambda x: F.softmax(x, dim=1),
    "log_softmax_dim0": lambda x: F.log_softmax(x, dim=0),
    "softmax_strided": lambda x: F.softmax(x.t(), dim=1),
    "max_pool2d": lambda x: F.max_pool2d(x.reshape(1, 2, 6, 7), 2),
    "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x.reshape(2, 1, 6, 7), (3, 2)),
}


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", sorted(EXACT))
def test_16_bit_result_is_the_float32_result_rounded_once(name, dtype):
    fn = EXACT[name]
    x = half_input((12, 7), dtype)
    got = fn(x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.double().numpy(), rounded(fn(x.float()), dtype))


# ops that accumulate (sums in another order than the float32 kernel): within a few 16-bit ulps
CLOSE = {
    "mm": lambda x: x @ x.t(),
    "mm_transposed": lambda x: x.t() @ x,
    "bmm": lambda x: ember.bmm(x.reshape(2, 6, 7), x.reshape(2, 7, 6)),
    "matmul_3d_2d": lambda x: x.reshape(2, 6, 7) @ x[:7, :].t().contiguous()[:7, :6],
    "avg_pool2d": lambda x: F.avg_pool2d(x.reshape(1, 2, 6, 7), 3, 2, 1),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x.reshape(2, 1, 6, 7), (4, 3)),
    "layer_norm": lambda x: F.layer_norm(x, (7,)),
    "batch_norm": lambda x: F.batch_norm(x.reshape(3, 4, 7), None, None, training=True),
    "conv2d": lambda x: F.conv2d(x.reshape(2, 3, 2, 7), x[:6, :].reshape(2, 3, 1, 7)[:, :, :, :3], padding=(0, 1)),
    "cross_entropy": lambda x: F.cross_entropy(x, ember.tensor([i % 7 for i in range(12)]), reduction="none"),
    "sum": lambda x: x.sum(1),
    "mean": lambda x: x.mean(0),
}


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", sorted(CLOSE))
def test_16_bit_accumulating_ops_match_float32(name, dtype):
    fn = CLOSE[name]
    x = half_input((12, 7), dtype, seed=1)
    got = fn(x)
    assert got.dtype == dtype
    ref = fn(x.float()).double().numpy()
    eps = 2.0 ** -10 if dtype == ember.float16 else 2.0 ** -7
    np.testing.assert_allclose(got.double().numpy(), ref, rtol=4 * eps, atol=4 * eps * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_16_bit_gemm_accumulates_in_float32(dtype):
    # 4096 products of 1 + 2**-12: a 16-bit accumulator would stall at 2048 or round every step
    k = 4096
    a = ember.ones(1, k, dtype=dtype)
    b = ember.full((k, 1), 1.0, dtype=dtype)
    assert (a @ b).item() == float(k)
    # beta/alpha forms accumulate in float32 too
    c = ember.addmm(ember.full((1, 1), 0.5, dtype=dtype), a, b, beta=2.0, alpha=0.25)
    assert c.item() == float(ember.tensor(1.0 + k * 0.25).to(dtype).item())


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_16_bit_conv_over_many_image_blocks(dtype):
    # enough images that the kernel converts them in several blocks
    x = half_input((40, 3, 160, 160), dtype, seed=2)
    w = half_input((2, 3, 3, 3), dtype, seed=3)
    got = F.conv2d(x, w, padding=1)
    ref = F.conv2d(x.float(), w.float(), padding=1)
    eps = 2.0 ** -10 if dtype == ember.float16 else 2.0 ** -7
    np.testing.assert_allclose(got.float().numpy(), ref.numpy(), rtol=4 * eps, atol=8 * eps)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_16_bit_backward_matches_float32(dtype):
    x = half_input((4, 3, 6, 6), dtype, seed=4).requires_grad_()
    w = half_input((5, 3, 3, 3), dtype, seed=5).requires_grad_()
    ln_w = ember.ones(5 * 2 * 2, dtype=dtype).requires_grad_()

    def loss(x, w, ln_w):
        h = F.conv2d(x, w, padding=0)
        h = F.max_pool2d(h, 2) + F.avg_pool2d(h, 2)
        h = F.layer_norm(h.reshape(4, -1), (20,), weight=ln_w)
        return F.cross_entropy(F.log_softmax(h, 1), ember.tensor([0, 3, 7, 19]))

    loss(x, w, ln_w).backward()
    xs = [t.detach().float().requires_grad_() for t in (x, w, ln_w)]
    loss(*xs).backward()
    for t, r in zip((x, w, ln_w), xs):
        assert t.grad.dtype == dtype
        scale = max(1.0, float(r.grad.abs().max()))
        tol = (2.0 ** -7 if dtype == ember.float16 else 2.0 ** -4) * scale
        np.testing.assert_allclose(t.grad.float().numpy(), r.grad.numpy(), atol=tol)


# ---------------------------------------------------------------------------------------------- memory


@pytest.fixture
def host_cuda():
    ember.cuda._set_host_backend_for_tests(True)
    try:
        yield "cuda"
    finally:
        ember.cuda._set_host_backend_for_tests(False)


def _allocated(dev):
    return ember.cuda.memory_allocated(dev)


# Each op with the bytes it may allocate beyond its inputs, as a multiple of one 16-bit operand's bytes:
# its outputs (plus small per-row/per-channel statistics). A float32 copy of an operand alone costs 2.
MEMORY = {
    "exp": (lambda x: x.exp(), 1),
    "add": (lambda x: x + x, 1),
    "mul_0d": (lambda x: x * ember.tensor(2.0), 1),
    "gt": (lambda x: x > 0, 0.5),
    "softmax": (lambda x: F.softmax(x, 1), 1),
    "log_softmax_backward": (lambda x: ember._C.softmax_backward(x, x, 1, True), 1),
    "layer_norm": (lambda x: F.layer_norm(x, (x.shape[1],)), 1.1),
    "mm": (lambda x: x @ x[:256].t(), 1),
    "max_pool2d": (lambda x: F.max_pool2d(x.reshape(4, 4, 64, 256), 2), 0.25 * 5),
    "avg_pool2d": (lambda x: F.avg_pool2d(x.reshape(4, 4, 64, 256), 2), 0.25),
    "batch_norm": (lambda x: F.batch_norm(x.reshape(16, 64, 256), None, None, training=True), 1.1),
    "cross_entropy": (lambda x: F.cross_entropy(x, ember.zeros(x.shape[0], dtype=ember.int64).to(x.device)), 0.1),
}


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("name", sorted(MEMORY))
def test_16_bit_ops_allocate_no_float32_copies(host_cuda, name, dtype):
    fn, budget = MEMORY[name]
    x = half_input((1024, 256), dtype, seed=6).to(host_cuda)
    nbytes = x.numel() * x.element_size()
    ember.cuda.empty_cache()  # a cached larger block reused for a smaller request would count in full
    before = _allocated(host_cuda)
    ember.cuda.reset_peak_memory_stats(host_cuda)
    out = fn(x)
    peak = ember.cuda.max_memory_allocated(host_cuda) - before
    assert out.device.type == "cuda"
    assert peak <= budget * nbytes + 64 * 1024, (name, peak / nbytes)


# ---------------------------------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_forward_and_backward_match_pytorch(dtype):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    edt, tdt = getattr(ember, dtype), getattr(torch, dtype)
    rng = np.random.default_rng(7)
    xn = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
    wn = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)

    def run(lib, fn, x, w):
        h = fn.conv2d(x, w, padding=1)
        h = fn.max_pool2d(h, 2)
        h = h.reshape(6, -1)
        h = fn.layer_norm(h, (h.shape[1],))
        return fn.log_softmax(h, 1)

    ex = ember.tensor(xn).to(edt).requires_grad_()
    ew = ember.tensor(wn).to(edt).requires_grad_()
    tx = torch.tensor(xn).to(tdt).requires_grad_()
    tw = torch.tensor(wn).to(tdt).requires_grad_()
    eo, to = run(ember, F, ex, ew), run(torch, TF, tx, tw)
    gn = rng.standard_normal(tuple(to.shape)).astype(np.float32)
    eo.backward(ember.tensor(gn).to(edt))
    to.backward(torch.tensor(gn).to(tdt))
    eps = 2.0 ** -10 if dtype == "float16" else 2.0 ** -7
    np.testing.assert_allclose(eo.float().detach().numpy(), to.float().detach().numpy(), atol=16 * eps)
    for e, t in ((ex, tx), (ew, tw)):
        scale = max(1.0, float(t.grad.abs().max()))
        np.testing.assert_allclose(e.grad.float().numpy(), t.grad.float().numpy(), atol=32 * eps * scale)


SCALAR_OPS = {
    "mul": lambda m, x, s: x * s, "rmul": lambda m, x, s: s * x, "div": lambda m, x, s: x / s,
    "rdiv": lambda m, x, s: s / x, "add": lambda m, x, s: x + s, "sub": lambda m, x, s: x - s,
    "rsub": lambda m, x, s: s - x, "pow": lambda m, x, s: x.abs() ** s, "fmod": lambda m, x, s: m.fmod(x, s),
    "mul_0d": lambda m, x, s: x * m.tensor(s), "div_0d_f64": lambda m, x, s: x / m.tensor(s, dtype=m.float64),
    "lerp": lambda m, x, s: m.lerp(x, x * 2, s), "inplace_mul": lambda m, x, s: x.clone().mul_(s),
    "maximum_0d": lambda m, x, s: m.maximum(x, m.tensor(s)),
}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_cpu_scalar_precision_follows_pytorch(name, dtype):
    # PyTorch reads a CPU scalar at float precision in 16-bit mul, div and lerp, and rounds it for the rest
    torch = pytest.importorskip("torch")
    fn = SCALAR_OPS[name]
    xn = np.random.default_rng(8).standard_normal(4000).astype(np.float32)
    s = 0.1234567
    got = fn(ember, ember.tensor(xn).to(getattr(ember, dtype)), s)
    want = fn(torch, torch.tensor(xn).to(getattr(torch, dtype)), s)
    assert str(got.dtype) == "ember." + dtype
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())


def test_16_bit_mul_by_a_python_float_keeps_it_at_float_precision():
    xn = np.random.default_rng(9).standard_normal(1000).astype(np.float16)
    got = (ember.tensor(xn) * 0.1234567).numpy()
    want = (xn.astype(np.float32) * np.float32(0.1234567)).astype(np.float16)
    np.testing.assert_array_equal(got, want)
