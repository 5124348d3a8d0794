"""Runs Ember's fuzz targets for a time budget and keeps what they find.

    python tools/fuzz/run_fuzz.py --budget 120            # CI: 2 minutes over all targets
    python tools/fuzz/run_fuzz.py --budget 3600 --engine atheris --targets ops

Each target gets a share of the budget (ops half, the three checkpoint readers the other half) and runs in a
child interpreter, restarted after a crash until its share is used. Crashing, hanging and Python-level
findings land in tests/fuzz_corpus/<target>/ (crash-*, timeout-*, finding-*), which
tests/test_fuzz_corpus.py replays as regression tests; at most --keep native crashes per op are kept (the
op is read back with --engine describe). The engine is atheris when importable, else the random driver.
Exit status: 0 when nothing new was found, 1 otherwise.
"""
import argparse
import collections
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(REPO, "tests", "fuzz_corpus")
SHARES = {"ops": 0.5, "ckpt_ember": 1 / 6, "ckpt_torch": 1 / 6, "ckpt_safetensors": 1 / 6}


def command(target):
    if target == "ops":
        return [sys.executable, os.path.join(HERE, "fuzz_ops.py")]
    return [sys.executable, os.path.join(HERE, "fuzz_checkpoints.py"), target]


def corpus_files():
    out = set()
    for root, _, files in os.walk(CORPUS):
        out.update(os.path.join(root, f) for f in files)
    return out


def run_target(target, seconds, engine, case_timeout, work, seed, keep):
    deadline = time.time() + seconds
    new = []
    per_op = collections.Counter()
    attempt = 0
    while time.time() < deadline - 1:
        left = deadline - time.time()
        last = os.path.join(work, target + ".last")
        cmd = command(target) + ["--engine", engine, "--time", "%d" % max(1, int(left)),
                                 "--seed", str(seed + attempt), "--case-timeout", str(case_timeout)]
        if engine == "random":
            cmd += ["--last-input", last]
        else:
            cmd += ["--corpus-dir", os.path.join(work, target + ".corpus")]
        before = corpus_files()
        t0 = time.time()
        try:  # slack for start-up: importing ember (its rebuild check) and atheris.instrument_all()
            proc = subprocess.run(cmd, capture_output=True, timeout=left + case_timeout + 240, cwd=REPO)
        except subprocess.TimeoutExpired as e:
            print("STUCK [%s]: the child outlived its share by 240 s; killed" % target, flush=True)
            proc = subprocess.CompletedProcess(cmd, -9, e.stdout or b"", e.stderr or b"")
            if engine == "atheris":
                break  # libFuzzer wrote no artifact; the random engine's last input is saved below
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        for line in out.splitlines():
            if line.startswith(("RATE", "FINDING")):
                print(line, flush=True)
            elif line.startswith("Done ") and " runs in " in line:  # libFuzzer's summary
                runs, secs = int(line.split()[1]), float(line.split()[4])
                print("RATE [%s] atheris: %d cases in %.0f s = %.1f execs/s" % (target, runs, secs,
                                                                               runs / max(secs, 1)), flush=True)
        added = sorted(corpus_files() - before)
        if proc.returncode != 0:
            hung = proc.returncode == -9 or "Timeout (" in out or "timeout" in " ".join(os.path.basename(p) for p in added)
            if engine == "random" and os.path.exists(last):
                with open(last, "rb") as fh:
                    data = fh.read()
                d = os.path.join(CORPUS, target)
                os.makedirs(d, exist_ok=True)
                path = os.path.join(d, "%s-%s" % ("timeout" if hung else "crash",
                                                  hashlib.sha1(data).hexdigest()[:16]))
                with open(path, "wb") as fh:
                    fh.write(data)
                added.append(path)
            tail = [ln for ln in out.splitlines() if "Fatal Python error" in ln or "Timeout (" in ln
                    or "==ERROR" in ln or "deadly signal" in ln][:2]
            print("CRASH [%s] rc=%d after %.1f s: %s" % (target, proc.returncode, time.time() - t0,
                                                        " | ".join(tail)), flush=True)
        for path in added:
            base = os.path.basename(path)
            if base.startswith(("crash-", "timeout-", "oom-", "slow-unit-")):
                desc = subprocess.run(command(target) + ["--engine", "describe", path], capture_output=True,
                                      timeout=120, cwd=REPO).stdout.decode(errors="replace")
                op = next((ln for ln in desc.splitlines() if ln.startswith(("out =", "ember.load"))), "?")
                key = op.split("(")[0]
                per_op[key] += 1
                if per_op[key] > keep:
                    os.remove(path)
                    continue
                print("  saved %s: %s" % (os.path.relpath(path, REPO), op[:200]), flush=True)
            new.append(path)
        if proc.returncode == 0:
            break
        attempt += 1
    return new


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=120, help="total seconds over all targets")
    p.add_argument("--targets", nargs="*", default=list(SHARES))
    p.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    p.add_argument("--case-timeout", type=float, default=20)
    p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    p.add_argument("--keep", type=int, default=3, help="native crashes kept per op")
    a = p.parse_args()
    engine = a.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "random"
    total = sum(SHARES[t] for t in a.targets)
    work = os.environ.get("EMBER_FUZZ_WORK") or tempfile.mkdtemp(prefix="ember-fuzz-")
    os.makedirs(work, exist_ok=True)
    print("engine %s, budget %.0f s, seed %d, work dir %s" % (engine, a.budget, a.seed, work), flush=True)
    found = []
    try:
        for t in a.targets:
            found += run_target(t, a.budget * SHARES[t] / total, engine, a.case_timeout, work, a.seed, a.keep)
    finally:
        if not os.environ.get("EMBER_FUZZ_WORK"):
            shutil.rmtree(work, ignore_errors=True)
    print("%d new corpus file(s)" % len(found))
    for f in found:
        print("  " + os.path.relpath(f, REPO))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
