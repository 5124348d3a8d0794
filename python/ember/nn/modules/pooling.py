"""Pooling layers: max, average and adaptive average/max pooling over 1-D and 2-D inputs."""
from .. import functional as F
from ._utils import _pair, _single
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "AdaptiveMaxPool2d"]


def _check_pool(kernel_size, stride, padding, n):
    k = _pair(kernel_size) if n == 2 else _single(kernel_size)
    s = k if stride is None else (_pair(stride) if n == 2 else _single(stride))
    p = _pair(padding) if n == 2 else _single(padding)
    if any(v <= 0 for v in k):
        raise ValueError("kernel_size must be greater than zero, but got %s" % (kernel_size,))
    if any(v <= 0 for v in s):
        raise ValueError("stride must be greater than zero, but got %s" % (stride,))
    if any(pv < 0 or pv > kv // 2 for pv, kv in zip(p, k)):
        raise ValueError("pad should be at least zero and at most half of effective kernel size, but got pad=%s, "
                         "kernel_size=%s" % (padding, kernel_size))


class _MaxPoolNd(Module):
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        _check_pool(kernel_size, stride, padding, self._ndim)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=%s" % (
            self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of [N, C, L] (or [C, L]) input."""

    _ndim = 1

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding kH x kW windows of [N, C, H, W] (or [C, H, W]) input; stride defaults to kernel_size.
    With return_indices=True it also returns the flat index of each maximum."""

    _ndim = 2

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPoolNd(Module):
    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]

    def extra_repr(self):
        return "kernel_size=%s, stride=%s, padding=%s" % (self.kernel_size, self.stride, self.padding)


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of [N, C, L] (or [C, L]) input."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        _check_pool(kernel_size, stride, padding, 1)
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding kH x kW windows of [N, C, H, W] (or [C, H, W]) input; stride defaults to kernel_size.
    count_include_pad counts zero padding in the divisor; divisor_override replaces the divisor."""

    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        _check_pool(kernel_size, stride, padding, 2)
        if divisor_override is not None and divisor_override == 0:
            raise ValueError("divisor must be not zero")
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptivePoolNd(Module):
    __constants__ = ["output_size"]

    def __init__(self, output_size):
        super().__init__()
        sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
        if any(s is not None and s < 0 for s in sizes):
            raise ValueError("output_size must be non-negative, got %s" % (output_size,))
        self.output_size = output_size

    def extra_repr(self):
        return "output_size=%s" % (self.output_size,)


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Average pooling of [N, C, L] input to a fixed output length."""

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Average pooling of [N, C, H, W] input to a fixed output size (an int, a pair, None keeps that dim)."""

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """Max pooling of [N, C, H, W] input to a fixed output size."""

    __constants__ = ["output_size", "return_indices"]

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)
