"""Named tuples returned by ops that give values and indices (like torch.return_types)."""
from collections import namedtuple

__all__ = ["max", "min", "sort", "topk", "median", "kthvalue", "mode", "aminmax"]

max = namedtuple("max", ["values", "indices"])
min = namedtuple("min", ["values", "indices"])
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
median = namedtuple("median", ["values", "indices"])
kthvalue = namedtuple("kthvalue", ["values", "indices"])
mode = namedtuple("mode", ["values", "indices"])
aminmax = namedtuple("aminmax", ["min", "max"])
