"""ember.autocast: per-op dtypes (against PyTorch's CPU autocast when installed, and against the op lists),
region state (nesting, enabled=False, threads, decorator), the cast cache, and gradients of a mixed model."""
import threading
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.amp import autocast_mode as am

bf16, f16, f32, f64 = ember.bfloat16, ember.float16, ember.float32, ember.float64
rng = np.random.default_rng(0)


def rand(*shape, dtype=f32, requires_grad=False):
    t = ember.tensor(rng.standard_normal(shape).astype(np.float32)).to(dtype)
    return t.requires_grad_() if requires_grad else t


# op name (as in the policy tables) -> (call(lib, F, *tensors), input shapes)
OPS = {
    "matmul": (lambda L, F, x, y: L.matmul(x, y), [(3, 4), (4, 5)]),
    "mm": (lambda L, F, x, y: L.mm(x, y), [(3, 4), (4, 5)]),
    "bmm": (lambda L, F, x, y: L.bmm(x, y), [(2, 3, 4), (2, 4, 5)]),
    "addmm": (lambda L, F, b, x, y: L.addmm(b, x, y), [(3, 5), (3, 4), (4, 5)]),
    "baddbmm": (lambda L, F, b, x, y: L.baddbmm(b, x, y), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    "addbmm": (lambda L, F, b, x, y: L.addbmm(b, x, y), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    "linear": (lambda L, F, x, w, b: F.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    "conv1d": (lambda L, F, x, w: F.conv1d(x, w), [(1, 2, 5), (3, 2, 3)]),
    "conv2d": (lambda L, F, x, w, b: F.conv2d(x, w, b, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    "conv_transpose2d": (lambda L, F, x, w: F.conv_transpose2d(x, w, stride=2), [(1, 2, 4, 4), (2, 3, 3, 3)]),
    "prelu": (lambda L, F, x, w: F.prelu(x, w), [(2, 3, 4), (3,)]),
    "scaled_dot_product_attention": (lambda L, F, q, k, v: F.scaled_dot_product_attention(q, k, v),
                                     [(2, 3, 4), (2, 5, 4), (2, 5, 4)]),
    "mse_loss": (lambda L, F, x, y: F.mse_loss(x, y), [(3, 4), (3, 4)]),
    "l1_loss": (lambda L, F, x, y: F.l1_loss(x, y), [(3, 4), (3, 4)]),
    "smooth_l1_loss": (lambda L, F, x, y: F.smooth_l1_loss(x, y), [(3, 4), (3, 4)]),
    "huber_loss": (lambda L, F, x, y: F.huber_loss(x, y), [(3, 4), (3, 4)]),
    "kl_div": (lambda L, F, x, y: F.kl_div(x, y, reduction="batchmean"), [(3, 4), (3, 4)]),
    "binary_cross_entropy_with_logits": (lambda L, F, x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid()),
                                         [(3, 4), (3, 4)]),
    "binary_cross_entropy": (lambda L, F, x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()), [(3, 4), (3, 4)]),
    "cross_entropy": (lambda L, F, x: F.cross_entropy(x, L.tensor([0, 2, 1])), [(3, 4)]),
    "nll_loss": (lambda L, F, x: F.nll_loss(x, L.tensor([0, 2, 1])), [(3, 4)]),
    "prod": (lambda L, F, x: L.prod(x, 1), [(3, 4)]),
    "trace": (lambda L, F, x: L.trace(x), [(3, 3)]),
    "pad_reflect": (lambda L, F, x: F.pad(x, (1, 2), mode="reflect"), [(1, 3, 4)]),
    "pad_replicate": (lambda L, F, x: F.pad(x, (1, 1, 2, 0), mode="replicate"), [(1, 2, 3, 4)]),
    "grid_sample": (lambda L, F, x, g: F.grid_sample(x, g.tanh(), align_corners=False), [(1, 2, 4, 4), (1, 3, 3, 2)]),
    "cat": (lambda L, F, x, y: L.cat([x, y], 1), [(3, 4), (3, 2)]),
    "stack": (lambda L, F, x, y: L.stack([x, y]), [(3, 4), (3, 4)]),
    "index_copy": (lambda L, F, x, y: L.index_copy(x, 0, L.tensor([2, 0]), y), [(3, 4), (2, 4)]),
    # not on the CPU lists: they run in their input dtypes
    "softmax": (lambda L, F, x: F.softmax(x, -1), [(3, 4)]),
    "layer_norm": (lambda L, F, x: F.layer_norm(x, (4,)), [(3, 4)]),
    "pad_constant": (lambda L, F, x: F.pad(x, (1, 1)), [(1, 3, 4)]),
    "add": (lambda L, F, x, y: x + y, [(3, 4), (3, 4)]),
    "exp": (lambda L, F, x: L.exp(x), [(3, 4)]),
    # composites of listed ops: cast through their parts, as PyTorch's decompositions are
    "einsum": (lambda L, F, x, y: L.einsum("ij,jk->ik", x, y), [(3, 4), (4, 5)]),
    "tensordot": (lambda L, F, x, y: L.tensordot(x, y, 1), [(3, 4), (4, 5)]),
}
DTYPE_MIXES = ["f32", "bf16", "mixed", "f16", "f64"]


def _inputs(shapes, mix, lib_dtypes):
    lo32, lobf, lo16, lo64 = lib_dtypes
    out = []
    for i, s in enumerate(shapes):
        d = {"f32": lo32, "bf16": lobf, "f16": lo16, "f64": lo64,
             "mixed": lobf if i % 2 else lo32}[mix]
        out.append((rng.standard_normal(s).astype(np.float32), d))
    return out


def _expected(name, dtypes, low):
    """The output dtype from the CPU op lists alone."""
    kind = am.op_policy("cpu", name)
    floats = [d for d in dtypes if d is not f64]
    if kind == "lower":
        ins = [low if d is not f64 else d for d in dtypes]
    elif kind == "fp32":
        ins = [f32 if d is not f64 else d for d in dtypes]
    elif kind == "promote":
        w = low
        for d in floats:
            w = ember.promote_types(w, d)
        ins = [w if d is not f64 else d for d in dtypes]
    else:
        ins = dtypes
    r = ins[0]
    for d in ins[1:]:
        r = ember.promote_types(r, d)
    return r


@pytest.mark.parametrize("name", ["matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "linear", "conv1d", "conv2d",
                                  "conv_transpose2d", "prelu", "scaled_dot_product_attention", "mse_loss",
                                  "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
                                  "binary_cross_entropy_with_logits", "prod", "trace", "pad_reflect",
                                  "pad_replicate", "grid_sample", "cat", "stack", "index_copy", "softmax",
                                  "layer_norm", "pad_constant", "add", "exp"])
@pytest.mark.parametrize("mix", ["f32", "bf16", "mixed", "f64"])
def test_cpu_dtypes_follow_the_lists(name, mix):
    """Without torch: each op's output dtype is what its list entry (or its absence) implies."""
    fn, shapes = OPS[name]
    ins = [ember.tensor(a).to(d) for a, d in _inputs(shapes, mix, (f32, bf16, f16, f64))]
    if mix == "mixed" and am.op_policy("cpu", name) is None and name not in ("add",):
        return  # unlisted ops with mixed inputs follow the op's own promotion, not autocast
    with ember.autocast("cpu"):
        out = fn(ember, F, *ins)
    assert out.dtype is _expected(name, [t.dtype for t in ins], bf16)


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("mix", DTYPE_MIXES)
@pytest.mark.parametrize("low", ["bf16", "f16"])
def test_cpu_dtypes_match_torch(name, mix, low):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    fn, shapes = OPS[name]
    raw = _inputs(shapes, mix, ("f32", "bf16", "f16", "f64"))
    emap = {"f32": f32, "bf16": bf16, "f16": f16, "f64": f64}
    tmap = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16, "f64": torch.float64}

    def run(L, FF, xs, dtype):
        try:
            with L.autocast("cpu", dtype=dtype):
                return str(fn(L, FF, *xs).dtype).split(".")[1]
        except (RuntimeError, TypeError, ValueError):
            return None
    te = run(torch, TF, [torch.tensor(a).to(tmap[d]) for a, d in raw], tmap[low])
    if te is None:
        pytest.skip("PyTorch refuses this dtype mix")
    got = run(ember, F, [ember.tensor(a).to(emap[d]) for a, d in raw], emap[low])
    assert got == te


def test_values_are_computed_in_the_low_precision():
    a, b = rand(8, 16), rand(16, 8)
    with ember.autocast("cpu"):
        r = a @ b
    ref = a.to(bf16).float() @ b.to(bf16).float()
    np.testing.assert_allclose(r.float().numpy(), ref.numpy(), rtol=2e-2, atol=2e-2)


def test_float64_and_integer_ops_untouched():
    a, b = rand(3, 4, dtype=f64), rand(4, 2, dtype=f64)
    with ember.autocast("cpu"):
        assert (a @ b).dtype is f64
        assert ember.cat([ember.arange(3), ember.arange(2)]).dtype is ember.int64
        assert F.mse_loss(a, a * 2).dtype is f64


def test_out_and_inplace_calls_not_cast():
    a, b = rand(3, 4), rand(4, 5)
    out = ember.empty(3, 5)
    with ember.autocast("cpu"):
        ember.mm(a, b, out=out)
        c = ember.cat([a, a], out=ember.empty(6, 4))
        x = rand(3, 4)
        x.mul_(rand(3, 4, dtype=bf16))
        y = rand(3, 5)
        y0 = y.clone()
        y.addmm_(a, b, beta=0.5, alpha=2.0)
        z = rand(2, 3, 5)
        z.baddbmm_(rand(2, 3, 4), rand(2, 4, 5))
    assert out.dtype is f32 and c.dtype is f32 and x.dtype is f32 and y.dtype is f32 and z.dtype is f32
    np.testing.assert_allclose(y.numpy(), 0.5 * y0.numpy() + 2 * (a @ b).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), (a @ b).numpy(), rtol=1e-6)


def test_explicit_dtype_argument_wins():
    x = rand(3, 4, dtype=bf16)
    with ember.autocast("cpu"):
        assert ember.prod(x, 1, dtype=f64).dtype is f64
        assert ember.prod(x, 1).dtype is f32


def test_nesting_and_enabled_false_inside():
    a, b = rand(3, 4), rand(4, 5)
    assert not ember.is_autocast_enabled("cpu")
    with ember.autocast("cpu"):
        assert ember.is_autocast_enabled("cpu") and ember.get_autocast_dtype("cpu") is bf16
        with ember.autocast("cpu", enabled=False):
            assert not ember.is_autocast_enabled("cpu")
            assert (a @ b).dtype is f32
            with ember.autocast("cpu", dtype=f16):
                assert (a @ b).dtype is f16
            assert (a @ b).dtype is f32
        assert (a @ b).dtype is bf16
        with ember.autocast("cpu", dtype=f16):
            assert ember.get_autocast_dtype("cpu") is f16 and (a @ b).dtype is f16
        assert ember.get_autocast_dtype("cpu") is bf16
    assert not ember.is_autocast_enabled("cpu") and (a @ b).dtype is f32


def test_state_restored_after_exception():
    with pytest.raises(ZeroDivisionError):
        with ember.autocast("cpu"):
            1 / 0
    assert not ember.is_autocast_enabled("cpu")
    assert (rand(2, 2) @ rand(2, 2)).dtype is f32


def test_thread_local():
    a, b = rand(3, 4), rand(4, 5)
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        seen["enabled"] = ember.is_autocast_enabled("cpu")
        seen["dtype"] = (a @ b).dtype
        with ember.autocast("cpu", dtype=f16):
            seen["own"] = (a @ b).dtype
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with ember.autocast("cpu"):
        inside.set()
        done.wait(10)
        assert (a @ b).dtype is bf16  # the other thread's region did not change this one
    t.join()
    assert seen == {"enabled": False, "dtype": f32, "own": f16}


def test_decorator():
    @ember.autocast("cpu")
    def f(x, y):
        assert ember.is_autocast_enabled("cpu")
        return x @ y

    @ember.amp.autocast("cpu", enabled=False)
    def g(x, y):
        return x @ y
    a, b = rand(3, 4), rand(4, 5)
    assert f(a, b).dtype is bf16
    assert not ember.is_autocast_enabled("cpu")
    with ember.autocast("cpu"):
        assert g(a, b).dtype is f32
    assert f.__name__ == "f"


def test_cache_holds_float32_leaf_parameters_only():
    w = rand(5, 4, requires_grad=True)
    x = rand(3, 4)
    with ember.autocast("cpu"):
        assert am._cached_cast(w, bf16, "cpu") is am._cached_cast(w, bf16, "cpu")
        F.linear(x, w)
        F.linear(x, w)
        assert list(am._amp.cache) == [id(w)]
        # not cached: tensors without requires_grad, non-leaves, views, casts under no_grad
        am._cached_cast(x, bf16, "cpu")
        am._cached_cast(w * 2, bf16, "cpu")
        am._cached_cast(w[1:], bf16, "cpu")
        w2 = rand(5, 4, requires_grad=True)
        with ember.no_grad():
            am._cached_cast(w2, bf16, "cpu")
        assert list(am._amp.cache) == [id(w)]
        with ember.autocast("cpu"):
            pass
        assert list(am._amp.cache) == [id(w)]  # an inner region's exit keeps the outer region's cache
        with ember.no_grad():
            w.add_(1.0)  # an in-place update makes the cached cast stale
        fresh = am._cached_cast(w, bf16, "cpu").detach()
        assert np.allclose(fresh.float().numpy(), w.detach().to(bf16).float().numpy())
    assert am._amp.cache == {}
    with ember.autocast("cpu", cache_enabled=False):
        F.linear(x, w)
        assert am._amp.cache == {}
    assert ember.is_autocast_cache_enabled()


def test_clear_cache_and_nesting_counters():
    assert ember.autocast_increment_nesting() == 1
    assert ember.autocast_decrement_nesting() == 0
    w = rand(2, 2, requires_grad=True)
    with ember.autocast("cpu"):
        am._cached_cast(w, bf16, "cpu")
        ember.clear_autocast_cache()
        assert am._amp.cache == {}


def test_mixed_precision_gradients_match_float32():
    """A small MLP under autocast: parameter gradients arrive in float32 and match the float32 model within
    bfloat16 tolerance."""
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(16, 32), ember.nn.ReLU(), ember.nn.Linear(32, 4))
    x = rand(8, 16)
    y = ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    ref = ember.nn.functional.cross_entropy(model(x), y)
    ref.backward()
    ref_grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    with ember.autocast("cpu"):
        h = model[0](x)
        assert h.dtype is bf16
        loss = ember.nn.functional.cross_entropy(model[2](model[1](h)), y)
        assert loss.dtype is f32
    loss.backward()
    assert abs(loss.item() - ref.item()) < 0.05
    for p, g in zip(model.parameters(), ref_grads):
        assert p.dtype is f32 and p.grad.dtype is f32
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=0.05, atol=0.02)


def test_conv_model_gradients_flow_to_float32():
    conv = ember.nn.Conv2d(2, 3, 3, padding=1)
    x = rand(2, 2, 6, 6)
    with ember.autocast("cpu"):
        out = conv(x)
        assert out.dtype is bf16
        loss = F.mse_loss(out, ember.zeros(2, 3, 6, 6))
    loss.backward()
    assert conv.weight.grad.dtype is f32 and conv.bias.grad.dtype is f32
    assert float(conv.weight.grad.abs().sum()) > 0


def test_gradients_match_torch():
    torch = pytest.importorskip("torch")
    w = rng.standard_normal((5, 4)).astype(np.float32)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    grads = []
    for L, FF in ((ember, F), (torch, torch.nn.functional)):
        wt = L.tensor(w, requires_grad=True)
        with L.autocast("cpu"):
            out = FF.linear(L.tensor(x), wt)
            loss = (out.float() ** 2).sum()
        loss.backward()
        grads.append(np.asarray(wt.grad.numpy()))
    np.testing.assert_allclose(grads[0], grads[1], rtol=2e-2, atol=2e-2)


# ---------------------------------------------------------------------------------------------- API surface


def test_state_functions():
    assert ember.get_autocast_dtype("cpu") is bf16 and ember.get_autocast_dtype("cuda") is f16
    assert ember.is_autocast_enabled() is False
    ember.set_autocast_enabled("cpu", True)
    try:
        assert ember.is_autocast_enabled("cpu")
        assert (rand(2, 2) @ rand(2, 2)).dtype is bf16
    finally:
        ember.set_autocast_enabled("cpu", False)
    ember.set_autocast_dtype("cpu", f16)
    try:
        with pytest.warns(DeprecationWarning):
            assert ember.get_autocast_cpu_dtype() is f16
    finally:
        ember.set_autocast_dtype("cpu", bf16)
    with pytest.warns(DeprecationWarning):
        assert ember.is_autocast_cpu_enabled() is False
    with pytest.warns(DeprecationWarning):
        assert ember.get_autocast_gpu_dtype() is f16
    with pytest.raises(RuntimeError, match="device type"):
        ember.get_autocast_dtype("foo")
    with pytest.raises(TypeError):
        ember.set_autocast_enabled("cpu", 1)
    assert ember.amp.is_autocast_available("cpu") and not ember.amp.is_autocast_available("mps")


def test_constructor_errors_and_warnings():
    with pytest.raises(ValueError, match="device_type"):
        ember.autocast(ember.device("cpu"))
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'foo'"):
        ember.autocast("foo")
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        a = ember.autocast("cpu", dtype=f32)
    with a:
        assert not ember.is_autocast_enabled("cpu")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        c = ember.autocast("cuda")
    with c:
        assert not ember.is_autocast_enabled("cuda")


def test_device_module_spellings():
    with pytest.warns(FutureWarning):
        r = ember.cpu.amp.autocast()
    with r:
        assert ember.is_autocast_enabled("cpu") and ember.get_autocast_dtype("cpu") is bf16
    with pytest.warns(FutureWarning):
        r = ember.cpu.amp.autocast(dtype=f16)
    with r:
        assert (rand(2, 2) @ rand(2, 2)).dtype is f16
    import ember.cuda.amp as cuda_amp
    assert ember.cuda.amp is cuda_amp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not cuda_amp.GradScaler().is_enabled()
        assert issubclass(cuda_amp.autocast, ember.amp.autocast)


def test_custom_fwd_bwd():
    seen = {}

    class MyMM(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu", cast_inputs=f32)
        def forward(ctx, a, b):
            seen["fwd"] = (a.dtype, b.dtype, ember.is_autocast_enabled("cpu"))
            ctx.save_for_backward(a, b)
            return a.mm(b)

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = ember.is_autocast_enabled("cpu")
            a, b = ctx.saved_tensors
            return g.mm(b.t()), a.t().mm(g)

    a = rand(3, 4, dtype=bf16, requires_grad=True)
    b = rand(4, 2, requires_grad=True)
    with ember.autocast("cpu"):
        out = MyMM.apply(a, b)
    assert out.dtype is f32 and seen["fwd"] == (f32, f32, False)
    out.sum().backward()
    assert seen["bwd"] is False and a.grad.dtype is bf16

    class Plain(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu")
        def forward(ctx, a, b):
            return a.mm(b)

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["plain_bwd"] = ember.is_autocast_enabled("cpu")
            return None, None
    with ember.autocast("cpu"):
        out = Plain.apply(rand(2, 2, requires_grad=True), rand(2, 2))
    assert out.dtype is bf16
    out.float().sum().backward()
    assert seen["plain_bwd"] is True


def test_autocast_op_decorator():
    calls = []

    @am.autocast_op("inverse")
    def my_inverse(a, *, out=None):
        calls.append((a.dtype, ember.is_autocast_enabled("cpu"), bool(am._state.autocast)))
        return a if out is None else out

    x = rand(2, 2, dtype=bf16)
    with ember.autocast("cpu"):
        assert my_inverse(x).dtype is f32  # "inverse" is on the CPU float32 list
        assert my_inverse(x, out=x) is x
    assert my_inverse(x).dtype is bf16
    # the op body runs with the region's casting switched off (as below PyTorch's autocast layer)
    assert calls == [(f32, True, False), (bf16, True, True), (bf16, False, False)]
    assert my_inverse.__name__ == "my_inverse"


# ---------------------------------------------------------------------------------------------- CUDA lists


def test_cuda_policy_tables():
    for name in ("matmul", "mm", "bmm", "addmm", "baddbmm", "linear", "conv2d", "scaled_dot_product_attention"):
        assert am.op_policy("cuda", name) == "lower"
    for name in ("softmax", "log_softmax", "layer_norm", "group_norm", "exp", "log", "mse_loss", "cross_entropy",
                 "sum", "norm"):
        assert am.op_policy("cuda", name) == "fp32"
        assert am.op_policy("cpu", name) in (None, "fp32")
    assert am.op_policy("cpu", "softmax") is None and am.op_policy("cpu", "layer_norm") is None
    assert am.op_policy("cuda", "binary_cross_entropy") == "banned"
    assert am.op_policy("cpu", "binary_cross_entropy") == "fp32"
    assert am.op_policy("cuda", "cat") is None and am.op_policy("cpu", "cat") == "promote"


@pytest.fixture
def fake_cuda(monkeypatch):
    """CPU tensors stand in for CUDA tensors so the CUDA lists can be exercised without a GPU."""
    monkeypatch.setattr(am, "_device_type", lambda t: "cuda")
    monkeypatch.setattr(am, "_cuda_available", lambda: True)


def test_cuda_lists_through_cpu_tensors(fake_cuda):
    x = rand(3, 4, dtype=bf16)
    a, b = rand(3, 4), rand(4, 5)
    with ember.autocast("cuda"):
        assert ember.is_autocast_enabled() and ember.is_autocast_enabled("cuda")
        assert (a @ b).dtype is f16 and F.linear(a, b.t()).dtype is f16
        assert ember.mv(a, rand(4)).dtype is f16
        assert F.softmax(x, -1).dtype is f32 and F.log_softmax(x, -1).dtype is f32
        assert F.softmax(x, -1, dtype=f64).dtype is f64
        assert F.layer_norm(x, (4,)).dtype is f32 and F.group_norm(x.reshape(1, 4, 3), 2).dtype is f32
        assert F.mse_loss(x, x).dtype is f32
        assert ember.prod(x).dtype is f32
        assert ember.cat([x, x]).dtype is bf16  # not a CUDA promote op: the op's own rules apply
        assert ember.tensordot(x.float(), rand(4, 2, dtype=f16), 1).dtype is f32  # promote: widest input
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(x.sigmoid(), x.sigmoid())
        h = rand(3, 4, dtype=f16).abs() + 0.5
        # pointwise float32 list (functions, methods and operators); ops off the list keep their dtype
        for out in (ember.exp(h), h.exp(), h.log(), h.log1p(), h.rsqrt(), h.reciprocal(), h.tan(), ember.pow(h, 2),
                    h ** 2, 2 ** h, 1 / h, h.sum(), ember.sum(h, 0), h.cumsum(0), ember.cumprod(h, 1),
                    F.softplus(h), h.softmax(-1), F.normalize(h), ember.norm(h)):
            assert out.dtype is f32
        for out in (h.tanh(), h / 2, h * h, h.mean(), h.relu(), h.sigmoid()):
            assert out.dtype is f16
        assert h.sum(dtype=f64).dtype is f64
        # promote list: the widest input; float16 with float32 -> float32, float16 alone stays
        assert ember.addcmul(h, h, h).dtype is f16 and ember.addcmul(h, h, h.float()).dtype is f32
        assert ember.atan2(h, h.float()).dtype is f32 and ember.dot(h[0], h[0]).dtype is f16
        with pytest.raises(RuntimeError, match="may mix only float32 and ember.float16"):
            ember.addcmul(h, h, x)
    assert (a @ b).dtype is f32 and rand(2, dtype=f16).exp().dtype is f16
