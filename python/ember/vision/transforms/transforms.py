"""Transform classes (the ``torchvision.transforms`` API): callables built from :mod:`.functional`. As in
torchvision, the tensor transforms are ``nn.Module`` s (so they also fit in ``nn.Sequential``), while Compose,
ToTensor and Lambda are plain callables.

Random transforms draw from Ember's global generator, so ``ember.manual_seed`` makes them reproducible and
DataLoader workers (each seeded differently) augment differently.
"""
import numbers
from collections.abc import Sequence

from ... import nn
from ..._ops.creation import rand, randint
from . import functional as F
from .functional import InterpolationMode

__all__ = ["Compose", "ToTensor", "Normalize", "Resize", "CenterCrop", "Pad", "RandomCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "Lambda", "InterpolationMode"]


class Compose:
    """Applies transforms one after the other: ``Compose([RandomCrop(32, 4), ToTensor()])``."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        lines = [self.__class__.__name__ + "("] + ["    %s" % t for t in self.transforms] + [")"]
        return "\n".join(lines)


class ToTensor:
    """A numpy image ``(H, W[, C])`` -> ``C x H x W`` tensor; uint8 values are scaled to floats in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return self.__class__.__name__ + "()"


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std`` of a float tensor image ``(..., C, H, W)``."""

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def forward(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return "%s(mean=%s, std=%s)" % (self.__class__.__name__, self.mean, self.std)


class Resize(nn.Module):
    """Resizes to ``size``: an int matches the shorter edge keeping the aspect ratio; ``(h, w)`` is exact.

    Args:
        size: int or sequence of 1 or 2 ints.
        interpolation: an :class:`InterpolationMode` (or its string value); default BILINEAR.
        max_size: with an int ``size``, the most the longer edge may have.
        antialias: filter when downsampling (bilinear/bicubic), as torchvision does by default.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        super().__init__()
        if not isinstance(size, (numbers.Integral, Sequence)):
            raise TypeError("Size should be int or sequence. Got %s" % (type(size),))
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.max_size = max_size
        if isinstance(interpolation, str):
            interpolation = InterpolationMode(interpolation)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return "%s(size=%s, interpolation=%s, max_size=%s, antialias=%s)" % (
            self.__class__.__name__, self.size, self.interpolation.value, self.max_size, self.antialias)


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return tuple(size)


class CenterCrop(nn.Module):
    """The central ``size`` region (int -> square), zero-padded if the image is smaller."""

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")

    def forward(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return "%s(size=%s)" % (self.__class__.__name__, self.size)


class Pad(nn.Module):
    """Pads the borders; see :func:`functional.pad` for ``padding``, ``fill`` and ``padding_mode``."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        if not isinstance(padding, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate padding arg")
        if isinstance(padding, Sequence) and len(padding) not in (1, 2, 4):
            raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a %d element tuple"
                             % len(padding))
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return "%s(padding=%s, fill=%s, padding_mode=%s)" % (self.__class__.__name__, self.padding, self.fill,
                                                            self.padding_mode)


class RandomCrop(nn.Module):
    """A random ``size`` crop, after optional padding (the usual CIFAR augmentation is
    ``RandomCrop(32, padding=4)``).

    Args:
        size: int (square) or ``(h, w)``.
        padding: added to every border first (int, 2- or 4-sequence as for :class:`Pad`).
        pad_if_needed: pad images smaller than ``size`` instead of failing.
        fill, padding_mode: as for :class:`Pad`.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = tuple(_setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."))
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    @staticmethod
    def get_params(img, output_size):
        """``(top, left, height, width)`` of a uniformly random crop of ``output_size``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError("Required crop size %s is larger than input image size %s" % ((th, tw), (h, w)))
        if w == tw and h == th:
            return 0, 0, h, w
        i = randint(0, h - th + 1, size=(1,)).item()
        j = randint(0, w - tw + 1, size=(1,)).item()
        return i, j, th, tw

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def __repr__(self):
        return "%s(size=%s, padding=%s)" % (self.__class__.__name__, self.size, self.padding)


class RandomHorizontalFlip(nn.Module):
    """Mirrors the image left to right with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        return F.hflip(img) if rand(1).item() < self.p else img

    def __repr__(self):
        return "%s(p=%s)" % (self.__class__.__name__, self.p)


class RandomVerticalFlip(nn.Module):
    """Mirrors the image top to bottom with probability ``p``."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        return F.vflip(img) if rand(1).item() < self.p else img

    def __repr__(self):
        return "%s(p=%s)" % (self.__class__.__name__, self.p)


class Lambda:
    """Wraps a function as a transform: ``Lambda(lambda x: x.view(-1))``."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError("Argument lambd should be callable, got %r" % type(lambd).__name__)
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return self.__class__.__name__ + "()"
