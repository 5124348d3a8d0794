"""``ember-train`` (also ``python -m ember.train``): trains an image classifier and reports as users expect.

Each epoch shows a progress bar with the running loss and throughput, then the train and test loss and
accuracy. After every epoch it saves a checkpoint (model, optimizer, RNG states and history; ``--resume``
continues from it) and redraws ``curves.png`` (loss and accuracy per epoch). The default, the UCI digits that
ship with Ember and a small MLP, needs no network and reaches about 97% test accuracy in a few seconds.

    ember-train                                   # digits, MLP, 20 epochs
    ember-train --dataset cifar10 --data-dir ./data --model resnet18 --epochs 30 --lr 0.05
    ember-train --epochs 30 --resume              # continue the previous run in --out
    ember-run --nproc-per-node 2 -m ember.train   # data-parallel over 2 processes

Started by the launcher (``ember-run`` / ``python -m ember.distributed.run``) with WORLD_SIZE > 1, it trains
data-parallel: each rank initialises the process group, wraps the model in DistributedDataParallel and reads
its share of each epoch through a DistributedSampler (``--batch-size`` is per rank); the test set is split
across the ranks and the metrics are summed over all of them. Rank 0 alone prints, draws the curves and writes
the checkpoint (the bare model's state_dict, so a checkpoint resumes with any number of processes).
"""
import argparse
import json
import os
import sys
import time

import ember
from ember import nn
from ember.utils.data import DataLoader, DistributedSampler, Subset
from ember.utils.plot import plot_curves
from ember.vision import datasets, models, transforms

__all__ = ["main", "run", "MLP"]

DATASETS = {
    # name: (class, channels, size, classes, mean, std)
    "digits": (datasets.Digits, 1, 8, 10, None, None),
    "mnist": (datasets.MNIST, 1, 28, 10, (0.1307,), (0.3081,)),
    "fashion-mnist": (datasets.FashionMNIST, 1, 28, 10, (0.2860,), (0.3530,)),
    "cifar10": (datasets.CIFAR10, 3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
MODELS = ["mlp", "lenet", "resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
          "vgg16_bn", "vgg19", "vgg19_bn"]
CHECKPOINT = "checkpoint.pt"
PLOT = "curves.png"
HISTORY = "history.json"


class MLP(nn.Sequential):
    """Flatten, then one hidden ReLU layer, then the class logits."""

    def __init__(self, in_features, num_classes, hidden=128):
        super().__init__(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def _to_rgb(x):
    # the torchvision architectures take 3 channels; grey images are repeated
    return x.expand(3, -1, -1)


def build_model(name, channels, size, num_classes):
    if name == "mlp":
        return MLP(channels * size * size, num_classes)
    if name == "lenet":
        return models.LeNet(num_classes=num_classes, in_channels=channels, input_size=size)
    return getattr(models, name)(num_classes=num_classes)


def build_data(args):
    cls, channels, size, num_classes, mean, std = DATASETS[args.dataset]
    common, train_extra = [], []
    if args.dataset != "digits":
        common.append(transforms.ToTensor())
    if args.dataset == "cifar10":
        train_extra = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    if mean is not None:
        common.append(transforms.Normalize(mean, std))
    if channels == 1 and args.model not in ("mlp", "lenet"):
        common.append(transforms.Lambda(_to_rgb))
    kw = {"root": args.data_dir, "download": args.download}
    try:
        train = cls(train=True, transform=transforms.Compose(train_extra + common) if train_extra + common else None,
                    **kw)
        test = cls(train=False, transform=transforms.Compose(common) if common else None, **kw)
    except RuntimeError as e:
        raise SystemExit("ember-train: %s" % e)
    return train, test, channels, size, num_classes


def resolve_device(requested):
    if requested == "cuda" or (requested == "auto" and ember.cuda.is_available()):
        if not ember.cuda.is_available():
            raise SystemExit("ember-train: --device cuda requested, but this Ember build has no CUDA backend "
                             "(ember.cuda.is_available() is False); use --device cpu")
        return "cuda"
    return "cpu"


class Progress:
    """A one-line progress bar: redrawn in place on a terminal, printed once at the end otherwise."""

    def __init__(self, total, desc, stream=None, width=30):
        self.total, self.desc, self.width = total, desc, width
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.count = self.samples = 0
        self.loss_sum = 0.0
        self.start = self.last = time.perf_counter()

    def update(self, batch_size, loss):
        self.count += 1
        self.samples += batch_size
        self.loss_sum += loss * batch_size
        now = time.perf_counter()
        if self.live and (now - self.last > 0.1 or self.count == self.total):
            self.last = now
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def line(self):
        done = int(self.width * self.count / max(self.total, 1))
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        return "%s [%s%s] %d/%d loss %.4f %.0f samples/s" % (
            self.desc, "#" * done, "." * (self.width - done), self.count, self.total,
            self.loss_sum / max(self.samples, 1), self.samples / elapsed)

    def close(self):
        self.stream.write(("\r" if self.live else "") + self.line() + "\n")
        self.stream.flush()


class _Quiet:
    """The stream of the ranks other than 0: their progress is not shown."""

    def write(self, text):
        pass

    def flush(self):
        pass


def train_epoch(model, loader, optimizer, loss_fn, desc, reduce=None, stream=None):
    """One pass over loader; returns (mean loss, accuracy %). reduce, in data-parallel runs, sums the
    (loss, correct, count) totals over the ranks."""
    model.train()
    bar = Progress(len(loader), desc, stream=stream)
    correct = total = 0
    loss_sum = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
        n = y.shape[0]
        value = loss.item()
        loss_sum += value * n
        correct += int((out.argmax(1) == y).sum().item())
        total += n
        bar.update(n, value)
    bar.close()
    if reduce is not None:
        loss_sum, correct, total = reduce(loss_sum, correct, total)
    return loss_sum / total, 100.0 * correct / total


def evaluate(model, loader, loss_fn, reduce=None):
    """Mean loss and accuracy % over loader (summed over the ranks by reduce in data-parallel runs)."""
    model.eval()
    correct = total = 0
    loss_sum = 0.0
    with ember.no_grad():
        for x, y in loader:
            out = model(x)
            loss_sum += loss_fn(out, y).item() * y.shape[0]
            correct += int((out.argmax(1) == y).sum().item())
            total += y.shape[0]
    if reduce is not None:
        loss_sum, correct, total = reduce(loss_sum, correct, total)
    return loss_sum / total, 100.0 * correct / total


class _DataParallel:
    """The data-parallel side of a run started by the launcher with WORLD_SIZE > 1 (from_env: None otherwise)."""

    def __init__(self, dist):
        self.dist = dist
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()

    @classmethod
    def from_env(cls):
        raw = os.environ.get("WORLD_SIZE", "1")
        try:
            world = int(raw)
        except ValueError:
            raise SystemExit("ember-train: WORLD_SIZE=%r is not an integer" % raw) from None
        if world <= 1:
            return None
        try:
            import ember.distributed as dist
            dist.init_process_group()
        except (ImportError, RuntimeError, ValueError) as e:
            raise SystemExit("ember-train: WORLD_SIZE=%d asks for data-parallel training, but the process group "
                             "could not be initialised: %s" % (world, e)) from None
        return cls(dist)

    def sum(self, *values):
        """Sums the numbers over the ranks (in float64, exact for the counts)."""
        t = ember.tensor([float(v) for v in values], dtype=ember.float64)
        self.dist.all_reduce(t)
        return t.tolist()

    def sync_buffers(self, model):
        """Rank 0's buffers (e.g. BatchNorm statistics) everywhere, as evaluated and saved."""
        for b in model.buffers():
            self.dist.broadcast(b, src=0)

    def close(self):
        self.dist.barrier()
        self.dist.destroy_process_group()


def make_optimizer(name, params, lr, momentum, weight_decay):
    if name == "sgd":
        return ember.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return ember.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return ember.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="ember-train", description="Train an image classifier with Ember.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="digits",
                   help="digits ships with Ember; the others are read from --data-dir")
    p.add_argument("--data-dir", default="./data", help="folder with the dataset files (torchvision layout)")
    p.add_argument("--download", action="store_true", help="download a missing dataset (needs network)")
    p.add_argument("--model", choices=MODELS, default=None, help="default: mlp for digits, lenet otherwise")
    p.add_argument("--epochs", type=int, default=20, help="total epochs (a resumed run continues up to this)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="default: 0.01 for adam/adamw, 0.1 for sgd")
    p.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], default="adam")
    p.add_argument("--momentum", type=float, default=0.9, help="for sgd")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=["cosine", "none"], default="cosine",
                   help="learning-rate schedule over the epochs: cosine annealing to zero, or constant")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default: runs/<dataset>-<model>)")
    p.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                   help="continue from CHECKPOINT (default: <out>/%s)" % CHECKPOINT)
    args = p.parse_args(argv)
    if args.model is None:
        args.model = "mlp" if args.dataset == "digits" else "lenet"
    if args.lr is None:
        args.lr = 0.1 if args.optimizer == "sgd" else 0.01
    if args.out is None:
        args.out = os.path.join("runs", "%s-%s" % (args.dataset, args.model))
    if args.epochs < 1 or args.batch_size < 1 or args.workers < 0 or not args.lr > 0:
        p.error("--epochs, --batch-size and --lr must be positive and --workers non-negative")
    return args


def main(argv=None):
    """Entry point of ``ember-train`` (exits non-zero on a usage error)."""
    run(argv)


def run(argv=None):
    """Parses argv like the command line, trains, and returns the per-epoch history dict."""
    args = parse_args(argv)
    device = resolve_device(args.device)
    dp = _DataParallel.from_env()
    history = _run(args, device, dp)
    if dp is not None:
        # not on an error: the launcher then ends the job, where a barrier would wait for the failed rank
        dp.close()
    return history


def _run(args, device, dp):
    main_rank = dp is None or dp.rank == 0
    say = print if main_rank else (lambda *a, **k: None)
    ember.manual_seed(args.seed)
    train_set, test_set, channels, size, num_classes = build_data(args)
    model = build_model(args.model, channels, size, num_classes)
    optimizer = make_optimizer(args.optimizer, model.parameters(), args.lr, args.momentum, args.weight_decay)
    scheduler = (ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
                 if args.schedule == "cosine" else None)
    loss_fn = nn.CrossEntropyLoss()
    shuffle_gen = ember.Generator().manual_seed(args.seed)
    sampler = None
    if dp is None:
        train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=shuffle_gen,
                                  num_workers=args.workers, persistent_workers=args.workers > 0)
        test_loader = DataLoader(test_set, batch_size=256, num_workers=args.workers)
    else:
        # each epoch's permutation (seed + epoch) is split across the ranks; the test set in disjoint strides
        sampler = DistributedSampler(train_set, num_replicas=dp.world, rank=dp.rank, shuffle=True, seed=args.seed)
        train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler,
                                  num_workers=args.workers, persistent_workers=args.workers > 0)
        test_loader = DataLoader(Subset(test_set, range(dp.rank, len(test_set), dp.world)), batch_size=256,
                                 num_workers=args.workers)
    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    os.makedirs(args.out, exist_ok=True)
    ckpt_path = os.path.join(args.out, CHECKPOINT)

    start = 1
    if args.resume is not None:
        path = args.resume or ckpt_path
        if not os.path.isfile(path):
            raise SystemExit("ember-train: no checkpoint to resume from at %s" % path)
        ckpt = ember.load(path)
        for key in ("dataset", "model"):
            if ckpt["args"][key] != getattr(args, key):
                raise SystemExit("ember-train: %s was made with --%s %s, not %s"
                                 % (path, key, ckpt["args"][key], getattr(args, key)))
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        ember.set_rng_state(ckpt["rng_state"])
        shuffle_gen.set_state(ckpt["shuffle_state"])
        history = {k: list(v) for k, v in ckpt["history"].items()}
        start = ckpt["epoch"] + 1
        say("resumed from %s after epoch %d" % (path, ckpt["epoch"]))

    n_params = sum(p.numel() for p in model.parameters())
    say("ember-train: %s on %s (%d train / %d test samples), %d parameters, device %s%s"
        % (args.model, args.dataset, len(train_set), len(test_set), n_params, device,
           "" if dp is None else ", data-parallel over %d processes (batch %d per process)"
           % (dp.world, args.batch_size)))
    net, reduce, stream = model, None, None
    if dp is not None:
        from ember.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
        reduce = dp.sum
        stream = None if main_rank else _Quiet()
    for epoch in range(start, args.epochs + 1):
        t0 = time.perf_counter()
        if sampler is not None:
            sampler.set_epoch(epoch)
        train_loss, train_acc = train_epoch(net, train_loader, optimizer, loss_fn,
                                            "epoch %d/%d" % (epoch, args.epochs), reduce=reduce, stream=stream)
        if scheduler is not None:
            scheduler.step()
        if dp is not None:
            dp.sync_buffers(model)
        test_loss, test_acc = evaluate(model, test_loader, loss_fn, reduce=reduce)
        for key, value in zip(("train_loss", "train_acc", "test_loss", "test_acc"),
                              (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(value)
        say("epoch %d/%d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.2fs"
            % (epoch, args.epochs, train_loss, train_acc, test_loss, test_acc, time.perf_counter() - t0))
        if not main_rank:
            continue
        ember.save({"epoch": epoch, "args": {"dataset": args.dataset, "model": args.model},
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "rng_state": ember.get_rng_state(), "shuffle_state": shuffle_gen.get_state(),
                    "history": history}, ckpt_path)
        _write_reports(args.out, history)
    if not history["test_acc"]:
        say("nothing to do: --epochs %d" % args.epochs)
        return history
    if main_rank:
        _write_reports(args.out, history)
    say("final test accuracy %.2f%%; checkpoint %s; curves %s"
        % (history["test_acc"][-1], ckpt_path, os.path.join(args.out, PLOT)))
    return history


def _write_reports(out, history):
    with open(os.path.join(out, HISTORY), "w") as f:
        json.dump(history, f, indent=1)
    plot_curves(os.path.join(out, PLOT),
                [("loss", {"train": history["train_loss"], "test": history["test_loss"]}),
                 ("accuracy %", {"train": history["train_acc"], "test": history["test_acc"]})])


if __name__ == "__main__":
    main()
