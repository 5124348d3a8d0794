"""Sparse COO tensors: construction and its checks, coalesce/to_dense, the arithmetic sparse gradients need, the
refusal of every other op, nn.Embedding(sparse=True) gradients, and the optimizers that take them (SparseAdam,
SGD, Adagrad) against PyTorch (when installed) and against the documented algorithms."""
import io
import warnings

import numpy as np
import pytest

import ember
from ember import nn, optim

try:
    import torch
except ImportError:  # the comparisons with PyTorch skip; the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks")


def dense_ref(indices, values, size):
    """numpy reference of to_dense: values summed at their index columns."""
    out = np.zeros(size, dtype=values.dtype)
    for j in range(indices.shape[1]):
        out[tuple(indices[:, j])] += values[j]
    return out


def random_coo(rng, size, sparse_dim, nnz, dtype=np.float64):
    indices = np.stack([rng.randint(0, size[d], nnz) for d in range(sparse_dim)]) if sparse_dim else \
        np.zeros((0, nnz), np.int64)
    values = rng.randn(nnz, *size[sparse_dim:]).astype(dtype)
    return indices.astype(np.int64), values


# ------------------------------------------------------------------------------------------ construction


def test_construction_reports_layout_size_and_parts():
    s = ember.sparse_coo_tensor([[0, 2, 0], [1, 0, 1]], [1.0, 2.0, 3.0], (3, 2))
    assert s.is_sparse and s.layout is ember.sparse_coo and isinstance(s, ember.Tensor)
    assert s.shape == (3, 2) and s.dtype is ember.float32 and s.dim() == 2 and s.numel() == 6
    assert s.sparse_dim() == 2 and s.dense_dim() == 0 and s._nnz() == 3 and not s.is_coalesced()
    assert s._indices().tolist() == [[0, 2, 0], [1, 0, 1]]
    with pytest.raises(RuntimeError, match="uncoalesced"):
        s.indices()
    assert ember.tensor([1.0]).layout is ember.strided and not ember.tensor([1.0]).is_sparse
    assert "layout=ember.sparse_coo" in repr(s) and "nnz=3" in repr(s)


def test_size_is_inferred_from_the_indices_and_values():
    s = ember.sparse_coo_tensor(ember.tensor([[1, 4]]), ember.ones(2, 3, dtype=ember.float64))
    assert s.shape == (5, 3) and s.dtype is ember.float64 and s.dense_dim() == 1


@pytest.mark.parametrize("args, match", [
    (([0, 1], [1.0, 2.0], (3,)), "sparse_dim x nnz"),
    (([[0, 1]], [1.0], (3,)), "same nnz"),
    (([[0, 3]], [1.0, 2.0], (3,)), "size is 3 but found index 3"),
    (([[0, -1]], [1.0, 2.0], (3,)), "negative index"),
    (([[0, 1]], [1.0, 2.0], (3, 2)), "sparse_dim \\(1\\) \\+ dense_dim \\(0\\)"),
    (([[0, 1]], [[1.0, 2.0], [3.0, 4.0]], (3, 3)), "values has incorrect size"),
    (([[0.0, 1.0]], [1.0, 2.0], (3,)), "int64"),
])
def test_bad_construction_raises_naming_the_problem(args, match):
    with pytest.raises(RuntimeError, match=match):
        ember.sparse_coo_tensor(*args)


def test_sparse_tensors_refuse_autograd():
    with pytest.raises(RuntimeError, match="autograd"):
        ember.sparse_coo_tensor([[0]], [1.0], (2,), requires_grad=True)
    with pytest.raises(RuntimeError, match="autograd"):
        ember.sparse_coo_tensor([[0]], [1.0], (2,)).requires_grad_()


# ------------------------------------------------------------------------------------------ coalesce, to_dense


@pytest.mark.parametrize("size, sparse_dim", [((7,), 1), ((5, 4), 1), ((5, 4), 2), ((3, 4, 2), 2), ((3,), 0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_coalesce_and_to_dense_match_the_reference(size, sparse_dim, dtype):
    rng = np.random.RandomState(sum(size) + sparse_dim)
    nnz = 1 if sparse_dim == 0 else 12
    idx, val = random_coo(rng, size, sparse_dim, nnz, dtype)
    s = ember.sparse_coo_tensor(ember.tensor(idx), ember.tensor(val), size)
    ref = dense_ref(idx, val, size)
    np.testing.assert_allclose(s.to_dense().numpy(), ref, rtol=1e-6)
    c = s.coalesce()
    assert c.is_coalesced() and c.coalesce() is c
    np.testing.assert_allclose(c.to_dense().numpy(), ref, rtol=1e-6)
    cols = [tuple(col) for col in c.indices().numpy().T]
    assert cols == sorted(set(cols))  # sorted, unique index columns
    if torch is not None:
        t = torch.sparse_coo_tensor(torch.tensor(idx), torch.tensor(val), size).coalesce()
        np.testing.assert_array_equal(c.indices().numpy(), t.indices().numpy())
        np.testing.assert_allclose(c.values().numpy(), t.values().numpy(), rtol=1e-6)


def test_zero_nnz_and_zero_size():
    s = ember.sparse_coo_tensor(ember.zeros(1, 0, dtype=ember.int64), ember.zeros(0, 3), (4, 3))
    assert s.to_dense().tolist() == [[0.0] * 3] * 4 and s.coalesce()._nnz() == 0
    z = ember.sparse_coo_tensor(ember.zeros(1, 0, dtype=ember.int64), ember.zeros(0), (0,))
    assert z.to_dense().shape == (0,) and z.norm().item() == 0.0


def test_to_sparse_of_a_dense_tensor():
    x = ember.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]])
    s = x.to_sparse()
    assert s.is_coalesced() and s.indices().tolist() == [[0, 1], [1, 0]] and s.values().tolist() == [1.5, 2.0]
    rows = x.to_sparse(1)
    assert rows.indices().tolist() == [[0, 1]] and rows.values().tolist() == x.tolist()
    np.testing.assert_array_equal(rows.to_dense().numpy(), x.numpy())


# ------------------------------------------------------------------------------------------ arithmetic


def test_dense_plus_sparse_and_sparse_plus_sparse():
    rng = np.random.RandomState(3)
    i1, v1 = random_coo(rng, (6, 2), 1, 5)
    i2, v2 = random_coo(rng, (6, 2), 1, 4)
    a = ember.sparse_coo_tensor(ember.tensor(i1), ember.tensor(v1), (6, 2))
    b = ember.sparse_coo_tensor(ember.tensor(i2), ember.tensor(v2), (6, 2))
    d = rng.randn(6, 2)
    ra, rb = dense_ref(i1, v1, (6, 2)), dense_ref(i2, v2, (6, 2))
    s = a + b
    assert s.is_sparse and s._nnz() == 9
    np.testing.assert_allclose(s.to_dense().numpy(), ra + rb)
    np.testing.assert_allclose(a.sub(b, alpha=2).to_dense().numpy(), ra - 2 * rb)
    np.testing.assert_allclose(ember.tensor(d).add(a, alpha=0.5).numpy(), d + 0.5 * ra)
    np.testing.assert_allclose(ember.add(ember.tensor(d), a).numpy(), d + ra)
    np.testing.assert_allclose((ember.tensor(d) + a).numpy(), d + ra)
    np.testing.assert_allclose(ember.tensor(d).sub(a).numpy(), d - ra)
    x = ember.tensor(d)
    x.add_(a, alpha=-3)
    np.testing.assert_allclose(x.numpy(), d - 3 * ra)
    np.testing.assert_allclose((a * 2).to_dense().numpy(), 2 * ra)
    np.testing.assert_allclose((a / 4).to_dense().numpy(), ra / 4)
    np.testing.assert_allclose((-a).to_dense().numpy(), -ra)
    np.testing.assert_allclose(a.clone().mul_(ember.tensor(3.0, dtype=ember.float64)).to_dense().numpy(), 3 * ra)
    np.testing.assert_allclose(a.norm().item(), np.linalg.norm(ra))
    np.testing.assert_allclose(a.norm(1).item(), np.abs(ra).sum())
    np.testing.assert_allclose(a.sum().item(), ra.sum())
    c = a.clone()
    c.add_(b)
    np.testing.assert_allclose(c.to_dense().numpy(), ra + rb)
    np.testing.assert_allclose(a.to_dense().numpy(), ra)  # the clone did not share values
    # as in PyTorch, sparse.add(dense) is refused (dense.add(sparse) is the supported order)
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        a.add(ember.tensor(d))
    with pytest.raises(RuntimeError, match="different sizes"):
        a + ember.sparse_coo_tensor([[0]], [[1.0, 2.0, 3.0]], (6, 3))


def test_sparse_mask():
    rng = np.random.RandomState(4)
    i, v = random_coo(rng, (5, 3), 1, 6)
    mask = ember.sparse_coo_tensor(ember.tensor(i), ember.tensor(v), (5, 3)).coalesce()
    d = rng.randn(5, 3)
    m = ember.tensor(d).sparse_mask(mask)
    assert m.is_sparse and m.indices().tolist() == mask.indices().tolist()
    np.testing.assert_array_equal(m.values().numpy(), d[mask.indices().numpy()[0]])
    with pytest.raises(RuntimeError, match="incompatible sizes"):
        ember.zeros(4, 3).sparse_mask(mask)


def test_ops_without_a_sparse_path_raise_instead_of_computing_on_zeros():
    s = ember.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,))
    for fn in (lambda: ember.exp(s), lambda: s.exp(), lambda: s.view(-1), lambda: ember.zeros(3)[s.long()],
               lambda: ember.matmul(s, ember.ones(3)), lambda: s.numpy(), lambda: ember.ones(3) * s,
               lambda: ember.where(ember.ones(3) > 0, s, s), lambda: s.tolist(), lambda: s.item()):
        with pytest.raises((NotImplementedError, RuntimeError)):
            fn()
    with pytest.raises(RuntimeError, match="strides"):
        s.stride()
    # the C entry points that take tensors without the argument caster refuse it too
    one = ember.sparse_coo_tensor([[0]], [2], (1,))
    with pytest.raises(TypeError):
        ember.zeros(2, 2).view([one, 4])  # an int-list argument
    p = nn.Parameter(ember.zeros(3))
    with pytest.raises(NotImplementedError, match="sparse COO"):
        p.data = s
    assert p.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(NotImplementedError, match="sparse COO"):
        ember.ones(3).copy_(s)


def test_save_refuses_sparse_tensors_and_pickle_round_trips():
    s = ember.sparse_coo_tensor([[0, 1]], [1.0, 2.0], (3,))
    with pytest.raises(ValueError, match="sparse tensors cannot be saved"):
        ember.save({"g": s}, io.BytesIO())
    import copy
    import pickle
    for t in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert t.is_sparse and t.to_dense().tolist() == [1.0, 2.0, 0.0]


# ------------------------------------------------------------------------------------------ Embedding(sparse=True)


def embedding_pair(num, dim, seed=0, **kw):
    w = np.random.RandomState(seed).randn(num, dim)
    e = nn.Embedding(num, dim, sparse=True, **kw).double()
    with ember.no_grad():
        e.weight.copy_(ember.tensor(w))
    t = None
    if torch is not None:
        t = torch.nn.Embedding(num, dim, sparse=True, **kw).double()
        with torch.no_grad():
            t.weight.copy_(torch.tensor(w))
    return e, t


@pytest.mark.parametrize("padding_idx", [None, 1, -2])
def test_embedding_sparse_gradient(padding_idx):
    e, t = embedding_pair(6, 3, padding_idx=padding_idx)
    idx = [[1, 2, 4], [4, 3, 1]]
    (e(ember.tensor(idx)) ** 2).sum().backward()
    g = e.weight.grad
    assert g.is_sparse and g.shape == (6, 3) and g.dtype is ember.float64
    flat = np.array(idx).reshape(-1)
    if padding_idx is not None:
        flat = flat[flat != padding_idx % 6]
    assert g._indices().tolist() == [flat.tolist()]  # one uncoalesced row per lookup, as PyTorch
    w = e.weight.detach().numpy()
    np.testing.assert_allclose(g._values().numpy(), 2 * w[flat])
    # dense mode gives the same numbers
    d, _ = embedding_pair(6, 3, padding_idx=padding_idx)
    d.sparse = False
    (d(ember.tensor(idx)) ** 2).sum().backward()
    assert not d.weight.grad.is_sparse
    np.testing.assert_allclose(g.to_dense().numpy(), d.weight.grad.numpy())
    if t is not None:
        (t(torch.tensor(idx)) ** 2).sum().backward()
        assert g._indices().tolist() == t.weight.grad._indices().tolist()
        np.testing.assert_allclose(g._values().numpy(), t.weight.grad._values().numpy())


def test_embedding_sparse_gradients_accumulate_and_mix_with_dense_ones():
    e, t = embedding_pair(5, 2)
    idx = ember.tensor([0, 3, 3])
    e(idx).sum().backward()
    e(idx).sum().backward()
    g = e.weight.grad
    assert g.is_sparse and g._nnz() == 6
    np.testing.assert_allclose(g.to_dense().numpy(), [[2, 2], [0, 0], [0, 0], [4, 4], [0, 0]])
    # a weight that also has a dense use (tied weights): the gradients sum to a dense one, as in PyTorch
    e.weight.grad = None
    (e(idx).sum() + (e.weight ** 2).sum()).backward()
    w = e.weight.detach().numpy()
    assert not e.weight.grad.is_sparse
    np.testing.assert_allclose(e.weight.grad.numpy(), 2 * w + [[1, 1], [0, 0], [0, 0], [2, 2], [0, 0]])
    # a dense .grad then receiving a sparse one stays dense
    e(idx).sum().backward()
    np.testing.assert_allclose(e.weight.grad.numpy(), 2 * w + [[2, 2], [0, 0], [0, 0], [4, 4], [0, 0]])
    # zero_grad(set_to_none=False) empties a sparse gradient
    e.weight.grad = None
    e(idx).sum().backward()
    e.zero_grad(set_to_none=False)
    assert e.weight.grad.is_sparse and e.weight.grad._nnz() == 0
    e(idx).sum().backward()
    np.testing.assert_allclose(e.weight.grad.to_dense().numpy(), [[1, 1], [0, 0], [0, 0], [2, 2], [0, 0]])


def test_embedding_sparse_scale_grad_by_freq_gives_the_dense_values():
    e, _ = embedding_pair(5, 2, scale_grad_by_freq=True)
    d, _ = embedding_pair(5, 2, scale_grad_by_freq=True)
    d.sparse = False
    idx = ember.tensor([[0, 3, 3, 1]])
    e(idx).pow(2).sum().backward()
    d(idx).pow(2).sum().backward()
    np.testing.assert_allclose(e.weight.grad.to_dense().numpy(), d.weight.grad.numpy())


def test_clip_grad_norm_with_sparse_gradients():
    """(PyTorch 2.13 raises NotImplementedError here: its norm kernels have no sparse path.) The total norm
    counts each row once with its summed value; the sparse gradient is scaled in place."""
    e, _ = embedding_pair(6, 3)
    lin = nn.Linear(3, 2).double()
    lin(e(ember.tensor([[0, 1, 1], [5, 0, 2]]))).pow(2).sum().backward()
    dense = [e.weight.grad.to_dense().numpy(), lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()]
    norm = np.sqrt(sum((d ** 2).sum() for d in dense))
    total = nn.utils.clip_grad_norm_(list(e.parameters()) + list(lin.parameters()), 0.5)
    np.testing.assert_allclose(total.item(), norm, rtol=1e-12)
    assert e.weight.grad.is_sparse
    np.testing.assert_allclose(e.weight.grad.to_dense().numpy(), dense[0] * 0.5 / (norm + 1e-6), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad.numpy(), dense[1] * 0.5 / (norm + 1e-6), rtol=1e-12)


# ------------------------------------------------------------------------------------------ optimizers


def train(lib, opt_name, kw, steps=4, sparse_only=False):
    """An Embedding(sparse=True) + Linear model trained with opt_name (float64): the final weights."""
    rng = np.random.RandomState(0)
    w, w2 = rng.randn(7, 3), rng.randn(2, 3)
    e = lib.nn.Embedding(7, 3, sparse=True).double()
    lin = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        e.weight.copy_(lib.tensor(w))
        lin.weight.copy_(lib.tensor(w2))
        lin.bias.zero_()
    params = list(e.parameters()) if sparse_only else list(e.parameters()) + list(lin.parameters())
    opt = getattr(lib.optim, opt_name)(params, **kw)
    data = np.random.RandomState(1).randint(0, 7, (steps, 4, 3))
    for s in range(steps):
        opt.zero_grad()
        lin.zero_grad()
        lin(e(lib.tensor(data[s]))).pow(2).mean().backward()
        opt.step()
    return e.weight.detach().numpy().copy(), lin.weight.detach().numpy().copy(), opt


CASES = [("SparseAdam", dict(lr=0.1)), ("SparseAdam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
         ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)),
         ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
         ("SGD", dict(lr=0.1, momentum=0.8, dampening=0.3, maximize=True)),
         ("Adagrad", dict(lr=0.1)), ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.2,
                                                    maximize=True))]


@needs_torch
@pytest.mark.parametrize("name, kw", CASES)
def test_optimizers_taking_sparse_gradients_match_pytorch(name, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's sparse invariant-check notice
        ours = train(ember, name, dict(kw), sparse_only=name == "SparseAdam")
        ref = train(torch, name, dict(kw), sparse_only=name == "SparseAdam")
    np.testing.assert_allclose(ours[0], ref[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=0, atol=1e-12)


def test_sparse_adam_follows_the_documented_algorithm():
    """SparseAdam on two sparse gradients (repeated rows summed), against numpy of the documented update."""
    p = ember.tensor(np.arange(12.0).reshape(4, 3) / 10, requires_grad=True)
    opt = optim.SparseAdam([p], lr=0.1, betas=(0.8, 0.95), eps=1e-8)
    ref = p.detach().numpy().copy()
    m, v = np.zeros_like(ref), np.zeros_like(ref)
    rng = np.random.RandomState(5)
    for t in (1, 2):
        rows = rng.randint(0, 4, 5)
        vals = rng.randn(5, 3)
        p.grad = ember.sparse_coo_tensor(ember.tensor(rows[None]), ember.tensor(vals), (4, 3))
        opt.step()
        g = dense_ref(rows[None], vals, (4, 3))
        at = np.unique(rows)
        m[at] = 0.8 * m[at] + 0.2 * g[at]
        v[at] = 0.95 * v[at] + 0.05 * g[at] ** 2
        ref[at] -= 0.1 * np.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t) * m[at] / (np.sqrt(v[at]) + 1e-8)
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-13, atol=1e-15)


def test_sparse_adam_state_dict_round_trip_continues_identically():
    full = train(ember, "SparseAdam", dict(lr=0.1), steps=4, sparse_only=True)
    # two steps, save the optimizer state, two more with a fresh optimizer loaded from it
    rng = np.random.RandomState(0)
    w = rng.randn(7, 3)
    e = nn.Embedding(7, 3, sparse=True).double()
    lin = nn.Linear(3, 2).double()
    with ember.no_grad():
        e.weight.copy_(ember.tensor(w))
        lin.weight.copy_(ember.tensor(rng.randn(2, 3)))
        lin.bias.zero_()
    data = np.random.RandomState(1).randint(0, 7, (4, 4, 3))
    opt = optim.SparseAdam(list(e.parameters()), lr=0.1)
    for s in range(4):
        if s == 2:
            buf = io.BytesIO()
            ember.save(opt.state_dict(), buf)
            buf.seek(0)
            opt = optim.SparseAdam(list(e.parameters()), lr=0.1)
            opt.load_state_dict(ember.load(buf))
        opt.zero_grad()
        lin.zero_grad()
        lin(e(ember.tensor(data[s]))).pow(2).mean().backward()
        opt.step()
    np.testing.assert_array_equal(e.weight.detach().numpy(), full[0])


@pytest.mark.parametrize("name, message", [
    ("Adam", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("AdamW", "Adam does not support sparse gradients, please consider SparseAdam instead"),
    ("Adamax", "Adamax does not support sparse gradients"), ("NAdam", "NAdam does not support sparse gradients"),
    ("RAdam", "RAdam does not support sparse gradients"), ("RMSprop", "RMSprop does not support sparse gradients"),
    ("Rprop", "Rprop does not support sparse gradients"), ("ASGD", "ASGD does not support sparse gradients"),
    ("Adadelta", "Adadelta does not support sparse gradients")])
def test_optimizers_without_a_sparse_update_refuse_sparse_gradients(name, message):
    e = nn.Embedding(5, 2, sparse=True)
    opt = getattr(optim, name)(e.parameters(), lr=0.1)
    before = e.weight.detach().numpy().copy()
    e(ember.tensor([1, 2, 1])).sum().backward()
    with pytest.raises(RuntimeError, match=message):
        opt.step()
    np.testing.assert_array_equal(e.weight.detach().numpy(), before)


def test_sparse_updates_refuse_weight_decay_as_pytorch():
    e = nn.Embedding(5, 2, sparse=True)
    e(ember.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match=r"add\(sparse, dense\) is not supported"):
        optim.SGD(e.parameters(), lr=0.1, weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        optim.Adagrad(e.parameters(), lr=0.1, weight_decay=0.1).step()


def test_lbfgs_takes_a_sparse_gradient_as_dense():
    e = nn.Embedding(4, 2, sparse=True).double()
    target = ember.tensor(np.arange(8.0).reshape(4, 2))
    opt = optim.LBFGS(e.parameters(), lr=1, max_iter=50)

    def closure():
        opt.zero_grad()
        loss = (e(ember.arange(4)) - target).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(e.weight.detach().numpy(), target.numpy(), atol=1e-6)
