"""The device seam without a GPU: the kernel tables, the 'built without CUDA' errors, and the device plumbing
(allocation on the operands' device, device checks, transfers, autograd across devices) exercised through the
tests' host backend, which fills the CUDA slot with the CPU kernels on host memory labelled cuda:0. None of
this is evidence that anything runs on a GPU."""
import numpy as np
import pytest

import ember
from ember import _C


@pytest.fixture
def host_cuda():
    ember.cuda._set_host_backend_for_tests(True)
    try:
        yield ember.device("cuda", 0)
    finally:
        ember.cuda._set_host_backend_for_tests(False)


def test_one_entry_list_declares_both_tables():
    names = _C._kernel_entries()
    assert len(names) == len(set(names)) > 40
    assert {"unary", "binary", "reduce", "gemm_batched", "conv2d_forward", "adam", "allocate"} <= set(names)
    assert _C._missing_kernels("cpu") == []


@pytest.mark.skipif(_C._cuda_built(), reason="this build has the CUDA kernel module")
def test_build_without_cuda_reports_every_entry_missing():
    assert _C._missing_kernels("cuda") == _C._kernel_entries()
    assert not ember.cuda.is_available()
    with pytest.raises(RuntimeError, match="built without CUDA"):
        ember.zeros(3, device="cuda")
    with pytest.raises(RuntimeError, match="built without CUDA"):
        ember.ones(2).cuda()
    # below the Python checks the CUDA slot itself raises, naming the entry
    with pytest.raises(NotImplementedError, match=r'"allocate" not implemented for \'cuda\': Ember was built without CUDA'):
        _C.empty((2,), ember.float32, "cuda:0")


def test_host_backend_is_never_reported_as_a_gpu(host_cuda):
    assert not ember.cuda.is_available()
    assert _C._missing_kernels("cuda") == []


@pytest.mark.parametrize("factory", [
    lambda d: ember.zeros(2, 3, device=d), lambda d: ember.ones(2, 3, device=d), lambda d: ember.empty(2, 3, device=d),
    lambda d: ember.full((2, 3), 7.0, device=d), lambda d: ember.randn(2, 3, device=d),
    lambda d: ember.arange(6, device=d), lambda d: ember.tensor([[1.0, 2.0]], device=d),
    lambda d: ember.eye(3, device=d), lambda d: ember.linspace(0, 1, 5, device=d)])
def test_factories_place_on_the_device(host_cuda, factory):
    t = factory("cuda")
    assert t.device == host_cuda and t.is_cuda and not t.is_cpu and t.get_device() == 0
    assert ember.zeros_like(t).device == host_cuda  # *_like follow the input's device
    assert ember.rand_like(t.float()).device == host_cuda


def test_ops_allocate_outputs_on_the_operands_device(host_cuda):
    x = ember.randn(4, 5)
    xc = x.to("cuda")
    results = {
        "add": (x + x, xc + xc), "mul_scalar": (x * 3, xc * 3), "exp": (x.exp(), xc.exp()),
        "sum": (x.sum(1), xc.sum(1)), "max": (x.max(0).values, xc.max(0).values), "argmax": (x.argmax(), xc.argmax()),
        "matmul": (x @ x.t(), xc @ xc.t()), "where": (ember.where(x > 0, x, -x), ember.where(xc > 0, xc, -xc)),
        "clamp": (x.clamp(-0.5, 0.5), xc.clamp(-0.5, 0.5)), "softmax": (x.softmax(1), xc.softmax(1)),
        "sort": (x.sort(1).values, xc.sort(1).values), "cumsum": (x.cumsum(0), xc.cumsum(0)),
        "index": (x[[0, 2]], xc[[0, 2]]), "flip": (x.flip(0), xc.flip(0)), "tril": (x.tril(), xc.tril()),
        "cat": (ember.cat([x, x]), ember.cat([xc, xc])), "mean": (x.mean(), xc.mean()),
    }
    for name, (cpu, dev) in results.items():
        assert dev.device == host_cuda, name
        np.testing.assert_allclose(dev.cpu().numpy(), cpu.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)


def test_cpu_scalars_join_cuda_ops_other_mixes_raise(host_cuda):
    xc = ember.ones(3, device="cuda")
    s = ember.tensor(2.0)  # a 0-d CPU tensor may join, as in PyTorch
    assert (xc * s).device == host_cuda and (s * xc).device == host_cuda
    assert ember.allclose((xc * s).cpu(), ember.full((3,), 2.0))
    with pytest.raises(RuntimeError, match="same device, but found at least two devices, cuda:0 and cpu"):
        xc + ember.ones(3)
    with pytest.raises(RuntimeError, match="same device"):
        ember.ones(3) @ ember.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        ember.ones(3, device="cuda").add_(ember.ones(3))
    with pytest.raises(RuntimeError, match="same device"):
        ember.nn.functional.layer_norm(ember.ones(2, 3, device="cuda"), (3,), ember.ones(3))


def test_transfers_and_numpy(host_cuda):
    x = ember.randn(3, 4)
    xt = x.t()  # non-contiguous source
    c = xt.cuda()
    assert c.device == host_cuda and c.shape == xt.shape
    np.testing.assert_array_equal(c.cpu().numpy(), xt.numpy())
    assert x.to("cpu") is x and c.to("cuda:0") is c
    assert c.to(dtype=ember.float64).device == host_cuda
    h = ember.randn(2, 2, dtype=ember.float16).cuda()
    assert h.dtype is ember.float16 and h.device == host_cuda
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu()"):
        c.numpy()
    assert c.sum().item() == pytest.approx(float(x.sum()), rel=1e-6)
    assert "device='cuda:0'" in repr(c)
    dst = ember.zeros(4, 3, device="cuda")
    dst.copy_(xt)  # copy_ across devices
    np.testing.assert_array_equal(dst.cpu().numpy(), xt.numpy())
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        ember.zeros(1, device="cuda:1")


def test_autograd_across_devices(host_cuda):
    w = ember.randn(3, 4, requires_grad=True)
    wc = w.cuda()
    assert wc.grad_fn is not None
    loss = (wc * wc).sum() + wc.exp().mean()
    assert loss.device == host_cuda
    loss.backward()
    assert w.grad.device == ember.device("cpu")  # the gradient goes back to the leaf's device
    expected = 2 * w.detach() + w.detach().exp() / 12
    np.testing.assert_allclose(w.grad.numpy(), expected.numpy(), rtol=1e-5)
    leaf = ember.randn(2, 3, device="cuda", requires_grad=True)
    (leaf.t() @ leaf).sum().backward()
    assert leaf.grad.device == host_cuda


def test_training_step_on_the_device_matches_cpu(host_cuda):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    x, y = ember.randn(5, 6), ember.tensor([0, 2, 1, 1, 0])
    loss_cpu = ember.nn.functional.cross_entropy(model(x), y)
    loss_cpu.backward()
    grads_cpu = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    params = [p.detach().cuda().requires_grad_() for p in model.parameters()]
    h = ember.relu(x.cuda() @ params[0].t() + params[1])
    loss = ember.nn.functional.cross_entropy(h @ params[2].t() + params[3], y.cuda())
    loss.backward()
    assert loss.device == host_cuda
    assert loss.item() == pytest.approx(loss_cpu.item(), rel=1e-6)
    for p, g in zip(params, grads_cpu):
        assert p.grad.device == host_cuda
        np.testing.assert_allclose(p.grad.cpu().numpy(), g.numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------- caching allocator


def test_training_steps_reuse_cached_blocks(host_cuda):
    ember.manual_seed(1)
    w1 = ember.randn(32, 16, device="cuda", requires_grad=True)
    w2 = ember.randn(4, 32, device="cuda", requires_grad=True)
    opt = ember.optim.SGD([w1, w2], lr=0.1, momentum=0.9)
    x, y = ember.randn(8, 16, device="cuda"), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3]).cuda()

    def step():
        opt.zero_grad()
        loss = ember.nn.functional.cross_entropy(ember.relu(x @ w1.t()) @ w2.t(), y)
        loss.backward()
        opt.step()
        return loss.item()

    step()
    step()  # the momentum buffers appear in the first steps
    raw = ember.cuda.memory_stats()["num_device_alloc"]
    losses = [step() for _ in range(5)]
    assert ember.cuda.memory_stats()["num_device_alloc"] == raw, "steady-state steps must not call the raw allocator"
    assert losses[-1] < losses[0]


def test_memory_statistics_follow_tensors(host_cuda):
    ember.cuda.empty_cache()
    base = ember.cuda.memory_allocated()
    t = ember.empty(1000, device="cuda")  # 4000 bytes -> one 4096-byte block
    assert ember.cuda.memory_allocated() == base + 4096
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    ember.cuda.reset_peak_memory_stats()
    u = ember.empty(3 << 20, dtype=ember.uint8, device="cuda")  # 3 MiB -> a 4 MiB block
    assert ember.cuda.max_memory_allocated() == base + 4096 + (4 << 20)
    del u
    assert ember.cuda.memory_allocated() == base + 4096
    assert ember.cuda.max_memory_allocated() == base + 4096 + (4 << 20)
    reserved = ember.cuda.memory_reserved()
    ember.cuda.empty_cache()  # the freed 4 MiB block goes back
    assert ember.cuda.memory_reserved() <= reserved - (4 << 20)
    del t


def test_out_of_memory_empties_the_cache_retries_then_raises(host_cuda):
    ember.cuda.empty_cache()
    held = ember.cuda.memory_reserved()
    _C._set_host_cuda_capacity(held + (7 << 20))
    try:
        a = ember.empty(6 << 20, dtype=ember.uint8, device="cuda")
        del a  # its 6 MiB block stays cached (too big to serve a 2 MiB request)
        b = ember.empty(2 << 20, dtype=ember.uint8, device="cuda")  # fits only once the cache is emptied
        assert ember.cuda.memory_stats()["num_alloc_retries"] >= 1
        with pytest.raises(ember.cuda.OutOfMemoryError, match=r"Tried to allocate 6(\.0+)? MiB on device 0"):
            ember.empty(6 << 20, dtype=ember.uint8, device="cuda")
        assert issubclass(ember.cuda.OutOfMemoryError, RuntimeError)
        del b
    finally:
        _C._set_host_cuda_capacity(1 << 40)


def test_size_classes_and_no_caching_mode(tmp_path):
    import subprocess
    import sys
    code = ("import ember; ember.cuda._set_host_backend_for_tests(True)\n"
            "for _ in range(3): t = ember.empty(100, device='cuda'); del t\n"
            "s = ember.cuda.memory_stats(); print(s['num_device_alloc'], s['num_device_free'])")
    env = dict(__import__("os").environ, EMBER_CUDA_NO_CACHING="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["3", "3"]  # every block went straight back


@pytest.mark.skipif(not _C._cuda_built() or ember.cuda.is_available(), reason="needs a CUDA build on a machine without a GPU")
def test_cuda_build_without_a_gpu_fails_clearly():
    missing = set(_C._missing_kernels("cuda"))
    assert {"allocate", "copy_bytes", "unary", "binary", "copy", "fill"}.isdisjoint(missing)
    assert ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="no CUDA device was found"):
        ember.zeros(3, device="cuda")
    with pytest.raises(RuntimeError, match="no CUDA device was found"):
        _C.empty((2,), ember.float32, "cuda:0")
    with pytest.raises(RuntimeError, match="no CUDA device was found"):
        ember.cuda.current_device()


# ------------------------------------------------------------------------------ modules, optimizers, checkpoints


def test_module_to_device_and_optimizer_state_follow(host_cuda):
    ember.manual_seed(2)
    model = ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.ReLU(), ember.nn.Linear(6, 2))
    ref = [p.detach().clone() for p in model.parameters()]
    assert model.to("cuda") is model
    assert all(p.device == host_cuda for p in model.parameters())
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    x = ember.randn(3, 4, device="cuda")
    model(x).sum().backward()
    opt.step()
    for p in model.parameters():
        assert p.grad.device == host_cuda
        assert all(v.device == host_cuda for k, v in opt.state[p].items() if k != "step")
    model.cpu()
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert any(not ember.equal(p.detach(), r) for p, r in zip(model.parameters(), ref))


def test_checkpoints_of_device_tensors(host_cuda, tmp_path):
    t = ember.randn(3, 5, device="cuda")
    view = t[:, 1:3]
    path = tmp_path / "ckpt.pt"
    ember.save({"t": t, "view": view, "step": 3}, path)
    back = ember.load(path)  # by default to the device it was saved from, as in PyTorch
    assert back["t"].device == host_cuda and back["view"].device == host_cuda
    np.testing.assert_array_equal(back["t"].cpu().numpy(), t.cpu().numpy())
    back["t"][0, 1] = 42.0  # views still share their storage after the move
    assert back["view"][0, 0].item() == 42.0
    cpu = ember.load(path, map_location="cpu")
    assert cpu["t"].device.type == "cpu"
    np.testing.assert_array_equal(cpu["view"].numpy(), view.cpu().numpy())
    seen = []
    ember.load(path, map_location=lambda storage, loc: seen.append(loc) or storage.cpu())
    assert seen == ["cuda:0"]
    assert ember.load(path, map_location={"cuda:0": "cpu"})["t"].device.type == "cpu"
    ember.cuda._set_host_backend_for_tests(False)
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        ember.load(path)
    assert ember.load(path, map_location="cpu")["step"] == 3


# --------------------------------------------------------------- host-side CUDA logic (no GPU needed)


@pytest.mark.parametrize("make", [
    lambda: (ember.empty(6, 5), ember.randn(6, 5)),
    lambda: (ember.empty(5, 6), ember.randn(6, 5).t()),
    lambda: (ember.empty(4, 3, 5), ember.randn(4, 1, 5).expand(4, 3, 5)),
    lambda: (ember.empty(3, 4), ember.randn(3, 8)[:, ::2]),
    lambda: (ember.empty(2, 3, 4, 5), ember.randn(5, 4, 3, 2).permute(3, 2, 1, 0)),
    lambda: (ember.empty(7), ember.tensor(3.0).expand(7)),
    lambda: (ember.empty(0, 3), ember.randn(0, 3)),
])
def test_cuda_offset_calculator_matches_tensor_iter(make):
    out, src = make()
    ref, chosen, wide, small, ndim = _C._cuda_offset_calc_check(out, src)
    assert chosen == ref and wide == ref
    assert small  # these all fit 32-bit indexing
    assert len(ref) == 2 * out.numel()


def test_cuda_launch_configuration():
    assert _C._cuda_launch_config(1, 4, 1056) == (1, 256)
    assert _C._cuda_launch_config(1024, 4, 1056) == (1, 256)
    assert _C._cuda_launch_config(1025 * 4, 4, 1056) == (5, 256)
    assert _C._cuda_launch_config(1 << 30, 4, 1056) == (1056, 256)  # capped: the grid strides over the rest
    assert _C._cuda_launch_config(0, 1, 8) == (1, 256)


def test_cuda_manual_seed_seeds_the_shared_generator():
    for seed_fn in (ember.cuda.manual_seed, ember.cuda.manual_seed_all):
        seed_fn(11)
        a = ember.randn(5)
        ember.manual_seed(11)
        assert (a == ember.randn(5)).all()
