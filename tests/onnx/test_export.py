"""ember.onnx.export: models of the supported layers exported from a traced forward, run by onnxruntime with
the same outputs as Ember (float32 and float64), a dynamic batch axis, and clear errors naming what is
unsupported."""
import io
import math

import numpy as np
import pytest

import ember
from ember import nn
import ember.nn.functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import ember.onnx  # noqa: E402


def _flat(out):
    if isinstance(out, ember.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return []


def export_and_run(model, args, feeds=None, atol=1e-5, rtol=1e-4, **kw):
    """Exports model(*args) and checks onnxruntime against Ember on args (and on each extra feed tuple)."""
    args = args if isinstance(args, tuple) else (args,)
    names = kw.pop("input_names", None) or ["in%d" % i for i in range(len(_flat(list(args))))]
    buf = io.BytesIO()
    assert ember.onnx.export(model, args, buf, input_names=names, **kw) is None
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for a in [args] + list(feeds or []):
        with ember.no_grad():
            if isinstance(model, nn.Module):
                model.eval()
            ref = _flat(model(*a))
        got = sess.run(None, {n: t.numpy() for n, t in zip(names, _flat(list(a)))})
        assert len(got) == len(ref)
        for r, o in zip(ref, got):
            assert o.shape == tuple(r.shape)
            np.testing.assert_allclose(o, r.numpy(), atol=atol, rtol=rtol)
    return proto


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, stride=2, dilation=1, groups=2)
        self.drop = nn.Dropout(0.4)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)
        x = self.drop(F.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc(x), dim=1)


def _with_stats(model):
    for m in model.modules():
        if isinstance(m, nn.modules.normalization._BatchNorm):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return model


def test_cnn_with_dynamic_batch():
    model = _with_stats(CNN())
    proto = export_and_run(model, ember.randn(2, 1, 16, 16), feeds=[(ember.randn(5, 1, 16, 16),)],
                           dynamic_axes={"in0": {0: "batch"}}, output_names=["logp"])
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].name == "logp"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert {"Conv", "BatchNormalization", "MaxPool", "Gemm", "LogSoftmax"} <= {n.op_type for n in proto.graph.node}


def test_conv1d_pools_flatten_and_list_dynamic_axes():
    model = nn.Sequential(nn.Conv1d(3, 6, 5, padding=2), nn.BatchNorm1d(6), nn.ELU(), nn.AvgPool1d(2),
                          nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(6, 4, 3, padding="same"),
                          nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(4, 3))
    _with_stats(model)
    export_and_run(model, ember.randn(2, 3, 16), feeds=[(ember.randn(7, 3, 16),)], dynamic_axes={"in0": [0]})


def test_adaptive_and_avg_pool2d():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.AvgPool2d(2, count_include_pad=False, padding=1),
                          nn.AdaptiveAvgPool2d((2, 2)), nn.ReLU(inplace=True), nn.AdaptiveMaxPool2d(1),
                          nn.Flatten(1))
    export_and_run(model, ember.randn(3, 2, 9, 9))


def test_dcgan_generator_conv_transpose_and_group_norm():
    gen = nn.Sequential(nn.ConvTranspose2d(8, 6, 4, 1, 0, bias=False), nn.BatchNorm2d(6), nn.ReLU(True),
                        nn.ConvTranspose2d(6, 4, 4, 2, 1, bias=False), nn.GroupNorm(2, 4), nn.ReLU(True),
                        nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1), nn.Tanh())
    _with_stats(gen)
    export_and_run(gen, ember.randn(2, 8, 1, 1), feeds=[(ember.randn(4, 8, 1, 1),)], dynamic_axes={"in0": [0]},
                   atol=1e-5)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True),
                                        ("bicubic", False)])
def test_upsampling_and_pixel_shuffle(mode, align):
    """The super-resolution model of PyTorch's ONNX tutorial, plus interpolate modes."""
    conv = nn.Conv2d(2, 8, 3, padding=1)

    def fn(x):
        y = F.pixel_shuffle(conv(x), 2)
        z = F.interpolate(x, scale_factor=2, mode=mode, align_corners=align)
        w = F.interpolate(x, size=(5, 7), mode=mode, align_corners=align)
        return y + z.repeat(1, 1, 1, 1)[:, :1], w, F.pixel_unshuffle(y, 2)
    export_and_run(fn, ember.randn(2, 2, 4, 6), feeds=[(ember.randn(3, 2, 4, 6),)], dynamic_axes={"in0": [0]},
                   atol=1e-5)


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(1.3), nn.GELU(),
               nn.GELU(approximate="tanh"), nn.SiLU(), nn.Tanh(), nn.Sigmoid(), nn.Softplus(), nn.Softplus(beta=2.0),
               nn.Hardtanh(-0.5, 0.7), nn.ReLU6(), nn.Hardsigmoid(), nn.Hardswish(), nn.Mish(), nn.LogSigmoid(),
               nn.Softsign(), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1), nn.PReLU(3), nn.Identity()]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda m: repr(m))
def test_activations(act):
    export_and_run(nn.Sequential(nn.Linear(4, 3), act), ember.randn(5, 4) * 3)


def test_layer_norm_embedding_float64():
    # (onnxruntime has no float64 Erf, so no GELU here)
    model = nn.Sequential(nn.Embedding(11, 6, padding_idx=0), nn.LayerNorm(6), nn.Tanh(), nn.Flatten(),
                          nn.Linear(18, 2)).double()
    export_and_run(model, ember.randint(0, 11, (4, 3)), feeds=[(ember.randint(0, 11, (9, 3)),)],
                   dynamic_axes={"in0": {0: "n"}}, atol=1e-12)


class LanguageModel(nn.Module):
    """The word_language_model shape: Embedding -> LSTM -> Dropout -> Linear, hidden state in and out."""

    def __init__(self, kind="LSTM"):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.rnn = getattr(nn, kind)(8, 12, num_layers=2, dropout=0.2)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(12, 20)

    def forward(self, tokens, hidden):
        y, hidden = self.rnn(self.drop(self.emb(tokens)), hidden)
        return self.out(self.drop(y)), hidden


def test_lstm_language_model_with_state_inputs_and_dynamic_batch():
    model = LanguageModel("LSTM")
    h = (ember.randn(2, 3, 12), ember.randn(2, 3, 12))
    proto = export_and_run(model, (ember.randint(0, 20, (5, 3)), h),
                           feeds=[(ember.randint(0, 20, (5, 6)), (ember.randn(2, 6, 12), ember.randn(2, 6, 12)))],
                           input_names=["tokens", "h0", "c0"],
                           dynamic_axes={"tokens": {1: "batch"}, "h0": {1: "batch"}, "c0": {1: "batch"}})
    assert sum(n.op_type == "LSTM" for n in proto.graph.node) == 2


def test_gru_language_model():
    model = LanguageModel("GRU")
    export_and_run(model, (ember.randint(0, 20, (4, 2)), ember.randn(2, 2, 12)))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_bidirectional_batch_first_and_unbatched(kind):
    rnn = getattr(nn, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    export_and_run(rnn, ember.randn(3, 4, 5))
    export_and_run(getattr(nn, kind)(5, 7), ember.randn(6, 5))  # unbatched [seq, feature]
    if kind == "RNN":
        export_and_run(nn.RNN(5, 7, nonlinearity="relu", bias=False), ember.randn(4, 2, 5))


def test_transformer_encoder_batch_first_and_masks():
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)
    enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    x = ember.randn(2, 5, 16)
    export_and_run(enc, x, feeds=[(ember.randn(3, 5, 16),)], dynamic_axes={"in0": {0: "batch"}}, atol=1e-4)
    mask = nn.Transformer.generate_square_subsequent_mask(5)

    class Causal(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = enc

        def forward(self, src, pad):
            return self.enc(src, mask=mask, src_key_padding_mask=pad)
    pad = ember.zeros(2, 5, dtype=ember.bool)
    pad[1, 3:] = True
    export_and_run(Causal(), (x, pad), atol=1e-4)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        position = ember.arange(0, max_len, dtype=ember.float).unsqueeze(1)
        div_term = ember.exp(ember.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = ember.zeros(max_len, d_model)
        pe[:, 0::2] = ember.sin(position * div_term)
        pe[:, 1::2] = ember.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0), :])


class TransformerModel(nn.Transformer):
    """PyTorch's word_language_model TransformerModel, unchanged but for the names."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers):
        super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid, num_encoder_layers=nlayers)
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)

    def forward(self, src, has_mask=True):
        if has_mask:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = ember.log(ember.tril(ember.ones(len(src), len(src))))
        else:
            self.src_mask = None
        src = self.pos_encoder(self.input_emb(src) * math.sqrt(self.ninp))
        return F.log_softmax(self.decoder(self.encoder(src, mask=self.src_mask)), dim=-1)


@pytest.mark.parametrize("has_mask", [True, False])
def test_word_language_model_transformer(has_mask):
    model = TransformerModel(30, 16, 2, 32, 2)
    src = ember.randint(0, 30, (7, 3))
    buf = io.BytesIO()
    ember.onnx.export(model, (src, {"has_mask": has_mask}), buf, input_names=["src"],
                      dynamic_axes={"src": {1: "batch"}})
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    model.eval()
    for batch in (3, 5):
        x = ember.randint(0, 30, (7, batch))
        with ember.no_grad():
            ref = model(x, has_mask=has_mask)
        np.testing.assert_allclose(sess.run(None, {"src": x.numpy()})[0], ref.numpy(), atol=1e-4)


def test_transformer_encoder_seq_first_norm_first_gelu():
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True)
    enc = nn.TransformerEncoder(layer, 1, norm=nn.LayerNorm(8), enable_nested_tensor=False)
    export_and_run(enc, ember.randn(6, 3, 8), atol=1e-4)


def test_multihead_attention_weights():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q, kv = ember.randn(2, 3, 8), ember.randn(2, 4, 8)

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = mha

        def forward(self, q, kv):
            return self.mha(q, kv, kv)
    export_and_run(Cross(), (q, kv), atol=1e-5)


def test_tensor_ops_in_forward():
    w = ember.randn(4, 4)

    def fn(x, y):
        a = x[:, 1:3] * 2 - y[0]
        b = ember.cat([a, x.transpose(0, 1)[:2].t()], dim=1).unsqueeze(0).permute(0, 2, 1).squeeze(0)
        c, d = b.split(2, dim=0)
        e = ember.stack([c, d], dim=-1).mean(dim=-1) + b.sum(0, keepdim=True)[:, :2].T
        f = (x @ w).max(dim=1)[0] / (x.abs() + 1).sqrt().sum(1) + x.exp().amax(1) ** 0.5
        g = F.pad(e, (1, 1)).reshape(-1) * ember.where(y[1] > 0, 1.0, -1.0).sum()
        return e, f.clamp(min=-1.0), g, x[..., None, ::2].contiguous().float(), 1 - x.sigmoid()
    export_and_run(fn, (ember.randn(4, 4), ember.randn(2, 2)), atol=1e-5)


def test_expand_and_like_ops_keep_the_batch_dynamic():
    bias = ember.randn(1, 3)

    def fn(x):
        return (x + bias) * ember.zeros_like(x) + x[:, :1].expand(-1, 3) + ember.ones_like(x) + x.unsqueeze(
            1).expand(x.size(0), 2, 3).sum(1)
    export_and_run(fn, ember.randn(2, 3), feeds=[(ember.randn(6, 3),)], dynamic_axes={"in0": {0: "n"}})


def test_sdpa_and_integer_inputs():
    def attn(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    export_and_run(attn, (ember.randn(2, 3, 5, 4), ember.randn(2, 3, 5, 4), ember.randn(2, 3, 5, 4)))

    def index(x, idx):
        return x[idx] + ember.ones_like(x[idx])
    export_and_run(index, (ember.randn(6, 3), ember.tensor([4, 0, 5])))


def test_to_file_export_params_false_and_opsets(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Tanh())
    x = ember.randn(2, 3)
    for opset in (17, 18, 20):
        path = tmp_path / ("m%d.onnx" % opset)
        ember.onnx.export(model, (x,), str(path), opset_version=opset, input_names=["x"])
        proto = onnx.load(str(path))
        assert proto.opset_import[0].version == opset
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
        with ember.no_grad():
            np.testing.assert_allclose(got, model(x).numpy(), atol=1e-5)
    buf = io.BytesIO()
    ember.onnx.export(model, x, buf, export_params=False, input_names=["x"])
    proto = onnx.load_from_string(buf.getvalue())
    names = [i.name for i in proto.graph.input]
    assert names[0] == "x" and "0.weight" in names and not proto.graph.initializer
    feeds = {"x": x.numpy(), **{n: p.detach().numpy() for n, p in model.named_parameters()}}
    got = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    with ember.no_grad():
        np.testing.assert_allclose(got, model(x).numpy(), atol=1e-5)


def test_requires_grad_and_modes_restored_and_in_export_flag():
    seen = []

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            seen.append(ember.onnx.is_in_onnx_export())
            return self.fc(x)
    m = M()
    ember.onnx.export(m, ember.randn(1, 2), io.BytesIO())
    assert seen == [True] and not ember.onnx.is_in_onnx_export()
    assert all(p.requires_grad for p in m.parameters()) and m.training
    assert ember.Tensor.relu.__name__ == "relu" and not hasattr(ember.Tensor.relu, "_ember_onnx_original")


# ------------------------------------------------------------------------------------------------- errors

def _export(fn, *args, **kw):
    ember.onnx.export(fn, args, io.BytesIO(), **kw)


def test_unsupported_op_is_named():
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'cumsum'"):
        _export(lambda x: ember.cumsum(x, 0), ember.randn(3))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'sort'"):
        _export(lambda x: x.sort()[0], ember.randn(3))


def test_untraced_path_is_caught_not_baked_in():
    class Exp(ember.autograd.Function):  # a user Function calling a kernel directly
        @staticmethod
        def forward(ctx, x):
            return ember._C.exp(x)

        @staticmethod
        def backward(ctx, g):
            return g
    with pytest.raises(ember.onnx.UnsupportedOperatorError,
                       match=r"does not trace \(autograd node ExpBackward\) reached '__add__'"):
        _export(lambda x: Exp.apply(x) + 1, ember.randn(3))


def test_training_mode_ops_and_other_refusals():
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="dropout in training mode"):
        _export(lambda x: F.dropout(x, 0.5), ember.randn(3))
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="batch_norm"):
        ember.onnx.export(bn, ember.randn(4, 3), io.BytesIO(), training=ember.onnx.TrainingMode.TRAINING)

    def setitem(x):
        y = x * 1
        y[0] = 0.0
        return y
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="__setitem__"):
        _export(setitem, ember.randn(3))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="on a view"):
        _export(lambda x: (x * 1)[1:].relu_(), ember.randn(3))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="boolean-mask"):
        _export(lambda x: x[x > 0], ember.randn(3))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="PackedSequence"):
        lstm = nn.LSTM(2, 3)
        packed = nn.utils.rnn.pack_padded_sequence(ember.randn(4, 2, 2), [4, 2])
        _export(lambda x: lstm(nn.utils.rnn.PackedSequence(x, packed.batch_sizes))[0].data, packed.data)


def test_bad_arguments():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset_version"):
        ember.onnx.export(m, ember.randn(1, 2), io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match="dynamic_axes"):
        ember.onnx.export(m, ember.randn(1, 2), io.BytesIO(), input_names=["x"], dynamic_axes={"y": [0]})
    with pytest.raises(ValueError, match="input_names"):
        ember.onnx.export(m, ember.randn(1, 2), io.BytesIO(), input_names=["a", "b"])
    with pytest.raises(TypeError, match="unexpected keyword"):
        ember.onnx.export(m, ember.randn(1, 2), io.BytesIO(), no_such_option=1)
    with pytest.raises(TypeError, match="path or a binary file"):
        ember.onnx.export(m, ember.randn(1, 2), 42)
