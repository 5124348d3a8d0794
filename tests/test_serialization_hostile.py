"""Hostile checkpoints: files crafted to exhaust memory or time, crash the interpreter, or slip a raw exception
past the readers. Every one must raise CheckpointError (SafetensorError for safetensors) quickly and with
memory in proportion to the file; pickles are written opcode by opcode here. Also: temporaries of interrupted
saves are removed by the next save to the same path."""
import io
import json
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.serialization as ser
from ember.safetensors import SafetensorError
from ember.serialization import CheckpointError

PROTO = b"\x80\x02"


class _Deadline(BaseException):
    """Not an Exception: no reader's error handling can turn it into a CheckpointError."""


@pytest.fixture(autouse=True)
def _deadline():
    """No test here may hang: SIGALRM fails it after 120 s (the child interpreters import ember)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def fail(signum, frame):
        raise _Deadline("hostile-checkpoint test ran past its 120 s deadline")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pt_archive(pkl, records=None, compress=zipfile.ZIP_STORED):
    """A PyTorch-layout zip holding the given data.pkl bytes and data/<key> records."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compress) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", b"little")
        for key, data in (records or {}).items():
            z.writestr("archive/data/" + key, data)
    return out.getvalue()


def load_peak(data, **kw):
    """(result or the exception raised, peak Python-allocated bytes while loading)."""
    tracemalloc.start()
    try:
        try:
            result = ember.load(io.BytesIO(data), **kw)
        except Exception as e:  # noqa: BLE001 - the caller checks the type
            result = e
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def binint2(i):
    return b"M" + struct.pack("<H", i)


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


# ============================================================================================ pickle bombs


def frozenset_bomb(n_items=20000, n_copies=8000):
    """~100 KB: a list of n_items distinct ints, then n_copies frozenset(list) calls of 5 bytes each."""
    p = PROTO + b"]q\x00(" + b"".join(binint2(i) for i in range(n_items)) + b"e"
    p += glob("builtins", "frozenset") + b"q\x01h\x00\x85q\x020"
    return p + b"](" + b"h\x01h\x02R" * n_copies + b"e."


def test_frozenset_bomb_is_refused_with_bounded_memory():
    pkl = frozenset_bomb()
    assert len(pkl) < 110_000  # the unbounded loader built ~8000 sets of 20000 items from this: gigabytes
    result, peak = load_peak(pt_archive(pkl))
    assert isinstance(result, CheckpointError) and "far more data" in str(result)
    assert peak < 100 << 20, "peak %d MB" % (peak >> 20)


def test_bytearray_and_set_copies_of_a_memoized_argument_are_bounded():
    blob = b"\xab" * 50_000
    for func, arg in ((glob("builtins", "bytearray"), b"B" + struct.pack("<I", len(blob)) + blob),
                      (glob("builtins", "set"), b"](" + b"".join(binint2(i) for i in range(15000)) + b"e")):
        p = PROTO + func + b"q\x01" + arg + b"\x85q\x020](" + b"h\x01h\x02R" * 20000 + b"e."
        result, peak = load_peak(pt_archive(p))
        assert isinstance(result, CheckpointError), result
        assert peak < 100 << 20


def test_numpy_array_rebuilt_many_times_from_one_memoized_state_is_bounded():
    raw = bytes(40_000)
    core = "numpy.core.multiarray"
    p = PROTO + glob(core, "_reconstruct") + b"q\x00" + glob("numpy", "ndarray") + b"q\x01"
    p += b"K\x00\x85q\x02C\x01bq\x03\x87q\x04"  # args (ndarray, (0,), b"b")
    p += glob("numpy", "dtype") + b"q\x05U\x02f8q\x06K\x00K\x01\x87q\x07Rq\x08"  # dtype('f8', 0, 1)
    p += b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbq\x09"  # BUILD its state
    p += b"(K\x01M\x88\x13\x85h\x09\x89B" + struct.pack("<I", len(raw)) + raw + b"tq\x0a0"  # array state
    p += b"](" + b"h\x00h\x04Rh\x0ab" * 20000 + b"e."
    # the state is right: one array loads
    one = PROTO + p[2:p.index(b"](")] + b"h\x00h\x04Rh\x0ab."
    arr = ember.load(io.BytesIO(pt_archive(one)))
    assert type(arr) is np.ndarray and arr.shape == (5000,) and arr.dtype == np.float64
    result, peak = load_peak(pt_archive(p))
    assert isinstance(result, CheckpointError), result
    assert peak < 100 << 20


def tuple_tower(levels, width=1000):
    """A tuple of width references to a tuple of width references ...: a few KB whose hash walks
    width**levels elements."""
    p = PROTO + b"(" + b"K\x01" * width + b"tq\x00"
    for lv in range(1, levels):
        p += b"(" + (b"h" + bytes([lv - 1])) * width + b"tq" + bytes([lv])
    return p + b"0}h" + bytes([levels - 1]) + b"K\x01s."


def test_tuple_tower_used_as_a_dict_key_is_refused_quickly():
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="far more data"):
        ember.load(io.BytesIO(pt_archive(tuple_tower(4))))  # 10**12 hash steps if it were hashed
    assert time.perf_counter() - t0 < 20
    # a modest nest of tuples as a key still loads
    r = ember.load(io.BytesIO(pt_archive(tuple_tower(2, 20))))
    assert list(r.values()) == [1] and len(next(iter(r))) == 20


def test_deeply_nested_tuples_do_not_crash_the_interpreter():
    # hashing a tuple nested 300000 deep overflows the C stack (a segfault): run it in a child process so a
    # regression shows as a failure, not as the test run dying
    pkl = PROTO + b"})" + b"\x85" * 300000 + b"K\x01s."
    code = ("import io, sys, zipfile, ember\n"
            "from ember.serialization import CheckpointError\n"
            "data = sys.stdin.buffer.read()\n"
            "try:\n"
            "    ember.load(io.BytesIO(data))\n"
            "except CheckpointError as e:\n"
            "    print('CheckpointError', e)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code], input=pt_archive(pkl), env=env, capture_output=True,
                          timeout=100)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"CheckpointError" in proc.stdout and b"nests tuples" in proc.stdout


def test_deeply_nested_lists_load_or_fail_cleanly():
    depth = 100000
    # [[[...]]] 100000 deep: push that many empty lists, then APPEND each into the one below
    pkl = PROTO + b"]" * depth + b"a" * (depth - 1) + b"."
    r = ember.load(io.BytesIO(pt_archive(pkl)))
    n = 0
    while r:
        (r,) = r
        n += 1
    assert n == depth - 1


def test_linear_pickles_are_not_refused():
    # a 10**6-element list made with DUP (1 byte per element) is as big as the file says: it loads
    n = 10 ** 6
    pkl = PROTO + b"](K\x07" + b"2" * n + b"e."
    r = ember.load(io.BytesIO(pt_archive(pkl)))
    assert len(r) == n + 1 and r[0] == 7 and r[-1] == 7
    # a big set built once from its list, and a dict of many tuple keys
    pkl = PROTO + glob("builtins", "set") + b"](" + b"".join(binint2(i) for i in range(30000)) + b"e\x85R."
    assert ember.load(io.BytesIO(pt_archive(pkl))) == set(range(30000))
    d = {(i, i + 1): i for i in range(20000)}
    assert ember.load(io.BytesIO(pt_archive(pickle.dumps(d, protocol=2)))) == d


def test_huge_memo_indexes():
    # the memo is a dict: a 2**32-1 index costs one entry
    pkl = PROTO + b"K\x05r\xff\xff\xff\xff0j\xff\xff\xff\xff."
    r, peak = load_peak(pt_archive(pkl))
    assert r == 5 and peak < 10 << 20
    for get in (b"j\xfe\xff\xff\xff", b"h\x07", b"g123\n"):  # a memo entry never stored
        with pytest.raises(CheckpointError, match="could not be read"):
            ember.load(io.BytesIO(pt_archive(PROTO + b"K\x05r\xff\xff\xff\xff" + get + b".")))


# ============================================================================================ storages


def _storage_archive(numel, record, **kw):
    pkl = _hand_storage_pickle(numel, **kw)
    return pt_archive(pkl, {"0": record})


def _hand_storage_pickle(numel, storage="FloatStorage", location="cpu", size=(2,), offset=0):
    """data.pkl, opcode by opcode: {'w': _rebuild_tensor_v2(<persistent storage>, offset, size, (1,), False,
    OrderedDict())}."""
    def uni(s):
        b = s.encode()
        return b"X" + struct.pack("<I", len(b)) + b
    pid = b"(" + uni("storage") + glob("torch", storage) + uni("0") + uni(location) + \
        b"\x8a" + bytes([8]) + struct.pack("<q", numel) + b"tQ"
    size_t = b"(" + b"".join(b"J" + struct.pack("<i", s) for s in size) + b"t"
    args = b"(" + pid + b"J" + struct.pack("<i", offset) + size_t + b"K\x01\x85\x89" + \
        glob("collections", "OrderedDict") + b")Rt"
    return PROTO + b"}" + uni("w") + glob("torch._utils", "_rebuild_tensor_v2") + args + b"Rs."


def test_handmade_storage_pickle_loads():
    data = _storage_archive(2, np.array([1.5, 2.5], np.float32).tobytes())
    assert ember.load(io.BytesIO(data))["w"].tolist() == [1.5, 2.5]


@pytest.mark.parametrize("numel", [3, 1, 0, 2 ** 40, 2 ** 62, 2 ** 63 - 1])
def test_bogus_storage_sizes_are_refused_before_allocating(numel):
    data = _storage_archive(numel, bytes(8))
    result, peak = load_peak(data)
    assert isinstance(result, CheckpointError), result
    assert peak < 10 << 20


def test_negative_storage_size_and_out_of_range_views():
    with pytest.raises(CheckpointError, match="persistent id"):
        ember.load(io.BytesIO(_storage_archive(-1, bytes(8))))
    with pytest.raises(CheckpointError):
        ember.load(io.BytesIO(pt_archive(_hand_storage_pickle(2, size=(2 ** 31 - 1,)), {"0": bytes(8)})))
    with pytest.raises(CheckpointError):
        ember.load(io.BytesIO(pt_archive(_hand_storage_pickle(2, offset=2 ** 31 - 1), {"0": bytes(8)})))


def test_unknown_storage_location_with_a_dict_map_location_loads_on_the_cpu():
    data = pt_archive(_hand_storage_pickle(2, location="xpu:7"), {"0": bytes(8)})
    for ml in (None, {"cuda:0": "cpu"}, "cpu"):
        assert ember.load(io.BytesIO(data), map_location=ml)["w"].tolist() == [0.0, 0.0]


def test_map_location_errors_are_the_users_not_the_files():
    data = pt_archive(_hand_storage_pickle(2), {"0": bytes(8)})

    def bad(storage, location):
        raise KeyError("my own bug")
    with pytest.raises(KeyError, match="my own bug"):
        ember.load(io.BytesIO(data), map_location=bad)
    buf = io.BytesIO()
    ember.save({"w": ember.ones(2)}, buf)
    with pytest.raises(KeyError, match="my own bug"):
        ember.load(io.BytesIO(buf.getvalue()), map_location=bad)


# ============================================================================================ zip structure


def _zip_with_central(records, central):
    """A zip whose local records are `records` [(name, data)] (stored) and whose central directory lists
    `central` [(name, local index, compress_size override or None)]."""
    out = io.BytesIO()
    offsets = []
    for name, data in records:
        offsets.append(out.tell())
        nb = name.encode()
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                              len(nb), 0) + nb + data)
    start = out.tell()
    for name, idx, csize in central:
        nb, data = name.encode(), records[idx][1]
        out.write(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, zlib.crc32(data),
                              len(data) if csize is None else csize, len(data), len(nb), 0, 0, 0, 0, 0,
                              offsets[idx]) + nb)
    size = out.tell() - start
    out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(central), len(central), size, start, 0))
    return out.getvalue()


def test_overlapping_zip_records_are_refused():
    pkl = _hand_storage_pickle(2)
    recs = [("archive/data.pkl", pkl), ("archive/data/0", bytes(8))]
    ok = _zip_with_central(recs, [("archive/data.pkl", 0, None), ("archive/data/0", 1, None)])
    assert ember.load(io.BytesIO(ok))["w"].tolist() == [0.0, 0.0]
    # two directory entries for one local record (the same bytes counted twice)
    twice = _zip_with_central(recs, [("archive/data.pkl", 0, None), ("archive/data/0", 1, None),
                                     ("archive/data/0", 1, None)])
    with pytest.raises(CheckpointError, match="overlaps"):
        ember.load(io.BytesIO(twice))
    # a record whose stored size runs into the next record's header
    into_next = _zip_with_central(recs, [("archive/data.pkl", 0, len(pkl) + 40), ("archive/data/0", 1, None)])
    with pytest.raises(CheckpointError):
        ember.load(io.BytesIO(into_next))


def test_records_expanding_past_the_deflate_limit_are_refused(monkeypatch):
    data = pt_archive(_hand_storage_pickle(5000), {"0": bytes(20000)}, compress=zipfile.ZIP_DEFLATED)
    assert ember.load(io.BytesIO(data))["w"].tolist() == [0.0, 0.0]
    monkeypatch.setattr(ser, "_MAX_DEFLATE_RATIO", 5)  # what the real ratio, 1100, would be for a bigger file
    with pytest.raises(CheckpointError, match="expand|claims"):
        ember.load(io.BytesIO(data))


# ============================================================================================ fuzzing


def _sample_archive():
    buf = io.BytesIO()
    ember.save({"w": ember.arange(6.0).reshape(2, 3), "i": ember.tensor([1, 2, 3]), "s": {1, 2},
                "t": (1, (2, "x")), "n": np.arange(3, dtype=np.int16), "od": OrderedDict(a=1.5), "b": b"xy",
                "z": complex(1, 2), "sz": ember.Size([2, 3]), "dev": ember.device("cpu")}, buf,
               pickle_module=pickle)
    return buf.getvalue()


def _rezip(archive, pkl):
    """archive with data.pkl replaced by pkl (the zip CRC made right, so the unpickler sees the bytes)."""
    zin, out = zipfile.ZipFile(io.BytesIO(archive)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in zin.infolist():
            z.writestr(info.filename, pkl if info.filename.endswith("/data.pkl") else zin.read(info))
    return out.getvalue()


def _loads_or_checkpoint_error(data, **kw):
    try:
        ember.load(io.BytesIO(data), **kw)
    except CheckpointError:
        pass


def test_every_truncation_and_many_mutations_of_a_pickle_raise_checkpoint_error():
    archive = _sample_archive()
    pkl = zipfile.ZipFile(io.BytesIO(archive)).read("archive/data.pkl")
    assert ember.load(io.BytesIO(_rezip(archive, pkl)))["t"] == (1, (2, "x"))
    for n in range(len(pkl)):
        _loads_or_checkpoint_error(_rezip(archive, pkl[:n]))
    rng = random.Random(5)
    for _ in range(1500):
        p = bytearray(pkl)
        for _ in range(rng.choice((1, 2, 3))):
            i = rng.randrange(len(p))
            p[i] = rng.randrange(256) if rng.random() < 0.5 else p[i] ^ (1 << rng.randrange(8))
        _loads_or_checkpoint_error(_rezip(archive, bytes(p)))
        # the globals scan reads the same bytes
        try:
            ser.get_unsafe_globals_in_checkpoint(io.BytesIO(_rezip(archive, bytes(p))))
        except CheckpointError:
            pass


def test_random_opcode_soup_raises_only_checkpoint_error():
    # short random programs over the opcodes that build and combine objects
    ops = [b"]", b"}", b")", b"(", b"t", b"\x85", b"\x86", b"\x87", b"a", b"e", b"s", b"u", b"2", b"0", b"1",
           b"K\x01", b"M\xff\xff", b"N", b"\x88", b"\x89", b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"R", b"b",
           b"\x81", b"\x8f", b"\x90", b"\x91", b"\x94", b"X\x01\x00\x00\x00a", b"C\x02ab",
           glob("builtins", "set"), glob("builtins", "frozenset"), glob("collections", "OrderedDict"),
           glob("torch", "Size"), glob("builtins", "bytearray"), glob("torch", "float32")]
    rng = random.Random(11)
    for _ in range(3000):
        body = b"".join(rng.choice(ops) for _ in range(rng.randrange(1, 30)))
        _loads_or_checkpoint_error(pt_archive(PROTO + body + b"."))


def _ember_file(header, data=b""):
    raw = json.dumps(header).encode()
    head = ser._FIXED.pack(ser.MAGIC, 1, zlib.crc32(raw), len(raw), len(data)) + raw
    return head + b"\0" * (ser._align(len(head)) - len(head)) + data


def _t(**kw):
    t = {"storage": 0, "dtype": "float32", "shape": [2], "stride": [1], "offset": 0}
    t.update(kw)
    return t


_S8 = [{"offset": 0, "nbytes": 8, "crc32": zlib.crc32(bytes(8))}]
CRAFTED_EMBER = {
    "shape 2**63": dict(tensors=[_t(shape=[2 ** 63])]),
    "shape 2**64": dict(tensors=[_t(shape=[2 ** 64])]),
    "stride 2**63": dict(tensors=[_t(shape=[1], stride=[2 ** 63])]),
    "offset 2**70": dict(tensors=[_t(offset=2 ** 70)]),
    "shape bool": dict(tensors=[_t(shape=[True])]),
    "shape float": dict(tensors=[_t(shape=[2.0])]),
    "stride rank": dict(tensors=[_t(stride=[1, 1])]),
    "dtype list": dict(tensors=[_t(dtype=["float32"])]),
    "storage index": dict(tensors=[_t(storage=3)]),
    "array empty huge": dict(arrays=[{"storage": 1, "dtype": "<f4", "shape": [0, 2 ** 62]}],
                             storages=_S8 + [{"offset": 64, "nbytes": 0, "crc32": 0}]),
    "array dtype nonsense": dict(arrays=[{"storage": 0, "dtype": "M8[xx]", "shape": [1]}]),
    "array dtype object": dict(arrays=[{"storage": 0, "dtype": "O", "shape": [1]}]),
    "array dtype list": dict(arrays=[{"storage": 0, "dtype": ["<f4"], "shape": [2]}]),
    "arrays dict": dict(arrays={}),
    "float payload list": dict(object=["float", []]),
    "dtype payload list": dict(object=["dtype", []]),
    "size huge": dict(object=["size", [2 ** 70]]),
    "bytes int": dict(object=["bytes", 5]),
    "dict key list": dict(object=["dict", [[["list", []], 1]]]),
    "device int": dict(object=["device", 5]),
    "tensor ref bool": dict(tensors=[_t()], object=["tensor", True]),
    "deep": dict(object=json.loads('["list", [' * 300 + "1" + "]]" * 300)),
    "storage not dict": dict(storages=[[0]]),
    "storage offset bool": dict(storages=[{"offset": True, "nbytes": 8, "crc32": 0}]),
    "storage past data": dict(storages=[{"offset": 8, "nbytes": 8, "crc32": 0}]),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_EMBER))
def test_crafted_ember_headers_raise_checkpoint_error(case):
    header = {"storages": _S8, "tensors": [], "object": None}
    header.update(CRAFTED_EMBER[case])
    data = bytes(8) + (bytes(56) if len(header["storages"]) > 1 else b"")
    with pytest.raises(CheckpointError, match="corrupt"):
        ember.load(io.BytesIO(_ember_file(header, data)))


def _st_file(header, data=b""):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


CRAFTED_ST = {
    "empty with overflowing strides": ({"a": {"dtype": "F32", "shape": [0, 2 ** 62, 4], "data_offsets": [0, 0]}}, b""),
    "dim 2**64": ({"a": {"dtype": "F32", "shape": [0, 2 ** 64], "data_offsets": [0, 0]}}, b""),
    "dtype list": ({"a": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"1234"),
    "shape bool": ({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"1234"),
    "offsets float": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0.0, 4]}}, b"1234"),
    "metadata values": ({"__metadata__": {"a": 1}}, b""),
    "header list": ([], b""),
    "65 dims": ({"a": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, b"1234"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED_ST))
def test_crafted_safetensors_raise_safetensor_error(case, tmp_path):
    data = _st_file(*CRAFTED_ST[case])
    with pytest.raises(CheckpointError):  # SafetensorError, or not recognised as safetensors at all
        ember.load(io.BytesIO(data))
    with pytest.raises(SafetensorError):
        ember.safetensors.load(data)
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    with pytest.raises(SafetensorError):
        ember.safetensors.load_file(path)


def test_truncated_and_flipped_files_of_every_format():
    buf = io.BytesIO()
    ember.save({"a": ember.arange(4.0), "n": [1, "x", None]}, buf)
    files = {"ember": buf.getvalue(), "torch": _sample_archive(),
             "safetensors": ember.safetensors.save({"a": ember.arange(6.0), "b": ember.ones(2, dtype=ember.int32)})}
    legacy = pickle.dumps({"a": 1}, protocol=2)
    rng = random.Random(2)
    for data in list(files.values()) + [legacy]:
        for n in range(0, len(data), max(1, len(data) // 200)):
            _loads_or_checkpoint_error(data[:n])
        for _ in range(300):
            d = bytearray(data)
            d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
            _loads_or_checkpoint_error(bytes(d))
    with pytest.raises(CheckpointError, match="legacy"):
        ember.load(io.BytesIO(legacy))


# ============================================================================================ interrupted saves


def _temps(directory, name):
    return sorted(n for n in os.listdir(directory) if n.startswith("." + name + ".") and n.endswith(".tmp"))


def test_next_save_removes_the_temporary_of_a_killed_save(tmp_path):
    path = tmp_path / "model.ckpt"
    ember.save({"v": ember.ones(10)}, path)
    code = ("import os, signal, ember\n"
            "os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)\n"
            "ember.save({'v': ember.zeros(100000)}, %r)\n" % str(path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=100)
    assert proc.returncode == -signal.SIGKILL
    assert len(_temps(tmp_path, "model.ckpt")) == 1  # what the killed save left
    ember.save({"v": ember.full((3,), 2.0)}, path)
    assert _temps(tmp_path, "model.ckpt") == []
    assert ember.load(path)["v"].tolist() == [2.0, 2.0, 2.0]


@pytest.mark.skipif(ser._fcntl is None, reason="file locks are POSIX")
def test_cleanup_spares_live_saves_fresh_empty_temporaries_and_other_files(tmp_path):
    import fcntl
    path = tmp_path / "m.pt"
    stale = tmp_path / ".m.pt.abcd1234.tmp"
    stale.write_bytes(b"partial checkpoint")
    live = tmp_path / ".m.pt.live_xyz.tmp"
    live.write_bytes(b"being written")
    fresh_empty = tmp_path / ".m.pt.00000000.tmp"
    fresh_empty.write_bytes(b"")
    old_empty = tmp_path / ".m.pt.11111111.tmp"
    old_empty.write_bytes(b"")
    os.utime(old_empty, (time.time() - 3600, time.time() - 3600))
    others = [".m.pt.backup", ".m.pt.abcdefgh.tmp.keep", ".m.pt2.abcdefgh.tmp", "m.pt.abcdefgh.tmp",
              ".m.pt.ABCDEFGH.tmp", ".other.abcdefgh.tmp"]
    for name in others:
        (tmp_path / name).write_bytes(b"not ours")
    os.mkdir(tmp_path / ".m.pt.dirdirdi.tmp")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a save in progress (another open file: flock conflicts)
        ember.save({"x": 1}, path)
        assert not stale.exists() and not old_empty.exists()
        assert live.exists() and fresh_empty.exists()
    for name in others:
        assert (tmp_path / name).read_bytes() == b"not ours"
    assert (tmp_path / ".m.pt.dirdirdi.tmp").is_dir()
    assert ember.load(path) == {"x": 1}
    # safetensors.save_file writes through the same path
    st_path = tmp_path / "w.safetensors"
    (tmp_path / ".w.safetensors.zzzzzzzz.tmp").write_bytes(b"x")
    ember.safetensors.save_file({"a": ember.ones(2)}, st_path)
    assert _temps(tmp_path, "w.safetensors") == []
