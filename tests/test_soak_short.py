"""Short version of tools/soak.py: 600 MLP + Adam steps fed by a 2-worker DataLoader, a checkpoint every 200
steps. Memory must stay flat (looser bound than the 10,000-step soak) and every checkpoint must reload to
bit-identical state. Runs in-process (no child interpreter, so no editable-install rebuild check) under a
SIGALRM watchdog; the DataLoader itself has a 60 s worker timeout."""
import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[1] / "tools" / "soak.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("_ember_soak_tool", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Watchdog:
    def __init__(self, seconds):
        self.seconds = seconds

    def _fire(self, signum, frame):
        raise TimeoutError(f"soak test exceeded its {self.seconds} s watchdog")

    def __enter__(self):
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("persistent", [False, True])
def test_soak_short(tmp_path, persistent):
    soak = _load_tool()
    lines = []
    with _Watchdog(90):
        ok, rep = soak.run(steps=600, workers=2, checkpoint_every=200, out=str(tmp_path), reference_step=200,
                           max_growth=0.10, persistent_workers=persistent, log=lines.append)
    assert ok, "\n".join(lines + rep["failures"])
    recs = rep["records"]
    assert [r["step"] for r in recs] == [200, 400, 600]
    assert all(r["ckpt_ok"] for r in recs)
    # the two DataLoader workers at least (pytest may hold other children, e.g. an earlier test's helper process)
    assert all(len(r["children"]) >= 2 for r in recs), lines
    assert sorted(os.listdir(tmp_path)) == ["ckpt_200.pt", "ckpt_400.pt", "ckpt_600.pt"]
    # the model learned something: the synthetic labels are a function of the inputs
    assert recs[-1]["loss"] < recs[0]["loss"]


def test_soak_detects_corrupted_checkpoint(tmp_path, monkeypatch):
    """The bit-for-bit check is real: a save that perturbs one weight by one ulp is reported."""
    import numpy as np

    import ember

    soak = _load_tool()
    real_save = ember.save

    def bad_save(obj, path):
        w = obj["model"]["0.weight"].clone()
        a = w.numpy()
        a.flat[0] = np.nextafter(a.flat[0], np.float32(np.inf))
        obj = dict(obj, model=dict(obj["model"], **{"0.weight": w}))
        real_save(obj, path)

    monkeypatch.setattr(soak.ember, "save", bad_save)
    with _Watchdog(60):
        ok, rep = soak.run(steps=20, workers=0, checkpoint_every=10, out=str(tmp_path), reference_step=10,
                           log=lambda s: None)
    assert not ok
    assert any("model.0.weight: differs" in f for f in rep["failures"]), rep["failures"]


def test_soak_cli_exit_status(tmp_path, capsys):
    soak = _load_tool()
    with _Watchdog(60):
        rc = soak.main(["--steps", "30", "--workers", "0", "--checkpoint-every", "10", "--reference-step", "10",
                        "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "VERDICT: PASS" in out and out.count("RSS=") == 3
    with pytest.raises(SystemExit):
        soak.main(["--steps", "0", "--out", str(tmp_path)])
