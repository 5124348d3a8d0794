"""Variable-length sequences for the recurrent layers: PackedSequence, pack/pad helpers and their inverses.

A PackedSequence holds the time steps of a batch of sequences sorted by decreasing length, step after step:
``data`` is [sum(lengths), *] and ``batch_sizes[t]`` says how many sequences are still running at step t. All
copies go through differentiable ops (slicing, cat, index_select), so gradients flow back to the padded input.
"""
import collections
import numbers

from ... import _C
from ..._ops.creation import arange, full, tensor
from ..._ops.shape import cat, stack

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence"]

_PackedSequenceBase = collections.namedtuple("PackedSequence",
                                             ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def invert_permutation(permutation):
    """The permutation p' with p'[p[i]] = i (None stays None)."""
    if permutation is None:
        return None
    out = permutation.new_empty(tuple(permutation.shape))
    return out.scatter_(0, permutation, arange(permutation.numel(), dtype=permutation.dtype,
                                               device=permutation.device))


class PackedSequence(_PackedSequenceBase):
    """The packed form of a batch of variable-length sequences (see the module docstring).

    Build one with pack_padded_sequence or pack_sequence rather than by hand. sorted_indices maps the packed
    order to the original batch order (None when the input was already sorted); unsorted_indices is its inverse.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # legacy form: PackedSequence((data, batch_sizes))
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError("batch_sizes should always be on CPU. Instances of PackedSequence should never be "
                             "created manually. They should be instantiated by functions like pack_sequence and "
                             "pack_padded_sequences in nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _with_data(self, data):
        indices = [None if i is None else i.to(data.device) for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *indices)

    def to(self, *args, **kwargs):
        """A PackedSequence whose data is data.to(*args, **kwargs) (indices follow data's device)."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._with_data(data)

    def cpu(self, *args, **kwargs):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self._with_data(self.data.cuda(*args, **kwargs))

    def double(self):
        return self.to(dtype=_C.float64)

    def float(self):
        return self.to(dtype=_C.float32)

    def half(self):
        return self.to(dtype=_C.float16)

    def bfloat16(self):
        return self.to(dtype=_C.bfloat16)

    def long(self):
        return self.to(dtype=_C.int64)

    def int(self):
        return self.to(dtype=_C.int32)

    def byte(self):
        return self.to(dtype=_C.uint8)

    def bool(self):
        return self.to(dtype=_C.bool)

    @property
    def is_cuda(self):
        """Whether data lives on a CUDA device."""
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _lengths_list(lengths):
    if hasattr(lengths, "dim"):
        if lengths.dim() != 1 or lengths.device.type != "cpu":
            raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got %dD %s %s tensor"
                               % (lengths.dim(), lengths.device, lengths.dtype))
        return [int(v) for v in lengths.tolist()]  # converted to int64, as PyTorch does
    out = []
    for v in lengths:
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError("lengths must hold integers, got %r" % (v,))
        out.append(int(v))
    return out


def _batch_sizes(lengths):
    """Descending lengths -> the number of sequences still running at each step."""
    sizes = []
    b = len(lengths)
    for t in range(lengths[0]):
        while lengths[b - 1] <= t:
            b -= 1
        sizes.append(b)
    return sizes


def _segments(batch_sizes):
    """Runs of equal batch size: (first step, number of steps, batch size)."""
    runs = []
    start = 0
    for t in range(1, len(batch_sizes) + 1):
        if t == len(batch_sizes) or batch_sizes[t] != batch_sizes[start]:
            runs.append((start, t - start, batch_sizes[start]))
            start = t
    return runs


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Packs a padded batch [T, B, *] ([B, T, *] with batch_first) of sequences of the given lengths.

    With enforce_sorted=True the lengths must be in decreasing order; otherwise the batch is sorted here and
    the permutation is kept in sorted_indices so that pad_packed_sequence (and the RNNs) restore the order.
    """
    lengths = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    if input.dim() < 2:
        raise ValueError("pack_padded_sequence: expected input of at least 2 dimensions (time and batch), got %dD"
                         % input.dim())
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    batch = input.shape[batch_dim]
    if len(lengths) != batch:
        raise RuntimeError("Expected `len(lengths)` to be equal to batch_size, but got %d (batch_size=%d)"
                           % (len(lengths), batch))
    sorted_indices = None
    if enforce_sorted:
        if any(lengths[i] < lengths[i + 1] for i in range(len(lengths) - 1)):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
    else:
        order = sorted(range(batch), key=lambda i: -lengths[i])  # stable, like a descending sort of ties
        sorted_indices = tensor(order, dtype=_C.int64)
        lengths = [lengths[i] for i in order]
        input = input.index_select(batch_dim, sorted_indices.to(input.device))
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    steps = input.shape[1 - batch_dim]
    if lengths[0] > steps:
        raise RuntimeError("pack_padded_sequence: a length of %d exceeds the %d time steps of the input"
                           % (lengths[0], steps))
    if batch_first:
        input = input.transpose(0, 1)
    sizes = _batch_sizes(lengths)
    rest = tuple(input.shape[2:])
    pieces = [input[t0:t0 + n, :b].reshape((n * b,) + rest) for t0, n, b in _segments(sizes)]
    data = pieces[0] if len(pieces) == 1 else cat(pieces, 0)
    return PackedSequence(data, tensor(sizes, dtype=_C.int64), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: returns (padded [T, B, *] or [B, T, *], lengths) in the original
    batch order, T being total_length when given (it must be at least the longest length)."""
    sizes = [int(b) for b in sequence.batch_sizes.tolist()]
    max_len = len(sizes)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             "but got total_length=%d and max sequence length being %d" % (total_length, max_len))
    else:
        total_length = max_len
    data = sequence.data
    rest = tuple(data.shape[1:])
    batch = sizes[0] if sizes else 0
    pieces = []
    offset = 0
    for t0, n, b in _segments(sizes):
        block = data[offset:offset + n * b].reshape((n, b) + rest)
        offset += n * b
        if b < batch:
            block = cat([block, full((n, batch - b) + rest, padding_value, dtype=data.dtype, device=data.device)], 1)
        pieces.append(block)
    if total_length > max_len:
        pieces.append(full((total_length - max_len, batch) + rest, padding_value, dtype=data.dtype,
                           device=data.device))
    out = pieces[0] if len(pieces) == 1 else cat(pieces, 0)
    lengths = [sum(1 for s in sizes if s > i) for i in range(batch)]
    lengths = tensor(lengths, dtype=_C.int64)
    if sequence.unsorted_indices is not None:
        out = out.index_select(1, sequence.unsorted_indices.to(out.device))
        lengths = lengths.index_select(0, sequence.unsorted_indices.cpu())
    if batch_first:
        out = out.transpose(0, 1)
    return out, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stacks tensors [L_i, *] into [max L, B, *] ([B, max L, *] with batch_first), filling the missing steps
    with padding_value on the right (or on the left with padding_side='left')."""
    if padding_side not in ("left", "right"):
        raise ValueError("Expected padding_side to be one of left or right, but got %s." % padding_side)
    if hasattr(sequences, "dim"):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    rest = tuple(sequences[0].shape[1:])
    for s in sequences:
        if s.dim() == 0 or tuple(s.shape[1:]) != rest:
            raise RuntimeError("pad_sequence: every sequence must have the trailing shape %s, got %s"
                               % (list(rest), list(s.shape)))
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        n = max_len - s.shape[0]
        if n:
            fill = full((n,) + rest, padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of pad_sequence (right padding): a list of [L_i, *] tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:length] for seq, length in zip(padded_sequences, _lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Packs a list of [L_i, *] tensors (in decreasing length order unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The inverse of pack_sequence: the list of [L_i, *] tensors in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
