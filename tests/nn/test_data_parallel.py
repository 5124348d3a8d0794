"""nn.DataParallel on a single device (as PyTorch behaves without several accelerators): wrapping, state_dict
prefixes, forward/backward through the wrapped module, and loading PyTorch's DataParallel checkpoints."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.parallel import DataParallel, data_parallel
from nn_testing import close, npy


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x, scale=1.0):
        return self.bn(self.fc(x)) * scale


def test_wraps_module_and_prefixes_state_dict():
    net = _Net()
    dp = nn.DataParallel(net)
    assert dp.module is net and isinstance(dp, nn.Module) and nn.DataParallel is DataParallel
    assert list(dp.state_dict().keys()) == ["module." + k for k in net.state_dict().keys()]
    assert [n for n, _ in dp.named_parameters()] == ["module.fc.weight", "module.fc.bias", "module.bn.weight",
                                                     "module.bn.bias"]
    assert repr(dp).startswith("DataParallel(\n  (module): _Net(")
    if not ember.cuda.is_available():
        assert dp.device_ids == []
    # device_ids / output_device / dim are accepted
    dp2 = DataParallel(_Net(), device_ids=None, output_device=None, dim=1)
    assert dp2.dim == 1


def test_forward_and_backward_reach_the_module():
    net = _Net()
    dp = nn.DataParallel(net)
    x = ember.randn(5, 4)
    out = dp(x, scale=2.0)
    ref = net(x, scale=2.0)
    close(out, ref, atol=1e-6)
    net.zero_grad()
    dp(x).pow(2).sum().backward()
    g = npy(net.fc.weight.grad).copy()
    net.zero_grad()
    net(x).pow(2).sum().backward()
    close(net.fc.weight.grad, g, atol=1e-6)
    # train/eval propagates to the wrapped module (BatchNorm running stats)
    dp.eval()
    assert not net.training
    close(dp(x), net(x), atol=0)
    close(data_parallel(net, x), net(x), atol=0)
    close(data_parallel(net, (x,), module_kwargs={"scale": 3.0}), net(x, scale=3.0), atol=0)


def test_state_dict_round_trip_and_unwrapping():
    src = nn.DataParallel(_Net())
    dst = nn.DataParallel(_Net())
    dst.load_state_dict(src.state_dict())
    x = ember.randn(3, 4)
    src.eval()
    dst.eval()
    close(dst(x), src(x), atol=0)
    plain = _Net()
    plain.load_state_dict(src.module.state_dict())
    plain.eval()
    close(plain(x), src(x), atol=0)
    with pytest.raises(RuntimeError, match="Missing key"):
        plain.load_state_dict(src.state_dict())


def test_loads_torch_data_parallel_checkpoint():
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    tdp = torch.nn.DataParallel(tnet)
    enet = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    edp = nn.DataParallel(enet)
    assert list(edp.state_dict().keys()) == list(tdp.state_dict().keys())
    edp.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tdp.state_dict().items()}, strict=True)
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    close(edp(ember.tensor(x)), tdp(torch.tensor(x)).detach(), atol=1e-6)
