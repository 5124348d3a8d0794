"""Vision models: module trees, hyper-parameters and state_dict keys/shapes equal torchvision's (stored in
torchvision_models.json, generated from torchvision 0.29.1 by running this file as a script, and compared with
torchvision itself when it is installed); initialisation, forward/backward, and loading torchvision-format
checkpoints through ember.load."""
import json
import os
import sys

import numpy as np
import pytest

import ember
from ember import nn
from ember.vision import models

REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchvision_models.json")
NAMES = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet18",
         "resnet34", "resnet50"]
_ATTRS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "in_features",
          "out_features", "num_features", "eps", "momentum", "affine", "track_running_stats", "output_size", "p",
          "inplace", "ceil_mode")


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def describe(model):
    """A torch- and ember-agnostic description: every named module with its class and hyper-parameters, and
    the state_dict keys with their shapes, in order."""
    modules = []
    for name, m in model.named_modules():
        attrs = {a: _plain(getattr(m, a)) for a in _ATTRS if a in vars(m)}
        if "weight" in m._parameters or "bias" in m._parameters:
            attrs["bias"] = m._parameters.get("bias") is not None
        modules.append([name, type(m).__name__, attrs])
    return {"modules": modules, "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()]}


@pytest.fixture
def no_init(monkeypatch):
    """Skips weight initialisation, so the structure of the big VGGs (VGG-19 has 144M parameters) can be
    checked without filling them with random numbers."""
    for name in ("kaiming_uniform_", "kaiming_normal_", "uniform_", "normal_", "constant_"):
        monkeypatch.setattr(nn.init, name, lambda tensor, *a, **k: tensor)


@pytest.fixture(scope="module")
def reference():
    with open(REFERENCE) as f:
        return json.load(f)


def _torchvision_models():
    try:
        import torchvision.models as tv
    except Exception:
        return None
    return tv


@pytest.mark.parametrize("name", NAMES)
def test_structure_matches_torchvision(name, reference, no_init):
    got = json.loads(json.dumps(describe(getattr(models, name)())))
    want = reference[name]
    assert [m[:2] for m in got["modules"]] == [m[:2] for m in want["modules"]]
    assert got["modules"] == want["modules"]
    assert got["state_dict"] == want["state_dict"]
    tv = _torchvision_models()
    if tv is not None:
        assert got == json.loads(json.dumps(describe(getattr(tv, name)())))


def test_vgg16_shape(no_init):
    m = models.vgg16()
    assert len(m.features) == 31 and len(m.classifier) == 7
    assert len(models.vgg16_bn().features) == 44
    assert models.vgg11(num_classes=7).classifier[6].out_features == 7


def test_vgg_initialisation_policy(monkeypatch):
    calls = []
    for name in ("kaiming_normal_", "normal_", "constant_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(nn.init, name, lambda t, *a, _n=name, **k: calls.append((_n, tuple(t.shape), a, k)) or t)
    models.vgg11_bn()
    after = calls[[i for i, c in enumerate(calls) if c[0] in ("kaiming_uniform_", "uniform_")][-1] + 1:]
    convs = [c for c in after if c[0] == "kaiming_normal_"]
    assert len(convs) == 8 and all(c[3] == {"mode": "fan_out", "nonlinearity": "relu"} for c in convs)
    assert [c[1:3] for c in after if c[0] == "normal_"] == [((4096, 25088), (0, 0.01)), ((4096, 4096), (0, 0.01)),
                                                             ((1000, 4096), (0, 0.01))]
    constants = [c for c in after if c[0] == "constant_"]
    assert sum(c[2] == (1,) for c in constants) == 8  # batch-norm scales
    assert sum(c[2] == (0,) for c in constants) == 8 + 8 + 3  # conv, batch-norm and linear biases


def test_resnet_initialisation_and_zero_init_residual():
    m = models.resnet18(zero_init_residual=True)
    w = m.conv1.weight.detach().numpy()
    fan_out = 64 * 7 * 7
    assert abs(w.std() - np.sqrt(2.0 / fan_out)) < 0.1 * np.sqrt(2.0 / fan_out)  # kaiming normal, fan_out
    assert np.all(m.bn1.weight.detach().numpy() == 1) and np.all(m.bn1.bias.detach().numpy() == 0)
    assert np.all(m.layer1[0].bn2.weight.detach().numpy() == 0)
    assert np.all(m.layer1[0].bn1.weight.detach().numpy() == 1)


def test_resnet_forward_backward_and_train_step():
    ember.manual_seed(0)
    m = models.resnet18(num_classes=10)
    x = ember.randn(2, 3, 32, 32)
    y = m(x)
    assert y.shape == (2, 10)
    loss = nn.functional.cross_entropy(y, ember.tensor([1, 2]))
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.eval()
    with ember.no_grad():
        a, b = m(x), m(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert models.resnet50(num_classes=3).eval()(ember.randn(1, 3, 32, 32)).shape == (1, 3)
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1 and base_width=64"):
        models.ResNet(models.BasicBlock, [1, 1, 1, 1], groups=2)


def test_vgg_forward(no_init):
    m = models.vgg11_bn(num_classes=4)
    for p in m.parameters():
        p.data.fill_(0.01)  # the init was skipped; any finite values do for a shape check
    assert m(ember.randn(1, 3, 32, 32)).shape == (1, 4)  # adaptive pooling accepts small inputs


def test_lenet():
    m = models.LeNet()
    assert m(ember.randn(2, 3, 32, 32)).shape == (2, 10)
    assert models.LeNet(in_channels=1, input_size=28)(ember.randn(2, 1, 28, 28)).shape == (2, 10)
    assert models.lenet(num_classes=3, in_channels=1, input_size=8)(ember.randn(1, 1, 8, 8)).shape == (1, 3)
    assert [k for k in m.state_dict()] == ["features.0.weight", "features.0.bias", "features.3.weight",
                                           "features.3.bias", "classifier.0.weight", "classifier.0.bias",
                                           "classifier.2.weight", "classifier.2.bias", "classifier.4.weight",
                                           "classifier.4.bias"]
    with pytest.raises(ValueError, match="input_size"):
        models.LeNet(input_size=40)


def test_torchvision_checkpoint_loads(tmp_path):
    torch = pytest.importorskip("torch")
    ember.manual_seed(1)
    src = models.resnet18(num_classes=5)
    # a checkpoint as torchvision writes it: torch.save of a state_dict of torch tensors
    state = {k: torch.from_numpy(v.detach().numpy().copy()) for k, v in src.state_dict().items()}
    path = tmp_path / "resnet18-test.pth"
    torch.save(state, path)
    dst = models.resnet18(num_classes=5, weights=str(path))
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k].numpy())
    with pytest.raises(RuntimeError, match="Ember does not download pretrained weights"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(RuntimeError, match="pretrained=True is not supported"):
        models.resnet18(pretrained=True)


def test_outputs_match_torchvision():
    tv = _torchvision_models()
    if tv is None:
        pytest.skip("torchvision is not installed")
    import torch
    for name in ("resnet18", "resnet50", "vgg11_bn"):
        torch.manual_seed(0)
        ref = getattr(tv, name)(num_classes=10).eval()
        ours = getattr(models, name)(num_classes=10)
        ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
        ours.eval()
        x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
        with torch.no_grad():
            want = ref(torch.from_numpy(x)).numpy()
        with ember.no_grad():
            got = ours(ember.tensor(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


if __name__ == "__main__":
    # python tests/vision/test_models.py: regenerate torchvision_models.json from an installed torchvision
    tv = _torchvision_models()
    if tv is None:
        sys.exit("torchvision is needed to regenerate the reference")
    import torchvision
    out = {"_source": "torchvision %s" % torchvision.__version__}
    for name in NAMES:
        out[name] = describe(getattr(tv, name)())
    with open(REFERENCE, "w") as f:
        f.write("{\n")
        items = list(out.items())
        for i, (k, v) in enumerate(items):
            f.write("%s: %s%s\n" % (json.dumps(k), json.dumps(v, separators=(",", ":")), "," if i + 1 < len(items)
                                    else ""))
        f.write("}\n")
