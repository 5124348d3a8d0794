"""nn.DataParallel: PyTorch's single-process wrapper, for the single-device case.

Without an accelerator the wrapper only forwards to the module (PyTorch does the same: device_ids is [] and
forward calls the module). With one CUDA device the module is moved there and tensor inputs follow it. Splitting
a batch over several devices needs replicas whose parameters broadcast gradients back, which Ember does not
have; use DistributedDataParallel (one process per device) for that.
"""
from ... import cuda
from ..._device import device as _device
from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


def _device_index(d):
    """An int, 'cuda:i' or a device -> i."""
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    d = _device(d)
    if d.type != "cuda":
        raise ValueError("Expected a cuda device, but got: %s" % d)
    return d.index if d.index is not None else cuda.current_device()


def _to_device(obj, dev):
    """Moves every tensor inside (nested tuples, lists and dicts of) obj to dev."""
    if hasattr(obj, "to") and hasattr(obj, "dim"):
        return obj.to(dev)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuples, e.g. PackedSequence
        return type(obj)(*(_to_device(o, dev) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, dev) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, _to_device(v, dev)) for k, v in obj.items())
    return obj


class DataParallel(Module):
    """Wraps module (reachable as .module, so state_dict keys gain a 'module.' prefix) and calls it in forward.

    device_ids defaults to every CUDA device (none without CUDA), output_device to device_ids[0]; dim is the
    batch dimension inputs would be split along. Only one device is supported: more raise a RuntimeError.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.dim = dim
        if not cuda.is_available():
            # as in PyTorch without an accelerator: no devices, forward runs the module as it is
            self.device_ids = []
            self.output_device = None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        if not device_ids:
            raise RuntimeError("no available devices were found")
        self.device_ids = [_device_index(d) for d in device_ids]
        if len(self.device_ids) > 1:
            raise RuntimeError("DataParallel over %d devices is not supported by Ember; wrap the module in "
                               "DistributedDataParallel with one process per device instead" % len(self.device_ids))
        self.output_device = _device_index(output_device if output_device is not None else self.device_ids[0])
        self.src_device_obj = _device("cuda", self.device_ids[0])
        self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if t.device != self.src_device_obj:
                raise RuntimeError("module must have its parameters and buffers on device %s (device_ids[0]) but "
                                   "found one of them on device: %s" % (self.src_device_obj, t.device))
        inputs, kwargs = self.scatter(inputs, kwargs, self.device_ids)
        return self.gather([self.module(*inputs[0], **kwargs[0])], self.output_device)

    def scatter(self, inputs, kwargs, device_ids):
        """One (inputs, kwargs) pair per device: with a single device, the inputs moved onto it."""
        dev = _device("cuda", device_ids[0])
        return (_to_device(tuple(inputs), dev),), (_to_device(dict(kwargs or {}), dev),)

    def gather(self, outputs, output_device):
        """The output of the single replica, moved to output_device."""
        return _to_device(outputs[0], _device("cuda", _device_index(output_device)))


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """The function form of DataParallel: module(*inputs, **module_kwargs) on the given device."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return DataParallel(module, device_ids, output_device, dim)(*inputs, **(module_kwargs or {}))
