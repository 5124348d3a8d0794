"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from nn_testing import npy, torch_or_skip


def _seq():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid())


def test_sequential_runs_in_order():
    seq = _seq()
    x = ember.randn(5, 4)
    ref = (x.matmul(seq[0].weight.t()) + seq[0].bias).relu().matmul(seq[2].weight.t()) + seq[2].bias
    np.testing.assert_allclose(npy(seq(x)), npy(ref.sigmoid()), rtol=1e-5, atol=1e-6)
    assert nn.Sequential()(x) is x


def test_sequential_indexing():
    seq = _seq()
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Sigmoid)
    assert seq[-4] is seq[0]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        seq[4]  # noqa: B018
    with pytest.raises(IndexError):
        seq[-5]  # noqa: B018
    head = seq[:2]
    assert type(head) is nn.Sequential and len(head) == 2 and head[0] is seq[0]
    assert list(head._modules) == ["0", "1"]
    assert len(seq[::2]) == 2 and seq[::2][1] is seq[2]
    assert len(seq) == 4 and [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear", "Sigmoid"]


def test_sequential_mutation():
    seq = _seq()
    seq.append(nn.Tanh())
    assert len(seq) == 5 and isinstance(seq[4], nn.Tanh)
    seq.insert(1, nn.Dropout())
    assert [type(m).__name__ for m in seq] == ["Linear", "Dropout", "ReLU", "Linear", "Sigmoid", "Tanh"]
    assert list(seq._modules) == ["0", "1", "2", "3", "4", "5"]
    seq.insert(-1, nn.Identity())
    assert isinstance(seq[5], nn.Identity) and isinstance(seq[6], nn.Tanh)
    del seq[1]
    assert list(seq._modules) == [str(i) for i in range(6)] and isinstance(seq[1], nn.ReLU)
    seq[0] = nn.Linear(4, 3, bias=False)
    assert seq[0].bias is None
    popped = seq.pop(-1)
    assert isinstance(popped, nn.Tanh) and len(seq) == 5
    seq.extend([nn.ReLU()])
    assert len(seq) == 6
    with pytest.raises(IndexError):
        seq.insert(10, nn.ReLU())
    doubled = nn.Sequential(nn.ReLU()) + nn.Sequential(nn.Tanh())
    assert [type(m).__name__ for m in doubled] == ["ReLU", "Tanh"]


def test_sequential_from_ordered_dict_keeps_names():
    seq = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert seq.conv is seq[0] and seq.act is seq[1]
    assert list(seq.state_dict()) == ["conv.weight", "conv.bias"]
    assert repr(seq) == ("Sequential(\n  (conv): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
                         "  (act): ReLU()\n)")


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert layers[-1] is layers[5] and isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    layers += [nn.Sigmoid()]
    assert len(layers) == 6 and isinstance(layers.pop(-1), nn.Sigmoid)
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)
    with pytest.raises(IndexError):
        layers[10]  # noqa: B018
    with pytest.raises(NotImplementedError):
        layers(ember.ones(1))
    with pytest.raises(TypeError, match="should be called with an iterable"):
        layers.extend(3)


def test_module_list_repr_compresses_repeated_modules():
    layers = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1)])
    assert repr(layers) == ("ModuleList(\n"
                            "  (0-1): 2 x Linear(in_features=1, out_features=1, bias=True)\n"
                            "  (2): ReLU()\n"
                            "  (3): Linear(in_features=1, out_features=1, bias=True)\n"
                            ")")
    assert repr(nn.ModuleList()) == "ModuleList()"
    nested = nn.ModuleList([nn.Sequential(nn.ReLU()), nn.Sequential(nn.ReLU())])
    assert repr(nested) == "ModuleList(\n  (0-1): 2 x Sequential(\n    (0): ReLU()\n  )\n)"


def test_module_dict():
    d = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    assert list(d.keys()) == ["b", "a"] and "a" in d and len(d) == 2
    d["c"] = nn.Linear(1, 1)
    d.update([("e", nn.Sigmoid())])
    assert list(d) == ["b", "a", "c", "e"]
    assert [type(v).__name__ for v in d.values()] == ["ReLU", "Tanh", "Linear", "Sigmoid"]
    assert dict(d.items())["c"] is d.c
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    del d["a"]
    assert list(d) == ["c", "e"]
    assert list(d.state_dict()) == ["c.weight", "c.bias"]
    d.clear()
    assert len(d) == 0
    with pytest.raises(ValueError, match="has length 1; 2 is required"):
        d.update([("x",)])


def test_parameter_list():
    plist = nn.ParameterList([nn.Parameter(ember.ones(2, 3)), ember.zeros(3)])
    assert all(isinstance(p, nn.Parameter) for p in plist)  # plain tensors are wrapped
    assert len(plist) == 2 and plist[-1].shape == (3,)
    plist.append(ember.ones(1))
    plist.extend([ember.ones(4)])
    assert [n for n, _ in plist.named_parameters()] == ["0", "1", "2", "3"]
    plist[0] = ember.full((1,), 2.0)
    assert plist[0].item() == 2.0 and isinstance(plist[0], nn.Parameter)
    assert len(plist[1:3]) == 2
    with pytest.raises(TypeError):
        plist.extend(ember.ones(3))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        plist()
    assert repr(nn.ParameterList([nn.Parameter(ember.ones(2, 3)), nn.Parameter(ember.ones(3))])) == (
        "ParameterList(\n"
        "    (0): Parameter containing: [ember.float32 of size 2x3]\n"
        "    (1): Parameter containing: [ember.float32 of size 3]\n"
        ")")


def test_parameter_dict():
    pd = nn.ParameterDict({"w": ember.ones(2), "b": nn.Parameter(ember.zeros(1))})
    assert list(pd) == ["b", "w"]  # plain dicts are added in sorted key order, as in PyTorch
    assert isinstance(pd["w"], nn.Parameter) and "w" in pd and len(pd) == 2
    pd["extra"] = ember.ones(3)
    assert [n for n, _ in pd.named_parameters()] == ["b", "w", "extra"]
    assert pd.get("nope") is None and pd.setdefault("z", ember.ones(1)).shape == (1,)
    assert isinstance(pd.pop("z"), nn.Parameter) and "z" not in pd
    ordered = nn.ParameterDict(OrderedDict([("z", ember.ones(1)), ("a", ember.ones(1))]))
    assert list(ordered.keys()) == ["z", "a"]
    assert list((pd | ordered).keys()) == ["b", "w", "extra", "z", "a"]
    with pytest.raises(TypeError, match="not a string"):
        pd[1] = ember.ones(1)
    with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
        pd()
    assert repr(nn.ParameterDict({"a": nn.Parameter(ember.ones(2))})) == (
        "ParameterDict(  (a): Parameter containing: [ember.FloatTensor of size 2])")


def test_container_reprs_match_torch():
    torch = torch_or_skip()

    def build(m):
        return m.Sequential(m.Linear(2, 3), m.ModuleList([m.ReLU(), m.ReLU(), m.Tanh()]),
                            m.ModuleDict({"act": m.GELU()}))
    assert repr(build(nn)) == repr(build(torch.nn))
    e = nn.ParameterList([nn.Parameter(ember.ones(2, 3))])
    t = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 3))])
    assert repr(e).replace("ember.", "torch.") == repr(t)
