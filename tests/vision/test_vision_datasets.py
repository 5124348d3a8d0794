"""Vision datasets read from files the tests write in each real format (IDX, CIFAR-10 binary and pickled
Python versions), the restricted unpickler, downloads from a local HTTP server, and the bundled digits."""
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import tarfile
import threading

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader
from ember.vision import datasets, transforms
from ember.vision.datasets import CIFAR10, MNIST, Digits, FashionMNIST, PlainDataUnpickler, UnsafePickleError
from ember.vision.datasets.mnist import read_idx

RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------------------------- writers
def idx_bytes(arr):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
             np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
    arr = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(">%dI" % arr.ndim, *arr.shape)
    return header + arr.tobytes()


def write_mnist(root, name="MNIST", n_train=5, n_test=3, gz=True):
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = RNG.integers(0, 10, size=n).astype(np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            path = os.path.join(raw, "%s-%s-ubyte" % (prefix, kind))
            opener = functools.partial(gzip.open, path + ".gz") if gz else functools.partial(open, path)
            with opener("wb") as f:
                f.write(idx_bytes(arr))
        out[prefix] = (images, labels)
    return out


def py2_pickle(obj):
    """The bytes Python 2's cPickle (protocol 2) writes for obj, as in the original CIFAR-10 files: str is a
    byte string (BINSTRING), and a numpy array is numpy.core.multiarray._reconstruct + a BUILD state."""
    out = bytearray(b"\x80\x02")

    def string(b):
        b = b.encode("latin1") if isinstance(b, str) else b
        out.extend(b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b)

    def emit(o):
        if isinstance(o, dict):
            out.extend(b"}(")
            for k, v in o.items():
                emit(k)
                emit(v)
            out.extend(b"u")
        elif isinstance(o, list):
            out.extend(b"](")
            for v in o:
                emit(v)
            out.extend(b"e")
        elif isinstance(o, (str, bytes)):
            string(o)
        elif isinstance(o, int):
            out.extend(b"J" + struct.pack("<i", o))
        elif isinstance(o, np.ndarray):
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85")
            string("b")
            out.extend(b"\x87R(K\x01")
            for d in o.shape:
                emit(int(d))
            out.extend({1: b"\x85", 2: b"\x86", 3: b"\x87"}[o.ndim])
            out.extend(b"cnumpy\ndtype\n")
            string(o.dtype.str[1:])
            out.extend(b"K\x00K\x01\x87R(K\x03")
            string(o.dtype.str[0])
            out.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89")
            string(o.tobytes())
            out.extend(b"tb")
        else:
            raise TypeError(type(o))

    emit(obj)
    out.extend(b".")
    return bytes(out)


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_batches(per_batch=3):
    return {name: (RNG.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                   RNG.integers(0, 10, size=per_batch).tolist())
            for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]}


def write_cifar_python(root, batches, writer):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    for name, (data, labels) in batches.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(writer({"batch_label": "batch " + name, "labels": labels, "data": data,
                            "filenames": ["f%d.png" % i for i in range(len(labels))]}))
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(writer({"num_cases_per_batch": 10000, "label_names": CIFAR_CLASSES, "num_vis": 3072}))


def write_cifar_binary(root, batches):
    folder = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(folder, exist_ok=True)
    for name, (data, labels) in batches.items():
        records = np.concatenate([np.array(labels, np.uint8)[:, None], data], axis=1)
        records.tofile(os.path.join(folder, name + ".bin"))
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(CIFAR_CLASSES) + "\n\n")


@contextlib.contextmanager
def http_server(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d/" % server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return "http://127.0.0.1:%d/" % port  # nothing listens there any more: connection refused


def md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


# ---------------------------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz):
    written = write_mnist(tmp_path, gz=gz)
    train = MNIST(tmp_path, train=True)
    test = MNIST(str(tmp_path), train=False, transform=transforms.ToTensor(), target_transform=lambda y: y + 100)
    assert len(train) == 5 and len(test) == 3
    img, label = train[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, written["train"][0][2])
    assert label == int(written["train"][1][2]) and type(label) is int
    timg, tlabel = test[1]
    assert timg.shape == (1, 28, 28) and timg.dtype is ember.float32
    np.testing.assert_allclose(timg.numpy()[0], written["t10k"][0][1] / 255.0, rtol=1e-6)
    assert tlabel == int(written["t10k"][1][1]) + 100
    assert train.data.dtype is ember.uint8 and train.data.shape == (5, 28, 28)
    assert train.targets.dtype is ember.int64 and train.targets.tolist() == written["train"][1].tolist()
    assert train.class_to_idx["3 - three"] == 3
    assert repr(train).splitlines()[:4] == ["Dataset MNIST", "    Number of datapoints: 5",
                                            "    Root location: %s" % tmp_path, "    Split: Train"]
    x, y = next(iter(DataLoader(test, batch_size=3)))
    assert x.shape == (3, 1, 28, 28) and y.tolist() == [int(v) + 100 for v in written["t10k"][1]]


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    write_mnist(tmp_path, name="FashionMNIST", n_train=2)
    ds = FashionMNIST(tmp_path)
    assert len(ds) == 2 and ds.classes[9] == "Ankle boot"
    assert ds.raw_folder == os.path.join(str(tmp_path), "FashionMNIST", "raw")
    with pytest.raises(RuntimeError, match="Dataset not found"):
        MNIST(tmp_path)


def test_read_idx_types_and_corrupt_files(tmp_path):
    for arr in (np.arange(6, dtype=">i4").reshape(2, 3), np.linspace(0, 1, 4).astype(">f8"),
                np.arange(-3, 3, dtype=np.int8), np.arange(4, dtype=">i2").reshape(2, 2, 1)):
        path = tmp_path / "x.idx"
        path.write_bytes(idx_bytes(arr))
        out = read_idx(str(path))
        np.testing.assert_array_equal(out, arr)
        assert out.dtype.isnative
    good = idx_bytes(np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "short").write_bytes(good[:-1])
    with pytest.raises(ValueError, match=r"short: IDX header says \(2, 3, 3\)"):
        read_idx(str(tmp_path / "short"))
    (tmp_path / "magic").write_bytes(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(str(tmp_path / "magic"))
    (tmp_path / "type").write_bytes(b"\x00\x00\x07" + good[3:])
    with pytest.raises(ValueError, match="unknown IDX element type 0x07"):
        read_idx(str(tmp_path / "type"))


def test_mnist_missing_files_message(tmp_path):
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path)
    msg = str(info.value)
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg and "train-images-idx3-ubyte.gz" in msg
    assert "download=True" in msg


def test_mnist_download_from_a_server(tmp_path, monkeypatch):
    served = tmp_path / "server"
    written = write_mnist(served, gz=True)
    raw = served / "MNIST" / "raw"
    resources = [(name, md5(raw / name)) for name, _ in MNIST.resources]
    monkeypatch.setattr(MNIST, "resources", resources)
    with http_server(raw) as url:
        monkeypatch.setattr(MNIST, "mirrors", [closed_port_url(), url])  # the first mirror is down
        ds = MNIST(tmp_path / "data", download=True)
    np.testing.assert_array_equal(ds[4][0], written["train"][0][4])
    assert sorted(os.listdir(tmp_path / "data" / "MNIST" / "raw")) == sorted(n for n, _ in resources)
    # a file whose checksum does not match is rejected and not kept
    monkeypatch.setattr(MNIST, "resources", [(resources[0][0], "0" * 32)] + resources[1:])
    with http_server(raw) as url:
        monkeypatch.setattr(MNIST, "mirrors", [url])
        with pytest.raises(RuntimeError, match="does not have the expected MD5"):
            MNIST(tmp_path / "other", download=True)
    assert not os.path.exists(tmp_path / "other" / "MNIST" / "raw" / resources[0][0])


def test_mnist_download_without_network_names_urls_and_folder(tmp_path, monkeypatch):
    down = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", [down])
    with pytest.raises(RuntimeError) as info:
        MNIST(tmp_path, download=True)
    msg = str(info.value)
    assert down + "train-images-idx3-ubyte.gz" in msg
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg


# ---------------------------------------------------------------------------------------------- CIFAR-10
def check_cifar(root, batches):
    train, test = CIFAR10(root, train=True), CIFAR10(root, train=False)
    assert len(train) == 15 and len(test) == 3
    assert train.classes == CIFAR_CLASSES and train.class_to_idx["cat"] == 3
    data, labels = batches["data_batch_2"]
    img, label = train[3 + 1]  # second image of the second batch
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    # each record is 1024 red, then 1024 green, then 1024 blue bytes, row-major
    np.testing.assert_array_equal(img[:, :, 0].ravel(), data[1, :1024])
    np.testing.assert_array_equal(img[:, :, 2].ravel(), data[1, 2048:])
    assert label == labels[1]
    assert test.targets == batches["test_batch"][1]
    x, y = first_augmented_batch(test)
    assert x.shape == (3, 3, 32, 32) and y.tolist() == batches["test_batch"][1]


def first_augmented_batch(ds):
    ds.transform = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor()])
    return next(iter(DataLoader(ds, batch_size=3)))


def test_cifar_binary_version(tmp_path):
    batches = cifar_batches()
    write_cifar_binary(tmp_path, batches)
    check_cifar(tmp_path, batches)
    with open(tmp_path / "cifar-10-batches-bin" / "test_batch.bin", "ab") as f:
        f.write(b"\x00")
    with pytest.raises(ValueError, match="not a whole number of 3073-byte CIFAR-10 records"):
        CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("writer", ["python2", "protocol2", "protocol5"])
def test_cifar_python_version(tmp_path, writer):
    batches = cifar_batches()
    write = {"python2": py2_pickle,
             "protocol2": lambda o: pickle.dumps({k.encode(): v for k, v in o.items()}, protocol=2),
             "protocol5": lambda o: pickle.dumps(o, protocol=5)}[writer]
    write_cifar_python(tmp_path, batches, write)
    check_cifar(tmp_path, batches)


def test_python2_pickle_writer_is_what_numpy_reads():
    arr = RNG.integers(0, 256, size=(2, 6), dtype=np.uint8)
    blob = py2_pickle({"data": arr, "labels": [1, 2]})
    ref = pickle.loads(blob, encoding="latin1")  # numpy's own unpickling of the same bytes
    np.testing.assert_array_equal(ref["data"], arr)
    ours = PlainDataUnpickler(io.BytesIO(blob)).load_plain()
    np.testing.assert_array_equal(ours["data"], arr)
    assert ours["labels"] == [1, 2]


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("payload,match", [
    (pickle.dumps({"data": Exploit()}, protocol=2), r"refusing to unpickle (posix|nt)\.system"),
    (pickle.dumps({"data": np.zeros(3, np.float64)}, protocol=2), "only uint8 numpy arrays are allowed"),
    (pickle.dumps({"data": np.array([None, 1], dtype=object)}, protocol=2), "only uint8 numpy arrays"),
    (pickle.dumps(np.uint8(3), protocol=2), "refusing to unpickle numpy"),
    (pickle.dumps(ember.ones(2), protocol=2), "refusing to unpickle ember"),
    (pickle.dumps({1, 2}, protocol=4), "unexpected set object"),
])
def test_restricted_unpickler_refuses(tmp_path, payload, match, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsafePickleError, match=match):
        PlainDataUnpickler(io.BytesIO(payload), source="evil").load_plain()
    assert not os.path.exists("pwned")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError):
        CIFAR10(tmp_path)
    assert not os.path.exists("pwned")


def test_cifar_missing_and_download(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="Dataset not found.*cifar-10-batches-py or cifar-10-batches-bin"):
        CIFAR10(tmp_path)
    # a real-format archive served locally
    src = tmp_path / "src"
    batches = cifar_batches()
    write_cifar_python(src, batches, py2_pickle)
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(served / "cifar-10-python.tar.gz"))
    with http_server(served) as url:
        monkeypatch.setattr(CIFAR10, "url", url + "cifar-10-python.tar.gz")
        CIFAR10(tmp_path / "data", download=True)
    check_cifar(tmp_path / "data", batches)
    down = closed_port_url() + "cifar-10-python.tar.gz"
    monkeypatch.setattr(CIFAR10, "url", down)
    with pytest.raises(RuntimeError) as info:
        CIFAR10(tmp_path / "offline", download=True)
    assert down in str(info.value) and os.path.join(str(tmp_path / "offline"), "cifar-10-batches-py") in str(
        info.value)


def test_archive_extraction_stays_inside_its_folder(tmp_path, monkeypatch):
    bad = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    monkeypatch.setattr(CIFAR10, "tgz_md5", md5(bad))
    with pytest.raises(RuntimeError, match="points outside"):
        CIFAR10(tmp_path, download=True)
    assert not (tmp_path.parent / "escaped.txt").exists()


# ---------------------------------------------------------------------------------------------- digits
def test_digits_bundled_dataset():
    train, test = Digits(), Digits(train=False)
    assert len(train) == 1348 and len(test) == 449
    img, label = train[0]
    assert img.shape == (1, 8, 8) and img.dtype is ember.float32 and type(label) is int
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    assert train.data.shape == (1348, 8, 8) and int(train.data.max()) == 16
    for split in (train, test):
        counts = np.bincount(split.targets.numpy(), minlength=10)
        assert counts.min() >= 40  # every class on both sides of the split
    # the split is fixed: sample i of the file is a test sample when i % 4 == 3
    np.testing.assert_array_equal(test.data.numpy()[0], Digits.__init__.__globals__["_load"]()[0][3])
    normed = Digits(transform=transforms.Normalize([0.5], [0.5]))[0][0]
    np.testing.assert_allclose(normed.numpy(), (img.numpy() - 0.5) / 0.5, rtol=1e-6)
    x, y = next(iter(DataLoader(train, batch_size=64, shuffle=True)))
    assert x.shape == (64, 1, 8, 8) and y.dtype is ember.int64


def test_digits_data_file_and_attribution():
    data_dir = os.path.join(os.path.dirname(datasets.__file__), "..", "data")
    license_text = open(Digits.license_file).read()
    for needle in ("Alpaydin", "Kaynak", "CC BY 4.0", "https://archive.ics.uci.edu/dataset/80",
                   "10.24432/C50P49"):
        assert needle in license_text
    digest = hashlib.sha256(open(os.path.join(data_dir, "digits.csv.gz"), "rb").read()).hexdigest()
    assert digest in license_text  # the file is the one the attribution describes
