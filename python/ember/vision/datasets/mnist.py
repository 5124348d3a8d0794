"""MNIST and Fashion-MNIST from their IDX files (gzipped or not) under ``root/<ClassName>/raw``, the layout
torchvision uses."""
import gzip
import os
import struct

import numpy as np

from ..._ops.creation import from_numpy
from .utils import NETWORK_ERRORS, download_error, download_url
from .vision import _SplitDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

# IDX element type codes -> big-endian numpy dtypes
_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Reads an IDX file (the MNIST format: 2 zero bytes, a type code, the number of dims, each dim as a big-endian
    u32, then the data) into a numpy array, gunzipping when the name ends in .gz. Raises ValueError naming the
    file when it is not a complete IDX file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("%s is not an IDX file (its first two bytes must be zero)" % path)
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError("%s: unknown IDX element type 0x%02X" % (path, code))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError("%s: truncated IDX header" % path)
    dims = struct.unpack(">%dI" % ndim, raw[4:header])
    dtype = _IDX_TYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError("%s: IDX header says %s x %s (%d bytes in all) but the file has %d bytes"
                         % (path, dims, dtype.name, expected, len(raw)))
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


class MNIST(_SplitDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28x28, 10 classes.

    Reads ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) from ``root/MNIST/raw``.

    Args:
        root: the folder holding ``MNIST/raw``.
        train: the training split (else the test split).
        transform: applied to the image, a uint8 numpy array ``(28, 28)`` (e.g. ``transforms.ToTensor()``).
        target_transform: applied to the label (an int).
        download: fetch the missing files from the mirrors first (checked against their MD5); without network
            access this fails with a message naming the URLs and the folder to put the files in.

    ``data`` is a uint8 tensor ``(N, 28, 28)`` and ``targets`` an int64 tensor ``(N,)``.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        images_path = self._find(prefix + "-images-idx3-ubyte")
        labels_path = self._find(prefix + "-labels-idx1-ubyte")
        if images_path is None or labels_path is None:
            names = ", ".join(name for name, _ in self.resources)
            raise RuntimeError("Dataset not found: %s needs %s (gzipped or not) in %s. Use download=True to "
                               "download it, or download the files from %s and place them there."
                               % (type(self).__name__, names, self.raw_folder, self.mirrors[0]))
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError("%s: expected images (N, H, W) and labels (N,), got %s and %s"
                             % (self.raw_folder, images.shape, labels.shape))
        self._images = np.ascontiguousarray(images.astype(np.uint8, copy=False))
        self._labels = labels.astype(np.int64)
        self.data = from_numpy(self._images)
        self.targets = from_numpy(self._labels)

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _find(self, name):
        for candidate in (name, name + ".gz"):
            path = os.path.join(self.raw_folder, candidate)
            if os.path.isfile(path):
                return path
        return None

    def _check_exists(self):
        return all(self._find(name[:-3]) is not None for name, _ in self.resources)

    def download(self):
        """Downloads the missing files into raw_folder, trying each mirror in turn."""
        for filename, md5 in self.resources:
            if self._find(filename[:-3]) is not None:
                continue
            urls, errors = [], []
            for mirror in self.mirrors:
                url = mirror + filename
                try:
                    download_url(url, self.raw_folder, filename, md5)
                    break
                except NETWORK_ERRORS + (RuntimeError,) as e:
                    urls.append(url)
                    errors.append(e)
            else:
                raise download_error(filename, urls, self.raw_folder, errors)

    def _sample(self, index):
        return self._images[index], int(self._labels[index])


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the MNIST format and sizes with 10 clothing classes; files under
    ``root/FashionMNIST/raw``. Same arguments as :class:`MNIST`."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
