"""Named tuples returned by ops that give values and indices (like torch.return_types)."""
from collections import namedtuple

__all__ = ["max", "min", "sort", "topk", "median", "kthvalue", "mode", "aminmax", "histogram"]

max = namedtuple("max", ["values", "indices"])
min = namedtuple("min", ["values", "indices"])
sort = namedtuple("sort", ["values", "indices"])
topk = namedtuple("topk", ["values", "indices"])
median = namedtuple("median", ["values", "indices"])
kthvalue = namedtuple("kthvalue", ["values", "indices"])
mode = namedtuple("mode", ["values", "indices"])
aminmax = namedtuple("aminmax", ["min", "max"])
histogram = namedtuple("histogram", ["hist", "bin_edges"])

# ember.linalg and its top-level aliases
linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
slogdet = namedtuple("slogdet", ["sign", "logabsdet"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
svd = namedtuple("svd", ["U", "S", "V"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
qr = namedtuple("qr", ["Q", "R"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_inv_ex = namedtuple("linalg_inv_ex", ["inverse", "info"])
linalg_cholesky_ex = namedtuple("linalg_cholesky_ex", ["L", "info"])
linalg_solve_ex = namedtuple("linalg_solve_ex", ["result", "info"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
__all__ += ["linalg_slogdet", "slogdet", "linalg_svd", "svd", "linalg_qr", "qr", "linalg_eigh", "linalg_inv_ex",
            "linalg_cholesky_ex", "linalg_solve_ex", "linalg_lstsq"]
