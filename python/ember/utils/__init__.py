"""Utilities: ``ember.utils.data`` (datasets, samplers, DataLoader) and ``ember.utils.plot`` (PNG charts)."""
from . import data

__all__ = ["data"]
