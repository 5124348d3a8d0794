"""Image ops of ``ember.nn.functional``: unfold/fold (im2col/col2im), pixel_shuffle/pixel_unshuffle,
interpolate and its deprecated aliases, grid_sample and affine_grid, with PyTorch's signatures and errors.

All are composites of differentiable Ember ops. Sampling positions and weights that depend only on sizes are
computed on the host in the precision PyTorch's kernels use (float32 for float32/16 data, float64 for float64),
then the data moves through index_select / index_add / gather, whose backward passes give the gradients.
"""
import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..autograd.function import Function
from .._ops import pointwise as _pw
from .._ops._util import check_tensor, needs_grad
from .._ops.creation import tensor as _tensor, zeros as _zeros
from .._ops.nn import adaptive_avg_pool1d, adaptive_avg_pool2d, pad
from ..amp.autocast_mode import _dispatch as _autocast
from ..autograd.grad_mode import _state

__all__ = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "interpolate", "upsample", "upsample_nearest",
           "upsample_bilinear", "grid_sample", "affine_grid"]


def _index(arr, like):
    """A host-computed int64 index array as a tensor on like's device."""
    return _tensor(np.ascontiguousarray(arr, dtype=np.int64), device=like.device)


def _host(arr, like):
    """Host-computed weights as a tensor of like's dtype and device."""
    return _tensor(np.ascontiguousarray(arr), dtype=like.dtype, device=like.device)


def _opmath(dtype):
    """The numpy type PyTorch's kernels compute positions in: double for float64 data, float otherwise."""
    return np.float64 if dtype is _C.float64 else np.float32


def _int_arg(v, op, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError("%s(): argument '%s' must be int, not %s" % (op, name, type(v).__name__))
    return int(v)


# ------------------------------------------------------------------------------------------------ unfold / fold


def _pair2(v, name):
    """PyTorch's _pair followed by im2col's length check: an int or a sequence of exactly two ints."""
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise RuntimeError("It is expected %s equals to 2, but got size %d" % (name, len(v)))
    return v


def _im2col_args(kernel_size, dilation, padding, stride):
    k, d = _pair2(kernel_size, "kernel_size"), _pair2(dilation, "dilation")
    p, s = _pair2(padding, "padding"), _pair2(stride, "stride")
    if k[0] <= 0 or k[1] <= 0:
        raise RuntimeError("kernel size should be greater than zero, but got kernel_height: %d kernel_width: %d" % k)
    if s[0] <= 0 or s[1] <= 0:
        raise RuntimeError("stride should be greater than zero, but got stride_height: %d stride_width: %d" % s)
    if d[0] <= 0 or d[1] <= 0:
        raise RuntimeError("dilation should be greater than zero, but got dilation_height: %d dilation_width: %d"
                           % d)
    if p[0] < 0 or p[1] < 0:
        raise RuntimeError("padding should be non-negative, but got pad_height: %d pad_width: %d" % p)
    return k, d, p, s


def _n_blocks(size, k, d, p, s):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def _block_index(k, d, s, oh, ow, wp):
    """Flat positions in the padded [hp, wp] image of every (ki, kj, block_y, block_x), in unfold's order."""
    rows = np.add.outer(np.arange(k[0]) * d[0], np.arange(oh) * s[0])        # [kh, oh]
    cols = np.add.outer(np.arange(k[1]) * d[1], np.arange(ow) * s[1])        # [kw, ow]
    pos = rows[:, None, :, None] * wp + cols[None, :, None, :]                 # [kh, kw, oh, ow]
    return pos.reshape(-1)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding local blocks (im2col): [N, C, H, W] (or [C, H, W]) -> [N, C * kh * kw, L] where L is
    the number of block positions; zero padding on both sides of each spatial dim."""
    check_tensor(input, "unfold")
    k, d, p, s = _im2col_args(kernel_size, dilation, padding, stride)
    if input.dim() not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                           "dimensions for input, but got: %s" % list(input.shape))
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    n, c, h, w = x.shape
    oh, ow = _n_blocks(h, k[0], d[0], p[0], s[0]), _n_blocks(w, k[1], d[1], p[1], s[1])
    if oh < 1 or ow < 1:
        raise RuntimeError("Given input with spatial size (%d, %d), kernel_size=(%d, %d), dilation=(%d, %d), "
                           "padding=(%d, %d), calculated shape of the array of sliding blocks as (%d, %d), but its "
                           "components must be at least one." % ((h, w) + k + d + p + (oh, ow)))
    if p[0] or p[1]:
        x = pad(x, (p[1], p[1], p[0], p[0]))
    hp, wp = h + 2 * p[0], w + 2 * p[1]
    idx = _index(_block_index(k, d, s, oh, ow, wp), x)
    cols = x.reshape(n, c, hp * wp).index_select(2, idx).reshape(n, c * k[0] * k[1], oh * ow)
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sums sliding local blocks back into an image (col2im, the adjoint of unfold): [N, C * kh * kw, L]
    (or [C * kh * kw, L]) -> [N, C, *output_size]; overlapping block entries add up."""
    check_tensor(input, "fold")
    out = _pair2(output_size, "output_size")
    k, d, p, s = _im2col_args(kernel_size, dilation, padding, stride)
    if input.dim() not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           "dimensions for input, but got: %s" % list(input.shape))
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    n, ckk, length = x.shape
    if ckk % (k[0] * k[1]):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           "got input.size(1)=%d and kernel_size=(%d, %d)." % ((ckk,) + k))
    oh, ow = _n_blocks(out[0], k[0], d[0], p[0], s[0]), _n_blocks(out[1], k[1], d[1], p[1], s[1])
    desc = "Given output_size=(%d, %d), kernel_size=(%d, %d), dilation=(%d, %d), padding=(%d, %d), stride=(%d, %d)" \
        % (out + k + d + p + s)
    if oh < 0 or ow < 0:
        raise RuntimeError("%s, calculated shape of the array of sliding blocks as (%d, %d), which is too small "
                           "(non-positive)." % (desc, oh, ow))
    if oh * ow != length:
        raise RuntimeError("%s, expected size of input's dimension 2 to match the calculated number of sliding "
                           "blocks %d * %d = %d, but got input.size(2)=%d." % (desc, oh, ow, oh * ow, length))
    c = ckk // (k[0] * k[1])
    hp, wp = out[0] + 2 * p[0], out[1] + 2 * p[1]
    idx = _index(_block_index(k, d, s, oh, ow, wp), x)
    img = _zeros(n, c, hp * wp, dtype=x.dtype, device=x.device)
    img = img.index_add(2, idx, x.reshape(n, c, k[0] * k[1] * length)).reshape(n, c, hp, wp)
    if p[0] or p[1]:
        img = img[:, :, p[0]:p[0] + out[0], p[1]:p[1] + out[1]]
    return img if batched else img.squeeze(0)


# ------------------------------------------------------------------------------------------------ pixel shuffle


def _shuffle_args(input, factor, op, name):
    check_tensor(input, op)
    r = _int_arg(factor, op, name)
    if input.dim() < 3:
        raise RuntimeError("%s expects input to have at least 3 dimensions, but got input with %d dimension(s)"
                           % (op, input.dim()))
    if r <= 0:
        raise RuntimeError("%s expects a positive %s, but got %d" % (op, name, r))
    return r


def pixel_shuffle(input, upscale_factor):
    """[*, C * r^2, H, W] -> [*, C, H * r, W * r]: each group of r^2 channels becomes an r x r pixel block."""
    r = _shuffle_args(input, upscale_factor, "pixel_shuffle", "upscale_factor")
    c, h, w = input.shape[-3:]
    if c % (r * r):
        raise RuntimeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           "upscale_factor, but input.size(-3)=%d is not divisible by %d" % (c, r * r))
    lead = tuple(input.shape[:-3])
    b = len(lead)
    x = input.reshape(lead + (c // (r * r), r, r, h, w))
    x = x.permute(list(range(b)) + [b, b + 3, b + 1, b + 4, b + 2])
    return x.reshape(lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """[*, C, H * r, W * r] -> [*, C * r^2, H, W], the inverse of pixel_shuffle."""
    r = _shuffle_args(input, downscale_factor, "pixel_unshuffle", "downscale_factor")
    c, h, w = input.shape[-3:]
    if h % r:
        raise RuntimeError("pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)=%d "
                           "is not divisible by %d" % (h, r))
    if w % r:
        raise RuntimeError("pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)=%d "
                           "is not divisible by %d" % (w, r))
    lead = tuple(input.shape[:-3])
    b = len(lead)
    x = input.reshape(lead + (c, h // r, r, w // r, r))
    x = x.permute(list(range(b)) + [b, b + 2, b + 4, b + 1, b + 3])
    return x.reshape(lead + (c * r * r, h // r, w // r))


# ------------------------------------------------------------------------------------------------ interpolate
#
# Every mode is separable: along each spatial dim, output position o reads input taps idx[o, :] with weights
# w[o, :]. One index_select gathers all taps of a dim and a weighted sum over the tap axis combines them.

_MODES_MSG = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def _area_scale(n, out, align_corners, scale, dt):
    """PyTorch's area_pixel_compute_scale in precision dt."""
    if align_corners:
        return dt(n - 1) / dt(out - 1) if out > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n) / dt(out)


def _nearest_taps(n, out, scale, exact):
    if not exact and out == n:
        return np.arange(out)[:, None]
    if not exact and out == 2 * n:
        return (np.arange(out) >> 1)[:, None]
    s = _area_scale(n, out, False, scale, np.float32)
    if exact:
        # (i + 0.5) * scale is a double product rounded to float before floorf
        pos = ((np.arange(out) + 0.5) * np.float64(s)).astype(np.float32)
    else:
        pos = np.arange(out).astype(np.float32) * s
    return np.minimum(np.floor(pos).astype(np.int64), n - 1)[:, None]


def _linear_taps(n, out, scale, align_corners, dt):
    if out == n:
        return np.stack([np.arange(out)] * 2, 1), np.tile(np.array([1.0, 0.0], dt), (out, 1))
    ratio = _area_scale(n, out, align_corners, scale, dt)
    i = np.arange(out).astype(dt)
    real = ratio * i if align_corners else np.maximum(ratio * (i + dt(0.5)) - dt(0.5), dt(0))
    i0 = np.minimum(np.floor(real).astype(np.int64), n - 1)
    l1 = np.clip(real - i0.astype(dt), dt(0), dt(1))
    i1 = i0 + (i0 < n - 1)
    return np.stack([i0, i1], 1), np.stack([dt(1) - l1, l1], 1)


def _cubic_coeffs(t, a):
    """The four cubic-convolution weights for taps at offsets -1, 0, 1, 2 from floor(x), t = x - floor(x)
    (works on numpy arrays and on tensors)."""
    def near(x):   # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):    # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _cubic_taps(n, out, scale, align_corners, dt):
    ratio = _area_scale(n, out, align_corners, scale, dt)
    i = np.arange(out).astype(dt)
    real = ratio * i if align_corners else ratio * (i + dt(0.5)) - dt(0.5)   # not clamped at 0 for cubic
    i0 = np.minimum(np.floor(real).astype(np.int64), n - 1)
    t = np.clip(real - i0.astype(dt), dt(0), dt(1))
    idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n - 1)
    return idx, np.stack(_cubic_coeffs(t, dt(-0.75)), 1)


def _area_taps(n, out):
    """Adaptive average pooling as taps: output o averages input [floor(o n / out), ceil((o + 1) n / out))."""
    o = np.arange(out)
    start = (o * n) // out
    end = -((-(o + 1) * n) // out)
    k = int((end - start).max()) if out else 1
    idx = start[:, None] + np.arange(k)[None, :]
    valid = idx < end[:, None]
    w = np.where(valid, 1.0 / (end - start)[:, None], 0.0)
    return np.minimum(idx, n - 1), w


def _aa_filter(x, mode, dt):
    """The antialiasing filters of x = |distance| (PIL's): triangle, Keys cubic with a = -0.5, Lanczos-3."""
    if mode == "bilinear":
        return np.where(x < 1, 1 - x, 0)
    if mode == "bicubic":
        a = dt(-0.5)
        return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1, np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0))
    return np.where(x < 3, np.sinc(x) * np.sinc(x / 3), 0)


def _aa_taps(n, out, scale, align_corners, dt, mode):
    """Antialiased (PIL-style) taps: when shrinking, the filter support widens by the scale so every input
    pixel contributes; weights are normalised to sum to 1."""
    ratio = _area_scale(n, out, align_corners, scale, dt)
    interp = {"bilinear": 2, "bicubic": 4, "lanczos": 6}[mode]
    support = dt(interp * 0.5) * ratio if ratio >= 1.0 else dt(interp * 0.5)
    k = int(math.ceil(support)) * 2 + 1
    i = np.arange(out)
    center = (ratio * (i + 0.5)).astype(dt)
    invscale = dt(1.0) / ratio if ratio >= 1.0 else dt(1.0)
    xmin = np.maximum((center - support + dt(0.5)).astype(np.int64), 0)
    xsize = np.clip(np.minimum((center + support + dt(0.5)).astype(np.int64), n) - xmin, 0, k)
    j = np.arange(k)
    x = np.abs(((j[None, :] + xmin[:, None]).astype(dt) - center[:, None] + dt(0.5)) * invscale)
    w = np.where(j[None, :] < xsize[:, None], _aa_filter(x, mode, dt), 0).astype(dt)
    total = w.sum(1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w)
    return np.minimum(j[None, :] + xmin[:, None], n - 1), w


def _apply_taps(x, dim, idx, w):
    """out[..., o, ...] = sum_k w[o, k] * x[..., idx[o, k], ...] along dim."""
    out, k = idx.shape
    if w is None:
        return x.index_select(dim, _index(idx.reshape(-1), x))
    # taps-major ([k, out]) so that the sum runs over an outer axis, never over a tiny innermost one
    g = x.index_select(dim, _index(idx.T.reshape(-1), x))
    shape = list(x.shape)
    shape[dim:dim + 1] = [k, out]
    wshape = [1] * len(shape)
    wshape[dim], wshape[dim + 1] = k, out
    return (g.reshape(shape) * _host(w.T, x).reshape(wshape)).sum(dim)


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resizes [N, C, *spatial] input to ``size`` or by ``scale_factor``.

    Modes: 'nearest' and 'nearest-exact' (3-D to 5-D input), 'linear' (3-D), 'bilinear' (4-D), 'bicubic' (4-D),
    'trilinear' (5-D), 'lanczos' (4-D, Lanczos-3, needs antialias=True) and 'area' (adaptive average pooling,
    3-D to 5-D). align_corners applies to the interpolating modes, antialias to bilinear, bicubic and lanczos;
    with scale_factor and no recompute_scale_factor the source step is 1 / scale_factor, otherwise input /
    output size, as in PyTorch.
    """
    check_tensor(input, "interpolate")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                             "bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    scales = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError("Input and output must have the same number of spatial dimensions, but got input "
                                 "with spatial dimensions of %s and output size of %s. Please provide input tensor in "
                                 "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                                 % (spatial, size))
            if not all(_is_int(s) for s in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, "
                                "int], but got size with types %s" % [type(s) for s in size])
            out = [int(s) for s in size]
        else:
            if not _is_int(size):
                raise TypeError("interpolate(): size must be an int or a sequence of ints, got %s"
                                % type(size).__name__)
            out = [int(size)] * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError("Input and scale_factor must have the same number of spatial dimensions, but got "
                                 "input with spatial dimensions of %s and scale_factor of shape %s. Please provide "
                                 "input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                                 "format." % (spatial, scale_factor))
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * nd
        out = [int(n * f) for n, f in zip(spatial, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = None  # the output size stands; the sampling step becomes input / output size
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    need = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}.get(mode)
    if mode in ("linear", "bilinear", "trilinear") and input.dim() in (3, 4, 5) and input.dim() != need:
        raise NotImplementedError("Got %dD input, but %s mode needs %dD input" % (input.dim(), mode, need))
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        need = 4
    if mode not in ("nearest", "nearest-exact", "area", "linear", "bilinear", "bicubic", "trilinear", "lanczos") or \
            not 1 <= nd <= 3 or (need is not None and input.dim() != need):
        raise NotImplementedError("Input Error: Only 3D, 4D and 5D input Tensors supported (got %dD) for the modes: "
                                  "%s (got %s)" % (input.dim(), _MODES_MSG, mode))
    if mode != "nearest" and mode != "nearest-exact" and not input.dtype.is_floating_point:
        raise NotImplementedError("interpolate(mode=%r) is not implemented for %s input" % (mode, input.dtype))
    if mode == "area" and nd <= 2 and input.numel() > 0:
        return adaptive_avg_pool1d(input, out[0]) if nd == 1 else adaptive_avg_pool2d(input, out)
    labels = ("W",) if nd == 1 else (("H", "W") if nd == 2 else ("D", "H", "W"))
    if any(n <= 0 for n in spatial) or any(o <= 0 for o in out):
        raise RuntimeError("Input and output sizes should be greater than 0, but got input (%s)%s output (%s)"
                           % (", ".join("%s: %d" % lv for lv in zip(labels, spatial)), " and" if nd == 1 else "",
                              ", ".join("%s: %d" % lv for lv in zip(labels, out))))
    if input.shape[1] == 0 and mode != "area":
        raise RuntimeError("Non-empty %dD data tensor expected but got a tensor with sizes %s"
                           % (input.dim(), list(input.shape)))
    dt = _opmath(input.dtype)
    x = input
    for i in range(nd):
        n, o, sc = spatial[i], out[i], scales[i] if scales is not None else None
        if mode in ("nearest", "nearest-exact"):
            idx, w = _nearest_taps(n, o, sc, mode == "nearest-exact"), None
            if idx.shape[0] == n and (idx[:, 0] == np.arange(n)).all():
                continue  # the identity along this dim
        elif mode == "area":
            idx, w = _area_taps(n, o)
        elif antialias:
            idx, w = _aa_taps(n, o, sc, align_corners, dt, mode)
        elif mode == "bicubic":
            idx, w = _cubic_taps(n, o, sc, align_corners, dt)
        else:
            idx, w = _linear_taps(n, o, sc, align_corners, dt)
        x = _apply_taps(x, 2 + i, idx, w)
    return x if x is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated in PyTorch in favour of interpolate (same arguments)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------------------------------------ grid_sample


def _align_warning():
    warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. Please "
                  "specify align_corners=True if the old behavior is desired. See the documentation of grid_sample "
                  "for details.", stacklevel=3)


def _unnormalize(g, size, align_corners):
    """[-1, 1] grid coordinates -> pixel coordinates: -1/+1 are the corner pixel centres with align_corners,
    the image edges otherwise."""
    if align_corners:
        return ((g + 1) / 2) * (size - 1)
    return ((g + 1) * size - 1) / 2


def _clip(u, size):
    """clamp(u, 0, size - 1) whose gradient is 0 on and beyond the borders, as PyTorch's grid_sampler defines."""
    inside = _pw.logical_and(u > 0, u < size - 1)
    return _pw.where(inside, u, u.detach().clamp(0, size - 1))


def _reflect(u, twice_low, twice_high):
    """Reflects u until it falls in [low, high] (bounds given doubled so half-integers are exact)."""
    if twice_low == twice_high:
        return u * 0
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    v = u - lo
    sign = _pw.where(v.detach() < 0, -1.0, 1.0).to(u.dtype)
    a = v * sign
    extra = a.fmod(span)
    flips = (a.detach() / span).floor()
    even = flips.remainder(2) == 0
    return _pw.where(even, extra + lo, (span - extra) + lo)


def _source_coord(u, size, padding_mode, align_corners):
    """Maps out-of-range pixel coordinates back inside for border and reflection padding."""
    if padding_mode == "border":
        return _clip(u, size)
    if padding_mode == "reflection":
        u = _reflect(u, 0, 2 * (size - 1)) if align_corners else _reflect(u, -1, 2 * size - 1)
        return _clip(u, size)
    return u


def _gather_taps(flat, coords, sizes):
    """flat [N, C, prod(spatial)] values at integer tap coordinates (one [N, P] tensor per spatial dim, x first),
    zero where a tap lies outside the image: returns [N, C, P]."""
    n, c = flat.shape[0], flat.shape[1]
    valid = None
    lin = None
    stride = 1
    for ci, size in zip(coords, sizes):
        ok = _pw.logical_and(ci >= 0, ci < size)
        valid = ok if valid is None else _pw.logical_and(valid, ok)
        term = ci.clamp(0, size - 1) * stride
        lin = term if lin is None else lin + term
        stride *= size
    p = lin.shape[1]
    vals = flat.gather(2, lin.reshape(n, 1, p).expand(n, c, p))
    return vals, valid.reshape(n, 1, p)


class _ZeroGradTo(Function):
    """Passes x through and gives `other` a zero gradient: nearest sampling is piecewise constant in the grid,
    and PyTorch still records the grid as an input (its gradient is zeros, not missing)."""

    @staticmethod
    def forward(x, other):
        return x

    @staticmethod
    def setup_context(ctx, inputs, out):
        ctx.other_shape = inputs[1]._shape

    @staticmethod
    def backward(ctx, g):
        return g, _zeros(ctx.other_shape, dtype=g.dtype, device=g.device)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples input [N, C, H, W] (or [N, C, D, H, W]) at the normalised positions of grid [N, Ho, Wo, 2]
    (or [N, Do, Ho, Wo, 3]; x first, in [-1, 1]) -> [N, C, Ho, Wo] (or [N, C, Do, Ho, Wo]).

    mode: 'bilinear' (trilinear for 5-D), 'nearest' (ties round to even) or 'bicubic' (4-D); padding_mode:
    'zeros', 'border' or 'reflection'. Differentiable with respect to input and grid.
    """
    if _state.autocast and "grid_sample" in _state.autocast:
        return _autocast("grid_sample", grid_sample, input, grid, mode, padding_mode, align_corners)
    check_tensor(input, "grid_sample")
    check_tensor(grid, "grid_sample", "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         "got: '%s'" % mode)
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or 'reflection', "
                         "but got: '%s'" % padding_mode)
    if align_corners is None:
        _align_warning()
        align_corners = False
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError("grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but got "
                           "input with sizes %s and grid with sizes %s" % (list(input.shape), list(grid.shape)))
    if input.device != grid.device:
        raise RuntimeError("grid_sampler(): expected input and grid to be on same device, but input is on %s and grid "
                           "is on %s" % (input.device, grid.device))
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError("grid_sampler(): expected grid and input to have same batch size, but got input with sizes "
                           "%s and grid with sizes %s" % (list(input.shape), list(grid.shape)))
    nd = input.dim() - 2
    if grid.shape[-1] != nd:
        raise RuntimeError("grid_sampler(): expected grid to have size %d in last dimension, but got grid with sizes %s"
                           % (nd, list(grid.shape)))
    for i in range(2, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError("grid_sampler(): expected input to have non-empty spatial dimensions, but input has "
                               "sizes %s with dimension %d being empty" % (list(input.shape), i))
    if mode == "bicubic" and nd != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    if not input.dtype.is_floating_point:
        raise NotImplementedError("grid_sampler(): not implemented for %s input" % input.dtype)
    if grid.dtype is not input.dtype:
        raise RuntimeError("grid_sampler(): expected input and grid to have the same dtype, but input has %s and grid "
                           "has %s" % (input.dtype, grid.dtype))
    n, c = input.shape[0], input.shape[1]
    out_sp = tuple(grid.shape[1:-1])
    p = 1
    for s in out_sp:
        p *= s
    sizes = [input.shape[-1 - i] for i in range(nd)]  # x <-> W, y <-> H, z <-> D
    flat = input.reshape(n, c, int(np.prod(input.shape[2:])))
    g = grid.reshape(n, p, nd)
    u = [_unnormalize(g[:, :, i], sizes[i], align_corners) for i in range(nd)]

    if mode == "nearest":
        taps = [_source_coord(ui, s, padding_mode, align_corners).detach().round().long() for ui, s in zip(u, sizes)]
        vals, valid = _gather_taps(flat, taps, sizes)
        out = _pw.where(valid, vals, 0.0)
        if needs_grad(grid):
            out = _ZeroGradTo.apply(out, grid)
    elif mode == "bilinear":
        u = [_source_coord(ui, s, padding_mode, align_corners) for ui, s in zip(u, sizes)]
        base = [ui.detach().floor() for ui in u]
        frac = [ui - b for ui, b in zip(u, base)]
        base = [b.long() for b in base]
        out = None
        for corner in range(2 ** nd):
            bits = [(corner >> i) & 1 for i in range(nd)]
            w = None
            for fi, bit in zip(frac, bits):
                wi = fi if bit else 1 - fi
                w = wi if w is None else w * wi
            vals, valid = _gather_taps(flat, [b + bit for b, bit in zip(base, bits)], sizes)
            term = _pw.where(valid, vals, 0.0) * w.unsqueeze(1)
            out = term if out is None else out + term
    else:
        # bicubic: the 4 x 4 taps around floor(u), each mapped through the padding rule on its own
        base = [ui.detach().floor() for ui in u]
        coeffs = [_cubic_coeffs(ui - b, -0.75) for ui, b in zip(u, base)]
        out = None
        for j in range(4):
            for i in range(4):
                tx = _source_coord(base[0] + (i - 1), sizes[0], padding_mode, align_corners).detach()
                ty = _source_coord(base[1] + (j - 1), sizes[1], padding_mode, align_corners).detach()
                # the padded coordinate is truncated toward zero, as PyTorch's kernel casts it
                vals, valid = _gather_taps(flat, [tx.trunc().long(), ty.trunc().long()], sizes)
                term = _pw.where(valid, vals, 0.0) * (coeffs[0][i] * coeffs[1][j]).unsqueeze(1)
                out = term if out is None else out + term
    return out.reshape((n, c) + out_sp)


def affine_grid(theta, size, align_corners=None):
    """Sampling grid [N, H, W, 2] (or [N, D, H, W, 3]) of the affine maps theta [N, 2, 3] (or [N, 3, 4]) applied
    to the normalised output coordinates of an image of ``size`` [N, C, H, W] (or [N, C, D, H, W]); for
    grid_sample. Differentiable with respect to theta."""
    check_tensor(theta, "affine_grid", "theta")
    if align_corners is None:
        _align_warning()
        align_corners = False
    if not theta.dtype.is_floating_point:
        raise ValueError("Expected theta to have floating point type, but got %s" % theta.dtype)
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError("Expected a batch of 2D affine matrices of shape Nx2x3 for size %s. Got %s."
                             % (tuple(size), theta.shape))
        spatial = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError("Expected a batch of 3D affine matrices of shape Nx3x4 for size %s. Got %s."
                             % (tuple(size), theta.shape))
        spatial = size[-3:]
    else:
        raise NotImplementedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  "respectively. Got size %s." % (tuple(size),))
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation of "
                      "affine_grid for details.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError("Expected non-zero, positive output size. Got %s" % (tuple(size),))
    if theta.shape[0] != size[0]:
        raise RuntimeError("affine_grid: expected theta with batch size size[0]=%d, but got theta of shape %s"
                           % (size[0], list(theta.shape)))
    nd = len(spatial)

    def steps(m):
        if m <= 1:
            return np.zeros(m)
        r = np.linspace(-1.0, 1.0, m)
        return r if align_corners else r * (m - 1) / m
    # base[..., :] = (x, y[, z], 1) over the output positions, x varying fastest
    axes = np.meshgrid(*[steps(m) for m in spatial], indexing="ij")        # D/H/W order
    base = np.stack([axes[nd - 1 - i] for i in range(nd)] + [np.ones(spatial)], -1)
    base = _host(base.reshape(1, -1, nd + 1), theta)
    grid = base.matmul(theta.transpose(1, 2))
    return grid.reshape([size[0]] + list(spatial) + [nd])
