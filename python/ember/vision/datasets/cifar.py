"""CIFAR-10 from its binary version (``cifar-10-batches-bin``) or its Python version (``cifar-10-batches-py``).

The Python version is pickled; it is read by :class:`PlainDataUnpickler`, which admits only plain data (dicts,
lists, tuples, strings, bytes, numbers) and uint8 numpy arrays, rebuilt by Ember from their raw bytes rather than
by numpy's own pickle hooks. Any other object in the file is refused, so a hostile file cannot run code.
"""
import os
import pickle

import numpy as np

from .utils import NETWORK_ERRORS, check_integrity, download_error, download_url, extract_archive
from .vision import _SplitDataset

__all__ = ["CIFAR10", "PlainDataUnpickler", "UnsafePickleError"]


class UnsafePickleError(pickle.UnpicklingError):
    """A data file asked to unpickle something other than plain data."""


class _DtypeSpec:
    """Stands in for ``numpy.dtype(...)`` in a pickle; only uint8 is accepted."""

    def __init__(self, name, align=False, copy=False):
        if name not in ("u1", "|u1", "uint8", "B"):
            raise UnsafePickleError("only uint8 numpy arrays are allowed, got dtype %r" % (name,))

    def __setstate__(self, state):
        # (version, byte order, subarray, names, fields, elsize, alignment, flags): a plain uint8 has no
        # subarray, fields or names
        if (not isinstance(state, tuple) or len(state) < 5 or state[1] not in ("|", "=", "<", ">")
                or any(s is not None for s in state[2:5])):
            raise UnsafePickleError("unexpected numpy dtype state %r" % (state,))


class _ArraySpec:
    """Stands in for ``numpy.core.multiarray._reconstruct(ndarray, ...)``; its state gives shape and bytes."""

    def __init__(self, array=None):
        self.array = array

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise UnsafePickleError("unexpected numpy array state")
        _, shape, dtype, fortran, raw = state
        self.array = _uint8_array(raw, dtype, shape, "F" if fortran else "C")


def _uint8_array(raw, dtype, shape, order):
    if not isinstance(dtype, _DtypeSpec):
        raise UnsafePickleError("numpy array without a uint8 dtype")
    if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
        raise UnsafePickleError("bad numpy array shape %r" % (shape,))
    if isinstance(raw, str):  # a Python 2 str, read with encoding="latin1"
        raw = raw.encode("latin1")
    if isinstance(raw, pickle.PickleBuffer):
        raw = bytes(raw)
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleError("numpy array data must be bytes")
    if len(raw) != int(np.prod(shape, dtype=np.int64)):
        raise UnsafePickleError("numpy array data has %d bytes for shape %s" % (len(raw), shape))
    return np.frombuffer(bytes(raw), dtype=np.uint8).reshape(shape, order=order).copy()


class _Marker:
    def __init__(self, name):
        self.name = name


# what ``numpy.ndarray`` resolves to: an argument _reconstruct recognises, deliberately not callable
_NDARRAY = _Marker("numpy.ndarray")


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise UnsafePickleError("only plain numpy arrays are allowed")
    return _ArraySpec()


def _frombuffer(buf, dtype, shape, order):
    return _ArraySpec(_uint8_array(buf, dtype, tuple(shape), order))


def _codecs_encode(obj, encoding="utf-8"):
    # protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, "latin1")
    if type(obj) is not str or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("unexpected _codecs.encode call")
    return obj.encode("latin1")


class PlainDataUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, tuples, str, bytes, numbers, None/bools and uint8 numpy arrays; refuses any other
    global with :class:`UnsafePickleError`. Use :meth:`load_plain` to get the arrays as numpy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _DtypeSpec,
        ("_codecs", "encode"): _codecs_encode,
    }

    def __init__(self, file, source="<pickle>"):
        # latin1 turns Python 2 str (as in the original CIFAR files) into str without guessing an encoding
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module, name):
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise UnsafePickleError(
                "refusing to unpickle %s.%s from %s: data files may only hold plain data (dict, list, str, bytes, "
                "numbers) and uint8 numpy arrays, and Ember never runs code from them" % (module, name, self.source))
        return found

    def persistent_load(self, pid):
        raise UnsafePickleError("%s: persistent ids are not allowed in data files" % self.source)

    def load_plain(self):
        return _finish(self.load())


def _finish(obj):
    """Replaces the array stand-ins by numpy arrays (and rejects any other non-plain object)."""
    if isinstance(obj, _ArraySpec):
        if obj.array is None:
            raise UnsafePickleError("incomplete numpy array in pickle")
        return obj.array
    if isinstance(obj, dict):
        return {_finish(k): _finish(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    if obj is None or isinstance(obj, (str, bytes, bool, int, float)):
        return obj
    raise UnsafePickleError("unexpected %s object in pickle" % type(obj).__name__)


def _text(s):
    return s.decode("latin1") if isinstance(s, bytes) else s


class CIFAR10(_SplitDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

    Reads ``root/cifar-10-batches-py`` (the Python version: ``data_batch_1`` ... ``data_batch_5``,
    ``test_batch``, ``batches.meta``) or else ``root/cifar-10-batches-bin`` (the binary version:
    ``data_batch_1.bin`` ... ``test_batch.bin``, each record a label byte then 3072 pixel bytes, and
    ``batches.meta.txt``).

    Args:
        root: the folder holding ``cifar-10-batches-py`` or ``cifar-10-batches-bin``.
        train: the training split (else the test split).
        transform: applied to the image, a uint8 numpy array ``(32, 32, 3)`` (HWC, as a PIL image would be).
        target_transform: applied to the label (an int).
        download: when neither folder exists, download the Python version archive (MD5-checked) and extract
            it; without network access this fails with a message naming the URL and where to put the files.

    ``data`` is a uint8 numpy array ``(N, 32, 32, 3)``, ``targets`` a list of ints, ``classes`` the names.
    """

    base_folder = "cifar-10-batches-py"
    binary_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    test_list = ["test_batch"]
    meta = {"filename": "batches.meta", "key": "label_names"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        names = self.train_list if train else self.test_list
        py_dir = os.path.join(self.root, self.base_folder)
        bin_dir = os.path.join(self.root, self.binary_folder)
        if os.path.isdir(py_dir):
            data, targets = zip(*(self._read_python_batch(os.path.join(py_dir, n)) for n in names))
            classes = self._read_python_meta(os.path.join(py_dir, self.meta["filename"]))
        elif os.path.isdir(bin_dir):
            data, targets = zip(*(self._read_binary_batch(os.path.join(bin_dir, n + ".bin")) for n in names))
            classes = self._read_binary_meta(os.path.join(bin_dir, "batches.meta.txt"))
        else:
            raise RuntimeError("Dataset not found: %s needs %s or %s in %s. Use download=True to download it, or "
                               "download %s (or the binary version) and extract it there."
                               % (type(self).__name__, self.base_folder, self.binary_folder, self.root, self.url))
        # stored as 3 planes of 32x32 per image; HWC like the PIL images torchvision returns
        self.data = np.ascontiguousarray(np.concatenate(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.targets = [int(t) for batch in targets for t in batch]
        if any(t < 0 or t >= len(classes) for t in self.targets):
            raise ValueError("%s: labels outside 0..%d" % (self.root, len(classes) - 1))
        self.classes = classes
        self.class_to_idx = {c: i for i, c in enumerate(classes)}

    @staticmethod
    def _read_python_batch(path):
        entry = _load_plain(path)
        if not isinstance(entry, dict):
            raise ValueError("%s: expected a dict, got %s" % (path, type(entry).__name__))
        entry = {_text(k): v for k, v in entry.items()}
        data = entry.get("data")
        labels = entry.get("labels", entry.get("fine_labels"))
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError("%s: 'data' must be a uint8 array of shape (N, 3072)" % path)
        if not isinstance(labels, list) or len(labels) != len(data) or not all(type(t) is int for t in labels):
            raise ValueError("%s: 'labels' must be a list of %d ints" % (path, len(data)))
        return data, labels

    @classmethod
    def _read_python_meta(cls, path):
        entry = _load_plain(path)
        names = {_text(k): v for k, v in entry.items()}.get(cls.meta["key"]) if isinstance(entry, dict) else None
        if not isinstance(names, list):
            raise ValueError("%s: expected a dict with '%s'" % (path, cls.meta["key"]))
        return [_text(n) for n in names]

    @staticmethod
    def _read_binary_batch(path):
        if not os.path.isfile(path):
            raise RuntimeError("Dataset file missing: %s" % path)
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % 3073:
            raise ValueError("%s: %d bytes is not a whole number of 3073-byte CIFAR-10 records" % (path, raw.size))
        records = raw.reshape(-1, 3073)
        return records[:, 1:], records[:, 0].tolist()

    @staticmethod
    def _read_binary_meta(path):
        if not os.path.isfile(path):
            raise RuntimeError("Dataset file missing: %s" % path)
        with open(path, "r", encoding="latin1") as f:
            return [line.strip() for line in f if line.strip()]

    def download(self):
        """Downloads and extracts the Python version unless one of the two versions is already there."""
        if (os.path.isdir(os.path.join(self.root, self.base_folder))
                or os.path.isdir(os.path.join(self.root, self.binary_folder))):
            return
        archive = os.path.join(self.root, self.filename)
        if not check_integrity(archive, self.tgz_md5):
            try:
                download_url(self.url, self.root, self.filename, self.tgz_md5)
            except NETWORK_ERRORS + (RuntimeError,) as e:
                raise download_error(self.filename, [self.url], self.root + " (extracted, so that %s exists)"
                                     % os.path.join(self.root, self.base_folder), [e]) from None
        extract_archive(archive, self.root)

    def _sample(self, index):
        return self.data[index], self.targets[index]


def _load_plain(path):
    if not os.path.isfile(path):
        raise RuntimeError("Dataset file missing: %s" % path)
    with open(path, "rb") as f:
        return PlainDataUnpickler(f, source=path).load_plain()
