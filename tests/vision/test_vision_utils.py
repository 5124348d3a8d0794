"""ember.vision.utils: make_grid against a numpy version of torchvision's layout, save_image PNG decoded back."""
import io
import math
import struct
import zlib

import numpy as np
import pytest

import ember
from ember.vision.utils import make_grid, save_image


def grid_reference(batch, nrow=8, padding=2, pad_value=0.0):
    """torchvision's algorithm: a pad_value canvas, image k copied at row k // nrow, column k % nrow."""
    n, c, h, w = batch.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    out = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value, batch.dtype)
    for k in range(n):
        y, x = divmod(k, cols)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        out[:, top:top + h, left:left + w] = batch[k]
    return out


@pytest.mark.parametrize("n, nrow, padding", [(5, 2, 2), (8, 8, 0), (7, 3, 1), (3, 10, 3), (2, 1, 4)])
def test_make_grid_layout(n, nrow, padding):
    x = np.random.default_rng(n).random((n, 3, 4, 5)).astype(np.float32)
    got = make_grid(ember.tensor(x), nrow=nrow, padding=padding, pad_value=0.25)
    np.testing.assert_array_equal(got.numpy(), grid_reference(x, nrow, padding, 0.25))


def test_make_grid_shapes_channels_and_lists():
    x = np.random.default_rng(0).random((4, 1, 3, 3)).astype(np.float32)
    got = make_grid(ember.tensor(x), nrow=2)  # one channel becomes three
    np.testing.assert_array_equal(got.numpy(), grid_reference(np.repeat(x, 3, 1), 2))
    imgs = [ember.tensor(x[i]) for i in range(4)]
    np.testing.assert_array_equal(make_grid(imgs, nrow=2).numpy(), got.numpy())
    single = make_grid(ember.tensor(x[0]))  # one image: no padding, 3 channels
    assert single.shape == (3, 3, 3)
    assert make_grid(ember.tensor(x[0, 0])).shape == (3, 3, 3)  # (H, W)
    assert make_grid(ember.tensor(np.ones((1, 4, 2, 2), np.float32))).shape == (4, 2, 2)
    t = ember.tensor(np.random.default_rng(1).random((3, 2, 3, 3)).astype(np.float32))[:, :, ::2, :]  # strided
    np.testing.assert_array_equal(make_grid(t, padding=1).numpy(), grid_reference(t.numpy(), padding=1))


def test_make_grid_normalize_value_range_and_scale_each():
    rng = np.random.default_rng(2)
    x = (rng.random((3, 3, 2, 2)) * np.array([1, 10, 100]).reshape(3, 1, 1, 1) - 5).astype(np.float64)
    src = ember.tensor(x)
    got = make_grid(src, normalize=True, padding=0, nrow=3).numpy()
    want = (x - x.min()) / (x.max() - x.min())
    np.testing.assert_allclose(got, grid_reference(want, 3, 0), rtol=1e-12)
    got = make_grid(src, normalize=True, scale_each=True, padding=0, nrow=3).numpy()
    each = np.stack([(v - v.min()) / (v.max() - v.min()) for v in x])
    np.testing.assert_allclose(got, grid_reference(each, 3, 0), rtol=1e-12)
    got = make_grid(src, normalize=True, value_range=(0.0, 2.0), padding=0, nrow=3).numpy()
    np.testing.assert_allclose(got, grid_reference(np.clip(x, 0, 2) / 2, 3, 0), rtol=1e-12)
    np.testing.assert_array_equal(src.numpy(), x)  # the input is left alone
    const = make_grid(ember.full((2, 3, 2, 2), 7.0), normalize=True, padding=0)
    assert float(const.max()) == 0.0  # max - min floored at 1e-5, as torchvision


def test_make_grid_is_differentiable():
    x = ember.rand(3, 3, 2, 2, requires_grad=True)
    g = make_grid(x, nrow=2, padding=1)
    (g * g).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)


def test_make_grid_bad_inputs():
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        make_grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(TypeError, match="list containing"):
        make_grid([ember.ones(3, 2, 2), np.ones((3, 2, 2))])
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(ember.ones(2, 3, 2, 2), normalize=True, value_range=[0, 1])
    with pytest.raises(ValueError, match="2-D, 3-D or 4-D"):
        make_grid(ember.ones(1, 2, 3, 2, 2))
    with pytest.raises(ValueError, match="nrow"):
        make_grid(ember.ones(2, 3, 2, 2), nrow=0)


def decode_png(data):
    """A minimal independent PNG reader (8-bit, filter types 0-4, no interlace) for checking the writer."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert kind == b"IEND"
    w, h, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0
    c = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * c)
    assert (raw[:, 0] <= 4).all()
    out = np.zeros((h, w * c), np.int64)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        prev = out[y - 1] if y else np.zeros(w * c, np.int64)
        for i in range(w * c):
            a = out[y, i - c] if i >= c else 0
            b, cc = prev[i], prev[i - c] if i >= c else 0
            p = a + b - cc
            pred = [0, a, b, (a + b) // 2,
                    a if abs(p - a) <= min(abs(p - b), abs(p - cc)) else b if abs(p - b) <= abs(p - cc) else cc][f]
            out[y, i] = (line[i] + pred) % 256
    return out.reshape(h, w, c).astype(np.uint8)


def expected_bytes(grid):
    return np.clip(np.floor(grid * 255 + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def test_save_image_png_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random((5, 3, 6, 4)).astype(np.float32) * 1.2 - 0.1  # out-of-range values clamp
    path = tmp_path / "grid.png"
    save_image(ember.tensor(x), path, nrow=3, padding=1, pad_value=1.0)
    want = expected_bytes(grid_reference(x, 3, 1, 1.0))
    np.testing.assert_array_equal(decode_png(path.read_bytes()), want)
    buf = io.BytesIO()
    save_image(ember.tensor(x[0]), buf)  # a file object without a name: PNG
    np.testing.assert_array_equal(decode_png(buf.getvalue()), expected_bytes(x[0]))
    buf = io.BytesIO()
    save_image(ember.tensor(x[:1, :1]), buf, format="PNG")  # one gray image -> 3 channels, as make_grid does
    assert decode_png(buf.getvalue()).shape == (6, 4, 3)


def test_save_image_gray_alpha_and_rgba_channels():
    for c in (2, 4):
        x = np.random.default_rng(c).random((1, c, 3, 5)).astype(np.float32)
        buf = io.BytesIO()
        save_image(ember.tensor(x), buf)
        np.testing.assert_array_equal(decode_png(buf.getvalue()), expected_bytes(x[0]))


def test_save_image_matches_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(4).random((2, 3, 5, 7)).astype(np.float32)
    save_image(ember.tensor(x), tmp_path / "a.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), expected_bytes(grid_reference(x)))
    save_image(ember.tensor(x), tmp_path / "a.bmp")  # through Pillow
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.bmp")), expected_bytes(grid_reference(x)))


def test_save_image_other_formats_need_pillow(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ValueError, match="needs Pillow"):
        save_image(ember.ones(3, 2, 2), tmp_path / "a.jpg")
    save_image(ember.ones(3, 2, 2), tmp_path / "a.png")
    assert decode_png((tmp_path / "a.png").read_bytes()).shape == (2, 2, 3)
