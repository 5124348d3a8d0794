"""Image transforms with torchvision's names and semantics; images are tensors ``(..., C, H, W)`` or numpy
arrays ``(H, W[, C])`` (in place of PIL images)."""
from . import functional
from .transforms import (CenterCrop, Compose, InterpolationMode, Lambda, Normalize, Pad, RandomCrop,
                         RandomHorizontalFlip, RandomVerticalFlip, Resize, ToTensor)

__all__ = ["CenterCrop", "Compose", "InterpolationMode", "Lambda", "Normalize", "Pad", "RandomCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "ToTensor", "functional"]
