"""Computer vision: ``transforms`` and ``datasets`` with torchvision's names and semantics."""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
