"""LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, the network of the classic PyTorch CIFAR tutorial."""
from ... import nn
from ._weights import check_legacy_kwargs, load_weights

__all__ = ["LeNet", "lenet"]


class LeNet(nn.Module):
    """Two 5x5 convolutions (6 and 16 channels, each followed by ReLU and 2x2 max pooling) and three fully
    connected layers (120, 84, num_classes).

    Args:
        num_classes: output logits.
        in_channels: 3 for colour (CIFAR-10), 1 for grey images.
        input_size: height = width of the input, at most 32; smaller inputs are zero-padded to 32 by the first
            convolution (28 -> padding 2, LeNet-5's MNIST setup).
    """

    def __init__(self, num_classes=10, in_channels=3, input_size=32):
        super().__init__()
        if not 5 <= input_size <= 32:
            raise ValueError("LeNet expects input_size between 5 and 32, got %d" % input_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=(32 - input_size + 1) // 2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = x.flatten(1)
        return self.classifier(x)


def lenet(*, weights=None, progress=True, **kwargs):
    """A :class:`LeNet`; ``weights`` may be the path of a checkpoint holding its state_dict."""
    check_legacy_kwargs(kwargs)
    return load_weights(LeNet(**kwargs), weights, progress)
