"""``ember.save`` / ``ember.load``: checkpoints whose default loading never executes code from a file.

``ember.load`` reads three formats, recognised by their first bytes:

* **Ember checkpoints** (what ``ember.save`` writes for plain data: tensors, numeric numpy arrays, numbers,
  strings and containers), described below;
* **safetensors** files (see ``ember.safetensors``);
* **PyTorch-layout** ``.pt``/``.pth`` zip archives holding ``data.pkl`` and one raw record per storage: what
  ``torch.save`` writes, and what ``ember.save`` writes for objects plain data cannot describe (a whole
  ``nn.Module``, a user class, a set). With the default ``weights_only=True`` the pickle is read by a restricted
  unpickler, as PyTorch 2.6+ does: it resolves only the functions that rebuild tensors, storage types, dtypes,
  ``torch.Size``/``torch.device``, numeric numpy arrays and plain containers (each mapped to Ember code), plus the
  classes and functions the user allowlisted with :func:`add_safe_globals` / :func:`safe_globals`; any other global
  (``os.system``, a model class, ...) is refused with :class:`UnsafeCheckpointError` (a
  ``pickle.UnpicklingError``) naming it. ``weights_only=False`` unpickles normally (the user's explicit choice);
  tensors still load as Ember tensors.

Ember checkpoint format, version 1 (integers little-endian)::

    offset 0    magic            8 bytes   b"\\x89EMB\\r\\n\\x1a\\n"
    offset 8    version          u32       1
    offset 12   header_crc32     u32       zlib.crc32 of the header bytes
    offset 16   header_length    u64       at most 256 MiB
    offset 24   data_length      u64
    offset 32   header           UTF-8 JSON, header_length bytes
                zero padding to a multiple of 64
    data_start  data             data_length bytes; the file ends exactly here

The header is ``{"storages": [...], "tensors": [...], "arrays": [...], "object": node}``. A storage is
``{"offset", "nbytes", "crc32"}`` (offset relative to data_start, 64-byte aligned): the raw little-endian bytes of
one storage, written once however many saved tensors view it. A tensor is ``{"storage", "dtype", "shape",
"stride", "offset", "requires_grad", "parameter"}`` (offset and strides in elements), so views and non-contiguous
tensors come back as views of one shared storage. A node is JSON null/true/false/number/string, or a tagged
array: ``["list", [...]]``, ``["tuple", [...]]``, ``["dict" | "odict" | "counter", [[key, value], ...]]``,
``["tensor", index]``, ``["float", "nan" | "inf" | "-inf"]``, ``["bytes", base64]``, ``["dtype", name]``,
``["size", [...]]``, ``["device", str]``, ``["ndarray", index]``, ``["npscalar", index]`` (a numpy complex
scalar, stored as a 0-d array). The optional header list ``"arrays"`` holds numpy arrays as ``{"storage",
"dtype" (numpy's little-endian type string, numeric kinds only), "shape"}``, each one C-ordered storage of its
own; they load as plain writable numpy arrays. Every size, offset and checksum is validated before it is used,
so a truncated, corrupted or hostile file raises :class:`CheckpointError` instead of crashing or allocating
memory the file does not contain.

``ember.save`` to a path writes a temporary file in the same directory, flushes and fsyncs it, then renames it
over the target: an interrupted save leaves the previous checkpoint intact.
"""
import _compat_pickle
import base64
import io
import json
import math
import os
import pickle
import pickletools
import re
import stat
import struct
import sys
import tempfile
import time as _time
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np

from . import _C
from ._device import _check_device, device as _device
from ._tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError", "UnsafeCheckpointError", "add_safe_globals", "clear_safe_globals",
           "get_safe_globals", "get_unsafe_globals_in_checkpoint", "safe_globals"]


class CheckpointError(RuntimeError):
    """A file is not a checkpoint Ember can read: truncated, corrupted, of an unknown format, or malformed."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A pickled checkpoint asked for something the weights-only loader does not allow (a function call, a class
    not named in :func:`add_safe_globals`)."""


class _UnpicklableError(TypeError, pickle.PicklingError):
    """ember.save met an object that pickle cannot store (a lambda, a local class, an open file, ...)."""


# ------------------------------------------------------------------------------------------------ safe globals
# What ember.load(weights_only=True) may resolve beyond tensors and plain data: the objects themselves (never
# imported from a name in the file), as PyTorch's torch.serialization.add_safe_globals keeps them.
_safe_globals = []


def _global_name(entry):
    if isinstance(entry, tuple):
        if len(entry) != 2 or not isinstance(entry[1], str):
            raise TypeError("safe globals: a tuple entry must be (object, 'module.name'), got %r" % (entry,))
        return entry[1]
    module, name = getattr(entry, "__module__", None), getattr(entry, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        raise TypeError("safe globals: %r has no __module__/__qualname__; pass (obj, 'module.name')" % (entry,))
    return module + "." + name


def add_safe_globals(safe_globals):
    """Marks classes and functions as safe for ``ember.load(weights_only=True)``: a checkpoint naming one of them
    (e.g. a model class saved with ``ember.save(model)``) loads it. Entries are objects, or ``(obj, "module.name")``
    tuples for an object pickled under another name. Only allowlist code you trust: its ``__new__``,
    ``__setstate__`` and constructor run with data from the file."""
    if not isinstance(safe_globals, (list, tuple)):
        raise TypeError("add_safe_globals expects a list of classes/functions, got %s" % type(safe_globals).__name__)
    for entry in safe_globals:
        _global_name(entry)
    _safe_globals.extend(safe_globals)


def get_safe_globals():
    """The list of user-allowed globals (what :func:`add_safe_globals` added)."""
    return list(_safe_globals)


def clear_safe_globals():
    """Removes every user-allowed global."""
    del _safe_globals[:]


class safe_globals:
    """Context manager: ``with ember.serialization.safe_globals([MyNet]): ember.load(path)`` allows the listed
    globals inside the block only."""

    def __init__(self, safe_globals):
        if not isinstance(safe_globals, (list, tuple)):
            raise TypeError("safe_globals expects a list of classes/functions, got %s"
                            % type(safe_globals).__name__)
        for entry in safe_globals:
            _global_name(entry)
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self.saved = get_safe_globals()
        _safe_globals.extend(self.safe_globals)
        return self

    def __exit__(self, *exc):
        _safe_globals[:] = self.saved
        return False


def _user_safe_globals():
    """'module.name' -> object for every user-allowed global."""
    return {_global_name(entry): entry[0] if isinstance(entry, tuple) else entry for entry in _safe_globals}


MAGIC = b"\x89EMB\r\n\x1a\n"
VERSION = 1
_FIXED = struct.Struct("<8sIIQQ")  # magic, version, header crc32, header length, data length
_ALIGN = 64
MAX_HEADER_BYTES = 256 << 20
_MAX_DEPTH = 256  # container nesting; far beyond any state dict, well within Python's recursion limit
_READ_CHUNK = 64 << 20

_DTYPES = {d._name: d for d in (_C.float32, _C.float64, _C.float16, _C.bfloat16, _C.int64, _C.int32, _C.int16,
                                _C.int8, _C.uint8, _C.bool)}
_BIG_ENDIAN = sys.byteorder == "big"


def _align(n):
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def _storage_bytes(t):
    if t._device != "cpu":  # a device storage is written from a host copy of all its bytes
        n = _C.storage_nbytes(t)
        return _C.to_numpy(_C._to_device(_C._storage_view(t, _C.uint8, (n,), (1,), 0), "cpu"))
    return _host_storage_bytes(t)


def _host_storage_bytes(t):
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


class _NeedsPickle(Exception):
    """The object holds something the JSON-described format cannot (a module, a user class, a set, ...)."""


def _numeric_dtype(dt):
    """True for the numpy dtypes Ember stores and loads as raw bytes: bool, integers, floats, complex."""
    return isinstance(dt, np.dtype) and dt.kind in "biufc" and dt.fields is None and dt.subdtype is None


class _Encoder:
    """Turns an object tree into the JSON header node plus the list of storages to write."""

    def __init__(self):
        self.storages = []      # uint8 numpy views of the storages, in file order
        self.storage_index = {}  # storage id -> index
        self.keep = []          # tensors/arrays whose storages are referenced (keeps storage ids valid)
        self.tensors = []
        self.tensor_index = {}  # id(tensor) -> index
        self.arrays = []
        self.array_index = {}   # id(ndarray) -> index
        self.active = set()     # ids of containers being encoded (cycle detection)

    def array(self, a):
        idx = self.array_index.get(id(a))
        if idx is not None:
            return idx
        # one C-ordered little-endian copy per array: loads as a plain, writable ndarray
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype)
        self.keep.append(a)
        self.storages.append(data.reshape(-1).view(np.uint8))
        idx = self.array_index[id(a)] = len(self.arrays)
        self.arrays.append({"storage": len(self.storages) - 1, "dtype": data.dtype.str, "shape": list(a.shape)})
        return idx

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
        entry = {"storage": s, "dtype": t.dtype._name, "shape": list(t._shape), "stride": list(t.stride()),
                 "offset": t.storage_offset(), "requires_grad": bool(t.requires_grad),
                 "parameter": bool(getattr(type(t), "_is_param", False))}
        if t._device != "cpu":
            entry["device"] = t._device  # where load puts it back (map_location may say otherwise)
        self.tensors.append(entry)
        return idx

    def node(self, obj, depth=0):
        if depth > _MAX_DEPTH:
            raise ValueError("ember.save: object is nested more than %d levels deep" % _MAX_DEPTH)
        if obj is None or obj is True or obj is False or type(obj) is str:
            return obj
        if isinstance(obj, Tensor):
            _refuse_sparse(obj)
            return ["tensor", self.tensor(obj)]
        if type(obj) is np.ndarray and _numeric_dtype(obj.dtype):
            return ["ndarray", self.array(obj)]
        if isinstance(obj, np.complexfloating):  # no JSON number for it: a 0-d array read back as a scalar
            return ["npscalar", self.array(np.asarray(obj))]
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
            raise _NeedsPickle
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
    header = json.dumps({"storages": storages, "tensors": enc.tensors, "arrays": enc.arrays, "object": root},
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


try:
    import fcntl as _fcntl
except ImportError:  # not POSIX: stale temporaries are recognised by age alone
    _fcntl = None

# A temporary that no live save holds is removed when it is at least this old, or has data in it (a writer
# locks its temporary right after creating it, before writing anything).
_STALE_EMPTY_TEMP_AGE = 60.0
_STALE_TEMP_AGE_UNLOCKED = 3600.0  # without file locks: only temporaries this old count as abandoned


def _temp_pattern(basename):
    # tempfile.mkstemp(prefix="." + basename + ".", suffix=".tmp"): 8 characters of [a-z0-9_] in between
    return re.compile(re.escape("." + basename + ".") + r"[a-z0-9_]{8}" + re.escape(".tmp"))


def _remove_stale_temps(directory, basename):
    """Removes the temporaries that earlier, interrupted saves to basename left in directory (a killed process
    cannot remove its own). One that a live save is writing is locked by it and left alone."""
    pattern = _temp_pattern(basename)
    try:
        names = [n for n in os.listdir(directory) if pattern.fullmatch(n)]
    except OSError:
        return
    now = _time.time()
    for name in names:
        full = os.path.join(directory, name)
        try:
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                continue
            age = now - st.st_mtime
            if _fcntl is not None:
                try:
                    _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
                except OSError:
                    continue  # a save in progress holds it
                if st.st_size == 0 and age < _STALE_EMPTY_TEMP_AGE:
                    continue  # possibly created a moment ago by a save that has not locked it yet
            elif age < _STALE_TEMP_AGE_UNLOCKED:
                continue
            try:
                os.unlink(full)
            except OSError:
                pass
        finally:
            os.close(fd)


def _atomic_write(path, write):
    """Writes a file through a temporary in the same directory, fsynced, then renamed over path. The temporary
    is locked while it is written, so that the next save to path can recognise (and remove) the temporaries
    of saves that were killed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    basename = os.path.basename(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    _remove_stale_temps(directory, basename)
    fd, tmp = tempfile.mkstemp(prefix="." + basename + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            if _fcntl is not None:
                _fcntl.flock(fh.fileno(), _fcntl.LOCK_EX)
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            if _fcntl is not None:
                os.replace(tmp, path)  # still locked: a concurrent save's cleanup cannot take it
        if _fcntl is None:
            os.replace(tmp, path)  # (files must be closed to be replaced where there are no POSIX locks)
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
    """Saves obj to f, as ``torch.save`` does.

    Args:
        obj: the object to save: tensors, numpy arrays, numbers, strings, bytes, None, dtypes, devices and nested
            lists/tuples/dicts of them (model and optimizer state dicts), or any picklable object such as a whole
            ``nn.Module``.
        f: a path (str or os.PathLike; written atomically: a temporary file is flushed, fsynced and renamed over
            it, so an interrupted save leaves the previous file intact) or a writable binary file object.

    Plain data is written in the Ember checkpoint format, without pickle. Anything else (a module, a user class,
    a set) is written as a PyTorch-layout zip archive (``data.pkl`` plus one raw record per storage), which
    ``torch.load(weights_only=False)`` also reads; loading it back with ``ember.load`` needs its classes
    allowlisted (:func:`safe_globals`) or ``weights_only=False``. Tensors keep their dtype, shape, strides and
    requires_grad; tensors that share a storage are saved once and load as views of one storage.
    Passing ``pickle_module`` (e.g. ``pickle``) asks for the pickled archive whatever obj holds: a file of
    tensors written so is a plain PyTorch checkpoint that ``torch.load`` reads with its default
    ``weights_only=True``. ``pickle_protocol`` (default 2, as PyTorch) applies to pickled archives.
    """
    if _BIG_ENDIAN:
        raise NotImplementedError("ember.save: big-endian hosts are not supported (checkpoints are little-endian)")
    if not _is_path(f) and not hasattr(f, "write"):
        raise TypeError("ember.save: f must be a path or a writable binary file object, got %s" % type(f).__name__)
    try:
        if pickle_module is not None:
            raise _NeedsPickle
        head, chunks, keep = _encode(obj)
        write = lambda fh: _write_payload(fh, head, chunks)  # noqa: E731
    except _NeedsPickle:
        write = _pickle_archive(obj, 2 if pickle_protocol is None else pickle_protocol)
    if _is_path(f):
        _atomic_write(f, write)
    else:
        write(f)
        if hasattr(f, "flush"):
            f.flush()


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


_INT64_MAX = (1 << 63) - 1


def _short(v, limit=200):
    """repr(v), cut to about limit characters (error messages about hostile files stay readable)."""
    try:
        r = repr(v) if not isinstance(v, (list, tuple, dict)) or len(v) < 100 else "a %s of %d items" % (
            type(v).__name__, len(v))
    except (ValueError, RecursionError):  # an int of too many digits, a structure nested too deeply
        r = "a %s" % type(v).__name__
    return r if len(r) <= limit else r[:limit] + "..."


def _check_int(v, what, lo=0, hi=_INT64_MAX):
    """v itself when it is an int in [lo, hi] (sizes, strides and offsets must fit in int64)."""
    if type(v) is not int or v < lo or v > hi:
        raise CheckpointError("corrupt header: %s must be an integer in [%d, %d], got %s"
                              % (what, lo, hi, _short(v)))
    return v


def _check_int_list(v, what):
    if type(v) is not list or len(v) > 64:
        raise CheckpointError("corrupt header: %s must be a list of at most 64 integers, got %s"
                              % (what, _short(v)))
    return tuple(_check_int(x, what) for x in v)


def _load_ember(src, restore):
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

    restored = {}  # storage index -> what map_location made of it

    def storage(s, location):
        if s not in restored:
            restored[s] = restore(_Storage(None, buffers[s], location), location).placed()
        return restored[s]

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
        location = t.get("device", "cpu")
        if type(location) is not str or not _LOCATION.fullmatch(location):
            raise CheckpointError("corrupt header: tensor %d has location %r" % (i, location))
        buf = storage(s, location)  # outside the try: a device that is missing is no corrupt file
        try:
            view = _C._storage_view(buf, dtype, shape, stride, offset)
        except (ValueError, RuntimeError, MemoryError) as e:
            raise CheckpointError("corrupt checkpoint: tensor %d: %s" % (i, e)) from None
        tensors.append(_finish_tensor(view, requires_grad, parameter))
    arrays = _load_arrays(header.get("arrays", []), buffers)
    return _decode(header["object"], tensors, arrays, 0)


def _load_arrays(specs, buffers):
    if type(specs) is not list:
        raise CheckpointError("corrupt header: arrays must be a list")
    arrays = []
    for i, a in enumerate(specs):
        if type(a) is not dict:
            raise CheckpointError("corrupt header: array %d is not an object" % i)
        s = _check_int(a.get("storage"), "array %d storage" % i, 0, len(buffers) - 1)
        try:
            dt = np.dtype(a.get("dtype")) if type(a.get("dtype")) is str and len(a.get("dtype")) <= 8 else None
        except Exception:  # numpy's parser raises TypeError, ValueError or SyntaxError for nonsense
            dt = None
        if dt is None or not _numeric_dtype(dt) or dt.byteorder == ">":
            raise CheckpointError("corrupt header: array %d has unsupported dtype %s" % (i, _short(a.get("dtype"))))
        shape = _check_int_list(a.get("shape"), "array %d shape" % i)
        nbytes = dt.itemsize * math.prod(shape)
        if nbytes != _C.storage_nbytes(buffers[s]):
            raise CheckpointError("corrupt checkpoint: array %d of shape %s and dtype %s needs %d bytes, its storage "
                                  "holds %d" % (i, shape, dt.str, nbytes, _C.storage_nbytes(buffers[s])))
        try:
            arrays.append(_C.to_numpy(buffers[s]).view(dt).reshape(shape))
        except ValueError as e:  # e.g. a zero-size shape with more elements per dimension than numpy allows
            raise CheckpointError("corrupt checkpoint: array %d of shape %s: %s" % (i, shape, e)) from None
    return arrays


def _decode(node, tensors, arrays, depth):
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
        items = [_decode(v, tensors, arrays, depth + 1) for v in payload]
        return items if tag == "list" else tuple(items)
    if tag in ("dict", "odict", "counter"):
        if type(payload) is not list or not all(type(kv) is list and len(kv) == 2 for kv in payload):
            raise CheckpointError("corrupt checkpoint: %s payload must be an array of pairs" % tag)
        out = {"dict": dict, "odict": OrderedDict, "counter": Counter}[tag]()
        for k, v in payload:
            key = _decode(k, tensors, arrays, depth + 1)
            try:
                out[key] = _decode(v, tensors, arrays, depth + 1)
            except TypeError:
                raise CheckpointError("corrupt checkpoint: unhashable dict key %r" % (key,)) from None
        return out
    if tag == "tensor":
        if type(payload) is not int or not 0 <= payload < len(tensors):
            raise CheckpointError("corrupt checkpoint: tensor reference %r out of range" % (payload,))
        return tensors[payload]
    if tag == "ndarray":
        if type(payload) is not int or not 0 <= payload < len(arrays):
            raise CheckpointError("corrupt checkpoint: array reference %r out of range" % (payload,))
        return arrays[payload]
    if tag == "npscalar":
        if type(payload) is not int or not 0 <= payload < len(arrays) or arrays[payload].ndim:
            raise CheckpointError("corrupt checkpoint: scalar reference %r is not a 0-d array" % (payload,))
        return arrays[payload][()]
    if tag == "float":
        values = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
        if type(payload) is not str or payload not in values:
            raise CheckpointError("corrupt checkpoint: bad float %s" % _short(payload))
        return values[payload]
    if tag == "bytes":
        try:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        except (ValueError, AttributeError, TypeError):
            raise CheckpointError("corrupt checkpoint: bad bytes payload") from None
    if tag == "dtype":
        if type(payload) is not str or payload not in _DTYPES:
            raise CheckpointError("corrupt checkpoint: unknown dtype %s" % _short(payload))
        return _DTYPES[payload]
    if tag == "size":
        return Size(_check_int_list(payload, "size"))
    if tag == "device":
        try:
            return _device(payload)
        except (RuntimeError, TypeError):
            raise CheckpointError("corrupt checkpoint: bad device %r" % (payload,)) from None
    raise CheckpointError("corrupt checkpoint: unknown object tag %r" % (tag,))


_LOCATION = re.compile(r"cpu|cuda(:\d{1,5})?")


def _load_device(location):
    """The device a storage saved at (or mapped to) `location` is restored on; PyTorch's error when CUDA is
    missing."""
    dev = _device(location) if isinstance(location, str) else location
    if dev.type == "cuda":
        from . import cuda
        if not cuda.is_available() and not cuda._host_backend:
            raise RuntimeError("Attempting to deserialize object on a CUDA device but ember.cuda.is_available() is "
                               "False. If you are running on a CPU-only machine, please use ember.load with "
                               "map_location=ember.device('cpu') to map your storages to the CPU.")
    return _check_device(dev)


def _restorer(map_location):
    """restore(storage, location) -> storage whose .device is where its tensors go: the saved location when
    map_location is None, map_location itself for a str/device, the dict's entry for the saved location (else
    the saved location), or what a callable returns (called once per storage, as in PyTorch; None falls back
    to the saved location)."""
    if map_location is None:
        return lambda storage, location: storage
    if callable(map_location) and not isinstance(map_location, (str, _device)):
        def restore(storage, location):
            out = map_location(storage, location)
            if out is None:
                return storage
            if not isinstance(out, _Storage):
                raise TypeError("ember.load: map_location(storage, location) must return a storage (the one it was "
                                "given, storage.cpu() or storage.to(device)) or None, got %s" % type(out).__name__)
            return out
        return restore
    if isinstance(map_location, dict):
        for k, v in map_location.items():
            if not isinstance(k, str):
                raise TypeError("ember.load: map_location dict keys must be location strings, got %r" % (k,))
            _check_device(v)
        def restore(storage, location):
            # a location the file names but the dict does not map stays where the storage is (the saved
            # device, or the CPU for a location Ember does not know, as when no map_location is given)
            target = map_location.get(location) if type(location) is str else None
            return storage if target is None else storage.to(target)
        return restore
    if isinstance(map_location, (str, _device)):
        _check_device(map_location)
        return lambda storage, location: storage.to(map_location)
    raise TypeError("ember.load: map_location must be None, a str, an ember.device, a dict or a callable, got %s"
                    % type(map_location).__name__)


# What a reader of a malformed file can trip over when some check is missing; load turns these into
# CheckpointError (the user's own map_location code excepted), so a bad file never surfaces as a stray TypeError.
_STRAY_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, ArithmeticError,
                 struct.error, zlib.error, EOFError, RecursionError, MemoryError, pickle.UnpicklingError)


class _UserCode:
    """Wraps the map_location restorer, remembering what it raised: those errors are the user's, not the file's."""

    def __init__(self, fn):
        self.fn, self.raised = fn, []

    def __call__(self, storage, location):
        try:
            return self.fn(storage, location)
        except BaseException as e:
            self.raised.append(e)
            raise

    def owns(self, e):
        return any(e is r for r in self.raised)


def _reading(what, fn, *args, error=None, user=None):
    """fn(*args), where a stray exception (not a CheckpointError, not raised by the user's code) becomes a
    CheckpointError (or `error`) naming what was being read."""
    try:
        return fn(*args)
    except CheckpointError:
        raise
    except _STRAY_ERRORS as e:
        if user is not None and user.owns(e):
            raise
        if isinstance(e, RecursionError):
            msg = "nested too deeply"
        elif isinstance(e, MemoryError):
            msg = "it asks for more memory than there is"
        else:
            msg = "%s: %s" % (type(e).__name__, _short(str(e)))
        raise (error or CheckpointError)("corrupt %s: %s" % (what, msg)) from None


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
        map_location: None, 'cpu', an ember.device, a dict of locations ({'cuda:0': 'cpu'}) or a callable
            ``(storage, location) -> storage`` called once per storage (return the storage, ``storage.cpu()`` or
            None). Ember tensors load onto the CPU (a CUDA target raises the usual "built without CUDA" error).
        weights_only: True by default, as in PyTorch 2.6+ (False when a ``pickle_module`` is given): pickled
            checkpoints may then hold only tensors, numeric numpy arrays and plain data, plus the classes and
            functions allowlisted with :func:`add_safe_globals` / :func:`safe_globals`; anything else raises
            :class:`UnsafeCheckpointError` (a ``pickle.UnpicklingError``) before any code from the file runs.
            ``weights_only=False`` unpickles everything, importing the classes the file names: use it only for
            files you trust.

    Ember checkpoints and safetensors files never involve pickle. ``mmap`` is accepted for compatibility with
    ``torch.load``. Bad files raise :class:`CheckpointError`.
    """
    if weights_only is None:
        weights_only = pickle_module is None
    elif weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    restore = _UserCode(_restorer(map_location))
    src = _Source(f)
    try:
        if src.size == 0:
            raise CheckpointError("ember.load: the file is empty")
        head = src.fh.read(16)
        src.fh.seek(0)
        kind = _detect(head, src.size)
        if kind == "ember":
            return _reading("checkpoint", _load_ember, src, restore, user=restore)
        if kind == "safetensors":
            return _reading("safetensors file", _load_safetensors, src, restore, user=restore)
        if kind == "torch":
            return _reading("PyTorch checkpoint", _load_torch, src, weights_only, restore, user=restore)
        if kind == "legacy":
            raise CheckpointError("this is a legacy (pre-1.6, non-zip) PyTorch checkpoint, which Ember does not "
                                  "read; re-save it with a current PyTorch (torch.save writes zip archives)")
        raise CheckpointError("not a checkpoint Ember can read: unrecognised leading bytes %r (expected an Ember "
                              "checkpoint, a safetensors file or a PyTorch .pt/.pth zip archive)" % head[:8])
    finally:
        src.close()


def _load_safetensors(src, restore):
    from .safetensors import SafetensorError, _load_stream
    out = _reading("safetensors file", _load_stream, src, error=SafetensorError)
    for k, t in out.items():  # safetensors has no shared storages: one call per tensor
        buf = restore(_Storage(None, t), "cpu").placed()
        if buf is not t:
            out[k] = _C._storage_view(buf, t.dtype, t._shape, t.stride(), 0)
    return out


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
# dtype). uint16/uint32 widen to the smallest signed type that holds them: Ember has no such dtypes.
_ELEMENTS = {
    "float32": ("<f4", 4, _C.float32), "float64": ("<f8", 8, _C.float64), "float16": ("<f2", 2, _C.float16),
    "bfloat16": (None, 2, _C.bfloat16), "int64": ("<i8", 8, _C.int64), "int32": ("<i4", 4, _C.int32),
    "uint8": ("|u1", 1, _C.uint8), "bool": ("|b1", 1, _C.bool), "int16": ("<i2", 2, _C.int16),
    "int8": ("|i1", 1, _C.int8), "uint16": ("<u2", 2, _C.int32), "uint32": ("<u4", 4, _C.int64),
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
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as e:
            raise CheckpointError("corrupt PyTorch checkpoint: not a readable zip archive (%s)" % e) from None
        self._check_layout(src.size)
        # all records together may expand no more than deflate can (and stored ones not at all)
        self.read_budget = _MAX_DEFLATE_RATIO * max(src.size, 1)
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

    def _check_layout(self, size):
        """Every record's local header and data must lie in the file, apart from the others and before the
        central directory: overlapping records are how zip bombs make one stored stream count many times."""
        infos = sorted(self.zf.infolist(), key=lambda i: i.header_offset)
        end_of_data = getattr(self.zf, "start_dir", size)
        for k, info in enumerate(infos):
            try:
                name_len = len(info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))
            except UnicodeError:
                name_len = 0
            # at least: the 30-byte local header, the name, then the stored bytes (the local extra field and a
            # data descriptor only add to this)
            end = info.header_offset + 30 + name_len + info.compress_size
            limit = infos[k + 1].header_offset if k + 1 < len(infos) else end_of_data
            if info.header_offset < 0 or end > limit:
                raise CheckpointError("corrupt PyTorch checkpoint: record %r overlaps %s (a zip bomb?)"
                                      % (info.filename, "record %r" % infos[k + 1].filename if k + 1 < len(infos)
                                         else "the zip directory"))

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
        self.read_budget -= info.file_size
        if self.read_budget < 0:
            raise CheckpointError("corrupt PyTorch checkpoint: its records expand to more than %d times the "
                                  "archive's size" % _MAX_DEFLATE_RATIO)
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
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError, NotImplementedError,
                RuntimeError) as e:  # RuntimeError: a flipped flag bit claims the record is encrypted
            raise CheckpointError("corrupt PyTorch checkpoint: record %r: %s" % (info.filename, e)) from None
        return into

    def storage(self, storage_type, key, numel, location, restore):
        """Storage `key`: its raw bytes as an aligned uint8 ember tensor, read once (and passed through the
        map_location callable, if any)."""
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
        cached = _Storage(storage_type, buf, location if _LOCATION.fullmatch(str(location)) else "cpu")
        out = restore(cached, location)
        cached = out if out.type is storage_type else _Storage(storage_type, out.buf, out.location)
        self.storages[key] = cached
        return cached


class _Storage:
    """A loaded storage: its bytes, its type, and its contents converted to Ember dtypes (byte-swapped or
    widened) when a tensor needs that. It is also what a map_location callable receives, so it answers the
    calls such callables make (``storage.cpu()``, ``.cuda(i)``, ``.to(device)``, ``.device``, ``.nbytes()``)."""

    __slots__ = ("type", "buf", "converted", "location", "moved")

    def __init__(self, storage_type, buf, location="cpu"):
        self.type, self.buf, self.converted = storage_type, buf, {}
        self.location, self.moved = location, {}  # where its tensors go; the device copies made for that

    @property
    def device(self):
        return _device(self.location)

    @property
    def is_cuda(self):
        return self.location != "cpu"

    def _at(self, location):
        if location == self.location:
            return self
        out = _Storage(self.type, self.buf, location)
        out.converted = self.converted
        return out

    def placed(self, element=None, big_endian=False):
        """The buffer tensors are viewed from: the (converted) host bytes, or one copy of them on the device."""
        host = self.buf if element is None else self.elements(element, big_endian)
        if self.location == "cpu":
            return host
        out = self.moved.get(element)
        if out is None:
            out = self.moved[element] = _C._to_device(host, str(_load_device(self.location)))
        return out

    def nbytes(self):
        return _C.storage_nbytes(self.buf)

    def size(self):
        return self.nbytes()

    __len__ = size

    def element_size(self):
        return 1

    def cpu(self):
        return self._at("cpu")

    def to(self, device=None, non_blocking=False):
        if device is None:
            return self
        dev = _device(device) if isinstance(device, str) else _device("cuda", device) if isinstance(device, int) \
            else device
        if not isinstance(dev, _device):
            raise TypeError("storage.to: expected a device, got %r" % (device,))
        return self._at("cpu" if dev.type == "cpu" else str(_load_device(dev)))

    def cuda(self, device=None, non_blocking=False):
        return self.to(_device("cuda", device) if isinstance(device, int) else device or "cuda")

    def __repr__(self):
        return "ember storage of %d bytes on %s" % (self.nbytes(), self.location)

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


class _Unpickling:
    """What both unpicklers share: torch's tensor, storage, dtype and container globals mapped to Ember code,
    persistent storage ids read from the archive, and the rebuild functions."""

    def _setup(self, archive, weights_only, restore):
        self.archive, self.weights_only, self.restore = archive, weights_only, restore
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
            ("builtins", "bytearray"): _make_bytearray,
            ("builtins", "complex"): _make_complex,
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
        hook_dict = _hook_dict_class()
        if hook_dict is not None:  # Module's hook tables: an OrderedDict subclass with no code of its own
            allowed[("ember.nn.modules.module", "_HookDict")] = hook_dict
        if weights_only:
            # numeric arrays and scalars only; the numpy class and dtype constructors are never handed out
            for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
                allowed[(core, "_reconstruct")] = _np_reconstruct
                allowed[(core, "scalar")] = _np_scalar
            allowed[("numpy", "ndarray")] = _NP_NDARRAY
            allowed[("numpy", "dtype")] = _np_dtype
            # what pickling an Ember tensor outside ember.save writes (e.g. torch.save of an Ember module)
            allowed[("ember._tensor", "_rebuild_tensor")] = _rebuild_ember_tensor
            allowed[("ember._tensor", "Tensor")] = _EMBER_TENSOR
            allowed[("ember.nn.parameter", "Parameter")] = _EMBER_PARAMETER
        self.allowed = allowed
        self.user = _user_safe_globals()
        # REDUCE may call only these; NEWOBJ and BUILD apply only to instances of self.classes
        self.callables = {id(v) for v in allowed.values() if callable(v) and not isinstance(v, _C.dtype)}
        self.callables.update(id(v) for v in self.user.values())
        self.classes = {OrderedDict, Counter} | {v for v in self.user.values() if isinstance(v, type)}
        if hook_dict is not None:
            self.classes.add(hook_dict)

    def lookup(self, module, name):
        """(module, name) as Python 3 spells it, and what the allowlists map it to (None when neither does)."""
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names, as protocol 2 pickles write them
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = self.allowed.get((module, name))
        if found is None:
            found = self.user.get(module + "." + name)
        return module, name, found

    def find_class(self, module, name):
        module, name, found = self.lookup(module, name)
        if found is not None:
            return found
        if module == "torch" and name in _UNSUPPORTED_STORAGES:
            raise CheckpointError("PyTorch checkpoint holds a torch.%s, which Ember does not support" % name)
        if not self.weights_only:
            try:
                return super().find_class(module, name)
            except (ImportError, AttributeError) as e:
                raise CheckpointError("ember.load: the checkpoint refers to %s.%s, which cannot be imported here "
                                      "(%s: %s)" % (module, name, type(e).__name__, e)) from None
        raise UnsafeCheckpointError(_weights_only_message(module, name))

    def persistent_load(self, pid):
        if (type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _TorchStorageType) or type(pid[2]) is not str
                or type(pid[3]) is not str or type(pid[4]) is not int or pid[4] < 0):
            raise CheckpointError("corrupt PyTorch checkpoint: unexpected persistent id %r" % (pid,)[:200])
        try:
            return self.archive.storage(pid[1], pid[2], pid[4], pid[3], self.restore)
        except Exception as e:
            owns = getattr(self.restore, "owns", None)
            if not isinstance(e, CheckpointError) and owns is not None and owns(e):
                self.passthrough = e  # a map_location callable's own error, not a bad file
            raise

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
        buf = storage.placed(element, self.archive.big_endian)
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


def _weights_only_message(module, name):
    g = "%s.%s" % (module, name)
    return ("Weights only load failed: refusing to load %s. This file can still be loaded, to do so you have two "
            "options, do those steps only if you trust the source of the checkpoint.\n"
            "\t(1) Re-running `ember.load` with `weights_only` set to `False` will likely succeed, but it can result "
            "in arbitrary code execution. Do it only if you got the file from a trusted source.\n"
            "\t(2) Alternatively, to load with `weights_only=True` please check the recommended steps in the "
            "following error message.\n"
            "\tWeightsUnpickler error: Unsupported global: GLOBAL %s was not an allowed global by default. Please "
            "use `ember.serialization.add_safe_globals([%s])` or the `ember.serialization.safe_globals([%s])` "
            "context manager to allowlist this global if you trust this class/function." % (g, g, g, g))


class _WeightsOnlyUnpickler(_Unpickling, pickle._Unpickler):
    """The default unpickler: globals only from the allowlist, and every opcode that calls or constructs
    something (REDUCE, NEWOBJ, BUILD, OBJ, INST) checked against it. The pure-Python unpickler is used because
    its opcodes can be overridden; checkpoint pickles are small (tensor data lives in separate records)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, archive, restore, size=0):
        pickle._Unpickler.__init__(self, file)
        self._setup(archive, True, restore)
        self.size = size
        self.work = _PICKLE_WORK_BASE + _PICKLE_WORK_PER_BYTE * size
        self.tuples = {}  # id -> (tuple, depth, hash cost) for the tuples built that hold other tuples
        self.hashing = {id(f) for f in (_make_set, _make_frozenset, Counter, OrderedDict)}

    # ------------------------------------------------------------------------ the work budget
    # Every opcode pushes at most a few objects, so a pickle of n bytes builds O(n) elements directly. What can
    # multiply that is an operation on a memoized object: a call (REDUCE/NEWOBJ: set(L), bytearray(b), a numpy
    # array rebuilt from its bytes) or a state (BUILD) copies its arguments, and a dict key or set item hashes
    # its whole tuple tree, however many times the pickle refers to it for a few bytes each time. Those are
    # charged to a budget proportional to the pickle's size, so a small file cannot build gigabytes or hash
    # for hours; tuple nesting (which Python hashes recursively, in C) is bounded too.

    def _charge(self, n):
        self.work -= n
        if self.work < 0:
            raise CheckpointError("corrupt PyTorch checkpoint: data.pkl (%d bytes) builds far more data than a "
                                  "pickle of its size describes (a decompression-bomb pickle?)" % self.size)

    def _weight(self, x):
        """What copying or hashing x costs, in elements (8-byte words for bytes, strings and arrays)."""
        t = type(x)
        if t is tuple:
            e = self.tuples.get(id(x))
            return e[2] if e is not None and e[0] is x else len(x) + 1
        if t in (str, bytes, bytearray):
            return len(x) // 8 + 1
        if t is np.ndarray:
            return x.nbytes // 8 + 1
        if isinstance(x, (list, dict, set, frozenset, tuple)):
            return len(x) + 1
        return 1

    def _args_weight(self, args):
        return sum(self._weight(a) for a in args) + 1

    def _tuple(self, items):
        depth, cost = 1, len(items) + 1
        tuples = self.tuples
        for x in items:
            if type(x) is tuple:
                e = tuples.get(id(x))
                if e is not None and e[0] is x:
                    if e[1] >= depth:
                        depth = e[1] + 1
                    cost += e[2]
                else:
                    if depth < 2:
                        depth = 2
                    cost += len(x) + 1
        t = tuple(items)
        if depth > 1:
            if depth > _MAX_TUPLE_DEPTH:
                raise CheckpointError("corrupt PyTorch checkpoint: data.pkl nests tuples more than %d deep"
                                      % _MAX_TUPLE_DEPTH)
            if cost > self.work:
                self._charge(cost)
            tuples[id(t)] = (t, depth, cost)
        return t

    def load_tuple(self):
        items = self.pop_mark()  # first: pop_mark replaces self.append
        self.append(self._tuple(items))

    dispatch[pickle.TUPLE[0]] = load_tuple

    def load_tuple1(self):
        self.stack[-1] = self._tuple((self.stack[-1],))

    dispatch[pickle.TUPLE1[0]] = load_tuple1

    def load_tuple2(self):
        self.stack[-2:] = [self._tuple(self.stack[-2:])]

    dispatch[pickle.TUPLE2[0]] = load_tuple2

    def load_tuple3(self):
        self.stack[-3:] = [self._tuple(self.stack[-3:])]

    dispatch[pickle.TUPLE3[0]] = load_tuple3

    def _charge_keys(self, keys):
        w = 0
        for k in keys:
            w += self._weight(k) if type(k) is tuple else 1
        self._charge(w)

    def load_dict(self):
        items = self.stack
        self._charge_keys(items[0::2])
        pickle._Unpickler.load_dict(self)

    dispatch[pickle.DICT[0]] = load_dict

    def load_setitem(self):
        self._charge_keys((self.stack[-2],))
        pickle._Unpickler.load_setitem(self)

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        self._charge_keys(self.stack[0::2])
        pickle._Unpickler.load_setitems(self)

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self):
        self._charge_keys(self.stack)
        pickle._Unpickler.load_additems(self)

    dispatch[pickle.ADDITEMS[0]] = load_additems

    def load_frozenset(self):
        self._charge_keys(self.stack)
        pickle._Unpickler.load_frozenset(self)

    dispatch[pickle.FROZENSET[0]] = load_frozenset

    @staticmethod
    def _refuse(what, obj):
        raise UnsafeCheckpointError("Weights only load failed: refusing to %s %s: only the allowlisted rebuild "
                                    "functions and classes (see ember.serialization.add_safe_globals) may be used"
                                    % (what, _describe(obj)))

    def load_reduce(self):
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        if id(func) not in self.callables:
            self._refuse("call", func)
        if type(args) is not tuple:
            raise CheckpointError("corrupt pickle: REDUCE arguments are a %s, not a tuple" % type(args).__name__)
        # a set or dict built from its argument hashes every item: charge their tuple trees too
        self._charge(self._args_weight(args) + (
            sum(self._weight(x) for a in args if isinstance(a, (list, tuple, set, frozenset)) for x in a)
            if id(func) in self.hashing else 0))
        stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _new(self, cls, args, kwargs):
        if not isinstance(cls, type) or cls not in self.classes:
            self._refuse("construct", cls)
        if type(args) is not tuple or type(kwargs) is not dict:
            raise CheckpointError("corrupt pickle: NEWOBJ arguments are malformed")
        self._charge(self._args_weight(args) + self._args_weight(kwargs.values()))
        self.append(cls.__new__(cls, *args, **kwargs))

    def load_newobj(self):
        args = self.stack.pop()
        self._new(self.stack.pop(), args, {})

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        self._new(self.stack.pop(), args, kwargs)

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def load_build(self):
        stack = self.stack
        state = stack.pop()
        inst = stack[-1]
        self._charge(self._args_weight(state) if type(state) is tuple else self._weight(state))
        if isinstance(inst, np.dtype):
            _np_build_dtype(inst, state)
            return
        if type(inst) is np.ndarray:
            _np_build_array(inst, state)
            return
        if type(inst) not in self.classes:
            self._refuse("set the state of", inst)
        setstate = getattr(inst, "__setstate__", None)
        if setstate is not None:
            setstate(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if state:
            if not isinstance(state, dict):
                raise CheckpointError("corrupt pickle: BUILD state of %s is a %s" % (_describe(inst),
                                                                                     type(state).__name__))
            inst.__dict__.update(state)
        if slotstate:
            if not isinstance(slotstate, dict):
                raise CheckpointError("corrupt pickle: BUILD slot state is a %s" % type(slotstate).__name__)
            for k, v in slotstate.items():
                setattr(inst, k, v)

    dispatch[pickle.BUILD[0]] = load_build

    def _refuse_opcode(self):
        raise UnsafeCheckpointError("Weights only load failed: refusing the INST/OBJ pickle opcodes (protocol 0/1 "
                                    "object construction), which checkpoints do not use")

    dispatch[pickle.INST[0]] = _refuse_opcode
    dispatch[pickle.OBJ[0]] = _refuse_opcode


class _FullUnpickler(_Unpickling, pickle.Unpickler):
    """weights_only=False: tensors still load through Ember's rebuilders; any other global is imported."""

    def __init__(self, file, archive, restore):
        pickle.Unpickler.__init__(self, file)
        self._setup(archive, False, restore)


def get_unsafe_globals_in_checkpoint(f):
    """The ``"module.name"`` globals that a pickled checkpoint names and that ``ember.load(weights_only=True)``
    would refuse (neither allowed by default nor by :func:`add_safe_globals`), in order of appearance, without
    loading anything: what to review before allowlisting. Ember checkpoints and safetensors files have none.
    A seekable file object is left where it was, ready for ``ember.load``."""
    start = None if _is_path(f) or not hasattr(f, "seekable") or not f.seekable() else f.tell()
    src = _Source(f)
    try:
        head = src.fh.read(16)
        src.fh.seek(0)
        if _detect(head, src.size) != "torch":
            return []
        data = _reading("PyTorch checkpoint", lambda: _TorchArchive(src).record("data.pkl", MAX_PICKLE_BYTES))
    finally:
        src.close()
        if start is not None:
            f.seek(start)
    return _reading("PyTorch checkpoint", _unsafe_globals, data)


def _unsafe_globals(data):
    checker = _WeightsOnlyUnpickler(io.BytesIO(), None, None)
    out, strings, memo = [], [], {}
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "STACK_GLOBAL"):
                if op.name == "GLOBAL":
                    module, name = arg.split(" ", 1)
                elif len(strings) >= 2:
                    module, name = strings[-2], strings[-1]
                else:
                    continue
                if isinstance(module, str) and isinstance(name, str):
                    module, name, found = checker.lookup(module, name)
                    if found is None and module + "." + name not in out:
                        out.append(module + "." + name)
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
                             "BINSTRING", "STRING"):
                strings.append(arg)
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                memo[len(memo) if arg is None else arg] = strings[-1] if strings else None
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                strings.append(memo.get(arg))
    except ValueError as e:  # pickletools' word for a malformed pickle
        raise CheckpointError("corrupt PyTorch checkpoint: data.pkl could not be read (%s)" % e) from None
    return out


def _describe(obj):
    if isinstance(obj, type):
        return "%s.%s" % (obj.__module__, obj.__qualname__)
    name = getattr(obj, "__qualname__", None)
    if name is not None and callable(obj):
        return "%s.%s" % (getattr(obj, "__module__", "?"), name)
    return "an object of type %s.%s" % (type(obj).__module__, type(obj).__qualname__)


def _hook_dict_class():
    try:
        from .nn.modules.module import _HookDict
    except ImportError:
        return None
    return _HookDict


# ------------------------------------------------------------------------------ numpy arrays in pickles
class _Marker:
    """A global the weights-only loader resolves to a name only (never to the class it names)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


_NP_NDARRAY = _Marker("numpy.ndarray")
_EMBER_TENSOR = _Marker("ember.Tensor")
_EMBER_PARAMETER = _Marker("ember.nn.Parameter")


def _check_np_dtype(dt, what):
    if not isinstance(dt, np.dtype) or not _numeric_dtype(dt) or dt.hasobject:
        raise UnsafeCheckpointError("Weights only load failed: refusing a numpy %s of dtype %r: only numeric "
                                    "(bool, integer, float, complex) arrays load with weights_only=True; object "
                                    "and structured arrays need weights_only=False" % (what, dt))


def _np_dtype(obj, align=False, copy=False):
    if type(obj) is not str or len(obj) > 8:
        raise UnsafeCheckpointError("Weights only load failed: refusing numpy.dtype(%r)" % (obj,))
    try:
        dt = np.dtype(obj)
    except TypeError:
        raise CheckpointError("corrupt pickle: unknown numpy dtype %r" % obj) from None
    _check_np_dtype(dt, "dtype")
    return np.dtype(obj, bool(align), True)  # a copy: BUILD sets its byte order in place


def _np_build_dtype(dt, state):
    if (type(state) is not tuple or len(state) not in (8, 9) or state[0] not in (3, 4)
            or state[1] not in ("<", ">", "|", "=") or state[2:5] != (None, None, None)
            or not all(type(v) is int for v in state[5:8]) or state[7] != 0 or (len(state) == 9 and state[8])):
        raise UnsafeCheckpointError("Weights only load failed: refusing numpy dtype state %r: only plain numeric "
                                    "dtypes are allowed" % (state,)[:200])
    dt.__setstate__(state)
    _check_np_dtype(dt, "dtype")


def _np_reconstruct(subtype, shape, typecode):
    if subtype is not _NP_NDARRAY or shape != (0,) or typecode != b"b":
        raise UnsafeCheckpointError("Weights only load failed: refusing numpy _reconstruct%r: only plain "
                                    "ndarrays are allowed" % ((subtype, shape, typecode),)[:200])
    return np.empty((0,), np.int8)


def _np_build_array(arr, state):
    if type(state) is not tuple or len(state) != 5 or state[0] != 1:
        raise CheckpointError("corrupt pickle: numpy array state is malformed")
    _, shape, dt, fortran, raw = state
    _check_np_dtype(dt, "array")
    if (type(shape) is not tuple or len(shape) > 64 or not all(type(n) is int and n >= 0 for n in shape)
            or type(fortran) is not bool or not isinstance(raw, (bytes, bytearray))
            or len(raw) != dt.itemsize * math.prod(shape)):
        raise CheckpointError("corrupt pickle: numpy array of shape %r holds %s" % (shape, type(raw).__name__))
    arr.__setstate__(state)


def _np_scalar(dt, data):
    _check_np_dtype(dt, "scalar")
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise CheckpointError("corrupt pickle: numpy scalar of dtype %s holds %r" % (dt, data)[:200])
    return np.frombuffer(data, dt)[0]


def _rebuild_ember_tensor(cls, data, tag, requires_grad, state):
    if (cls not in (_EMBER_TENSOR, _EMBER_PARAMETER) or type(data) is not np.ndarray or tag not in _DTYPES
            or type(requires_grad) is not bool or type(state) is not dict or not all(type(k) is str for k in state)):
        raise UnsafeCheckpointError("Weights only load failed: refusing ember._tensor._rebuild_tensor with these "
                                    "arguments: only Ember tensors and parameters of numeric arrays are allowed")
    from ._tensor import _rebuild_tensor
    return _rebuild_tensor(Tensor if cls is _EMBER_TENSOR else _param_class(), data, tag,
                           requires_grad and _DTYPES[tag].is_floating_point, state)


def _make_bytearray(data=b"", encoding=None):
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin1"))
    if not isinstance(data, (bytes, bytearray)) or encoding is not None:
        raise UnsafeCheckpointError("Weights only load failed: refusing bytearray%r: only bytes are allowed"
                                    % ((data, encoding),)[:200])
    return bytearray(data)


def _make_complex(real=0.0, imag=0.0):
    if type(real) not in (int, float) or type(imag) not in (int, float):
        raise CheckpointError("corrupt pickle: complex(%r, %r)" % (real, imag))
    return complex(real, imag)


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
# The weights-only unpickler's work budget (see _WeightsOnlyUnpickler._charge): elements copied or hashed beyond
# what the opcodes push themselves, per byte of pickle, plus a floor for tiny pickles. Real checkpoints use
# about 0.15 units per byte (PyTorch and Ember state dicts with optimizer state, whole Ember modules); a pickle
# made of one big set of tuples about 1.
_PICKLE_WORK_PER_BYTE = 4
_PICKLE_WORK_BASE = 1 << 18
# tuples nested deeper than this are refused: Python hashes (and compares) them recursively in C
_MAX_TUPLE_DEPTH = 1000


def _load_torch(src, weights_only=True, restore=None):
    archive = _TorchArchive(src)
    data = archive.record("data.pkl", MAX_PICKLE_BYTES)
    if weights_only:
        unpickler = _WeightsOnlyUnpickler(io.BytesIO(data), archive, restore, len(data))
    else:
        unpickler = _FullUnpickler(io.BytesIO(data), archive, restore)
    unpickler.passthrough = None
    try:
        return unpickler.load()
    except CheckpointError:
        raise
    except Exception as e:
        if e is unpickler.passthrough:
            raise
        if isinstance(e, RecursionError):
            raise CheckpointError("corrupt PyTorch checkpoint: data.pkl is nested too deeply") from None
        # malformed pickles raise many types; all mean a bad file
        raise CheckpointError("corrupt PyTorch checkpoint: data.pkl could not be read (%s: %s)"
                              % (type(e).__name__, _short(str(e)))) from None


# ====================================================================================================== pickled


class _TorchGlobal:
    """A global of PyTorch's checkpoint format (torch._utils._rebuild_tensor_v2, torch.FloatStorage, ...), written
    by name so that Ember writes archives torch.load reads without importing torch."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce requires a callable; this one only names the function
        raise TypeError("%s.%s is a name written into checkpoints, not a function" % (self.module, self.name))


_REBUILD_TENSOR_V2 = _TorchGlobal("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _TorchGlobal("torch._utils", "_rebuild_parameter")
_TORCH_SIZE = _TorchGlobal("torch", "Size")
_TORCH_DEVICE = _TorchGlobal("torch", "device")
_SAVE_STORAGE_TYPES = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
                       "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage",
                       "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
                       "bool": "BoolStorage"}
_SAVE_STORAGE_GLOBALS = {k: _TorchGlobal("torch", v) for k, v in _SAVE_STORAGE_TYPES.items()}
_SAVE_DTYPE_GLOBALS = {k: _TorchGlobal("torch", k) for k in _DTYPES}


class _StorageRef:
    """One saved storage as the pickle refers to it (a persistent id)."""

    __slots__ = ("pid",)

    def __init__(self, pid):
        self.pid = pid


class _PlainTensor:
    """A Parameter's data, pickled as a plain tensor inside _rebuild_parameter."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor


class _ArchivePickler(pickle._Pickler):
    """Pickles an object tree the way torch.save does: tensors as _rebuild_tensor_v2 over persistent storage ids,
    dtypes/sizes/devices as their torch globals, everything else by standard pickling (classes by reference).
    The pure-Python pickler is used because it lets _TorchGlobal write a GLOBAL opcode for a module that need not
    be importable here."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, fh, protocol):
        super().__init__(fh, protocol=protocol)
        self.storages = []      # (record key, uint8 numpy view of the storage)
        self.storage_keys = {}  # storage id -> (_StorageRef, dtype)
        self.keep = []          # tensors whose storage ids are in storage_keys

    def _save_torch_global(self, obj):
        self.write(pickle.GLOBAL + ("%s\n%s\n" % (obj.module, obj.name)).encode("utf-8"))
        self.memoize(obj)

    dispatch[_TorchGlobal] = _save_torch_global

    def _save_dtype(self, obj):
        self.save(_SAVE_DTYPE_GLOBALS[obj._name])

    dispatch[_C.dtype] = _save_dtype

    def persistent_id(self, obj):
        return obj.pid if type(obj) is _StorageRef else None

    def save(self, obj, save_persistent_id=True):
        try:
            return super().save(obj, save_persistent_id)
        except _UnpicklableError:
            raise
        except (pickle.PicklingError, AttributeError, TypeError) as e:  # named after the innermost object
            raise _UnpicklableError("ember.save can't store objects of type %s: %s" % (type(obj).__qualname__, e)) \
                from None

    def _storage(self, t):
        sid = _C.storage_id(t)
        entry = self.storage_keys.get(sid)
        if entry is None:
            key = str(len(self.storages))
            nbytes = _C.storage_nbytes(t)
            ref = _StorageRef(("storage", _SAVE_STORAGE_GLOBALS[t.dtype._name], key, "cpu",
                               nbytes // t.element_size()))
            self.storages.append((key, _storage_bytes(t)))
            self.keep.append(t)
            entry = self.storage_keys[sid] = (ref, t.dtype)
        elif entry[1] is not t.dtype:
            raise ValueError("ember.save: cannot save tensors of dtypes %s and %s that view the same storage (as "
                             "in PyTorch, clone one of them first)" % (entry[1]._name, t.dtype._name))
        return entry[0]

    def _tensor_reduce(self, t, requires_grad):
        return (_REBUILD_TENSOR_V2, (self._storage(t), t.storage_offset(), tuple(t._shape), tuple(t.stride()),
                                     requires_grad, OrderedDict()))

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            _refuse_sparse(obj)
            if getattr(type(obj), "_is_param", False):
                return (_REBUILD_PARAMETER, (_PlainTensor(obj), bool(obj.requires_grad), OrderedDict()))
            return self._tensor_reduce(obj, bool(obj.requires_grad))
        if type(obj) is _PlainTensor:
            return self._tensor_reduce(obj.tensor, False)
        if type(obj) is Size:
            return (_TORCH_SIZE, (tuple(int(s) for s in obj),))
        if isinstance(obj, _device):
            return (_TORCH_DEVICE, (str(obj),))
        return NotImplemented


def _refuse_sparse(t):
    if t.is_sparse:
        raise ValueError("ember.save: sparse tensors cannot be saved yet; save t.to_dense(), or t.coalesce()'s "
                         "indices() and values()")


def _pickle_archive(obj, protocol):
    """Pickles obj now (so unpicklable objects fail before a file is touched); returns a function writing the
    zip archive to a binary file object."""
    if not isinstance(protocol, int) or not 2 <= protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError("ember.save: pickle_protocol must be an integer in [2, %d], got %r"
                         % (pickle.HIGHEST_PROTOCOL, protocol))
    buf = io.BytesIO()
    pickler = _ArchivePickler(buf, protocol)
    try:
        pickler.dump(obj)
    except RecursionError:
        raise ValueError("ember.save: the object is nested too deeply to pickle") from None
    records = [("data.pkl", buf.getvalue()), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", b"little")]
    records += [("data/" + key, arr) for key, arr in pickler.storages]
    records += [("version", b"3\n"), (".data/serialization_id", b"%d" % int.from_bytes(os.urandom(8), "little"))]

    def write(fh):
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, data in records:
                _write_record(zf, "archive/" + name, data)
    return write


def _write_record(zf, name, data):
    """A stored (uncompressed) record whose data starts on a 64-byte boundary, as PyTorch aligns them (padding
    in a local-header extra field, so readers may map the storages)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    nbytes = len(memoryview(data).cast("B"))
    big = nbytes * 1.05 > zipfile.ZIP64_LIMIT
    start = zf.fp.tell() + 30 + len(name.encode("utf-8")) + (20 if big else 0) + 4
    pad = (-start) % _ALIGN
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    with zf.open(info, "w", force_zip64=big) as out:
        mv = memoryview(data).cast("B")
        for i in range(0, nbytes, _READ_CHUNK):
            out.write(mv[i:i + _READ_CHUNK])
