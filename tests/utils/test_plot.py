"""The PNG encoder (decoded back with zlib and checked chunk by chunk) and the loss/accuracy charts."""
import struct
import zlib

import numpy as np
import pytest

from ember.utils.plot import COLORS, encode_png, plot_curves, write_png


def decode_png(data):
    """A minimal PNG reader for what encode_png writes (8-bit RGB, filter 0), checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    w, h, depth, color, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color, comp, filt, interlace) == (8, 2, 0, 0, 0)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + 3 * w)
    assert np.all(rows[:, 0] == 0)
    return rows[:, 1:].reshape(h, w, 3)


def test_encode_round_trip(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    np.testing.assert_array_equal(decode_png(encode_png(img)), img)
    write_png(tmp_path / "a.png", img[:, ::-1])  # any strides
    np.testing.assert_array_equal(decode_png((tmp_path / "a.png").read_bytes()), img[:, ::-1])
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) RGB array"):
        encode_png(np.zeros((4, 4), np.uint8))


def test_plot_curves(tmp_path):
    path = tmp_path / "curves.png"
    img = plot_curves(path, [("loss", {"train": [2.0, 1.0, 0.5], "test": [2.1, 1.2, float("nan")]}),
                             ("accuracy %", {"train": [10.0, 50.0, 90.0]})], width=300, height=200)
    decoded = decode_png(path.read_bytes())
    np.testing.assert_array_equal(decoded, img)
    assert decoded.shape == (200, 600, 3)
    colors = {tuple(c) for c in decoded.reshape(-1, 3)}
    assert COLORS[0] in colors and COLORS[1] in colors
    left, right = decoded[:, :300], decoded[:, 300:]
    assert np.any(np.all(left == COLORS[1], axis=-1))  # the second series of the first panel is drawn
    assert not np.any(np.all(right == COLORS[1], axis=-1))  # the second panel has one series
    # the training loss falls: its curve's pixels in the left third sit higher than in the right third
    ys, xs = np.nonzero(np.all(left == COLORS[0], axis=-1))
    body = ys > 30  # skip the legend swatch in the title row
    assert ys[body & (xs < 120)].mean() < ys[body & (xs > 220)].mean()
    plot_curves(tmp_path / "one.png", [("loss", {"train": [1.0]})])  # a single epoch, a flat series
    assert decode_png((tmp_path / "one.png").read_bytes()).shape == (300, 480, 3)
