"""``FakeData``: random images with random labels, the same for a given index every time (torchvision's API)."""
import numpy as np

from ..._ops.creation import Generator, randint, randn
from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """``size`` random images of ``image_size`` ``(C, H, W)`` with labels in ``[0, num_classes)``.

    Sample ``i`` is drawn from a generator seeded with ``i + random_offset`` (the global random state is left
    alone), so it is the same on every access. As in torchvision the image is a standard normal draw converted
    like ``ToPILImage`` converts a float tensor (``x * 255`` truncated to uint8, wrapping); it is returned as a PIL
    image when Pillow is installed, else as a uint8 numpy array ``(H, W, C)`` (``(H, W)`` for one channel).
    The label is a Python int.
    """

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        super().__init__(transform=transform, target_transform=target_transform)
        if not isinstance(size, int) or size < 0:
            raise ValueError("FakeData: size must be a non-negative integer, got %r" % (size,))
        image_size = tuple(image_size)
        if len(image_size) != 3 or not all(isinstance(n, int) and n > 0 for n in image_size):
            raise ValueError("FakeData: image_size must be (C, H, W) of positive integers, got %r" % (image_size,))
        if image_size[0] not in (1, 3, 4):
            raise ValueError("FakeData: images need 1, 3 or 4 channels, got %d" % image_size[0])
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError("FakeData: num_classes must be a positive integer, got %r" % (num_classes,))
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError("%s index out of range" % type(self).__name__)
        index %= self.size
        gen = Generator().manual_seed(index + self.random_offset)
        img = randn(*self.image_size, generator=gen).numpy()
        target = int(randint(0, self.num_classes, (1,), generator=gen)[0])
        pixels = (np.trunc(img * 255).astype(np.int64) % 256).astype(np.uint8).transpose(1, 2, 0)
        img = _as_image(pixels[:, :, 0] if pixels.shape[2] == 1 else np.ascontiguousarray(pixels))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size


def _as_image(pixels):
    try:
        from PIL import Image
    except ImportError:
        return pixels
    return Image.fromarray(pixels)
