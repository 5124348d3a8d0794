"""Image datasets read from their standard files in a local folder (MNIST, Fashion-MNIST, CIFAR-10) and the
UCI digits bundled with Ember."""
from .cifar import CIFAR10, PlainDataUnpickler, UnsafePickleError
from .digits import Digits
from .mnist import MNIST, FashionMNIST
from .vision import VisionDataset

__all__ = ["CIFAR10", "Digits", "FashionMNIST", "MNIST", "PlainDataUnpickler", "UnsafePickleError",
           "VisionDataset"]
