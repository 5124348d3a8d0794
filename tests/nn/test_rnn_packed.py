"""nn.utils.rnn (PackedSequence, pack/pad helpers) and RNN/LSTM/GRU on packed input: layouts against manual
construction, round trips, per-sequence references, errors, and PyTorch parity with copied weights."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils import rnn as R
from nn_testing import check_module_grad, close, npy


def _seqs(lengths, feat=3, seed=0, dtype=ember.float64, requires_grad=False):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal((n, feat)), dtype=dtype, requires_grad=requires_grad) for n in lengths]


def test_pad_sequence_sides_and_layouts():
    a, b, c = _seqs([3, 1, 2])
    out = R.pad_sequence([a, b, c], padding_value=-1.0)
    assert out.shape == (3, 3, 3)
    np.testing.assert_array_equal(npy(out[:, 1]), np.concatenate([npy(b), -np.ones((2, 3))]))
    bf = R.pad_sequence([a, b, c], batch_first=True)
    np.testing.assert_array_equal(npy(bf), npy(R.pad_sequence([a, b, c])).transpose(1, 0, 2))
    left = R.pad_sequence([a, b, c], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(npy(left[1]), np.concatenate([np.zeros((2, 3)), npy(b)]))
    np.testing.assert_array_equal(npy(left[0]), npy(a))
    # padding keeps trailing dims, and gradients reach the sequences
    a3 = ember.randn(2, 2, 2, requires_grad=True)
    b3 = ember.randn(1, 2, 2, requires_grad=True)
    p = R.pad_sequence([a3, b3])
    assert p.shape == (2, 2, 2, 2)
    p.sum().backward()
    np.testing.assert_array_equal(npy(b3.grad), 1.0)
    with pytest.raises(ValueError, match="padding_side"):
        R.pad_sequence([a, b], padding_side="middle")
    with pytest.raises(RuntimeError, match="trailing shape"):
        R.pad_sequence([a, ember.randn(2, 4)])


def test_pack_padded_layout_matches_manual():
    seqs = _seqs([4, 2, 3])
    padded = npy(R.pad_sequence(seqs))
    packed = R.pack_padded_sequence(ember.tensor(padded), [4, 2, 3], enforce_sorted=False)
    # sorted by length: 4, 3, 2 -> batch order [0, 2, 1]
    assert packed.sorted_indices.tolist() == [0, 2, 1] and packed.unsorted_indices.tolist() == [0, 2, 1]
    assert packed.batch_sizes.tolist() == [3, 3, 2, 1] and packed.batch_sizes.dtype == ember.int64
    order = [0, 2, 1]
    manual = [padded[t, i] for t in range(4) for i in order if t < [4, 2, 3][i]]
    np.testing.assert_array_equal(npy(packed.data), np.stack(manual))
    # already sorted: no permutation
    p2 = R.pack_padded_sequence(ember.tensor(padded[:, [0, 2, 1]]), ember.tensor([4, 3, 2]))
    assert p2.sorted_indices is None and p2.unsorted_indices is None
    np.testing.assert_array_equal(npy(p2.data), npy(packed.data))
    # batch_first input gives the same packing
    p3 = R.pack_padded_sequence(ember.tensor(padded.transpose(1, 0, 2)), [4, 2, 3], batch_first=True,
                                enforce_sorted=False)
    np.testing.assert_array_equal(npy(p3.data), npy(packed.data))


def test_round_trips():
    lengths = [2, 5, 1, 5, 3]
    seqs = _seqs(lengths, seed=1)
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    padded, lens = R.pad_packed_sequence(packed, padding_value=7.0)
    assert lens.tolist() == lengths and padded.shape == (5, 5, 3)
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(npy(padded[:lengths[i], i]), npy(s))
        np.testing.assert_array_equal(npy(padded[lengths[i]:, i]), 7.0)
    padded_bf, _ = R.pad_packed_sequence(packed, batch_first=True, total_length=8)
    assert padded_bf.shape == (5, 8, 3)
    np.testing.assert_array_equal(npy(padded_bf[:, 5:]), 0.0)
    for s, u in zip(seqs, R.unpack_sequence(packed)):
        np.testing.assert_array_equal(npy(s), npy(u))
    for s, u in zip(seqs, R.unpad_sequence(padded, lens)):
        np.testing.assert_array_equal(npy(s), npy(u))
    for s, u in zip(seqs, R.unpad_sequence(padded_bf, ember.tensor(lengths), batch_first=True)):
        np.testing.assert_array_equal(npy(s), npy(u))


def test_packed_sequence_object_and_gradients():
    seqs = _seqs([3, 2], requires_grad=True, seed=2)
    packed = R.pack_sequence(seqs)
    assert isinstance(packed, tuple) and packed._fields == ("data", "batch_sizes", "sorted_indices",
                                                            "unsorted_indices")
    data, batch_sizes, _, _ = packed
    assert data is packed.data
    f = packed.float()
    assert f.data.dtype == ember.float32 and f.batch_sizes is packed.batch_sizes
    assert packed.to(ember.float64) is packed and not packed.is_cuda
    # gradients through pack -> pad reach every element of every sequence exactly once
    padded, _ = R.pad_packed_sequence(packed)
    (padded * ember.arange(1.0, 1.0 + padded.numel(), dtype=ember.float64).reshape(padded.shape)).sum().backward()
    w = np.arange(1.0, 1.0 + 3 * 2 * 3).reshape(3, 2, 3)
    np.testing.assert_array_equal(npy(seqs[0].grad), w[:, 0])
    np.testing.assert_array_equal(npy(seqs[1].grad), w[:2, 1])
    legacy = R.PackedSequence((packed.data, packed.batch_sizes))
    assert legacy.batch_sizes is packed.batch_sizes
    perm = ember.tensor([2, 0, 3, 1])
    assert R.invert_permutation(perm).tolist() == [1, 3, 0, 2] and R.invert_permutation(None) is None


def test_bad_inputs():
    x = ember.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        R.pack_padded_sequence(x, [2, 4, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(x, [4, 3, 0])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        R.pack_padded_sequence(x, [0, 4, 3], enforce_sorted=False)
    with pytest.raises(RuntimeError, match="Expected `len\\(lengths\\)` to be equal to batch_size"):
        R.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="exceeds the 4 time steps"):
        R.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(RuntimeError, match="'lengths' argument should be a 1D CPU int64 tensor"):
        R.pack_padded_sequence(x, ember.tensor([[4, 3, 1]]))
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors"):
        R.pack_padded_sequence(ember.randn(0, 3, 2), [1, 1, 1])
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        R.pack_sequence(_seqs([1, 2]))
    packed = R.pack_sequence(_seqs([3, 1]))
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        R.pad_packed_sequence(packed, total_length=2)
    lstm = nn.LSTM(3, 4)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        lstm(ember.randn(0, 2, 3))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        lstm(R.pack_sequence(_seqs([2, 1], feat=5)))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        lstm(packed.float(), (ember.zeros(1, 3, 4), ember.zeros(1, 3, 4)))


def _single(module, seq, hx=None):
    """module on one unpadded sequence [L, in] as a batch of one."""
    out, h = module(seq.unsqueeze(1), hx)
    return out.squeeze(1), h


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_rnn_equals_each_sequence_alone(mode, bidirectional):
    """The defining property (no torch needed): packed output and final states per sequence equal running the
    module on that sequence alone, including the reverse direction and the second layer."""
    m = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    lengths = [3, 5, 1, 4]
    seqs = _seqs(lengths, seed=3, requires_grad=True)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(4)
    h0 = ember.tensor(rng.standard_normal((2 * D, 4, 4)))
    hx = (h0, ember.tensor(rng.standard_normal((2 * D, 4, 4)))) if mode == "LSTM" else h0
    out, h = m(R.pack_sequence(seqs, enforce_sorted=False), hx)
    assert isinstance(out, R.PackedSequence)
    padded, lens = R.pad_packed_sequence(out)
    assert lens.tolist() == lengths and padded.shape == (5, 4, D * 4)
    for i, s in enumerate(seqs):
        hx_i = tuple(t[:, i:i + 1] for t in hx) if mode == "LSTM" else hx[:, i:i + 1]
        ref_out, ref_h = _single(m, s, hx_i)
        close(padded[:lengths[i], i], ref_out, atol=1e-12)
        np.testing.assert_array_equal(npy(padded[lengths[i]:, i]), 0.0)
        if mode == "LSTM":
            close(h[0][:, i], ref_h[0][:, 0], atol=1e-12)
            close(h[1][:, i], ref_h[1][:, 0], atol=1e-12)
        else:
            close(h[:, i], ref_h[:, 0], atol=1e-12)
    # gradients as well: the packed loss equals the sum of per-sequence losses
    hn = h[0] if mode == "LSTM" else h
    (out.data.pow(2).sum() + hn.sum()).backward()
    packed_grads = [npy(s.grad).copy() for s in seqs]
    grads_w = {n: npy(p.grad).copy() for n, p in m.named_parameters()}
    m.zero_grad()
    for i, s in enumerate(seqs):
        s.grad = None
        hx_i = tuple(t[:, i:i + 1] for t in hx) if mode == "LSTM" else hx[:, i:i + 1]
        o, hh = _single(m, s, hx_i)
        (o.pow(2).sum() + (hh[0] if mode == "LSTM" else hh).sum()).backward()
        close(s.grad, packed_grads[i], atol=1e-10)
    for n, p in m.named_parameters():
        close(p.grad, grads_w[n], atol=1e-10)


def test_lstm_projection_and_batch_first_packed():
    m = nn.LSTM(3, 5, proj_size=2, batch_first=True).double()
    seqs = _seqs([2, 4, 3], seed=5)
    out, (h, c) = m(R.pack_sequence(seqs, enforce_sorted=False))
    assert out.data.shape == (9, 2) and h.shape == (1, 3, 2) and c.shape == (1, 3, 5)
    padded, _ = R.pad_packed_sequence(out, batch_first=True)
    for i, s in enumerate(seqs):
        ref, (rh, rc) = m(s.unsqueeze(0))
        close(padded[i, :s.shape[0]], ref[0], atol=1e-12)
        close(h[:, i], rh[:, 0], atol=1e-12)
        close(c[:, i], rc[:, 0], atol=1e-12)


def test_fused_lstm_step_second_order_gradients():
    m = nn.LSTMCell(2, 3).double()
    x = ember.tensor(np.random.default_rng(6).standard_normal((2, 2)), requires_grad=True)
    h = ember.tensor(np.random.default_rng(7).standard_normal((2, 3)), requires_grad=True)
    c = ember.tensor(np.random.default_rng(8).standard_normal((2, 3)), requires_grad=True)

    def fn(x, h, c):
        h2, c2 = m(x, (h, c))
        return h2 * 2 + c2

    assert gradcheck(fn, (x, h, c))
    assert gradgradcheck(fn, (x, h, c))


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_layer_gradients_first_and_second_order(mode):
    """Each layer's time loop is one hand-differentiated node: check it by finite differences (inputs, initial
    states and every weight, packed with unequal lengths, both directions) and its double backward."""
    m = getattr(nn, mode)(2, 3, bidirectional=True).double()
    rng = np.random.default_rng(11)
    a = ember.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = ember.tensor(rng.standard_normal((1, 2)), requires_grad=True)
    h0 = ember.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    c0 = ember.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)

    def fn(a, b, h0, c0=None):
        out, h = m(R.pack_sequence([a, b]), (h0, c0) if mode == "LSTM" else h0)
        return (out.data,) + (tuple(h) if mode == "LSTM" else (h,))

    inputs = (a, b, h0, c0) if mode == "LSTM" else (a, b, h0)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)
    check_module_grad(m, ember.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True))
    if mode == "GRU":  # without biases too (the hidden projection then has none)
        check_module_grad(nn.GRU(2, 3, bias=False), ember.tensor(rng.standard_normal((3, 2, 2)),
                                                                 requires_grad=True))


def test_backward_frees_the_time_steps():
    """The fused layer keeps every step's activations for backward; backward frees them even while the outputs
    (and so the graph node) stay alive, and retain_graph keeps them for a second backward."""
    m = nn.LSTM(3, 4)
    x = ember.randn(50, 2, 3)
    base = ember._C._live_storages()
    out, (h, c) = m(x)
    held = ember._C._live_storages() - base
    assert held > 50 * 2  # the activations of 50 steps (per step at least the gates and the cell state)
    out.sum().backward(retain_graph=True)
    out.sum().backward()
    assert ember._C._live_storages() - base < 20  # outputs, gradients, and no steps
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()


# ------------------------------------------------------------------------------------------ PyTorch parity


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode,bidirectional,layers,proj", [("LSTM", True, 2, 0), ("GRU", True, 2, 0),
                                                            ("RNN", False, 2, 0), ("LSTM", False, 1, 3)])
def test_packed_matches_torch(dtype, mode, bidirectional, layers, proj):
    torch = pytest.importorskip("torch")
    tol = dict(atol=1e-10, rtol=1e-8) if dtype == "float64" else dict(atol=1e-5, rtol=1e-4)
    kw = dict(num_layers=layers, bidirectional=bidirectional)
    if proj:
        kw["proj_size"] = proj
    tm = getattr(torch.nn, mode)(3, 5, **kw).to(getattr(torch, dtype))
    em = getattr(nn, mode)(3, 5, **kw).to(getattr(ember, dtype))
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}, strict=True)
    lengths = [2, 5, 3, 5, 1]
    rng = np.random.default_rng(9)
    data = [rng.standard_normal((n, 3)).astype(dtype) for n in lengths]
    ts = [torch.tensor(d, requires_grad=True) for d in data]
    es = [ember.tensor(d, requires_grad=True) for d in data]
    D = 2 if bidirectional else 1
    h0 = rng.standard_normal((layers * D, 5, proj or 5)).astype(dtype)
    if mode == "LSTM":
        c0 = rng.standard_normal((layers * D, 5, 5)).astype(dtype)
        thx, ehx = (torch.tensor(h0), torch.tensor(c0)), (ember.tensor(h0), ember.tensor(c0))
    else:
        thx, ehx = torch.tensor(h0), ember.tensor(h0)
    to, th = tm(torch.nn.utils.rnn.pack_sequence(ts, enforce_sorted=False), thx)
    eo, eh = em(R.pack_sequence(es, enforce_sorted=False), ehx)
    assert eo.batch_sizes.tolist() == to.batch_sizes.tolist()
    assert eo.sorted_indices.tolist() == to.sorted_indices.tolist()
    close(eo.data, to.data, **tol)
    th, eh = (th if mode == "LSTM" else (th,)), (eh if mode == "LSTM" else (eh,))
    for a, b in zip(eh, th):
        close(a, b, **tol)
    w = rng.standard_normal(tuple(eo.data.shape)).astype(dtype)
    ((to.data * torch.tensor(w)).sum() + sum(t.sum() for t in th)).backward()
    ((eo.data * ember.tensor(w)).sum() + sum(t.sum() for t in eh)).backward()
    for a, b in zip(es, ts):
        close(a.grad, b.grad, **tol)
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        close(p.grad, tp[name].grad, **tol)
    # pad_packed_sequence agrees too, in the original batch order
    ep, el = R.pad_packed_sequence(eo, batch_first=True, total_length=6)
    tp_, tl = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True, total_length=6)
    close(ep, tp_.detach(), **tol)
    assert el.tolist() == tl.tolist()


def test_helpers_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    data = [rng.standard_normal((n, 2, 2)) for n in (3, 1, 4)]
    for side in ("right", "left"):
        for bf in (False, True):
            close(R.pad_sequence([ember.tensor(d) for d in data], batch_first=bf, padding_value=-2.0,
                                 padding_side=side),
                  torch.nn.utils.rnn.pad_sequence([torch.tensor(d) for d in data], batch_first=bf,
                                                  padding_value=-2.0, padding_side=side), atol=0)
    padded = rng.standard_normal((4, 3, 2))
    e = R.pack_padded_sequence(ember.tensor(padded), [2, 4, 3], enforce_sorted=False)
    t = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(padded), torch.tensor([2, 4, 3]), enforce_sorted=False)
    close(e.data, t.data, atol=0)
    assert e.batch_sizes.tolist() == t.batch_sizes.tolist()
    assert e.unsorted_indices.tolist() == t.unsorted_indices.tolist()
