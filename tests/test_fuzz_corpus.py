"""Regression tests from the fuzzers in tools/fuzz/.

* Every file in tests/fuzz_corpus/<target>/ (inputs that once crashed, hung or raised the wrong exception) is
  replayed through its target in a child interpreter, so a crash fails one test instead of killing pytest.
  Files whose bug is still open are listed in OPEN_BUGS and expected to fail (strict: a fix makes the test
  XPASS, i.e. fail, until the entry is removed).
* A short fixed-seed random run of each target (no atheris needed) checks the targets themselves still work
  and that nothing outside OPEN_BUGS crashes on those cases.
"""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.path.join(REPO, "tools", "fuzz")
CORPUS = os.path.join(REPO, "tests", "fuzz_corpus")
TARGETS = ("ops", "ckpt_ember", "ckpt_torch", "ckpt_safetensors")
TIMEOUT = 240  # a child imports ember; an editable install's rebuild check can make that slow

# corpus file name prefix -> the open bug it reproduces (C++ side; see the fuzzing report)
OPEN_BUGS = {}
# ops left out of the smoke run while their crash bug is open (a crash there would hide everything else)
SMOKE_SKIP = ""


def _command(target):
    if target == "ops":
        return [sys.executable, os.path.join(FUZZ, "fuzz_ops.py")]
    return [sys.executable, os.path.join(FUZZ, "fuzz_checkpoints.py"), target]


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONFAULTHANDLER="1")
    env.update(extra)
    return env


def _corpus():
    cases = []
    for target in TARGETS:
        d = os.path.join(CORPUS, target)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            key = "%s/%s" % (target, name)
            bug = next((why for prefix, why in OPEN_BUGS.items() if key.startswith(prefix)), None)
            marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
            cases.append(pytest.param(target, os.path.join(d, name), id=key, marks=marks))
    return cases


@pytest.mark.parametrize("target,path", _corpus())
def test_corpus_file_returns_or_raises(target, path):
    try:
        proc = subprocess.run(_command(target) + ["--engine", "replay", "--no-save", "--case-timeout", "20",
                                                  path], capture_output=True, timeout=TIMEOUT, env=_env(),
                              cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail("replaying %s hung for %d s" % (path, TIMEOUT))
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, "replay of %s: exit status %d\n%s" % (path, proc.returncode, out[-3000:])


def test_open_bugs_name_existing_corpus_files():
    files = {"%s/%s" % (t, n) for t in TARGETS if os.path.isdir(os.path.join(CORPUS, t))
             for n in os.listdir(os.path.join(CORPUS, t))}
    for prefix in OPEN_BUGS:
        assert any(f.startswith(prefix) for f in files), "OPEN_BUGS names a missing corpus file: " + prefix


@pytest.mark.parametrize("target", TARGETS)
def test_random_smoke_run(target):
    proc = subprocess.run(_command(target) + ["--engine", "random", "--runs", "300", "--seed", "1",
                                              "--no-save", "--case-timeout", "30"],
                          capture_output=True, timeout=TIMEOUT, env=_env(EMBER_FUZZ_SKIP=SMOKE_SKIP), cwd=REPO)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, out[-3000:]
    assert "RATE [%s] random: 300 cases" % target in out, out[-3000:]


def test_describe_prints_a_call():
    proc = subprocess.run(_command("ops") + ["--engine", "describe", os.devnull], capture_output=True,
                          timeout=TIMEOUT, env=_env(), cwd=REPO)
    out = proc.stdout.decode()
    assert proc.returncode == 0 and "out = " in out, out + proc.stderr.decode()[-2000:]


def test_reader_is_deterministic_and_bounded():
    sys.path.insert(0, FUZZ)
    try:
        from _harness import Reader
    finally:
        sys.path.remove(FUZZ)
    r = Reader(b"\xff\x01")
    assert r.int(0, 9) == 255 % 10
    assert r.int(5, 5) == 5
    assert r.bool() is True
    assert r.int(-3, 3) == -3  # exhausted: zeros
    assert Reader(b"\x07").pick("abc") == "b"
