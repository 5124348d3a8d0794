"""LeNet on CIFAR-10 with the usual augmentation (random crop with padding, horizontal flips) and a DataLoader.

Reads CIFAR-10 from --data-dir (the binary or Python version, extracted as cifar-10-batches-bin or
cifar-10-batches-py); when the files are absent it makes a synthetic dataset in the same format (32x32x3 uint8
images, 10 classes, each class a noisy colour pattern) so the example always runs.

    python examples/lenet_cifar.py --data-dir ./data --epochs 10 --workers 2
"""
import argparse
import os

import numpy as np

import ember
from ember import nn
from ember.utils.data import DataLoader, Dataset
from ember.vision import datasets, models, transforms

from _common import QUICK


class SyntheticCIFAR(Dataset):
    """CIFAR-format stand-in: item i is (uint8 HWC image, label); class k has its own colour and stripe
    orientation, plus noise."""

    classes = ["class%d" % k for k in range(10)]

    def __init__(self, n, train=True, transform=None, seed=0):
        rng = np.random.default_rng(seed + (0 if train else 1))
        self.targets = rng.integers(0, 10, size=n).tolist()
        palette = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40], [200, 40, 200],
                            [40, 200, 200], [120, 120, 120], [230, 140, 40], [90, 40, 160], [30, 110, 60]])
        yy, xx = np.mgrid[0:32, 0:32]
        images = []
        for k in self.targets:
            angle = np.pi * k / 10
            stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 0.9)[..., None] * 50
            img = palette[k] + stripes + rng.normal(0, 20, size=(32, 32, 3))
            images.append(np.clip(img, 0, 255).astype(np.uint8))
        self.data = np.stack(images)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img = self.data[i]
        return (self.transform(img) if self.transform else img), self.targets[i]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="./data")
    p.add_argument("--epochs", type=int, default=2 if QUICK else 10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=0)
    args = p.parse_args()

    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    test_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])
    try:
        train_set = datasets.CIFAR10(args.data_dir, train=True, transform=train_tf)
        test_set = datasets.CIFAR10(args.data_dir, train=False, transform=test_tf)
        print("CIFAR-10 from", os.path.abspath(args.data_dir))
    except RuntimeError:
        n_train, n_test = (1024, 256) if QUICK else (5000, 1000)
        train_set = SyntheticCIFAR(n_train, train=True, transform=train_tf)
        test_set = SyntheticCIFAR(n_test, train=False, transform=test_tf)
        print("no CIFAR-10 files in %s: using %d synthetic CIFAR-format images" % (args.data_dir, n_train))

    ember.manual_seed(0)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.workers)
    test_loader = DataLoader(test_set, batch_size=256, num_workers=args.workers)
    model = models.LeNet(num_classes=10)
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(1, args.epochs + 1):
        model.train()
        running = 0.0
        for i, (images, labels) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item()
        model.eval()
        correct = total = 0
        with ember.no_grad():
            for images, labels in test_loader:
                correct += (model(images).argmax(1) == labels).sum().item()
                total += labels.shape[0]
        print("epoch %d: train loss %.3f, test accuracy %.1f%%" % (epoch, running / (i + 1), 100 * correct / total))


if __name__ == "__main__":
    main()
