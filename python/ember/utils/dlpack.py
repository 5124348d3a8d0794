"""DLPack interop (as torch.utils.dlpack): from_dlpack takes any object with __dlpack__ (numpy, PyTorch, CuPy,
JAX arrays) or a raw DLPack capsule and returns an Ember tensor over the same memory; to_dlpack makes a capsule."""
from .. import _C

__all__ = ["from_dlpack", "to_dlpack"]


def to_dlpack(tensor):
    """A legacy ("dltensor") DLPack capsule over tensor's memory."""
    return tensor.__dlpack__()


def from_dlpack(ext_tensor):
    """An Ember tensor sharing memory with ext_tensor (an object with __dlpack__, or a DLPack capsule)."""
    from .._tensor import Tensor
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack__"):
        kind, _ = ext_tensor.__dlpack_device__()
        kwargs = {"stream": 1} if kind == 2 else {}  # CUDA: make the data ready for the legacy default stream
        try:
            capsule = ext_tensor.__dlpack__(max_version=(1, 1), **kwargs)
        except TypeError:  # producers older than DLPack 1.0 take no max_version
            capsule = ext_tensor.__dlpack__(**kwargs)
    else:
        capsule = ext_tensor
    if type(capsule).__name__ != "PyCapsule":
        raise TypeError("from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got %s"
                        % type(ext_tensor).__name__)
    return _C._from_dlpack_capsule(capsule)
