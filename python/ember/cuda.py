"""ember.cuda: CUDA devices. This build has no CUDA kernels yet (the device seam in csrc/core/kernel_table.h
has a CUDA slot whose entries raise), so is_available() is False and device-agnostic code runs on the CPU."""
from . import _C

# Tests only: the CUDA slot filled with host kernels on host memory labelled 'cuda:0' (device plumbing
# without a GPU; see _set_host_backend_for_tests). Never evidence that anything runs on a GPU.
_host_backend = False

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed", "manual_seed_all",
           "empty_cache", "memory_allocated", "max_memory_allocated"]


def _set_host_backend_for_tests(on):
    """Tests only: fill the CUDA slot with the CPU kernels on host memory (one 'cuda:0' device), or restore it."""
    global _host_backend
    _C._set_host_cuda_backend(bool(on))
    _host_backend = bool(on)


def is_available():
    """Whether a CUDA device can be used: False in this build (no CUDA kernels yet)."""
    return False


def device_count():
    """Number of usable CUDA devices (the tests' host backend counts as one)."""
    return 1 if _host_backend else 0


def _no_cuda(*args, **kwargs):
    raise RuntimeError("Ember was built without CUDA support (ember.cuda.is_available() is False)"
                       if not _C._cuda_built() else "CUDA is not available: no CUDA device was found")


def current_device():
    """Index of the current CUDA device."""
    if not _host_backend:
        _no_cuda()
    return 0


def set_device(device):
    """Selects the current CUDA device."""
    from ._device import _check_device
    _check_device(device)


get_device_name = _no_cuda


def synchronize(device=None):
    pass


def manual_seed(seed):
    pass


def manual_seed_all(seed):
    pass


def empty_cache():
    pass


def memory_allocated(device=None):
    return 0


def max_memory_allocated(device=None):
    return 0


def is_bf16_supported():
    return False
