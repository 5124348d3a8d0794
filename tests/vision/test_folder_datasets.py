"""vision.datasets: ImageFolder/DatasetFolder over temporary class trees (with and without Pillow), the numpy
PNG and PNM decoders, and FakeData."""
import struct
import sys
import zlib

import numpy as np
import pytest

import ember
import ember.vision.transforms as T
from ember.utils.data import DataLoader
from ember.vision.datasets import DatasetFolder, FakeData, ImageFolder
from ember.vision.datasets import folder


@pytest.fixture
def no_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)


# ================================================================================================ PNG writer
# an independent encoder for the tests: every filter type, bit depth, color type and Adam7 interlacing

def _filter_row(kind, row, prev, bpp):
    out = []
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        paeth = a if abs(p - a) <= min(abs(p - b), abs(p - c)) else b if abs(p - b) <= abs(p - c) else c
        out.append((x - [0, a, b, (a + b) // 2, paeth][kind]) % 256)
    return [kind] + out


def _pack(samples, depth):
    """One row of samples -> bytes for bit depth `depth`."""
    if depth == 16:
        return list(np.asarray(samples, ">u2").tobytes())
    if depth == 8:
        return [int(v) for v in samples]
    per = 8 // depth
    out = []
    for i in range(0, len(samples), per):
        byte = 0
        for j in range(per):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return out


def encode_png(img, color, depth=8, interlace=False, palette=None, filters=(0, 1, 2, 3, 4)):
    """img: (H, W, C) integer samples."""
    h, w, c = img.shape
    bpp = max(1, c * depth // 8)
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)) if interlace else ((0, 0, 1, 1),)
    raw, k = [], 0
    for x0, y0, dx, dy in passes:
        sub = img[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        prev = None
        for row in sub:
            packed = _pack(row.reshape(-1), depth)
            prev = prev or [0] * len(packed)
            raw += _filter_row(filters[k % len(filters)], packed, prev, bpp)
            prev, k = packed, k + 1

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, int(interlace)))
    if palette is not None:
        out += chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    data = zlib.compress(bytes(raw))
    return out + chunk(b"IDAT", data[:10]) + chunk(b"IDAT", data[10:]) + chunk(b"IEND", b"")


CASES = [  # color type, channels, depth
    (0, 1, 1), (0, 1, 2), (0, 1, 4), (0, 1, 8), (0, 1, 16), (2, 3, 8), (2, 3, 16), (3, 1, 2), (3, 1, 8),
    (4, 2, 8), (4, 2, 16), (6, 4, 8), (6, 4, 16)]


def _expected_rgb(img, color, depth, palette):
    if color == 3:
        return palette[img[:, :, 0]].astype(np.uint8)
    if depth == 16:
        img = np.minimum(img, 255) if color == 0 else img >> 8
    elif depth < 8:
        img = img * (255 // (2 ** depth - 1))
    img = img.astype(np.uint8)
    return np.repeat(img[:, :, :1], 3, 2) if color in (0, 4) else img[:, :, :3]


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("color, channels, depth", CASES)
def test_png_decoder_every_format(color, channels, depth, interlace):
    rng = np.random.default_rng(color * 100 + depth)
    h, w = (11, 9) if interlace else (5, 7)
    top = 2 ** depth if color != 3 else min(6, 2 ** depth)
    img = rng.integers(0, top, (h, w, channels))
    if depth == 16 and color == 0:
        img[0, :3, 0] = [5, 255, 300]  # Pillow clips 16-bit gray to 255
    palette = rng.integers(0, 256, (6, 3)) if color == 3 else None
    got = folder.decode_png(encode_png(img, color, depth, interlace, palette))
    assert got.dtype == np.uint8 and got.shape == (h, w, 3)
    np.testing.assert_array_equal(got, _expected_rgb(img, color, depth, palette))


def test_png_decoder_tiny_interlaced_images():
    for h, w in [(1, 1), (1, 5), (3, 2), (8, 1)]:  # some Adam7 passes are empty
        img = np.arange(h * w * 3).reshape(h, w, 3) % 256
        np.testing.assert_array_equal(folder.decode_png(encode_png(img, 2, 8, True)), img)


def test_png_decoder_rejects_corrupt_files():
    good = encode_png(np.zeros((2, 2, 3), np.int64), 2)
    bad = bytearray(good)
    bad[good.index(b"IDAT") + 6] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        folder.decode_png(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        folder.decode_png(good[:-20])
    wrong_size = encode_png(np.zeros((2, 2, 3), np.int64), 2).replace(
        struct.pack(">II", 2, 2), struct.pack(">II", 3, 2))
    with pytest.raises(ValueError):
        folder.decode_png(wrong_size)


# ====================================================================================================== PNM


def test_pnm_decoder_binary_ascii_bitmaps_and_maxval():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    np.testing.assert_array_equal(folder.decode_pnm(b"P6\n# comment\n3 2\n255\n" + rgb.tobytes()), rgb)
    gray = np.array([[0, 128, 255]], np.uint8)
    np.testing.assert_array_equal(folder.decode_pnm(b"P5 3 1 255 " + gray.tobytes()), np.repeat(gray[:, :, None], 3, 2))
    np.testing.assert_array_equal(folder.decode_pnm(b"P2\n3 1\n255\n0 128\n255\n"), np.repeat(gray[:, :, None], 3, 2))
    np.testing.assert_array_equal(folder.decode_pnm(b"P3 1 1 255 1 2 3"), [[[1, 2, 3]]])
    wide = np.array([[0, 1000, 65535]], ">u2")
    np.testing.assert_array_equal(folder.decode_pnm(b"P5 3 1 65535\n" + wide.tobytes())[0, :, 0], [0, 255, 255])
    np.testing.assert_array_equal(folder.decode_pnm(b"P6 1 1 1000\n" + np.array([3, 500, 1000], ">u2").tobytes()),
                                  [[[1, 128, 255]]])  # Pillow's rounding
    np.testing.assert_array_equal(folder.decode_pnm(b"P2 2 1 15 0 15")[0, :, 0], [0, 255])
    bits = folder.decode_pnm(b"P4\n10 1\n" + bytes([0b10100000, 0b01000000]))[0, :, 0]
    np.testing.assert_array_equal(bits, [0, 255, 0, 255, 255, 255, 255, 255, 255, 0])
    np.testing.assert_array_equal(folder.decode_pnm(b"P1\n3 1\n1 0 1\n")[0, :, 0], [0, 255, 0])
    with pytest.raises(ValueError, match="truncated"):
        folder.decode_pnm(b"P6 3 2 255\n" + rgb.tobytes()[:-1])


# ============================================================================================ with Pillow too


def test_numpy_decoder_matches_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, (13, 17, 4)).astype(np.uint8)
    smooth = (np.add.outer(np.arange(13), np.arange(17)) * 7 % 256).astype(np.uint8)  # Pillow picks Paeth/Up/Sub
    images = {"rgb.png": Image.fromarray(rgba[:, :, :3]), "rgba.png": Image.fromarray(rgba),
              "l.png": Image.fromarray(smooth), "la.png": Image.fromarray(rgba[:, :, :2], "LA"),
              "p.png": Image.fromarray(rgba[:, :, :3]).quantize(7), "1.png": Image.fromarray(smooth > 100),
              "i16.png": Image.fromarray((smooth.astype(np.uint16) * 3)), "rgb.ppm": Image.fromarray(rgba[:, :, :3]),
              "l.pgm": Image.fromarray(smooth), "bits.pbm": Image.fromarray(smooth > 50)}
    for name, img in images.items():
        img.save(tmp_path / name)
        np.testing.assert_array_equal(folder.numpy_loader(tmp_path / name),
                                      np.asarray(folder.pil_loader(tmp_path / name)), err_msg=name)
    for maxval in (15, 1000, 65535):
        (tmp_path / "m.pgm").write_bytes(b"P5 2 1 %d\n" % maxval + np.array([3, maxval], ">u2" if maxval > 255
                                                                            else np.uint8).tobytes())
        np.testing.assert_array_equal(folder.numpy_loader(tmp_path / "m.pgm"),
                                      np.asarray(folder.pil_loader(tmp_path / "m.pgm")))


def test_jpeg_needs_pillow(tmp_path, monkeypatch):
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(RuntimeError, match="JPEG needs Pillow"):
        folder.default_loader(tmp_path / "x.jpg")


# ============================================================================================ ImageFolder


@pytest.fixture
def tree(tmp_path):
    """root/{cat,dog,owl}: PNG and PPM files, an upper-case extension, a nested folder and a non-image."""
    rng = np.random.default_rng(0)
    images = {}

    def put(rel, img, kind):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "png":
            path.write_bytes(encode_png(img, 2, 8))
        else:
            path.write_bytes(b"P6\n%d %d\n255\n" % (img.shape[1], img.shape[0]) + img.astype(np.uint8).tobytes())
        images[str(path)] = img.astype(np.uint8)
    for rel, kind in [("cat/b.png", "png"), ("cat/a.ppm", "ppm"), ("dog/x.PNG", "png"), ("dog/deep/y.ppm", "ppm"),
                      ("owl/z.png", "png")]:
        put(rel, rng.integers(0, 256, (6, 5, 3)), kind)
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "stray.png").write_bytes(b"")  # files at the root are not samples
    return tmp_path, images


def test_image_folder_structure(tree):
    root, images = tree
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog", "owl"] and ds.class_to_idx == {"cat": 0, "dog": 1, "owl": 2}
    names = [(p[len(str(root)) + 1:], t) for p, t in ds.samples]
    assert names == [("cat/a.ppm", 0), ("cat/b.png", 0), ("dog/x.PNG", 1), ("dog/deep/y.ppm", 1), ("owl/z.png", 2)]
    assert ds.targets == [0, 0, 1, 1, 2] and ds.imgs is ds.samples and len(ds) == 5
    assert "Number of datapoints: 5" in repr(ds) and str(root) in repr(ds)


def test_image_folder_without_pillow_gives_numpy_images(tree, no_pillow):
    root, images = tree
    ds = ImageFolder(root)
    for i, (path, target) in enumerate(ds.samples):
        img, t = ds[i]
        assert type(img) is np.ndarray and img.dtype == np.uint8 and t == target
        np.testing.assert_array_equal(img, images[path])
    batches = list(DataLoader(ImageFolder(root, transform=T.ToTensor()), batch_size=2))
    x, y = batches[0]
    assert x.shape == (2, 3, 6, 5) and y.tolist() == [0, 0]
    np.testing.assert_allclose(x[1].numpy(), images[ds.samples[1][0]].transpose(2, 0, 1) / 255.0, rtol=1e-6)


def test_image_folder_with_pillow_gives_pil_images(tree):
    Image = pytest.importorskip("PIL.Image")
    root, images = tree
    ds = ImageFolder(root, transform=None, target_transform=lambda t: t * 10)
    img, t = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and t == 10
    np.testing.assert_array_equal(np.asarray(img), images[ds.samples[3][0]])
    tds = ImageFolder(root, transform=T.Compose([T.CenterCrop(4), T.ToTensor()]))
    x, _ = tds[0]
    assert x.shape == (3, 4, 4)
    np.testing.assert_allclose(x.numpy(), images[ds.samples[0][0]][1:5, 0:4].transpose(2, 0, 1) / 255, rtol=1e-6)
    smooth = np.repeat(np.linspace(0, 255, 16).astype(np.uint8)[None, :, None], 12, 0).repeat(3, 2)
    Image.fromarray(smooth).save(root / "owl" / "photo.JPG", quality=95)
    ds = ImageFolder(root)
    jpeg = [i for i, (p, _) in enumerate(ds.samples) if p.endswith(".JPG")]
    assert len(ds) == 6 and len(jpeg) == 1 and ds.targets[jpeg[0]] == 2
    img = np.asarray(ds[jpeg[0]][0]).astype(np.int64)
    assert img.shape == (12, 16, 3) and np.abs(img - smooth).max() <= 8  # lossy, but close


def test_is_valid_file_loader_and_allow_empty(tree):
    root, _ = tree
    ds = ImageFolder(root, is_valid_file=lambda p: p.endswith(".ppm"), allow_empty=True)
    assert [t for _, t in ds.samples] == [0, 1] and ds.classes == ["cat", "dog", "owl"]
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes owl"):
        ImageFolder(root, is_valid_file=lambda p: p.endswith(".ppm"))
    paths = DatasetFolder(root, loader=lambda p: p, extensions=(".txt",), allow_empty=True)
    assert [s for s, _ in paths] == [str(root / "cat" / "notes.txt")]
    with pytest.raises(FileNotFoundError, match="Supported extensions are: .txt"):
        DatasetFolder(root, loader=lambda p: p, extensions=".txt")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(root, loader=lambda p: p, extensions=".png", is_valid_file=lambda p: True)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        DatasetFolder(root, loader=lambda p: p)


def test_find_classes_and_make_dataset(tree, tmp_path_factory):
    root, _ = tree
    classes, idx = folder.find_classes(root)
    assert classes == ["cat", "dog", "owl"]
    assert len(folder.make_dataset(root, {"dog": 5}, extensions=folder.IMG_EXTENSIONS)) == 2
    with pytest.raises(ValueError, match="at least one entry"):
        folder.make_dataset(root, {}, extensions=".png")
    with pytest.raises(ValueError, match="cannot be None"):
        DatasetFolder.make_dataset(root, None, extensions=".png")
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        ImageFolder(tmp_path_factory.mktemp("empty"))
    assert folder.is_image_file("A.JPEG") and not folder.is_image_file("a.txt")

    class OnlyCats(ImageFolder):
        def find_classes(self, directory):
            return ["cat"], {"cat": 0}
    assert len(OnlyCats(root)) == 2


# ================================================================================================ FakeData


def test_fake_data_is_deterministic_per_index_and_leaves_the_global_rng_alone(no_pillow):
    ember.manual_seed(0)
    want = ember.rand(3)
    ember.manual_seed(0)
    ds = FakeData(size=6, image_size=(3, 5, 4), num_classes=4)
    a, b = ds[2], ds[2]
    np.testing.assert_array_equal(ember.rand(3).numpy(), want.numpy())
    assert type(a[0]) is np.ndarray and a[0].shape == (5, 4, 3) and a[0].dtype == np.uint8
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1] and type(a[1]) is int
    assert not np.array_equal(ds[3][0], a[0])
    labels = [ds[i][1] for i in range(len(ds))]
    assert all(0 <= y < 4 for y in labels)
    shifted = FakeData(size=6, image_size=(3, 5, 4), num_classes=4, random_offset=1)
    np.testing.assert_array_equal(shifted[1][0], ds[2][0])
    np.testing.assert_array_equal(ds[-1][0], ds[5][0])
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[6]
    assert FakeData(size=2, image_size=(1, 3, 2))[0][0].shape == (3, 2)


def test_fake_data_pixels_are_torchvision_conversion_of_a_normal_draw(no_pillow):
    ds = FakeData(size=1, image_size=(3, 40, 40))
    img = ds[0][0].astype(np.int64)
    gen = ember.Generator().manual_seed(0)
    draw = ember.randn(3, 40, 40, generator=gen).numpy()
    np.testing.assert_array_equal(img, np.trunc(draw * 255).astype(np.int64).transpose(1, 2, 0) % 256)


def test_fake_data_transforms_and_pillow():
    ds = FakeData(size=3, image_size=(3, 4, 4), transform=T.ToTensor(), target_transform=lambda y: -1)
    x, y = ds[0]
    assert x.shape == (3, 4, 4) and x.dtype is ember.float32 and y == -1 and 0 <= float(x.min())
    assert "Number of datapoints: 3" in repr(ds)
    for bad in (dict(size=-1), dict(image_size=(3, 4)), dict(image_size=(2, 4, 4)), dict(num_classes=0)):
        with pytest.raises(ValueError):
            FakeData(**bad)


def test_fake_data_gives_pil_images_with_pillow():
    Image = pytest.importorskip("PIL.Image")
    img = FakeData(size=1, image_size=(3, 4, 6))[0][0]
    assert isinstance(img, Image.Image) and img.size == (6, 4) and img.mode == "RGB"
    assert FakeData(size=1, image_size=(1, 4, 6))[0][0].mode == "L"
