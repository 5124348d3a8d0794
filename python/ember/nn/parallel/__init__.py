"""ember.nn.parallel: wrappers that run a module on devices (DataParallel)."""
from .data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "data_parallel"]
