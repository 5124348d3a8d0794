"""VisionDataset: the base of the image datasets (root folder, transforms, torchvision-style repr)."""
import os

from ...utils.data import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """Base class: stores ``root`` and applies ``transform`` to images and ``target_transform`` to targets (or
    ``transforms`` to both at once)."""

    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        if isinstance(root, (str, os.PathLike)):
            root = os.path.expanduser(root)
        self.root = root
        has_transforms = transforms is not None
        has_separate = transform is not None or target_transform is not None
        if has_transforms and has_separate:
            raise ValueError("Only transforms or transform/target_transform can be passed as argument")
        self.transform = transform
        self.target_transform = target_transform
        if has_separate:
            transforms = _PairTransform(transform, target_transform)
        self.transforms = transforms

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def extra_repr(self):
        return ""

    def __repr__(self):
        body = ["Number of datapoints: %d" % len(self)]
        if self.root is not None:
            body.append("Root location: %s" % self.root)
        body += self.extra_repr().splitlines()
        if self.transforms is not None:
            body += repr(self.transforms).splitlines()
        return "\n".join(["Dataset " + type(self).__name__] + [" " * self._repr_indent + line for line in body])


class _SplitDataset(VisionDataset):
    """A train or test split of (image, label) samples; subclasses provide ``_sample(index)`` and ``targets``."""

    def _sample(self, index):
        raise NotImplementedError

    def __getitem__(self, index):
        img, target = self._sample(index)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.targets)

    def extra_repr(self):
        return "Split: %s" % ("Train" if self.train else "Test")


class _PairTransform:
    """Applies a transform to the image and another to the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    def __repr__(self):
        lines = []
        if self.transform is not None:
            lines += ["Transform: " + repr(self.transform).splitlines()[0]] + repr(self.transform).splitlines()[1:]
        if self.target_transform is not None:
            lines += ["Target transform: " + repr(self.target_transform).splitlines()[0]] + \
                repr(self.target_transform).splitlines()[1:]
        return "\n".join(lines)
