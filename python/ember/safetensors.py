"""The safetensors format: ``save_file``/``load_file`` (paths) and ``save``/``load`` (bytes), with the API of
``safetensors.torch``.

A file is an 8-byte little-endian header length N, N bytes of JSON header
(``{"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}``,
space-padded to a multiple of 8), then the tensors' little-endian bytes, row-major, back to back. Every entry is
validated like the reference implementation does (known dtype, sizes matching shapes, offsets that tile the data
section exactly) before any tensor memory is allocated. I8/I16/U16 load as int32 and U32 as int64 (Ember has no
such dtypes); other dtypes (F8, complex, U64) are refused clearly.
"""
import io
import json
import os
import struct
from collections import OrderedDict

import numpy as np

from . import _C
from ._tensor import Tensor
from .serialization import (CheckpointError, _atomic_write, _buffer_from, _new_buffer, _Source, _BIG_ENDIAN,
                            _INT64_MAX, _reading, _short, _storage_bytes)

__all__ = ["save_file", "load_file", "save", "load", "SafetensorError"]

MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit


class SafetensorError(CheckpointError):
    """A safetensors file or buffer is malformed, truncated, or uses a dtype Ember cannot hold."""


_TO_CODE = {_C.bool: "BOOL", _C.uint8: "U8", _C.int8: "I8", _C.int16: "I16", _C.int32: "I32", _C.int64: "I64",
            _C.float16: "F16", _C.bfloat16: "BF16", _C.float32: "F32", _C.float64: "F64"}
# code -> (itemsize, Ember dtype, numpy dtype of the file bytes when they must be widened)
_FROM_CODE = {
    "BOOL": (1, _C.bool, None), "U8": (1, _C.uint8, None), "I32": (4, _C.int32, None), "I64": (8, _C.int64, None),
    "F16": (2, _C.float16, None), "BF16": (2, _C.bfloat16, None), "F32": (4, _C.float32, None),
    "F64": (8, _C.float64, None), "I8": (1, _C.int8, None), "I16": (2, _C.int16, None),
    "U16": (2, _C.int32, "<u2"), "U32": (4, _C.int64, "<u4"),
}
_RANK = {c: i for i, c in enumerate(["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
                                     "I64", "U64"])}
_KNOWN_UNSUPPORTED = ("U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", "C128", "E8M0")


def _check_big_endian():
    if _BIG_ENDIAN:
        raise NotImplementedError("safetensors: big-endian hosts are not supported")


# ====================================================================================================== writing


def _flatten(tensors):
    if not isinstance(tensors, dict):
        raise ValueError("Expected a dict of [str, ember.Tensor] but received %s" % type(tensors).__name__)
    invalid = {k for k, v in tensors.items() if not isinstance(v, Tensor)}
    if invalid:
        raise ValueError("Key `%s` is invalid, expected ember.Tensor but received %s"
                         % (sorted(map(str, invalid))[0], type(tensors[next(iter(invalid))]).__name__))
    bad_keys = [k for k in tensors if not isinstance(k, str)]
    if bad_keys:
        raise ValueError("safetensors keys must be strings, got %r" % (bad_keys[0],))
    by_storage = {}
    for name, t in tensors.items():
        if t.numel():
            by_storage.setdefault(_C.storage_id(t), []).append(name)
    shared = [names for names in by_storage.values() if len(names) > 1]
    if shared:
        raise RuntimeError("Some tensors share memory, this will lead to duplicate memory on disk and potential "
                           "differences when loading them again: %s. Clone them (t.clone()) before saving."
                           % shared)
    for name, t in tensors.items():
        if t.dtype not in _TO_CODE:
            raise ValueError("safetensors cannot store dtype %s (tensor %r)" % (t.dtype, name))
        if not t.is_contiguous():
            raise ValueError("You are trying to save a non contiguous tensor: `%s` which is not allowed. It either "
                             "means you are trying to save tensors which are reference of each other in which case "
                             "it's recommended to save only the full tensors, and reslice at load time, or simply "
                             "call `.contiguous()` on your tensor to pack it before saving." % name)
    return tensors


def _plan(tensors, metadata):
    """(header bytes including the 8-byte length, [(name, uint8 data array)])."""
    tensors = _flatten(tensors)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in metadata.items()):
            raise ValueError("metadata must be a dict of str to str")
    # the reference writer orders by its dtype enum (widest first), then by name: files come out byte-identical
    names = sorted(tensors, key=lambda n: (-_RANK[_TO_CODE[tensors[n].dtype]], n))
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks, pos = [], 0
    for name in names:
        t = tensors[name]
        n = t.numel() * t.dtype.itemsize
        data = _storage_bytes(t)[t.storage_offset() * t.dtype.itemsize:][:n] if n else np.empty(0, np.uint8)
        header[name] = {"dtype": _TO_CODE[t.dtype], "shape": list(t._shape), "data_offsets": [pos, pos + n]}
        chunks.append(data)
        pos += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, chunks


def save(tensors, metadata=None):
    """The safetensors bytes of a dict of named tensors (and optional str-to-str metadata)."""
    _check_big_endian()
    head, chunks = _plan(tensors, metadata)
    out = io.BytesIO()
    out.write(head)
    for c in chunks:
        out.write(memoryview(c))
    return out.getvalue()


def save_file(tensors, filename, metadata=None):
    """Writes a dict of named tensors (contiguous, not sharing memory) to a safetensors file, atomically.

    Args:
        tensors (dict): name -> ember.Tensor.
        filename (str or os.PathLike): destination path.
        metadata (dict, optional): str -> str, stored in the header's ``__metadata__``.
    """
    _check_big_endian()
    head, chunks = _plan(tensors, metadata)

    def write(fh):
        fh.write(head)
        for c in chunks:
            fh.write(memoryview(c))
    _atomic_write(filename, write)


# ====================================================================================================== reading


def _parse_header(src):
    """Validated [(name, itemsize, Ember dtype, widen-from numpy dtype, shape, begin, end)] and the metadata."""
    if src.size < 8:
        raise SafetensorError("safetensors: file of %d bytes is too small to hold a header" % src.size)
    (n,) = struct.unpack("<Q", src.read_exact(8, "the header length"))
    if n > MAX_HEADER_BYTES:
        raise SafetensorError("safetensors: header length %d exceeds the %d-byte limit" % (n, MAX_HEADER_BYTES))
    if 8 + n > src.size:
        raise SafetensorError("safetensors: truncated file: header of %d bytes, but only %d bytes follow the length"
                              % (n, src.size - 8))
    raw = src.read_exact(n, "the header")

    def no_duplicates(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise SafetensorError("safetensors: duplicate key %r in the header" % (k,))
            d[k] = v
        return d
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError) as e:
        raise SafetensorError("safetensors: invalid header (%s)" % e) from None
    if not isinstance(header, dict):
        raise SafetensorError("safetensors: the header must be a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict)
                                 or not all(isinstance(v, str) for v in metadata.values())):
        raise SafetensorError("safetensors: __metadata__ must map strings to strings")
    data_len = src.size - 8 - n
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorError("safetensors: entry %r must have exactly dtype, shape and data_offsets" % name)
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if type(code) is not str or code not in _FROM_CODE:
            if code in _KNOWN_UNSUPPORTED:
                raise SafetensorError("safetensors: tensor %r has dtype %s, which Ember does not support"
                                      % (name, code))
            raise SafetensorError("safetensors: tensor %r has unknown dtype %s" % (name, _short(code)))
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(type(s) is int and 0 <= s <= _INT64_MAX for s in shape)):
            raise SafetensorError("safetensors: tensor %r has an invalid shape %s" % (name, _short(shape)))
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
                or not 0 <= offsets[0] <= offsets[1]):
            raise SafetensorError("safetensors: tensor %r has invalid data_offsets %s" % (name, _short(offsets)))
        itemsize, dtype, widen_from = _FROM_CODE[code]
        numel = 1
        for s in shape:
            numel *= s
        # the row-major strides (products of trailing sizes) must fit in int64 too, as for an empty [0, 2**62, 4]
        acc = 1
        for s in reversed(shape[1:]):
            acc *= s
            if acc > _INT64_MAX:
                raise SafetensorError("safetensors: tensor %r has shape %s, whose strides overflow int64"
                                      % (name, shape))
        if numel * itemsize != offsets[1] - offsets[0]:
            raise SafetensorError("safetensors: tensor %r of shape %s and dtype %s needs %d bytes, but its "
                                  "data_offsets span %d" % (name, shape, code, numel * itemsize,
                                                            offsets[1] - offsets[0]))
        if offsets[1] > data_len:
            raise SafetensorError("safetensors: tensor %r ends at byte %d of a %d-byte data section (truncated or "
                                  "corrupt file)" % (name, offsets[1], data_len))
        entries.append((name, itemsize, dtype, widen_from, tuple(shape), offsets[0], offsets[1]))
    # like the reference implementation: the tensors tile the data section exactly, without gaps or overlap
    pos = 0
    for e in sorted(entries, key=lambda e: (e[5], e[6])):
        if e[5] != pos:
            raise SafetensorError("safetensors: tensor %r starts at byte %d, expected %d (overlapping or gapped "
                                  "offsets)" % (e[0], e[5], pos))
        pos = e[6]
    if pos != data_len:
        raise SafetensorError("safetensors: the tensors cover %d bytes but the data section has %d" % (pos, data_len))
    return entries, metadata, 8 + n


def _load_stream(src):
    _check_big_endian()
    entries, _metadata, data_start = _parse_header(src)
    out = {}
    for name, itemsize, dtype, widen_from, shape, begin, end in sorted(entries, key=lambda e: e[5]):
        src.fh.seek(data_start + begin)
        buf, view = _new_buffer(end - begin)
        src.read_into(view, "tensor %r" % name)
        if widen_from is not None:
            buf = _buffer_from(np.frombuffer(view, dtype=widen_from).astype(dtype._name).view(np.uint8))
        strides, acc = [], 1
        for s in reversed(shape):
            strides.append(acc)
            acc *= s
        out[name] = _C._storage_view(buf, dtype, shape, tuple(reversed(strides)), 0)
    # keep the file's order of names
    return {e[0]: out[e[0]] for e in entries}


def load_file(filename, device="cpu"):
    """Loads a safetensors file into a dict of ember tensors (names as in the file).

    Args:
        filename (str or os.PathLike): the file.
        device: where tensors go; only "cpu" exists in this build.
    """
    from ._device import _check_device
    _check_device(device)
    src = _Source(os.fspath(filename))
    try:
        return _reading("safetensors file", _load_stream, src, error=SafetensorError)
    finally:
        src.close()


def load(data):
    """Loads safetensors bytes (as produced by ``save``) into a dict of ember tensors."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("safetensors.load expects bytes, got %s" % type(data).__name__)
    return _reading("safetensors data", _load_stream, _Source(io.BytesIO(bytes(data))), error=SafetensorError)
