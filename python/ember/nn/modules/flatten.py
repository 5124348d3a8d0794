"""Flatten and Unflatten: reshape a range of dims into one, and one dim into several."""
import numbers

from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (by default all but the batch dim)."""

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return "start_dim=%s, end_dim=%s" % (self.start_dim, self.end_dim)


class Unflatten(Module):
    """Expands dim into the shape unflattened_size (a tuple or list of ints; one of them may be -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
            raise TypeError("invalid argument type for dim parameter: %s (Ember has no named tensors)"
                            % type(dim).__name__)
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError("unflattened_size must be tuple of ints, but found type %s"
                            % type(unflattened_size).__name__)
        for idx, elem in enumerate(unflattened_size):
            if not isinstance(elem, numbers.Integral) or isinstance(elem, bool):
                raise TypeError("unflattened_size must be tuple of ints, but found element of type %s at pos %d"
                                % (type(elem).__name__, idx))
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return "dim=%s, unflattened_size=%s" % (self.dim, self.unflattened_size)
