"""The classic small programs people write first with torch.nn, run unchanged on ember.nn with manual SGD:
a perceptron from a hand-written Linear, linear regression, a dynamic-depth network with weight sharing, a
VGG-style model indexed like torchvision's, and users' own losses (an MSE function, a Dice loss class)."""
import random

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, close, copy_weights, npy, torch_or_skip


def sgd_step(params, lr):
    with ember.no_grad():
        for p in params:
            if p.grad is not None:
                p -= lr * p.grad
    for p in params:
        p.grad = None


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    random.seed(0)


# ================================================================================ perceptron


class MyLinear(nn.Module):
    """A Linear layer written by hand: Parameters, matmul and expand_as."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(ember.randn(out_features, in_features) * 0.1)
        self.bias = nn.Parameter(ember.zeros(out_features))

    def forward(self, x):
        out = x.matmul(self.weight.t())
        return out + self.bias.unsqueeze(0).expand_as(out)


class Perceptron(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = MyLinear(2, 1)

    def forward(self, x):
        return self.fc(x).sigmoid()


def test_perceptron_learns_or_with_l1_loss():
    x = ember.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = ember.tensor([[0.0], [1.0], [1.0], [1.0]])
    model = Perceptron()
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    criterion = nn.L1Loss()
    losses = []
    for _ in range(300):
        loss = criterion(model(x), y)
        loss.backward()
        sgd_step(list(model.parameters()), 1.0)
        losses.append(loss.item())
    assert losses[-1] < 0.1 < losses[0]
    pred = (model(x) > 0.5).to(ember.float32)
    np.testing.assert_array_equal(npy(pred), npy(y))


# ================================================================================ linear regression


def test_linear_regression_learns_y_equals_2x_plus_1():
    x = ember.linspace(-1, 1, 64).reshape(-1, 1)
    y = 2 * x + 1 + 0.01 * ember.randn(64, 1)
    model = nn.Linear(1, 1)
    criterion = nn.MSELoss()
    for _ in range(400):
        loss = criterion(model(x), y)
        loss.backward()
        sgd_step(list(model.parameters()), 0.1)
    assert model.weight.item() == pytest.approx(2.0, abs=0.02)
    assert model.bias.item() == pytest.approx(1.0, abs=0.02)
    with ember.no_grad():
        assert model(ember.tensor([[3.0]])).item() == pytest.approx(7.0, abs=0.1)


# ================================================================================ dynamic depth, weight sharing


class DynamicNet(nn.Module):
    """Each forward pass picks 0-3 hidden layers at random, all of them the same middle_linear module."""

    def __init__(self, d_in, hidden, d_out, depth=None):
        super().__init__()
        self.input_linear = nn.Linear(d_in, hidden)
        self.middle_linear = nn.Linear(hidden, hidden)
        self.output_linear = nn.Linear(hidden, d_out)
        self.depth = depth

    def forward(self, x):
        h = self.input_linear(x).clamp(min=0)
        depth = random.randint(0, 3) if self.depth is None else self.depth
        for _ in range(depth):
            h = self.middle_linear(h).clamp(min=0)
        return self.output_linear(h)


def test_dynamic_depth_network_trains_with_shared_weights():
    x, y = ember.randn(32, 5), ember.randn(32, 2)
    model = DynamicNet(5, 16, 2)
    assert len(list(model.parameters())) == 6
    criterion = nn.MSELoss(reduction="sum")
    first = criterion(model(x), y).item()
    for _ in range(200):
        loss = criterion(model(x), y)
        loss.backward()
        sgd_step(list(model.parameters()), 1e-3)
    model.depth = 2
    assert criterion(model(x), y).item() < first


def test_shared_module_gradient_accumulates_over_every_use():
    model = DynamicNet(3, 4, 2, depth=3).double()
    x = ember.randn(5, 3, dtype=ember.float64, requires_grad=True)
    check_grad(lambda t, w: model(t), x, model.middle_linear.weight)
    torch = torch_or_skip()

    class TorchDynamic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input_linear = torch.nn.Linear(3, 4)
            self.middle_linear = torch.nn.Linear(4, 4)
            self.output_linear = torch.nn.Linear(4, 2)

        def forward(self, t):
            h = self.input_linear(t).clamp(min=0)
            for _ in range(3):
                h = self.middle_linear(h).clamp(min=0)
            return self.output_linear(h)
    model.float()
    tm = copy_weights(model, TorchDynamic())
    xs = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    model(ember.tensor(xs)).sum().backward()
    tm(torch.tensor(xs)).sum().backward()
    close(model.middle_linear.weight.grad, tm.middle_linear.weight.grad, atol=1e-6)


# ================================================================================ VGG-style model


def make_layers(m, cfg, batch_norm=False):
    layers, in_ch = [], 3
    for v in cfg:
        if v == "M":
            layers.append(m.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(m.Conv2d(in_ch, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(m.BatchNorm2d(v))
            layers.append(m.ReLU(inplace=True))
            in_ch = v
    return m.Sequential(*layers)


def make_vgg(m, num_classes=10):
    class VGG(m.Module):
        def __init__(self):
            super().__init__()
            self.features = make_layers(m, [4, "M", 8, 8, "M"], batch_norm=True)
            self.avgpool = m.AdaptiveAvgPool2d((2, 2))
            self.classifier = m.Sequential(
                m.Linear(8 * 2 * 2, 16), m.ReLU(True), m.Dropout(),
                m.Linear(16, 16), m.ReLU(True), m.Dropout(),
                m.Linear(16, num_classes))

        def forward(self, x):
            x = self.features(x)
            x = self.avgpool(x)
            x = x.flatten(1)
            return self.classifier(x)
    return VGG()


def test_vgg_style_model_indexing_transfer_learning_and_training():
    model = make_vgg(nn)
    assert isinstance(model.features[0], nn.Conv2d) and isinstance(model.features[-1], nn.MaxPool2d)
    assert isinstance(model.classifier[6], nn.Linear) and model.classifier[-1] is model.classifier[6]
    assert len(model.features) == 11
    keys = list(model.state_dict())
    assert keys[:7] == ["features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                        "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked"]
    assert keys[-2:] == ["classifier.6.weight", "classifier.6.bias"]
    assert "(classifier): Sequential(\n    (0): Linear(in_features=32, out_features=16, bias=True)" in repr(model)

    # transfer learning: a feature extractor from a slice, a frozen backbone, a new head
    stem = model.features[:3]
    assert isinstance(stem, nn.Sequential) and stem(ember.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    model.classifier[6] = nn.Linear(16, 3)
    for p in model.features.parameters():
        p.requires_grad = False
    frozen = {k: npy(v).copy() for k, v in model.features.state_dict().items() if "num_batches" not in k}
    x = ember.randn(6, 3, 8, 8)
    y = ember.tensor([0, 1, 2, 0, 1, 2])
    criterion = nn.CrossEntropyLoss()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(trainable) == 6
    first = None
    for _ in range(60):
        loss = criterion(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        sgd_step(trainable, 0.1)
    model.eval()
    with ember.no_grad():
        final = criterion(model(x), y).item()
    assert model(x).shape == (6, 3) and final < first
    for k, v in model.features.state_dict().items():
        if k in frozen and "running" not in k:
            np.testing.assert_array_equal(npy(v), frozen[k])


def test_vgg_style_model_matches_torch():
    torch = torch_or_skip()
    model, tmodel = make_vgg(nn), make_vgg(torch.nn)
    assert repr(model) == repr(tmodel)
    copy_weights(model, tmodel)
    model.eval()
    tmodel.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    close(model(ember.tensor(x)), tmodel(torch.tensor(x)), atol=1e-5)


# ================================================================================ users' own losses


def my_mse(output, target):
    return ((output - target) ** 2).mean()


class DiceLoss(nn.Module):
    """1 - Dice coefficient of sigmoid(logits) and a binary mask."""

    def __init__(self, smooth=1.0):
        super().__init__()
        self.smooth = smooth

    def forward(self, logits, target):
        p = logits.sigmoid().flatten(1)
        t = target.flatten(1)
        inter = (p * t).sum(1)
        dice = (2 * inter + self.smooth) / (p.sum(1) + t.sum(1) + self.smooth)
        return 1 - dice.mean()


def test_own_mse_function_trains_exactly_like_the_builtin():
    x, y = ember.randn(16, 3), ember.randn(16, 2)
    a = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    b = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    b.load_state_dict(a.state_dict())
    builtin = nn.MSELoss()
    for _ in range(20):
        la, lb = my_mse(a(x), y), builtin(b(x), y)
        assert la.item() == pytest.approx(lb.item(), rel=1e-6)
        la.backward()
        lb.backward()
        sgd_step(list(a.parameters()), 0.1)
        sgd_step(list(b.parameters()), 0.1)
    for pa, pb in zip(a.parameters(), b.parameters()):
        close(pa, pb, atol=1e-6)


def test_dice_loss_class_trains_a_segmenter():
    rng = np.random.default_rng(2)
    images = rng.standard_normal((8, 1, 6, 6)).astype(np.float32)
    masks = (images > 0.3).astype(np.float32)  # the segmentation is learnable by a 1x1 conv
    x, y = ember.tensor(images), ember.tensor(masks)
    model = nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    criterion = DiceLoss()
    assert repr(criterion) == "DiceLoss()"
    first = criterion(model(x), y).item()
    for _ in range(150):
        loss = criterion(model(x), y)
        loss.backward()
        sgd_step(list(model.parameters()), 0.5)
    assert loss.item() < 0.5 * first
    # the same model is trainable with the loss combined with a built-in one
    combo = criterion(model(x), y) + F.binary_cross_entropy_with_logits(model(x), y)
    combo.backward()
    assert all(p.grad is not None for p in model.parameters())
    small = ember.randn(2, 1, 2, 2, dtype=ember.float64, requires_grad=True)
    target = ember.tensor((rng.uniform(size=(2, 1, 2, 2)) > 0.5).astype(np.float64))
    check_grad(lambda t: DiceLoss()(t, target), small)


def test_training_loops_do_not_leak_storages():
    """Modules keep no graph alive between steps (BatchNorm's running statistics are updated detached, RNN
    states are fresh each call): the number of live storages stays flat over training steps."""
    import gc
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(64, 3))
    rnn = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    attn = nn.MultiheadAttention(10, 2)
    params = list(model.parameters()) + list(rnn.parameters()) + list(attn.parameters())
    x, y = ember.randn(5, 1, 4, 4), ember.tensor([0, 1, 2, 0, 1])

    def step():
        feats = model(x).unsqueeze(0).expand(4, 5, 3)
        seq, _ = rnn(feats)
        out, _ = attn(seq, seq, seq)
        loss = F.cross_entropy(out.mean(0)[:, :3], y)
        loss.backward()
        sgd_step(params, 0.01)

    step()
    gc.collect()
    base = ember._C._live_storages()
    for _ in range(3):
        step()
    gc.collect()
    assert ember._C._live_storages() == base
