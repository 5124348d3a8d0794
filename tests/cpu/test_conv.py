"""conv1d / conv2d / conv_transpose2d forward and backward (csrc/cpu/conv.cpp: implicit-im2col GEMM, the
stride-1 flipped-kernel input gradient, col2im for strided input gradients, the 1x1 shortcut, per-thread
weight-gradient partials, the direct stride-1 kernels of csrc/cpu/conv_direct.inc) against a plain numpy
reference, float64 gradcheck, and PyTorch when installed."""
import numpy as np
import pytest

import ember
from cpu_util import E, F, N, T, TF, needs_torch, run_isolated

# ----------------------------------------------------------------------------------------------- reference


def _windows(xp, kh, kw, sh, sw, dh, dw, oh, ow):
    """xp [N, C, Hp, Wp] -> [N, C, oh, ow, kh, kw] view of the receptive fields."""
    n, c, _, _ = xp.shape
    s = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, (n, c, oh, ow, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw), writeable=False)


def conv2d_ref(x, w, b=None, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Cross-correlation; pad = (top, bottom, left, right)."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    oh = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    win = _windows(xp, kh, kw, stride[0], stride[1], dilation[0], dilation[1], oh, ow)
    og = o // groups
    out = np.empty((n, o, oh, ow))
    for g in range(groups):
        out[:, g * og:(g + 1) * og] = np.einsum("ncyxij,ocij->noyx", win[:, g * cg:(g + 1) * cg],
                                                w[g * og:(g + 1) * og])
    if b is not None:
        out += np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    return out


def conv2d_backward_ref(gout, x, w, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """(grad_x, grad_w, grad_b) of conv2d_ref for the output gradient gout (the adjoint, written as a scatter)."""
    x, w, gout = (np.asarray(a, np.float64) for a in (x, w, gout))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    oh, ow = gout.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    win = _windows(xp, kh, kw, stride[0], stride[1], dilation[0], dilation[1], oh, ow)
    gw = np.empty_like(w)
    gxp = np.zeros_like(xp)
    for g in range(groups):
        go = gout[:, g * og:(g + 1) * og]
        gw[g * og:(g + 1) * og] = np.einsum("noyx,ncyxij->ocij", go, win[:, g * cg:(g + 1) * cg])
        for i in range(kh):
            for j in range(kw):
                y0, x0 = i * dilation[0], j * dilation[1]
                contrib = np.einsum("noyx,oc->ncyx", go, w[g * og:(g + 1) * og, :, i, j])
                gxp[:, g * cg:(g + 1) * cg, y0:y0 + stride[0] * (oh - 1) + 1:stride[0],
                    x0:x0 + stride[1] * (ow - 1) + 1:stride[1]] += contrib
    gx = gxp[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + wd]
    return gx, gw, gout.sum((0, 2, 3))


def conv_transpose2d_ref(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1,
                         dilation=(1, 1)):
    """out[n, g*Og + o, y*s - p + i*d, ...] += x[n, g*Cg + c, y, ...] * w[g*Cg + c, o, i, j]."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = cin // groups
    oh = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    full = np.zeros((n, og * groups, oh + 2 * padding[0] + stride[0], ow + 2 * padding[1] + stride[1]))
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("ncyx,co->noyx", x[:, g * cg:(g + 1) * cg], w[g * cg:(g + 1) * cg, :, i, j])
                y0, x0 = i * dilation[0], j * dilation[1]
                full[:, g * og:(g + 1) * og, y0:y0 + stride[0] * (h - 1) + 1:stride[0],
                     x0:x0 + stride[1] * (wd - 1) + 1:stride[1]] += contrib
    out = full[:, :, padding[0]:padding[0] + oh, padding[1]:padding[1] + ow]
    if b is not None:
        out = out + np.asarray(b, np.float64).reshape(1, -1, 1, 1)
    return out


def _pad4(padding, kh, kw, dilation):
    """Ember/PyTorch padding argument -> (top, bottom, left, right) for the reference."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    p = (padding, padding) if isinstance(padding, int) else tuple(padding)
    return (p[0], p[0], p[1], p[1])


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


# (N, C, H, W), (O, C/groups, kh, kw), stride, padding, dilation, groups
CASES = [
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 3, 7, 9), (4, 3, 3, 3), 1, 1, 1, 1),
    ((2, 4, 9, 8), (6, 4, 3, 3), 2, 1, 1, 1),
    ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    ((3, 6, 8, 8), (6, 1, 3, 3), 1, 1, 1, 6),  # depthwise
    ((2, 6, 8, 7), (12, 1, 3, 3), 2, 1, 1, 6),  # depthwise, channel multiplier 2, strided
    ((2, 5, 6, 7), (7, 5, 1, 1), 1, 0, 1, 1),  # 1x1: the input is the column matrix
    ((2, 5, 6, 7), (7, 5, 1, 1), 2, 0, 1, 1),  # strided 1x1
    ((2, 3, 10, 11), (5, 3, 3, 3), 1, "same", 2, 1),
    ((2, 3, 10, 11), (5, 3, 4, 2), 1, "same", 1, 1),  # even kernel: asymmetric 'same' padding
    ((2, 3, 10, 11), (5, 3, 3, 5), 1, (0, 2), 1, 1),
    ((2, 3, 10, 11), (5, 3, 3, 5), 1, "valid", 1, 1),
    ((1, 2, 5, 5), (3, 2, 5, 5), 1, 0, 1, 1),  # kernel covers the whole image
    ((2, 4, 7, 7), (4, 4, 3, 3), 3, 2, 1, 1),  # stride > 1 with padding: col2im path
    ((5, 3, 6, 6), (4, 3, 2, 2), 1, 1, 3, 1),  # dilation 3, stride 1 (flipped-kernel grad_x path)
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 1, 1),
    ((3, 8, 12, 13), (16, 4, 3, 3), 1, 1, 1, 2),  # bigger: images in parallel, packed GEMM
    ((3, 16, 24, 24), (32, 16, 3, 3), 1, 1, 1, 1),  # per-image GEMMs, per-thread weight-gradient partials
    ((2, 32, 24, 24), (16, 32, 3, 3), 1, 1, 1, 1),  # per-image flipped-kernel input gradient
    ((1, 16, 24, 24), (32, 16, 3, 3), 1, 1, 1, 1),  # one image: threaded GEMMs split by columns
    ((1, 16, 24, 24), (32, 16, 3, 3), 2, 1, 1, 1),
]


def _ids(c):
    return "x%s-w%s-s%s-p%s-d%s-g%d" % (
        "x".join(map(str, c[0])), "x".join(map(str, c[1])), c[2], c[3], c[4], c[5])


def _as2(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_conv2d_forward_backward(case, bias, dtype, conv_algorithm, rng):
    xs, ws, stride, padding, dilation, groups = case
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    pad = _pad4(padding, ws[2], ws[3], _as2(dilation))
    ref = conv2d_ref(x, w, b, _as2(stride), pad, _as2(dilation), groups)

    ex, ew = E(x, True), E(w, True)
    eb = E(b, True) if bias else None
    out = F.conv2d(ex, ew, eb, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert out.dtype == ex.dtype
    np.testing.assert_allclose(N(out), ref, **_tol(dtype))

    g = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(E(g))
    gx, gw, gb = conv2d_backward_ref(g, x, w, _as2(stride), pad, _as2(dilation), groups)
    np.testing.assert_allclose(N(ex.grad), gx, err_msg="grad input", **_tol(dtype))
    np.testing.assert_allclose(N(ew.grad), gw, err_msg="grad weight", **_tol(dtype))
    if bias:
        np.testing.assert_allclose(N(eb.grad), gb, err_msg="grad bias", **_tol(dtype))


def test_conv2d_unbatched_and_noncontiguous(rng):
    x = rng.standard_normal((3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    ref = conv2d_ref(x[None], w, None, (1, 1), (1, 1, 1, 1))[0]
    np.testing.assert_allclose(N(F.conv2d(E(x), E(w), padding=1)), ref, rtol=1e-10, atol=1e-10)
    # channels-last storage and a transposed weight view
    xt = E(np.ascontiguousarray(x.transpose(1, 2, 0))).permute(2, 0, 1)
    wt = E(np.ascontiguousarray(w.transpose(1, 0, 2, 3))).transpose(0, 1)
    np.testing.assert_allclose(N(F.conv2d(xt, wt, padding=1)), ref, rtol=1e-10, atol=1e-10)


def test_conv2d_only_some_grads(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    g = rng.standard_normal((2, 4, 4, 4))
    gx, gw, gb = conv2d_backward_ref(g, x, w)
    ex, ew, eb = E(x, True), E(w), E(b, True)
    F.conv2d(ex, ew, eb).backward(E(g))
    np.testing.assert_allclose(N(ex.grad), gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(N(eb.grad), gb, rtol=1e-10, atol=1e-10)
    ex, ew = E(x), E(w, True)
    F.conv2d(ex, ew).backward(E(g))
    np.testing.assert_allclose(N(ew.grad), gw, rtol=1e-10, atol=1e-10)
    assert ex.grad is None


def test_padding_valid(rng):
    x, w = rng.standard_normal((2, 3, 10, 11)), rng.standard_normal((5, 3, 3, 5))
    np.testing.assert_allclose(N(F.conv2d(E(x), E(w), padding="valid")), conv2d_ref(x, w), rtol=1e-10, atol=1e-10)
    x1, w1 = x[:, :, 0], w[:, :, 0]
    np.testing.assert_allclose(N(F.conv1d(E(x1), E(w1), padding="valid")),
                               conv2d_ref(x1[:, :, None], w1[:, :, None])[:, :, 0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("lowp", ["bfloat16", "float16"])
def test_conv2d_low_precision(lowp, rng):
    dt = ember.bfloat16 if lowp == "bfloat16" else ember.float16
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    ex, ew = E(x).to(dt), E(w).to(dt)
    out = F.conv2d(ex, ew, padding=1)
    assert out.dtype == dt
    ref = conv2d_ref(N(ex), N(ew), None, (1, 1), (1, 1, 1, 1))
    unit = 2.0 ** -8 if lowp == "bfloat16" else 2.0 ** -11
    np.testing.assert_allclose(N(out), ref, rtol=2 * unit, atol=2 * unit * np.abs(ref).max())


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[6], CASES[14], CASES[-4], CASES[-3], CASES[-2],
                                  CASES[-1]],
                         ids=["strided", "depthwise", "1x1", "dilated", "per-image", "per-image-flipped",
                              "one-image", "one-image-strided"])
def test_conv2d_capabilities(capability, conv_algorithm, case, rng):
    xs, ws, stride, padding, dilation, groups = case
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, (ws[0],)))
    pad = _pad4(padding, ws[2], ws[3], _as2(dilation))
    ex, ew, eb = E(x, True), E(w, True), E(b, True)
    out = F.conv2d(ex, ew, eb, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(N(out), conv2d_ref(x, w, b, _as2(stride), pad, _as2(dilation), groups), rtol=1e-4,
                               atol=1e-4)
    g = rng.standard_normal(tuple(out.shape)).astype(np.float32)
    out.backward(E(g))
    for got, ref in zip((ex.grad, ew.grad, eb.grad),
                        conv2d_backward_ref(g, x, w, _as2(stride), pad, _as2(dilation), groups)):
        np.testing.assert_allclose(N(got), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_conv2d_direct_weight_grad_ignores_dropped_columns(dtype, conv_algorithm, rng):
    """The direct kernels compute each output row Wp = ow + kw - 1 wide and drop the extra columns; the weight
    gradient must not let an inf that only those columns read turn into NaN (0 * inf)."""
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    x[:, :, :, -1] = np.inf  # read only by the last kernel column (j = 2) of valid outputs
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    ex, ew = E(x), E(w, True)
    out = F.conv2d(ex, ew)
    g = rng.standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(E(g))
    _, gw, _ = conv2d_backward_ref(g, x, w)
    np.testing.assert_allclose(N(ew.grad)[..., :2], gw[..., :2], **_tol(dtype))
    assert not np.isfinite(N(ew.grad)[..., 2]).any()


LARGE_PLANE = r"""
import numpy as np, ember
ember.set_num_threads(1)
ember._C.set_cpu_capability("avx512")  # capped at what the CPU has
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 3, 64, 64)).astype(np.float32)  # 64 x 64 outputs: one full 4096-column GEMM block
w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
ref = np.zeros((1, 4, 64, 64))
xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
for i in range(3):
    for j in range(3):
        ref += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 64, j:j + 64], w[:, :, i, j])
for _ in range(3):
    out = ember.conv2d(ember.tensor(x), ember.tensor(w), padding=1).numpy()
assert np.allclose(out, ref, rtol=1e-4, atol=1e-4)
print("ok")
"""


def test_conv2d_large_plane():
    """A 64x64 output plane is a 4096-column GEMM: regression test for the AVX-512 packed-B buffer overrun
    (runs in a child so a regression aborts only the child)."""
    p = run_isolated(LARGE_PLANE)
    assert p.returncode == 0, "exit %d: %s" % (p.returncode, (p.stdout + p.stderr)[-2000:])


# ----------------------------------------------------------------------------------------------- conv1d

CASES_1D = [
    ((2, 3, 11), (4, 3, 3), 1, 0, 1, 1),
    ((2, 3, 11), (4, 3, 3), 2, 1, 1, 1),
    ((2, 4, 16), (4, 1, 5), 1, "same", 2, 4),
    ((1, 4, 9), (6, 2, 2), 3, (1,), (2,), 2),
    ((3, 2, 7), (5, 2, 1), 1, "valid", 1, 1),
    ((1, 1, 1), (1, 1, 1), 1, 0, 1, 1),
]


@pytest.mark.parametrize("case", CASES_1D, ids=[str(i) for i in range(len(CASES_1D))])
def test_conv1d(case, rng):
    xs, ws, stride, padding, dilation, groups = case
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    s = stride if isinstance(stride, int) else stride[0]
    d = dilation if isinstance(dilation, int) else dilation[0]
    p1 = _pad4(padding if isinstance(padding, str) else (0, padding if isinstance(padding, int) else padding[0]),
               1, ws[2], (1, d))
    ref = conv2d_ref(x[:, :, None], w[:, :, None], b, (1, s), p1, (1, d), groups)[:, :, 0]
    ex, ew, eb = E(x, True), E(w, True), E(b, True)
    out = F.conv1d(ex, ew, eb, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(N(out), ref, rtol=1e-10, atol=1e-10)
    g = rng.standard_normal(ref.shape)
    out.backward(E(g))
    gx, gw, gb = conv2d_backward_ref(g[:, :, None], x[:, :, None], w[:, :, None], (1, s), p1, (1, d), groups)
    np.testing.assert_allclose(N(ex.grad), gx[:, :, 0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(N(ew.grad), gw[:, :, 0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(N(eb.grad), gb, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------- transposed

CASES_T = [
    # (N, Cin, H, W), (Cin, Cout/groups, kh, kw), stride, padding, output_padding, groups, dilation
    ((2, 3, 4, 5), (3, 2, 3, 3), 1, 0, 0, 1, 1),
    ((2, 3, 4, 5), (3, 2, 3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 3, 3), (4, 3, 2, 2), 2, 0, 0, 2, 1),
    ((2, 2, 5, 4), (2, 3, 3, 2), (1, 2), (1, 0), (0, 1), 1, (2, 1)),
    ((1, 4, 4, 4), (4, 1, 3, 3), 1, 1, 0, 4, 1),  # depthwise
    ((1, 1, 1, 1), (1, 1, 1, 1), 1, 0, 0, 1, 1),
]


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", CASES_T, ids=[str(i) for i in range(len(CASES_T))])
def test_conv_transpose2d(case, bias, rng):
    xs, ws, stride, padding, opad, groups, dilation = case
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * groups) if bias else None
    ref = conv_transpose2d_ref(x, w, b, _as2(stride), _as2(padding), _as2(opad), groups, _as2(dilation))
    ex, ew = E(x, True), E(w, True)
    eb = E(b, True) if bias else None
    out = F.conv_transpose2d(ex, ew, eb, stride=stride, padding=padding, output_padding=opad, groups=groups,
                             dilation=dilation)
    np.testing.assert_allclose(N(out), ref, rtol=1e-10, atol=1e-10)
    # conv_transpose2d is the adjoint of conv2d: <convT(x), y> = <x, conv(y)>
    y = rng.standard_normal(ref.shape)
    out.backward(E(y))
    p = _as2(padding)
    gx = conv2d_ref(y, w, None, _as2(stride), (p[0], p[0], p[1], p[1]), _as2(dilation), groups)
    np.testing.assert_allclose(N(ex.grad), gx[:, :, :xs[2], :xs[3]], rtol=1e-10, atol=1e-10)
    assert ew.grad is not None and ew.grad.shape == ew.shape
    if bias:
        np.testing.assert_allclose(N(eb.grad), y.sum((0, 2, 3)), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------- gradcheck


GRADCHECK = [
    dict(stride=1, padding=1),
    dict(stride=2, padding=(1, 0)),
    dict(stride=(1, 2), padding=0, dilation=(2, 1)),
    dict(padding="same", dilation=2),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, padding=1),  # depthwise
]


@pytest.mark.parametrize("kw", GRADCHECK, ids=[str(i) for i in range(len(GRADCHECK))])
def test_gradcheck_conv2d(kw):
    rng = np.random.default_rng(3)
    g = kw.get("groups", 1)
    x = E(rng.standard_normal((2, 4, 5, 6)), True)
    w = E(rng.standard_normal((4, 4 // g, 3, 2)), True)
    b = E(rng.standard_normal(4), True)
    assert ember.autograd.gradcheck(lambda a, c, d: F.conv2d(a, c, d, **kw), (x, w, b))


def test_gradcheck_conv2d_1x1():
    rng = np.random.default_rng(4)
    x, w = E(rng.standard_normal((2, 3, 4, 3)), True), E(rng.standard_normal((5, 3, 1, 1)), True)
    assert ember.autograd.gradcheck(lambda a, c: F.conv2d(a, c), (x, w))


def test_gradcheck_conv1d():
    rng = np.random.default_rng(5)
    x, w, b = (E(rng.standard_normal(s), True) for s in ((2, 2, 7), (4, 1, 3), (4,)))
    assert ember.autograd.gradcheck(lambda a, c, d: F.conv1d(a, c, d, stride=2, padding=1, groups=2), (x, w, b))


def test_gradcheck_conv_transpose2d():
    rng = np.random.default_rng(6)
    x, w, b = (E(rng.standard_normal(s), True) for s in ((1, 4, 3, 3), (4, 1, 3, 2), (2,)))
    assert ember.autograd.gradcheck(
        lambda a, c, d: F.conv_transpose2d(a, c, d, stride=2, padding=1, output_padding=1, groups=2), (x, w, b))


def test_gradgradcheck_conv2d():
    rng = np.random.default_rng(8)
    x, w = E(rng.standard_normal((1, 2, 4, 4)), True), E(rng.standard_normal((2, 2, 2, 2)), True)
    assert ember.autograd.gradgradcheck(lambda a, c: F.conv2d(a, c, stride=2, padding=1), (x, w))


# ----------------------------------------------------------------------------------------------- PyTorch


def _check_against_torch(op, xs, ws, bs, args, rng):
    """Output and x / weight / bias gradients of F.<op> against PyTorch's, float32, from the same inputs."""
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, bs))
    ex, ew, eb = E(x, True), E(w, True), E(b, True)
    tx, tw, tb = T(x, True), T(w, True), T(b, True)
    eo, to = getattr(F, op)(ex, ew, eb, **args), getattr(TF, op)(tx, tw, tb, **args)
    np.testing.assert_allclose(N(eo), to.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = rng.standard_normal(to.shape).astype(np.float32)
    eo.backward(E(g))
    to.backward(T(g))
    for e, t, what in ((ex, tx, "x"), (ew, tw, "w"), (eb, tb, "b")):
        np.testing.assert_allclose(N(e.grad), t.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=what)


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_conv2d_matches_torch(case, rng):
    xs, ws, stride, padding, dilation, groups = case
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _check_against_torch("conv2d", xs, ws, (ws[0],), args, rng)


@needs_torch
@pytest.mark.parametrize("case", CASES_T, ids=[str(i) for i in range(len(CASES_T))])
def test_conv_transpose2d_matches_torch(case, rng):
    xs, ws, stride, padding, opad, groups, dilation = case
    args = dict(stride=stride, padding=padding, output_padding=opad, groups=groups, dilation=dilation)
    _check_against_torch("conv_transpose2d", xs, ws, (ws[1] * groups,), args, rng)


@needs_torch
def test_conv1d_matches_torch(rng):
    for xs, ws, stride, padding, dilation, groups in CASES_1D:
        x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
        args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        np.testing.assert_allclose(N(F.conv1d(E(x), E(w), **args)), TF.conv1d(T(x), T(w), **args).numpy(),
                                   rtol=1e-4, atol=1e-4)
