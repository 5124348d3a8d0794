"""Computer vision: ``transforms``, ``datasets`` and ``models`` with torchvision's names and semantics."""
from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
