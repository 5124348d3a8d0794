"""Flattening parameters into one vector and back (e.g. for second-order methods or model averaging)."""
from ..._ops.shape import cat
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D tensor holding every parameter, flattened and concatenated in order (differentiable)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of the 1-D tensor vec into the parameters (the inverse of
    parameters_to_vector)."""
    if not isinstance(vec, Tensor):
        raise TypeError("expected torch.Tensor, but got: %s" % type(vec).__name__)
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset:offset + n].view_as(p))
            offset += n
    if offset != vec.numel():
        raise RuntimeError("vector_to_parameters: the vector has %d elements but the parameters have %d"
                           % (vec.numel(), offset))
