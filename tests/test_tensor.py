"""ember.Tensor: view/stride/offset semantics, the Python tensor API (creation, conversion, operators,
indexing, repr), type promotion, RNG, factories and threading. numpy is the reference; PyTorch is never needed."""
import operator

import numpy as np
import pytest

import ember


def _np(t):
    return np.asarray(t.detach().numpy())


def _flat_storage(t):
    """A 1-d view of the whole storage that t lives in (from its base, offset 0)."""
    base = t._base if t._base is not None else t
    n = base.storage_offset() + sum((s - 1) * st for s, st in zip(base.shape, base.stride())) + 1
    return ember.as_strided(base, (n,), (1,), 0)


def _assert_layout(t, expected_np):
    """Element idx of t lives at storage[offset + sum(stride[k] * idx[k])] (checked for every element)."""
    storage = _flat_storage(t).numpy()
    off, st = t.storage_offset(), t.stride()
    for idx in np.ndindex(*t.shape):
        pos = off + sum(s * i for s, i in zip(st, idx))
        assert storage[pos] == expected_np[idx], (idx, pos)


# ================================================================================ views and strides


class TestViews:
    def test_contiguous_strides_and_offset(self):
        x = ember.arange(24.0).view(2, 3, 4)
        assert x.stride() == (12, 4, 1)
        assert x.stride(0) == 12 and x.stride(-1) == 1
        assert x.storage_offset() == 0
        assert x.is_contiguous()
        assert x.element_size() == 4
        assert ember.zeros(3, dtype=ember.float64).element_size() == 8

    def test_view_shares_storage(self):
        x = ember.arange(12.0)
        v = x.view(3, 4)
        assert v.data_ptr() == x.data_ptr()
        assert v.stride() == (4, 1)
        assert v._base is x
        v[1, 2] = 100.0
        assert x[6].item() == 100.0
        w = x.view(-1, 6)
        assert w.shape == (2, 6)
        assert w.data_ptr() == x.data_ptr()

    def test_view_as(self):
        x = ember.arange(6.0)
        y = ember.zeros(2, 3)
        v = x.view_as(y)
        assert v.shape == (2, 3) and v.data_ptr() == x.data_ptr()

    def test_reshape_is_view_when_possible(self):
        x = ember.arange(24.0).view(2, 3, 4)
        r = x.reshape(6, 4)
        assert r.data_ptr() == x.data_ptr()
        r[0, 0] = -1.0
        assert x[0, 0, 0].item() == -1.0
        # merging dims whose strides do not line up needs a copy: permute(0, 2, 1) then reshape(2, 12)
        p = x.permute(0, 2, 1)
        assert not p.is_contiguous()
        c = p.reshape(2, 12)
        assert c.data_ptr() != x.data_ptr()
        np.testing.assert_array_equal(c.numpy(), _np(x).transpose(0, 2, 1).reshape(2, 12))
        c[0, 0] = 555.0
        assert x[0, 0, 0].item() == -1.0  # the copy does not alias x
        # merging only dims that are contiguous with each other stays a view
        t = x.transpose(0, 1)  # (3, 2, 4) strides (4, 12, 1)
        v = t.reshape(3, 2, 2, 2)  # splitting the last dim is always a view
        assert v.data_ptr() == x.data_ptr()
        assert v.stride() == (4, 12, 2, 1)

    def test_view_incompatible_strides_raises(self):
        x = ember.arange(12.0).view(3, 4).t()
        with pytest.raises(RuntimeError, match="view"):
            x.view(12)
        y = x.reshape(12)
        np.testing.assert_array_equal(y.numpy(), np.arange(12.0).reshape(3, 4).T.reshape(12))

    def test_permute_transpose_t(self):
        x = ember.arange(24.0).view(2, 3, 4)
        p = x.permute(2, 0, 1)
        assert p.shape == (4, 2, 3)
        assert p.stride() == (1, 12, 4)
        assert p.data_ptr() == x.data_ptr()
        np.testing.assert_array_equal(p.numpy(), np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1))
        tr = x.transpose(0, 2)
        assert tr.stride() == (1, 4, 12)
        m = ember.arange(6.0).view(2, 3)
        assert m.t().stride() == (1, 3)
        assert m.T.shape == (3, 2)
        m.t()[2, 1] = 50.0
        assert m[1, 2].item() == 50.0
        _assert_layout(p, _np(x).transpose(2, 0, 1))

    def test_expand_zero_stride(self):
        x = ember.tensor([[1.0], [2.0], [3.0]])
        e = x.expand(3, 4)
        assert e.stride() == (1, 0)
        assert e.data_ptr() == x.data_ptr()
        e2 = x.expand(2, -1, 5)
        assert e2.shape == (2, 3, 5)
        assert e2.stride() == (0, 1, 0)
        np.testing.assert_array_equal(e2.numpy(), np.broadcast_to(_np(x), (2, 3, 5)))
        ea = x.expand_as(ember.zeros(3, 7))
        assert ea.shape == (3, 7) and ea.stride() == (1, 0)
        b = ember.broadcast_to(x, (4, 3, 2))
        assert b.stride() == (0, 1, 0) and b.data_ptr() == x.data_ptr()
        x[1, 0] = 20.0
        assert (e[1] == 20.0).all().item()
        assert not e.is_contiguous()

    def test_slicing_with_steps(self):
        x = ember.arange(20.0).view(4, 5)
        s = x[1::2, ::3]
        assert s.shape == (2, 2)
        assert s.stride() == (10, 3)
        assert s.storage_offset() == 5
        assert s.data_ptr() == x.data_ptr() + 5 * 4
        np.testing.assert_array_equal(s.numpy(), np.arange(20.0).reshape(4, 5)[1::2, ::3])
        _assert_layout(s, np.arange(20.0).reshape(4, 5)[1::2, ::3])
        s[1, 1] = -7.0
        assert x[3, 3].item() == -7.0
        # slice of a slice composes offsets and strides
        ss = x[1:, 1:][1:, ::2]
        assert ss.storage_offset() == 11
        assert ss.stride() == (5, 2)
        np.testing.assert_array_equal(ss.numpy(), _np(x)[2:, 1::2])

    def test_select_and_narrow(self):
        x = ember.arange(24.0).view(2, 3, 4)
        s = x.select(1, 2)
        assert s.shape == (2, 4)
        assert s.stride() == (12, 1)
        assert s.storage_offset() == 8
        assert s.data_ptr() == x.data_ptr() + 8 * 4
        np.testing.assert_array_equal(s.numpy(), np.arange(24.0).reshape(2, 3, 4)[:, 2, :])
        n = x.narrow(2, 1, 2)
        assert n.shape == (2, 3, 2)
        assert n.storage_offset() == 1
        assert n.stride() == (12, 4, 1)
        n.fill_(0.0)
        ref = np.arange(24.0).reshape(2, 3, 4)
        ref[:, :, 1:3] = 0
        np.testing.assert_array_equal(x.numpy(), ref)
        assert x.select(0, -1).storage_offset() == 12
        assert x[1].storage_offset() == 12

    def test_squeeze_unsqueeze_flatten_unflatten(self):
        x = ember.arange(6.0).view(1, 2, 1, 3)
        sq = x.squeeze()
        assert sq.shape == (2, 3)
        assert sq.data_ptr() == x.data_ptr()
        assert x.squeeze(0).shape == (2, 1, 3)
        assert x.squeeze(1).shape == (1, 2, 1, 3)  # not size 1: unchanged
        u = sq.unsqueeze(1)
        assert u.shape == (2, 1, 3)
        assert u.data_ptr() == x.data_ptr()
        assert sq.unsqueeze(-1).shape == (2, 3, 1)
        f = x.flatten()
        assert f.shape == (6,) and f.data_ptr() == x.data_ptr()
        assert x.flatten(1, 2).shape == (1, 2, 3)
        uf = f.unflatten(0, (3, 2))
        assert uf.shape == (3, 2) and uf.stride() == (2, 1) and uf.data_ptr() == x.data_ptr()
        assert f.unflatten(0, (-1, 3)).shape == (2, 3)
        uf[2, 1] = 99.0
        assert x[0, 1, 0, 2].item() == 99.0
        # flatten of a non-contiguous tensor copies
        t = ember.arange(6.0).view(2, 3).t()
        ft = t.flatten()
        np.testing.assert_array_equal(ft.numpy(), np.arange(6.0).reshape(2, 3).T.ravel())

    def test_as_strided(self):
        x = ember.arange(10.0)
        w = x.as_strided((4, 3), (2, 1), 1)  # overlapping sliding windows
        assert w.stride() == (2, 1) and w.storage_offset() == 1
        assert w.data_ptr() == x.data_ptr() + 4
        ref = np.lib.stride_tricks.as_strided(np.arange(10.0)[1:], (4, 3), (16, 8))
        np.testing.assert_array_equal(w.numpy(), ref)
        ember.as_strided(x, (2,), (5,))[1] = -1.0
        assert x[5].item() == -1.0

    def test_element_address_formula(self):
        """element (i, j) of a view lives at storage[offset + stride[0]*i + stride[1]*j]."""
        base = ember.arange(30.0).view(5, 6)
        base_np = np.arange(30.0)
        for v in [base[1:4, 2:5], base[::2, 1::3], base.t(), base[1:, :].t()[::2],
                  base.narrow(1, 3, 2), base.select(0, 3).unsqueeze(0), base.as_strided((3, 2), (7, 2), 4)]:
            off, (s0, s1) = v.storage_offset(), v.stride()
            vn = v.numpy()
            for i in range(v.shape[0]):
                for j in range(v.shape[1]):
                    assert vn[i, j] == base_np[off + s0 * i + s1 * j]
            # the same through ember alone: as_strided of the flat storage
            flat = base.view(-1)
            for i in range(v.shape[0]):
                for j in range(v.shape[1]):
                    assert v[i, j].item() == flat[off + s0 * i + s1 * j].item()
            # and data_ptr moves by offset * itemsize
            assert v.data_ptr() == base.data_ptr() + off * 4

    def test_contiguous(self):
        x = ember.arange(12.0).view(3, 4)
        assert x.contiguous() is x  # already contiguous: the same tensor
        t = x.t()
        assert not t.is_contiguous()
        c = t.contiguous()
        assert c.is_contiguous()
        assert c.stride() == (3, 1)
        assert c.data_ptr() != x.data_ptr()
        np.testing.assert_array_equal(c.numpy(), np.arange(12.0).reshape(3, 4).T)
        c[0, 0] = 42.0
        assert x[0, 0].item() == 0.0
        # size-1 dims and empty tensors are contiguous whatever their stride
        assert ember.zeros(3, 1).expand(3, 1).is_contiguous()
        assert ember.zeros(0, 3).t().is_contiguous()
        assert x[:, 1:3].is_contiguous() is False
        assert x[1:3].is_contiguous()

    def test_views_chain_base_and_writes(self):
        x = ember.zeros(4, 4)
        v = x[1:3].t()[1:]
        assert v._base is x
        v.fill_(1.0)
        ref = np.zeros((4, 4))
        ref[1:3, 1:] = 1.0
        np.testing.assert_array_equal(x.numpy(), ref)
        v.mul_(3.0)
        v += 1.0
        ref[1:3, 1:] = 4.0
        np.testing.assert_array_equal(x.numpy(), ref)
        # version counter is shared between a view and its base
        before = x._version
        v.add_(1.0)
        assert x._version > before and v._version == x._version

    def test_numpy_of_view_is_a_view(self):
        x = ember.arange(12.0).view(3, 4)
        t = x.t()
        arr = t.numpy()
        assert arr.strides == (4, 16)
        assert np.shares_memory(arr, x.numpy())
        arr[0, 1] = -3.0
        assert x[1, 0].item() == -3.0


# ================================================================================ creation / conversion


class TestCreation:
    @pytest.mark.parametrize("data, dtype", [
        ([1.0, 2.0], ember.float32), (1.5, ember.float32), ([1, 2], ember.int64), (3, ember.int64),
        ([True, False], ember.bool), (True, ember.bool), ([1, 2.5], ember.float32), ([[1, 2], [3, 4]], ember.int64),
        ([True, 2], ember.int64),
    ])
    def test_tensor_dtype_inference(self, data, dtype):
        t = ember.tensor(data)
        assert t.dtype is dtype
        np.testing.assert_array_equal(t.numpy(), np.array(data))

    @pytest.mark.parametrize("npdtype, dtype", [
        (np.float64, ember.float64), (np.float32, ember.float32), (np.float16, ember.float16),
        (np.int32, ember.int32), (np.int64, ember.int64), (np.uint8, ember.uint8), (np.bool_, ember.bool),
    ])
    def test_tensor_from_numpy_keeps_dtype(self, npdtype, dtype):
        a = np.arange(6).reshape(2, 3).astype(npdtype)
        t = ember.tensor(a)
        assert t.dtype is dtype
        assert t.shape == (2, 3)
        np.testing.assert_array_equal(t.numpy(), a)
        # ember.tensor copies
        assert not np.shares_memory(t.numpy(), a)

    def test_tensor_explicit_dtype_and_requires_grad(self):
        t = ember.tensor([1, 2], dtype=ember.float64, requires_grad=True)
        assert t.dtype is ember.float64 and t.requires_grad and t.is_leaf
        assert ember.tensor([[]]).shape == (1, 0)
        assert ember.tensor([]).dtype is ember.float32

    def test_as_tensor_and_from_numpy_share_memory(self):
        a = np.arange(6.0).reshape(2, 3)
        t = ember.from_numpy(a)
        assert t.dtype is ember.float64
        a[0, 0] = 10.0
        assert t[0, 0].item() == 10.0
        t[1, 2] = -5.0
        assert a[1, 2] == -5.0
        assert t.data_ptr() == a.ctypes.data
        # a non-contiguous numpy array keeps its strides
        b = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]
        tb = ember.from_numpy(b)
        assert tb.stride() == (4, 2)
        np.testing.assert_array_equal(tb.numpy(), b)
        b[2, 1] = 77
        assert tb[2, 1].item() == 77
        # as_tensor of a numpy array of the same dtype shares; of a list it creates
        c = np.ones(3, dtype=np.float32)
        ac = ember.as_tensor(c)
        c[0] = 5
        assert ac[0].item() == 5
        assert ember.as_tensor([1, 2]).dtype is ember.int64
        x = ember.ones(2)
        assert ember.as_tensor(x) is x
        d = ember.as_tensor(c, dtype=ember.float64)
        c[1] = 9
        assert d[1].item() == 1.0  # converted: a copy

    def test_numpy_zero_copy(self):
        t = ember.arange(5.0)
        a = t.numpy()
        assert a.ctypes.data == t.data_ptr()
        a[2] = 100
        assert t[2].item() == 100
        t.add_(1)
        assert a[2] == 101
        r = ember.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="requires grad"):
            r.numpy()
        assert r.detach().numpy().tolist() == [1.0, 1.0]

    def test_item_tolist_scalars(self):
        assert ember.tensor(3.5).item() == 3.5
        assert isinstance(ember.tensor(3).item(), int)
        assert isinstance(ember.tensor(3.0).item(), float)
        assert isinstance(ember.tensor(True).item(), bool)
        assert ember.tensor([[7]]).item() == 7
        with pytest.raises((RuntimeError, ValueError)):
            ember.tensor([1, 2]).item()
        assert ember.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
        assert ember.tensor(2.5).tolist() == 2.5
        assert ember.tensor([1.5, 2.0]).tolist() == [1.5, 2.0]
        assert ember.tensor([True]).tolist() == [True]
        assert float(ember.tensor([2.5])) == 2.5
        assert int(ember.tensor(7.9)) == 7
        assert bool(ember.tensor([0.0])) is False
        assert bool(ember.tensor(3)) is True
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(ember.tensor([1, 2]))

    def test_shape_size_dim_numel_dtype_device(self):
        t = ember.zeros(2, 3, 4)
        assert t.shape == (2, 3, 4)
        assert isinstance(t.shape, ember.Size) and isinstance(t.shape, tuple)
        assert t.size() == ember.Size([2, 3, 4])
        assert t.size(1) == 3 and t.size(-1) == 4
        assert t.dim() == 3 and t.ndim == 3
        assert t.numel() == 24
        assert t.dtype is ember.float32
        assert str(t.device) == "cpu"
        assert t.device.type == "cpu"
        assert repr(t.shape) == "ember.Size([2, 3, 4])"
        assert ember.tensor(1.0).shape == () and ember.tensor(1.0).dim() == 0 and ember.tensor(1.0).numel() == 1

    def test_len_iter(self):
        t = ember.arange(6).view(3, 2)
        assert len(t) == 3
        rows = list(t)
        assert len(rows) == 3
        assert rows[1].tolist() == [2, 3]
        assert [int(v) for v in ember.tensor([4, 5])] == [4, 5]
        with pytest.raises(TypeError):
            len(ember.tensor(1.0))
        with pytest.raises(TypeError):
            iter(ember.tensor(1.0))

    @pytest.mark.parametrize("method, dtype", [
        ("float", ember.float32), ("double", ember.float64), ("half", ember.float16), ("long", ember.int64),
        ("int", ember.int32), ("bool", ember.bool), ("bfloat16", ember.bfloat16),
    ])
    def test_dtype_conversion_methods(self, method, dtype):
        t = ember.tensor([0.0, 1.5, -2.7, 3.0])
        c = getattr(t, method)()
        assert c.dtype is dtype
        ref = np.array([0.0, 1.5, -2.7, 3.0], dtype=np.float32)
        expect = {"float": ref, "double": ref.astype(np.float64), "half": ref.astype(np.float16),
                  "long": np.trunc(ref), "int": np.trunc(ref), "bool": ref != 0, "bfloat16": None}[method]
        if expect is not None:
            np.testing.assert_array_equal(np.asarray(c.numpy(), dtype=np.float64), np.asarray(expect, np.float64))

    def test_to_dtype(self):
        t = ember.tensor([1, 2, 3])
        f = t.to(ember.float64)
        assert f.dtype is ember.float64 and f.tolist() == [1.0, 2.0, 3.0]
        assert t.to(ember.int64) is t  # same dtype: no copy
        assert t.to("cpu") is t
        assert t.to(ember.float32).dtype is ember.float32
        assert t.to(dtype=ember.float16).dtype is ember.float16
        assert t.to(ember.zeros(1, dtype=ember.float64)).dtype is ember.float64
        c = t.to(ember.int64, copy=True)
        assert c is not t and c.data_ptr() != t.data_ptr()


# ================================================================================ operators


class TestOperators:
    def setup_method(self):
        self.an = np.array([[1.5, -2.0, 3.0], [4.0, 5.5, -6.25]], dtype=np.float32)
        self.bn = np.array([[2.0, 0.5, -1.5], [3.0, -4.0, 2.5]], dtype=np.float32)
        self.a = ember.tensor(self.an)
        self.b = ember.tensor(self.bn)

    @pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                    operator.floordiv, operator.mod, operator.pow])
    def test_binary(self, op):
        a, b, an, bn = self.a, self.b, self.an, self.bn
        if op is operator.pow:
            a, an = a.abs(), np.abs(an)
        out = op(a, b)
        np.testing.assert_allclose(out.numpy(), op(an, bn), rtol=1e-6)
        np.testing.assert_allclose(op(a, 2.5).numpy(), op(an, np.float32(2.5)), rtol=1e-6)
        np.testing.assert_allclose(op(3.0, b.abs() + 1).numpy(), op(np.float32(3.0), np.abs(bn) + 1), rtol=1e-6)
        # broadcasting
        np.testing.assert_allclose(op(a, b[0]).numpy(), op(an, bn[0]), rtol=1e-6)

    def test_mod_floordiv_sign_conventions(self):
        x = ember.tensor([-7, 7, -7, 7])
        y = ember.tensor([2, -2, -2, 2])
        assert (x % y).tolist() == [1, -1, -1, 1]  # Python/numpy convention: sign of the divisor
        assert (x // y).tolist() == [-4, -4, 3, 3]
        xf = ember.tensor([-7.5, 7.5])
        assert (xf % 2).tolist() == [0.5, 1.5]
        assert (xf // 2).tolist() == [-4.0, 3.0]
        assert (5 % ember.tensor([3, -3])).tolist() == [2, -1]
        assert (5 // ember.tensor([3, -3])).tolist() == [1, -2]

    def test_int_true_division_gives_float(self):
        r = ember.tensor([1, 2, 3]) / ember.tensor([2, 2, 2])
        assert r.dtype is ember.float32
        assert r.tolist() == [0.5, 1.0, 1.5]
        assert (ember.tensor([3]) / 2).tolist() == [1.5]

    def test_matmul(self):
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        b = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_allclose((ember.tensor(a) @ ember.tensor(b)).numpy(), a @ b)
        v = np.array([1.0, -1.0, 2.0], dtype=np.float32)
        np.testing.assert_allclose((ember.tensor(a) @ ember.tensor(v)).numpy(), a @ v)
        assert (ember.tensor(v) @ ember.tensor(v)).shape == ()
        # batched with broadcasting
        x = np.random.RandomState(0).randn(2, 1, 3, 4).astype(np.float32)
        y = np.random.RandomState(1).randn(5, 4, 2).astype(np.float32)
        np.testing.assert_allclose((ember.tensor(x) @ ember.tensor(y)).numpy(), x @ y, rtol=1e-5, atol=1e-5)

    def test_unary(self):
        np.testing.assert_array_equal((-self.a).numpy(), -self.an)
        np.testing.assert_array_equal((+self.a).numpy(), self.an)
        np.testing.assert_array_equal(abs(self.a).numpy(), np.abs(self.an))
        assert (~ember.tensor([True, False])).tolist() == [False, True]
        assert (~ember.tensor([0, 5])).tolist() == [-1, -6]

    @pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne])
    def test_comparisons(self, op):
        out = op(self.a, self.b)
        assert out.dtype is ember.bool
        np.testing.assert_array_equal(out.numpy(), op(self.an, self.bn))
        np.testing.assert_array_equal(op(self.a, 3.0).numpy(), op(self.an, 3.0))
        np.testing.assert_array_equal(op(3.0, self.a).numpy(), op(3.0, self.an))

    def test_logical_bitwise_operators(self):
        p = ember.tensor([True, True, False, False])
        q = ember.tensor([True, False, True, False])
        assert (p & q).tolist() == [True, False, False, False]
        assert (p | q).tolist() == [True, True, True, False]
        assert (p ^ q).tolist() == [False, True, True, False]
        i = ember.tensor([12, 10])
        assert (i & 6).tolist() == [4, 2]
        assert (i | 1).tolist() == [13, 11]
        assert (i ^ ember.tensor([15, 15])).tolist() == [3, 5]

    def test_shift_operators(self):
        i = ember.tensor([12, 10])
        assert (i << 1).tolist() == [24, 20]
        assert (i >> 2).tolist() == [3, 2]

    @pytest.mark.parametrize("name, op", [
        ("__iadd__", np.add), ("__isub__", np.subtract), ("__imul__", np.multiply), ("__itruediv__", np.divide),
        ("__ipow__", np.power), ("__ifloordiv__", np.floor_divide), ("__imod__", np.mod)])
    def test_inplace_operators(self, name, op):
        x = ember.tensor(np.abs(self.an))
        ptr, version = x.data_ptr(), x._version
        alias = x
        y = getattr(x, name)(ember.tensor(np.abs(self.bn)) + 1)
        assert y is alias
        assert x.data_ptr() == ptr
        assert x._version > version
        np.testing.assert_allclose(x.numpy(), op(np.abs(self.an), np.abs(self.bn) + 1), rtol=1e-6)
        x2 = ember.tensor(np.abs(self.an))
        getattr(x2, name)(2)
        np.testing.assert_allclose(x2.numpy(), op(np.abs(self.an), np.float32(2)), rtol=1e-6)

    def test_inplace_statement_forms(self):
        x = ember.ones(3)
        ref = x
        x += 1
        x *= ember.tensor([1.0, 2.0, 3.0])
        x -= 0.5
        x /= 2
        assert x is ref
        np.testing.assert_allclose(x.numpy(), (np.array([2.0, 4.0, 6.0]) - 0.5) / 2)
        m = ember.eye(2)
        m @= ember.tensor([[1.0, 2.0], [3.0, 4.0]])
        np.testing.assert_array_equal(m.numpy(), [[1.0, 2.0], [3.0, 4.0]])

    def test_imatmul_is_out_of_place_like_pytorch(self):
        m = ember.eye(2)
        alias = m
        m @= ember.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert m is not alias
        assert alias.tolist() == [[1.0, 0.0], [0.0, 1.0]]

    def test_inplace_cannot_change_dtype_category(self):
        x = ember.tensor([1, 2])
        with pytest.raises(RuntimeError, match="(?i)cast|float|long|int64"):
            x += 1.5
        y = ember.tensor([1.0, 2.0])
        y += ember.tensor([1, 2])  # int into float is allowed
        assert y.dtype is ember.float32 and y.tolist() == [2.0, 4.0]

    def test_inplace_into_broadcast_shape_raises(self):
        x = ember.zeros(3)
        with pytest.raises(RuntimeError):
            x += ember.ones(2, 3)

    @pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow])
    def test_reflected_with_scalars(self, op):
        x = ember.tensor([1.0, 2.0, 4.0])
        xn = np.array([1.0, 2.0, 4.0], dtype=np.float32)
        np.testing.assert_allclose(op(2, x).numpy(), op(np.float32(2), xn), rtol=1e-6)
        np.testing.assert_allclose(op(2.5, x).numpy(), op(np.float32(2.5), xn), rtol=1e-6)
        r = op(np.float64(2.0), x)
        assert isinstance(r, ember.Tensor)
        np.testing.assert_allclose(r.numpy(), op(2.0, xn), rtol=1e-6)


# ================================================================================ indexing


class TestIndexing:
    def setup_method(self):
        self.xn = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
        self.x = ember.tensor(self.xn)

    @pytest.mark.parametrize("index", [
        0, -1, (1, 2), (1, 2, 3), slice(None), slice(1, None), slice(None, None, 2), (slice(None), 1),
        (Ellipsis, 2), (1, Ellipsis), (None,), (None, 1), (slice(None), None, slice(1, 3)), (Ellipsis, None),
        (0, slice(None, None, 3), -2), (slice(-2, None), slice(None, -1)), (slice(5, 10),), (slice(3, 1),),
        (0, [0, 2]), ([0, 2], slice(None), [1, 3]), ([[0, 1], [2, 0]],), (slice(None), [3, 0, 3]),
        (Ellipsis, [0, 4]), ([0, 1], [1, 2], [2, 3]), (1, [0, 1], None),
    ])
    def test_getitem_matches_numpy(self, index):
        out = self.x[index]
        ref = self.xn[index]
        assert tuple(out.shape) == ref.shape
        np.testing.assert_array_equal(out.numpy(), ref)

    def test_getitem_int_returns_view_advanced_returns_copy(self):
        x = self.x
        assert x[1].data_ptr() == x.data_ptr() + 20 * 4
        assert x[..., 1:3]._base is x
        adv = x[[0, 2]]
        adv.fill_(-1)
        assert x[0, 0, 0].item() == 0.0

    def test_getitem_tensor_indices(self):
        idx = ember.tensor([2, 0])
        np.testing.assert_array_equal(self.x[idx].numpy(), self.xn[[2, 0]])
        np.testing.assert_array_equal(self.x[:, idx].numpy(), self.xn[:, [2, 0]])
        mask = self.x > 30
        np.testing.assert_array_equal(self.x[mask].numpy(), self.xn[self.xn > 30])
        rowmask = ember.tensor([True, False, True])
        np.testing.assert_array_equal(self.x[rowmask].numpy(), self.xn[[True, False, True]])
        np.testing.assert_array_equal(self.x[ember.tensor(1)].numpy(), self.xn[1])
        np.testing.assert_array_equal(self.x[np.array([1, 0])].numpy(), self.xn[[1, 0]])
        assert self.x[ember.tensor(True)].shape == (1, 3, 4, 5)

    @pytest.mark.parametrize("index, value", [
        (0, 1.0), ((1, 2), -3.0), ((slice(None), 1), 7.0), ((Ellipsis, 2), 0.0), ((slice(None, None, 2),), 5.0),
        (([0, 2], slice(None), [1, 3]), 9.0), ((1, [0, 3]), -1.0), ((None, 1), 4.0),
    ])
    def test_setitem_scalar(self, index, value):
        x, xn = self.x.clone(), self.xn.copy()
        x[index] = value
        xn[index] = value
        np.testing.assert_array_equal(x.numpy(), xn)

    def test_setitem_tensor_values_and_broadcast(self):
        x, xn = self.x.clone(), self.xn.copy()
        x[1] = ember.arange(5.0)
        xn[1] = np.arange(5.0)
        x[:, 0] = ember.ones(3, 1) * 8
        xn[:, 0] = np.ones((3, 1)) * 8
        x[[0, 2], 1] = ember.tensor([[1.0, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
        xn[[0, 2], 1] = np.array([[1.0, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
        x[..., -1] = ember.full((3, 4), 2.0)
        xn[..., -1] = 2.0
        np.testing.assert_array_equal(x.numpy(), xn)
        y = ember.zeros(3)
        y[1] = ember.tensor(5)  # int tensor value into float tensor
        assert y.tolist() == [0.0, 5.0, 0.0]

    def test_setitem_boolean_mask(self):
        gn = np.array([[-1.0, 2.0], [3.0, -4.0]], dtype=np.float32)
        g = ember.tensor(gn)
        g[g < 0] = 0
        assert g.tolist() == [[0.0, 2.0], [3.0, 0.0]]
        h = ember.tensor(gn)
        h[h > 0] = ember.tensor([10.0, 20.0])
        assert h.tolist() == [[-1.0, 10.0], [20.0, -4.0]]
        k = ember.tensor(gn)
        k[ember.tensor([False, True])] = 1.0
        assert k.tolist() == [[-1.0, 2.0], [1.0, 1.0]]

    def test_setitem_bumps_version_and_writes_through_views(self):
        x = ember.zeros(4, 4)
        v = x[1:3]
        version = x._version
        v[:, 1] = 5.0
        assert x._version > version
        assert x[1, 1].item() == 5.0 and x[2, 1].item() == 5.0 and x.sum().item() == 10.0

    def test_index_select_gather(self):
        x = ember.tensor(self.xn)
        np.testing.assert_array_equal(ember.index_select(x, 1, ember.tensor([3, 0])).numpy(), self.xn[:, [3, 0]])
        m = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert ember.gather(m, 1, ember.tensor([[0, 0], [1, 0]])).tolist() == [[1.0, 1.0], [4.0, 3.0]]


# ================================================================================ repr


class TestRepr:
    @pytest.mark.parametrize("make, expected", [
        (lambda: ember.tensor([[1.0, 2.0]], requires_grad=True), "tensor([[1., 2.]], requires_grad=True)"),
        (lambda: ember.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
        (lambda: ember.tensor(3.5), "tensor(3.5000)"),
        (lambda: ember.tensor([1, 2], dtype=ember.int32), "tensor([1, 2], dtype=ember.int32)"),
        (lambda: ember.tensor([1.5, 2.25], dtype=ember.float64), "tensor([1.5000, 2.2500], dtype=ember.float64)"),
        (lambda: ember.tensor([True, False]), "tensor([ True, False])"),
        (lambda: ember.tensor([[1.0, -2.5], [3.0, 4.0]]), "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])"),
        (lambda: ember.tensor([], dtype=ember.float32), "tensor([])"),
        (lambda: ember.zeros(0, 3), "tensor([], size=(0, 3))"),
        (lambda: ember.tensor(7), "tensor(7)"),
        (lambda: ember.tensor([0.1, 100.0]), "tensor([  0.1000, 100.0000])"),
        (lambda: ember.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<MulBackward0>)"),
        (lambda: ember.tensor([1.0, 2.0], requires_grad=True).sum(), "tensor(3., grad_fn=<SumBackward0>)"),
        (lambda: ember.tensor([1.0, 2.0], dtype=ember.float16), "tensor([1., 2.], dtype=ember.float16)"),
    ])
    def test_repr(self, make, expected):
        assert repr(make()) == expected


    @pytest.mark.parametrize("data", [
        [[1.0, 2.0]], [1, 2, 3], 3.5, [1e-5, 1.0], [1e10, 1.0], [[0.5, -1.25], [3.0, 100.0]], [0.0, 100.0],
        [[1.5] * 3] * 3, [123456.0, 0.001], [True, True], [-1.5, 1e9], [1.5, 2000.0],
        pytest.param([float("nan"), float("inf"), 1.0]),
        pytest.param([-0.0, 2.0]),
        pytest.param(list(range(1200))),
        pytest.param([1.0, 1001.0]),
        pytest.param([float(i) for i in range(1200)]),
    ])
    def test_repr_matches_pytorch(self, data):
        torch = pytest.importorskip("torch")
        assert repr(ember.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "ember.")


# ================================================================================ type promotion


class TestPromotion:
    @pytest.mark.parametrize("a, b, expected", [
        (lambda: ember.tensor([1, 2]) * 2, None, ember.int64),
        (lambda: ember.tensor([1, 2], dtype=ember.int32) * 2, None, ember.int32),
        (lambda: ember.tensor([1.0], dtype=ember.float16) + 1.0, None, ember.float16),
        (lambda: ember.tensor([1.0], dtype=ember.bfloat16) * 3, None, ember.bfloat16),
        (lambda: ember.tensor([1, 2]) + 1.5, None, ember.float32),
        (lambda: ember.tensor([1, 2], dtype=ember.int32) + 1.5, None, ember.float32),
        (lambda: ember.tensor([1, 2], dtype=ember.uint8) + 1, None, ember.uint8),
        (lambda: ember.tensor([True]) + 1, None, ember.int64),
        (lambda: ember.tensor([True]) + 1.0, None, ember.float32),
        (lambda: ember.tensor([True]) & True, None, ember.bool),
        (lambda: ember.tensor([1, 2], dtype=ember.int32) + ember.tensor([1, 2]), None, ember.int64),
        (lambda: ember.tensor([1, 2], dtype=ember.uint8) + ember.tensor([1, 2], dtype=ember.int32), None, ember.int32),
        (lambda: ember.tensor([1.0]) + ember.tensor([1.0], dtype=ember.float64), None, ember.float64),
        (lambda: ember.tensor([1.0], dtype=ember.float16) + ember.tensor([1.0]), None, ember.float32),
        (lambda: ember.tensor([1.0], dtype=ember.float16) + ember.tensor([1.0], dtype=ember.bfloat16), None,
         ember.float32),
        (lambda: ember.tensor([1]) + ember.tensor([1.0], dtype=ember.float16), None, ember.float16),
        # a 0-d tensor does not promote a dimensioned tensor of the same category...
        (lambda: ember.tensor([1.0]) + ember.tensor(1.0, dtype=ember.float64), None, ember.float32),
        (lambda: ember.tensor([1], dtype=ember.int32) + ember.tensor(1), None, ember.int32),
        (lambda: ember.tensor([1.0], dtype=ember.float16) * ember.tensor(2.0, dtype=ember.float64), None,
         ember.float16),
        # ...but does when of a higher category
        (lambda: ember.tensor([1, 2]) + ember.tensor(1.0, dtype=ember.float64), None, ember.float64),
        (lambda: ember.tensor([1], dtype=ember.int32) * ember.tensor(1.5, dtype=ember.float16), None, ember.float16),
        (lambda: ember.tensor([True]) + ember.tensor(3), None, ember.int64),
        # two 0-d tensors promote normally
        (lambda: ember.tensor(1.0) + ember.tensor(1.0, dtype=ember.float64), None, ember.float64),
        (lambda: ember.tensor(1, dtype=ember.int32) + ember.tensor(1), None, ember.int64),
        (lambda: ember.tensor([1, 2]) / 2, None, ember.float32),
        (lambda: ember.tensor([1, 2]) / ember.tensor([2, 2]), None, ember.float32),
        (lambda: ember.tensor([1.0], dtype=ember.float64) > 0, None, ember.bool),
        (lambda: ember.where(ember.tensor([True]), ember.tensor([1]), ember.tensor([1.0])), None, ember.float32),
    ])
    def test_result_dtype(self, a, b, expected):
        assert a().dtype is expected

    def test_values_under_promotion(self):
        assert (ember.tensor([1, 2]) * 2).tolist() == [2, 4]
        assert (ember.tensor([1, 2]) + 1.5).tolist() == [2.5, 3.5]
        big = ember.tensor([2 ** 40])
        assert (big + 1).tolist() == [2 ** 40 + 1]  # int64 arithmetic, never through float32
        h = ember.tensor([1000.0], dtype=ember.float16) + 0.5
        assert h.dtype is ember.float16 and h.item() == 1000.5
        assert (ember.tensor([200], dtype=ember.uint8) + 100).tolist() == [44]  # wraps like PyTorch

    def test_promote_types_and_result_type(self):
        assert ember.promote_types(ember.int32, ember.float16) is ember.float16
        assert ember.promote_types(ember.uint8, ember.bool) is ember.uint8
        assert ember.promote_types(ember.bfloat16, ember.float16) is ember.float32
        assert ember.result_type(ember.tensor([1]), 1.0) is ember.float32
        assert ember.result_type(ember.tensor([1.0], dtype=ember.float16), 1.0) is ember.float16

    def test_promotion_matches_pytorch(self):
        torch = pytest.importorskip("torch")
        dtypes = ["bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
        scalars = [True, 2, 2.5]
        for da in dtypes:
            for db in dtypes:
                for sa, sb in [((2,), (2,)), ((2,), ()), ((), (2,)), ((), ())]:
                    ea = ember.ones(sa, dtype=getattr(ember, da))
                    eb = ember.ones(sb, dtype=getattr(ember, db))
                    ta = torch.ones(sa, dtype=getattr(torch, da))
                    tb = torch.ones(sb, dtype=getattr(torch, db))
                    assert (ea + eb).dtype._name == str((ta + tb).dtype).split(".")[1], (da, db, sa, sb)
            for s in scalars:
                ea = ember.ones(2, dtype=getattr(ember, da))
                ta = torch.ones(2, dtype=getattr(torch, da))
                assert (ea * s).dtype._name == str((ta * s).dtype).split(".")[1], (da, s)


# ================================================================================ RNG


class TestRandom:
    def test_manual_seed_reproducible(self):
        ember.manual_seed(123)
        a = ember.rand(100)
        b = ember.randn(3, 4)
        c = ember.randint(0, 10, (50,))
        ember.manual_seed(123)
        assert ember.equal(ember.rand(100), a)
        assert ember.equal(ember.randn(3, 4), b)
        assert ember.equal(ember.randint(0, 10, (50,)), c)
        ember.manual_seed(124)
        assert not ember.equal(ember.rand(100), a)
        assert ember.initial_seed() == 124

    def test_rng_state_roundtrip(self):
        ember.manual_seed(5)
        ember.rand(10)
        state = ember.get_rng_state()
        a = ember.randn(20)
        ember.set_rng_state(state)
        assert ember.equal(ember.randn(20), a)

    def test_generator_independence(self):
        g1 = ember.Generator().manual_seed(42)
        g2 = ember.Generator().manual_seed(42)
        a = ember.rand(50, generator=g1)
        ember.manual_seed(0)
        ember.rand(1000)  # drawing from the default generator does not move g2
        b = ember.rand(50, generator=g2)
        assert ember.equal(a, b)
        # nor does drawing from g1 move the default generator
        ember.manual_seed(7)
        d1 = ember.rand(10)
        ember.manual_seed(7)
        ember.rand(100, generator=g1)
        assert ember.equal(ember.rand(10), d1)
        # consecutive draws differ
        assert not ember.equal(ember.rand(50, generator=g1), ember.rand(50, generator=g1))
        # in-place fills take a generator too
        g3 = ember.Generator().manual_seed(1)
        g4 = ember.Generator().manual_seed(1)
        assert ember.equal(ember.empty(30).normal_(generator=g3), ember.empty(30).normal_(generator=g4))

    def test_rand_statistics(self):
        ember.manual_seed(0)
        x = ember.rand(200_000).numpy().astype(np.float64)
        assert x.min() >= 0.0 and x.max() < 1.0
        assert abs(x.mean() - 0.5) < 0.005
        assert abs(x.var() - 1 / 12) < 0.002
        hist, _ = np.histogram(x, bins=10, range=(0, 1))
        assert (np.abs(hist / 20_000 - 1) < 0.05).all()
        assert ember.rand(2, 3, dtype=ember.float64).dtype is ember.float64

    @pytest.mark.parametrize("dt", ["float16", "bfloat16"])
    def test_rand_low_precision_below_one(self, dt):
        # a draw near 1 must not round up to 1 in a type with a short significand
        x = ember.rand(100_000, dtype=getattr(ember, dt)).float().numpy()
        assert x.min() >= 0.0 and x.max() < 1.0
        assert abs(x.mean() - 0.5) < 0.01

    @pytest.mark.parametrize("dt", ["float32", "float64"])
    def test_randn_statistics_threads(self, dt):
        # chunked generation: the same stream whatever the thread count, and the tails of a Gaussian
        n = ember.get_num_threads()
        try:
            ember.set_num_threads(1)
            ember.manual_seed(11)
            a = ember.randn(300_001, dtype=getattr(ember, dt)).numpy()
            ember.set_num_threads(2)
            ember.manual_seed(11)
            b = ember.randn(300_001, dtype=getattr(ember, dt)).numpy()
        finally:
            ember.set_num_threads(n)
        assert np.array_equal(a, b)
        x = a.astype(np.float64)
        assert abs((np.abs(x) > 2).mean() - 0.0455) < 0.003
        assert abs((np.abs(x) > 3).mean() - 0.0027) < 0.0008
        assert np.isfinite(x).all()

    def test_randn_statistics(self):
        ember.manual_seed(1)
        x = ember.randn(200_000).numpy().astype(np.float64)
        assert abs(x.mean()) < 0.01
        assert abs(x.std() - 1) < 0.01
        assert abs((np.abs(x) < 1).mean() - 0.6827) < 0.01
        assert abs(((x - x.mean()) ** 3).mean()) < 0.05  # symmetric
        assert abs((x ** 4).mean() - 3) < 0.1  # Gaussian kurtosis

    def test_randint(self):
        ember.manual_seed(2)
        x = ember.randint(-3, 4, (70_000,))
        assert x.dtype is ember.int64
        xn = x.numpy()
        assert xn.min() == -3 and xn.max() == 3
        counts = np.bincount(xn + 3)
        assert (np.abs(counts / 10_000 - 1) < 0.05).all()
        y = ember.randint(5, (3, 2))
        assert y.shape == (3, 2) and (y.numpy() >= 0).all() and (y.numpy() < 5).all()
        assert ember.randint(0, 2, (4,), dtype=ember.int32).dtype is ember.int32

    def test_randperm(self):
        ember.manual_seed(3)
        p = ember.randperm(1000)
        assert p.dtype is ember.int64
        assert sorted(p.tolist()) == list(range(1000))
        assert p.tolist() != list(range(1000))
        # position of element 0 is uniform-ish over many permutations of 4
        pos = [ember.randperm(4).tolist().index(0) for _ in range(400)]
        assert all(50 < pos.count(k) < 150 for k in range(4))

    def test_normal_uniform_inplace(self):
        ember.manual_seed(4)
        x = ember.empty(100_000).normal_(2.0, 3.0).numpy().astype(np.float64)
        assert abs(x.mean() - 2.0) < 0.05 and abs(x.std() - 3.0) < 0.05
        u = ember.empty(100_000, dtype=ember.float64).uniform_(-2.0, 5.0).numpy()
        assert u.min() >= -2.0 and u.max() < 5.0
        assert abs(u.mean() - 1.5) < 0.05
        t = ember.zeros(10)
        r = t.uniform_()
        assert r is t and (t.numpy() > 0).any()
        n = ember.normal(ember.tensor([0.0, 100.0]), ember.tensor([1.0, 0.001]))
        assert abs(n[1].item() - 100.0) < 0.1

    def test_bernoulli(self):
        ember.manual_seed(5)
        p = ember.full((100_000,), 0.3)
        b = ember.bernoulli(p).numpy()
        assert set(np.unique(b).tolist()) <= {0.0, 1.0}
        assert abs(b.mean() - 0.3) < 0.01
        pv = ember.tensor([0.0, 1.0]).expand(5000, 2)
        bv = ember.bernoulli(pv).numpy()
        assert (bv[:, 0] == 0).all() and (bv[:, 1] == 1).all()
        x = ember.empty(50_000).bernoulli_(0.8).numpy()
        assert abs(x.mean() - 0.8) < 0.01


# ================================================================================ factories


class TestFactories:
    @pytest.mark.parametrize("fn, value", [(ember.zeros, 0.0), (ember.ones, 1.0)])
    def test_zeros_ones(self, fn, value):
        for args in [(3,), (2, 3), ((2, 3),), ([4],), (ember.Size([1, 2]),)]:
            t = fn(*args)
            shape = args[0] if len(args) == 1 and not isinstance(args[0], int) else args
            assert t.shape == tuple(shape)
            assert t.dtype is ember.float32
            assert (t.numpy() == value).all()
        assert fn(2, dtype=ember.int32).dtype is ember.int32
        assert fn(2, requires_grad=True).requires_grad
        assert fn(0, 3).numel() == 0

    def test_empty_full(self):
        e = ember.empty(2, 3)
        assert e.shape == (2, 3) and e.is_contiguous()
        f = ember.full((2, 2), 7.0)
        assert f.dtype is ember.float32 and f.tolist() == [[7.0, 7.0], [7.0, 7.0]]
        assert ember.full((2,), 7).dtype is ember.int64
        assert ember.full((2,), True).dtype is ember.bool
        assert ember.full((1,), 2.5, dtype=ember.float64).dtype is ember.float64

    def test_arange(self):
        assert ember.arange(5).tolist() == [0, 1, 2, 3, 4]
        assert ember.arange(5).dtype is ember.int64
        assert ember.arange(5.0).dtype is ember.float32
        assert ember.arange(1, 4).tolist() == [1, 2, 3]
        assert ember.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
        np.testing.assert_allclose(ember.arange(0, 1, 0.1).numpy(), np.arange(0, 1, 0.1, dtype=np.float32),
                                   rtol=1e-6)
        assert ember.arange(0, 1, 0.1).shape == (10,)
        assert ember.arange(3, dtype=ember.float64).dtype is ember.float64
        assert ember.arange(0).shape == (0,)

    def test_linspace(self):
        np.testing.assert_allclose(ember.linspace(-1, 1, 5).numpy(), np.linspace(-1, 1, 5), rtol=1e-6)
        assert ember.linspace(0, 1, 5).dtype is ember.float32
        assert ember.linspace(0, 1, 1).tolist() == [0.0]
        x = ember.linspace(0, 10, 101)
        assert x[0].item() == 0.0 and x[-1].item() == 10.0
        np.testing.assert_allclose(x.numpy(), np.linspace(0, 10, 101), rtol=1e-6, atol=1e-6)

    def test_eye(self):
        np.testing.assert_array_equal(ember.eye(3).numpy(), np.eye(3))
        np.testing.assert_array_equal(ember.eye(2, 4).numpy(), np.eye(2, 4))
        assert ember.eye(2, dtype=ember.int64).dtype is ember.int64

    def test_like_factories(self):
        x = ember.arange(6, dtype=ember.int32).view(2, 3).t()
        for fn, v in [(ember.zeros_like, 0), (ember.ones_like, 1)]:
            y = fn(x)
            assert y.shape == (3, 2) and y.dtype is ember.int32 and (y.numpy() == v).all()
        assert ember.full_like(x, 4).tolist() == [[4, 4], [4, 4], [4, 4]]
        assert ember.empty_like(x).shape == (3, 2)
        assert ember.zeros_like(x, dtype=ember.float64).dtype is ember.float64
        r = ember.rand_like(ember.zeros(3, 3, dtype=ember.float64))
        assert r.dtype is ember.float64 and r.shape == (3, 3)
        assert ember.randn_like(ember.zeros(4)).shape == (4,)
        ri = ember.randint_like(ember.zeros(100), 3, 6)
        assert ri.min().item() >= 3 and ri.max().item() <= 5
        assert ember.ones_like(ember.zeros(2, requires_grad=True)).requires_grad is False


# ================================================================================ threads


class TestThreads:
    @pytest.fixture(autouse=True)
    def _restore_threads(self):
        old = ember.get_num_threads()
        yield
        ember.set_num_threads(old)

    def _run(self, fn):
        out = []
        for n in (1, 2):
            ember.set_num_threads(n)
            assert ember.get_num_threads() == n
            out.append(fn())
        return out

    def test_elementwise_identical_with_1_and_2_threads(self):
        ember.manual_seed(0)
        x, y = ember.randn(1_000_000), ember.rand(1_000_000)
        e1, e2 = self._run(lambda: (x * y + 1.0).exp().numpy().copy())
        np.testing.assert_array_equal(e1, e2)
        np.testing.assert_allclose(e1, np.exp(x.numpy() * y.numpy() + 1.0), rtol=1e-6)

    def test_dim_reduction_identical_with_1_and_2_threads(self):
        ember.manual_seed(0)
        x = ember.randn(1_000_000)
        (c1, r1, d1), (c2, r2, d2) = self._run(lambda: (x.view(1000, 1000).sum(0).numpy().copy(),
                                                         x.view(1000, 1000).sum(1).numpy().copy(),
                                                         x.double().sum().item()))
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(r1, r2)
        assert d1 == d2

    def test_full_reduction_identical_with_1_and_2_threads(self):
        ember.manual_seed(0)
        x = ember.randn(1_000_000)
        s1, s2 = self._run(lambda: x.sum().item())
        np.testing.assert_allclose(s1, x.numpy().astype(np.float64).sum(), rtol=1e-4)
        assert s1 == s2
