"""ember.cuda: CUDA devices. The CUDA kernel module (csrc/cuda/) is built where nvcc was found; it fills part of
the CUDA slot of the kernel table (ember._C._missing_kernels('cuda') lists what still raises). Without the
module, a driver or a GPU, is_available() is False and device-agnostic code runs on the CPU."""
import collections

from . import _C

# Tests only: the CUDA slot filled with host kernels on host memory labelled 'cuda:0' (device plumbing
# without a GPU; see _set_host_backend_for_tests). Never evidence that anything runs on a GPU.
_host_backend = False

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize", "manual_seed",
           "manual_seed_all", "empty_cache", "memory_stats", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats", "OutOfMemoryError"]


def _find_nvidia_library(name):
    """The absolute path of NVIDIA library `name` (e.g. 'cublas') loaded from its pip wheel by cuda-python's
    cuda.pathfinder, or '' when cuda-python or the library is not installed (``pip install "ember[cuda]"``).
    The CUDA module asks this the first time it needs the library, so ``import ember`` never imports
    cuda-python."""
    try:
        from cuda import pathfinder
    except ImportError:
        return ""
    try:
        return pathfinder.load_nvidia_dynamic_lib(name).abs_path or ""
    except Exception:  # DynamicLibNotFoundError and the platform's loader errors: report "not found"
        return ""


_C._set_cuda_library_locator(_find_nvidia_library)


def _set_host_backend_for_tests(on):
    """Tests only: fill the CUDA slot with the CPU kernels on host memory (one 'cuda:0' device), or restore it."""
    global _host_backend
    _C._set_host_cuda_backend(bool(on))
    _host_backend = bool(on)


def is_available():
    """Whether a CUDA device can be used (the CUDA module was built and a driver reports a GPU)."""
    return _C._cuda_device_count() > 0


def is_initialized():
    return is_available()


def device_count():
    """Number of usable CUDA devices (the tests' host backend counts as one)."""
    return 1 if _host_backend else _C._cuda_device_count()


_current = 0


def _index(device):
    from ._device import _as_device
    if device is None:
        return current_device()
    d = _as_device(device)
    if d.type != "cuda":
        raise ValueError("Expected a cuda device, but got: %s" % d)
    return current_device() if d.index is None else d.index


_CudaDeviceProperties = collections.namedtuple(
    "_CudaDeviceProperties", ["name", "major", "minor", "total_memory", "multi_processor_count", "L2_cache_size"])


def get_device_properties(device=None):
    """Name, compute capability, memory and multiprocessor count of a CUDA device."""
    p = _C._cuda_device_properties(_index(device))
    return _CudaDeviceProperties(**p)


def get_device_name(device=None):
    return get_device_properties(device).name


def get_device_capability(device=None):
    p = get_device_properties(device)
    return (p.major, p.minor)


def _no_cuda(*args, **kwargs):
    raise RuntimeError("Ember was built without CUDA support (ember.cuda.is_available() is False)"
                       if not _C._cuda_built() else "CUDA is not available: no CUDA device was found")


def current_device():
    """Index of the current CUDA device (the one a bare 'cuda' names)."""
    if not _host_backend and not is_available():
        _no_cuda()
    return _current


def set_device(device):
    """Selects the current CUDA device."""
    global _current
    idx = device if isinstance(device, int) else _index(device)
    if not 0 <= idx < device_count():
        if device_count() == 0:
            _no_cuda()
        raise RuntimeError("CUDA error: invalid device ordinal (cuda:%d requested, %d device(s) visible)"
                           % (idx, device_count()))
    _current = idx


class device:
    """Context manager that makes a CUDA device current: ``with ember.cuda.device(1): ...``."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device) if not isinstance(device, int) else device
        self.prev = -1

    def __enter__(self):
        if self.idx >= 0:
            self.prev = current_device()
            set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.prev >= 0:
            set_device(self.prev)
        return False


def synchronize(device=None):
    """Waits for the work queued on a CUDA device (nothing to wait for when no device is usable)."""
    if is_available():
        _C._synchronize("cuda:%d" % _index(device))


def manual_seed(seed):
    """Seeds the generator CUDA tensors draw from. Ember has one Philox generator for every device (the same
    seed gives the same draws on the CPU and the GPU), so this seeds it as ``ember.manual_seed`` does."""
    from ._ops.creation import manual_seed as _seed_all
    _seed_all(seed)


def manual_seed_all(seed):
    """Seeds the generator of all CUDA devices (see manual_seed)."""
    manual_seed(seed)


def _stats_device(device):
    """The 'cuda:N' string for a device argument; None when no CUDA device can hold memory."""
    if not _host_backend and not is_available():
        return None
    from ._device import _as_device
    d = _as_device(device)
    index = current_device() if d is None or d.index is None else d.index
    return "cuda:%d" % index


def memory_stats(device=None):
    """The caching allocator's statistics for a device, under PyTorch's memory_stats() keys."""
    d = _stats_device(device)
    return _C._memory_stats(d) if d else {}


def memory_allocated(device=None):
    """Bytes held by live tensors on the device (as the allocator's size classes count them)."""
    return memory_stats(device).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device=None):
    """Peak of memory_allocated since the start or the last reset_peak_memory_stats."""
    return memory_stats(device).get("allocated_bytes.all.peak", 0)


def memory_reserved(device=None):
    """Bytes the caching allocator holds from the device (live tensors plus its cache)."""
    return memory_stats(device).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device=None):
    """Peak of memory_reserved."""
    return memory_stats(device).get("reserved_bytes.all.peak", 0)


def reset_peak_memory_stats(device=None):
    """Restarts the peaks of memory_allocated and memory_reserved from their current values."""
    d = _stats_device(device)
    if d:
        _C._reset_peak_memory_stats(d)


def empty_cache():
    """Gives the allocator's cached, unused blocks back to the device."""
    d = _stats_device(None)
    if d:
        _C._empty_cache(d)


OutOfMemoryError = _C.CudaOutOfMemoryError


def is_bf16_supported():
    return False
