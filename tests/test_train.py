"""ember-train: the default run reaches >= 95% test accuracy on the bundled digits; checkpoints resume to the
same result as an uninterrupted run; the curves PNG, progress output, devices, other datasets and errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import train

PYTHON_DIR = os.path.dirname(os.path.dirname(ember.__file__))


def test_default_run_reaches_95_percent(tmp_path, capsys):
    history = train.run(["--out", str(tmp_path)])
    assert len(history["test_acc"]) == 20
    assert history["test_acc"][-1] >= 95.0
    assert history["train_loss"][-1] < history["train_loss"][0]
    out, err = capsys.readouterr()
    assert "epoch 20/20: train loss" in out and "test loss" in out and "acc" in out
    assert "samples/s" in err and "loss" in err and "43/43" in err  # ceil(1348 / 32) batches
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt", "curves.png", "history.json"]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "history.json").read_text()) == history
    ckpt = ember.load(tmp_path / "checkpoint.pt")
    assert ckpt["epoch"] == 20 and ckpt["args"] == {"dataset": "digits", "model": "mlp"}


def test_resume_matches_an_uninterrupted_run(tmp_path):
    full = train.run(["--epochs", "4", "--out", str(tmp_path / "full")])
    ckpt = _run_until(tmp_path / "resumed", epochs=4, stop_after=2)
    assert ckpt["epoch"] == 2
    resumed = train.run(["--epochs", "4", "--out", str(tmp_path / "resumed"), "--resume"])
    # model, optimizer, schedule, RNG and shuffling state all come back: the same numbers as without the stop
    assert resumed == full
    want = ember.load(tmp_path / "full" / "checkpoint.pt")["model"]
    got = ember.load(tmp_path / "resumed" / "checkpoint.pt")["model"]
    for k, v in want.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy())


def _run_until(out, epochs, stop_after):
    """Runs a plan of `epochs` epochs but stops after `stop_after`, as an interrupted run would."""
    original = train.evaluate
    calls = {"n": 0}

    def evaluate(*a, **k):
        calls["n"] += 1
        result = original(*a, **k)
        if calls["n"] > stop_after:
            raise KeyboardInterrupt
        return result

    train.evaluate = evaluate
    try:
        train.run(["--epochs", str(epochs), "--out", str(out)])
    except KeyboardInterrupt:
        pass
    finally:
        train.evaluate = original
    return ember.load(os.path.join(out, "checkpoint.pt"))


def test_resume_errors(tmp_path):
    with pytest.raises(SystemExit, match="no checkpoint to resume from"):
        train.run(["--out", str(tmp_path), "--resume"])
    train.run(["--epochs", "1", "--out", str(tmp_path)])
    with pytest.raises(SystemExit, match="was made with --model mlp, not lenet"):
        train.run(["--epochs", "2", "--model", "lenet", "--out", str(tmp_path), "--resume"])


def test_devices_and_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit, match="no CUDA backend"):
        train.run(["--device", "cuda", "--out", str(tmp_path)])
    history = train.run(["--device", "auto", "--epochs", "1", "--model", "lenet", "--optimizer", "sgd",
                         "--out", str(tmp_path)])
    assert len(history["test_acc"]) == 1
    assert "device cpu" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        train.run(["--epochs", "0"])
    assert info.value.code == 2


def _write_cifar_binary(root, n=8):
    rng = np.random.default_rng(0)
    folder = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(folder)
    for name in ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]:
        records = rng.integers(0, 256, size=(n, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        records.tofile(os.path.join(folder, name + ".bin"))
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join("class%d" % i for i in range(10)))


def test_other_datasets_from_local_files(tmp_path):
    _write_cifar_binary(tmp_path / "data")
    history = train.run(["--dataset", "cifar10", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
                         "--batch-size", "8", "--out", str(tmp_path / "out"), "--workers", "1"])
    assert len(history["train_loss"]) == 1 and np.isfinite(history["train_loss"][0])
    with pytest.raises(SystemExit, match="Dataset not found.*MNIST"):
        train.run(["--dataset", "mnist", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "m")])


def test_module_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember.train", "--epochs", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "final test accuracy" in proc.stdout and "samples/s" in proc.stderr
