"""scaled_dot_product_attention and MultiheadAttention: numpy references, masks, gradcheck and torch."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, check_module_grad, close, copy_weights, leaf, npy, randn, torch_or_skip


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sdpa_ref(q, k, v, mask=None, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale if scale is not None else 1 / np.sqrt(q.shape[-1]))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    return _softmax(s) @ v


def test_sdpa_numpy_reference_masks_and_scale():
    q, k, v = randn(2, 3, 4, 5, seed=1), randn(2, 3, 6, 5, seed=2), randn(2, 3, 6, 7, seed=3)
    close(F.scaled_dot_product_attention(q, k, v), _sdpa_ref(npy(q), npy(k), npy(v)), atol=1e-12)
    close(F.scaled_dot_product_attention(q, k, v, scale=0.3), _sdpa_ref(npy(q), npy(k), npy(v), scale=0.3),
          atol=1e-12)
    mask = np.random.default_rng(4).uniform(size=(4, 6)) > 0.3
    mask[:, 0] = True
    close(F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(mask)),
          _sdpa_ref(npy(q), npy(k), npy(v), mask), atol=1e-12)
    bias = np.random.default_rng(5).standard_normal((2, 1, 4, 6))
    close(F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(bias)),
          _sdpa_ref(npy(q), npy(k), npy(v), bias), atol=1e-12)
    causal = np.tril(np.ones((4, 6), bool))
    close(F.scaled_dot_product_attention(q, k, v, is_causal=True), _sdpa_ref(npy(q), npy(k), npy(v), causal),
          atol=1e-12)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(mask), is_causal=True)


def test_sdpa_fully_masked_rows_give_zeros_and_finite_gradients():
    q, k, v = leaf(np.ones((1, 2, 3))), leaf(np.ones((1, 4, 3))), leaf(np.ones((1, 4, 3)))
    mask = np.ones((2, 4), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=ember.tensor(mask))
    np.testing.assert_array_equal(npy(out)[0, 1], 0)
    out.sum().backward()
    assert all(np.isfinite(npy(t.grad)).all() for t in (q, k, v))


def test_sdpa_gradcheck_and_gqa():
    q, k, v = randn(1, 2, 3, 2, requires_grad=True, seed=6), randn(1, 2, 4, 2, requires_grad=True, seed=7), randn(
        1, 2, 4, 2, requires_grad=True, seed=8)
    check_grad(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), q, k, v)
    q4 = randn(1, 4, 3, 2, seed=9)
    out = F.scaled_dot_product_attention(q4, k, v, enable_gqa=True)
    ref = _sdpa_ref(npy(q4), np.repeat(npy(k), 2, axis=1), np.repeat(npy(v), 2, axis=1))
    close(out, ref, atol=1e-12)


def test_sdpa_dropout_only_when_asked():
    ember.manual_seed(0)
    q = ember.randn(1, 8, 4)
    out = F.scaled_dot_product_attention(q, q, ember.ones(1, 8, 4), dropout_p=0.5)
    # each row of the output is a rescaled sum of kept probabilities: not all equal to 1 any more
    assert not np.allclose(npy(out), 1.0)


def _mha_ref(m, q, k, v, key_padding_mask=None, attn_mask=None):
    """MultiheadAttention in numpy (sequence-first inputs)."""
    E, H = m.embed_dim, m.num_heads
    d = E // H
    W, b = npy(m.in_proj_weight), npy(m.in_proj_bias)
    Q = q @ W[:E].T + b[:E]
    K = k @ W[E:2 * E].T + b[E:2 * E]
    V = v @ W[2 * E:].T + b[2 * E:]
    L, N, _ = q.shape
    S = k.shape[0]
    Q = Q.reshape(L, N, H, d).transpose(1, 2, 0, 3)
    K = K.reshape(S, N, H, d).transpose(1, 2, 0, 3)
    V = V.reshape(S, N, H, d).transpose(1, 2, 0, 3)
    s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(d)
    if attn_mask is not None:
        s = np.where(attn_mask, -np.inf, s) if attn_mask.dtype == bool else s + attn_mask
    if key_padding_mask is not None:
        s = np.where(key_padding_mask[:, None, None, :], -np.inf, s)
    w = _softmax(s)
    o = (w @ V).transpose(2, 0, 1, 3).reshape(L, N, E)
    return o @ npy(m.out_proj.weight).T + npy(m.out_proj.bias), w.mean(1)


def test_mha_numpy_reference_with_masks():
    m = nn.MultiheadAttention(6, 2).double()
    with ember.no_grad():
        m.in_proj_bias.normal_()
        m.out_proj.bias.normal_()
    rng = np.random.default_rng(10)
    q, k = rng.standard_normal((4, 3, 6)), rng.standard_normal((5, 3, 6))
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    am = rng.standard_normal((4, 5))
    ref_o, ref_w = _mha_ref(m, q, k, k, kpm, am)
    for need in (True, False):
        o, w = m(ember.tensor(q), ember.tensor(k), ember.tensor(k), key_padding_mask=ember.tensor(kpm),
                 attn_mask=ember.tensor(am), need_weights=need)
        close(o, ref_o, atol=1e-10)
        if need:
            close(w, ref_w, atol=1e-12)
        else:
            assert w is None
    bool_mask = np.triu(np.ones((4, 4), bool), 1)
    o, w = m(ember.tensor(q), ember.tensor(q), ember.tensor(q), attn_mask=ember.tensor(bool_mask))
    ref_o, ref_w = _mha_ref(m, q, q, q, attn_mask=bool_mask)
    close(o, ref_o, atol=1e-10)
    close(w, ref_w, atol=1e-12)
    _, per_head = m(ember.tensor(q), ember.tensor(q), ember.tensor(q), average_attn_weights=False)
    assert per_head.shape == (3, 2, 4, 4)


def test_mha_structure_init_and_validation():
    m = nn.MultiheadAttention(8, 2)
    assert [n for n, _ in m.named_parameters()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                    "out_proj.bias"]
    assert repr(m) == ("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
                       "out_features=8, bias=True)\n)")
    assert (m.in_proj_bias == 0).all().item() and (m.out_proj.bias == 0).all().item()
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform on [3E, E]
    assert np.abs(npy(m.in_proj_weight)).max() <= bound
    sep = nn.MultiheadAttention(8, 4, kdim=3, vdim=5, bias=False, add_bias_kv=True)
    assert [n for n, _ in sep.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k",
                                                      "bias_v", "out_proj.weight"]
    assert sep.k_proj_weight.shape == (8, 3) and sep.bias_k.shape == (1, 1, 8)
    out, w = sep(ember.randn(2, 1, 8), ember.randn(4, 1, 3), ember.randn(4, 1, 5))
    assert out.shape == (2, 1, 8) and w.shape == (1, 2, 5)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 1)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(ember.randn(2, 1, 8), ember.randn(2, 1, 8), ember.randn(2, 1, 8), is_causal=True)


def test_mha_batch_first_unbatched_and_dropout():
    m = nn.MultiheadAttention(4, 2, batch_first=True).eval()
    x = ember.randn(3, 5, 4)
    o, w = m(x, x, x)
    assert o.shape == (3, 5, 4) and w.shape == (3, 5, 5)
    o1, w1 = m(x[0], x[0], x[0])
    close(o1, o[0], atol=1e-6)
    close(w1, w[0], atol=1e-6)
    d = nn.MultiheadAttention(4, 1, dropout=0.5)
    y = ember.randn(6, 1, 4)
    d.eval()
    a, _ = d(y, y, y)
    b, _ = d(y, y, y)
    np.testing.assert_array_equal(npy(a), npy(b))


def test_mha_gradcheck():
    m = nn.MultiheadAttention(4, 2, add_zero_attn=True)
    q = randn(2, 1, 4, requires_grad=True, seed=11)
    k = randn(3, 1, 4, requires_grad=True, seed=12)
    v = randn(3, 1, 4, requires_grad=True, seed=13)
    check_module_grad(m, q, k, v)


@pytest.mark.parametrize("kw", [dict(), dict(batch_first=True), dict(kdim=3, vdim=5), dict(add_bias_kv=True),
                                dict(add_zero_attn=True, bias=False)])
def test_mha_matches_torch(kw):
    torch = torch_or_skip()
    e, t = nn.MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
    copy_weights(e, t)
    rng = np.random.default_rng(13)
    kd, vd = kw.get("kdim", 8), kw.get("vdim", 8)
    if kw.get("batch_first"):
        q, k, v = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, kd)), rng.standard_normal((2, 6, vd))
    else:
        q, k, v = rng.standard_normal((4, 2, 8)), rng.standard_normal((6, 2, kd)), rng.standard_normal((6, 2, vd))
    q, k, v = (a.astype(np.float32) for a in (q, k, v))
    kpm = np.zeros((2, 6), bool)
    kpm[0, -1] = True
    causal = np.triu(np.ones((4, 6), bool), 1)
    for need in (True, False):
        eq = ember.tensor(q, requires_grad=True)
        tq = torch.tensor(q, requires_grad=True)
        eo, ew = e(eq, ember.tensor(k), ember.tensor(v), key_padding_mask=ember.tensor(kpm),
                   attn_mask=ember.tensor(causal), need_weights=need)
        to, tw = t(tq, torch.tensor(k), torch.tensor(v), key_padding_mask=torch.tensor(kpm),
                   attn_mask=torch.tensor(causal), need_weights=need)
        close(eo, to, atol=1e-5)
        if need:
            close(ew, tw, atol=1e-6)
        eo.sum().backward()
        to.sum().backward()
        close(eq.grad, tq.grad, atol=1e-5)
        for (n, p), (_, r) in zip(e.named_parameters(), t.named_parameters()):
            close(p.grad, r.grad, atol=1e-4)
            p.grad = None
            r.grad = None


def test_sdpa_matches_torch():
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = np.random.default_rng(14)
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6)))
    mask = rng.uniform(size=(3, 5)) > 0.4
    mask[2] = False  # a fully masked row
    for kwargs in (dict(), dict(is_causal=True), dict(scale=0.2)):
        close(F.scaled_dot_product_attention(ember.tensor(q), ember.tensor(k), ember.tensor(v), **kwargs),
              TF.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), **kwargs), atol=1e-5)
    e_args = [ember.tensor(a) for a in (q, k, v, mask)]
    t_args = [torch.tensor(a) for a in (q, k, v, mask)]
    close(F.scaled_dot_product_attention(*e_args[:3], attn_mask=e_args[3]),
          TF.scaled_dot_product_attention(*t_args[:3], attn_mask=t_args[3]), atol=1e-5)
