"""ember.device: where a tensor lives. Only 'cpu' has memory today; 'cuda' devices can be named (and
error clearly when used) so that device-agnostic code runs unchanged on CPU."""

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
    """How a tensor's elements are stored: only ``ember.strided``."""

    __slots__ = ()


strided = layout("strided")


class memory_format(_Named):
    """How a copy lays out its dims in memory (``ember.contiguous_format``, ``ember.channels_last``, ...)."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_CPU = device("cpu")


def _check_device(d):
    """Validates a device argument; only CPU can hold tensors in this build."""
    if d is None:
        return
    dev = d if isinstance(d, device) else device(d) if isinstance(d, str) else device("cuda", d) if isinstance(d, int) else None
    if dev is None:
        raise TypeError("expected a device (str, int or ember.device), got %r" % (d,))
    if dev.type != "cpu":
        raise RuntimeError("Ember was built without %s support: tensors can only live on the CPU "
                           "(ember.cuda.is_available() is False)" % dev.type.upper())
