"""Fuzz targets: ``ember.load`` on the three checkpoint formats it reads.

* ``ckpt_ember``: the Ember checkpoint format (``ember.save`` of plain data);
* ``ckpt_torch``: PyTorch zip archives (``ember.save(..., pickle_module=pickle)`` writes the layout
  ``torch.save`` does: ``archive/data.pkl`` + one record per storage);
* ``ckpt_safetensors``: safetensors files (``ember.safetensors.save``).

Seeds are real small files written at start-up (several dtypes, 0-d/0-size/non-contiguous tensors, views
sharing a storage, nested containers). An input's first byte picks how the rest is used:

* even: the rest *is* the file (libFuzzer's own byte mutations work on it directly; seed files are written
  this way into the atheris working corpus);
* odd: the rest is a mutation program applied to one of the seeds: byte flips, interesting 1/2/4/8-byte
  integers at header offsets, inserts, deletes, truncation, duplication; for zip archives a member
  (``data.pkl``, a storage record, ``byteorder``) is mutated and the archive rebuilt with valid CRCs, so the
  mutation reaches the unpickler instead of dying at the zip checksum.

The contract: ``ember.load`` returns or raises ``CheckpointError`` (MemoryError is tolerated); whatever it
returns is walked and every tensor in it is read in full (``clone()`` + ``tolist()``) so a tensor whose view
lies outside its storage shows as a crash here, not later in user code.

Usage: python tools/fuzz/fuzz_checkpoints.py {ckpt_ember,ckpt_torch,ckpt_safetensors} --engine ... [files]
"""
import io
import os
import pickle
import struct
import sys
import warnings
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
from _harness import Finding, Reader, check_exception  # noqa: E402

import ember  # noqa: E402
from ember.serialization import CheckpointError  # noqa: E402

TARGETS = ("ckpt_ember", "ckpt_torch", "ckpt_safetensors")
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2 ** 63 - 1, 2 ** 64 - 1,
               2 ** 32, 64, 8, 16)


def _objects():
    base = ember.arange(24, dtype=ember.float32).reshape(4, 6)
    return [
        {"w": ember.randn(3, 4), "b": ember.zeros(4, dtype=ember.float64)},
        {"i": ember.arange(5, dtype=ember.int64), "m": ember.tensor([True, False]),
         "u": ember.tensor([1, 2, 255], dtype=ember.uint8), "h": ember.ones(2, 3, dtype=ember.float16),
         "bf": ember.ones(3, dtype=ember.bfloat16), "s": ember.tensor(3.5), "e": ember.zeros(0, 3),
         "i32": ember.tensor([7, -7], dtype=ember.int32)},
        {"base": base, "view": base[1:, ::2], "t": base.t(), "meta": [1, 2.5, "x", None, (3, 4)]},
    ]


def seeds(target):
    out = []
    for obj in _objects():
        buf = io.BytesIO()
        if target == "ckpt_ember":
            ember.save(obj, buf)
        elif target == "ckpt_torch":
            ember.save(obj, buf, pickle_module=pickle)
        else:
            from ember import safetensors
            flat = {k: v.contiguous() for k, v in obj.items() if isinstance(v, ember.Tensor) and k != "view"}
            buf.write(safetensors.save(flat, metadata={"format": "pt"}))
        out.append(buf.getvalue())
    return out


def _mutate_bytes(r, data):
    b = bytearray(data)
    for _ in range(r.int(1, 6)):
        op = r.int(0, 7)
        n = len(b)
        pos = r.int(0, max(n - 1, 0)) if r.chance(60) else r.int(0, min(n, 96))  # headers are at the front
        if op == 0 and n:
            b[min(pos, n - 1)] ^= 1 << r.int(0, 7)
        elif op == 1 and n:
            b[min(pos, n - 1)] = r.int(0, 255)
        elif op in (2, 3):
            width = r.pick((1, 2, 4, 8))
            v = r.pick(INTERESTING) % (1 << (8 * width))
            b[pos:pos + width] = v.to_bytes(width, "little")
        elif op == 4:
            b[pos:pos] = r.raw(r.int(1, 16))
        elif op == 5:
            del b[pos:pos + r.int(1, 32)]
        elif op == 6:
            del b[r.int(0, n):]
        else:
            ln = r.int(1, 64)
            b[pos:pos] = b[pos:pos + ln]
    return bytes(b)


def _mutate_zip(r, data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
    k = r.int(0, len(members) - 1)
    if r.chance(70):  # most often the pickle: it decides everything else
        k = next((i for i, (n, _) in enumerate(members) if n.endswith("data.pkl")), k)
    name, body = members[k]
    action = r.int(0, 9)
    if action == 0:
        del members[k]
    elif action == 1:
        members.append((name, body))  # a duplicate name
    else:
        members[k] = (name, _mutate_bytes(r, body))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names
            for n, d in members:
                zf.writestr(zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0)), d)
    return out.getvalue()


def _mutate_safetensors_header(r, data):
    n = struct.unpack("<Q", data[:8])[0]
    header = data[8:8 + n]
    digits = [i for i, c in enumerate(header) if 48 <= c <= 57]
    h = bytearray(header)
    for _ in range(r.int(1, 3)):
        if digits and r.chance(70):
            i = r.pick(digits)
            h[i:i + 1] = r.pick((b"0", b"9", b"-1", b"99999999999", b"18446744073709551616", b"1.5", b"1e3"))
        else:
            h = bytearray(_mutate_bytes(r, bytes(h)))
    new_n = len(h) if r.chance(80) else r.pick(INTERESTING)
    return struct.pack("<Q", new_n % (1 << 64)) + bytes(h) + data[8 + n:]


class Target:
    def __init__(self, name):
        self.name = name
        self._seeds = None

    def seeds(self):
        if self._seeds is None:
            self._seeds = seeds(self.name)
        return self._seeds

    def build(self, data):
        if not data:
            return b""
        if data[0] % 2 == 0:
            return data[1:]
        r = Reader(data[1:])
        seed = r.pick(self.seeds())
        if self.name == "ckpt_torch" and r.chance(70):
            return _mutate_zip(r, seed)
        if self.name == "ckpt_safetensors" and r.chance(50):
            return _mutate_safetensors_header(r, seed)
        return _mutate_bytes(r, seed)

    def one(self, data):
        blob = self.build(data)
        try:
            out = ember.load(io.BytesIO(blob))
        except BaseException as exc:  # noqa: B902
            if isinstance(exc, KeyboardInterrupt):
                raise
            check_exception(exc, allowed=(CheckpointError, MemoryError))
            return
        try:
            _touch(out, 0)
        except Exception as exc:
            raise Finding("loaded result is unusable: %s: %s" % (type(exc).__name__, str(exc)[:120])) from exc

    def describe(self, data):
        blob = self.build(data)
        return ("import io, ember\nblob = %r\nember.load(io.BytesIO(blob))  # %d bytes" % (blob, len(blob))
                if len(blob) < 4000 else "# %d-byte file; write it with --engine build" % len(blob))


def _touch(obj, depth):
    if depth > 50:
        return
    if isinstance(obj, ember.Tensor):
        obj.clone().tolist()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _touch(v, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _touch(v, depth + 1)


def driver(name):
    t = Target(name)

    def setup():
        t.seeds()
    return _harness.Driver(name, t.one, t.describe, setup=setup), t


def write_seed_corpus(name, directory):
    """atheris working corpus: the seed files as 'verbatim' inputs (first byte even)."""
    os.makedirs(directory, exist_ok=True)
    for i, s in enumerate(seeds(name)):
        with open(os.path.join(directory, "seed-%d" % i), "wb") as fh:
            fh.write(b"\0" + s)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit("usage: fuzz_checkpoints.py {%s} --engine ... [files]" % ",".join(TARGETS))
    name = sys.argv.pop(1)
    d, t = driver(name)
    if "--corpus-dir" in sys.argv:
        write_seed_corpus(name, sys.argv[sys.argv.index("--corpus-dir") + 1])
    sys.exit(d.main())
