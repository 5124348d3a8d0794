"""int8 and int16 tensors: creation, PyTorch's promotion lattice, casts that wrap as PyTorch's do, arithmetic
that wraps in the type, reductions, indexing, numpy/DLPack interop both ways and every checkpoint format.
(The op database in tests/opinfo.py also runs every integer op on int8 and int16 against numpy.)"""
import io

import numpy as np
import pytest

import ember

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
SMALL = [("int8", np.int8), ("int16", np.int16)]
ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def test_dtype_objects_and_aliases():
    assert ember.int8.itemsize == 1 and ember.int16.itemsize == 2 and ember.short is ember.int16
    assert ember.int8.is_signed and not ember.int8.is_floating_point and repr(ember.int16) == "ember.int16"
    assert (ember.iinfo(ember.int8).min, ember.iinfo(ember.int8).max) == (-128, 127)
    assert (ember.iinfo(ember.int16).min, ember.iinfo(ember.int16).max, ember.iinfo(ember.int16).bits) == \
        (-32768, 32767, 16)
    x = ember.tensor([1, 2, 3])
    assert x.char().dtype is ember.int8 and x.short().dtype is ember.int16
    assert x.type("torch.CharTensor").dtype is ember.int8 and x.short().type() == "ember.ShortTensor"


def test_promotion_without_torch():
    p = ember.promote_types
    assert p(ember.uint8, ember.int8) is ember.int16  # neither holds the other
    assert p(ember.int8, ember.int16) is ember.int16 and p(ember.bool, ember.int8) is ember.int8
    assert p(ember.int16, ember.uint8) is ember.int16 and p(ember.int16, ember.int32) is ember.int32
    assert p(ember.int8, ember.float16) is ember.float16 and p(ember.int16, ember.bfloat16) is ember.bfloat16


@needs_torch
def test_promotion_table_matches_pytorch():
    for a in ALL:
        for b in ALL:
            ours = ember.promote_types(getattr(ember, a), getattr(ember, b))._name
            assert ours == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[1], (a, b)


@pytest.mark.parametrize("name, np_t", SMALL)
def test_numpy_interop_keeps_the_type_and_shares_memory(name, np_t):
    a = np.array([[1, -2, 3], [4, 5, -6]], dtype=np_t)
    t = ember.from_numpy(a)
    assert t.dtype is getattr(ember, name) and t.tolist() == a.tolist()
    a[0, 0] = 7
    assert t[0, 0].item() == 7  # shared
    assert ember.tensor(a).dtype is getattr(ember, name) and ember.as_tensor(a[:, ::2]).tolist() == [[7, 3], [4, -6]]
    back = t.numpy()
    assert back.dtype == np_t and np.shares_memory(back, a)
    assert ember.tensor(np_t(5)).dtype is getattr(ember, name)


@pytest.mark.parametrize("name, np_t", SMALL)
def test_creation(name, np_t):
    dt = getattr(ember, name)
    info = np.iinfo(np_t)
    assert ember.zeros(2, 3, dtype=dt).dtype is dt and ember.ones(3, dtype=dt).tolist() == [1, 1, 1]
    assert ember.full((2,), -5, dtype=dt).tolist() == [-5, -5]
    assert ember.arange(-3, 3, dtype=dt).tolist() == list(range(-3, 3))
    r = ember.randint(info.min, info.max + 1, (2000,), dtype=dt)
    assert r.dtype is dt and info.min <= r.min().item() and r.max().item() <= info.max
    assert r.min().item() < info.min // 2 and r.max().item() > info.max // 2  # the whole range is reached
    with pytest.raises(RuntimeError, match="int8|int16"):
        ember.randint(0, info.max + 2, (3,), dtype=dt)
    u = ember.empty(1000, dtype=dt).random_()
    assert 0 <= u.min().item() and u.max().item() <= info.max  # random_() covers [0, max], as in PyTorch
    assert ember.empty(0, dtype=dt).sum().item() == 0


@needs_torch
@pytest.mark.parametrize("name", ["int8", "int16"])
def test_arithmetic_wraps_and_types_as_pytorch(name):
    rng = np.random.RandomState(0)
    info = np.iinfo(name)
    a = rng.randint(info.min, info.max + 1, 64).astype(name)
    b = rng.randint(info.min, info.max + 1, 64).astype(name)
    b[b == 0] = 3
    e_a, e_b = ember.tensor(a), ember.tensor(b)
    t_a, t_b = torch.tensor(a), torch.tensor(b)
    cases = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x // y, lambda x, y: x % y,
             lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: -x, lambda x, y: x.abs(),
             lambda x, y: x + 3, lambda x, y: x * 2.5, lambda x, y: x / y, lambda x, y: x << 2, lambda x, y: x >> 1,
             lambda x, y: x.clamp(-50, 50), lambda x, y: x.maximum(y), lambda x, y: x == y, lambda x, y: x < y,
             lambda x, y: x.sign(), lambda x, y: x.float().exp() if False else x.sqrt(), lambda x, y: ~x,
             lambda x, y: x + y.to(getattr(torch, "uint8") if isinstance(y, torch.Tensor) else ember.uint8),
             lambda x, y: x * y.long(), lambda x, y: x.pow(2)]
    for i, fn in enumerate(cases):
        ours, ref = fn(e_a, e_b), fn(t_a, t_b)
        assert str(ours.dtype).split(".")[1] == str(ref.dtype).split(".")[1], i
        np.testing.assert_allclose(ours.float().numpy(), ref.float().numpy(), rtol=1e-6, err_msg=str(i))


@needs_torch
@pytest.mark.parametrize("name", ["int8", "int16"])
def test_casts_match_pytorch(name):
    ints = [0, 1, -1, 127, 128, -129, 300, -300, 40000, -40000, 2 ** 31 - 1, -2 ** 31]
    floats = [0.5, -0.5, 1.7, -1.7, 126.9, -127.9, 3000.25, -3000.25]
    for vals, src in ((ints, "int64"), (floats, "float64"), (floats, "float32"), (floats[:6], "float16")):
        ours = ember.tensor(vals, dtype=getattr(ember, src)).to(getattr(ember, name))
        ref = torch.tensor(vals, dtype=getattr(torch, src)).to(getattr(torch, name))
        assert ours.tolist() == ref.tolist(), src
    x = np.arange(-100, 100, 7, dtype=name)
    for target in ALL:
        ours = ember.tensor(x).to(getattr(ember, target))
        ref = torch.tensor(x).to(getattr(torch, target))
        np.testing.assert_array_equal(ours.float().numpy(), ref.float().numpy(), err_msg=target)


@needs_torch
@pytest.mark.parametrize("name", ["int8", "int16"])
def test_reductions_match_pytorch(name):
    rng = np.random.RandomState(1)
    x = rng.randint(-100, 100, (5, 7)).astype(name)
    e, t = ember.tensor(x), torch.tensor(x)
    for fn in (lambda v: v.sum(), lambda v: v.sum(1), lambda v: v.prod(0), lambda v: v.max(), lambda v: v.min(1)[0],
               lambda v: v.argmax(1), lambda v: v.cumsum(0), lambda v: v.amax(0), lambda v: v.sort(1)[0],
               lambda v: v.topk(3)[0], lambda v: v.unique(), lambda v: v.any(), lambda v: v.count_nonzero()):
        ours, ref = fn(e), fn(t)
        assert str(ours.dtype).split(".")[1] == str(ref.dtype).split(".")[1]
        assert ours.tolist() == ref.tolist()
    with pytest.raises(RuntimeError, match="mean"):
        e.mean()


@pytest.mark.parametrize("name, np_t", SMALL)
def test_indexing_and_shape_ops(name, np_t):
    x = np.arange(24, dtype=np_t).reshape(4, 6) - 12
    t = ember.tensor(x)
    np.testing.assert_array_equal(t[1:, ::2].numpy(), x[1:, ::2])
    np.testing.assert_array_equal(t[ember.tensor([3, 0])].numpy(), x[[3, 0]])
    np.testing.assert_array_equal(t[t > 0].numpy(), x[x > 0])
    t[0] = 100
    assert t[0].tolist() == [100] * 6
    np.testing.assert_array_equal(ember.cat([t, t]).numpy()[4:], t.numpy())
    np.testing.assert_array_equal(t.t().contiguous().numpy(), t.numpy().T)
    assert ember.where(t > 0, t, ember.tensor(0, dtype=t.dtype)).dtype is t.dtype
    # as in PyTorch, small integers are not index types
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        t[ember.tensor([0], dtype=getattr(ember, name))]
    idx = ember.tensor([0, 2]).to(getattr(ember, name))
    with pytest.raises((IndexError, RuntimeError, TypeError)):
        t.index_select(0, idx)


@pytest.mark.parametrize("name, np_t", SMALL)
def test_checkpoint_formats_round_trip(name, np_t, tmp_path):
    x = ember.tensor(np.array([[-128, 5], [7, 127]], dtype=np_t))
    import pickle
    for kwargs in ({}, {"pickle_module": pickle}):
        buf = io.BytesIO()
        ember.save({"x": x, "view": x[:, 1]}, buf, **kwargs)
        buf.seek(0)
        back = ember.load(buf)
        assert back["x"].dtype is x.dtype and back["x"].tolist() == x.tolist() and back["view"].tolist() == [5, 127]
    from ember import safetensors
    path = tmp_path / "w.safetensors"
    safetensors.save_file({"x": x}, str(path))
    back = safetensors.load_file(str(path))["x"]
    assert back.dtype is x.dtype and back.tolist() == x.tolist()


@needs_torch
@pytest.mark.parametrize("name", ["int8", "int16"])
def test_pytorch_files_and_dlpack(name, tmp_path):
    t = torch.tensor([[-3, 4], [100, -100]], dtype=getattr(torch, name))
    path = tmp_path / "t.pt"
    torch.save({"t": t, "col": t[:, 0]}, str(path))
    back = ember.load(str(path))
    assert back["t"].dtype is getattr(ember, name) and back["t"].tolist() == t.tolist()
    assert back["col"].tolist() == [-3, 100]
    import pickle
    ember.save({"e": back["t"]}, str(path), pickle_module=pickle)  # the pickled archive torch.load reads
    assert torch.load(str(path))["e"].dtype is getattr(torch, name)
    # DLPack both ways, sharing memory
    e = ember.from_dlpack(t)
    assert e.dtype is getattr(ember, name) and e.tolist() == t.tolist()
    t[0, 0] = 9
    assert e[0, 0].item() == 9
    r = torch.from_dlpack(ember.tensor([1, -1], dtype=getattr(ember, name)))
    assert r.dtype is getattr(torch, name) and r.tolist() == [1, -1]


def test_unsupported_numpy_unsigned_types_still_raise():
    with pytest.raises(TypeError, match="uint16"):
        ember.from_numpy(np.array([1], dtype=np.uint16))
    assert ember.tensor(np.array([1, 2], dtype=np.uint16), dtype=ember.int32).tolist() == [1, 2]
