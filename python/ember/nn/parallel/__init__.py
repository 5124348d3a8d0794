"""ember.nn.parallel: wrappers that run a module on devices (DataParallel) or across processes
(DistributedDataParallel)."""
from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]
