"""Stride arithmetic shared by copies that keep or choose a layout (clone, contiguous, to, *_like, leaf
gradients): memory-format strides, whether strides are dense, and the dense strides PyTorch's preserve_format
gives a tensor that is not."""

from . import _device

__all__ = ["CHANNELS_LAST", "format_strides", "is_dense", "preserved_strides"]

# dim orders (outermost first) of the channels-last formats: N, spatial dims, C
CHANNELS_LAST = {_device.channels_last: (4, (0, 2, 3, 1)), _device.channels_last_3d: (5, (0, 2, 3, 4, 1))}


def format_strides(shape, memory_format):
    """The strides a dense tensor of shape has in memory_format (contiguous_format or channels_last*)."""
    rank, order = CHANNELS_LAST.get(memory_format, (len(shape), tuple(range(len(shape)))))
    if len(shape) != rank:
        raise RuntimeError("required rank %d tensor to use %s format" % (rank, memory_format._name))
    strides = [0] * rank
    step = 1
    for d in reversed(order):
        strides[d] = step
        step *= max(shape[d], 1)
    return tuple(strides)


def is_dense(shape, strides):
    """Whether the elements fill a block of memory exactly once (some order of the dims is row-major)."""
    step = 1
    for stride, size in sorted((st, n) for n, st in zip(shape, strides) if n != 1):
        if stride != step:
            return False
        step *= size
    return True


def preserved_strides(shape, strides):
    """The strides preserve_format gives a copy: the input's when they are dense, else dense strides in the
    input's order of strides (innermost = smallest stride; dims with a zero stride keep their place)."""
    if is_dense(shape, strides):
        return tuple(strides)
    ndim = len(shape)
    perm = list(range(ndim - 1, -1, -1))  # innermost first

    def should_swap(a, b):
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa != sb:
            return 1 if sa > sb else -1
        return 1 if shape[a] > shape[b] else 0

    for i in range(1, ndim):
        j = i
        for k in range(i - 1, -1, -1):
            c = should_swap(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    out = [0] * ndim
    step = 1
    for d in perm:
        out[d] = step
        step *= max(shape[d], 1)
    return tuple(out)
