"""ember.save / ember.load, safetensors and PyTorch checkpoint import: exact round trips of every dtype and
layout, shared storages, nested containers, atomic writes, files built by hand (zip + pickle written here) and by
real torch/safetensors when installed, and every kind of bad file."""
import io
import json
import math
import os
import pickle
import signal
import struct
import subprocess
import sys
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np
import pytest

import ember
from ember.serialization import CheckpointError, UnsafeCheckpointError
from ember.safetensors import SafetensorError

DTYPES = [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int64, ember.int32, ember.uint8,
          ember.bool]
RNG = np.random.default_rng(3)


def sample(dtype, shape=(3, 4)):
    if dtype is ember.bool:
        return ember.tensor(RNG.random(shape) > 0.5)
    if dtype in (ember.int64, ember.int32, ember.uint8):
        return ember.tensor(RNG.integers(0, 200, shape), dtype=dtype)
    return ember.tensor(RNG.standard_normal(shape) * 100, dtype=dtype)


def bits(t):
    """The exact values (bit patterns for floats) of t, for exact comparisons (bfloat16 via float32)."""
    t = t.detach()
    if t.dtype is ember.bfloat16:
        return np.asarray(t.float()).view(np.uint32)
    a = t.numpy()
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize]) if a.dtype.kind == "f" else a


def roundtrip(obj, tmp_path=None):
    if tmp_path is None:
        buf = io.BytesIO()
        ember.save(obj, buf)
        buf.seek(0)
        return ember.load(buf)
    path = tmp_path / "obj.ckpt"
    ember.save(obj, path)
    return ember.load(path)


# ====================================================================================================== round trips


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d._name)
@pytest.mark.parametrize("via", ["path", "fileobj"])
def test_every_dtype_round_trips_exactly(dtype, via, tmp_path):
    t = sample(dtype)
    if dtype.is_floating_point:
        t[0, 0] = math.nan
        t[0, 1] = math.inf
        t[0, 2] = -0.0
    r = roundtrip({"t": t}, tmp_path if via == "path" else None)["t"]
    assert r.dtype is dtype and r.shape == t.shape and r.stride() == t.stride()
    np.testing.assert_array_equal(bits(r), bits(t))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d._name)
def test_empty_scalar_and_non_contiguous_tensors(dtype):
    base = sample(dtype, (4, 6))
    objs = {"empty": sample(dtype, (0, 3)), "scalar": sample(dtype, ()), "t": base.t(), "slice": base[1:, ::2],
            "expanded": sample(dtype, (1, 3)).expand(4, 3)}
    r = roundtrip(objs)
    for k, v in objs.items():
        assert r[k].shape == v.shape and r[k].dtype is dtype, k
        assert r[k].stride() == v.stride() and r[k].storage_offset() == v.storage_offset(), k
        np.testing.assert_array_equal(bits(r[k]), bits(v))


def test_views_of_one_storage_are_saved_once_and_stay_shared():
    base = ember.arange(1000.0)
    views = {"base": base, "a": base[10:20], "b": base.view(10, 100).t(), "c": base[500:]}
    buf = io.BytesIO()
    ember.save(views, buf)
    assert len(buf.getvalue()) < 1000 * 4 + 4096  # one copy of the storage
    buf.seek(0)
    r = ember.load(buf)
    for k in ("a", "b", "c"):
        assert ember._C.same_storage(r["base"], r[k])
    np.testing.assert_array_equal(r["b"].numpy(), base.view(10, 100).t().numpy())
    r["a"][0] = -1.0
    assert r["base"][10].item() == -1.0


def test_same_tensor_twice_loads_as_one_object():
    t = ember.ones(3)
    r = roundtrip([t, {"again": t}])
    assert r[0] is r[1]["again"]


def test_nested_containers_numbers_strings_and_none():
    obj = {"epoch": 7, "lr": 0.1, "big": 2 ** 70, "neg": -3, "flags": (True, False, None), "name": "run-é",
           "nested": [{"a": [1, [2, [3, (4.5, "x")]]]}, []], 0: "int key", (1, 2): "tuple key", 2.5: "float key",
           "specials": [math.inf, -math.inf, 0.1 + 0.2, -0.0], "od": OrderedDict([("z", 1), ("a", 2)]),
           "counter": Counter([1, 1, 2]), "bytes": b"\x00\xffdata", "dtype": ember.bfloat16,
           "size": ember.Size([2, 3]), "device": ember.device("cpu"), "empty": {}, "tup": ()}
    r = roundtrip(obj)
    nan = roundtrip([math.nan])[0]
    assert math.isnan(nan)
    assert r == obj
    assert type(r["od"]) is OrderedDict and list(r["od"]) == ["z", "a"]
    assert type(r["counter"]) is Counter and type(r["flags"]) is tuple and type(r["size"]) is ember.Size
    assert r["dtype"] is ember.bfloat16 and str(r["specials"][3]) == "-0.0"


def test_requires_grad_is_preserved_and_grads_are_not_saved():
    w = ember.ones(2, 2, requires_grad=True)
    (w * 2).sum().backward()
    r = roundtrip({"w": w, "d": w.detach(), "y": w * 3})
    assert r["w"].requires_grad and r["w"].is_leaf and r["w"].grad is None
    assert not r["d"].requires_grad
    assert r["y"].requires_grad and r["y"].is_leaf
    np.testing.assert_array_equal(r["y"].detach().numpy(), np.full((2, 2), 3.0))


def test_unsupported_objects_are_refused_clearly():
    class Custom:
        pass
    for bad in (Custom(), lambda: 1):  # sets, arrays and importable classes are saved since issue 11
        with pytest.raises(TypeError, match="can't store objects of type"):
            ember.save({"x": bad}, io.BytesIO())
    cyc = []
    cyc.append(cyc)
    with pytest.raises(ValueError, match="reference cycle"):
        ember.save(cyc, io.BytesIO())


def test_file_objects_non_seekable_and_offset_streams(tmp_path):
    t = sample(ember.float32)
    raw = io.BytesIO()
    ember.save({"t": t}, raw)

    class Pipe(io.RawIOBase):  # a readable stream that cannot seek
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.data.readinto(b)

    np.testing.assert_array_equal(ember.load(Pipe(raw.getvalue()))["t"].numpy(), t.numpy())
    shifted = io.BytesIO(b"prefix" + raw.getvalue())
    shifted.read(6)
    np.testing.assert_array_equal(ember.load(shifted)["t"].numpy(), t.numpy())
    with open(tmp_path / "f.bin", "wb") as fh:
        ember.save([t], fh)
    with open(tmp_path / "f.bin", "rb") as fh:
        np.testing.assert_array_equal(ember.load(fh)[0].numpy(), t.numpy())
    with pytest.raises(TypeError, match="path or a writable"):
        ember.save(t, 42)


def test_map_location():
    buf = io.BytesIO()
    ember.save(ember.ones(2), buf)
    for loc in ("cpu", ember.device("cpu"), {"cuda:0": "cpu"}):
        buf.seek(0)
        assert ember.load(buf, map_location=loc).shape == (2,)
    buf.seek(0)
    with pytest.raises(RuntimeError, match=r"is_available\(\) is False"):
        ember.load(buf, map_location="cuda")


# ====================================================================================================== atomicity


def test_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    ember.save({"v": ember.ones(1000)}, path)
    before = path.read_bytes()
    os.chmod(path, 0o640)
    import ember.serialization as ser
    real = ser._write_payload

    def crash_midway(fh, head, chunks):
        fh.write(head)
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(ser, "_write_payload", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"v": ember.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ckpt"]  # the temporary file was removed
    monkeypatch.setattr(ser, "_write_payload", real)
    ember.save({"v": ember.zeros(1000)}, path)
    assert ember.load(path)["v"].sum().item() == 0
    assert os.stat(path).st_mode & 0o777 == 0o640  # a replaced checkpoint keeps its permissions


def test_process_killed_during_save_keeps_the_previous_checkpoint(tmp_path):
    """A real crash: the saving process is SIGKILLed just before the rename."""
    path = tmp_path / "model.ckpt"
    ember.save({"v": ember.ones(10)}, path)
    before = path.read_bytes()
    code = ("import os, signal, ember\n"
            "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
            "ember.save({'v': ember.zeros(100000)}, %r)\n" % str(path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    np.testing.assert_array_equal(ember.load(path)["v"].numpy(), np.ones(10, np.float32))


def test_new_file_gets_default_permissions(tmp_path):
    path = tmp_path / "new.ckpt"
    ember.save(1, path)
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask


# ====================================================================================================== bad files


def good_bytes():
    buf = io.BytesIO()
    ember.save({"w": ember.arange(64.0).view(8, 8), "b": ember.ones(8), "meta": [1, "x"]}, buf)
    return buf.getvalue()


def _patch_header(data, mutate, fix_crc=True):
    magic, version, crc, hlen, dlen = struct.unpack_from("<8sIIQQ", data)
    header = json.loads(data[32:32 + hlen])
    mutate(header)
    raw = json.dumps(header).encode()
    start = (32 + len(raw) + 63) // 64 * 64
    old_start = (32 + hlen + 63) // 64 * 64
    head = struct.pack("<8sIIQQ", magic, version, zlib.crc32(raw) if fix_crc else crc, len(raw), dlen) + raw
    return head + b"\0" * (start - len(head)) + data[old_start:]


BAD_EMBER = {
    "empty": (lambda d: b"", "empty"),
    "truncated-in-fixed-header": (lambda d: d[:20], "unrecognised|truncated"),
    "truncated-in-header": (lambda d: d[:60], "truncated"),
    "truncated-in-data": (lambda d: d[:-5], "truncated"),
    "trailing-garbage": (lambda d: d + b"junk", "corrupt"),
    "wrong-magic": (lambda d: b"\x89EMX" + d[4:], "unrecognised leading bytes"),
    "random-bytes": (lambda d: bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
                     "unrecognised|not a readable|safetensors"),
    "future-version": (lambda d: d[:8] + struct.pack("<I", 99) + d[12:], "unsupported Ember checkpoint version 99"),
    "oversized-header": (lambda d: d[:16] + struct.pack("<Q", 1 << 60) + d[24:], "exceeds the"),
    "huge-data-length": (lambda d: d[:24] + struct.pack("<Q", 1 << 62) + d[32:], "truncated"),
    "header-bitflip": (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], "header checksum mismatch"),
    "data-bitflip": (lambda d: d[:-3] + bytes([d[-3] ^ 0x10]) + d[-2:], "checksum mismatch in storage"),
    "not-json": (lambda d: _patch_header(d, lambda h: None)[:32] + b"{nope" + b" " * 100, "truncated|corrupt"),
    "storage-out-of-range": (lambda d: _patch_header(d, lambda h: h["storages"][0].update(offset=1 << 40)),
                             "lies outside"),
    "storage-huge": (lambda d: _patch_header(d, lambda h: h["storages"][0].update(nbytes=1 << 50)), "lies outside"),
    "tensor-offset-out-of-range": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(offset=10 ** 6)),
                                   "reach past the end"),
    "tensor-shape-too-big": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(shape=[8, 9])),
                             "reach past the end"),
    "tensor-overflow": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(shape=[2 ** 62, 4],
                                                                                     stride=[2 ** 62, 1])),
                        "reach past the end|too large"),
    "negative-stride": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(stride=[-8, 1])), "integer"),
    "bad-dtype": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(dtype="complex64")), "unknown dtype"),
    "bad-storage-index": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(storage=5)), "storage"),
    "bad-tag": (lambda d: _patch_header(d, lambda h: h.update(object=["pickle", "os.system"])), "unknown object tag"),
    "bad-tensor-ref": (lambda d: _patch_header(d, lambda h: h.update(object=["tensor", 99])), "out of range"),
    "unhashable-key": (lambda d: _patch_header(d, lambda h: h.update(object=["dict", [[["list", []], 1]]])),
                       "unhashable"),
    "deep-nesting": (lambda d: _patch_header(d, lambda h: h.update(object=_deep(300))), "nested more than"),
    "json-bomb-nesting": (lambda d: _raw_header_file('{"storages":[],"tensors":[],"object":' + "[" * 100000
                                                     + "]" * 100000 + "}"), "unreadable header"),
    "missing-keys": (lambda d: _patch_header(d, lambda h: h.pop("tensors")), "lacks"),
    "int-requires-grad": (lambda d: _patch_header(d, lambda h: h["tensors"][0].update(dtype="int64",
                                                                                       requires_grad=True)),
                          "cannot require grad"),
}


def _raw_header_file(text):
    raw = text.encode()
    head = struct.pack("<8sIIQQ", ember.serialization.MAGIC, 1, zlib.crc32(raw), len(raw), 0) + raw
    return head + b"\0" * (-len(head) % 64)


def _deep(n):
    node = None
    for _ in range(n):
        node = ["list", [node]]
    return node


@pytest.mark.parametrize("case", sorted(BAD_EMBER))
def test_bad_ember_files_raise_clear_errors(case, tmp_path):
    make, match = BAD_EMBER[case]
    data = make(good_bytes())
    path = tmp_path / "bad.ckpt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=match):
        ember.load(path)
    with pytest.raises(CheckpointError, match=match):
        ember.load(io.BytesIO(data))


def test_every_truncation_of_a_checkpoint_is_detected():
    data = good_bytes()
    for n in range(0, len(data), 7):
        with pytest.raises(CheckpointError):
            ember.load(io.BytesIO(data[:n]))


def test_random_corruption_never_crashes():
    data = good_bytes()
    rng = np.random.default_rng(11)
    for _ in range(300):
        b = bytearray(data)
        for i in rng.integers(0, len(b), 3):
            b[i] = int(rng.integers(0, 256))
        try:
            ember.load(io.BytesIO(bytes(b)))
        except CheckpointError:
            pass


def test_legacy_torch_pickle_is_refused():
    with pytest.raises(CheckpointError, match="legacy"):
        ember.load(io.BytesIO(pickle.dumps({"a": 1}, protocol=2)))


# ====================================================================================================== safetensors


def test_safetensors_round_trip_every_dtype(tmp_path):
    tensors = {d._name: sample(d) for d in DTYPES}
    tensors["empty"] = ember.zeros(0, 5)
    tensors["scalar"] = ember.tensor(2.5)
    path = tmp_path / "m.safetensors"
    ember.safetensors.save_file(tensors, path, metadata={"format": "pt"})
    for loaded in (ember.safetensors.load_file(path), ember.load(path),
                   ember.safetensors.load(ember.safetensors.save(tensors, {"format": "pt"}))):
        assert set(loaded) == set(tensors)
        for k, v in tensors.items():
            assert loaded[k].dtype is v.dtype and loaded[k].shape == v.shape
            np.testing.assert_array_equal(bits(loaded[k]), bits(v))


def test_safetensors_layout_follows_the_format():
    data = ember.safetensors.save({"b": ember.ones(3, dtype=ember.float16), "a": ember.zeros(2)}, {"k": "v"})
    n = struct.unpack("<Q", data[:8])[0]
    assert n % 8 == 0
    header = json.loads(data[8:8 + n])
    assert header["__metadata__"] == {"k": "v"}
    assert header["a"] == {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    assert header["b"] == {"dtype": "F16", "shape": [3], "data_offsets": [8, 14]}
    assert len(data) == 8 + n + 14


def test_safetensors_save_refuses_what_the_format_cannot_hold():
    base = ember.ones(4, 4)
    with pytest.raises(RuntimeError, match="share memory"):
        ember.safetensors.save({"a": base, "b": base[0]})
    with pytest.raises(ValueError, match="non contiguous"):
        ember.safetensors.save({"a": base.t()})
    with pytest.raises(ValueError, match="expected ember.Tensor"):
        ember.safetensors.save({"a": 1})
    with pytest.raises(ValueError, match="Expected a dict"):
        ember.safetensors.save([base])


def _st(header, data=b"", raw_header=None):
    raw = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


BAD_ST = {
    "huge-header-length": (b"\xff" * 8 + b"{}", "header length|unrecognised"),
    "header-past-end": (struct.pack("<Q", 1000) + b"{" + b" " * 20, "truncated"),
    "not-json": (_st(None, raw_header=b"{not json}"), "invalid header"),
    "not-object": (_st(None, raw_header=b"{\"a\": 1}"), "must have exactly"),
    "bad-dtype": (_st({"a": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4), "unknown dtype"),
    "f8": (_st({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"), "does not support"),
    "size-mismatch": (_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4), "needs 8"),
    "offset-out-of-range": (_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}, b"\0" * 4),
                            "ends at byte 12"),
    "huge-shape": (_st({"a": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 4]}}, b"\0" * 4),
                   "needs"),
    "gap": (_st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\0\0"), "starts at byte 1"),
    "overlap": (_st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                     "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3), "expected 2"),
    "trailing-data": (_st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\0\0"), "cover 1 bytes"),
    "negative-shape": (_st({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}), "invalid shape"),
    "bad-offsets": (_st({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 0]}}, b"\0"), "invalid data_offsets"),
    "duplicate-key": (_st(None, raw_header=b'{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},'
                                           b'"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), "duplicate key"),
    "bad-metadata": (_st({"__metadata__": {"a": 1}}), "__metadata__"),
}


@pytest.mark.parametrize("case", sorted(BAD_ST))
def test_bad_safetensors_files(case, tmp_path):
    data, match = BAD_ST[case]
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=match):
        ember.safetensors.load_file(path)
    if case != "huge-header-length":
        with pytest.raises(SafetensorError, match=match):
            ember.safetensors.load(data)


def test_safetensors_reads_small_integer_types():
    data = _st({"i8": {"dtype": "I8", "shape": [2], "data_offsets": [0, 2]},
                "u16": {"dtype": "U16", "shape": [1], "data_offsets": [2, 4]},
                "u32": {"dtype": "U32", "shape": [1], "data_offsets": [4, 8]}},
               np.array([-5, 7], np.int8).tobytes() + np.array([65535], "<u2").tobytes()
               + np.array([4000000000], "<u4").tobytes())
    r = ember.safetensors.load(data)
    assert r["i8"].dtype is ember.int8 and r["i8"].tolist() == [-5, 7]  # unsigned 16/32-bit types widen
    assert r["u16"].tolist() == [65535] and r["u32"].dtype is ember.int64 and r["u32"].tolist() == [4000000000]


def test_cross_check_with_the_safetensors_package(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {"f32": RNG.standard_normal((3, 2)).astype(np.float32), "i64": np.arange(5),
              "f16": np.ones(4, np.float16), "u8": np.arange(3, dtype=np.uint8), "b": np.array([True, False])}
    st_numpy.save_file(arrays, str(tmp_path / "ref.safetensors"), metadata={"x": "y"})
    ours = ember.safetensors.load_file(tmp_path / "ref.safetensors")
    for k, v in arrays.items():
        np.testing.assert_array_equal(ours[k].numpy(), v)
    ember.safetensors.save_file({k: ember.tensor(v) for k, v in arrays.items()}, tmp_path / "ours.safetensors")
    back = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype
    # byte-identical files: same ordering, header and padding rules
    assert (tmp_path / "ours.safetensors").read_bytes() == st_numpy.save(arrays)


def test_cross_check_bfloat16_with_safetensors_torch(tmp_path):
    pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file
    t = torch.randn(4, 3).to(torch.bfloat16)
    save_file({"t": t, "i": torch.arange(3, dtype=torch.int32)}, str(tmp_path / "t.safetensors"))
    ours = ember.load(tmp_path / "t.safetensors")
    np.testing.assert_array_equal(np.asarray(ours["t"].float()), t.float().numpy())
    ember.safetensors.save_file(ours, tmp_path / "back.safetensors")
    back = load_file(str(tmp_path / "back.safetensors"))
    assert torch.equal(back["t"], t) and back["i"].tolist() == [0, 1, 2]


# ====================================================================================================== PyTorch files


class _TorchLikePickler(pickle.Pickler):
    """Writes data.pkl exactly like torch.save: tensors as _rebuild_tensor_v2 calls on persistent storages."""

    def __init__(self, f, storages):
        super().__init__(f, protocol=2)
        self.storages = storages

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            self.storages[obj.key] = obj.data
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


class _Storage:
    def __init__(self, key, kind, data, numel):
        self.key, self.kind, self.data, self.numel = key, kind, data, numel


class _Call:
    """Pickles as func(*args) where func is a GLOBAL reference."""

    def __init__(self, module, name, args):
        self.func, self.args = _glob(module, name), args

    def __reduce__(self):
        return (self.func, self.args)


def _glob(module, name):
    """A picklable stand-in whose pickle is GLOBAL 'module name' (torch need not be installed)."""
    import types
    parts = module.split(".")
    for i in range(1, len(parts) + 1):  # parents too, so pickle can import the dotted name
        name_i = ".".join(parts[:i])
        if name_i not in sys.modules:
            sys.modules[name_i] = types.ModuleType(name_i)
            _FAKE_MODULES.append(name_i)
    mod = sys.modules[module]
    if not hasattr(mod, name):
        def stub(*a):
            raise AssertionError("never called in the test process")
        stub.__module__, stub.__qualname__, stub.__name__ = module, name, name
        setattr(mod, name, stub)
    return getattr(mod, name)


_FAKE_MODULES = []


@pytest.fixture(autouse=True)
def _cleanup_fake_modules():
    yield
    for m in _FAKE_MODULES:
        sys.modules.pop(m, None)
    _FAKE_MODULES.clear()


def torch_like_file(obj_builder, prefix="archive", byteorder=b"little", compress=zipfile.ZIP_STORED, extra=None):
    """A .pt zip archive written by this test: data.pkl from obj_builder(storage_factory), data/<key> records."""
    storages = {}

    counter = iter(range(1000))

    def storage(kind_name, array, key=None):
        key = key or str(next(counter))
        kind = _glob("torch", kind_name)
        st = _Storage(key, kind, np.ascontiguousarray(array).tobytes(), array.size)
        return st

    obj = obj_builder(storage)
    buf = io.BytesIO()
    _TorchLikePickler(buf, storages).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as z:
        z.writestr(prefix + "/data.pkl", buf.getvalue())
        z.writestr(prefix + "/byteorder", byteorder)
        z.writestr(prefix + "/version", b"3\n")
        for key, data in storages.items():
            z.writestr(prefix + "/data/" + key, data)
        for name, data in (extra or {}).items():
            z.writestr(prefix + "/" + name, data)
    return out.getvalue()


def _tensor(st, offset, size, stride, requires_grad=False):
    return _Call("torch._utils", "_rebuild_tensor_v2",
                 (st, offset, tuple(size), tuple(stride), requires_grad, _Call("collections", "OrderedDict", ())))


def test_handmade_pytorch_state_dict_loads_with_the_same_keys():
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float64)
    counts = np.array([3], np.int64)
    half = np.arange(6, dtype=np.float16)
    small = np.array([-3, 100], np.int8)

    def build(storage):
        sw, sb = storage("FloatStorage", w), storage("DoubleStorage", b)
        sh = storage("HalfStorage", half)
        sd = OrderedDict()
        sd["features.0.weight"] = _tensor(sw, 0, (4, 3), (3, 1))
        sd["features.0.weight_t"] = _tensor(sw, 0, (3, 4), (1, 3))  # a view of the same storage
        sd["features.0.bias"] = _tensor(sb, 0, (4,), (1,), True)
        sd["bn.num_batches_tracked"] = _tensor(storage("LongStorage", counts), 0, (), ())
        sd["half_tail"] = _tensor(sh, 2, (2, 2), (2, 1))
        sd["i8"] = _tensor(storage("CharStorage", small), 0, (2,), (1,))
        sd["param"] = _Call("torch._utils", "_rebuild_parameter", (_tensor(sw, 3, (3,), (1,)), True,
                                                                   _Call("collections", "OrderedDict", ())))
        return {"model": sd, "epoch": 3, "note": _Call("_codecs", "encode", ("\xffab", "latin1")),
                "shape": _Call("torch", "Size", ((2, 3),)), "dt": _glob("torch", "float32")}

    data = torch_like_file(build)
    r = ember.load(io.BytesIO(data))
    sd = r["model"]
    assert type(sd) is OrderedDict and list(sd)[:3] == ["features.0.weight", "features.0.weight_t",
                                                       "features.0.bias"]
    np.testing.assert_array_equal(sd["features.0.weight"].numpy(), w)
    np.testing.assert_array_equal(sd["features.0.weight_t"].numpy(), w.reshape(-1).reshape(3, 4, order="F"))
    assert ember._C.same_storage(sd["features.0.weight"], sd["features.0.weight_t"])
    assert sd["features.0.bias"].dtype is ember.float64 and sd["features.0.bias"].requires_grad
    assert sd["bn.num_batches_tracked"].shape == () and sd["bn.num_batches_tracked"].item() == 3
    np.testing.assert_array_equal(sd["half_tail"].numpy(), half[2:6].reshape(2, 2))
    assert sd["i8"].dtype is ember.int8 and sd["i8"].tolist() == [-3, 100]
    assert sd["param"].requires_grad and sd["param"].tolist() == w.reshape(-1)[3:6].tolist()
    assert r["epoch"] == 3 and r["note"] == b"\xffab" and r["shape"] == ember.Size([2, 3])
    assert r["dt"] is ember.float32


def test_handmade_big_endian_and_deflated_archives():
    w = RNG.standard_normal(5).astype(np.float32)

    def build_be(storage):
        st = _Storage("0", _glob("torch", "FloatStorage"), w.astype(">f4").tobytes(), 5)
        return {"w": _tensor(st, 0, (5,), (1,))}

    r = ember.load(io.BytesIO(torch_like_file(build_be, byteorder=b"big")))
    np.testing.assert_array_equal(r["w"].numpy(), w)
    r = ember.load(io.BytesIO(torch_like_file(lambda s: {"w": _tensor(s("FloatStorage", w), 1, (4,), (1,))},
                                              compress=zipfile.ZIP_DEFLATED)))
    np.testing.assert_array_equal(r["w"].numpy(), w[1:])


MALICIOUS = {
    "os.system": lambda s: _Call("os", "system", ("echo pwned > /tmp/ember_pwned",)),
    "builtins.eval": lambda s: _Call("builtins", "eval", ("1+1",)),
    "builtins.getattr": lambda s: _Call("builtins", "getattr", (1, "real")),
    "subprocess": lambda s: _Call("subprocess", "check_output", (["id"],)),
    "model-class": lambda s: _Call("mymodels", "Net", ()),
    "torch.load-nested": lambda s: _Call("torch", "load", ("x",)),
    "pickle.loads": lambda s: _Call("pickle", "loads", (b"",)),
    "codecs-other-encoding": lambda s: _Call("_codecs", "encode", ("x", "rot13")),
    "rebuild-from-type-evil": lambda s: _Call("torch._tensor", "_rebuild_from_type_v2",
                                              (_glob("torch._utils", "_rebuild_tensor_v2"), _glob("os", "system"),
                                               (), {})),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_pickles_are_refused_without_running_code(case):
    data = torch_like_file(lambda s: {"x": MALICIOUS[case](s)})
    with pytest.raises(UnsafeCheckpointError, match="refusing"):
        ember.load(io.BytesIO(data))
    assert not os.path.exists("/tmp/ember_pwned")


def test_raw_pickle_opcodes_reaching_for_globals_are_refused():
    # REDUCE on os.system written by hand, with the INST/OBJ-free GLOBAL opcode
    payload = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a/data.pkl", payload)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load posix.system"):
        ember.load(io.BytesIO(out.getvalue()))


def _bad_pt(kind):
    w = np.arange(6, dtype=np.float32)
    if kind == "offset-out-of-range":
        return torch_like_file(lambda s: {"w": _tensor(s("FloatStorage", w), 5, (3,), (1,))})
    if kind == "size-mismatch":
        def b(s):
            st = s("FloatStorage", w)
            st.numel = 1000  # the pickle claims more elements than the record holds
            return {"w": _tensor(st, 0, (6,), (1,))}
        return torch_like_file(b)
    if kind == "missing-record":
        data = torch_like_file(lambda s: {"w": _tensor(s("FloatStorage", w), 0, (6,), (1,))})
        zin, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for i in zin.infolist():
                if not i.filename.endswith("data/0"):
                    z.writestr(i, zin.read(i))
        return out.getvalue()
    if kind == "bad-zip":
        return b"PK\x03\x04" + b"\0" * 100
    if kind == "truncated-zip":
        return torch_like_file(lambda s: {"w": _tensor(s("FloatStorage", w), 0, (6,), (1,))})[:-40]
    if kind == "corrupted-record":
        data = bytearray(torch_like_file(lambda s: {"w": _tensor(s("FloatStorage", w), 0, (6,), (1,))}))
        i = bytes(data).find(w.tobytes())
        data[i + 5] ^= 0xFF
        return bytes(data)
    if kind == "no-data-pkl":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("a/other.txt", b"hi")
        return out.getvalue()
    if kind == "truncated-pickle":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("a/data.pkl", pickle.dumps({"a": [1, 2, 3]}, protocol=2)[:-5])
        return out.getvalue()
    if kind == "bad-persistent-id":
        class P(pickle.Pickler):
            def persistent_id(self, obj):
                return ("storage", "FloatStorage", 0, "cpu", 1) if obj == "S" else None
        buf = io.BytesIO()
        P(buf, protocol=2).dump(["S"])
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("a/data.pkl", buf.getvalue())
        return out.getvalue()
    if kind == "complex":
        return torch_like_file(lambda s: {"w": _tensor(s("ComplexFloatStorage", w), 0, (3,), (1,))})
    if kind == "storage-bomb":
        def b(s):
            st = s("FloatStorage", w)
            st.numel = 1 << 40
            return {"w": _tensor(st, 0, (6,), (1,))}
        return torch_like_file(b)
    if kind == "torchscript":
        return torch_like_file(lambda s: {"w": 1}, extra={"constants.pkl": b"x", "code/__torch__.py": b"x"})
    if kind == "hooks":
        return torch_like_file(lambda s: {"w": _Call("torch._utils", "_rebuild_tensor_v2", (
            s("FloatStorage", w), 0, (6,), (1,), False, _Call("collections", "OrderedDict", ([(1, 2)],))))})
    raise AssertionError(kind)


BAD_PT = {"offset-out-of-range": "reach past the end", "size-mismatch": "holds 24 bytes, expected 4000",
          "missing-record": "missing record", "bad-zip": "not a readable zip", "truncated-zip": "not a readable zip",
          "corrupted-record": "CRC|Bad", "no-data-pkl": "expected one data.pkl", "truncated-pickle": "could not be read",
          "bad-persistent-id": "persistent id|refusing", "complex": "ComplexFloatStorage",
          "storage-bomb": "holds 24 bytes", "torchscript": "TorchScript", "hooks": "backward hooks"}


@pytest.mark.parametrize("case", sorted(BAD_PT))
def test_bad_pytorch_files(case):
    with pytest.raises(CheckpointError, match=BAD_PT[case]):
        ember.load(io.BytesIO(_bad_pt(case)))


# ------------------------------------------------------------------------------------------ with real PyTorch


def test_real_torch_save_files(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    base = torch.arange(20.0)
    obj = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 4, "view": base[5:9],
           "base": base, "t": base.view(4, 5).t(), "bf16": torch.randn(3).to(torch.bfloat16),
           "i16": torch.tensor([-2, 30000], dtype=torch.int16), "u8": torch.tensor([1, 255], dtype=torch.uint8),
           "bool": torch.tensor([True, False]), "param": torch.nn.Parameter(torch.ones(2)), "empty": torch.zeros(0, 3),
           "dtype": torch.float64, "size": torch.Size([1, 2]), "dev": torch.device("cpu"), "bytes": b"\x01\x02"}
    path = tmp_path / "real.pth"
    torch.save(obj, path)
    r = ember.load(path)
    assert list(r["model"]) == list(net.state_dict())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(r["model"][k].numpy(), v.numpy())
        assert r["model"][k].shape == tuple(v.shape)
    assert r["model"]["1.num_batches_tracked"].dtype is ember.int64
    for k, st in opt.state_dict()["state"].items():
        for n, v in st.items():
            np.testing.assert_array_equal(np.asarray(r["optimizer"]["state"][k][n]), v.numpy())
    assert r["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert ember._C.same_storage(r["view"], r["base"]) and r["view"].tolist() == [5, 6, 7, 8]
    assert r["t"].stride() == (1, 5)
    np.testing.assert_array_equal(np.asarray(r["bf16"].float()), obj["bf16"].float().numpy())
    assert r["i16"].tolist() == [-2, 30000] and r["u8"].tolist() == [1, 255] and r["bool"].tolist() == [True, False]
    assert r["param"].requires_grad and r["empty"].shape == (0, 3)
    assert r["dtype"] is ember.float64 and r["size"] == (1, 2) and r["dev"] == ember.device("cpu")
    assert r["bytes"] == b"\x01\x02" and r["epoch"] == 4


def test_real_torch_save_of_a_whole_model_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UnsafeCheckpointError, match="refusing to load torch.nn.modules.linear.Linear"):
        ember.load(path)


def test_real_torch_new_dtypes(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "d.pt"
    torch.save({"u16": torch.tensor([1, 65535], dtype=torch.uint16),
                "u32": torch.tensor([7], dtype=torch.uint32)}, path)
    r = ember.load(path)
    assert r["u16"].tolist() == [1, 65535] and r["u32"].tolist() == [7]
    torch.save({"f8": torch.ones(2).to(torch.float8_e4m3fn)}, path)
    with pytest.raises(CheckpointError, match="float8_e4m3fn"):
        ember.load(path)


def test_torch_reads_what_ember_loaded_and_resaved(tmp_path):
    """Weights go PyTorch -> Ember -> safetensors -> PyTorch unchanged."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file
    net = torch.nn.Linear(3, 2)
    torch.save(net.state_dict(), tmp_path / "a.pt")
    ember.safetensors.save_file(dict(ember.load(tmp_path / "a.pt")), tmp_path / "a.safetensors")
    back = load_file(str(tmp_path / "a.safetensors"))
    for k, v in net.state_dict().items():
        assert torch.equal(back[k], v)
