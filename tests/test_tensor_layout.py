"""Methods that return self or a copy (contiguous, to, type, float/double/half, clone with memory formats,
reshape, flatten, ravel, detach, requires_grad_, type_as, new_*): the layout of the result (strides,
contiguity, shared memory, identity), its place in the graph, and the layout and values of the leaf gradient,
for leaves and views, with and without requires_grad, in and out of no_grad; against PyTorch where installed,
plus torch-free checks of the same properties.
"""
import pickle

import numpy as np
import pytest

import ember


def _base(mod):
    return mod.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4))


# each builder: mod, requires_grad -> (leaf, x): x is the tensor the method is called on
KINDS = {
    "leaf": lambda m, rg: (lambda x: (x, x))(_base(m).requires_grad_(rg)),
    "leaf_t": lambda m, rg: (lambda x: (x, x))(_base(m).t().detach().requires_grad_(rg)),
    "view_t": lambda m, rg: (lambda x: (x, (x * 1).t()))(_base(m).requires_grad_(rg)),
    "slice": lambda m, rg: (lambda x: (x, (x * 1)[:, ::2]))(_base(m).requires_grad_(rg)),
    "expand": lambda m, rg: (lambda x: (x, (x * 1).expand(3, 4)))(_base(m)[:1].clone().requires_grad_(rg)),
}


def _ops(m):
    return {
        "contiguous": lambda x: x.contiguous(),
        "contiguous_view": lambda x: x.contiguous().view(-1),
        "t_contiguous_view": lambda x: x.t().contiguous().view(-1),
        "contiguous_format": lambda x: x.contiguous(memory_format=m.contiguous_format),
        "to_same": lambda x: x.to(m.float32),
        "to_f64": lambda x: x.to(m.float64),
        "to_copy": lambda x: x.to(m.float32, copy=True),
        "to_cpu": lambda x: x.to("cpu"),
        "to_cpu_copy": lambda x: x.to("cpu", copy=True),
        "to_tensor": lambda x: x.to(m.zeros(1, dtype=m.float64)),
        "to_contiguous_format": lambda x: x.to(memory_format=m.contiguous_format),
        "type_same": lambda x: x.type(m.float32),
        "type_str": lambda x: x.type("torch.DoubleTensor"),
        "type_str_same": lambda x: x.type("torch.FloatTensor"),
        "type_as": lambda x: x.type_as(m.zeros(1, dtype=m.float64)),
        "type_as_same": lambda x: x.type_as(m.zeros(1)),
        "float": lambda x: x.float(),
        "double": lambda x: x.double(),
        "half": lambda x: x.half().float(),
        "clone": lambda x: x.clone(),
        "clone_contiguous": lambda x: x.clone(memory_format=m.contiguous_format),
        "clone_preserve": lambda x: x.clone(memory_format=m.preserve_format),
        "reshape_flat": lambda x: x.reshape(-1),
        "reshape_same": lambda x: x.reshape(x.shape),
        "reshape_as": lambda x: x.reshape_as(x),
        "flatten": lambda x: x.flatten(),
        "flatten_nothing": lambda x: x.flatten(1, 1),
        "ravel": lambda x: x.ravel(),
        "view_as": lambda x: x.view_as(x),
        "view_same_dtype": lambda x: x.view(m.float32),
        "detach": lambda x: x.detach(),
        "detach_requires_grad_": lambda x: x.detach().requires_grad_(),
        "data": lambda x: x.data,
        "cpu": lambda x: x.cpu(),
        "squeeze_nothing": lambda x: x.squeeze(),
        "expand_as": lambda x: x.expand_as(x),
        "T_T": lambda x: x.T.T,
        "narrow_all": lambda x: x.narrow(0, 0, x.shape[0]),
    }


def _shares(m, a, b):
    if m is ember:
        return ember._C.same_storage(a, b)
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def _describe(m, kind, rg, op, no_grad):
    leaf, x = KINDS[kind](m, rg)
    if no_grad:
        with m.no_grad():
            y = _ops(m)[op](x)
    else:
        y = _ops(m)[op](x)
    d = dict(shape=tuple(y.shape), stride=tuple(y.stride()), contiguous=y.is_contiguous(), is_self=y is x,
             shares=_shares(m, y, x), dtype=str(y.dtype).split(".")[-1])
    # PyTorch gives views made under no_grad of a tensor that requires grad requires_grad=True (and no
    # grad_fn); Ember's such views do not require grad. Both are outside the graph, so only copies and
    # results made with grad enabled are compared on requires_grad.
    if not (no_grad and d["shares"]):
        d.update(requires_grad=y.requires_grad, is_leaf=y.is_leaf)
    if y.requires_grad and not no_grad:
        w = m.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape))).to(y.dtype)
        (y * w).sum().backward()
        g = leaf.grad
        d["grad"] = None if g is None else (tuple(g.stride()), g.detach().numpy().round(3).tolist())
    return d


@pytest.mark.parametrize("op", list(_ops(ember)))
def test_layout_and_gradient_match_torch(op):
    torch = pytest.importorskip("torch")
    for kind in KINDS:
        for rg in (False, True):
            for no_grad in (False, True):
                want = _describe(torch, kind, rg, op, no_grad)
                got = _describe(ember, kind, rg, op, no_grad)
                assert got == want, "%s on %s%s%s" % (op, kind, " requires_grad" if rg else "",
                                                       " under no_grad" if no_grad else "")


# ------------------------------------------------------------------------------------------- torch-free


def _leaf_t():
    # a transposed (non-contiguous) leaf, as weight.t() parameters are
    return ember.tensor(np.arange(12.0).reshape(3, 4)).t().detach().requires_grad_()


@pytest.mark.parametrize("no_grad", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_contiguous_of_transposed_is_contiguous(requires_grad, no_grad):
    x = ember.tensor(np.arange(12.0).reshape(3, 4), requires_grad=requires_grad)
    with ember.set_grad_enabled(not no_grad):
        y = x.t().contiguous()
    assert y.is_contiguous() and y.stride() == (3, 1)
    assert y.requires_grad == (requires_grad and not no_grad)
    np.testing.assert_array_equal(y.view(-1).detach().numpy(), np.arange(12.0).reshape(3, 4).T.ravel())


def test_attention_head_merge_pattern_backward():
    """q.transpose(1, 2).contiguous().view(B, T, C): the head merge of every attention implementation."""
    b, h, t, d = 2, 3, 4, 5
    q = ember.randn(b, h, t, d, dtype=ember.float64, requires_grad=True)
    merged = q.transpose(1, 2).contiguous().view(b, t, h * d)
    assert merged.is_contiguous()
    w = ember.randn(b, t, h * d, dtype=ember.float64)
    (merged * w).sum().backward()
    want = w.numpy().reshape(b, t, h, d).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(q.grad.numpy(), want)


def test_contiguous_returns_self_when_contiguous():
    x = ember.randn(3, 4, requires_grad=True)
    assert x.contiguous() is x
    assert x.contiguous(memory_format=ember.contiguous_format) is x
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        x.contiguous(memory_format=ember.preserve_format)


def test_clone_memory_formats():
    x = ember.randn(3, 4, dtype=ember.float64).t()
    assert x.clone().stride() == (1, 4)  # preserve_format keeps a dense layout
    assert x.clone(memory_format=ember.preserve_format).stride() == (1, 4)
    c = x.clone(memory_format=ember.contiguous_format)
    assert c.stride() == (3, 1) and not ember._C.same_storage(c, x)
    np.testing.assert_array_equal(c.numpy(), x.numpy())
    y = ember.randn(3, 4)
    assert not ember._C.same_storage(y.clone(memory_format=ember.contiguous_format), y)  # a copy, always
    with pytest.raises(TypeError, match="memory_format"):
        y.clone(memory_format="contiguous")


def test_channels_last_copies_and_gradient():
    x = ember.randn(2, 3, 4, 5, dtype=ember.float64, requires_grad=True)
    y = x.contiguous(memory_format=ember.channels_last)
    assert y.stride() == (60, 1, 15, 3)
    assert y.is_contiguous(memory_format=ember.channels_last) and not y.is_contiguous()
    assert y.contiguous(memory_format=ember.channels_last) is y
    z = x.to(memory_format=ember.channels_last)
    assert z.stride() == (60, 1, 15, 3) and z.requires_grad
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    w = ember.randn(2, 3, 4, 5, dtype=ember.float64)
    (y * w + z * w).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * w.numpy())
    assert x.clone(memory_format=ember.channels_last).contiguous().is_contiguous()
    with pytest.raises(RuntimeError, match="required rank 4"):
        ember.randn(3, 4).contiguous(memory_format=ember.channels_last)
    v = ember.randn(1, 2, 3, 4, 5).to(memory_format=ember.channels_last_3d)
    assert v.stride() == (120, 1, 40, 10, 2)


def test_to_copy_is_differentiable():
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    for y in (x.to(ember.float64, copy=True), x.to(copy=True), x.to("cpu", copy=True)):
        assert y is not x and y.requires_grad and y.grad_fn is not None
        assert not ember._C.same_storage(y, x)
    (x.to(ember.float64, copy=True) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 3.0))


def test_leaf_gradient_takes_a_dense_leaf_layout():
    x = _leaf_t()
    (x * 2).sum().backward()
    assert x.grad.stride() == x.stride() == (1, 4)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((4, 3), 2.0))
    e = ember.randn(1, 4).expand(3, 4).detach().requires_grad_()  # overlapping: the gradient is contiguous
    (e * 2).sum().backward()
    assert e.grad.is_contiguous() and e.grad.shape == (3, 4)
    x.grad = None
    x.float().sum().backward()  # through a conversion whose gradient arrives row-major
    assert x.grad.stride() == (1, 4)


def test_conversions_return_self_when_nothing_changes():
    x = ember.randn(3, 4, requires_grad=True)
    for y in (x.to(ember.float32), x.float(), x.type(ember.float32), x.type("torch.FloatTensor"),
              x.type_as(ember.zeros(1)), x.cpu(), x.to("cpu"), x.flatten(0, 0), x.flatten(-1, 1)):
        assert y is x
    assert x.flatten() is not x and x.flatten().shape == (12,)
    s = ember.tensor(3.0)
    assert s.flatten().shape == (1,)


def test_ravel_is_contiguous():
    x = ember.tensor(np.arange(12.0).reshape(3, 4))[:, ::2]
    r = x.ravel()
    assert r.is_contiguous() and r.shape == (6,)
    np.testing.assert_array_equal(r.numpy(), np.arange(12.0).reshape(3, 4)[:, ::2].ravel())
    y = ember.randn(3, 4)
    assert ember._C.same_storage(y.ravel(), y)


def test_view_as_same_dtype_is_a_detached_alias():
    x = ember.randn(3, 4, requires_grad=True)
    v = x.view(ember.float32)
    assert ember._C.same_storage(v, x) and not v.requires_grad and v.shape == x.shape
    with pytest.raises(NotImplementedError, match="float32 as ember.int32|ember.float32 as ember.int32"):
        x.view(ember.int32)


def test_type_strings():
    x = ember.randn(2)
    assert x.type() == "ember.FloatTensor"
    assert x.type("torch.DoubleTensor").dtype is ember.float64
    assert x.type("ember.LongTensor").dtype is ember.int64
    assert x.type(ember.int32).dtype is ember.int32
    for bad in ("FloatTensor", "float32", "torch.xFloatTensor", "numpy.FloatTensor"):
        with pytest.raises(ValueError, match="invalid type"):
            x.type(bad)
    assert x.type("torch.ShortTensor").dtype is ember.int16 and x.type("torch.CharTensor").dtype is ember.int8
    with pytest.raises(TypeError, match="complex64"):
        x.type("torch.ComplexFloatTensor")
    with pytest.raises(RuntimeError, match="CUDA"):
        x.type("torch.cuda.FloatTensor")
    with pytest.raises(ValueError, match="invalid type"):
        x.type(float)


def test_type_as():
    x = ember.randn(2, 3, requires_grad=True)
    y = x.type_as(ember.zeros(1, dtype=ember.float64))
    assert y.dtype is ember.float64 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype is ember.float32
    assert x.type_as(ember.zeros(1, dtype=ember.int64)).dtype is ember.int64
    with pytest.raises(TypeError, match="Tensor"):
        x.type_as(ember.float64)


def test_new_factories():
    x = ember.randn(2, dtype=ember.float64)
    for t in (x.new_zeros(2, 3), x.new_zeros((2, 3)), x.new_zeros([2, 3]), x.new_zeros(ember.Size([2, 3]))):
        assert t.shape == (2, 3) and t.dtype is ember.float64 and not t.requires_grad
    assert x.new_zeros(()).shape == () and x.new_ones([]).shape == ()
    np.testing.assert_array_equal(x.new_ones(2).numpy(), np.ones(2))
    f = x.new_full((2,), 3, requires_grad=True)
    assert f.dtype is ember.float64 and f.requires_grad and f.tolist() == [3.0, 3.0]
    assert x.new_empty(2, 3, dtype=ember.int64).dtype is ember.int64
    assert x.new_ones(0).shape == (0,)
    i = ember.zeros(1, dtype=ember.int64)
    assert i.new_tensor([1.5]).dtype is ember.int64 and i.new_tensor([1.5]).tolist() == [1]
    src = ember.randn(3, requires_grad=True)
    c = x.new_tensor(src)
    assert not c.requires_grad and not ember._C.same_storage(c, src)
    assert x.new_zeros(2, layout=ember.strided, pin_memory=False).shape == (2,)


def test_new_factories_match_torch():
    torch = pytest.importorskip("torch")
    pairs = []
    for m in (ember, torch):
        x = m.zeros(2, dtype=m.int32)
        pairs.append([(tuple(t.shape), str(t.dtype).split(".")[-1], t.requires_grad) for t in (
            x.new_zeros(2, 3), x.new_ones((1,)), x.new_full((2,), 7), x.new_empty(0), x.new_tensor([[1, 2]]),
            x.new_full((1,), 1.5, dtype=m.float64, requires_grad=True))])
    assert pairs[0] == pairs[1]


def test_is_contiguous_memory_format_checks():
    x = ember.randn(2, 3, 4, 5)
    assert x.is_contiguous() and x.is_contiguous(memory_format=ember.contiguous_format)
    assert not x.is_contiguous(memory_format=ember.channels_last)
    assert not ember.randn(3, 4).is_contiguous(memory_format=ember.channels_last)
    with pytest.raises(RuntimeError, match="preserve_format"):
        x.is_contiguous(memory_format=ember.preserve_format)


def test_memory_formats_pickle_and_repr():
    for f in (ember.contiguous_format, ember.preserve_format, ember.channels_last, ember.channels_last_3d):
        assert pickle.loads(pickle.dumps(f)) is f
        assert repr(f).startswith("ember.")


def test_detach_and_requires_grad_share_memory():
    x = ember.randn(3, 4, requires_grad=True)
    d = x.detach()
    assert ember._C.same_storage(d, x) and not d.requires_grad and d.is_leaf
    r = d.requires_grad_()
    assert r is d and d.requires_grad
    with ember.no_grad():
        c = x.clone()
    assert not c.requires_grad and c.is_contiguous()


def test_channels_last_matches_torch():
    torch = pytest.importorskip("torch")

    def cases(m):
        out = []
        for shape in ((2, 3, 4, 5), (2, 1, 4, 5), (2, 3, 1, 1)):
            x = m.tensor(np.arange(float(np.prod(shape))).reshape(shape))
            cl = x.to(memory_format=m.channels_last)
            for y, src in ((cl, x), (x.contiguous(memory_format=m.channels_last), x),
                           (x.clone(memory_format=m.channels_last), x),
                           (cl.to(memory_format=m.contiguous_format), cl), (cl.contiguous(), cl),
                           (cl.clone(), cl), (cl.to(m.float32), cl), (cl.to(memory_format=m.channels_last), cl),
                           (x.permute(0, 2, 3, 1).to(memory_format=m.contiguous_format), None)):
                # the stride of a size-1 dim is free (Ember's clone of a tensor that is row-major as well
                # gives it the row-major value)
                strides = tuple(st if n != 1 else None for n, st in zip(y.shape, y.stride()))
                out.append((strides, y is src, y.is_contiguous(), y.is_contiguous(memory_format=m.channels_last)))
        return out

    assert cases(ember) == cases(torch)


def _layouts(m):
    """Dense, gapped, permuted and expanded layouts of the same kind in m."""
    base = m.tensor(np.arange(48.0).reshape(4, 3, 4))
    return [base, base.permute(2, 0, 1), base[:, :, ::2], base.permute(1, 2, 0)[1:], base.transpose(0, 2)[::2],
            base[:1].expand(3, 3, 4), base[:, :1].expand(4, 2, 4).permute(2, 1, 0), base[0].t()[1:]]


def test_like_factories_and_copies_preserve_layout_as_torch():
    torch = pytest.importorskip("torch")

    def strides(m):
        out = []
        for x in _layouts(m):
            for f in (m.empty_like, m.zeros_like, lambda a: m.ones_like(a, dtype=m.float32),
                      lambda a: m.full_like(a, 2.0), lambda a: m.zeros_like(a, memory_format=m.contiguous_format),
                      lambda a: a.clone(), lambda a: a.clone(memory_format=m.preserve_format),
                      lambda a: a.to(m.float64, copy=True), lambda a: a.clone().requires_grad_().clone()):
                out.append(tuple(f(x).stride()))
        return out

    assert strides(ember) == strides(torch)


def test_like_factories_torch_free():
    x = ember.tensor(np.arange(12.0).reshape(3, 4)).t()  # dense, transposed
    for t in (ember.empty_like(x), ember.zeros_like(x), ember.ones_like(x), ember.full_like(x, 7.0)):
        assert t.stride() == (1, 4) and t.shape == (4, 3)
    assert ember.zeros_like(x).numpy().sum() == 0 and ember.full_like(x, 7.0).numpy().min() == 7.0
    assert ember.zeros_like(x, memory_format=ember.contiguous_format).stride() == (3, 1)
    assert ember.zeros_like(ember.zeros(2, 3, 4, 5), memory_format=ember.channels_last).stride() == (60, 1, 15, 3)
    gapped = ember.tensor(np.arange(12.0).reshape(3, 4)).t()[1:]  # strides (1, 4) with a gap
    assert ember.empty_like(gapped).stride() == (1, 3)
    c = gapped.clone()
    assert c.stride() == (1, 3)
    np.testing.assert_array_equal(c.numpy(), np.arange(12.0).reshape(3, 4).T[1:])
    assert ember.ones_like(ember.zeros(1, 4).expand(3, 4)).stride() == (4, 1)  # overlapping: row-major
    z = ember.zeros_like(x, dtype=ember.float64, requires_grad=True)
    assert z.dtype is ember.float64 and z.requires_grad and z.is_leaf
    with pytest.raises(TypeError, match="memory_format"):
        ember.zeros_like(x, memory_format="channels_last")


def test_to_argument_forms():
    x = ember.randn(2, 3)
    assert x.to("cpu", ember.float32, False, True) is not x  # positional copy=True
    assert x.to("cpu", ember.float32, False, False) is x
    assert x.to(ember.device("cpu"), dtype=ember.float64).dtype is ember.float64
    assert x.to(x, non_blocking=True) is x and x.to(None) is x
    assert x.to(float).dtype is ember.float64 and x.to(int).dtype is ember.int64 and x.to(bool).dtype is ember.bool
    with pytest.raises(TypeError, match="two dtypes"):
        x.to(ember.float32, ember.float64)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(foo=1)
    assert x.char().dtype is ember.int8 and x.short().dtype is ember.int16
    for name, missing in (("cfloat", "complex64"), ("cdouble", "complex128")):
        with pytest.raises(TypeError, match="no %s dtype" % missing):
            getattr(x, name)()
