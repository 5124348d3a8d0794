"""``ember.save`` / ``ember.load``: checkpoints that never execute code from a file.

``ember.load`` reads three formats, recognised by their first bytes:

* **Ember checkpoints** (what ``ember.save`` writes), described below;
* **safetensors** files (see ``ember.safetensors``);
* **PyTorch** ``.pt``/``.pth`` files written by ``torch.save`` (a zip archive holding ``data.pkl`` and one raw
  record per storage). The pickle is read by a restricted unpickler that resolves only the functions that
  rebuild tensors, storage types, dtypes, ``torch.Size``/``torch.device`` and plain containers, each mapped to
  Ember code; any other global (``os.system``, a model class, ...) is refused with :class:`UnsafeCheckpointError`.

Ember checkpoint format, version 1 (integers little-endian)::

    offset 0    magic            8 bytes   b"\\x89EMB\\r\\n\\x1a\\n"
    offset 8    version          u32       1
    offset 12   header_crc32     u32       zlib.crc32 of the header bytes
    offset 16   header_length    u64       at most 256 MiB
    offset 24   data_length      u64
    offset 32   header           UTF-8 JSON, header_length bytes
                zero padding to a multiple of 64
    data_start  data             data_length bytes; the file ends exactly here

The header is ``{"storages": [...], "tensors": [...], "object": node}``. A storage is
``{"offset", "nbytes", "crc32"}`` (offset relative to data_start, 64-byte aligned): the raw little-endian bytes of
one storage, written once however many saved tensors view it. A tensor is ``{"storage", "dtype", "shape",
"stride", "offset", "requires_grad", "parameter"}`` (offset and strides in elements), so views and non-contiguous
tensors come back as views of one shared storage. A node is JSON null/true/false/number/string, or a tagged
array: ``["list", [...]]``, ``["tuple", [...]]``, ``["dict" | "odict" | "counter", [[key, value], ...]]``,
``["tensor", index]``, ``["float", "nan" | "inf" | "-inf"]``, ``["bytes", base64]``, ``["dtype", name]``,
``["size", [...]]``, ``["device", str]``. Every size, offset and checksum is validated before it is used, so a
truncated, corrupted or hostile file raises :class:`CheckpointError` instead of crashing or allocating memory
the file does not contain.

``ember.save`` to a path writes a temporary file in the same directory, flushes and fsyncs it, then renames it
over the target: an interrupted save leaves the previous checkpoint intact.
"""
import base64
import io
import json
import math
import os
import pickle
import stat
import struct
import sys
import tempfile
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np

from . import _C
from ._device import _check_device, device as _device
from ._tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError", "UnsafeCheckpointError"]


class CheckpointError(RuntimeError):
    """A file is not a checkpoint Ember can read: truncated, corrupted, of an unknown format, or malformed."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A PyTorch checkpoint asked for something other than tensors and plain data (e.g. a function call)."""


MAGIC = b"\x89EMB\r\n\x1a\n"
VERSION = 1
_FIXED = struct.Struct("<8sIIQQ")  # magic, version, header crc32, header length, data length
_ALIGN = 64
MAX_HEADER_BYTES = 256 << 20
_MAX_DEPTH = 256  # container nesting; far beyond any state dict, well within Python's recursion limit
_READ_CHUNK = 64 << 20

_DTYPES = {d._name: d for d in (_C.float32, _C.float64, _C.float16, _C.bfloat16, _C.int64, _C.int32, _C.uint8,
                                _C.bool)}
_BIG_ENDIAN = sys.byteorder == "big"


def _align(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _storage_bytes(t):
    """A uint8 numpy view of the whole storage t lives in (no copy)."""
    n = _C.storage_nbytes(t)
    return _C.to_numpy(_C._storage_view(t, _C.uint8, (n,), (1,), 0))


def _swap_bytes(u8, itemsize):
    """u8 (a uint8 array of whole elements) with the byte order of each element reversed."""
    if itemsize == 1:
        return u8
    return np.ascontiguousarray(u8.reshape(-1, itemsize)[:, ::-1]).reshape(-1)


def _new_buffer(nbytes):
    """A fresh 64-byte-aligned uint8 tensor of nbytes and a writable numpy view of it."""
    buf = _C.empty((nbytes,), _C.uint8)
    return buf, _C.to_numpy(buf)


def _buffer_from(u8):
    """An aligned uint8 tensor holding a copy of the uint8 array u8."""
    buf, view = _new_buffer(u8.size)
    view[:] = u8
    return buf


def _param_class():
    """ember.nn.Parameter when ember.nn exists (it is optional), else None."""
    try:
        from .nn import Parameter
    except ImportError:
        return None
    return Parameter


def _finish_tensor(t, requires_grad, parameter):
    if parameter:
        cls = _param_class()
        if cls is not None:
            return cls(t, requires_grad)
    if requires_grad:
        t.requires_grad = True
    return t


# ====================================================================================================== saving


class _Encoder:
    """Turns an object tree into the JSON header node plus the list of storages to write."""

    def __init__(self):
        self.storages = []      # uint8 numpy views of the storages, in file order
        self.storage_index = {}  # storage id -> index
        self.keep = []          # tensors whose storages are referenced (keeps storage ids valid)
        self.tensors = []
        self.tensor_index = {}  # id(tensor) -> index
        self.active = set()     # ids of containers being encoded (cycle detection)

    def tensor(self, t):
        idx = self.tensor_index.get(id(t))
        if idx is not None:
            return idx
        sid = _C.storage_id(t)
        s = self.storage_index.get(sid)
        if s is None:
            s = self.storage_index[sid] = len(self.storages)
            self.storages.append(_storage_bytes(t))
        self.keep.append(t)
        idx = self.tensor_index[id(t)] = len(self.tensors)
        self.tensors.append({"storage": s, "dtype": t.dtype._name, "shape": list(t._shape),
                             "stride": list(t.stride()), "offset": t.storage_offset(),
                             "requires_grad": bool(t.requires_grad),
                             "parameter": bool(getattr(type(t), "_is_param", False))})
        return idx

    def node(self, obj, depth=0):
        if depth > _MAX_DEPTH:
            raise ValueError("ember.save: object is nested more than %d levels deep" % _MAX_DEPTH)
        if obj is None or obj is True or obj is False or type(obj) is str:
            return obj
        if isinstance(obj, Tensor):
            return ["tensor", self.tensor(obj)]
        if isinstance(obj, bool) or isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (float, np.floating)):
            v = float(obj)
            if math.isfinite(v):
                return v
            return ["float", "nan" if v != v else ("inf" if v > 0 else "-inf")]
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, (bytes, bytearray)):
            return ["bytes", base64.b64encode(bytes(obj)).decode("ascii")]
        if isinstance(obj, _C.dtype):
            return ["dtype", obj._name]
        if isinstance(obj, _device):
            return ["device", str(obj)]
        if type(obj) is Size:
            return ["size", [int(s) for s in obj]]
        kind = {list: "list", tuple: "tuple", dict: "dict", OrderedDict: "odict", Counter: "counter"}.get(type(obj))
        if kind is None:
            hint = ""
            if hasattr(obj, "state_dict") and callable(obj.state_dict):
                hint = "; save obj.state_dict() instead and load it with load_state_dict()"
            raise TypeError("ember.save can't store objects of type %s: checkpoints hold tensors, numbers, strings, "
                            "bytes, None, dtypes, devices and lists/tuples/dicts of them (Ember never pickles "
                            "arbitrary objects)%s" % (type(obj).__qualname__, hint))
        if id(obj) in self.active:
            raise ValueError("ember.save: the object contains a reference cycle")
        self.active.add(id(obj))
        try:
            if kind in ("list", "tuple"):
                return [kind, [self.node(v, depth + 1) for v in obj]]
            return [kind, [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in obj.items()]]
        finally:
            self.active.discard(id(obj))


def _encode(obj):
    """(fixed header + JSON header + padding as bytes, [(padding before, uint8 storage array)], data length)."""
    enc = _Encoder()
    root = enc.node(obj)
    storages, chunks, pos = [], [], 0
    for arr in enc.storages:
        start = _align(pos)
        storages.append({"offset": start, "nbytes": int(arr.size), "crc32": zlib.crc32(arr)})
        chunks.append((start - pos, arr))
        pos = start + arr.size
    header = json.dumps({"storages": storages, "tensors": enc.tensors, "object": root},
                        separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError("ember.save: the checkpoint header would be %d bytes (more than %d): too many objects"
                         % (len(header), MAX_HEADER_BYTES))
    head = _FIXED.pack(MAGIC, VERSION, zlib.crc32(header), len(header), pos) + header
    head += b"\0" * (_align(len(head)) - len(head))
    return head, chunks, enc.keep


def _write_payload(fh, head, chunks):
    fh.write(head)
    for pad, arr in chunks:
        if pad:
            fh.write(b"\0" * pad)
        fh.write(memoryview(arr))


def _default_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, write):
    """Writes a file through a temporary in the same directory, fsynced, then renamed over path."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _is_path(f):
    return isinstance(f, (str, bytes, os.PathLike))


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Saves obj (tensors, numbers, strings, bytes, None and nested lists/tuples/dicts of them, such as model
    and optimizer state dicts) to f.

    Args:
        obj: the object to save.
        f: a path (str or os.PathLike; written atomically: a temporary file is flushed, fsynced and renamed over
            it, so an interrupted save leaves the previous file intact) or a writable binary file object.

    Tensors keep their dtype, shape, strides and requires_grad; tensors that share a storage are saved once and
    load as views of one storage. The remaining arguments exist for compatibility with ``torch.save`` and are
    ignored: Ember never pickles.
    """
    if _BIG_ENDIAN:
        raise NotImplementedError("ember.save: big-endian hosts are not supported (checkpoints are little-endian)")
    head, chunks, keep = _encode(obj)
    if _is_path(f):
        _atomic_write(f, lambda fh: _write_payload(fh, head, chunks))
    else:
        if not hasattr(f, "write"):
            raise TypeError("ember.save: f must be a path or a writable binary file object, got %s"
                            % type(f).__name__)
        _write_payload(f, head, chunks)
        if hasattr(f, "flush"):
            f.flush()
    del keep


# ====================================================================================================== loading


class _Source:
    """A seekable binary stream with a known size (paths, files, BytesIO; others are read into memory)."""

    def __init__(self, f):
        self.owned = None
        if _is_path(f):
            fh = self.owned = open(f, "rb")
        else:
            if not hasattr(f, "read"):
                raise TypeError("ember.load: f must be a path or a readable binary file object, got %s"
                                % type(f).__name__)
            fh = f
        seekable = False
        try:
            seekable = fh.seekable()
        except (AttributeError, OSError, ValueError):
            pass
        if seekable:
            start = fh.tell()
            end = fh.seek(0, io.SEEK_END)
            fh.seek(start)
            if start != 0:
                # zip readers expect the archive to start at offset 0
                fh = io.BytesIO(fh.read())
                start, end = 0, len(fh.getvalue())
        else:
            data = fh.read()
            if not isinstance(data, (bytes, bytearray)):
                raise TypeError("ember.load: the file object must be opened in binary mode")
            fh = io.BytesIO(data)
            start, end = 0, len(data)
        self.fh, self.size = fh, end - start

    def close(self):
        if self.owned is not None:
            self.owned.close()

    def read_exact(self, n, what):
        data = self.fh.read(n)
        if len(data) != n:
            raise CheckpointError("truncated file: %s needs %d bytes, only %d left" % (what, n, len(data)))
        return data

    def read_into(self, view, what):
        """Fills the writable numpy uint8 array view from the stream."""
        mv = memoryview(view).cast("B")
        got = 0
        while got < len(mv):
            n = self.fh.readinto(mv[got:got + _READ_CHUNK])
            if not n:
                raise CheckpointError("truncated file: %s needs %d bytes, only %d left" % (what, len(mv), got))
            got += n


def _check_int(v, what, lo=0, hi=None):
    if type(v) is not int or v < lo or (hi is not None and v > hi):
        raise CheckpointError("corrupt header: %s must be an integer in [%d, %s], got %r"
                              % (what, lo, "inf" if hi is None else hi, v))
    return v


def _check_int_list(v, what):
    if type(v) is not list or len(v) > 64:
        raise CheckpointError("corrupt header: %s must be a list of at most 64 integers, got %r" % (what, v))
    return tuple(_check_int(x, what) for x in v)


def _load_ember(src, map_location):
    if _BIG_ENDIAN:
        raise NotImplementedError("ember.load: big-endian hosts are not supported (checkpoints are little-endian)")
    fixed = src.read_exact(_FIXED.size, "the fixed header")
    magic, version, header_crc, header_len, data_len = _FIXED.unpack(fixed)
    if version != VERSION:
        raise CheckpointError("unsupported Ember checkpoint version %d (this Ember reads version %d)"
                              % (version, VERSION))
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError("corrupt checkpoint: header length %d exceeds the %d-byte limit"
                              % (header_len, MAX_HEADER_BYTES))
    data_start = _align(_FIXED.size + header_len)
    if data_start + data_len != src.size:
        raise CheckpointError("%s checkpoint: the header describes %d bytes but the file has %d"
                              % ("truncated" if data_start + data_len > src.size else "corrupt",
                                 data_start + data_len, src.size))
    raw = src.read_exact(header_len, "the header")
    if zlib.crc32(raw) != header_crc:
        raise CheckpointError("corrupt checkpoint: header checksum mismatch")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise CheckpointError("corrupt checkpoint: unreadable header (%s)" % e) from None
    if type(header) is not dict or not {"storages", "tensors", "object"} <= header.keys():
        raise CheckpointError("corrupt checkpoint: the header lacks storages/tensors/object")
    if type(header["storages"]) is not list or type(header["tensors"]) is not list:
        raise CheckpointError("corrupt checkpoint: storages and tensors must be lists")

    # storages: validate every extent first, then read them in file order
    specs = []
    for i, s in enumerate(header["storages"]):
        if type(s) is not dict:
            raise CheckpointError("corrupt header: storage %d is not an object" % i)
        off = _check_int(s.get("offset"), "storage %d offset" % i)
        n = _check_int(s.get("nbytes"), "storage %d nbytes" % i)
        crc = _check_int(s.get("crc32"), "storage %d crc32" % i, 0, 0xFFFFFFFF)
        if off + n > data_len:
            raise CheckpointError("corrupt checkpoint: storage %d (offset %d, %d bytes) lies outside the %d-byte "
                                  "data section" % (i, off, n, data_len))
        specs.append((off, n, crc, i))
    buffers = [None] * len(specs)
    for off, n, crc, i in sorted(specs):
        src.fh.seek(data_start + off)
        buf, view = _new_buffer(n)
        src.read_into(view, "storage %d" % i)
        if zlib.crc32(view) != crc:
            raise CheckpointError("corrupt checkpoint: checksum mismatch in storage %d" % i)
        buffers[i] = buf

    tensors = []
    for i, t in enumerate(header["tensors"]):
        if type(t) is not dict:
            raise CheckpointError("corrupt header: tensor %d is not an object" % i)
        s = _check_int(t.get("storage"), "tensor %d storage" % i, 0, len(buffers) - 1)
        dtype = _DTYPES.get(t.get("dtype")) if type(t.get("dtype")) is str else None
        if dtype is None:
            raise CheckpointError("corrupt header: tensor %d has unknown dtype %r" % (i, t.get("dtype")))
        shape = _check_int_list(t.get("shape"), "tensor %d shape" % i)
        stride = _check_int_list(t.get("stride"), "tensor %d stride" % i)
        offset = _check_int(t.get("offset"), "tensor %d offset" % i)
        requires_grad, parameter = t.get("requires_grad", False), t.get("parameter", False)
        if type(requires_grad) is not bool or type(parameter) is not bool:
            raise CheckpointError("corrupt header: tensor %d flags must be booleans" % i)
        if requires_grad and not dtype.is_floating_point:
            raise CheckpointError("corrupt header: tensor %d of dtype %s cannot require grad" % (i, dtype._name))
        try:
            view = _C._storage_view(buffers[s], dtype, shape, stride, offset)
        except (ValueError, RuntimeError, MemoryError) as e:
            raise CheckpointError("corrupt checkpoint: tensor %d: %s" % (i, e)) from None
        tensors.append(_finish_tensor(view, requires_grad, parameter))
    return _decode(header["object"], tensors, 0)


def _decode(node, tensors, depth):
    if depth > _MAX_DEPTH:
        raise CheckpointError("corrupt checkpoint: object nested more than %d levels deep" % _MAX_DEPTH)
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is not list or len(node) != 2 or type(node[0]) is not str:
        raise CheckpointError("corrupt checkpoint: malformed object node %r" % (node,)[:200])
    tag, payload = node
    if tag in ("list", "tuple"):
        if type(payload) is not list:
            raise CheckpointError("corrupt checkpoint: %s payload must be an array" % tag)
        items = [_decode(v, tensors, depth + 1) for v in payload]
        return items if tag == "list" else tuple(items)
    if tag in ("dict", "odict", "counter"):
        if type(payload) is not list or not all(type(kv) is list and len(kv) == 2 for kv in payload):
            raise CheckpointError("corrupt checkpoint: %s payload must be an array of pairs" % tag)
        out = {"dict": dict, "odict": OrderedDict, "counter": Counter}[tag]()
        for k, v in payload:
            key = _decode(k, tensors, depth + 1)
            try:
                out[key] = _decode(v, tensors, depth + 1)
            except TypeError:
                raise CheckpointError("corrupt checkpoint: unhashable dict key %r" % (key,)) from None
        return out
    if tag == "tensor":
        if type(payload) is not int or not 0 <= payload < len(tensors):
            raise CheckpointError("corrupt checkpoint: tensor reference %r out of range" % (payload,))
        return tensors[payload]
    if tag == "float":
        values = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
        if payload not in values:
            raise CheckpointError("corrupt checkpoint: bad float %r" % (payload,))
        return values[payload]
    if tag == "bytes":
        try:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        except (ValueError, AttributeError, TypeError):
            raise CheckpointError("corrupt checkpoint: bad bytes payload") from None
    if tag == "dtype":
        if payload not in _DTYPES:
            raise CheckpointError("corrupt checkpoint: unknown dtype %r" % (payload,))
        return _DTYPES[payload]
    if tag == "size":
        return Size(_check_int_list(payload, "size"))
    if tag == "device":
        try:
            return _device(payload)
        except (RuntimeError, TypeError):
            raise CheckpointError("corrupt checkpoint: bad device %r" % (payload,)) from None
    raise CheckpointError("corrupt checkpoint: unknown object tag %r" % (tag,))


def _check_map_location(map_location):
    """Ember tensors live on the CPU: every location must map there (anything else errors clearly)."""
    if map_location is None:
        return
    if callable(map_location) and not isinstance(map_location, (str, _device)):
        raise TypeError("ember.load: callable map_location is not supported (tensors always load onto the CPU)")
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for t in targets:
        _check_device(t)


def _detect(head, size):
    if head.startswith(MAGIC):
        return "ember"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":
        n = struct.unpack("<Q", head[:8])[0]
        if n + 8 <= size or n > size:  # oversized safetensors headers get their own error
            return "safetensors"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "legacy"
    return None


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Loads an object saved by ``ember.save``, a safetensors file, or a PyTorch ``torch.save`` checkpoint.

    Args:
        f: a path (str or os.PathLike) or a readable binary file object.
        map_location: None, 'cpu', an ember.device or a dict of locations; Ember tensors always load onto the
            CPU (a CUDA target raises the usual "built without CUDA" error).

    Nothing in the file is executed: PyTorch pickles go through an allowlist of tensor-rebuilding functions and
    plain containers. ``pickle_module``, ``weights_only`` and ``mmap`` are accepted for compatibility with
    ``torch.load`` (loading is always weights-only). Bad files raise :class:`CheckpointError`.
    """
    _check_map_location(map_location)
    src = _Source(f)
    try:
        if src.size == 0:
            raise CheckpointError("ember.load: the file is empty")
        head = src.fh.read(16)
        src.fh.seek(0)
        kind = _detect(head, src.size)
        if kind == "ember":
            return _load_ember(src, map_location)
        if kind == "safetensors":
            from .safetensors import _load_stream
            return _load_stream(src)
        if kind == "torch":
            return _load_torch(src)
        if kind == "legacy":
            raise CheckpointError("this is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which Ember does not "
                                  "read; re-save it with a current PyTorch (torch.save writes zip archives)")
        raise CheckpointError("not a checkpoint Ember can read: unrecognised leading bytes %r (expected an Ember "
                              "checkpoint, a safetensors file or a PyTorch .pt/.pth zip archive)" % head[:8])
    finally:
        src.close()


# ====================================================================================================== PyTorch


class _TorchStorageType:
    """Stands in for torch.FloatStorage & co. (element = the dtype of its elements) or torch.UntypedStorage."""

    def __init__(self, name, element):
        self.name, self.element = name, element

    def __repr__(self):
        return "torch." + self.name


class _TorchDtype:
    """A torch dtype with no Ember equivalent (int8, float8, complex, ...), resolved when a tensor uses it."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


class _TorchClass:
    """torch.Tensor / torch.nn.Parameter as the new_type argument of _rebuild_from_type_v2 (never called)."""

    def __init__(self, name, parameter):
        self.name, self.parameter = name, parameter

    def __repr__(self):
        return self.name


# element name -> (numpy dtype of the little-endian bytes in the file, or None for bfloat16; itemsize; Ember
# dtype). int8/int16/uint16/uint32 widen, as ember.from_numpy does: Ember has no such dtypes.
_ELEMENTS = {
    "float32": ("<f4", 4, _C.float32), "float64": ("<f8", 8, _C.float64), "float16": ("<f2", 2, _C.float16),
    "bfloat16": (None, 2, _C.bfloat16), "int64": ("<i8", 8, _C.int64), "int32": ("<i4", 4, _C.int32),
    "uint8": ("|u1", 1, _C.uint8), "bool": ("|b1", 1, _C.bool), "int16": ("<i2", 2, _C.int32),
    "int8": ("|i1", 1, _C.int32), "uint16": ("<u2", 2, _C.int32), "uint32": ("<u4", 4, _C.int64),
}
_STORAGE_ELEMENTS = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool",
}
_UNSUPPORTED_STORAGES = ("ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage",
                         "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")
_TORCH_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
                        "short": "int16"}
_OTHER_DTYPES = ("uint64", "complex64", "complex128", "cfloat", "cdouble", "complex32", "chalf", "float8_e4m3fn",
                 "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "qint8", "quint8", "qint32",
                 "int1", "int2", "int4", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "bits8",
                 "bits16", "float4_e2m1fn_x2")

# The deflate format cannot expand more than ~1032:1; larger claims are refused before allocating.
_MAX_DEFLATE_RATIO = 1100


class _TorchArchive:
    """The records of a torch.save zip archive, with storages loaded once per key."""

    def __init__(self, src):
        try:
            self.zf = zipfile.ZipFile(src.fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as e:
            raise CheckpointError("corrupt PyTorch checkpoint: not a readable zip archive (%s)" % e) from None
        names = self.zf.namelist()
        pkls = [n for n in names if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1)]
        if len(pkls) != 1:
            raise CheckpointError("not a PyTorch checkpoint: expected one data.pkl record in the zip archive, found "
                                  "%d" % len(pkls))
        self.prefix = pkls[0][:-len("data.pkl")]
        if self.prefix + "constants.pkl" in names or any(n.startswith(self.prefix + "code/") for n in names):
            raise CheckpointError("this is a TorchScript archive (torch.jit.save), not a checkpoint: Ember cannot "
                                  "run TorchScript code")
        self.big_endian = False
        if self.prefix + "byteorder" in names:
            order = self.record("byteorder", 16)
            if order not in (b"little", b"big"):
                raise CheckpointError("corrupt PyTorch checkpoint: byteorder record is %r" % order[:16])
            self.big_endian = order == b"big"
        self.storages = {}

    def info(self, name):
        try:
            return self.zf.getinfo(self.prefix + name)
        except KeyError:
            raise CheckpointError("corrupt PyTorch checkpoint: missing record %r" % (self.prefix + name)) from None

    def _check_size(self, info, nbytes):
        if info.file_size != nbytes:
            raise CheckpointError("corrupt PyTorch checkpoint: record %r holds %d bytes, expected %d"
                                  % (info.filename, info.file_size, nbytes))
        if info.compress_type == zipfile.ZIP_STORED:
            ok = info.compress_size == info.file_size
        else:
            ok = info.file_size <= _MAX_DEFLATE_RATIO * max(info.compress_size, 1)
        if not ok:
            raise CheckpointError("corrupt PyTorch checkpoint: record %r claims %d bytes from %d stored bytes"
                                  % (info.filename, info.file_size, info.compress_size))

    def record(self, name, limit):
        """A small record's bytes (at most limit)."""
        info = self.info(name)
        if info.file_size > limit:
            raise CheckpointError("corrupt PyTorch checkpoint: record %r is %d bytes (more than %d)"
                                  % (info.filename, info.file_size, limit))
        self._check_size(info, info.file_size)
        return self._read(info)

    def _read(self, info, into=None):
        try:
            with self.zf.open(info) as fh:
                if into is None:
                    data = fh.read(info.file_size + 1)
                    if len(data) != info.file_size:
                        raise CheckpointError("corrupt PyTorch checkpoint: record %r is truncated" % info.filename)
                    return data
                mv, got = memoryview(into).cast("B"), 0
                while got < len(mv):
                    n = fh.readinto(mv[got:got + _READ_CHUNK])
                    if not n:
                        raise CheckpointError("corrupt PyTorch checkpoint: record %r is truncated" % info.filename)
                    got += n
                fh.read(1)  # reaching the end makes zipfile verify the CRC
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError, NotImplementedError) as e:
            raise CheckpointError("corrupt PyTorch checkpoint: record %r: %s" % (info.filename, e)) from None
        return into

    def storage(self, storage_type, key, numel):
        """Storage `key`: its raw bytes as an aligned uint8 ember tensor, read once."""
        cached = self.storages.get(key)
        if cached is not None:
            if cached.type is not storage_type:
                raise CheckpointError("corrupt PyTorch checkpoint: storage %r is used with two types" % key)
            return cached
        itemsize = 1 if storage_type.element is None else _ELEMENTS[storage_type.element][1]
        info = self.info("data/" + key)
        self._check_size(info, numel * itemsize)
        buf, view = _new_buffer(numel * itemsize)
        self._read(info, view)
        cached = self.storages[key] = _Storage(storage_type, buf)
        return cached


class _Storage:
    """What persistent_load hands to the rebuild functions: a storage's bytes, its type, and its contents
    converted to Ember dtypes (byte-swapped or widened) when a tensor needs that."""

    __slots__ = ("type", "buf", "nbytes", "converted")

    def __init__(self, storage_type, buf):
        self.type, self.buf, self.nbytes, self.converted = storage_type, buf, _C.storage_nbytes(buf), {}

    def elements(self, element, big_endian):
        """A buffer holding this storage's elements as the Ember dtype for `element`."""
        np_src, itemsize, target = _ELEMENTS[element]
        swap, widen = big_endian and itemsize > 1, target.itemsize != itemsize
        if not swap and not widen:
            return self.buf
        out = self.converted.get(element)
        if out is None:
            raw = _C.to_numpy(self.buf)
            raw = raw[:raw.size // itemsize * itemsize]
            if swap:
                raw = _swap_bytes(raw, itemsize)
            if widen:
                raw = np.frombuffer(raw, dtype=np_src).astype(target._name).view(np.uint8)
            out = self.converted[element] = _buffer_from(raw)
        return out


def _int_tuple(v, what):
    if not isinstance(v, tuple) or len(v) > 64 or not all(type(x) is int for x in v):
        raise CheckpointError("corrupt PyTorch checkpoint: %s must be a tuple of ints, got %r" % (what, v)[:300])
    return v


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles data.pkl resolving only an allowlist of globals, each mapped to Ember code."""

    def __init__(self, file, archive):
        super().__init__(file)
        self.archive = archive
        self.rebuilders = (self._rebuild_tensor, self._rebuild_tensor_v2, self._rebuild_tensor_v3,
                           self._rebuild_parameter, self._rebuild_parameter_with_state)
        allowed = {
            ("torch._utils", "_rebuild_tensor"): self.rebuilders[0],
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuilders[1],
            ("torch._utils", "_rebuild_tensor_v3"): self.rebuilders[2],
            ("torch._utils", "_rebuild_parameter"): self.rebuilders[3],
            ("torch._utils", "_rebuild_parameter_with_state"): self.rebuilders[4],
            ("torch._tensor", "_rebuild_from_type_v2"): self._rebuild_from_type_v2,
            ("collections", "OrderedDict"): OrderedDict,
            ("collections", "Counter"): Counter,
            ("torch", "Size"): _make_size,
            ("torch", "device"): _make_device,
            ("_codecs", "encode"): _codecs_encode,
            ("builtins", "set"): _make_set,
            ("builtins", "frozenset"): _make_frozenset,
            ("torch", "Tensor"): _TorchClass("torch.Tensor", False),
            ("torch.nn.parameter", "Parameter"): _TorchClass("torch.nn.Parameter", True),
            ("torch.storage", "UntypedStorage"): _TorchStorageType("UntypedStorage", None),
            ("torch", "UntypedStorage"): _TorchStorageType("UntypedStorage", None),
        }
        for name, element in _STORAGE_ELEMENTS.items():
            allowed[("torch", name)] = _TorchStorageType(name, element)
        for name in list(_ELEMENTS) + list(_TORCH_DTYPE_ALIASES) + list(_OTHER_DTYPES):
            element = _TORCH_DTYPE_ALIASES.get(name, name)
            dt = _ELEMENTS.get(element, (None, 0, None))[2]
            # dtypes Ember has load as Ember dtypes; the others stay markers a tensor can still use
            allowed[("torch", name)] = dt if dt is not None and dt._name == element else _TorchDtype(element)
        self.allowed = allowed

    def find_class(self, module, name):
        found = self.allowed.get((module, name))
        if found is None:
            if module == "torch" and name in _UNSUPPORTED_STORAGES:
                raise CheckpointError("PyTorch checkpoint holds a torch.%s, which Ember does not support" % name)
            raise UnsafeCheckpointError(
                "refusing to load %s.%s from a PyTorch checkpoint: only tensors and plain containers (dict, list, "
                "tuple, OrderedDict, numbers, strings) are allowed, and Ember never runs code from a file. Save "
                "the model's state_dict() rather than the model object." % (module, name))
        return found

    def persistent_load(self, pid):
        if (type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _TorchStorageType) or type(pid[2]) is not str
                or type(pid[3]) is not str or type(pid[4]) is not int or pid[4] < 0):
            raise CheckpointError("corrupt PyTorch checkpoint: unexpected persistent id %r" % (pid,)[:200])
        return self.archive.storage(pid[1], pid[2], pid[4])

    # ---------------------------------------------------------------------------------------------- rebuilders
    def _view(self, storage, offset, size, stride, dtype=None):
        if not isinstance(storage, _Storage):
            raise CheckpointError("corrupt PyTorch checkpoint: tensor rebuilt from %s, not a storage"
                                  % type(storage).__name__)
        if type(offset) is not int or offset < 0:
            raise CheckpointError("corrupt PyTorch checkpoint: bad storage offset %r" % (offset,))
        size, stride = _int_tuple(tuple(size) if isinstance(size, Size) else size, "size"), _int_tuple(stride,
                                                                                                        "stride")
        element = storage.type.element
        if dtype is None and element is None:
            raise CheckpointError("corrupt PyTorch checkpoint: untyped storage without a dtype")
        if dtype is not None:
            if element is not None:
                raise CheckpointError("corrupt PyTorch checkpoint: typed storage with an explicit dtype")
            element = dtype._name if isinstance(dtype, _C.dtype) else (
                dtype.name if isinstance(dtype, _TorchDtype) else None)
            if element not in _ELEMENTS:
                raise CheckpointError("PyTorch checkpoint holds a tensor of dtype %r, which Ember does not support"
                                      % (dtype,))
        buf = storage.elements(element, self.archive.big_endian)
        try:
            return _C._storage_view(buf, _ELEMENTS[element][2], size, stride, offset)
        except (ValueError, RuntimeError, MemoryError) as e:
            raise CheckpointError("corrupt PyTorch checkpoint: %s" % e) from None

    @staticmethod
    def _check_hooks(backward_hooks):
        if backward_hooks is not None and (not isinstance(backward_hooks, dict) or len(backward_hooks)):
            raise CheckpointError("PyTorch checkpoint holds a tensor with backward hooks, which Ember does not load")

    @staticmethod
    def _set_requires_grad(t, requires_grad):
        if type(requires_grad) is not bool:
            raise CheckpointError("corrupt PyTorch checkpoint: requires_grad must be a bool")
        if requires_grad:
            if not t.dtype.is_floating_point:
                raise CheckpointError("corrupt PyTorch checkpoint: an integer tensor requires grad")
            t.requires_grad = True
        return t

    def _rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._view(storage, storage_offset, size, stride)

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                           metadata=None):
        self._check_hooks(backward_hooks)
        return self._set_requires_grad(self._view(storage, storage_offset, size, stride), requires_grad)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                           metadata=None):
        self._check_hooks(backward_hooks)
        return self._set_requires_grad(self._view(storage, storage_offset, size, stride, dtype), requires_grad)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        self._check_hooks(backward_hooks)
        if not isinstance(data, Tensor):
            raise CheckpointError("corrupt PyTorch checkpoint: parameter data is not a tensor")
        if type(requires_grad) is not bool:
            raise CheckpointError("corrupt PyTorch checkpoint: requires_grad must be a bool")
        return _finish_tensor(data, requires_grad and data.dtype.is_floating_point, True)

    def _rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        return self._rebuild_parameter(data, requires_grad, backward_hooks)

    def _rebuild_from_type_v2(self, func, new_type, args, state):
        if func not in self.rebuilders or not isinstance(new_type, _TorchClass) or type(args) is not tuple:
            raise UnsafeCheckpointError("refusing _rebuild_from_type_v2(%r, %r): only plain tensors and parameters "
                                        "can be rebuilt" % (func, new_type))
        t = func(*args)
        if new_type.parameter:
            t = _finish_tensor(t, t.requires_grad, True)
        return t


def _make_size(*args):
    if len(args) != 1 or not isinstance(args[0], (tuple, list)) or not all(type(x) is int for x in args[0]):
        raise CheckpointError("corrupt PyTorch checkpoint: bad torch.Size%r" % (args,))
    return Size(args[0])


def _make_device(*args):
    if not 1 <= len(args) <= 2 or type(args[0]) is not str or (len(args) == 2 and type(args[1]) is not int):
        raise CheckpointError("corrupt PyTorch checkpoint: bad torch.device%r" % (args,))
    try:
        return _device(*args)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError("corrupt PyTorch checkpoint: %s" % e) from None


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol-2 pickles store bytes as _codecs.encode(text, 'latin1')
    if type(obj) is not str or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise UnsafeCheckpointError("refusing _codecs.encode%r: only the latin1 bytes encoding is allowed"
                                    % ((obj, encoding, errors),)[:200])
    return obj.encode("latin1")


def _make_set(items=()):
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise CheckpointError("corrupt PyTorch checkpoint: set() of %s" % type(items).__name__)
    return set(items)


def _make_frozenset(items=()):
    return frozenset(_make_set(items))


# pickles of data.pkl larger than this are refused before reading (state dicts' pickles are small: the tensor
# data lives in separate records)
MAX_PICKLE_BYTES = 1 << 30


def _load_torch(src):
    archive = _TorchArchive(src)
    data = archive.record("data.pkl", MAX_PICKLE_BYTES)
    try:
        return _RestrictedUnpickler(io.BytesIO(data), archive).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError("corrupt PyTorch checkpoint: data.pkl is nested too deeply") from None
    except Exception as e:  # malformed pickles raise many types; all mean a bad file
        raise CheckpointError("corrupt PyTorch checkpoint: data.pkl could not be read (%s: %s)"
                              % (type(e).__name__, e)) from None
