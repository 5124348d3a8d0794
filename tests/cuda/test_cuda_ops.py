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
    if "arg_reduce" in missing:
        with pytest.raises(NotImplementedError, match="\"arg_reduce\" not implemented for 'cuda'"):
            ember.ones(3, device="cuda").argmax(0)


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


GEMM_SHAPES = [(1, 64, 48, 32), (3, 130, 67, 45), (2, 1, 129, 257), (1, 200, 1, 17), (4, 33, 65, 1)]


def _gemm_operands(B, M, N, K, layout, dtype):
    a, b = _rand((B, M, K), dtype), _rand((B, K, N), dtype)
    if layout == "transposed":
        a, b = _rand((B, K, M), dtype).transpose(1, 2), _rand((B, N, K), dtype).transpose(1, 2)
    elif layout == "sliced":
        a, b = _rand((B, M, K + 5), dtype)[:, :, 2:K + 2], _rand((B, K, N + 3), dtype)[:, :, :N]
    elif layout == "broadcast":
        b = _rand((1, K, N), dtype).expand(B, K, N)
    return a, b


@pytest.mark.parametrize("path", ["own", "cublas"])
@pytest.mark.parametrize("layout", ["dense", "transposed", "sliced", "broadcast"])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_gemm_matches_cpu_small(path, layout, dtype):
    # each GEMM path in a child, since EMBER_GEMM is read once per process
    import os
    import subprocess
    import sys
    code = """
import numpy as np, ember
from tests.cuda.test_cuda_ops import GEMM_SHAPES, _gemm_operands
dtype = getattr(ember, %r)
for B, M, N, K in GEMM_SHAPES:
    ember.manual_seed(B * M + N * K)
    a, b = _gemm_operands(B, M, N, K, %r, dtype)
    c0 = ember.randn(B, M, N).to(dtype)
    want = (ember.baddbmm(c0.double(), a.double(), b.double(), beta=0.5, alpha=1.5))
    got = ember.baddbmm(c0.cuda(), a.cuda(), b.cuda(), beta=0.5, alpha=1.5).cpu().double()
    tol = {"float32": 1e-4, "float64": 1e-11, "float16": 2e-2, "bfloat16": 1e-1}[%r] * max(1.0, K ** 0.5)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose((a.cuda() @ b.cuda()).cpu().double().numpy(), (a.double() @ b.double()).numpy(),
                               rtol=tol, atol=tol)
print("ok")
""" % (str(dtype).split(".")[-1], layout, str(dtype).split(".")[-1])
    env = dict(os.environ, EMBER_GEMM=path)
    if path == "cublas":
        found = subprocess.run([sys.executable, "-c", "import ember; print(ember._C._locate_cuda_library('cublas'))"],
                               capture_output=True, text=True, env=env).stdout.strip().splitlines()
        if not found or not found[-1]:
            pytest.skip("cuBLAS not installed (pip install 'ember[cuda]')")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), (p.stdout + p.stderr)[-3000:]


def test_gemm_integer_dtypes_raise_small():
    with pytest.raises(TypeError, match="not implemented for"):
        ember.ones(2, 3, dtype=ember.int64, device="cuda") @ ember.ones(3, 2, dtype=ember.int64, device="cuda")


REDUCTIONS = {
    "sum": lambda x: x.sum(), "sum_dim0": lambda x: x.sum(0), "sum_dims": lambda x: x.sum((0, 2), keepdim=True),
    "mean": lambda x: x.mean(1), "prod": lambda x: (x * 0.1 + 1).prod(2), "amax": lambda x: x.amax(1),
    "amin": lambda x: x.amin((0, 1)), "nansum": lambda x: x.nansum(0), "norm": lambda x: x.norm(),
    "var": lambda x: x.var(1), "all": lambda x: (x > -3).all(1), "any": lambda x: (x > 2).any(0),
}


@pytest.mark.parametrize("layout", ["dense", "transposed", "sliced"])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int64])
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions_match_cpu_small(name, dtype, layout):
    if dtype == ember.int64 and name in ("mean", "norm", "var", "nansum"):
        pytest.skip("float-only reduction")
    x = _rand((6, 300, 5), ember.float64)
    if dtype == ember.int64:
        x = (x * 3).round()
    x = x.to(dtype)
    if layout == "transposed":
        x = x.transpose(0, 2).contiguous().transpose(0, 2)
    elif layout == "sliced":
        x = _rand((6, 600, 7), ember.float64).to(dtype)[:, ::2, 1:6]
    got, want = REDUCTIONS[name](x.cuda()), REDUCTIONS[name](x)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = {ember.float32: 1e-4, ember.float64: 1e-10, ember.float16: 1e-2, ember.bfloat16: 5e-2}.get(dtype, 0)
    np.testing.assert_allclose(got.cpu().double().numpy(), want.double().numpy(), rtol=tol, atol=tol)


def test_reduction_of_zero_size_and_large_small():
    assert ember.zeros(0, 4, device="cuda").sum(0).cpu().tolist() == [0.0] * 4
    x = ember.ones(1 << 22, device="cuda")
    assert x.sum().item() == float(1 << 22)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_random_fills_use_the_cpu_counter_scheme_small(dtype):
    # the same seed draws the same Philox blocks on both devices: uniform and integer draws agree exactly,
    # transcendental transforms to within rounding
    for fn, exact in [(lambda d: ember.rand(1001, dtype=dtype, device=d), True),
                      (lambda d: ember.randn(1001, dtype=dtype, device=d), False),
                      (lambda d: ember.empty(1001, dtype=dtype, device=d).exponential_(2.0), False),
                      (lambda d: ember.empty(1001, dtype=dtype, device=d).bernoulli_(0.3), True)]:
        ember.manual_seed(123)
        got = fn("cuda").cpu().double().numpy()
        ember.manual_seed(123)
        want = fn("cpu").double().numpy()
        tol = 0 if exact else {ember.float32: 1e-5, ember.float64: 1e-12}.get(dtype, 1e-2)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_randint_and_dropout_masks_small():
    ember.manual_seed(5)
    got = ember.randint(-7, 1000, (513,), device="cuda").cpu()
    ember.manual_seed(5)
    assert (got == ember.randint(-7, 1000, (513,))).all()
    p = ember.rand(777).cuda()
    ember.manual_seed(9)
    m = ember.bernoulli(p).cpu()
    ember.manual_seed(9)
    assert (m == ember.bernoulli(p.cpu())).all()


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.int64])
def test_arg_reductions_and_scans_match_cpu_small(dtype):
    x = (_rand((5, 130, 3), ember.float64) * 4).round().to(dtype)[:, ::2]  # ties and a strided view
    for fn in (lambda t: t.argmax(1), lambda t: t.argmin(0), lambda t: t.max(2).values, lambda t: t.max(1).indices,
               lambda t: t.argmax(), lambda t: t.cumsum(1), lambda t: (t * 0 + 1).cumprod(0)):
        got, want = fn(x.cuda()).cpu(), fn(x)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got.double().numpy(), want.double().numpy(), rtol=1e-3, atol=1e-3)
    nan = ember.tensor([1.0, float("nan"), 3.0, float("nan")])
    assert nan.cuda().argmax().item() == 1


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_param_and_ternary_ops_match_cpu_small(dtype):
    import ember.nn.functional as F
    x, y, z = _rand((33, 17), dtype), _rand((33, 17), dtype), _rand((17,), dtype, positive=True)
    cases = [lambda a, b, c: F.leaky_relu(a, 0.1), lambda a, b, c: F.elu(a), lambda a, b, c: F.softplus(a, 2.0),
             lambda a, b, c: F.threshold(a, 0.2, -1.0), lambda a, b, c: a.clamp(-0.3, 0.4),
             lambda a, b, c: a.clamp(min=b), lambda a, b, c: ember.addcmul(a, b, c, value=0.5),
             lambda a, b, c: ember.addcdiv(a, b, c, value=2.0), lambda a, b, c: ember.lerp(a, b, 0.3),
             lambda a, b, c: ember.lerp(a, b, c.sigmoid()), lambda a, b, c: a.t().clamp(max=0.1)]
    for fn in cases:
        _close(fn(x.cuda(), y.cuda(), z.cuda()), fn(x, y, z), dtype)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_lstm_cell_matches_cpu_small(dtype):
    gates, c = _rand((21, 4 * 37), dtype), _rand((21, 37), dtype)
    dh, dh2, dc = _rand((21, 37), dtype), _rand((21, 37), dtype), _rand((21, 37), dtype)
    cpu = _C.lstm_cell(gates, c)
    dev = _C.lstm_cell(gates.cuda(), c.cuda())
    for d, h in zip(dev, cpu):
        _close(d, h, dtype)
    h, cn, act = cpu
    for extra in [(dh2, dc), (None, None)]:
        want = _C.lstm_cell_backward(dh, extra[0], extra[1], act, c, cn)
        got = _C.lstm_cell_backward(dh.cuda(), *[t.cuda() if t is not None else None for t in extra],
                                    act.cuda(), c.cuda(), cn.cuda())
        for d, h in zip(got, want):
            _close(d, h, dtype)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_gru_cell_matches_cpu_small(dtype):
    xg, hg = _rand((21, 3 * 37), dtype), _rand((21, 3 * 37), dtype)
    h, dh = _rand((21, 37), dtype), _rand((21, 37), dtype)
    cpu = _C.gru_cell(xg, hg, h)
    for d, c in zip(_C.gru_cell(xg.cuda(), hg.cuda(), h.cuda()), cpu):
        _close(d, c, dtype)
    want = _C.gru_cell_backward(dh, dh, cpu[1], hg, h)
    got = _C.gru_cell_backward(dh.cuda(), dh.cuda(), cpu[1].cuda(), hg.cuda(), h.cuda())
    for d, c in zip(got, want):
        _close(d, c, dtype)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_module_trains_on_cuda_small(kind):
    ember.manual_seed(0)
    m = getattr(ember.nn, kind)(5, 8, 2)
    x = ember.randn(7, 3, 5)
    out, _ = m(x)
    out.sum().backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    mc = m.cuda()
    out_c, _ = mc(x.cuda())
    out_c.sum().backward()
    _close(out_c, out, ember.float32)
    for p, g in zip(mc.parameters(), grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g.numpy(), rtol=1e-4, atol=1e-5)
