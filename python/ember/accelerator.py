"""ember.accelerator: the device-agnostic accelerator API (``torch.accelerator``). This build runs on the CPU
only, so no accelerator is available and the usual ``... if torch.accelerator.is_available() else "cpu"`` picks
the CPU."""

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]


def is_available():
    """False: there is no accelerator backend in this build."""
    return False


def current_accelerator(check_available=False):
    """None: no accelerator (PyTorch returns None too when it finds none)."""
    return None


def device_count():
    return 0


def current_device_index():
    return -1


def set_device_index(device):
    raise RuntimeError("ember.accelerator.set_device_index(%r): no accelerator is available in this build "
                       "(Ember runs on the CPU)" % (device,))


set_device_idx = set_device_index
current_device_idx = current_device_index


def synchronize(device=None):
    """Nothing to wait for: CPU ops complete before they return."""
