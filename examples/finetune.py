"""Fine-tuning: pretrain a small CNN on the digits 0-4, then adapt it to the digits 5-9 with a new head.

Phase 1 freezes the pretrained feature extractor (requires_grad_(False)) and trains only the new head;
phase 2 unfreezes everything and trains with per-group learning rates: small for the pretrained features,
larger for the head. Uses the UCI digits that ship with Ember, so no download is needed.
"""
import ember
from ember import nn
from ember.utils.data import DataLoader, Subset
from ember.vision import datasets

from _common import steps


class SmallCNN(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 4x4 -> 2x2
            nn.Flatten(),
        )
        self.head = nn.Linear(32 * 2 * 2, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


def digits_subset(train, keep, offset):
    """The samples whose label is in `keep`, relabelled to 0..len(keep)-1."""
    ds = datasets.Digits(train=train, target_transform=lambda y: y - offset)
    return Subset(ds, [i for i, y in enumerate(ds.targets.tolist()) if y in keep])


def fit(model, loader, optimizer, epochs):
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()


def accuracy(model, dataset):
    model.eval()
    x, y = next(iter(DataLoader(dataset, batch_size=len(dataset))))
    with ember.no_grad():
        return 100.0 * (model(x).argmax(1) == y).float().mean().item()


ember.manual_seed(0)
first, second = range(0, 5), range(5, 10)
pre_train, pre_test = digits_subset(True, first, 0), digits_subset(False, first, 0)
new_train, new_test = digits_subset(True, second, 5), digits_subset(False, second, 5)

# pretraining on 0-4
model = SmallCNN(num_classes=5)
fit(model, DataLoader(pre_train, batch_size=32, shuffle=True),
    ember.optim.Adam(model.parameters(), lr=1e-2), epochs=steps(10, 4))
print("pretrained on 0-4: test accuracy %.1f%%" % accuracy(model, pre_test))

# phase 1: a new head for 5-9, features frozen
model.head = nn.Linear(32 * 2 * 2, 5)
model.features.requires_grad_(False)
frozen_before = [p.detach().clone() for p in model.features.parameters()]
trainable = [p for p in model.parameters() if p.requires_grad]
print("phase 1 trains %d of %d parameter tensors (the head)" % (len(trainable), len(list(model.parameters()))))
loader = DataLoader(new_train, batch_size=32, shuffle=True)
fit(model, loader, ember.optim.SGD(trainable, lr=0.1, momentum=0.9), epochs=steps(10, 4))
unchanged = all(bool(ember.equal(a, b)) for a, b in zip(frozen_before, model.features.parameters()))
print("phase 1 (head only) on 5-9: test accuracy %.1f%%, frozen features unchanged: %s"
      % (accuracy(model, new_test), unchanged))

# phase 2: everything trains; the pretrained features get a 10x smaller learning rate
model.features.requires_grad_(True)
optimizer = ember.optim.SGD([{"params": model.features.parameters(), "lr": 0.01},
                             {"params": model.head.parameters()}], lr=0.1, momentum=0.9)
print("phase 2 learning rates per group:", [g["lr"] for g in optimizer.param_groups])
fit(model, loader, optimizer, epochs=steps(10, 4))
print("phase 2 (all layers) on 5-9: test accuracy %.1f%%" % accuracy(model, new_test))
