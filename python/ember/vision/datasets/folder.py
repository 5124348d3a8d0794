"""``DatasetFolder`` and ``ImageFolder``: samples in a ``root/<class>/.../<file>`` tree (torchvision's API).

Images are decoded through Pillow when it is installed (``default_loader`` then returns RGB PIL images, as in
torchvision); without Pillow, PNG and PPM/PGM/PBM files are decoded by the numpy decoder here
(:func:`numpy_loader`, RGB ``(H, W, 3)`` uint8 arrays, which Ember's transforms take in place of PIL images).
"""
import os
import struct
import zlib

import numpy as np

from .vision import VisionDataset

__all__ = ["DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "default_loader", "find_classes",
           "has_file_allowed_extension", "is_image_file", "make_dataset", "numpy_loader", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

# decoded images larger than this are refused before allocating (a 16k x 16k RGB image is 768 MiB)
MAX_PIXELS = 1 << 28


def has_file_allowed_extension(filename, extensions):
    """Whether filename ends with one of extensions (a string or a tuple of strings; case-insensitive)."""
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def is_image_file(filename):
    """Whether filename has one of :data:`IMG_EXTENSIONS`."""
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory):
    """``(classes, class_to_idx)``: the sorted sub-folder names of directory and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError("Couldn't find any class folder in %s." % (directory,))
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None, allow_empty=False):
    """``[(path, class_index), ...]`` for the files under ``directory/<class>/`` (walked recursively, following
    links, in sorted order) that have one of ``extensions`` or pass ``is_valid_file`` (exactly one of the two).

    Raises FileNotFoundError when a class has no valid file, unless ``allow_empty``.
    """
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the same time")
    if extensions is not None:
        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)
    instances, found = [], set()
    for target in sorted(class_to_idx):
        index = class_to_idx[target]
        target_dir = os.path.join(directory, target)
        if not os.path.isdir(target_dir):
            continue
        for root, _, names in sorted(os.walk(target_dir, followlinks=True)):
            for name in sorted(names):
                path = os.path.join(root, name)
                if is_valid_file(path):
                    instances.append((path, index))
                    found.add(target)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = "Found no valid file for the classes %s. " % ", ".join(sorted(empty))
        if extensions is not None:
            msg += "Supported extensions are: %s" % (extensions if isinstance(extensions, str)
                                                     else ", ".join(extensions))
        raise FileNotFoundError(msg)
    return instances


# ================================================================================================== loaders


def _have_pillow():
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def pil_loader(path):
    """The image at path as an RGB PIL image (needs Pillow)."""
    from PIL import Image
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def default_loader(path):
    """An RGB PIL image when Pillow is installed (as torchvision), else an RGB ``(H, W, 3)`` uint8 array from
    :func:`numpy_loader`."""
    return pil_loader(path) if _have_pillow() else numpy_loader(path)


def numpy_loader(path):
    """Decodes a PNG or PPM/PGM/PBM file to an RGB ``(H, W, 3)`` uint8 array without Pillow, converting as
    Pillow's ``convert("RGB")`` does (gray repeated, palette looked up, alpha dropped, 16-bit to 8-bit)."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return decode_png(data)
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
        return decode_pnm(data)
    kind = "JPEG" if data.startswith(b"\xff\xd8") else "this image format"
    raise RuntimeError("%s: decoding %s needs Pillow (pip install pillow); PNG and PPM/PGM/PBM are decoded "
                       "without it" % (path, kind))


# ================================================================================================== datasets


class DatasetFolder(VisionDataset):
    """A generic dataset of ``root/<class>/.../<file>`` samples.

    Args:
        root: the root folder; every sub-folder is a class (sorted names -> indices 0, 1, ...).
        loader: ``loader(path)`` -> sample.
        extensions: the accepted file name endings (or pass ``is_valid_file(path)``, exactly one of the two).
        transform, target_transform: applied to the sample and to the class index.
        allow_empty: accept classes without any valid file.

    Attributes: ``classes``, ``class_to_idx``, ``samples`` (``[(path, class_index)]``), ``targets``.
    Subclasses may override :meth:`find_classes` and :meth:`make_dataset`.
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None,
                 allow_empty=False):
        if isinstance(root, os.PathLike):
            root = os.fspath(root)
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx=class_to_idx, extensions=extensions,
                                    is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        """The samples list (see the module-level :func:`make_dataset`); class_to_idx is required."""
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions=extensions, is_valid_file=is_valid_file,
                            allow_empty=allow_empty)

    def find_classes(self, directory):
        """``(classes, class_to_idx)`` of directory (see the module-level :func:`find_classes`)."""
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """``root/<class>/.../<image>`` with :data:`IMG_EXTENSIONS`, loaded by ``loader`` (default:
    :func:`default_loader`). ``imgs`` is ``samples``."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform=transform,
                         target_transform=target_transform, is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples


# ================================================================================================= decoders


def _check_size(width, height, what):
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise ValueError("%s: bad or too large image size %dx%d" % (what, width, height))


# ---------------------------------------------------------------------------------------------------- PNG

_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_chunks(data):
    pos = 8
    while True:
        if pos + 12 > len(data):
            raise ValueError("PNG: truncated file (no IEND chunk)")
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if n > len(data) - pos - 12:
            raise ValueError("PNG: truncated %r chunk" % kind)
        body = data[pos + 8:pos + 8 + n]
        if struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] != zlib.crc32(kind + body):
            raise ValueError("PNG: checksum mismatch in the %r chunk" % kind)
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + n


def _unfilter(raw, height, row_bytes, bpp):
    """The scanlines of one (pass of an) image with PNG's per-row filters undone, as uint8 (height, row_bytes)."""
    data = np.frombuffer(raw, np.uint8).reshape(height, row_bytes + 1)
    out = np.empty((height, row_bytes), np.uint8)
    prev = np.zeros(row_bytes, np.uint8)
    pad = (-row_bytes) % bpp
    for y in range(height):
        f, line = data[y, 0], data[y, 1:]
        if f == 0:
            cur = line
        elif f == 1:  # Sub: a running sum along each byte lane (uint8 arithmetic wraps mod 256)
            lanes = np.concatenate([line, np.zeros(pad, np.uint8)]).reshape(-1, bpp)
            cur = np.cumsum(lanes, axis=0, dtype=np.uint8).reshape(-1)[:row_bytes]
        elif f == 2:  # Up
            cur = line + prev
        elif f in (3, 4):  # Average, Paeth: each byte depends on the one bpp before it
            src, up, cur = line.tolist(), prev.tolist(), [0] * row_bytes
            for i in range(row_bytes):
                a = cur[i - bpp] if i >= bpp else 0
                b = up[i]
                if f == 3:
                    cur[i] = (src[i] + ((a + b) >> 1)) & 255
                    continue
                c = up[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                cur[i] = (src[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.array(cur, np.uint8)
        else:
            raise ValueError("PNG: unknown filter type %d" % f)
        out[y] = cur
        prev = out[y]
    return out


def _samples(rows, width, channels, depth):
    """Unfiltered scanlines -> (h, width, channels) samples (uint8, or uint16 for 16-bit)."""
    h = rows.shape[0]
    if depth == 16:
        return rows.view(">u2").reshape(h, width, channels).astype(np.uint16)
    if depth == 8:
        return rows.reshape(h, width, channels)
    shifts = np.arange(8 - depth, -1, -depth, dtype=np.uint8)  # samples packed high bits first
    vals = (rows[:, :, None] >> shifts) & np.uint8((1 << depth) - 1)
    return vals.reshape(h, -1)[:, :width * channels].reshape(h, width, channels)


def decode_png(data):
    """PNG bytes -> RGB (H, W, 3) uint8 array (every bit depth, color type and Adam7 interlacing)."""
    chunks = _png_chunks(data)
    kind, header = next(chunks)
    if kind != b"IHDR" or len(header) != 13:
        raise ValueError("PNG: the first chunk must be IHDR")
    width, height, depth, color, compression, filt, interlace = struct.unpack(">IIBBBBB", header)
    _check_size(width, height, "PNG")
    if color not in _PNG_DEPTHS or depth not in _PNG_DEPTHS[color] or compression or filt or interlace > 1:
        raise ValueError("PNG: unsupported header (bit depth %d, color type %d, compression %d, filter %d, "
                         "interlace %d)" % (depth, color, compression, filt, interlace))
    palette, idat = None, []
    for kind, body in chunks:
        if kind == b"PLTE":
            if len(body) % 3 or not body:
                raise ValueError("PNG: bad PLTE chunk")
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
    if color == 3 and palette is None:
        raise ValueError("PNG: palette image without a PLTE chunk")
    channels = _PNG_CHANNELS[color]
    bits = channels * depth
    bpp = max(1, bits // 8)
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    sizes = []
    for x0, y0, dx, dy in passes:
        pw, ph = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        sizes.append((pw, ph, (pw * bits + 7) // 8))
    expected = sum(ph * (rb + 1) for pw, ph, rb in sizes if pw and ph)
    z = zlib.decompressobj()
    try:
        raw = z.decompress(b"".join(idat), expected)
    except zlib.error as e:
        raise ValueError("PNG: corrupt image data (%s)" % e) from None
    if len(raw) != expected:
        raise ValueError("PNG: image data holds %d bytes, expected %d" % (len(raw), expected))
    image = np.zeros((height, width, channels), np.uint16 if depth == 16 else np.uint8)
    pos = 0
    for (x0, y0, dx, dy), (pw, ph, rb) in zip(passes, sizes):
        if not pw or not ph:
            continue
        n = ph * (rb + 1)
        image[y0::dy, x0::dx] = _samples(_unfilter(raw[pos:pos + n], ph, rb, bpp), pw, channels, depth)
        pos += n
    return _png_to_rgb(image, color, depth, palette)


def _png_to_rgb(image, color, depth, palette):
    if color == 3:
        full = np.zeros((256, 3), np.uint8)
        full[:len(palette)] = palette[:256]
        return full[image[:, :, 0]]
    if depth == 16:
        # Pillow keeps the high byte of 16-bit color; 16-bit gray opens as mode I;16 and clips to 255
        image = (image >> 8).astype(np.uint8) if color != 0 else np.minimum(image, 255).astype(np.uint8)
    elif depth < 8:
        image = (image * (255 // ((1 << depth) - 1))).astype(np.uint8)
    if color in (0, 4):
        return np.repeat(image[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


# ------------------------------------------------------------------------------------------------ PPM/PGM/PBM


def _pnm_tokens(data, count):
    """The first count whitespace-separated header tokens (skipping # comments) and where the data starts."""
    tokens, pos = [], 2
    while len(tokens) < count:
        while pos < len(data) and (data[pos:pos + 1].isspace() or data[pos:pos + 1] == b"#"):
            if data[pos:pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end
            pos += 1
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace() and data[pos:pos + 1] != b"#":
            pos += 1
        if start == pos:
            raise ValueError("PNM: truncated header")
        tokens.append(data[start:pos])
    try:
        values = [int(t) for t in tokens]
    except ValueError:
        raise ValueError("PNM: bad header %r" % (tokens,)) from None
    return values, pos + 1  # one whitespace byte ends the header


def decode_pnm(data):
    """PBM/PGM/PPM bytes (P1-P6) -> RGB (H, W, 3) uint8 array."""
    kind = data[1] - ord("0")
    bitmap = kind in (1, 4)
    values, pos = _pnm_tokens(data, 2 if bitmap else 3)
    width, height = values[0], values[1]
    _check_size(width, height, "PNM")
    channels = 3 if kind in (3, 6) else 1
    if bitmap:
        if kind == 4:
            row = (width + 7) // 8
            raw = np.frombuffer(data, np.uint8, row * height, pos) if len(data) - pos >= row * height else None
            if raw is None:
                raise ValueError("PBM: truncated pixel data")
            bits = np.unpackbits(raw.reshape(height, row), axis=1)[:, :width]
        else:
            digits = [c for c in data[pos - 1:] if c in b"01"]
            if len(digits) < width * height:
                raise ValueError("PBM: truncated pixel data")
            bits = (np.array(digits[:width * height], np.uint8) - ord("0")).reshape(height, width)
        gray = np.where(bits == 1, 0, 255).astype(np.uint8)  # in PBM, 1 is black
        return np.repeat(gray[:, :, None], 3, axis=2)
    maxval = values[2]
    if not 0 < maxval < 65536:
        raise ValueError("PNM: bad maxval %d" % maxval)
    n = width * height * channels
    if kind in (2, 3):
        try:
            samples = np.array(data[pos - 1:].split()[:n], np.int64)
        except ValueError:
            raise ValueError("PNM: bad ASCII pixel data") from None
        if samples.size < n:
            raise ValueError("PNM: truncated pixel data")
    else:
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        if len(data) - pos < n * dtype.itemsize:
            raise ValueError("PNM: truncated pixel data")
        samples = np.frombuffer(data, dtype, n, pos).astype(np.int64)
    samples = np.minimum(samples, maxval)
    if channels == 1 and maxval > 255:
        # as Pillow: 16-bit gray opens as mode I scaled to 0..65535, and convert("RGB") clips it to 255
        samples = np.minimum((samples * 65535 + maxval // 2) // maxval, 255)
    elif maxval != 255:  # Pillow scales every other sample to 0..255
        samples = (samples * 255 + maxval // 2) // maxval
    img = samples.astype(np.uint8).reshape(height, width, channels)
    return img if channels == 3 else np.repeat(img, 3, axis=2)
