"""numpy arrays of every dtype through from_numpy / tensor / as_tensor / asarray: supported types keep their
dtype (and from_numpy/as_tensor share memory); types Ember has no dtype for (uint16, uint32, uint64, complex,
strings) raise a TypeError naming the numpy type and the supported ones instead of silently
becoming another dtype; explicit dtype= converts; empty arrays become writable tensors.
"""
import numpy as np
import pytest

import ember

SUPPORTED = {np.float32: ember.float32, np.float64: ember.float64, np.float16: ember.float16,
             np.int64: ember.int64, np.int32: ember.int32, np.int16: ember.int16, np.int8: ember.int8,
             np.uint8: ember.uint8, np.bool_: ember.bool}
UNSUPPORTED_INTS = (np.uint16, np.uint32, np.uint64)
CONVERTERS = {
    "from_numpy": ember.from_numpy,
    "tensor": ember.tensor,
    "as_tensor": ember.as_tensor,
    "asarray": ember.asarray,
}


@pytest.mark.parametrize("conv", list(CONVERTERS))
@pytest.mark.parametrize("npt", list(SUPPORTED), ids=lambda t: np.dtype(t).name)
def test_supported_types_keep_their_dtype(conv, npt):
    a = np.array([[1, 0, 3], [4, 5, 1]]).astype(npt)
    t = CONVERTERS[conv](a)
    assert t.dtype is SUPPORTED[npt] and t.shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(t), a)
    a[0, 1] = 1
    # from_numpy / as_tensor / asarray share memory; tensor owns a copy
    assert np.asarray(t)[0, 1] == (1 if conv != "tensor" else 0)


@pytest.mark.parametrize("conv", list(CONVERTERS))
@pytest.mark.parametrize("npt", UNSUPPORTED_INTS, ids=lambda t: np.dtype(t).name)
def test_unsupported_integer_types_raise_clear_type_error(conv, npt):
    a = np.array([1, 2, 3]).astype(npt)
    name = np.dtype(npt).name
    with pytest.raises(TypeError, match=r"numpy\.%s.*Ember has no %s dtype.*float64, float32, float16, int64, "
                                        r"int32, int16, int8, uint8, and bool" % (name, name)):
        CONVERTERS[conv](a)


@pytest.mark.parametrize("npt", UNSUPPORTED_INTS, ids=lambda t: np.dtype(t).name)
def test_unsupported_integer_scalars_and_lists_raise(npt):
    name = np.dtype(npt).name
    for data in (npt(3), [npt(1), npt(2)], [[npt(1)], [npt(2)]]):
        with pytest.raises(TypeError, match="numpy.%s" % name):
            ember.tensor(data)


@pytest.mark.parametrize("npt", UNSUPPORTED_INTS, ids=lambda t: np.dtype(t).name)
def test_explicit_dtype_converts(npt):
    a = np.array([1, 2, 100]).astype(npt)
    for t in (ember.tensor(a, dtype=ember.int64), ember.as_tensor(a, dtype=ember.int64),
              ember.tensor(list(a), dtype=ember.int64)):
        assert t.dtype is ember.int64 and t.tolist() == [1, 2, 100]
    f = ember.tensor(a, dtype=ember.float32)
    assert f.dtype is ember.float32 and f.tolist() == [1.0, 2.0, 100.0]
    with pytest.raises(TypeError, match=np.dtype(npt).name):
        ember.zeros(2, dtype=npt)


def test_other_unsupported_types():
    with pytest.raises(TypeError, match="complex"):
        ember.from_numpy(np.ones(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="complex"):
        ember.tensor(np.ones(2, dtype=np.complex128))
    with pytest.raises(TypeError, match="numpy.str_"):
        ember.from_numpy(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="object"):
        ember.as_tensor(np.array([1, None], dtype=object))
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])


def test_non_native_byte_order_raises_value_error():
    a = np.arange(3, dtype=">f4")
    for conv in CONVERTERS.values():
        with pytest.raises(ValueError, match="byte order"):
            conv(a)
    ok = ember.tensor(a.astype("=f4"))
    assert ok.tolist() == [0.0, 1.0, 2.0]


def test_python_ints_too_large_for_int64():
    with pytest.raises(RuntimeError, match="Overflow"):
        ember.tensor([2 ** 63])
    assert ember.tensor([2 ** 63 - 1]).dtype is ember.int64


@pytest.mark.parametrize("conv", list(CONVERTERS))
def test_empty_arrays_become_writable_tensors(conv):
    a = np.zeros((0, 3), dtype=np.float64)  # numpy gives empty arrays zero strides
    t = CONVERTERS[conv](a)
    assert t.shape == (0, 3) and t.dtype is ember.float64 and t.is_contiguous()
    t.fill_(1.0).add_(1.0).mul_(ember.ones(3, dtype=ember.float64))
    t[:, 1] = 5.0
    assert t.shape == (0, 3)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    for npt in SUPPORTED:
        a = np.array([1, 0, 2]).astype(npt)
        for name in ("from_numpy", "tensor", "as_tensor"):
            e, t = getattr(ember, name)(a), getattr(torch, name)(a)
            assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
            assert tuple(e.shape) == tuple(t.shape) and e.tolist() == t.tolist()
    # PyTorch raises TypeError for numpy types it lacks, as Ember does for the ones it lacks
    with pytest.raises(TypeError):
        torch.from_numpy(np.array(["a"]))
    with pytest.raises(ValueError):
        torch.from_numpy(np.arange(3, dtype=">f4"))
