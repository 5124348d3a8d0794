"""DLPack interop: zero-copy round trips with numpy (and PyTorch when installed), versioned and legacy
capsules, every dtype numpy shares, views, and the refusals."""
import numpy as np
import pytest

import ember

DTYPES = [ember.float32, ember.float64, ember.float16, ember.int64, ember.int32, ember.uint8, ember.bool]


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_reads_ember_without_copy(dtype):
    t = (ember.randn(4, 6) * 10).to(dtype)
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, t.numpy())
    assert a.ctypes.data == t.data_ptr()
    if dtype is not ember.bool:
        t.fill_(3)
        assert (a == 3).all()  # same memory


def test_views_and_strides_round_trip():
    base = ember.arange(60, dtype=ember.float32).reshape(3, 4, 5)
    view = base.permute(2, 0, 1)[1:, :, ::2]
    a = np.from_dlpack(view)
    np.testing.assert_array_equal(a, view.numpy())
    back = ember.from_dlpack(view.numpy())
    assert back.stride() == view.stride() and back.data_ptr() == view.data_ptr()
    z = ember.zeros(0, 3)
    assert ember.from_dlpack(np.from_dlpack(z)).shape == (0, 3)
    s = ember.tensor(2.5)
    assert np.from_dlpack(s).shape == () and float(np.from_dlpack(s)) == 2.5


def test_ember_reads_numpy_without_copy_and_keeps_it_alive():
    a = np.arange(12, dtype=np.float64).reshape(3, 4)[:, 1:]
    t = ember.from_dlpack(a)
    assert t.data_ptr() == a.ctypes.data and t.stride() == (4, 1)
    del a
    import gc
    gc.collect()
    assert t.sum().item() == sum(range(12)) - (0 + 4 + 8)


def test_capsules_legacy_and_versioned():
    t = ember.ones(3)
    legacy = t.__dlpack__()
    versioned = t.__dlpack__(max_version=(1, 0))
    assert "dltensor" in repr(legacy) and "dltensor_versioned" in repr(versioned)
    x = ember.from_dlpack(legacy)
    assert x.data_ptr() == t.data_ptr()
    with pytest.raises(TypeError, match="already consumed"):
        ember.from_dlpack(legacy)
    assert ember.utils.dlpack.from_dlpack(versioned).sum().item() == 3
    cap = t.__dlpack__(max_version=(1, 0))
    del cap  # an unconsumed capsule frees its hold on the storage
    assert t.__dlpack_device__() == (1, 0)


def test_refusals():
    with pytest.raises(RuntimeError, match="Can't export tensors that require gradient"):
        ember.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(TypeError, match="expected an object with __dlpack__"):
        ember.from_dlpack([1, 2])
    with pytest.raises(AttributeError, match="non-CUDA"):
        ember.ones(2).__cuda_array_interface__
    with pytest.raises(BufferError):
        ember.ones(2).__dlpack__(dl_device=(2, 0))


def test_torch_round_trip_shares_memory():
    torch = pytest.importorskip("torch")
    t = ember.randn(5, 3)
    pt = torch.from_dlpack(t)
    assert pt.data_ptr() == t.data_ptr()
    pt.mul_(2)
    np.testing.assert_allclose(t.numpy(), pt.numpy())
    src = torch.arange(10, dtype=torch.float32)[::2]
    e = ember.from_dlpack(src)
    assert e.data_ptr() == src.data_ptr() and e.stride() == (2,)
    bf = torch.randn(4).to(torch.bfloat16)
    eb = ember.from_dlpack(bf)
    assert eb.dtype is ember.bfloat16 and eb.float().tolist() == bf.float().tolist()
    assert torch.from_dlpack(eb).dtype == torch.bfloat16
