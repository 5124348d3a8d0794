#!/usr/bin/env python
"""Soak test: a long MLP + Adam training loop must hold flat memory and write checkpoints that reload exactly.

The loop trains a 784-256-10 MLP with Adam on a synthetic, fixed dataset fed by a DataLoader with worker
processes, and every --checkpoint-every steps it

* saves model and optimizer state to DIR/ckpt_<step>.pt and reloads the file, comparing every tensor
  bit-for-bit with the state that was saved;
* prints the resident set size (VmRSS of /proc/<pid>/status) of this process and of its child processes
  (the DataLoader workers), the number of live Ember storages and of gc-tracked objects.

Verdict: exit status 1 if this process's RSS grows by more than --max-growth (5 % by default) between the
reference checkpoint (step 1,000, or the first checkpoint when --reference-step says so) and the end, or if a
reloaded checkpoint differs from what was saved; 0 otherwise. The children's RSS is reported, and bounded
by the same rule when workers are persistent (non-persistent workers are new processes every epoch).

    python tools/soak.py --steps 10000 --workers 2 --checkpoint-every 1000 --out /tmp/soak
"""
import argparse
import gc
import os
import sys
import time

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, Dataset


def _rss_kib(pid="self"):
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid=None):
    """Direct child pids of a process, read from /proc/<pid>/task/*/children."""
    pid = os.getpid() if pid is None else pid
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(p) for p in fh.read().split())
        except FileNotFoundError:
            continue
    return sorted(set(out))


class SyntheticDigits(Dataset):
    """A fixed, seeded dataset of n (784-float32 vector, class index) pairs; labels depend on the inputs
    through a random linear map, so the MLP has something to learn."""

    def __init__(self, n=4096, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((n, 784), dtype=np.float32)
        w = rng.standard_normal((784, 10), dtype=np.float32)
        self.y = (self.x @ w).argmax(axis=1).astype(np.int64)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return ember.from_numpy(self.x[i]), int(self.y[i])


def _state_copy(model, opt):
    """Bytes (plus dtype and shape) of every tensor in model and optimizer state, for exact comparison."""
    flat = {}
    for k, v in model.state_dict().items():
        flat["model." + k] = v
    for pid, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            flat[f"opt.{pid}.{k}"] = v
    out = {}
    for k, v in flat.items():
        if isinstance(v, ember.Tensor):
            a = v.detach().numpy()
            out[k] = (str(a.dtype), a.shape, a.tobytes())
        else:
            out[k] = ("py", None, repr(v))
    return out


def _loaded_copy(ck):
    flat = {}
    for k, v in ck["model"].items():
        flat["model." + k] = v
    for pid, st in ck["optim"]["state"].items():
        for k, v in st.items():
            flat[f"opt.{pid}.{k}"] = v
    out = {}
    for k, v in flat.items():
        if isinstance(v, ember.Tensor):
            a = v.detach().numpy()
            out[k] = (str(a.dtype), a.shape, a.tobytes())
        else:
            out[k] = ("py", None, repr(v))
    return out


def _compare(saved, loaded):
    problems = []
    for k in sorted(set(saved) | set(loaded)):
        if k not in loaded:
            problems.append(f"{k}: missing after reload")
        elif k not in saved:
            problems.append(f"{k}: unexpected after reload")
        elif saved[k] != loaded[k]:
            problems.append(f"{k}: differs (saved {saved[k][0]}{saved[k][1]}, loaded {loaded[k][0]}{loaded[k][1]})")
    return problems


def run(steps, workers, checkpoint_every, out, batch_size=64, reference_step=1000, max_growth=0.05,
        persistent_workers=False, seed=0, log=print):
    """Runs the soak; returns (ok, report dict)."""
    os.makedirs(out, exist_ok=True)
    ember.manual_seed(seed)
    ds = SyntheticDigits(seed=seed)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=persistent_workers and workers > 0,
                        timeout=60 if workers > 0 else 0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)

    records = []
    failures = []
    step = 0
    t0 = time.perf_counter()
    loss_val = float("nan")
    while step < steps:
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            step += 1
            if step % checkpoint_every == 0 or step == steps:
                loss_val = loss.item()
                del x, y, loss
                path = os.path.join(out, f"ckpt_{step}.pt")
                saved = _state_copy(model, opt)
                ember.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step}, path)
                ck = ember.load(path, weights_only=True)
                problems = _compare(saved, _loaded_copy(ck))
                if ck.get("step") != step:
                    problems.append(f"step: saved {step}, loaded {ck.get('step')!r}")
                del ck, saved
                gc.collect()
                kids = _children()
                rec = {
                    "step": step,
                    "time_s": time.perf_counter() - t0,
                    "loss": loss_val,
                    "rss_kib": _rss_kib(),
                    "children": {p: _rss_kib(p) for p in kids},
                    "live_storages": ember._C._live_storages(),
                    "gc_objects": len(gc.get_objects()),
                    "ckpt_ok": not problems,
                }
                records.append(rec)
                child_txt = ", ".join(f"{p}:{r / 1024:.1f}" for p, r in rec["children"].items()) or "none"
                log(f"step {step:6d}  t={rec['time_s']:7.1f}s  loss={loss_val:.4f}  "
                    f"RSS={rec['rss_kib'] / 1024:.1f} MiB  children(MiB)=[{child_txt}]  "
                    f"live_storages={rec['live_storages']}  gc_objects={rec['gc_objects']}  "
                    f"checkpoint={'ok' if not problems else 'MISMATCH'}")
                for p in problems:
                    failures.append(f"checkpoint {step}: {p}")
            if step >= steps:
                break

    ref = next((r for r in records if r["step"] >= reference_step), records[0])
    last = records[-1]
    growth = (last["rss_kib"] - ref["rss_kib"]) / ref["rss_kib"]
    if growth > max_growth:
        failures.append(f"RSS grew {growth * 100:.1f}% from step {ref['step']} ({ref['rss_kib'] / 1024:.1f} MiB) "
                        f"to step {last['step']} ({last['rss_kib'] / 1024:.1f} MiB), bound {max_growth * 100:.0f}%")
    # batches prefetched by the workers are live at a checkpoint too: allow that much slack
    slack = 8 * max(workers, 1) + 16
    if last["live_storages"] > ref["live_storages"] + slack:
        failures.append(f"live storages grew from {ref['live_storages']} (step {ref['step']}) to "
                        f"{last['live_storages']} (step {last['step']}), more than the {slack} in flight")
    child_growth = None
    if persistent_workers and workers > 0 and ref["children"] and last["children"]:
        c0, c1 = sum(ref["children"].values()), sum(last["children"].values())
        child_growth = (c1 - c0) / c0
        if child_growth > max_growth:
            failures.append(f"workers' RSS grew {child_growth * 100:.1f}% ({c0 / 1024:.1f} -> {c1 / 1024:.1f} MiB)")
    report = {"records": records, "reference_step": ref["step"], "growth": growth,
              "child_growth": child_growth, "failures": failures,
              "steps_per_s": steps / last["time_s"]}
    return not failures, report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--out", required=True, help="directory for the checkpoints")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--reference-step", type=int, default=1000,
                   help="RSS growth is measured from the first checkpoint at or after this step")
    p.add_argument("--max-growth", type=float, default=0.05, help="allowed relative RSS growth (0.05 = 5%%)")
    p.add_argument("--persistent-workers", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.steps <= 0 or a.checkpoint_every <= 0:
        p.error("--steps and --checkpoint-every must be positive")
    if a.workers < 0:
        p.error("--workers must be non-negative")
    ok, rep = run(a.steps, a.workers, a.checkpoint_every, a.out, batch_size=a.batch_size,
                  reference_step=a.reference_step, max_growth=a.max_growth,
                  persistent_workers=a.persistent_workers, seed=a.seed)
    print(f"RSS growth from step {rep['reference_step']} to {a.steps}: {rep['growth'] * 100:+.2f}%"
          + (f"; workers {rep['child_growth'] * 100:+.2f}%" if rep["child_growth"] is not None else "")
          + f"; {rep['steps_per_s']:.1f} steps/s")
    if ok:
        print("VERDICT: PASS")
        return 0
    for f in rep["failures"]:
        print("FAIL:", f)
    print("VERDICT: FAIL")
    return 1


if __name__ == "__main__":
    sys.exit(main())
