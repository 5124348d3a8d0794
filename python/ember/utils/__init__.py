"""Utilities: ``ember.utils.data`` (datasets, samplers, DataLoader) and ``ember.utils.plot`` (PNG charts)."""
from . import data, dlpack

__all__ = ["data", "dlpack"]
