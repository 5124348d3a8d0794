"""``make_grid`` and ``save_image`` (the ``torchvision.utils`` API).

``save_image`` writes PNG itself (zlib + struct, no dependency); other formats go through Pillow when it is
installed.
"""
import math
import os
import struct
import zlib

import numpy as np

from .. import _C
from .._ops.shape import cat, stack
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad
from ..nn import functional as F

__all__ = ["make_grid", "save_image"]


def _normalize(t, value_range):
    low, high = (float(t.min()), float(t.max())) if value_range is None else value_range
    return t.clamp(min=low, max=high).sub(low).div(max(high - low, 1e-5))


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tiles a mini-batch ``(B, C, H, W)`` (or a list of ``(C, H, W)`` images) into one ``(C, H', W')`` image.

    Args:
        tensor: a 4-D batch, a 3-D ``(C, H, W)`` or 2-D ``(H, W)`` image, or a list of images of one shape.
            Single-channel images are repeated to 3 channels.
        nrow: images per row (the grid is ``ceil(B / nrow)`` rows).
        padding: pixels between images and around the grid, filled with ``pad_value``.
        normalize: shift and scale the images to [0, 1] using ``value_range`` (min, max), or the min and max of
            the data; ``scale_each`` normalizes every image by its own min and max.

    A batch of one image is returned without padding. The result is composed from differentiable ops.
    """
    if not isinstance(tensor, Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, Tensor):
                    raise TypeError("tensor or list of tensors expected, got a list containing %s" % type(t))
            if not tensor:
                raise ValueError("make_grid: the list of images is empty")
            tensor = stack(tensor, 0)
        else:
            raise TypeError("tensor or list of tensors expected, got %s" % type(tensor))
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.shape[0] == 1:
            tensor = tensor.expand(3, -1, -1)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4:
        raise ValueError("make_grid expects a 2-D, 3-D or 4-D tensor (or a list of images), got shape %s"
                         % (tuple(tensor.shape),))
    if tensor.shape[1] == 1:
        tensor = tensor.expand(-1, 3, -1, -1)
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError("make_grid: nrow must be a positive integer, got %r" % (nrow,))
    if not isinstance(padding, int) or padding < 0:
        raise ValueError("make_grid: padding must be a non-negative integer, got %r" % (padding,))
    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        if not tensor.is_floating_point():
            tensor = tensor.to(_C.get_default_dtype())
        if scale_each is True:
            tensor = stack([_normalize(t, value_range) for t in tensor], 0)
        else:
            tensor = _normalize(tensor, value_range)
    if tensor.shape[0] == 1:
        return tensor.squeeze(0)
    n, c, h, w = tensor.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    if rows * cols > n:  # blank cells after the last image
        blank = tensor.new_full((rows * cols - n, c, h, w), pad_value)
        tensor = cat([tensor, blank], 0)
    # every cell carries its top/left padding; the grid adds the bottom/right border
    cells = F.pad(tensor, (padding, 0, padding, 0), value=pad_value)
    grid = cells.view(rows, cols, c, h + padding, w + padding).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + padding), cols * (w + padding))
    return F.pad(grid, (0, padding, 0, padding), value=pad_value)


def _to_uint8_hwc(tensor, **kwargs):
    grid = make_grid(tensor, **kwargs)
    with no_grad():
        # as torchvision: scale to [0, 255], round half up, clamp
        arr = grid.detach().to(_C.float32).mul(255).add(0.5).clamp(0, 255).numpy().astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _encode_png(arr):
    """PNG bytes of a uint8 image (H, W) or (H, W, C) with C in 1..4 (gray, gray+alpha, RGB, RGBA)."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    h, w, c = arr.shape
    if c not in (1, 2, 3, 4) or arr.dtype != np.uint8:
        raise ValueError("PNG images need 1 to 4 uint8 channels, got shape %s of %s" % (arr.shape, arr.dtype))
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = np.empty((h, 1 + w * c), np.uint8)
    rows[:, 0] = 0  # filter type None for every scanline
    rows[:, 1:] = arr.reshape(h, w * c)
    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + _png_chunk(b"IEND", b""))


def save_image(tensor, fp, format=None, **kwargs):
    """Saves a tensor (or a list of tensors, tiled by :func:`make_grid` with ``**kwargs``) as an image file.

    Values are expected in [0, 1] (use ``normalize=True`` otherwise); they are scaled to 0..255, rounded and
    clamped. ``fp`` is a path or a writable binary file object. PNG (the format for ``.png`` paths, for file
    objects without a name, or ``format="png"``) is written without dependencies; other formats (JPEG, BMP, ...)
    need Pillow.
    """
    arr = _to_uint8_hwc(tensor, **kwargs)
    name = os.fspath(fp) if isinstance(fp, (str, os.PathLike)) else getattr(fp, "name", None)
    pil_format = format  # None: Pillow picks the format from the file name (".jpg" is JPEG), as torchvision does
    if format is None:
        ext = os.path.splitext(name)[1].lower() if isinstance(name, str) else ""
        format = ext[1:] if ext else "png"
    if format.lower() == "png":
        data = _encode_png(arr)
        if isinstance(fp, (str, os.PathLike)):
            with open(fp, "wb") as fh:
                fh.write(data)
        else:
            fp.write(data)
        return
    try:
        from PIL import Image
    except ImportError:
        raise ValueError("save_image: writing %r images needs Pillow (pip install pillow); PNG is written without "
                         "it" % format) from None
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(fp, format=pil_format)
