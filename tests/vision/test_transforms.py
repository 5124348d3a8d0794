"""Vision transforms: values against numpy (and torch.nn.functional.interpolate when installed), randomness,
both image kinds (tensors and numpy arrays), argument errors and reprs."""
import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F

RNG = np.random.default_rng(0)


def img_u8(h=6, w=5, c=3):
    return RNG.integers(0, 256, size=(h, w, c), dtype=np.uint8)


def test_to_tensor():
    a = img_u8()
    t = T.ToTensor()(a)
    assert t.dtype is ember.float32 and t.shape == (3, 6, 5)
    np.testing.assert_allclose(t.numpy(), a.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(a[:, :, 0])
    assert gray.shape == (1, 6, 5)
    f = RNG.random((4, 4, 2)).astype(np.float64) * 7
    np.testing.assert_array_equal(T.ToTensor()(f).numpy(), f.transpose(2, 0, 1))  # only uint8 is rescaled
    np.testing.assert_array_equal(T.ToTensor()(a[:, ::-1]).numpy()[0] * 255, a[:, ::-1, 0])  # any strides
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([[1, 2]])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions."):
        T.ToTensor()(np.zeros((1, 2, 2, 3), np.uint8))


def test_normalize():
    x = ember.rand(3, 4, 4)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.5]
    out = T.Normalize(mean, std)(x)
    ref = (x.numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    assert not np.array_equal(x.numpy(), out.numpy())  # not in place by default
    batch = ember.rand(2, 3, 4, 4)
    np.testing.assert_allclose(T.Normalize(mean, std)(batch).numpy()[1],
                               T.Normalize(mean, std)(batch[1]).numpy(), rtol=1e-6)
    y = x.clone()
    assert T.Normalize(mean, std, inplace=True)(y) is y
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6)
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize(mean, std)(ember.zeros(3, 2, 2, dtype=ember.uint8))
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size \(..., C, H, W\)"):
        T.Normalize([0.5], [0.5])(ember.rand(4, 4))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(mean, [1.0, 0.0, 1.0])(x)
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        T.Normalize(mean, std)(np.zeros((3, 2, 2)))


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "constant"])
def test_pad_modes_match_numpy(mode):
    x = ember.arange(2 * 4 * 5).view(2, 4, 5).float()
    out = F.pad(x, [1, 2, 3, 1], fill=-1, padding_mode=mode)  # left, top, right, bottom
    kw = {"constant_values": -1} if mode == "constant" else {}
    ref = np.pad(x.numpy(), [(0, 0), (2, 1), (1, 3)], mode=mode, **kw)
    np.testing.assert_array_equal(out.numpy(), ref)
    a = img_u8(4, 5)
    np.testing.assert_array_equal(T.Pad(2, fill=7, padding_mode=mode)(a),
                                  np.pad(a, [(2, 2), (2, 2), (0, 0)], mode=mode,
                                         **({"constant_values": 7} if mode == "constant" else {})))


def test_pad_forms_and_errors():
    x = ember.ones(1, 3, 3)
    assert F.pad(x, 1).shape == (1, 5, 5)
    assert F.pad(x, [1, 2]).shape == (1, 7, 5)  # (left/right, top/bottom)
    assert F.pad(x, (1, 0, 0, 0)).shape == (1, 3, 4)
    cropped = F.pad(ember.arange(16).view(1, 4, 4), [-1, -1, 0, 0], padding_mode="edge")
    np.testing.assert_array_equal(cropped.numpy(), np.arange(16).reshape(1, 4, 4)[:, 1:, 1:])
    rgb = F.pad(np.zeros((2, 2, 3), np.uint8), 1, fill=(1, 2, 3))
    assert rgb[0, 0].tolist() == [1, 2, 3] and rgb[1, 1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="Padding mode should be either constant, edge, reflect or symmetric"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4 element tuple"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="less than the corresponding input dimension"):
        F.pad(x, 3, padding_mode="reflect")


def test_crop_and_center_crop():
    a = np.arange(6 * 8).reshape(6, 8)
    x = ember.tensor(a).view(1, 6, 8)
    np.testing.assert_array_equal(F.crop(x, 1, 2, 3, 4).numpy()[0], a[1:4, 2:6])
    np.testing.assert_array_equal(F.crop(a, 1, 2, 3, 4), a[1:4, 2:6])
    outside = F.crop(x, -1, 6, 2, 3).numpy()[0]  # regions past the border read zeros
    np.testing.assert_array_equal(outside, [[0, 0, 0], [6, 7, 0]])
    np.testing.assert_array_equal(T.CenterCrop(4)(x).numpy()[0], a[1:5, 2:6])
    np.testing.assert_array_equal(T.CenterCrop((3, 5))(a), a[2:5, 2:7])  # round((6-3)/2) = 2
    big = T.CenterCrop(10)(x).numpy()[0]
    assert big.shape == (10, 10) and big[2:8, 1:9].tolist() == a.tolist() and big[0].sum() == 0


def test_flips():
    a = img_u8()
    x = ember.from_numpy(a.transpose(2, 0, 1).copy())
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x).numpy(), x.numpy()[..., ::-1, :])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(a), a[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(a), a[::-1])
    assert T.RandomHorizontalFlip(p=0.0)(x) is x
    ember.manual_seed(0)
    flipped = sum(T.RandomHorizontalFlip()(x) is not x for _ in range(400))
    assert 150 < flipped < 250


def test_random_crop():
    x = ember.arange(3 * 8 * 8).view(3, 8, 8).float()
    padded = np.pad(x.numpy(), [(0, 0), (2, 2), (2, 2)])
    ember.manual_seed(1)
    corners = set()
    for _ in range(200):
        out = T.RandomCrop(8, padding=2)(x).numpy()
        assert out.shape == (3, 8, 8)
        # the crop is an 8x8 window of the zero-padded image
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(padded[:, i:i + 8, j:j + 8], out)]
        assert hits
        corners.add(hits[0])
    assert len(corners) == 25  # every offset of the 12x12 padded image is reachable
    ember.manual_seed(5)
    a = T.RandomCrop(5)(x)
    ember.manual_seed(5)
    np.testing.assert_array_equal(T.RandomCrop(5)(x).numpy(), a.numpy())
    assert T.RandomCrop(10, pad_if_needed=True)(x).shape == (3, 10, 10)
    assert T.RandomCrop((4, 6))(img_u8(8, 8)).shape == (4, 6, 3)
    assert T.RandomCrop.get_params(x, (8, 8)) == (0, 0, 8, 8)
    with pytest.raises(ValueError, match=r"Required crop size \(9, 9\) is larger than input image size \(8, 8\)"):
        T.RandomCrop(9)(x)


def test_resize_output_size_rules():
    x = ember.rand(3, 20, 30)
    assert T.Resize(10)(x).shape == (3, 10, 15)  # the shorter edge becomes 10
    assert T.Resize([10])(ember.rand(3, 30, 20)).shape == (3, 15, 10)
    assert T.Resize((7, 9))(x).shape == (3, 7, 9)
    assert T.Resize(10, max_size=12)(x).shape == (3, 8, 12)
    assert T.Resize(20)(x) is x  # nothing to do
    assert T.Resize((4, 6))(img_u8(8, 12)).shape == (4, 6, 3)
    assert T.Resize((4, 6))(img_u8(8, 12)).dtype == np.uint8
    with pytest.raises(ValueError, match="max_size = 10 must be strictly greater"):
        T.Resize(10, max_size=10)(x)
    with pytest.raises(ValueError, match="max_size should only be passed if size specifies the length of the "
                                         "smaller edge"):
        T.Resize((5, 5), max_size=10)(x)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(ValueError, match="If size is a sequence, it should have 1 or 2 values"):
        T.Resize((1, 2, 3))


def test_resize_values_without_torch():
    x = ember.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    # 2x upsampling, half-pixel centres: outputs sit at source coordinates -0.25 (clamped to 0), 0.25, 0.75, 1.25
    up = F.resize(x, [4, 4], antialias=False).numpy()[0]
    row = np.array([0.0, 0.25, 0.75, 1.0])
    np.testing.assert_allclose(up, row[None, :] + 2 * row[:, None], atol=1e-6)
    near = F.resize(x, [4, 4], T.InterpolationMode.NEAREST).numpy()[0]
    np.testing.assert_array_equal(near, np.kron([[0, 1], [2, 3]], np.ones((2, 2))))
    # antialiased 2x downsampling: the triangle filter is stretched to a support of 2 source pixels around
    # the output centres 1 and 3, giving weights 3/7, 3/7, 1/7 (and mirrored) after renormalisation
    big = ember.arange(16).float().view(1, 4, 4)
    m = np.array([[3, 3, 1, 0], [0, 1, 3, 3]]) / 7.0
    np.testing.assert_allclose(F.resize(big, [2, 2]).numpy()[0], m @ big.numpy()[0] @ m.T, atol=1e-5)
    u8 = F.resize(ember.tensor([[[0, 255], [255, 0]]], dtype=ember.uint8), [3, 3])
    assert u8.dtype is ember.uint8 and u8.numpy()[0, 1, 1] == 128  # the mean 127.5, rounded half to even


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("shape,out", [((2, 3, 7, 9), (4, 13)), ((1, 16, 16), (5, 5)), ((3, 10, 3), (30, 7))])
def test_resize_matches_torch_interpolate(mode, antialias, shape, out):
    torch = pytest.importorskip("torch")
    if antialias and "nearest" in mode:
        pytest.skip("antialias applies to bilinear/bicubic only")
    x = RNG.random(shape).astype(np.float32)
    kw = {} if "nearest" in mode else {"align_corners": False, "antialias": antialias}
    tx = torch.from_numpy(x.reshape((-1,) + shape[-3:]))
    ref = torch.nn.functional.interpolate(tx, size=out, mode=mode, **kw).numpy().reshape(shape[:-2] + out)
    got = F.resize(ember.from_numpy(x), list(out), mode, antialias=antialias).numpy()
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=1e-5)


def test_resize_uint8_matches_torch():
    torch = pytest.importorskip("torch")
    x = RNG.integers(0, 256, size=(1, 3, 17, 11), dtype=np.uint8)
    for antialias in (False, True):
        ref = torch.nn.functional.interpolate(torch.from_numpy(x).float(), size=(8, 6), mode="bilinear",
                                              antialias=antialias, align_corners=False)
        ref = ref.round().clamp(0, 255).numpy()
        got = F.resize(ember.from_numpy(x), [8, 6], antialias=antialias).numpy()
        assert got.dtype == np.uint8
        assert np.abs(got.astype(int) - ref).max() <= 1


def test_compose_lambda_and_reprs():
    pipeline = T.Compose([T.RandomCrop(4, padding=1), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3),
                          T.Lambda(lambda t: t * 2)])
    out = pipeline(img_u8(6, 6))
    assert out.shape == (3, 4, 4)
    assert float(out.min()) >= -2.0 and float(out.max()) <= 2.0
    assert repr(pipeline).splitlines() == ["Compose(", "    RandomCrop(size=(4, 4), padding=1)", "    ToTensor()",
                                           "    Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])",
                                           "    Lambda()", ")"]
    assert repr(T.Resize(8)) == "Resize(size=8, interpolation=bilinear, max_size=None, antialias=True)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    # the tensor transforms are modules, as in torchvision
    seq = ember.nn.Sequential(T.RandomHorizontalFlip(p=1.0), T.Normalize([0.5], [0.25]))
    x = ember.rand(1, 3, 4)
    np.testing.assert_allclose(seq(x).numpy(), (x.numpy()[..., ::-1] - 0.5) / 0.25, rtol=1e-6)
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="img should be an ember.Tensor or a numpy array"):
        T.RandomHorizontalFlip(1.0)([1, 2])
