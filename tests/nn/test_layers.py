"""Layers against numpy references, float64 gradcheck and (when installed) torch.nn with the same weights:
Identity, Linear, Bilinear, Flatten, Unflatten, convolutions, pooling, normalisation, dropout, embedding,
Upsample."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, check_module_grad, close, copy_weights, leaf, npy, randn, to_torch, torch_or_skip


def _torch_pair(e_mod, t_mod, *inputs, atol=1e-5, train=True):
    """Runs both modules (same weights) on the same inputs; compares outputs, input gradients and parameter
    gradients."""
    torch = torch_or_skip()
    copy_weights(e_mod, t_mod)
    e_mod.train(train)
    t_mod.train(train)
    e_in = [leaf(npy(x), ember.float32) for x in inputs]
    t_in = [to_torch(x, True).float() for x in inputs]
    t_in = [t.detach().requires_grad_(True) for t in t_in]
    eo, to = e_mod(*e_in), t_mod(*t_in)
    close(eo, to, atol=atol)
    g = np.random.default_rng(0).standard_normal(tuple(to.shape)).astype(np.float32)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in zip(e_in, t_in):
        close(a.grad, b.grad, atol=atol)
    for (n, p), (_, q) in zip(e_mod.named_parameters(), t_mod.named_parameters()):
        if q.grad is not None:
            close(p.grad, q.grad, atol=atol * 10)


# ================================================================================ linear family


def test_identity_returns_input_and_ignores_arguments():
    x = ember.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_linear_numpy_reference_and_shapes():
    lin = nn.Linear(4, 3).double()
    x = randn(2, 5, 4, seed=1)
    ref = npy(x) @ npy(lin.weight).T + npy(lin.bias)
    close(lin(x), ref, atol=1e-12)
    assert lin(randn(4)).shape == (3,)
    nobias = nn.Linear(4, 3, bias=False)
    assert nobias.bias is None and list(nobias.state_dict()) == ["weight"]
    assert repr(nobias) == "Linear(in_features=4, out_features=3, bias=False)"
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    with pytest.raises(ValueError):
        nn.Linear(-1, 2)
    assert nn.Linear(4, 3, dtype=ember.float64).weight.dtype is ember.float64


def test_linear_gradcheck():
    check_module_grad(nn.Linear(3, 2), randn(4, 3, requires_grad=True))


def test_bilinear_reference_and_gradcheck():
    bil = nn.Bilinear(3, 2, 4).double()
    x1, x2 = randn(5, 3, seed=1), randn(5, 2, seed=2)
    ref = np.einsum("ni,oij,nj->no", npy(x1), npy(bil.weight), npy(x2)) + npy(bil.bias)
    close(bil(x1, x2), ref, atol=1e-12)
    assert repr(bil) == "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=True)"
    check_module_grad(nn.Bilinear(2, 2, 2), randn(3, 2, requires_grad=True), randn(3, 2, requires_grad=True))


def test_linear_and_bilinear_match_torch():
    torch = torch_or_skip()
    _torch_pair(nn.Linear(5, 3), torch.nn.Linear(5, 3), randn(4, 5))
    _torch_pair(nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2), randn(6, 3), randn(6, 4))


def test_flatten_unflatten():
    x = ember.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (3, 1))(ember.randn(2, 3)).shape == (2, 3, 1)
    assert nn.Unflatten(-1, [2, -1])(ember.randn(2, 6)).shape == (2, 2, 3)
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2.0, 3))


# ================================================================================ convolution


def _conv2d_ref(x, w, b, stride, pad, dil, groups):
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = x[:, g * cg:(g + 1) * cg, i * stride[0]:i * stride[0] + dil[0] * (kh - 1) + 1:dil[0],
                          j * stride[1]:j * stride[1] + dil[1] * (kw - 1) + 1:dil[1]]
                out[:, oc, i, j] = (patch * w[oc]).sum((1, 2, 3))
    return out + (b.reshape(1, -1, 1, 1) if b is not None else 0)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2, bias=False),
                                dict(padding=(1, 2), stride=(2, 1))])
def test_conv2d_numpy_reference(kw):
    conv = nn.Conv2d(4, 6, (3, 2), **kw).double()
    x = randn(2, 4, 7, 6, seed=3)
    m = conv
    ref = _conv2d_ref(npy(x), npy(m.weight), None if m.bias is None else npy(m.bias), m.stride, m.padding,
                      m.dilation, m.groups)
    close(conv(x), ref, atol=1e-10)


def test_conv1d_numpy_reference_and_unbatched():
    conv = nn.Conv1d(2, 3, 3, stride=2, padding=1).double()
    x = randn(2, 2, 9, seed=4)
    ref = _conv2d_ref(npy(x)[:, :, None], npy(conv.weight)[:, :, None], npy(conv.bias), (1, 2), (0, 1), (1, 1), 1)
    close(conv(x), ref[:, :, 0], atol=1e-10)
    close(conv(x[0]), ref[0, :, 0], atol=1e-10)


def test_conv_padding_modes_and_same():
    x = randn(1, 2, 5, 6, seed=5)
    for mode in ("reflect", "replicate", "circular"):
        conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode).double()
        np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        xp = np.pad(npy(x), ((0, 0), (0, 0), (1, 1), (1, 1)), mode=np_mode)
        close(conv(x), _conv2d_ref(xp, npy(conv.weight), npy(conv.bias), (1, 1), (0, 0), (1, 1), 1), atol=1e-10)
    same = nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2)).double()
    assert same(x).shape == (1, 3, 5, 6)
    assert nn.Conv1d(2, 2, 4, padding="same", padding_mode="reflect")(ember.randn(1, 2, 7)).shape == (1, 2, 7)
    assert nn.Conv2d(2, 3, 3, padding="valid")(ember.randn(1, 2, 5, 5)).shape == (1, 3, 3, 3)


def test_conv_hyperparameter_validation():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(ValueError, match="not supported for strided convolutions"):
        nn.Conv1d(4, 4, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output padding must be smaller"):
        nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2)


def test_conv_reprs():
    assert repr(nn.Conv1d(2, 4, 3)) == "Conv1d(2, 4, kernel_size=(3,), stride=(1,))"
    assert repr(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False, padding_mode="reflect")) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False, padding_mode=reflect)")
    assert repr(nn.Conv2d(4, 8, (3, 5), dilation=2, groups=2, padding="same")) == (
        "Conv2d(4, 8, kernel_size=(3, 5), stride=(1, 1), padding=same, dilation=(2, 2), groups=2)")
    assert repr(nn.ConvTranspose2d(3, 6, 3, stride=2, output_padding=1)) == (
        "ConvTranspose2d(3, 6, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))")


def _conv_transpose_ref(x, w, b, stride, pad, out_pad, dil, groups):
    n, cin, h, wd = x.shape
    _, cog, kh, kw = w.shape
    oh = (h - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + out_pad[0] + 1
    ow = (wd - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + out_pad[1] + 1
    full = np.zeros((n, cog * groups, oh + 2 * pad[0], ow + 2 * pad[1]))
    cg = cin // groups
    for ci in range(cin):
        g = ci // cg
        for i in range(h):
            for j in range(wd):
                for a in range(kh):
                    for bb in range(kw):
                        full[:, g * cog:(g + 1) * cog, i * stride[0] + a * dil[0], j * stride[1] + bb * dil[1]] += (
                            x[:, ci, i, j][:, None] * w[ci, :, a, bb][None])
    out = full[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]
    return out + b.reshape(1, -1, 1, 1)


def test_conv_transpose2d_numpy_reference_and_output_size():
    m = nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 1), padding=1, output_padding=(1, 0), groups=2,
                           dilation=(1, 2)).double()
    x = randn(2, 4, 3, 4, seed=6)
    ref = _conv_transpose_ref(npy(x), npy(m.weight), npy(m.bias), m.stride, m.padding, m.output_padding,
                              m.dilation, m.groups)
    close(m(x), ref, atol=1e-10)
    up = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    y = ember.randn(1, 2, 4, 4)
    assert up(y).shape == (1, 2, 7, 7)
    assert up(y, output_size=[8, 8]).shape == (1, 2, 8, 8)
    assert up(y, output_size=(1, 2, 8, 8)).shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="requested an output size of"):
        up(y, output_size=(10, 10))


def test_conv_gradchecks():
    check_module_grad(nn.Conv2d(2, 2, 2, stride=1, padding=1, groups=2), randn(1, 2, 3, 3, requires_grad=True))
    check_module_grad(nn.Conv1d(1, 2, 2, padding=1, padding_mode="reflect"), randn(1, 1, 4, requires_grad=True))
    check_module_grad(nn.ConvTranspose2d(2, 1, 2, stride=2), randn(1, 2, 2, 2, requires_grad=True))


def test_convs_match_torch():
    torch = torch_or_skip()
    _torch_pair(nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), torch.nn.Conv2d(4, 6, 3, 2, 1, groups=2),
                randn(2, 4, 8, 7), atol=1e-4)
    _torch_pair(nn.Conv2d(2, 3, 3, padding=2, padding_mode="circular", dilation=2),
                torch.nn.Conv2d(2, 3, 3, padding=2, padding_mode="circular", dilation=2), randn(1, 2, 6, 6), atol=1e-4)
    _torch_pair(nn.Conv1d(3, 4, 5, padding="same", padding_mode="replicate"),
                torch.nn.Conv1d(3, 4, 5, padding="same", padding_mode="replicate"), randn(2, 3, 9), atol=1e-4)
    _torch_pair(nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
                torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
                randn(2, 4, 3, 3), atol=1e-4)


# ================================================================================ pooling


def _pool_ref(x, k, s, p, op, pad_value):
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = op(x[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return out


def test_pooling_numpy_references():
    x = randn(2, 3, 7, 7, seed=7)
    close(nn.MaxPool2d(3, 2, 1)(x), _pool_ref(npy(x), 3, 2, 1, np.max, -np.inf), atol=1e-12)
    close(nn.AvgPool2d(3, 2, 1)(x), _pool_ref(npy(x), 3, 2, 1, np.mean, 0.0), atol=1e-12)
    close(nn.MaxPool2d(2)(x), _pool_ref(npy(x), 2, 2, 0, np.max, 0.0), atol=1e-12)
    close(nn.AdaptiveAvgPool2d(1)(x), npy(x).mean((2, 3), keepdims=True), atol=1e-12)
    adaptive = nn.AdaptiveAvgPool2d((3, 2))(x)
    ref = np.zeros((2, 3, 3, 2))
    for i in range(3):
        for j in range(2):
            h0, h1 = (i * 7) // 3, -(-(i + 1) * 7 // 3)
            w0, w1 = (j * 7) // 2, -(-(j + 1) * 7 // 2)
            ref[:, :, i, j] = npy(x)[:, :, h0:h1, w0:w1].mean((2, 3))
    close(adaptive, ref, atol=1e-12)
    values, idx = nn.MaxPool2d(2, return_indices=True)(x)
    flat = npy(x).reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, npy(idx).reshape(2, 3, -1), 2).reshape(values.shape),
                                  npy(values))


def test_pooling_reprs_and_validation():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.MaxPool2d(3, 2, 1, ceil_mode=True)) == (
        "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)")
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AdaptiveAvgPool2d((5, 7))) == "AdaptiveAvgPool2d(output_size=(5, 7))"
    with pytest.raises(ValueError, match="pad should be at least zero and at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="stride must be greater than zero"):
        nn.AvgPool2d(2, stride=0)


def test_pooling_gradcheck_and_torch():
    x = randn(1, 2, 5, 5, requires_grad=True, seed=8)
    check_grad(lambda t: nn.MaxPool2d(3, 2, 1)(t), x)
    check_grad(lambda t: nn.AvgPool2d(2, 1, 1, count_include_pad=False)(t), x)
    check_grad(lambda t: nn.AdaptiveAvgPool2d((2, 3))(t), x)
    torch = torch_or_skip()
    y = randn(2, 3, 9, 8, seed=9)
    for e, t in [(nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
                 (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                  torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
                 (nn.AdaptiveAvgPool2d((4, 3)), torch.nn.AdaptiveAvgPool2d((4, 3))),
                 (nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3))]:
        _torch_pair(e, t, y)
    _torch_pair(nn.MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2), randn(2, 3, 9))
    _torch_pair(nn.AvgPool1d(3, 2, 1), torch.nn.AvgPool1d(3, 2, 1), randn(2, 3, 9))
    _torch_pair(nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4), randn(2, 3, 9))


# ================================================================================ normalisation


def test_batchnorm_train_and_eval_numpy():
    bn = nn.BatchNorm1d(3).double()
    with ember.no_grad():
        bn.weight.copy_(ember.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(ember.tensor([0.0, -1.0, 1.0]))
    x = randn(6, 3, seed=10)
    xn = npy(x)
    mean, var = xn.mean(0), xn.var(0)
    ref = (xn - mean) / np.sqrt(var + 1e-5) * npy(bn.weight) + npy(bn.bias)
    close(bn(x), ref, atol=1e-10)
    close(bn.running_mean, 0.1 * mean, atol=1e-12)
    close(bn.running_var, 0.9 + 0.1 * xn.var(0, ddof=1), atol=1e-12)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = randn(4, 3, seed=11)
    ref_eval = (npy(y) - npy(bn.running_mean)) / np.sqrt(npy(bn.running_var) + 1e-5) * npy(bn.weight) + npy(bn.bias)
    close(bn(y), ref_eval, atol=1e-10)
    assert bn.num_batches_tracked.item() == 1  # evaluation does not count


def test_batchnorm_variants():
    x = randn(4, 2, 3, 3, seed=12)
    cumulative = nn.BatchNorm2d(2, momentum=None).double()
    cumulative(x)
    cumulative(x * 2)
    xn = npy(x).transpose(1, 0, 2, 3).reshape(2, -1)
    close(cumulative.running_mean, (xn.mean(1) + 2 * xn.mean(1)) / 2, atol=1e-12)
    untracked = nn.BatchNorm2d(2, track_running_stats=False).double().eval()
    assert untracked.running_mean is None and list(untracked.state_dict()) == ["weight", "bias"]
    ref = (xn - xn.mean(1, keepdims=True)) / np.sqrt(xn.var(1, keepdims=True) + 1e-5)
    close(untracked(x), ref.reshape(2, 4, 3, 3).transpose(1, 0, 2, 3), atol=1e-10)  # batch stats in eval too
    plain = nn.BatchNorm1d(2, affine=False)
    assert plain.weight is None and list(plain.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    seq = nn.BatchNorm1d(2).double()
    z = randn(3, 2, 5, seed=13)
    zn = npy(z).transpose(1, 0, 2).reshape(2, -1)
    close(seq(z), ((npy(z) - zn.mean(1)[None, :, None]) / np.sqrt(zn.var(1)[None, :, None] + 1e-5)), atol=1e-10)
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(2)(ember.randn(2, 2))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(2)(ember.randn(2, 2, 2, 2))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(2)(ember.randn(1, 2))
    bn = nn.BatchNorm1d(2)
    bn(ember.randn(4, 2))
    bn.reset_running_stats()
    assert bn.running_mean.abs().sum().item() == 0 and bn.num_batches_tracked.item() == 0


def test_layer_norm_and_group_norm_numpy():
    x = randn(2, 4, 3, seed=14)
    ln = nn.LayerNorm((4, 3)).double()
    with ember.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    xn = npy(x)
    m, v = xn.mean((1, 2), keepdims=True), xn.var((1, 2), keepdims=True)
    close(ln(x), (xn - m) / np.sqrt(v + 1e-5) * npy(ln.weight) + npy(ln.bias), atol=1e-10)
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None
    assert nn.LayerNorm(3, bias=False).bias is None
    gn = nn.GroupNorm(2, 4).double()
    g = xn.reshape(2, 2, -1)
    ref = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(2, 4, 3)
    close(gn(x), ref, atol=1e-10)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)


def test_normalisation_gradchecks():
    check_module_grad(nn.BatchNorm1d(2), randn(4, 2, requires_grad=True))
    check_module_grad(nn.BatchNorm2d(2).eval(), randn(2, 2, 2, 2, requires_grad=True))
    check_module_grad(nn.LayerNorm(3), randn(2, 3, requires_grad=True))
    check_module_grad(nn.GroupNorm(2, 4), randn(2, 4, 2, requires_grad=True))


def test_normalisation_matches_torch():
    torch = torch_or_skip()
    for train in (True, False):
        e, t = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
        e.train(), t.train()
        warm = randn(4, 3, 2, 2, seed=15)
        e(ember.tensor(npy(warm), dtype=ember.float32))
        t(to_torch(warm).float())
        _torch_pair(e, t, randn(4, 3, 5, 5), train=train)
        close(e.running_var, t.running_var)
        assert e.num_batches_tracked.item() == t.num_batches_tracked.item()
    _torch_pair(nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), randn(5, 3, 4))
    _torch_pair(nn.LayerNorm([3, 4]), torch.nn.LayerNorm([3, 4]), randn(2, 5, 3, 4))
    _torch_pair(nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6), randn(2, 6, 3, 3))


# ================================================================================ dropout


def test_dropout_train_statistics_and_eval_identity():
    ember.manual_seed(0)
    x = ember.ones(20000)
    drop = nn.Dropout(0.3)
    y = drop(x)
    kept = (y != 0).to(ember.float64).mean().item()
    assert abs(kept - 0.7) < 0.02
    np.testing.assert_allclose(npy(y)[npy(y) != 0], 1 / 0.7, rtol=1e-6)
    assert drop.eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert (nn.Dropout(1.0)(x) == 0).all().item()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout2d(0.2, inplace=True)) == "Dropout2d(p=0.2, inplace=True)"


def test_dropout_gradient_uses_the_same_mask():
    x = leaf(np.ones(1000), ember.float32)
    y = nn.Dropout(0.5)(x)
    y.sum().backward()
    np.testing.assert_array_equal(npy(x.grad), npy(y))


def test_dropout2d_zeroes_whole_channels():
    ember.manual_seed(1)
    x = ember.ones(8, 64, 3, 3)
    y = nn.Dropout2d(0.5)(x)
    per_channel = npy(y).reshape(8, 64, 9)
    assert np.all((per_channel == 0).all(2) | (per_channel == 2.0).all(2))
    assert 0.3 < (per_channel[:, :, 0] == 0).mean() < 0.7
    assert nn.Dropout2d().eval()(x) is x
    # like PyTorch, a 3-D input is read as [N, C, L] (with PyTorch's deprecation warning)
    with pytest.warns(UserWarning, match="interpreted as shape \\(N, C, L\\)"):
        y3 = npy(nn.Dropout2d(0.5)(ember.ones(16, 32, 5)))
    assert np.all((y3 == 0).all(2) | (y3 == 2.0).all(2))
    assert 0.3 < (y3[:, :, 0] == 0).mean() < 0.7


def test_inplace_dropout_writes_into_input():
    x = ember.ones(100)
    y = nn.Dropout(0.5, inplace=True)(x)
    assert y is x and ((x == 0) | (x == 2)).all().item()


# ================================================================================ embedding


def test_embedding_lookup_padding_and_gradient():
    emb = nn.Embedding(10, 3, padding_idx=0)
    assert (emb.weight[0] == 0).all().item()
    idx = ember.tensor([[1, 2, 0], [2, 2, 9]])
    out = emb(idx)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(npy(out), npy(emb.weight)[npy(idx)])
    out.sum().backward()
    counts = np.bincount(npy(idx).ravel(), minlength=10).astype(np.float32)
    counts[0] = 0  # the padding row gets no gradient
    np.testing.assert_array_equal(npy(emb.weight.grad), np.repeat(counts[:, None], 3, 1))
    assert repr(emb) == "Embedding(10, 3, padding_idx=0)"
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(RuntimeError, match="indices"):
        emb(ember.tensor([1.0]))


def test_embedding_scale_grad_by_freq_and_max_norm():
    emb = nn.Embedding(4, 2, scale_grad_by_freq=True)
    emb(ember.tensor([1, 1, 1, 3])).sum().backward()
    np.testing.assert_allclose(npy(emb.weight.grad), [[0, 0], [1, 1], [0, 0], [1, 1]])
    capped = nn.Embedding(4, 3, max_norm=1.0)
    with ember.no_grad():
        capped.weight.mul_(10)
    capped(ember.tensor([0, 2]))
    norms = np.linalg.norm(npy(capped.weight), axis=1)
    assert norms[0] <= 1.0 + 1e-5 and norms[2] <= 1.0 + 1e-5 and norms[1] > 1.0
    assert repr(capped) == "Embedding(4, 3, max_norm=1.0)"


def test_embedding_from_pretrained():
    table = ember.randn(5, 2)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(npy(emb(ember.tensor([4]))), npy(table[4:5]))
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match="2-dimensional"):
        nn.Embedding.from_pretrained(ember.randn(5))


def test_embedding_matches_torch():
    torch = torch_or_skip()
    e, t = nn.Embedding(7, 3, padding_idx=2), torch.nn.Embedding(7, 3, padding_idx=2)
    copy_weights(e, t)
    idx = np.array([[0, 2, 5], [6, 6, 2]])
    eo, to = e(ember.tensor(idx)), t(torch.tensor(idx))
    close(eo, to)
    eo.pow(2).sum().backward()
    to.pow(2).sum().backward()
    close(e.weight.grad, t.weight.grad)


# ================================================================================ upsampling


def test_upsample_module():
    up = nn.Upsample(scale_factor=2)
    x = ember.arange(4.0).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(npy(up(x))[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    assert repr(up) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True)) == (
        "Upsample(size=(3, 4), mode='bilinear')")
    corners = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    np.testing.assert_allclose(npy(corners)[0, 0, 0], [0, 1 / 3, 2 / 3, 1], rtol=1e-6)


def test_layer_reprs_match_torch():
    torch = torch_or_skip()
    specs = [("Conv2d", (3, 8, 3), dict(stride=2, padding=1, bias=False)), ("Conv1d", (2, 4, 3), {}),
             ("ConvTranspose2d", (3, 6, 3), dict(stride=2, output_padding=1, dilation=2)),
             ("MaxPool2d", (3,), dict(stride=1, padding=1)), ("AvgPool2d", (3,), dict(padding=1)),
             ("AdaptiveAvgPool2d", ((2, 3),), {}), ("BatchNorm1d", (4,), dict(momentum=None)),
             ("BatchNorm2d", (4,), dict(affine=False)), ("LayerNorm", ((3, 4),), dict(eps=1e-6)),
             ("GroupNorm", (2, 4), {}), ("Dropout", (0.25,), {}), ("Embedding", (10, 3), dict(max_norm=2.0)),
             ("Linear", (3, 4), {}), ("Bilinear", (2, 3, 4), dict(bias=False)), ("Flatten", (0, 2), {}),
             ("Upsample", (), dict(scale_factor=2, mode="bilinear"))]
    for name, args, kwargs in specs:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs)), name


def test_default_dtype_and_float64_modules_run():
    conv = nn.Conv2d(1, 1, 3).double()
    assert conv(ember.randn(1, 1, 4, 4, dtype=ember.float64)).dtype is ember.float64
    with pytest.raises(RuntimeError, match="should be the same"):
        conv(ember.randn(1, 1, 4, 4))
    lin = nn.Linear(2, 2).half()
    assert lin.weight.dtype is ember.float16
    assert F.linear is not None
