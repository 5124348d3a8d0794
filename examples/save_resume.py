"""Saving and resuming training: a checkpoint holds the model's and the optimizer's state_dict plus the epoch
and RNG state, written with ember.save (atomically) and read back with ember.load. A run interrupted after
epoch 2 and resumed from its checkpoint ends exactly where an uninterrupted run ends."""
import os
import tempfile

import ember
from ember import nn
from ember.utils.data import DataLoader
from ember.vision import datasets

from _common import steps

EPOCHS = steps(6, 4)
train_set = datasets.Digits(train=True)


def make():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)
    return model, optimizer


def train(model, optimizer, generator, first_epoch, last_epoch, checkpoint=None):
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=generator)
    for epoch in range(first_epoch, last_epoch + 1):
        model.train()
        total = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        print("epoch %d: mean loss %.4f" % (epoch, total / len(train_set)))
        if checkpoint:
            ember.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "rng": ember.get_rng_state(), "generator": generator.get_state()}, checkpoint)
    return model


# the reference: all epochs in one go
ember.manual_seed(0)
model, optimizer = make()
reference = train(model, optimizer, ember.Generator().manual_seed(0), 1, EPOCHS)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.pt")
    # the interrupted run: stops after epoch 2 (its checkpoint is on disk)
    ember.manual_seed(0)
    model, optimizer = make()
    train(model, optimizer, ember.Generator().manual_seed(0), 1, 2, checkpoint=path)

    # later, in a fresh process: rebuild the objects, load the checkpoint, carry on
    model, optimizer = make()
    ckpt = ember.load(path)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    ember.set_rng_state(ckpt["rng"])
    generator = ember.Generator()
    generator.set_state(ckpt["generator"])
    print("resuming after epoch %d" % ckpt["epoch"])
    resumed = train(model, optimizer, generator, ckpt["epoch"] + 1, EPOCHS, checkpoint=path)

same = all(bool(ember.equal(a, b)) for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()))
print("resumed run matches the uninterrupted run: %s" % same)
