"""ember.device: where a tensor lives ('cpu', or 'cuda:N' where a CUDA device is available)."""

from . import _C

__all__ = ["device", "layout", "strided", "memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d"]


class device:
    """A device: ``ember.device('cpu')``, ``ember.device('cuda:0')``, ``ember.device('cuda', 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError("device() expects a string like 'cpu' or 'cuda:0', got %r" % (type,))
        t = type.strip()
        if ":" in t:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was passed explicitly: "
                                   + type)
            t, _, idx = t.partition(":")
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError("Invalid device string: '%s'" % type) from None
        if t not in ("cpu", "cuda", "meta", "mps"):
            raise RuntimeError("Expected one of cpu, cuda, meta device type at start of device string: %s" % type)
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.type = t
        self.index = index

    def __repr__(self):
        if self.index is None:
            return "device(type='%s')" % self.type
        return "device(type='%s', index=%d)" % (self.type, self.index)

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


class _Named:
    """A named singleton (ember.strided, ember.channels_last, ...); pickles as the module global it is."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "ember." + self._name

    def __reduce__(self):
        return self._name


class layout(_Named):
    """How a tensor's elements are stored: ``ember.strided`` (dense) or ``ember.sparse_coo``."""

    __slots__ = ()


strided = layout("strided")
sparse_coo = layout("sparse_coo")


class memory_format(_Named):
    """How a copy lays out its dims in memory (``ember.contiguous_format``, ``ember.channels_last``, ...)."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_CPU = device("cpu")


def _as_device(d):
    """A device argument (str, int, ember.device) as an ember.device; None stays None."""
    if d is None or isinstance(d, device):
        return d
    if isinstance(d, str):
        return device(d)
    if isinstance(d, int) and not isinstance(d, bool):
        return device("cuda", d)
    raise TypeError("expected a device (str, int or ember.device), got %r" % (d,))


def _check_device(d):
    """Validates a device argument and returns it as an ember.device with its index filled in (cuda -> the
    current CUDA device); None stays None. Raises when the device cannot hold tensors in this process."""
    dev = _as_device(d)
    if dev is None or dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise RuntimeError("Ember has no %s backend: tensors can live on the CPU or on CUDA devices" % dev.type)
    from . import cuda
    if not cuda.is_available() and not cuda._host_backend:
        raise RuntimeError("Ember was built without CUDA support (ember.cuda.is_available() is False)"
                           if not _C._cuda_built() else
                           "CUDA is not available: no CUDA device was found (ember.cuda.is_available() is False)")
    index = cuda.current_device() if dev.index is None else dev.index
    if index >= cuda.device_count():
        raise RuntimeError("CUDA error: invalid device ordinal (cuda:%d requested, %d device(s) visible)"
                           % (index, cuda.device_count()))
    return device("cuda", index)


def _place(t, d):
    """t on device d (validated by _check_device; None keeps t where it is)."""
    if d is None or t._device == str(d):
        return t
    return _C._to_device(t, str(d))


_DEVICES = {"cpu": _CPU}


def _device_of(name):
    """The ember.device for a tensor's _device string (cached: Tensor.device is hot)."""
    dev = _DEVICES.get(name)
    if dev is None:
        dev = _DEVICES[name] = device(name)
    return dev
