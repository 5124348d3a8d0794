"""ember.save/load of whole programs' objects: numpy arrays, whole nn.Modules (weights-only refusal, safe
globals, weights_only=False), map_location callables, and PyTorch interop of the pickled archive."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import serialization
from ember.serialization import CheckpointError, UnsafeCheckpointError, safe_globals


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **load_kwargs)


def saved(obj, **save_kwargs):
    buf = io.BytesIO()
    ember.save(obj, buf, **save_kwargs)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _no_leftover_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


# ======================================================================================================= numpy

NUMERIC = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.float16,
           np.float32, np.float64, np.complex64, np.complex128]


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: np.dtype(d).name)
def test_numpy_arrays_round_trip_without_pickle(dtype):
    rng = np.random.default_rng(0)
    base = (rng.standard_normal((4, 6)) * 50).astype(dtype)
    if np.dtype(dtype).kind == "c":
        base = base + 1j * base[::-1]
    cases = {"plain": base, "transposed": base.T, "strided": base[::2, 1::3], "empty": base[:0], "0-d": base[1, 2],
             "scalar-array": np.array(base[0, 0]), "fortran": np.asfortranarray(base)}
    data = saved(cases)
    assert data.startswith(serialization.MAGIC) and b"pickle" not in data
    r = ember.load(io.BytesIO(data))
    for k, v in cases.items():
        v = np.asarray(v)
        got = r[k]
        if k == "0-d":  # a numpy scalar is saved as a Python number, as Ember always did
            assert got == v.item()
            continue
        assert type(got) is np.ndarray and got.dtype == v.dtype and got.shape == v.shape, k
        np.testing.assert_array_equal(got, v)
        assert got.flags.writeable and got.flags.c_contiguous


def test_numpy_big_endian_shared_and_alongside_tensors():
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    a = np.linspace(0, 1, 5)
    r = roundtrip({"big": big, "a": a, "again": a, "t": ember.arange(3), "nested": [(a, {"x": big})]})
    assert r["big"].dtype == np.dtype("int32") and r["big"].tolist() == big.tolist()
    assert r["a"] is r["again"] and r["nested"][0][0] is r["a"]
    assert r["t"].tolist() == [0, 1, 2]
    arr = r["a"]
    del r
    import gc
    gc.collect()
    np.testing.assert_array_equal(arr, a)  # the array keeps its buffer alive
    arr[0] = 7.0  # and owns a private copy
    assert a[0] == 0.0


def test_non_numeric_arrays_go_through_pickle_and_are_refused_by_default():
    data = saved({"o": np.array([1, "a"], dtype=object)})
    assert data.startswith(b"PK")
    with pytest.raises(UnsafeCheckpointError, match="object and structured arrays need weights_only=False"):
        ember.load(io.BytesIO(data))
    r = ember.load(io.BytesIO(data), weights_only=False)
    assert r["o"].tolist() == [1, "a"]


def _zip_with_pickle(payload):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("archive/data.pkl", payload)
    return io.BytesIO(out.getvalue())


def test_numpy_pickles_load_as_numpy_without_torch():
    obj = {"f": np.arange(6.0).reshape(2, 3), "i": np.array([1, -2], dtype=np.int16), "s": np.float32(2.5),
           "c": np.complex128(1 - 2j), "be": np.arange(3, dtype=">f8"), "b": np.array([True, False])}
    payload = pickle.dumps(obj, protocol=2)
    r = ember.load(_zip_with_pickle(payload))
    for k, v in pickle.loads(payload).items():  # what numpy's own unpickling gives (">f8" comes back native)
        assert type(r[k]) is type(v) and r[k].dtype == v.dtype, k
        np.testing.assert_array_equal(r[k], v)


def test_numpy_dtype_state_cannot_smuggle_object_fields():
    # numpy would accept such a state and turn the float dtype into a structured one (fields could hold objects)
    evil = (3, "|", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 0)
    payload = (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f8\x89\x88\x87R" + pickle.dumps(evil, 2)[2:-1] + b"b.")
    with pytest.raises(UnsafeCheckpointError, match="dtype state"):
        ember.load(_zip_with_pickle(payload))


# ===================================================================================================== modules


class Net(nn.Module):
    """A model with parameters, a buffer, a tied weight and a plain attribute."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 4)
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4))
        self.head = nn.Linear(4, 5, bias=False)
        self.head.weight = self.emb.weight
        self.register_buffer("scale", ember.tensor([0.5, 2.0, 1.0, 1.0]))
        self.note = {"epochs": 3, "names": ("a", "b")}

    def forward(self, idx):
        return self.head(self.body(self.emb(idx)) * self.scale)


NET_CLASSES = [Net, nn.Embedding, nn.Sequential, nn.Linear, nn.ReLU, nn.BatchNorm1d]


def _same_outputs(a, b):
    idx = ember.tensor([0, 1, 4, 2, 3, 3])
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(idx).detach().numpy(), b(idx).detach().numpy())


def test_whole_module_is_refused_by_default_with_pytorch_guidance():
    data = saved(Net())
    assert data.startswith(b"PK")
    with pytest.raises(pickle.UnpicklingError) as info:
        ember.load(io.BytesIO(data))
    msg = str(info.value)
    assert isinstance(info.value, UnsafeCheckpointError)
    assert "Weights only load failed" in msg and "weights_only" in msg and "False" in msg
    assert "Unsupported global: GLOBAL test_serialization_programs.Net was not an allowed global by default" in msg
    assert "add_safe_globals([test_serialization_programs.Net])" in msg and "safe_globals([" in msg


def test_safe_globals_context_manager_allows_the_listed_classes_only_inside():
    net = Net()
    net.train(False)
    data = saved(net)
    with safe_globals(NET_CLASSES[:-1]):  # BatchNorm1d missing: named in the refusal
        with pytest.raises(UnsafeCheckpointError, match="GLOBAL ember.nn.modules.normalization.BatchNorm1d"):
            ember.load(io.BytesIO(data))
    with safe_globals(NET_CLASSES):
        assert serialization.get_safe_globals() == NET_CLASSES
        r = ember.load(io.BytesIO(data))
    assert serialization.get_safe_globals() == []
    with pytest.raises(UnsafeCheckpointError):
        ember.load(io.BytesIO(data))
    assert type(r) is Net and not r.training and r.note == {"epochs": 3, "names": ("a", "b")}
    assert r.head.weight is r.emb.weight and type(r.emb.weight) is nn.Parameter and r.emb.weight.requires_grad
    assert list(r.state_dict()) == list(net.state_dict())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(r.state_dict()[k].numpy(), v.numpy())
    _same_outputs(net, r)
    # the loaded model trains: gradients reach the tied weight
    r.train()
    r(ember.tensor([1, 2])).sum().backward()
    assert r.emb.weight.grad is not None and r.emb.weight.grad.shape == (5, 4)


def test_add_get_clear_safe_globals_and_named_entries():
    data = saved({"model": nn.Linear(2, 3), "epoch": 4})
    serialization.add_safe_globals([nn.Linear])
    assert serialization.get_safe_globals() == [nn.Linear]
    r = ember.load(io.BytesIO(data))
    assert type(r["model"]) is nn.Linear and r["epoch"] == 4
    serialization.clear_safe_globals()
    with pytest.raises(UnsafeCheckpointError):
        ember.load(io.BytesIO(data))

    class Renamed(nn.Linear):
        pass
    # an object pickled under another name is allowed with (obj, "module.name"); the name is never imported
    serialization.add_safe_globals([(Renamed, "ember.nn.modules.linear.Linear")])
    assert type(ember.load(io.BytesIO(data))["model"]) is Renamed
    with pytest.raises(TypeError, match="list"):
        serialization.add_safe_globals(nn.Linear)
    with pytest.raises(TypeError, match="module.name"):
        serialization.add_safe_globals([(nn.Linear, 3)])


def test_functions_held_by_modules_need_allowlisting_too():
    class_list = [ActivationNet, nn.Linear]
    data = saved(ActivationNet())
    with safe_globals(class_list):
        with pytest.raises(UnsafeCheckpointError, match="GLOBAL ember.nn.functional.relu"):
            ember.load(io.BytesIO(data))
    with safe_globals(class_list + [F.relu]):
        r = ember.load(io.BytesIO(data))
    assert r.act is F.relu


class ActivationNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.act = F.relu


@pytest.mark.parametrize("protocol", [2, 4])
def test_get_unsafe_globals_in_checkpoint_lists_what_to_allowlist(protocol):
    buf = io.BytesIO(saved({"net": Net(), "act": ActivationNet()}, pickle_protocol=protocol))
    want = [c.__module__ + "." + c.__qualname__ for c in NET_CLASSES + [ActivationNet, F.relu]]
    assert sorted(serialization.get_unsafe_globals_in_checkpoint(buf)) == sorted(want)
    assert buf.tell() == 0  # left where it was
    with safe_globals(NET_CLASSES):
        assert serialization.get_unsafe_globals_in_checkpoint(buf) == want[-2:]
    with safe_globals(NET_CLASSES + [ActivationNet, F.relu]):
        assert type(ember.load(buf)["net"]) is Net
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(saved({"w": ember.ones(2)}))) == []
    with pytest.raises(ValueError, match="pickle_protocol"):
        saved({"s": {1}}, pickle_protocol=1)


def test_weights_only_false_unpickles_normally_and_pickle_module_implies_it():
    net = Net()
    data = saved(net)
    r = ember.load(io.BytesIO(data), weights_only=False)
    assert type(r) is Net
    _same_outputs(net, r)
    assert type(ember.load(io.BytesIO(data), pickle_module=pickle)) is Net
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        ember.load(io.BytesIO(data), pickle_module=pickle, weights_only=True)


def test_module_with_optimizer_state_and_sets_in_one_checkpoint(tmp_path):
    net = nn.Linear(3, 2)
    opt = ember.optim.Adam(net.parameters(), lr=0.1)
    net(ember.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    ember.save({"model": net, "opt": opt.state_dict(), "tags": {"x", "y"}, "frozen": frozenset([1]),
                "ba": bytearray(b"\x00\xff"), "z": 1 + 2j, "dtype": ember.bfloat16, "size": ember.Size([2]),
                "dev": ember.device("cpu")}, path)
    with safe_globals([nn.Linear]):
        r = ember.load(path)
    assert r["tags"] == {"x", "y"} and r["frozen"] == frozenset([1]) and r["ba"] == bytearray(b"\x00\xff")
    assert r["z"] == 1 + 2j and r["dtype"] is ember.bfloat16 and r["size"] == (2,) and type(r["size"]) is ember.Size
    assert r["dev"] == ember.device("cpu")
    np.testing.assert_array_equal(r["model"].weight.detach().numpy(), net.weight.detach().numpy())
    opt2 = ember.optim.Adam(r["model"].parameters(), lr=0.1)
    opt2.load_state_dict(r["opt"])
    np.testing.assert_array_equal(opt2.state_dict()["state"][0]["exp_avg"].numpy(),
                                  opt.state_dict()["state"][0]["exp_avg"].numpy())


def test_tensor_views_and_dtypes_in_the_pickled_archive():
    base = ember.arange(12.0)
    obj = {"set": {0}, "base": base, "view": base[2:8].view(2, 3), "t": base.view(3, 4).t(),
           "h": ember.ones(3, dtype=ember.float16), "bf": ember.tensor([1.5, -2.0], dtype=ember.bfloat16),
           "i": ember.tensor([1, -7]), "b": ember.tensor([True, False]), "u8": ember.tensor([255], dtype=ember.uint8),
           "g": ember.ones(2, requires_grad=True), "empty": ember.zeros(0, 3), "scalar": ember.tensor(3.5)}
    r = roundtrip(obj)
    assert ember._C.same_storage(r["base"], r["view"]) and ember._C.same_storage(r["base"], r["t"])
    assert r["t"].stride() == (1, 4) and r["view"].tolist() == [[2, 3, 4], [5, 6, 7]]
    for k in obj:
        if k != "set":
            assert r[k].dtype is obj[k].dtype and r[k].shape == obj[k].shape, k
            np.testing.assert_array_equal(r[k].detach().float().numpy(), obj[k].detach().float().numpy())
    assert r["g"].requires_grad and not r["i"].requires_grad
    with pytest.raises(ValueError, match="view the same storage"):
        u = ember.zeros(4, dtype=ember.uint8)
        saved({"s": {1}, "a": u, "b": ember._C._storage_view(u, ember.bool, (4,), (1,), 0)})


def test_unpicklable_objects_are_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "m.pt"
    ember.save({"w": ember.ones(2)}, path)
    before = path.read_bytes()
    net = nn.Linear(2, 2)
    net.callback = lambda x: x
    with pytest.raises(TypeError, match="can't store objects of type function") as info:
        ember.save(net, path)
    assert isinstance(info.value, pickle.PicklingError)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.pt"]


def test_interrupted_module_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    ember.save(nn.Linear(2, 2), path)
    before = path.read_bytes()
    real, calls = serialization._write_record, []

    def failing(zf, name, data):
        calls.append(name)
        if len(calls) == 5:
            raise OSError("disk full")
        real(zf, name, data)
    monkeypatch.setattr(serialization, "_write_record", failing)
    with pytest.raises(OSError, match="disk full"):
        ember.save(nn.Linear(3, 3), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.pt"]


def test_truncated_and_bit_flipped_module_archives_raise_or_load_unchanged():
    net = nn.Linear(3, 2)
    data = saved(net)
    for n in range(0, len(data), 7):
        with pytest.raises(CheckpointError):
            ember.load(io.BytesIO(data[:n]))
    rng = np.random.default_rng(1)
    # every byte of the first local header and of the central directory, and a sample of the rest
    ends = list(range(100)) + list(range(len(data) - 500, len(data)))
    for pos in ends + list(rng.choice(np.arange(100, len(data) - 500), 100, replace=False)):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        try:
            with safe_globals([nn.Linear]):
                r = ember.load(io.BytesIO(bytes(bad)))
        except CheckpointError:
            continue
        # an undetected flip can only have hit bytes no reader uses (timestamps, padding, attributes)
        assert type(r) is nn.Linear, pos
        np.testing.assert_array_equal(r.weight.detach().numpy(), net.weight.detach().numpy())
        np.testing.assert_array_equal(r.bias.detach().numpy(), net.bias.detach().numpy())


# ================================================================================================ code safety


class Payload:
    """Unpickling this runs os.system: the classic malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


class Trigger:
    """A trusted, callable class: a pickle must still not be able to call its instances (REDUCE)."""

    def __init__(self, marker=None):
        self.marker = marker

    def __call__(self, path):
        open(path, "w").close()


class CallsTrigger:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Trigger(), (self.marker,))


@pytest.mark.parametrize("maker", [Payload, CallsTrigger])
def test_malicious_pickles_never_run_in_the_default_path(tmp_path, maker):
    marker = tmp_path / "pwned"
    data = saved({"weights": ember.ones(2), "evil": maker(str(marker))})
    with pytest.raises(UnsafeCheckpointError, match="Weights only load failed"):
        ember.load(io.BytesIO(data))
    with safe_globals([Payload, Trigger, CallsTrigger]):
        with pytest.raises(UnsafeCheckpointError, match="refusing"):
            ember.load(io.BytesIO(data))
    assert not marker.exists()


def test_weights_only_false_is_the_explicit_opt_in(tmp_path):
    marker = tmp_path / "ran"
    data = saved({"evil": CallsTrigger(str(marker))})
    ember.load(io.BytesIO(data), weights_only=False)
    assert marker.exists()


# ================================================================================================ map_location


def _checkpoints():
    base = ember.arange(6.0)
    obj = {"a": base, "b": base[1:4], "c": ember.ones(2, dtype=ember.int64)}
    return obj, {"ember": saved(obj), "pickled": saved(obj, pickle_module=pickle)}


@pytest.mark.parametrize("kind", ["ember", "pickled"])
def test_map_location_callable_is_called_once_per_storage(kind):
    obj, files = _checkpoints()
    calls = []

    def keep(storage, location):
        calls.append((storage.nbytes(), location, storage.device))
        return storage
    r = ember.load(io.BytesIO(files[kind]), map_location=keep)
    assert sorted(calls) == [(16, "cpu", ember.device("cpu")), (24, "cpu", ember.device("cpu"))]
    assert r["b"].tolist() == [1.0, 2.0, 3.0] and ember._C.same_storage(r["a"], r["b"])
    for fn in (lambda s, loc: s.cpu(), lambda s, loc: None, lambda s, loc: s.to("cpu")):
        assert ember.load(io.BytesIO(files[kind]), map_location=fn)["c"].tolist() == [1, 1]
    with pytest.raises(RuntimeError, match=r"is_available\(\) is False"):
        ember.load(io.BytesIO(files[kind]), map_location=lambda s, loc: s.cuda(0))
    with pytest.raises(TypeError, match="must return a storage"):
        ember.load(io.BytesIO(files[kind]), map_location=lambda s, loc: "cpu")


def test_map_location_other_forms():
    _, files = _checkpoints()
    for loc in ("cpu", ember.device("cpu"), {"cuda:0": "cpu"}, {"cpu": ember.device("cpu")}):
        assert ember.load(io.BytesIO(files["pickled"]), map_location=loc)["a"].shape == (6,)
    with pytest.raises(RuntimeError, match=r"is_available\(\) is False"):
        ember.load(io.BytesIO(files["pickled"]), map_location={"cpu": "cuda:0"})
    with pytest.raises(TypeError, match="map_location must be"):
        ember.load(io.BytesIO(files["pickled"]), map_location=3.5)


# ====================================================================================================== PyTorch


def test_torch_saved_numpy_arrays_load_in_ember(tmp_path):
    torch = pytest.importorskip("torch")
    obj = {"arr": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2], "i8": np.array([-3, 4], dtype=np.int8),
           "best": np.float64(0.875), "count": np.int64(7), "w": torch.randn(3),
           "sd": torch.nn.Linear(2, 2).state_dict()}
    torch.save(obj, tmp_path / "np.pt")
    r = ember.load(tmp_path / "np.pt")
    for k in ("arr", "i8", "best", "count"):
        assert type(r[k]) is type(obj[k]) and r[k].dtype == obj[k].dtype
        np.testing.assert_array_equal(r[k], obj[k])
    np.testing.assert_array_equal(r["w"].numpy(), obj["w"].numpy())
    assert list(r["sd"]) == ["weight", "bias"]
    torch.save({"o": np.array([None, 1], dtype=object)}, tmp_path / "obj.pt")
    with pytest.raises(pickle.UnpicklingError, match="object and structured arrays"):
        ember.load(tmp_path / "obj.pt")


def test_ember_saved_tensors_load_in_torch_with_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    base = ember.arange(10.0)
    obj = {"w": ember.randn(3, 4), "view": base[2:6], "base": base, "t": ember.randn(4, 3).t(),
           "bf": ember.tensor([1.5, -2.25], dtype=ember.bfloat16), "h": ember.ones(2, dtype=ember.float16),
           "d": ember.ones(2, dtype=ember.float64), "i": ember.tensor([1, -5]),
           "i32": ember.tensor([3], dtype=ember.int32), "u8": ember.tensor([200], dtype=ember.uint8),
           "b": ember.tensor([True]), "p": nn.Parameter(ember.ones(2)), "dtype": ember.float16,
           "size": ember.Size([1, 2]), "dev": ember.device("cpu"), "n": [1, 2.5, "x", None]}
    path = tmp_path / "e.pt"
    ember.save(obj, path, pickle_module=pickle)
    r = torch.load(path)  # torch's default weights_only=True
    for k in ("w", "view", "base", "t", "bf", "h", "d", "i", "i32", "u8", "b", "p"):
        assert str(r[k].dtype) == "torch." + obj[k].dtype._name, k
        np.testing.assert_array_equal(r[k].detach().float().numpy(), obj[k].detach().float().numpy())
    assert r["view"].untyped_storage().data_ptr() == r["base"].untyped_storage().data_ptr()
    assert r["t"].stride() == (1, 3) and isinstance(r["p"], torch.nn.Parameter) and r["p"].requires_grad
    assert r["dtype"] is torch.float16 and r["size"] == torch.Size([1, 2]) and r["dev"] == torch.device("cpu")
    assert r["n"] == [1, 2.5, "x", None]
    torch.load(path, mmap=True)  # the records are 64-byte aligned, as torch writes them


def test_ember_saved_module_loads_in_torch_with_weights_only_false(tmp_path):
    torch = pytest.importorskip("torch")
    net = nn.Linear(3, 2)
    ember.save(net, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="ember.nn.modules.linear.Linear"):
        torch.load(tmp_path / "m.pt")
    r = torch.load(tmp_path / "m.pt", weights_only=False)
    # the module is Ember's class; its weights come back as torch tensors, ready for a torch model
    assert type(r) is nn.Linear and isinstance(r.weight, torch.nn.Parameter)
    tnet = torch.nn.Linear(3, 2)
    tnet.load_state_dict({k: v for k, v in r._parameters.items()})
    np.testing.assert_array_equal(tnet.weight.detach().numpy(), net.weight.detach().numpy())


def test_torch_saved_ember_module_loads_in_ember(tmp_path):
    torch = pytest.importorskip("torch")
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    torch.save(net, tmp_path / "m.pt")  # torch's pickler stores Ember tensors through their own __reduce_ex__
    with pytest.raises(UnsafeCheckpointError, match="ember.nn.modules.container.Sequential"):
        ember.load(tmp_path / "m.pt")
    with safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):
        r = ember.load(tmp_path / "m.pt")
    x = ember.randn(4, 3)
    np.testing.assert_array_equal(r(x).detach().numpy(), net(x).detach().numpy())
    assert type(r[0].weight) is nn.Parameter and r[0].weight.requires_grad
