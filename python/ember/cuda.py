"""ember.cuda: present so device-agnostic code runs; this build has no CUDA backend."""

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed", "manual_seed_all",
           "empty_cache", "memory_allocated", "max_memory_allocated"]


def is_available():
    """False: Ember's CUDA backend is not part of this build."""
    return False


def device_count():
    return 0


def _no_cuda(*args, **kwargs):
    raise RuntimeError("Ember was built without CUDA support (ember.cuda.is_available() is False)")


current_device = _no_cuda
get_device_name = _no_cuda
set_device = _no_cuda


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
