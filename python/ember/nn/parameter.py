"""``Parameter``: a tensor that a Module registers as one of its trainable weights."""
from .. import _C
from .._tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning one to a Module attribute registers it, so it shows up in
    ``parameters()`` and ``state_dict()``.

    ``Parameter(data=None, requires_grad=True)`` shares ``data``'s memory (a fresh, empty float tensor when data
    is None) and requires grad unless told otherwise. Results of operations on a Parameter are plain Tensors.
    """

    # ember._tensor's pickling and deepcopy rebuild subclasses flagged like this as cls(data, requires_grad)
    _is_param = True

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _C.empty((0,), _C.get_default_dtype())
        elif not isinstance(data, Tensor):
            raise TypeError("Parameter(): data must be a Tensor, got %s" % type(data).__name__)
        p = _C.TensorBase.__new__(cls)
        p.data = data.detach()  # shares data's memory; the parameter is a fresh leaf
        p.requires_grad = requires_grad
        return p

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
