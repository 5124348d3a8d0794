"""unfold/fold, pixel_shuffle/unshuffle, interpolate (every mode, antialias), grid_sample and affine_grid: numpy
references and properties that run without torch, float64 gradcheck, errors, and value/gradient comparisons with
PyTorch in float64 and float32."""
import itertools
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, close, npy, randn, torch_or_skip


def _rng(seed):
    return np.random.default_rng(seed)


# ================================================================================ unfold / fold


def _im2col_ref(x, k, d, p, s):
    """Direct loop im2col of [N, C, H, W]."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((n, c, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            for y in range(oh):
                for z in range(ow):
                    out[:, :, i, j, y, z] = xp[:, :, y * s[0] + i * d[0], z * s[1] + j * d[1]]
    return out.reshape(n, c * k[0] * k[1], oh * ow)


UNFOLD_CASES = [((2, 3), (1, 1), (0, 0), (1, 1)), ((2, 3), (1, 2), (1, 0), (2, 1)), ((3, 3), (2, 1), (2, 1), (1, 3))]


@pytest.mark.parametrize("k,d,p,s", UNFOLD_CASES)
def test_unfold_matches_loop_reference(k, d, p, s):
    x = randn(2, 3, 7, 8, seed=1)
    close(F.unfold(x, k, d, p, s), _im2col_ref(npy(x), k, d, p, s), atol=0)
    # unbatched input is the batched result of one sample
    close(F.unfold(x[1], k, d, p, s), _im2col_ref(npy(x), k, d, p, s)[1], atol=0)
    # a non-contiguous view gives the same values
    xt = randn(2, 3, 8, 7, seed=2).transpose(2, 3)
    close(F.unfold(xt, k, d, p, s), _im2col_ref(npy(xt), k, d, p, s), atol=0)


@pytest.mark.parametrize("k,d,p,s", UNFOLD_CASES)
def test_fold_is_the_adjoint_of_unfold(k, d, p, s):
    x = randn(2, 3, 7, 8, seed=3)
    cols = F.unfold(x, k, d, p, s)
    y = randn(*cols.shape, seed=4)
    # <unfold(x), y> == <x, fold(y)>
    lhs = float((cols * y).sum())
    rhs = float((x * F.fold(y, (7, 8), k, d, p, s)).sum())
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))
    # fold(unfold(x)) multiplies each pixel by the number of blocks covering it
    counts = np.zeros((7 + 2 * p[0], 8 + 2 * p[1]))
    oh = (7 + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (8 + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    for y0, x0, i, j in itertools.product(range(oh), range(ow), range(k[0]), range(k[1])):
        counts[y0 * s[0] + i * d[0], x0 * s[1] + j * d[1]] += 1
    counts = counts[p[0]:p[0] + 7, p[1]:p[1] + 8]
    close(F.fold(cols, (7, 8), k, d, p, s), npy(x) * counts, atol=1e-12)
    close(F.fold(cols[0], (7, 8), k, d, p, s), npy(x)[0] * counts, atol=1e-12)


def test_unfold_fold_gradcheck_and_zero_batch():
    check_grad(lambda t: F.unfold(t, 2, dilation=(1, 2), padding=1, stride=(2, 1)),
               randn(1, 2, 4, 5, requires_grad=True, seed=5))
    check_grad(lambda t: F.fold(t, (4, 5), (2, 3), padding=(1, 0)), randn(1, 12, 15, requires_grad=True, seed=6))
    x = ember.zeros(0, 3, 4, 4, requires_grad=True)
    out = F.unfold(x, 2)
    assert out.shape == (0, 12, 9)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
    assert F.fold(ember.zeros(0, 12, 9), (4, 4), 2).shape == (0, 3, 4, 4)


def test_unfold_fold_errors():
    x = ember.randn(2, 3, 5, 6)
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero"):
        F.unfold(x, 0)
    with pytest.raises(RuntimeError, match="stride should be greater than zero"):
        F.unfold(x, 2, stride=0)
    with pytest.raises(RuntimeError, match="dilation should be greater than zero"):
        F.unfold(x, 2, dilation=0)
    with pytest.raises(RuntimeError, match="padding should be non-negative"):
        F.unfold(x, 2, padding=-1)
    with pytest.raises(RuntimeError, match="It is expected kernel_size equals to 2, but got size 3"):
        F.unfold(x, (2, 3, 4))
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.unfold(ember.randn(1, 2, 3, 4, 5), 2)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.unfold(ember.randn(2, 0, 5, 6), 2)
    with pytest.raises(RuntimeError, match=r"calculated shape of the array of sliding blocks as \(-1, 0\)"):
        F.unfold(x, 7)
    c = ember.randn(2, 12, 20)
    with pytest.raises(RuntimeError, match="match the calculated number of sliding blocks 4 \\* 6 = 24"):
        F.fold(c, (5, 7), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(ember.randn(2, 13, 20), (5, 6), 2)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        F.fold(ember.randn(2, 12, 20, 1), (5, 6), 2)
    with pytest.raises(RuntimeError, match="too small"):
        F.fold(ember.randn(1, 9, 1), (1, 1), 3)
    with pytest.raises(TypeError):
        F.unfold([1.0, 2.0], 2)


def test_unfold_fold_modules():
    x = randn(2, 3, 5, 6, seed=7)
    u = nn.Unfold((2, 3), padding=1)
    assert repr(u) == "Unfold(kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    cols = u(x)
    close(cols, F.unfold(x, (2, 3), padding=1), atol=0)
    f = nn.Fold((5, 6), (2, 3), padding=1)
    assert repr(f) == "Fold(output_size=(5, 6), kernel_size=(2, 3), dilation=1, padding=1, stride=1)"
    close(f(cols), F.fold(cols, (5, 6), (2, 3), padding=1), atol=0)


# ================================================================================ pixel shuffle


def test_pixel_shuffle_reference_and_round_trip():
    x = randn(2, 5, 12, 3, 4, seed=8)       # extra leading dims are batch dims
    r = 2
    a = npy(x).reshape(2, 5, 3, r, r, 3, 4).transpose(0, 1, 2, 5, 3, 6, 4).reshape(2, 5, 3, 6, 8)
    out = F.pixel_shuffle(x, r)
    close(out, a, atol=0)
    close(F.pixel_unshuffle(out, r), x, atol=0)
    close(nn.PixelUnshuffle(r)(nn.PixelShuffle(r)(x)), x, atol=0)
    # unshuffle of a non-contiguous view
    y = randn(1, 2, 6, 4, seed=9).transpose(2, 3)
    b = npy(y).reshape(1, 2, 2, 2, 3, 2).transpose(0, 1, 3, 5, 2, 4).reshape(1, 8, 2, 3)
    close(F.pixel_unshuffle(y, 2), b, atol=0)
    check_grad(lambda t: F.pixel_shuffle(t, 2), randn(1, 8, 2, 3, requires_grad=True, seed=10))
    check_grad(lambda t: F.pixel_unshuffle(t, 3), randn(2, 6, 3, requires_grad=True, seed=11))
    assert F.pixel_shuffle(ember.zeros(0, 8, 3, 3), 2).shape == (0, 2, 6, 6)
    assert repr(nn.PixelShuffle(3)) == "PixelShuffle(upscale_factor=3)"
    assert repr(nn.PixelUnshuffle(2)) == "PixelUnshuffle(downscale_factor=2)"


def test_pixel_shuffle_errors():
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor, but input.size\\(-3\\)=7"):
        F.pixel_shuffle(ember.randn(2, 7, 3, 3), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_shuffle(ember.randn(8, 3), 2)
    with pytest.raises(RuntimeError, match="positive upscale_factor, but got 0"):
        F.pixel_shuffle(ember.randn(8, 3, 3), 0)
    with pytest.raises(TypeError, match="must be int, not float"):
        F.pixel_shuffle(ember.randn(8, 3, 3), 2.0)
    with pytest.raises(RuntimeError, match="height to be divisible by downscale_factor"):
        F.pixel_unshuffle(ember.randn(2, 2, 5, 6), 2)
    with pytest.raises(RuntimeError, match="width to be divisible by downscale_factor"):
        F.pixel_unshuffle(ember.randn(2, 2, 4, 5), 2)
    with pytest.raises(RuntimeError, match="positive downscale_factor, but got -1"):
        F.pixel_unshuffle(ember.randn(2, 2, 4, 4), -1)


# ================================================================================ interpolate


def _adaptive_avg_ref(x, out):
    """Adaptive average pooling over the trailing len(out) dims by loops."""
    nd = len(out)
    sp = x.shape[-nd:]
    res = np.zeros(x.shape[:-nd] + tuple(out))
    for o in itertools.product(*[range(m) for m in out]):
        sl = tuple(slice((oi * n) // m, -((-(oi + 1) * n) // m)) for oi, n, m in zip(o, sp, out))
        res[(Ellipsis,) + o] = x[(Ellipsis,) + sl].mean(axis=tuple(range(-nd, 0)))
    return res


def test_interpolate_area_5d_matches_adaptive_reference():
    x = randn(2, 2, 5, 6, 7, seed=12)
    close(F.interpolate(x, size=(2, 4, 3), mode="area"), _adaptive_avg_ref(npy(x), (2, 4, 3)), atol=1e-12)
    close(F.interpolate(x, scale_factor=0.5, mode="area"), _adaptive_avg_ref(npy(x), (2, 3, 3)), atol=1e-12)
    check_grad(lambda t: F.interpolate(t, size=(2, 3, 2), mode="area"),
               randn(1, 1, 3, 4, 5, requires_grad=True, seed=13))


@pytest.mark.parametrize("mode,kw", [("bilinear", {}), ("bicubic", {}), ("bicubic", {"antialias": True}),
                                     ("bilinear", {"antialias": True}), ("lanczos", {"antialias": True})])
def test_interpolate_preserves_constants_and_hits_corners(mode, kw):
    c = ember.full((1, 2, 4, 5), 3.5, dtype=ember.float64)
    for size in [(7, 9), (2, 3), (4, 11)]:
        for ac in (False, True) if mode != "lanczos" else (False,):
            close(F.interpolate(c, size=size, mode=mode, align_corners=ac, **kw), np.full((1, 2) + size, 3.5),
                  atol=1e-12)
    if not kw:
        # align_corners: output pixel 2i of a (2n - 1)-sized output sits exactly on input pixel i
        x = randn(1, 1, 3, 4, seed=14)
        up = F.interpolate(x, size=(5, 7), mode=mode, align_corners=True)
        close(npy(up)[..., ::2, ::2], x, atol=1e-12)


def _keys(d, a=-0.75):
    """Keys' cubic convolution kernel as a function of the distance d."""
    d = np.abs(d)
    return np.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1,
                    np.where(d < 2, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a, 0.0))


@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_bicubic_is_keys_convolution(align_corners):
    # out(p) = sum_k K(p - k) x[clamp(k)] over the four integer k around p, edges replicated
    x = randn(1, 1, 1, 6, seed=40)
    out_w = 13
    up = npy(F.interpolate(x, size=(1, out_w), mode="bicubic", align_corners=align_corners))[0, 0, 0]
    o = np.arange(out_w)
    pos = o * 5 / 12 if align_corners else (o + 0.5) * 6 / out_w - 0.5
    ref = np.zeros(out_w)
    for off in range(-1, 3):
        k = np.floor(pos) + off
        ref += _keys(pos - k) * npy(x)[0, 0, 0][np.clip(k, 0, 5).astype(int)]
    np.testing.assert_allclose(up, ref, atol=1e-12)


@pytest.mark.parametrize("mode,shape,kw", [
    ("bicubic", (1, 2, 3, 4), dict(size=(5, 6))), ("bicubic", (1, 1, 5, 6), dict(scale_factor=0.6, align_corners=True)),
    ("bilinear", (1, 1, 6, 7), dict(size=(3, 2), antialias=True)),
    ("bicubic", (1, 1, 6, 7), dict(size=(4, 3), antialias=True)),
    ("lanczos", (1, 1, 6, 7), dict(size=(3, 9), antialias=True)),
    ("nearest-exact", (1, 2, 3, 4, 2), dict(size=(5, 3, 3))), ("trilinear", (1, 1, 2, 3, 4), dict(scale_factor=1.5)),
])
def test_interpolate_gradcheck(mode, shape, kw):
    check_grad(lambda t: F.interpolate(t, mode=mode, **kw), randn(*shape, requires_grad=True, seed=15))


def test_interpolate_integer_nearest_and_zero_batch():
    x = ember.arange(6).reshape(1, 1, 2, 3)
    out = F.interpolate(x, scale_factor=2)
    assert out.dtype is ember.int64
    np.testing.assert_array_equal(npy(out)[0, 0], np.repeat(np.repeat(npy(x)[0, 0], 2, 0), 2, 1))
    for mode in ("nearest", "bilinear", "bicubic", "area"):
        z = ember.zeros(0, 2, 3, 3, requires_grad=True)
        out = F.interpolate(z, size=(4, 5), mode=mode)
        assert out.shape == (0, 2, 4, 5)
        out.sum().backward()
        assert z.grad.shape == (0, 2, 3, 3)


def test_interpolate_more_errors():
    x = ember.randn(1, 1, 4, 4)
    with pytest.raises(NotImplementedError, match="Only 3D, 4D and 5D input Tensors supported"):
        F.interpolate(x, size=2, mode="bogus")
    with pytest.raises(NotImplementedError, match="Only 3D, 4D and 5D input Tensors supported \\(got 3D\\)"):
        F.interpolate(ember.randn(1, 1, 4), size=2, mode="bicubic")
    with pytest.raises(NotImplementedError, match="Got 4D input, but trilinear mode needs 5D input"):
        F.interpolate(x, size=2, mode="trilinear")
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(x, size=2, antialias=True)
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.interpolate(x, size=2, mode="lanczos")
    with pytest.raises(ValueError, match="Lanczos mode does not support align_corners=True"):
        F.interpolate(x, size=2, mode="lanczos", antialias=True, align_corners=True)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an explicit size"):
        F.interpolate(x, size=2, recompute_scale_factor=True)
    with pytest.raises(TypeError, match="expected size to be one of int"):
        F.interpolate(x, size=(2.0, 2))
    with pytest.raises(RuntimeError, match=r"greater than 0, but got input \(H: 4, W: 4\) output \(H: 0, W: 2\)"):
        F.interpolate(x, size=(0, 2))
    with pytest.raises(RuntimeError, match="greater than 0"):
        F.interpolate(x, scale_factor=0.1, mode="bilinear")
    with pytest.raises(RuntimeError, match="Non-empty 4D data tensor expected"):
        F.interpolate(ember.randn(2, 0, 4, 4), size=3)
    with pytest.raises(NotImplementedError, match="bilinear"):
        F.interpolate(ember.arange(16).reshape(1, 1, 4, 4), size=3, mode="bilinear")


# ================================================================================ grid_sample / affine_grid


def _bilinear_zeros_ref(x, grid, align_corners):
    """Loop reference of grid_sample(mode='bilinear', padding_mode='zeros') on [N, C, H, W]."""
    n, c, h, w = x.shape
    _, ho, wo, _ = grid.shape
    out = np.zeros((n, c, ho, wo))
    for b, i, j in itertools.product(range(n), range(ho), range(wo)):
        gx, gy = grid[b, i, j]
        if align_corners:
            px, py = (gx + 1) / 2 * (w - 1), (gy + 1) / 2 * (h - 1)
        else:
            px, py = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        for dy, dx in itertools.product((0, 1), (0, 1)):
            yy, xx = y0 + dy, x0 + dx
            wgt = (px - x0 if dx else 1 - (px - x0)) * (py - y0 if dy else 1 - (py - y0))
            if 0 <= yy < h and 0 <= xx < w:
                out[b, :, i, j] += wgt * x[b, :, yy, xx]
    return out


@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_bilinear_matches_loop_reference(align_corners):
    x = randn(2, 3, 4, 5, seed=16)
    grid = ember.tensor(_rng(17).uniform(-1.3, 1.3, (2, 3, 6, 2)))
    out = F.grid_sample(x, grid, align_corners=align_corners)
    close(out, _bilinear_zeros_ref(npy(x), npy(grid), align_corners), atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_identity_grid_reproduces_input(mode, align_corners):
    x = randn(2, 3, 4, 5, seed=18)
    theta = ember.tensor([[[1.0, 0, 0], [0, 1.0, 0]]] * 2, dtype=ember.float64)
    grid = F.affine_grid(theta, (2, 3, 4, 5), align_corners=align_corners)
    for pm in ("zeros", "border", "reflection"):
        close(F.grid_sample(x, grid, mode, pm, align_corners), x, atol=1e-12)
    if mode != "bicubic":
        x5 = randn(1, 2, 3, 4, 2, seed=19)
        theta5 = ember.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]], dtype=ember.float64)
        grid5 = F.affine_grid(theta5, (1, 2, 3, 4, 2), align_corners=align_corners)
        close(F.grid_sample(x5, grid5, mode, "zeros", align_corners), x5, atol=1e-12)


def test_grid_sample_padding_modes_by_their_definition():
    x = randn(1, 2, 4, 5, seed=20)
    g = _rng(21).uniform(-2.5, 2.5, (1, 3, 4, 2))
    # border with align_corners=True: the same as clamping the grid to [-1, 1]
    close(F.grid_sample(x, ember.tensor(g), padding_mode="border", align_corners=True),
          F.grid_sample(x, ember.tensor(np.clip(g, -1, 1)), align_corners=True), atol=1e-12)

    # reflection with align_corners=True: reflect the grid about -1 and 1 (period 4)
    def fold_back(v):
        v = np.abs((v + 1) % 4 - 2)   # distance folded into [0, 2]
        return 1 - v
    close(F.grid_sample(x, ember.tensor(g), padding_mode="reflection", align_corners=True),
          F.grid_sample(x, ember.tensor(fold_back(g)), align_corners=True), atol=1e-12)
    # outside the image with zeros padding everything is 0
    far = ember.full((1, 2, 2, 2), 3.0, dtype=ember.float64)
    close(F.grid_sample(x, far, align_corners=False), np.zeros((1, 2, 2, 2)), atol=0)


@pytest.mark.parametrize("mode,padding_mode", [("bilinear", "zeros"), ("bilinear", "border"),
                                               ("bilinear", "reflection"), ("bicubic", "zeros"),
                                               ("bicubic", "reflection"), ("nearest", "zeros")])
def test_grid_sample_gradcheck(mode, padding_mode):
    x = randn(1, 1, 3, 3, requires_grad=True, seed=22)
    grid = ember.tensor(_rng(23).uniform(-1.2, 1.2, (1, 2, 2, 2)), requires_grad=mode != "nearest")
    check_grad(lambda a, b: F.grid_sample(a, b, mode, padding_mode, align_corners=False), x, grid)
    if mode == "bilinear" and padding_mode == "reflection":
        x5 = randn(1, 1, 2, 3, 2, requires_grad=True, seed=24)
        g5 = ember.tensor(_rng(25).uniform(-1.2, 1.2, (1, 1, 1, 2, 3)), requires_grad=True)
        check_grad(lambda a, b: F.grid_sample(a, b, mode, padding_mode, align_corners=True), x5, g5)


def test_affine_grid_values_and_gradcheck():
    theta = randn(2, 2, 3, seed=26)
    for ac in (False, True):
        grid = F.affine_grid(theta, (2, 1, 3, 4), align_corners=ac)
        xs = np.linspace(-1, 1, 4) * (1 if ac else 3 / 4)
        ys = np.linspace(-1, 1, 3) * (1 if ac else 2 / 3)
        base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((3, 4))), -1)
        close(grid, np.einsum("hwk,nik->nhwi", base, npy(theta)), atol=1e-12)
    check_grad(lambda t: F.affine_grid(t, (2, 3, 2, 3), align_corners=False), randn(2, 2, 3, requires_grad=True))
    check_grad(lambda t: F.affine_grid(t, (1, 1, 2, 2, 3), align_corners=True), randn(1, 3, 4, requires_grad=True))
    # a unit-size dim sits at 0
    with pytest.warns(UserWarning, match="unit-size grids"):
        g = F.affine_grid(ember.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]), (1, 1, 1, 3), align_corners=True)
    close(g[..., 1], np.zeros((1, 1, 3)), atol=0)


def test_grid_sample_affine_grid_errors():
    x, g = ember.randn(2, 3, 4, 5), ember.rand(2, 3, 3, 2)
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic', but got: 'bogus'"):
        F.grid_sample(x, g, mode="bogus")
    with pytest.raises(ValueError, match="expected padding_mode to be 'zeros', 'border', or 'reflection'"):
        F.grid_sample(x, g, padding_mode="bogus")
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, g)
    with pytest.raises(RuntimeError, match="same batch size"):
        F.grid_sample(x, g[:1], align_corners=False)
    with pytest.raises(RuntimeError, match="expected grid to have size 2 in last dimension"):
        F.grid_sample(x, ember.rand(2, 3, 3, 3), align_corners=False)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.grid_sample(x[0], g[0], align_corners=False)
    with pytest.raises(RuntimeError, match="non-empty spatial dimensions"):
        F.grid_sample(ember.randn(2, 3, 0, 5), g, align_corners=False)
    with pytest.raises(RuntimeError, match="bicubic interpolation only supports 4D input"):
        F.grid_sample(ember.randn(1, 1, 2, 2, 2), ember.rand(1, 1, 1, 1, 3), mode="bicubic", align_corners=False)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.grid_sample(x, g.double(), align_corners=False)
    theta = ember.randn(2, 2, 3)
    with pytest.raises(ValueError, match="floating point type"):
        F.affine_grid(theta.long(), (2, 3, 4, 5), align_corners=False)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(ember.randn(2, 3, 4), (2, 3, 4, 5), align_corners=False)
    with pytest.raises(NotImplementedError, match="only supports 4D and 5D sizes"):
        F.affine_grid(theta, (2, 3, 4), align_corners=False)
    with pytest.raises(ValueError, match="non-zero, positive output size"):
        F.affine_grid(theta, (2, 3, 0, 5), align_corners=False)
    with pytest.raises(RuntimeError, match="batch size"):
        F.affine_grid(theta, (3, 3, 4, 5), align_corners=False)


def test_grid_sample_nearest_records_the_grid():
    # a spatial transformer with nearest sampling: theta gets a zero gradient rather than no graph at all
    theta = ember.tensor([[[1.0, 0.1, 0.0], [0.0, 1.0, 0.2]]], requires_grad=True)
    grid = F.affine_grid(theta, (1, 2, 3, 3), align_corners=False)
    out = F.grid_sample(ember.randn(1, 2, 4, 4), grid, mode="nearest", align_corners=False)
    assert out.requires_grad
    out.sum().backward()
    close(theta.grad, np.zeros((1, 2, 3)), atol=0)


def test_grid_sample_zero_size():
    x = ember.zeros(0, 2, 3, 3, requires_grad=True)
    out = F.grid_sample(x, ember.zeros(0, 2, 2, 2), align_corners=False)
    assert out.shape == (0, 2, 2, 2)
    assert F.grid_sample(ember.randn(2, 0, 3, 3), ember.zeros(2, 4, 1, 2), align_corners=True).shape == (2, 0, 4, 1)
    assert F.grid_sample(ember.randn(2, 1, 3, 3), ember.zeros(2, 0, 1, 2), align_corners=True).shape == (2, 1, 0, 1)


# ================================================================================ against PyTorch


def _compare(fn, arrays, dtype, atol, grad_idx=None):
    """Runs fn(module, *tensors) with ember and torch on the same data, compares values and the gradients of a
    random projection of the output with respect to the floating inputs (or those in grad_idx)."""
    torch = torch_or_skip()
    import torch.nn.functional as TF
    grad_idx = range(len(arrays)) if grad_idx is None else grad_idx
    es = [ember.tensor(a.astype(dtype), requires_grad=i in grad_idx) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a.astype(dtype), requires_grad=i in grad_idx) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eo, to = fn(F, *es), fn(TF, *ts)
    assert tuple(eo.shape) == tuple(to.shape)
    close(eo, to.detach(), atol=atol, rtol=atol)
    g = _rng(99).standard_normal(tuple(to.shape)).astype(dtype)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    for i in grad_idx:
        if ts[i].grad is None:
            assert es[i].grad is None or not npy(es[i].grad).any()
        else:
            close(es[i].grad, ts[i].grad, atol=10 * atol, rtol=10 * atol)


DTYPES = [(np.float64, 1e-10), (np.float32, 2e-5)]

INTERP_CASES = [
    ((2, 3, 5, 7), dict(size=(4, 11), mode="bicubic")), ((2, 3, 5, 7), dict(scale_factor=1.7, mode="bicubic")),
    ((2, 3, 5, 7), dict(scale_factor=(0.6, 2.2), mode="bicubic", align_corners=True)),
    ((2, 3, 5, 7), dict(scale_factor=0.45, mode="bicubic", recompute_scale_factor=True)),
    ((2, 3, 9, 8), dict(size=(4, 3), mode="bilinear", antialias=True)),
    ((2, 3, 9, 8), dict(size=(3, 13), mode="bicubic", antialias=True)),
    ((2, 3, 9, 8), dict(size=(2, 5), mode="bilinear", antialias=True, align_corners=True)),
    ((2, 3, 9, 8), dict(scale_factor=0.3, mode="bicubic", antialias=True)),
    ((2, 3, 9, 11), dict(size=(4, 3), mode="lanczos", antialias=True)),
    ((2, 3, 9, 11), dict(size=(13, 20), mode="lanczos", antialias=True)),
    ((2, 3, 9, 11), dict(scale_factor=0.37, mode="lanczos", antialias=True)),
    ((2, 3, 5, 7), dict(size=(9, 13), mode="nearest-exact")), ((2, 3, 5, 7), dict(scale_factor=(1.7, 0.6))),
    ((2, 3, 5, 7), dict(scale_factor=1.1, mode="bilinear")), ((2, 3, 5, 7), dict(scale_factor=1.1)),
    ((2, 3, 7), dict(scale_factor=2.5, mode="nearest-exact")), ((2, 3, 7), dict(size=3, mode="area")),
    ((1, 2, 5, 6, 7), dict(size=(2, 4, 3), mode="area")), ((1, 2, 3, 4, 5), dict(scale_factor=1.5, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(4, 2, 7), mode="trilinear", align_corners=True)),
    ((1, 2, 3, 4, 5), dict(size=(5, 7, 3), mode="nearest-exact")), ((1, 2, 5, 6, 7), dict(scale_factor=0.7)),
]


@pytest.mark.parametrize("shape,kw", INTERP_CASES)
@pytest.mark.parametrize("dtype,atol", DTYPES)
def test_interpolate_matches_torch(shape, kw, dtype, atol):
    _compare(lambda M, t: M.interpolate(t, **kw), [_rng(30).standard_normal(shape)], dtype, atol)


def test_interpolate_non_contiguous_matches_torch():
    a = _rng(31).standard_normal((2, 3, 7, 5))
    _compare(lambda M, t: M.interpolate(t.transpose(2, 3), size=(4, 9), mode="bicubic", align_corners=True), [a],
             np.float64, 1e-10)


@pytest.mark.parametrize("mode,padding_mode,align_corners",
                         list(itertools.product(("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"),
                                                (False, True))))
@pytest.mark.parametrize("dtype,atol", DTYPES)
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype, atol):
    rng = _rng(32)
    x, g = rng.standard_normal((2, 3, 4, 5)), rng.uniform(-1.3, 1.3, (2, 4, 3, 2))
    _compare(lambda M, a, b: M.grid_sample(a, b, mode, padding_mode, align_corners), [x, g], dtype, atol)
    if mode != "bicubic":
        x5, g5 = rng.standard_normal((1, 2, 3, 4, 5)), rng.uniform(-1.3, 1.3, (1, 2, 3, 2, 3))
        _compare(lambda M, a, b: M.grid_sample(a, b, mode, padding_mode, align_corners), [x5, g5], dtype, atol)


def test_grid_sample_non_contiguous_matches_torch():
    rng = _rng(33)
    x, g = rng.standard_normal((2, 3, 5, 4)), rng.uniform(-1.1, 1.1, (2, 2, 4, 3))
    _compare(lambda M, a, b: M.grid_sample(a.transpose(2, 3), b.permute(0, 2, 3, 1), "bilinear", "reflection", False),
             [x, g], np.float64, 1e-10)


@pytest.mark.parametrize("dtype,atol", DTYPES)
def test_affine_grid_matches_torch(dtype, atol):
    rng = _rng(34)
    for ac in (False, True):
        _compare(lambda M, t: M.affine_grid(t, (2, 3, 4, 5), align_corners=ac), [rng.standard_normal((2, 2, 3))],
                 dtype, atol)
        _compare(lambda M, t: M.affine_grid(t, (2, 3, 4, 5, 3), align_corners=ac), [rng.standard_normal((2, 3, 4))],
                 dtype, atol)


@pytest.mark.parametrize("dtype,atol", DTYPES)
def test_unfold_fold_pixel_shuffle_match_torch(dtype, atol):
    rng = _rng(35)
    _compare(lambda M, t: M.unfold(t, (2, 3), dilation=(2, 1), padding=(1, 2), stride=(1, 2)),
             [rng.standard_normal((2, 3, 6, 7))], dtype, atol)
    _compare(lambda M, t: M.fold(t, (6, 7), (2, 3), dilation=(2, 1), padding=(1, 2), stride=2),
             [rng.standard_normal((2, 18, 15))], dtype, atol)
    _compare(lambda M, t: M.pixel_shuffle(t, 3), [rng.standard_normal((2, 18, 2, 3))], dtype, atol)
    _compare(lambda M, t: M.pixel_unshuffle(t, 2), [rng.standard_normal((3, 2, 4, 6))], dtype, atol)


def test_signatures_and_modules_match_torch():
    torch = torch_or_skip()
    import inspect
    for name in ("unfold", "fold", "interpolate", "grid_sample", "affine_grid", "upsample", "upsample_nearest",
                 "upsample_bilinear"):
        ours, theirs = inspect.signature(getattr(F, name)), inspect.signature(getattr(torch.nn.functional, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert [p.default for p in ours.parameters.values()] == [p.default for p in theirs.parameters.values()], name
    for e, t in [(nn.Unfold(2, padding=1), torch.nn.Unfold(2, padding=1)),
                 (nn.Fold((4, 5), (2, 3)), torch.nn.Fold((4, 5), (2, 3))),
                 (nn.PixelShuffle(2), torch.nn.PixelShuffle(2)), (nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3))]:
        assert repr(e) == repr(t)


def test_upsample_aliases_and_module():
    x = randn(1, 2, 3, 4, seed=41)
    with pytest.warns(UserWarning, match="`nn.functional.upsample` is deprecated"):
        close(F.upsample(x, scale_factor=2, mode="bicubic", align_corners=True),
              F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True), atol=0)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        close(F.upsample_nearest(x, size=(5, 7)), F.interpolate(x, size=(5, 7)), atol=0)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        close(F.upsample_bilinear(x, scale_factor=1.5),
              F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True), atol=0)
    close(nn.Upsample(size=(6, 5), mode="bicubic")(x), F.interpolate(x, size=(6, 5), mode="bicubic"), atol=0)
    close(nn.UpsamplingBilinear2d(size=(6, 5))(x), F.interpolate(x, size=(6, 5), mode="bilinear", align_corners=True),
          atol=0)
    close(nn.UpsamplingNearest2d(scale_factor=3)(x), F.interpolate(x, scale_factor=3), atol=0)
