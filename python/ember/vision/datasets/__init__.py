"""Image datasets read from their standard files in a local folder (MNIST, Fashion-MNIST, CIFAR-10, class
folders of images), the UCI digits bundled with Ember, and FakeData."""
from .cifar import CIFAR10, PlainDataUnpickler, UnsafePickleError
from .digits import Digits
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST
from .vision import VisionDataset

__all__ = ["CIFAR10", "DatasetFolder", "Digits", "FakeData", "FashionMNIST", "ImageFolder", "MNIST",
           "PlainDataUnpickler", "UnsafePickleError", "VisionDataset"]
