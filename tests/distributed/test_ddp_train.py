"""ember-train started by the launcher with 2 ranks trains data-parallel (DistributedDataParallel +
DistributedSampler): one rank reports and saves, the checkpoint holds the bare model and resumes in one
process."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import ember
from ember import train

PYTHON_DIR = os.path.dirname(os.path.dirname(ember.__file__))


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    pytest.importorskip("mpi4py")
    if shutil.which("mpiexec") is None:
        pytest.skip("mpiexec not found (pip install mpich)")
    out = tmp_path_factory.mktemp("train2")
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", "-m",
                           "ember.train", "--epochs", "3", "--out", str(out / "run")],
                          capture_output=True, text=True, env=env, timeout=90, cwd=str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out / "run", proc


def test_reports_once_and_learns(two_rank_run):
    out, proc = two_rank_run
    assert "data-parallel over 2 processes (batch 32 per process)" in proc.stdout
    assert proc.stdout.count("final test accuracy") == 1
    assert proc.stdout.count("epoch 3/3: train loss") == 1
    assert proc.stderr.count("22/22") == 3  # one progress line per epoch (rank 0's ceil(674 / 32) batches)
    history = json.loads((out / "history.json").read_text())
    assert len(history["test_acc"]) == 3
    assert history["test_acc"][-1] >= 85.0
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_checkpoint_holds_the_bare_model_and_resumes_in_one_process(two_rank_run, tmp_path):
    out, _ = two_rank_run
    ckpt = ember.load(out / "checkpoint.pt")
    assert ckpt["epoch"] == 3
    assert sorted(ckpt["model"]) == sorted(train.MLP(64, 10).state_dict())
    run_dir = tmp_path / "resumed"
    shutil.copytree(out, run_dir)
    history = train.run(["--epochs", "4", "--out", str(run_dir), "--resume"])
    assert len(history["test_acc"]) == 4
    assert history["test_acc"][:3] == ckpt["history"]["test_acc"]


def test_world_size_one_is_the_single_process_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    history = train.run(["--epochs", "1", "--out", str(tmp_path)])
    assert len(history["test_acc"]) == 1
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(SystemExit, match="WORLD_SIZE='two' is not an integer"):
        train.run(["--epochs", "1", "--out", str(tmp_path)])


def test_world_size_without_a_launcher_is_a_clear_error(tmp_path):
    pytest.importorskip("mpi4py")
    env = dict(os.environ, WORLD_SIZE="2", RANK="0",
               PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "ember.train", "--epochs", "1", "--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=90)
    assert proc.returncode != 0
    assert "ember-train: WORLD_SIZE=2 asks for data-parallel training" in proc.stderr
