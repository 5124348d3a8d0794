"""Image transforms as functions (the ``torchvision.transforms.functional`` API, without PIL).

Two image kinds are accepted:

* an ``ember.Tensor`` of shape ``(..., C, H, W)`` (any leading batch dims; uint8 or floating point);
* a numpy array of shape ``(H, W)`` or ``(H, W, C)``, typically uint8 straight from a dataset, which plays the
  role PIL images play in torchvision: geometric transforms return a numpy array again, and :func:`to_tensor`
  converts it to a float ``C x H x W`` tensor in [0, 1].
"""
import enum
import numbers

import numpy as np

from ... import _C
from ..._ops import nn as _nn_ops
from ..._ops.creation import as_tensor, from_numpy, tensor
from ..._tensor import Tensor

__all__ = ["InterpolationMode", "get_dimensions", "to_tensor", "normalize", "pad", "crop", "center_crop",
           "resize", "hflip", "vflip"]


class InterpolationMode(enum.Enum):
    """How :func:`resize` computes pixels: NEAREST (PyTorch's legacy nearest), NEAREST_EXACT, BILINEAR, BICUBIC."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


def _is_numpy_image(img):
    return isinstance(img, np.ndarray) and img.ndim in (2, 3)


def _check_image(img):
    if isinstance(img, Tensor):
        if img.dim() < 2:
            raise TypeError("Tensor is not a torch image: expected at least 2 dimensions, got shape %s"
                            % (tuple(img.shape),))
        return
    if not _is_numpy_image(img):
        raise TypeError("img should be an ember.Tensor or a numpy array of shape (H, W) or (H, W, C). Got %s"
                        % (type(img),))


def get_dimensions(img):
    """``[channels, height, width]`` of an image."""
    _check_image(img)
    if isinstance(img, Tensor):
        c = img.shape[-3] if img.dim() > 2 else 1
        return [c, img.shape[-2], img.shape[-1]]
    return [img.shape[2] if img.ndim == 3 else 1, img.shape[0], img.shape[1]]


def to_tensor(pic):
    """A numpy image ``(H, W[, C])`` or a PIL image as a ``C x H x W`` tensor; uint8 data is scaled to float in
    [0, 1], other dtypes (PIL modes I, I;16, F) keep their values."""
    if _is_pil_image(pic):
        pic = _pil_array(pic)
    if not isinstance(pic, np.ndarray):
        raise TypeError("pic should be PIL Image or ndarray. Got %s" % (type(pic),))
    if pic.ndim not in (2, 3):
        raise ValueError("pic should be 2/3 dimensional. Got %d dimensions." % pic.ndim)
    if pic.ndim == 2:
        pic = pic[:, :, None]
    arr = np.ascontiguousarray(pic.transpose(2, 0, 1))
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    img = from_numpy(arr)
    if img.dtype is _C.uint8:
        return img.to(_C.get_default_dtype()).div(255)
    return img


def normalize(tensor, mean, std, inplace=False):
    """``(tensor - mean) / std`` per channel of a float ``(..., C, H, W)`` tensor."""
    if not isinstance(tensor, Tensor):
        raise TypeError("img should be Tensor Image. Got %s" % (type(tensor),))
    if not tensor.is_floating_point():
        raise TypeError("Input tensor should be a float tensor. Got %s." % (tensor.dtype,))
    if tensor.dim() < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = %s"
                         % (tensor.size(),))
    if not inplace:
        tensor = tensor.clone()
    mean = as_tensor(mean, dtype=tensor.dtype)
    std = as_tensor(std, dtype=tensor.dtype)
    if bool((std == 0).any()):
        raise ValueError("std evaluated to zero after conversion to %s, leading to division by zero." % tensor.dtype)
    if mean.dim() == 1:
        mean = mean.view(-1, 1, 1)
    if std.dim() == 1:
        std = std.view(-1, 1, 1)
    return tensor.sub_(mean).div_(std)


def _parse_padding(padding):
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * 4
    if not isinstance(padding, (list, tuple)) or not all(isinstance(p, numbers.Integral) for p in padding):
        raise TypeError("Got inappropriate padding arg: %r" % (padding,))
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return (int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1]))
    if len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a %d element tuple" % len(padding))


def _source_positions(n, lo, hi, mode):
    """Which source row/column each output position reads after padding n by (lo, hi) (negative crops)."""
    pos = np.arange(-lo, n + hi)
    if mode == "edge":
        return np.clip(pos, 0, n - 1)
    if mode == "reflect":  # mirror without repeating the edge: ... 2 1 | 0 1 2 ... n-1 | n-2 ...
        if n == 1:
            return np.zeros_like(pos)
        period = 2 * (n - 1)
        pos = np.mod(pos, period)
        return np.where(pos < n, pos, period - pos)
    # symmetric: mirror repeating the edge: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
    period = 2 * n
    pos = np.mod(pos, period)
    return np.where(pos < n, pos, period - 1 - pos)


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pads the image borders.

    Args:
        padding: an int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``; negative
            values crop (tensor images).
        fill: the constant for ``padding_mode="constant"`` (a per-channel tuple for numpy images).
        padding_mode: ``constant``, ``edge`` (repeat the last pixel), ``reflect`` (mirror without the edge pixel)
            or ``symmetric`` (mirror including it).
    """
    _check_image(img)
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    left, top, right, bottom = _parse_padding(padding)
    if isinstance(img, np.ndarray):
        if min(left, top, right, bottom) < 0:
            raise ValueError("negative padding is only supported for tensor images")
        widths = [(top, bottom), (left, right)] + ([(0, 0)] if img.ndim == 3 else [])
        if padding_mode != "constant":
            return np.pad(img, widths, mode=padding_mode)
        if isinstance(fill, (tuple, list)):
            channels = [np.pad(img[..., c], widths[:2], constant_values=fill[c]) for c in range(img.shape[2])]
            return np.stack(channels, axis=-1).astype(img.dtype)
        return np.pad(img, widths, constant_values=fill)
    if padding_mode == "constant":
        if isinstance(fill, (tuple, list)):
            raise TypeError("fill must be a number for tensor images")
        return _nn_ops.pad(img, (left, right, top, bottom), value=fill)
    h, w = img.shape[-2], img.shape[-1]
    if padding_mode == "reflect" and (max(left, right) >= w or max(top, bottom) >= h):
        raise ValueError("Padding size should be less than the corresponding input dimension for reflect padding, "
                         "got padding %s for an image of size %s" % ((left, top, right, bottom), (h, w)))
    rows = tensor(_source_positions(h, top, bottom, padding_mode), dtype=_C.int64)
    cols = tensor(_source_positions(w, left, right, padding_mode), dtype=_C.int64)
    return img.index_select(-2, rows).index_select(-1, cols)


def crop(img, top, left, height, width):
    """The ``height x width`` region whose top-left corner is ``(top, left)``; parts outside the image are
    zero-filled."""
    _, h, w = get_dimensions(img)
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        pads = [max(-left, 0), max(-top, 0), max(right - w, 0), max(bottom - h, 0)]
        img = pad(img, pads, fill=0)
        top, left = max(top, 0), max(left, 0)
    if isinstance(img, np.ndarray):
        return img[top:top + height, left:left + width]
    return img[..., top:top + height, left:left + width]


def _size_pair(output_size, name="size"):
    if isinstance(output_size, numbers.Integral):
        return int(output_size), int(output_size)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        return int(output_size[0]), int(output_size[0])
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        return int(output_size[0]), int(output_size[1])
    raise ValueError("Please provide only two dimensions (h, w) for %s." % name)


def center_crop(img, output_size):
    """The central ``output_size`` region (int or ``(h, w)``), zero-padded when the image is smaller."""
    crop_h, crop_w = _size_pair(output_size)
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        pads = [(crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                (crop_w - w + 1) // 2 if crop_w > w else 0, (crop_h - h + 1) // 2 if crop_h > h else 0]
        img = pad(img, pads, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def hflip(img):
    """Mirrors the image left to right."""
    _check_image(img)
    return np.ascontiguousarray(img[:, ::-1]) if isinstance(img, np.ndarray) else img.flip(-1)


def vflip(img):
    """Mirrors the image top to bottom."""
    _check_image(img)
    return np.ascontiguousarray(img[::-1]) if isinstance(img, np.ndarray) else img.flip(-2)


# ---------------------------------------------------------------------------------------------- resize
def _output_size(h, w, size, max_size):
    """torchvision's rule: an int (or 1-sequence) sets the shorter edge keeping the aspect ratio (optionally
    capping the longer edge at max_size); an (h, w) pair is taken as is."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    requested = int(size if isinstance(size, numbers.Integral) else size[0])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError("max_size = %d must be strictly greater than the requested size for the smaller edge "
                             "size = %s" % (max_size, size))
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _cubic(x, a):
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


def _resize_matrix(n_in, n_out, mode, antialias):
    """An (n_out, n_in) matrix M with out = M @ in along one axis, following PyTorch's interpolate
    (align_corners=False): the half-pixel source coordinate, and for antialias=True the filter widened by the
    downscaling factor and renormalised (as PIL does)."""
    scale = n_in / n_out
    dst = np.arange(n_out, dtype=np.float64)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if antialias and mode in ("bilinear", "bicubic"):
        interp_size = 2 if mode == "bilinear" else 4
        support = interp_size * 0.5 * max(scale, 1.0)
        invscale = 1.0 / scale if scale >= 1.0 else 1.0
        for i in range(n_out):
            center = scale * (i + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n_in)
            x = (np.arange(lo, hi) - center + 0.5) * invscale
            wts = np.maximum(1 - np.abs(x), 0) if mode == "bilinear" else _cubic(x, -0.5)
            total = wts.sum()
            m[i, lo:hi] = wts / total if total != 0 else wts
        return m
    if mode == "bilinear":
        src = np.maximum(scale * (dst + 0.5) - 0.5, 0.0)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        frac = src - i0
        np.add.at(m, (rows, i0), 1 - frac)
        np.add.at(m, (rows, i1), frac)
        return m
    if mode == "bicubic":
        src = scale * (dst + 0.5) - 0.5
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        a = -0.75
        coeffs = [_cubic(t + 1, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a)]
        for k, c in enumerate(coeffs):
            np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), c)
        return m
    raise ValueError("unknown interpolation mode %r" % mode)


def _nearest_index(n_in, n_out, exact):
    # float32 arithmetic, as PyTorch's kernel does, so the chosen pixels agree exactly
    scale = np.float32(n_in / n_out)
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor(((dst + np.float32(0.5)) if exact else dst) * scale).astype(np.int64)
    return np.minimum(src, n_in - 1)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resizes the image to ``size``: an int matches the shorter edge (keeping the aspect ratio), a pair
    ``(h, w)`` is the exact output size. Tensor results agree with ``torch.nn.functional.interpolate``
    (align_corners=False); uint8 images are computed in float and rounded back."""
    _check_image(img)
    if isinstance(interpolation, str):
        interpolation = InterpolationMode(interpolation)
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding string, got %r"
                        % (interpolation,))
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError("Size must be an int or a 1 or 2 element tuple/list, not a %d element tuple/list"
                             % len(size))
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of the smaller edge, "
                             "i.e. size should be an int or a sequence of length 1 in torchscript mode.")
    elif not isinstance(size, numbers.Integral):
        raise TypeError("Size should be int or sequence. Got %s" % (type(size),))
    _, h, w = get_dimensions(img)
    out_h, out_w = _output_size(h, w, size, max_size)
    if (out_h, out_w) == (h, w):
        return img
    if isinstance(img, np.ndarray):
        chw = from_numpy(np.ascontiguousarray(img if img.ndim == 2 else img.transpose(2, 0, 1)))
        out = resize(chw, [out_h, out_w], interpolation, antialias=antialias).numpy()
        return out if img.ndim == 2 else np.ascontiguousarray(out.transpose(1, 2, 0))

    mode = interpolation.value
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        rows = tensor(_nearest_index(h, out_h, exact), dtype=_C.int64)
        cols = tensor(_nearest_index(w, out_w, exact), dtype=_C.int64)
        return img.index_select(-2, rows).index_select(-1, cols)
    work = img if img.is_floating_point() else img.to(_C.float32)
    mh = tensor(_resize_matrix(h, out_h, mode, antialias), dtype=work.dtype)
    mw = tensor(_resize_matrix(w, out_w, mode, antialias).T, dtype=work.dtype)
    out = mh.matmul(work).matmul(mw)
    if not img.is_floating_point():
        info = np.iinfo(np.dtype(img.dtype._name)) if img.dtype is not _C.bool else None
        out = out.round()
        if info is not None:
            out = out.clamp(info.min, info.max)
        out = out.to(img.dtype)
    return out


# ----------------------------------------------------------------------------------------------- PIL images
# Pillow is optional: PIL images (what ImageFolder's default loader returns when Pillow is installed) are
# recognised by type name, converted to numpy for the operation and returned as PIL images again.

def _is_pil_image(img):
    return any(c.__name__ == "Image" and c.__module__.startswith("PIL.") for c in type(img).__mro__)


def _pil_array(pic):
    """A PIL image's pixels as (H, W, C), with torchvision's to_tensor dtypes (mode '1' scaled to 0/255)."""
    dtype = {"I": np.int32, "I;16": np.int16, "F": np.float32}.get(pic.mode, np.uint8)
    arr = np.array(pic, dtype)
    if pic.mode == "1":
        arr = arr * np.uint8(255)
    return arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))


def _on_pil(fn):
    """fn applied to a PIL image through its numpy pixels (palette and 1-bit images as RGB / L)."""
    def wrapper(img, *args, **kwargs):
        if not _is_pil_image(img):
            return fn(img, *args, **kwargs)
        if img.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
            img = img.convert("L" if img.mode == "1" else "RGB")
        out = fn(np.asarray(img), *args, **kwargs)
        if not isinstance(out, np.ndarray):
            return out
        from PIL import Image  # installed: img is one of its images
        return Image.fromarray(np.ascontiguousarray(out))
    wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return wrapper


def _pil_dimensions(fn):
    def get_dimensions(img):
        if _is_pil_image(img):
            return [len(img.getbands()), img.size[1], img.size[0]]
        return fn(img)
    get_dimensions.__doc__ = fn.__doc__
    return get_dimensions


get_dimensions = _pil_dimensions(get_dimensions)
pad, crop, center_crop, resize, hflip, vflip = (_on_pil(f) for f in (pad, crop, center_crop, resize, hflip, vflip))
