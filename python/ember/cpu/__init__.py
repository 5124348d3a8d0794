"""ember.cpu: the CPU device module (as torch.cpu): availability, device queries and ``ember.cpu.amp``."""
from . import amp

__all__ = ["amp", "is_available", "device_count", "current_device", "synchronize"]


def is_available():
    """True: the CPU is always there."""
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """CPU kernels finish before they return: nothing to wait for."""
