"""nn.Module and nn.Parameter: registration, iteration, modes, conversion, hooks, state_dict, repr, copying."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from nn_testing import copy_weights, npy, torch_or_skip


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.fc2 = nn.Linear(3, 2)
        self.scale = nn.Parameter(ember.ones(1))
        self.register_buffer("steps", ember.zeros(1))

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)).relu()) * self.scale


# ================================================================================ Parameter


def test_parameter_is_a_tensor_leaf_requiring_grad():
    data = ember.randn(2, 3)
    p = nn.Parameter(data)
    assert isinstance(p, ember.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    p.data[0, 0] = 5.0  # shares memory with data
    assert data[0, 0].item() == 5.0
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    empty = nn.Parameter()
    assert empty.shape == (0,) and empty.dtype is ember.float32
    assert type(p * 2) is ember.Tensor  # results of ops are plain tensors


def test_parameter_repr():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


def test_parameter_rejects_non_tensor_and_detaches_history():
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])
    x = ember.ones(2, requires_grad=True)
    p = nn.Parameter(x * 2)
    assert p.is_leaf and p.requires_grad


def test_parameter_copy_and_pickle_keep_the_type():
    p = nn.Parameter(ember.randn(3))
    q = copy.deepcopy(p)
    r = pickle.loads(pickle.dumps(p))
    for t in (q, r):
        assert type(t) is nn.Parameter and t.requires_grad
        np.testing.assert_array_equal(npy(t), npy(p))
    q.data.fill_(0)
    assert p.abs().sum().item() > 0


def test_frozen_parameter_gets_no_gradient_and_stays_put():
    net = nn.Linear(3, 2)
    net.weight.requires_grad = False
    before = net.weight.detach().clone()
    net(ember.randn(4, 3)).sum().backward()
    assert net.weight.grad is None and net.bias.grad is not None
    with ember.no_grad():  # a manual SGD step that skips parameters without grad, as optimizers do
        for p in net.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    np.testing.assert_array_equal(npy(net.weight), npy(before))


# ================================================================================ registration


def test_attribute_assignment_registers_parameters_modules_and_buffers():
    net = Net()
    assert list(net._parameters) == ["scale"]
    assert list(net._modules) == ["fc1", "bn", "fc2"]
    assert list(net._buffers) == ["steps"]
    assert net.fc1 is net._modules["fc1"] and net.steps is net._buffers["steps"]
    net.extra = 3  # plain attributes stay plain
    assert "extra" in net.__dict__
    # reassigning a name moves it between tables
    net.fc2 = nn.Parameter(ember.zeros(2))
    assert "fc2" in net._parameters and "fc2" not in net._modules
    del net.fc2
    assert "fc2" not in net._parameters and not hasattr(net, "fc2")


def test_assignment_errors():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign 'ember.FloatTensor' as parameter 'scale'"):
        net.scale = ember.ones(1)
    net.scale = None  # None is allowed and keeps the slot
    assert net.scale is None and "scale" in net._parameters
    with pytest.raises(TypeError, match="as child module 'fc1'"):
        net.fc1 = 3
    with pytest.raises(TypeError, match="as buffer 'steps'"):
        net.steps = 3

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def test_register_parameter_and_buffer_validation():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="parameter name should be a string"):
        m.register_parameter(1, None)
    with pytest.raises(TypeError, match="torch.nn.Parameter or None required"):
        m.register_parameter("w", ember.ones(1))
    with pytest.raises(TypeError, match="torch Tensor or None required"):
        m.register_buffer("b", 3)
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", ember.ones(1))
    nonleaf = ember.ones(1, requires_grad=True) * 2
    nonleaf.__class__ = nn.Parameter  # a Parameter with history cannot be made through the public API
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor"):
        m.register_parameter("w", nonleaf)
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(KeyError, match="contain"):
        m.add_module("a.b", nn.ReLU())


def test_missing_attribute_error_names_the_class():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        nn.Linear(2, 2).nope  # noqa: B018


def test_non_persistent_buffer_is_not_in_state_dict_but_follows_conversions():
    m = nn.Module()
    m.register_buffer("kept", ember.ones(2))
    m.register_buffer("scratch", ember.ones(2), persistent=False)
    m.register_buffer("absent", None)
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
    m.double()
    assert m.scratch.dtype is ember.float64
    m.register_buffer("scratch", ember.ones(2))  # re-registering as persistent
    assert list(m.state_dict()) == ["kept", "scratch"]


# ================================================================================ iteration


def test_parameters_and_named_parameters_order_and_recursion():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_parameters(prefix="model")][1] == "model.fc1.weight"
    assert [n for n, _ in net.named_buffers()] == ["steps", "bn.running_mean", "bn.running_var",
                                                   "bn.num_batches_tracked"]
    assert len(list(net.buffers())) == 4


def test_shared_parameters_and_modules_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.children())) == 2
    tied = nn.Module()
    tied.a = nn.Linear(3, 3)
    tied.b = nn.Linear(3, 3)
    tied.b.weight = tied.a.weight
    assert len(list(tied.parameters())) == 3


def test_children_modules_and_named_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Linear", "BatchNorm1d", "Linear"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "fc2"]
    assert list(net.modules())[0] is net
    outer = nn.Sequential(OrderedDict(body=net))
    assert [n for n, _ in outer.named_modules()][:3] == ["", "body", "body.fc1"]
    assert outer.get_submodule("body.bn") is net.bn
    assert outer.get_parameter("body.fc1.bias") is net.fc1.bias
    assert outer.get_buffer("body.bn.running_var") is net.bn.running_var
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        outer.get_submodule("body.nope")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        outer.get_parameter("body.bn.running_var")


# ================================================================================ modes and gradients


def test_train_eval_propagate():
    net = Net()
    assert net.training and net.bn.training
    assert net.eval() is net
    assert not net.training and not net.bn.training and not net.fc1.training
    net.train()
    assert net.bn.training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_sets_none_or_zero():
    net = Net()
    net(ember.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and g.abs().sum().item() == 0 for g in grads)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_freezes_every_parameter():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    net = Net()
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Linear", "Net"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
    net.apply(init_weights)
    assert (net.fc2.weight == 0.5).all().item()


# ================================================================================ conversion


def test_dtype_conversions_keep_parameter_identity_and_int_buffers():
    net = Net()
    w = net.fc1.weight
    net(ember.randn(5, 4)).sum().backward()
    assert net.double() is net
    assert net.fc1.weight is w and isinstance(w, nn.Parameter) and w.dtype is ember.float64
    assert w.grad.dtype is ember.float64
    assert net.bn.running_mean.dtype is ember.float64
    assert net.bn.num_batches_tracked.dtype is ember.int64  # integer buffers keep their dtype
    net.half()
    assert w.dtype is ember.float16 and w.requires_grad
    net.float()
    assert w.dtype is ember.float32
    net.to(ember.float64)
    assert w.dtype is ember.float64
    net.to("cpu", dtype=ember.float32)
    assert w.dtype is ember.float32
    net.to(ember.zeros(1, dtype=ember.float64))
    assert w.dtype is ember.float64
    assert net.cpu() is net
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(ember.int64)


def test_cuda_raises_clearly_without_cuda():
    net = Net()
    if ember.cuda.is_available():
        pytest.skip("this build has CUDA")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        net.cuda()
    with pytest.raises(RuntimeError, match="without CUDA|no CUDA device was found"):
        net.to("cuda")
    assert net.fc1.weight.device.type == "cpu"


# ================================================================================ hooks


def test_forward_pre_hook_and_forward_hook_can_replace_values():
    lin = nn.Linear(2, 2)
    calls = []

    def pre(module, args):
        calls.append("pre")
        return args[0] * 0  # a single value is wrapped into a tuple

    def post(module, args, output):
        calls.append("post")
        assert module is lin and isinstance(args, tuple)
        return output + 1

    h1 = lin.register_forward_pre_hook(pre)
    h2 = lin.register_forward_hook(post)
    out = lin(ember.randn(3, 2))
    np.testing.assert_allclose(npy(out), npy(lin.bias.expand(3, 2) + 1), rtol=1e-6)
    assert calls == ["pre", "post"]
    h1.remove()
    h2.remove()
    x = ember.randn(3, 2)
    np.testing.assert_allclose(npy(lin(x)), npy(x.matmul(lin.weight.t()) + lin.bias), rtol=1e-6)
    assert calls == ["pre", "post"]


def test_hooks_with_kwargs_prepend_and_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []

    def pre_kw(module, args, kwargs):
        order.append("pre_kw")
        return args, {"factor": 3.0}

    def post_kw(module, args, kwargs, out):
        order.append("post_kw")
        assert kwargs == {"factor": 3.0}
        return out

    m.register_forward_pre_hook(pre_kw, with_kwargs=True)
    m.register_forward_hook(post_kw, with_kwargs=True)
    m.register_forward_hook(lambda mod, a, o: order.append("first"), prepend=True)
    assert m(ember.ones(2)).tolist() == [3.0, 3.0]
    assert order == ["pre_kw", "first", "post_kw"]
    with m.register_forward_hook(lambda mod, a, o: o * 0):
        assert m(ember.ones(2)).tolist() == [0.0, 0.0]
    assert m(ember.ones(2)).tolist() == [3.0, 3.0]

    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, a, k: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        bad(ember.ones(1))


def test_always_call_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    m = Boom()
    m.register_forward_hook(lambda mod, a, o: seen.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, a, o: seen.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(ember.ones(1))
    assert seen == ["always"]


def test_hooks_capture_intermediate_activations():
    net = Net()
    acts = {}
    for name, mod in net.named_children():
        mod.register_forward_hook(lambda m, a, o, name=name: acts.__setitem__(name, o.shape))
    net(ember.randn(6, 4))
    assert acts == {"fc1": (6, 3), "bn": (6, 3), "fc2": (6, 2)}


def test_missing_forward_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(ember.ones(1))


# ================================================================================ state_dict


def test_state_dict_keys_order_and_values():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean",
                        "bn.running_var", "bn.num_batches_tracked", "fc2.weight", "fc2.bias"]
    assert not sd["fc1.weight"].requires_grad and type(sd["fc1.weight"]) is ember.Tensor
    sd["fc1.bias"].fill_(7.0)  # detached, but sharing memory
    assert (net.fc1.bias == 7.0).all().item()
    kept = net.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is net.fc1.weight
    assert sd._metadata[""]["version"] == 1 and sd._metadata["bn"]["version"] == 2
    assert list(net.state_dict(prefix="m."))[0] == "m.scale"


def test_vgg_style_state_dict_keys():
    feats = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    model = nn.Module()
    model.features = feats
    model.classifier = nn.Sequential(nn.Linear(16, 5))
    assert list(model.state_dict()) == [
        "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias", "features.1.running_mean",
        "features.1.running_var", "features.1.num_batches_tracked", "classifier.0.weight", "classifier.0.bias"]


def test_state_dict_round_trip_into_a_fresh_model():
    a, b = Net(), Net()
    a.train()
    a(ember.randn(8, 4))  # moves the running statistics
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(npy(va), npy(vb))
    assert b.bn.num_batches_tracked.item() == 1
    x = ember.randn(3, 4)
    a.eval(), b.eval()
    np.testing.assert_array_equal(npy(a(x)), npy(b(x)))
    # loading copies: the parameter objects stay the same
    w = b.fc1.weight
    b.load_state_dict(Net().state_dict())
    assert b.fc1.weight is w


def test_state_dict_survives_pickling():
    a = Net()
    sd = pickle.loads(pickle.dumps(a.state_dict()))
    b = Net()
    b.load_state_dict(sd)
    np.testing.assert_array_equal(npy(a.fc2.weight), npy(b.fc2.weight))


def test_load_state_dict_strict_reports_missing_and_unexpected():
    net = Net()
    sd = net.state_dict()
    del sd["fc2.bias"]
    sd["fc2.extra"] = ember.ones(1)
    sd["nope.weight"] = ember.ones(1)
    with pytest.raises(RuntimeError) as e:
        Net().load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: \"fc2.bias\". ")
    assert 'Unexpected key(s) in state_dict: "nope.weight", "fc2.extra". ' in msg
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc2.bias"]
    assert sorted(result.unexpected_keys) == ["fc2.extra", "nope.weight"]


def test_load_state_dict_shape_mismatch_raises_even_when_not_strict():
    sd = Net().state_dict()
    sd["fc1.weight"] = ember.ones(5, 5)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: copying a param with shape "
                                               r"ember.Size\(\[5, 5\]\) from checkpoint, the shape in current "
                                               r"model is ember.Size\(\[3, 4\]\)"):
            Net().load_state_dict(sd, strict=strict)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        Net().load_state_dict([1, 2])


def test_load_state_dict_converts_dtype_and_assign_takes_tensors():
    src = nn.Linear(2, 2).double()
    dst = nn.Linear(2, 2)
    dst.load_state_dict(src.state_dict())
    assert dst.weight.dtype is ember.float32
    np.testing.assert_allclose(npy(dst.weight), npy(src.weight), rtol=1e-6)
    dst.load_state_dict(src.state_dict(), assign=True)
    assert dst.weight.dtype is ember.float64 and isinstance(dst.weight, nn.Parameter)
    assert dst.weight.requires_grad


def test_batchnorm_loads_old_checkpoints_without_num_batches_tracked():
    bn = nn.BatchNorm1d(3)
    sd = dict(bn.state_dict())  # a plain dict has no version metadata, like a pre-0.4 checkpoint
    del sd["num_batches_tracked"]
    assert nn.BatchNorm1d(3).load_state_dict(sd).missing_keys == []


def test_state_dict_hooks():
    net = nn.Linear(2, 2)
    net.register_state_dict_post_hook(lambda m, sd, prefix, meta: sd.__setitem__(prefix + "tag", ember.zeros(1)))
    assert "tag" in net.state_dict()
    renamed = {"w": net.weight.detach().clone(), "bias": net.bias.detach().clone()}

    def rename(module, sd, prefix, meta, strict, missing, unexpected, errors):
        if prefix + "w" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w")
    other = nn.Linear(2, 2)
    other.register_load_state_dict_pre_hook(rename)
    assert other.load_state_dict(renamed).missing_keys == []
    np.testing.assert_array_equal(npy(other.weight), npy(net.weight))


def test_ember_state_dict_loads_into_torch_and_back():
    torch = torch_or_skip()
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 2))
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(16, 2))
    assert list(net.state_dict()) == list(tnet.state_dict())
    copy_weights(net, tnet)
    back = {k: ember.tensor(v.numpy()) for k, v in tnet.state_dict().items()}
    nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 2)).load_state_dict(back)


# ================================================================================ repr and copying


def test_nested_repr_matches_pytorch_format():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (fc1): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (bn): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "  (fc2): Linear(in_features=3, out_features=2, bias=True)\n"
        ")")
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        ")")
    assert repr(nn.Module()) == "Module()"


def test_extra_repr_single_and_multi_line():
    class One(nn.Module):
        def extra_repr(self):
            return "k=1"

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.child = nn.ReLU()

        def extra_repr(self):
            return "a=1\nb=2"
    assert repr(One()) == "One(k=1)"
    assert repr(Two()) == "Two(\n  a=1\n  b=2\n  (child): ReLU()\n)"


def test_reprs_identical_to_torch():
    torch = torch_or_skip()
    e = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(),
                      nn.Sequential(nn.Linear(8, 4), nn.BatchNorm1d(4)))
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(True), torch.nn.MaxPool2d(2),
                            torch.nn.Flatten(), torch.nn.Dropout(),
                            torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.BatchNorm1d(4)))
    assert repr(e) == repr(t)


def test_deepcopy_and_pickle_module():
    net = Net()
    net(ember.randn(4, 4))
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone is not net and clone.fc1.weight is not net.fc1.weight
        assert isinstance(clone.fc1.weight, nn.Parameter)
        for (k, a), (_, b) in zip(net.state_dict().items(), clone.state_dict().items()):
            np.testing.assert_array_equal(npy(a), npy(b))
        x = ember.randn(2, 4)
        np.testing.assert_allclose(npy(clone.eval()(x)), npy(net.eval()(x)))
    shared = nn.Sequential(nn.Linear(2, 2))
    shared.append(shared[0])
    dup = copy.deepcopy(shared)
    assert dup[0] is dup[1] and dup[0] is not shared[0]


def test_dir_lists_registered_names():
    names = dir(Net())
    assert {"fc1", "bn", "scale", "steps", "forward"} <= set(names)
