"""Line charts as PNG files without matplotlib: curves are drawn into an RGB numpy array and written by a tiny
PNG encoder (zlib + struct).

>>> plot_curves("curves.png", [("loss", {"train": [0.9, 0.5, 0.3], "test": [1.0, 0.6, 0.5]}),
...                            ("accuracy %", {"train": [70, 85, 93], "test": [68, 80, 88]})])
"""
import math
import struct
import zlib

import numpy as np

__all__ = ["encode_png", "write_png", "plot_curves"]

COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
_AXIS = (60, 60, 60)
_GRID = (225, 225, 225)
_TEXT = (30, 30, 30)

# a 3x5 pixel font: each glyph is 5 rows of 3 bits
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "%": "101001010100101",
    "-": "000000111000000", " ": "000000000000000", "a": "000011101101011", "b": "100110101101110",
    "c": "000011100100011", "d": "001011101101011", "e": "000111111100011", "f": "011100110100100",
    "g": "011101011001110", "h": "100110101101101", "i": "010000010010010", "k": "100101110101101",
    "l": "110010010010111", "m": "000111111101101", "n": "000110101101101", "o": "000010101101010",
    "p": "000110101110100", "r": "000011100100100", "s": "000011110001110", "t": "010111010010011",
    "u": "000101101101011", "v": "000101101101010", "w": "000101101111111", "x": "000101010101101",
    "y": "000101011001110", "(": "001010010010001", ")": "100010010010100", "/": "001001010100100",
    ":": "000010000010000",
}


def encode_png(pixels):
    """PNG bytes for a uint8 array of shape (H, W, 3) (RGB, 8 bits per channel, no interlacing)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError("expected an (H, W, 3) RGB array, got shape %s" % (pixels.shape,))
    h, w, _ = pixels.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    # every scanline starts with filter type 0 (None)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), pixels.reshape(h, w * 3)], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit depth, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def write_png(path, pixels):
    """Writes an (H, W, 3) uint8 array as a PNG file."""
    with open(path, "wb") as f:
        f.write(encode_png(pixels))


def _text(img, x, y, s, color=_TEXT, scale=1):
    for ch in s.lower():
        glyph = _FONT.get(ch, _FONT[" "])
        for r in range(5):
            for c in range(3):
                if glyph[r * 3 + c] == "1":
                    img[y + r * scale:y + (r + 1) * scale, x + c * scale:x + (c + 1) * scale] = color
        x += 4 * scale
    return x


def _line(img, x0, y0, x1, y1, color, width=2):
    """A line by dense sampling (anti-aliasing is not worth it at this size)."""
    n = int(max(abs(x1 - x0), abs(y1 - y0)) * 2) + 1
    xs = np.linspace(x0, x1, n).round().astype(int)
    ys = np.linspace(y0, y1, n).round().astype(int)
    h, w, _ = img.shape
    for dx in range(width):
        for dy in range(width):
            img[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)] = color


def _fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return "%d" % round(v)
    if abs(v) >= 1:
        return ("%.1f" % v).rstrip("0").rstrip(".")
    return ("%.3f" % v).rstrip("0").rstrip(".")


def _nice_ticks(lo, hi, count=5):
    """Round tick values (1, 2 or 5 times a power of ten apart) spanning [lo, hi]."""
    raw = (hi - lo) / max(count - 1, 1)
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    first = math.floor(lo / step) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return ticks


def _panel(img, x0, y0, w, h, title, series):
    """One chart: title and legend, axes, gridlines at round values, epoch ticks, one curve per series."""
    scale = 2
    values = [v for ys in series.values() for v in ys if v is not None and math.isfinite(v)]
    n = max((len(ys) for ys in series.values()), default=0)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = _nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    left, right, top, bottom = x0 + 60, x0 + w - 15, y0 + 34, y0 + h - 35
    _text(img, left, y0 + 8, title, scale=scale)
    for v in ticks:
        yy = int(round(bottom - (bottom - top) * (v - lo) / (hi - lo)))
        img[yy, left:right] = _GRID
        label = _fmt(v)
        _text(img, left - 6 - 4 * scale * len(label), yy - 5, label, scale=scale)
    img[top:bottom + 1, left] = _AXIS
    img[bottom, left:right + 1] = _AXIS

    def px(i, v):
        x = left if n <= 1 else left + (right - left) * i / (n - 1)
        return x, bottom - (bottom - top) * (v - lo) / (hi - lo)

    step = max(1, int(math.ceil(n / 10)))
    for i in range(0, n, step):
        x, _ = px(i, lo)
        img[bottom:bottom + 5, int(x)] = _AXIS
        _text(img, int(x) - 4, bottom + 8, str(i + 1), scale=scale)
    _text(img, right - 4 * scale * 5, bottom + 22, "epoch", scale=scale)
    # the legend sits in the title row, right-aligned, so it never covers a curve
    lx = right - sum(4 * scale * len(name) + 30 for name in series)
    for k, (name, ys) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        pts = [px(i, v) for i, v in enumerate(ys) if v is not None and math.isfinite(v)]
        for (xa, ya), (xb, yb) in zip(pts, pts[1:]):
            _line(img, xa, ya, xb, yb, color)
        for xa, ya in pts:
            img[int(ya) - 2:int(ya) + 3, int(xa) - 2:int(xa) + 3] = color
        img[y0 + 8:y0 + 18, lx:lx + 12] = color
        lx = _text(img, lx + 16, y0 + 8, name, scale=scale) + 14


def plot_curves(path, panels, width=480, height=300):
    """Writes a PNG with one chart per panel, side by side.

    Args:
        path: the output file.
        panels: a list of ``(title, {series_name: [value per epoch, ...]})``.
        width, height: the size of each panel in pixels.
    """
    img = np.full((height, width * len(panels), 3), 255, np.uint8)
    for i, (title, series) in enumerate(panels):
        _panel(img, i * width, 0, width, height, title, series)
    write_png(path, img)
    return img
