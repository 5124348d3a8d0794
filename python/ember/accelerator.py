"""ember.accelerator, the device-agnostic accelerator API (``torch.accelerator``): CUDA when this build has
the CUDA module and a GPU is visible, otherwise none, so the usual
``torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"`` picks the CPU."""

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]


def _cuda():
    from . import cuda
    return cuda


def is_available():
    """True when a CUDA device can be used."""
    return _cuda().is_available()


def current_accelerator(check_available=False):
    """``device('cuda')`` when a GPU is available, else None (as PyTorch when it finds no accelerator)."""
    if not is_available():
        return None
    from ._device import device
    return device("cuda")


def device_count():
    return _cuda().device_count() if is_available() else 0


def current_device_index():
    return _cuda().current_device() if is_available() else -1


def set_device_index(device):
    if not is_available():
        raise RuntimeError("ember.accelerator.set_device_index(%r): no accelerator is available (this build found "
                           "no CUDA device)" % (device,))
    _cuda().set_device(device)


set_device_idx = set_device_index
current_device_idx = current_device_index


def synchronize(device=None):
    """Waits for the accelerator's queued work; nothing to wait for without one (CPU ops complete on return)."""
    if is_available():
        _cuda().synchronize(device)
