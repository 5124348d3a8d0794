"""The UCI handwritten digits (8x8), shipped inside Ember so examples and ``ember-train`` run offline."""
import functools
import gzip
import os

import numpy as np

from ..._ops.creation import from_numpy
from .vision import _SplitDataset

__all__ = ["Digits"]

DATA_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "digits.csv.gz")
LICENSE_FILE = os.path.join(os.path.dirname(DATA_FILE), "DIGITS_LICENSE.txt")


@functools.lru_cache(maxsize=1)
def _load():
    with gzip.open(DATA_FILE, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :64].astype(np.uint8).reshape(-1, 8, 8)
    labels = table[:, 64]
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


class Digits(_SplitDataset):
    """Optical Recognition of Handwritten Digits (E. Alpaydin and C. Kaynak, UCI, CC BY 4.0): 1,797 grey 8x8
    images of the digits 0-9, each pixel counting the "on" pixels (0..16) of a 4x4 block of a 32x32 bitmap.

    The data ship with Ember (``ember/vision/data/digits.csv.gz``; attribution in ``DIGITS_LICENSE.txt`` next
    to it), so nothing is downloaded. The split is fixed: sample ``i`` of the file is a test sample when
    ``i % 4 == 3``, giving 1,348 training and 449 test images with every class in both.

    Args:
        train: the training split (else the test split).
        transform: applied to the image, a float32 tensor ``(1, 8, 8)`` scaled to [0, 1] (pixel / 16).
        target_transform: applied to the label (an int).
        root, download: accepted so that every dataset can be built the same way; unused.

    ``data`` is the uint8 tensor ``(N, 8, 8)`` of raw values 0..16, ``targets`` an int64 tensor ``(N,)``.
    """

    classes = [str(i) for i in range(10)]
    license_file = LICENSE_FILE

    def __init__(self, train=True, transform=None, target_transform=None, root=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        images, labels = _load()
        keep = (np.arange(len(labels)) % 4 == 3) != train
        self._images = np.ascontiguousarray(images[keep])
        self._labels = np.ascontiguousarray(labels[keep])
        self.data = from_numpy(self._images)
        self.targets = from_numpy(self._labels)
        self._scaled = from_numpy(self._images.astype(np.float32) / 16.0).view(-1, 1, 8, 8)

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def _sample(self, index):
        return self._scaled[index], int(self._labels[index])
