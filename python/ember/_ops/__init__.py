"""Differentiable ops, grouped by family. Importing this package attaches the op methods to ember.Tensor;
``API`` holds the functions that form the ember namespace."""
from . import creation, pointwise, reduction, shape, indexing, linalg, conversion, nn  # noqa: F401  (order matters)
from . import set_ops  # noqa: F401
from ._util import API

__all__ = ["API"]
