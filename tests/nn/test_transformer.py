"""nn.Transformer and its encoder/decoder stacks and layers: numpy references, masks, structure, errors and
PyTorch parity (outputs and gradients with copied weights)."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_module_grad, close, npy


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _ln(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _attn_ref(sd, prefix, q, kv, heads, mask=None, kpm=None):
    """MultiheadAttention (sequence-first [L, N, E]) from a state_dict in numpy; masks: True/-inf = blocked."""
    W, b = sd[prefix + "in_proj_weight"], sd[prefix + "in_proj_bias"]
    E = q.shape[-1]
    d = E // heads
    Q, K, V = q @ W[:E].T + b[:E], kv @ W[E:2 * E].T + b[E:2 * E], kv @ W[2 * E:].T + b[2 * E:]
    L, N, S = q.shape[0], q.shape[1], kv.shape[0]
    Q = Q.reshape(L, N, heads, d).transpose(1, 2, 0, 3)
    K = K.reshape(S, N, heads, d).transpose(1, 2, 0, 3)
    V = V.reshape(S, N, heads, d).transpose(1, 2, 0, 3)
    s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(d)
    if mask is not None:
        s = np.where(mask, -np.inf, s) if mask.dtype == bool else s + mask
    if kpm is not None:
        s = np.where(kpm[:, None, None, :], -np.inf, s)
    o = (_softmax(s) @ V).transpose(2, 0, 1, 3).reshape(L, N, E)
    return o @ sd[prefix + "out_proj.weight"].T + sd[prefix + "out_proj.bias"]


def _ff_ref(sd, x, act):
    return act(x @ sd["linear1.weight"].T + sd["linear1.bias"]) @ sd["linear2.weight"].T + sd["linear2.bias"]


def _relu(x):
    return np.maximum(x, 0)


def _encoder_layer_ref(layer, x, mask=None, kpm=None):
    sd = {k: npy(v) for k, v in layer.state_dict().items()}
    heads = layer.self_attn.num_heads
    n1 = lambda v: _ln(v, sd["norm1.weight"], sd["norm1.bias"])  # noqa: E731
    n2 = lambda v: _ln(v, sd["norm2.weight"], sd["norm2.bias"])  # noqa: E731
    if layer.norm_first:
        h = n1(x)
        x = x + _attn_ref(sd, "self_attn.", h, h, heads, mask, kpm)
        return x + _ff_ref(sd, n2(x), _relu)
    x = n1(x + _attn_ref(sd, "self_attn.", x, x, heads, mask, kpm))
    return n2(x + _ff_ref(sd, x, _relu))


def _decoder_layer_ref(layer, x, mem, tgt_mask=None, mem_kpm=None):
    sd = {k: npy(v) for k, v in layer.state_dict().items()}
    heads = layer.self_attn.num_heads
    ns = [lambda v, i=i: _ln(v, sd["norm%d.weight" % i], sd["norm%d.bias" % i]) for i in (1, 2, 3)]
    x = ns[0](x + _attn_ref(sd, "self_attn.", x, x, heads, tgt_mask))
    x = ns[1](x + _attn_ref(sd, "multihead_attn.", x, mem, heads, kpm=mem_kpm))
    return ns[2](x + _ff_ref(sd, x, _relu))


def _randomise(module, seed):
    """Non-zero biases and norm affine parameters, so the references exercise every parameter."""
    rng = np.random.default_rng(seed)
    with ember.no_grad():
        for p in module.parameters():
            p.copy_(ember.tensor(rng.standard_normal(tuple(p.shape)) * 0.3, dtype=p.dtype))


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_numpy_reference_with_masks(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, norm_first=norm_first).double()
    _randomise(layer, 1)
    x = _rand(5, 3, 8, seed=2)
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    float_mask = _rand(5, 5, seed=3)
    causal = np.triu(np.ones((5, 5), bool), 1)
    close(layer(ember.tensor(x)), _encoder_layer_ref(layer, x), atol=1e-10)
    close(layer(ember.tensor(x), src_mask=ember.tensor(float_mask), src_key_padding_mask=ember.tensor(kpm)),
          _encoder_layer_ref(layer, x, float_mask, kpm), atol=1e-10)
    close(layer(ember.tensor(x), src_mask=ember.tensor(causal), is_causal=True),
          _encoder_layer_ref(layer, x, causal), atol=1e-10)


def test_decoder_layer_numpy_reference():
    layer = nn.TransformerDecoderLayer(8, 4, dim_feedforward=10, dropout=0.0).double()
    _randomise(layer, 4)
    tgt, mem = _rand(4, 2, 8, seed=5), _rand(6, 2, 8, seed=6)
    kpm = np.zeros((2, 6), bool)
    kpm[1, 4:] = True
    tmask = npy(nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64))
    out = layer(ember.tensor(tgt), ember.tensor(mem), tgt_mask=ember.tensor(tmask),
                memory_key_padding_mask=ember.tensor(kpm))
    close(out, _decoder_layer_ref(layer, tgt, mem, tmask, kpm), atol=1e-10)


def test_batch_first_unbatched_and_mask_kinds_agree():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).double()
    lbf = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double()
    lbf.load_state_dict(layer.state_dict())
    x = ember.tensor(_rand(5, 3, 8, seed=7))
    ref = layer(x)
    close(lbf(x.transpose(0, 1)).transpose(0, 1), ref, atol=1e-12)
    # unbatched [S, E] equals the batch of one
    close(layer(x[:, 1]), ref[:, 1], atol=1e-12)
    # bool and float masks are the same thing
    bool_mask = np.triu(np.ones((5, 5), bool), 1)
    float_mask = np.where(bool_mask, -np.inf, 0.0)
    close(layer(x, src_mask=ember.tensor(bool_mask)), layer(x, src_mask=ember.tensor(float_mask)), atol=1e-12)
    # padded keys do not influence the other positions
    kpm = np.zeros((3, 5), bool)
    kpm[:, 4] = True
    x2 = x.clone()
    x2[4] = 100.0
    a = layer(x, src_key_padding_mask=ember.tensor(kpm))
    b = layer(x2, src_key_padding_mask=ember.tensor(kpm))
    close(a[:4], b[:4], atol=1e-10)


def test_square_subsequent_mask_and_causal_detection():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == ember.float32 and m.shape == (4, 4)
    expected = np.triu(np.full((4, 4), -np.inf), 1)
    np.testing.assert_array_equal(npy(m), expected)
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64).dtype == ember.float64
    from ember.nn.modules.transformer import _detect_is_causal_mask
    assert _detect_is_causal_mask(m) is True
    assert _detect_is_causal_mask(m, size=5) is False
    assert _detect_is_causal_mask(ember.zeros(4, 4)) is False
    assert _detect_is_causal_mask(None, True) is True
    # the encoder detects a causal mask and still gives the same result as without the hint
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0), 2, enable_nested_tensor=False)
    x = ember.randn(4, 2, 4)
    close(enc(x, mask=m), enc(x, mask=m, is_causal=False), atol=1e-6)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        enc(x, is_causal=True)


def test_structure_state_dict_keys_and_init():
    t = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)
    keys = list(t.state_dict().keys())
    assert keys[:12] == ["encoder.layers.0.self_attn.in_proj_weight", "encoder.layers.0.self_attn.in_proj_bias",
                         "encoder.layers.0.self_attn.out_proj.weight", "encoder.layers.0.self_attn.out_proj.bias",
                         "encoder.layers.0.linear1.weight", "encoder.layers.0.linear1.bias",
                         "encoder.layers.0.linear2.weight", "encoder.layers.0.linear2.bias",
                         "encoder.layers.0.norm1.weight", "encoder.layers.0.norm1.bias",
                         "encoder.layers.0.norm2.weight", "encoder.layers.0.norm2.bias"]
    assert "encoder.norm.weight" in keys and "decoder.norm.bias" in keys
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in keys and "decoder.layers.0.norm3.bias" in keys
    assert len(keys) == 2 * 12 + 2 + 1 * 18 + 2
    assert t.d_model == 8 and t.nhead == 2 and t.batch_first is False
    # xavier_uniform on every matrix: |w| <= sqrt(6 / (fan_in + fan_out))
    w = npy(t.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= np.sqrt(6 / (8 + 16)) and np.abs(w).max() > 0.5 * np.sqrt(6 / 24)
    # encoder copies start identical; Transformer re-initialises each layer independently
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 3, enable_nested_tensor=False)
    np.testing.assert_array_equal(npy(enc.layers[0].linear1.weight), npy(enc.layers[2].linear1.weight))
    assert enc.layers[0].linear1.weight is not enc.layers[2].linear1.weight
    assert not np.array_equal(npy(t.encoder.layers[0].linear1.weight), npy(t.encoder.layers[1].linear1.weight))
    # no bias anywhere with bias=False (LayerNorm included)
    nb = nn.TransformerEncoderLayer(8, 2, 16, bias=False)
    assert not any("bias" in k for k in nb.state_dict())
    layer = nn.TransformerEncoderLayer(8, 2)
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5
    assert layer.activation is F.relu and layer.activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation is F.gelu
    custom = nn.GELU(approximate="tanh")
    assert nn.TransformerDecoderLayer(8, 2, activation=custom).activation is custom


def test_activation_by_name_or_callable():
    x = ember.tensor(_rand(3, 2, 8, seed=8))
    a = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu").double()
    b = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=lambda v: F.gelu(v)).double()
    c = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU()).double()
    b.load_state_dict(a.state_dict())
    c.load_state_dict(a.state_dict())
    close(a(x), b(x), atol=1e-12)
    close(a(x), c(x), atol=1e-12)
    r = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0).double()
    r.load_state_dict(a.state_dict())
    assert not np.allclose(npy(r(x)), npy(a(x)))


def test_nested_tensor_inference_zeroes_padding():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2)
    assert enc.use_nested_tensor
    x = ember.randn(3, 5, 8)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    kpm = ember.tensor(kpm)
    train_out = enc(x, src_key_padding_mask=kpm)
    enc.eval()
    with ember.no_grad():
        out = enc(x, src_key_padding_mask=kpm)
    np.testing.assert_array_equal(npy(out)[1, 3:], 0.0)
    close(out[1, :3], train_out[1, :3], atol=1e-6)
    close(out[0], train_out[0], atol=1e-6)
    with pytest.warns(UserWarning, match="enable_nested_tensor is True, but self.use_nested_tensor is False"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 1, enable_nested_tensor=False)
        nn.Transformer(8, 2, 1, 1, 16)


def test_transformer_shapes_and_final_norm():
    t = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True).double()
    src, tgt = ember.tensor(_rand(2, 5, 8, seed=9)), ember.tensor(_rand(2, 3, 8, seed=10))
    out = t(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64))
    assert out.shape == (2, 3, 8)
    # the decoder's final LayerNorm: zero mean, unit variance over the features (weight 1, bias 0)
    o = npy(out)
    np.testing.assert_allclose(o.mean(-1), 0, atol=1e-10)
    np.testing.assert_allclose(o.var(-1), 1, atol=1e-4)
    assert t(src[0], tgt[0]).shape == (3, 8)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2,
                                norm=nn.LayerNorm(8), enable_nested_tensor=False)
    o = npy(enc(ember.randn(4, 2, 8)))
    assert o.shape == (4, 2, 8)
    np.testing.assert_allclose(o.mean(-1), 0, atol=1e-5)


def test_gradcheck_layers():
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, norm_first=True)
    x = ember.tensor(_rand(3, 2, 4, seed=11), requires_grad=True)
    check_module_grad(layer, x)
    dec = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0)
    tgt = ember.tensor(_rand(2, 1, 4, seed=12), requires_grad=True)
    mem = ember.tensor(_rand(3, 1, 4, seed=13), requires_grad=True)
    check_module_grad(dec, tgt, mem)


def test_dropout_in_training_only():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = ember.randn(4, 2, 8)
    ember.manual_seed(0)
    a = layer(x)
    ember.manual_seed(1)
    b = layer(x)
    assert not np.allclose(npy(a), npy(b))
    layer.eval()
    close(layer(x), layer(x), atol=0)


def test_bad_inputs():
    with pytest.raises((AssertionError, ValueError), match="divisible by num_heads"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises((AssertionError, ValueError), match="divisible by num_heads"):
        nn.Transformer(d_model=10, nhead=4)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    x = ember.randn(5, 3, 8)
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
        layer(x, src_mask=ember.zeros(4, 5))
    with pytest.raises(RuntimeError, match="The shape of the 3D attn_mask is"):
        layer(x, src_mask=ember.zeros(2, 5, 5))
    with pytest.raises(AssertionError, match="expecting key_padding_mask shape"):
        layer(x, src_key_padding_mask=ember.zeros(3, 4, dtype=ember.bool))
    with pytest.raises(AssertionError, match="only bool and floating types"):
        layer(x, src_mask=ember.zeros(5, 5, dtype=ember.int64))
    t = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        t(ember.randn(5, 3, 8), ember.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        t(ember.randn(5, 3, 8), ember.randn(4, 3, 6))


# ------------------------------------------------------------------------------------------ PyTorch parity


def _torch_copy(torch, em, tm):
    tm.load_state_dict({k: torch.tensor(npy(v)) for k, v in em.state_dict().items()}, strict=True)
    return tm


def _grads_close(torch_module, ember_module, atol, rtol):
    tp = dict(torch_module.named_parameters())
    for name, p in ember_module.named_parameters():
        close(p.grad, tp[name].grad, atol=atol, rtol=rtol)


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # PyTorch's notice on mixing bool and float masks
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_first,norm_first,act", [(False, False, "relu"), (True, True, "gelu"),
                                                        (True, False, "gelu")])
def test_transformer_matches_torch(dtype, batch_first, norm_first, act):
    torch = pytest.importorskip("torch")
    tol = dict(atol=1e-10, rtol=1e-8) if dtype == "float64" else dict(atol=2e-5, rtol=2e-4)
    em = nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, activation=act, batch_first=batch_first,
                        norm_first=norm_first).to(getattr(ember, dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0, activation=act, batch_first=batch_first,
                                  norm_first=norm_first).to(getattr(torch, dtype))
    _torch_copy(torch, em, tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    S, T, N = 5, 4, 3
    src, tgt = _rand(S, N, 8, seed=20).astype(dtype), _rand(T, N, 8, seed=21).astype(dtype)
    if batch_first:
        src, tgt = src.transpose(1, 0, 2).copy(), tgt.transpose(1, 0, 2).copy()
    src_kpm = np.zeros((N, S), bool)
    src_kpm[2, 3:] = True
    tgt_kpm = np.zeros((N, T), bool)
    tgt_kpm[1, 3] = True
    src_mask = _rand(S, S, seed=22).astype(dtype)
    mem_mask = np.zeros((T, S), bool)
    mem_mask[0, 1] = True
    es, et = ember.tensor(src, requires_grad=True), ember.tensor(tgt, requires_grad=True)
    ts, tt = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    e_tmask = nn.Transformer.generate_square_subsequent_mask(T, dtype=getattr(ember, dtype))
    t_tmask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=getattr(torch, dtype))
    eo = em(es, et, src_mask=ember.tensor(src_mask), tgt_mask=e_tmask, memory_mask=ember.tensor(mem_mask),
            src_key_padding_mask=ember.tensor(src_kpm), tgt_key_padding_mask=ember.tensor(tgt_kpm),
            memory_key_padding_mask=ember.tensor(src_kpm), tgt_is_causal=True)
    to = tm(ts, tt, src_mask=torch.tensor(src_mask), tgt_mask=t_tmask, memory_mask=torch.tensor(mem_mask),
            src_key_padding_mask=torch.tensor(src_kpm), tgt_key_padding_mask=torch.tensor(tgt_kpm),
            memory_key_padding_mask=torch.tensor(src_kpm), tgt_is_causal=True)
    close(eo, to, **tol)
    w = _rand(*eo.shape, seed=23).astype(dtype)
    (eo * ember.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    close(es.grad, ts.grad, **tol)
    close(et.grad, tt.grad, **tol)
    _grads_close(tm, em, **tol)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_encoder_eval_nested_path_and_torch_state_dict_load():
    torch = pytest.importorskip("torch")
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    tm = torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(8))
    em = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2, norm=nn.LayerNorm(8))
    # a torch state_dict loads strictly
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}, strict=True)
    tm.eval()
    em.eval()
    x = _rand(3, 5, 8, seed=30).astype("float32")
    kpm = np.zeros((3, 5), bool)
    kpm[0, 2:] = True
    kpm[2, 4] = True
    with torch.no_grad(), ember.no_grad():
        to = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
        eo = em(ember.tensor(x), src_key_padding_mask=ember.tensor(kpm))
        close(eo, to, atol=2e-5, rtol=2e-4)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(5)
        close(em(ember.tensor(x), mask=ember.tensor(causal.numpy())), tm(torch.tensor(x), mask=causal),
              atol=2e-5, rtol=2e-4)


def test_decoder_stack_matches_torch_float32():
    torch = pytest.importorskip("torch")
    em = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 4, 12, dropout=0.0), 2, norm=nn.LayerNorm(8))
    tm = _torch_copy(torch, em, torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 4, 12, dropout=0.0),
                                                            2, norm=torch.nn.LayerNorm(8)))
    tgt, mem = _rand(4, 2, 8, seed=31).astype("float32"), _rand(6, 2, 8, seed=32).astype("float32")
    mask = np.triu(np.ones((4, 4), bool), 1)
    eo = em(ember.tensor(tgt), ember.tensor(mem), tgt_mask=ember.tensor(mask))
    to = tm(torch.tensor(tgt), torch.tensor(mem), tgt_mask=torch.tensor(mask))
    close(eo, to, atol=2e-5, rtol=2e-4)
