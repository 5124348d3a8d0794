"""Shared machinery of Ember's fuzz targets (tools/fuzz/fuzz_*.py).

A target is a function ``one(data: bytes)`` that decodes the bytes into a call (an op and its arguments, or a
checkpoint file) and makes it. The contract it checks is the one every Ember entry point owes its caller: the
call returns, or raises an ``Exception`` subclass naming what was wrong. Anything else is a finding:

* a native crash (segfault, abort, ``std::terminate``): the process dies;
* a hang: the case runs longer than ``--case-timeout`` seconds;
* a Python-level wrong exception: ``SystemError`` (a C function returned NULL without an exception, or the
  reverse), pybind11's "Caught an unknown exception!", a ``BaseException`` that is not an ``Exception``, or a
  target-specific rule (``ember.load`` must raise ``CheckpointError``, not a stray ``ValueError``).

Two engines drive the same targets with the same byte decoding (``Reader`` below, not
``atheris.FuzzedDataProvider``: the decoding must not depend on atheris being installed, so that a corpus file
means the same call when CI replays it without atheris):

* ``atheris`` (``pip install atheris``; libFuzzer underneath) does a coverage-guided search. It instruments
  *Python* bytecode only: ``ember._C`` is not built with ``-fsanitize=fuzzer``, so libFuzzer cannot see which C++
  branches an input reached. The guidance it gives is over the Python-visible argument space (which op, which
  argument kinds, which branches of the Python layer, argument checks and format parsers in Python).
* ``random``: a plain seeded driver feeding random byte strings, for machines without atheris and for the
  fixed-seed smoke test.

Native crashes and hangs are saved by the runner (tools/fuzz/run_fuzz.py) from the input the child was
running; Python-level findings are saved by the target itself (``Finding`` below) and the run goes on.
"""
import argparse
import hashlib
import os
import random
import resource
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "fuzz_corpus")


def limit_memory():
    """Caps the address space (EMBER_FUZZ_AS_MB, default 6144) so that an absurd size argument makes the
    allocation fail (a MemoryError, an allowed outcome) instead of the kernel's OOM killer ending the run."""
    mb = int(os.environ.get("EMBER_FUZZ_AS_MB", "6144"))
    if mb > 0:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = mb << 20
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))


class Reader:
    """Deterministic decoding of fuzzer bytes into choices, in the spirit of FuzzedDataProvider: every read
    consumes bytes from the front; an exhausted input reads as zeros (so short inputs give the simplest call)."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def remaining(self):
        return len(self.data) - self.pos

    def _take(self, n):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk + b"\0" * (n - len(chunk))

    def int(self, lo, hi):
        """An integer in [lo, hi]."""
        span = hi - lo
        if span <= 0:
            return lo
        nbytes = (span.bit_length() + 7) // 8
        return lo + int.from_bytes(self._take(nbytes), "little") % (span + 1)

    def bool(self):
        return bool(self._take(1)[0] & 1)

    def chance(self, percent):
        return self.int(0, 99) < percent

    def pick(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def raw(self, n):
        return self._take(n)

    def rest(self):
        chunk = self.data[self.pos:]
        self.pos = len(self.data)
        return chunk


class Finding(Exception):
    """Raised by a target's checker for a Python-level contract violation (message: a one-line signature)."""


BAD_MESSAGES = ("Caught an unknown exception", "std::bad_", "basic_string", "vector::_M", "unordered_map::at")


def check_exception(exc, allowed=(Exception,)):
    """Raises Finding when exc is not an acceptable way for an Ember call to fail."""
    if isinstance(exc, SystemError):
        raise Finding("SystemError: %s" % _first_line(exc)) from exc
    if not isinstance(exc, Exception):
        raise Finding("%s (not an Exception subclass): %s" % (type(exc).__name__, _first_line(exc))) from exc
    if isinstance(exc, RecursionError):
        raise Finding("RecursionError: %s" % _first_line(exc)) from exc
    msg = str(exc)
    for bad in BAD_MESSAGES:
        if bad in msg:
            raise Finding("%s leaking a raw C++ error: %s" % (type(exc).__name__, _first_line(exc))) from exc
    if not isinstance(exc, allowed):
        raise Finding("%s where %s was expected: %s" % (type(exc).__name__,
                                                          "/".join(a.__name__ for a in allowed),
                                                          _first_line(exc))) from exc


def _first_line(exc):
    s = str(exc).strip().splitlines()
    return (s[0] if s else "")[:160]


def save_input(target, data, prefix):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%s-%s" % (prefix, hashlib.sha1(data).hexdigest()[:16]))
    if not os.path.exists(path):
        with open(path, "wb") as fh:
            fh.write(data)
    return path


class Driver:
    """Runs one target: wraps it so Python-level findings are saved (deduplicated by signature) and the run
    goes on; arms a per-case watchdog; knows the atheris and random engines."""

    def __init__(self, name, one, describe, setup=None):
        self.name = name
        self.one = one
        self.describe = describe
        self.setup = setup
        self.seen = {}
        self.save = True
        self.last_path = None

    def checked(self, data):
        try:
            self.one(data)
        except Finding as f:
            sig = str(f)
            self.seen[sig] = self.seen.get(sig, 0) + 1
            if self.seen[sig] == 1:
                where = save_input(self.name, data, "finding") if self.save else "(not saved)"
                sys.stderr.write("FINDING [%s] %s -> %s\n" % (self.name, sig, where))
                sys.stderr.flush()
            return False
        return True

    def main(self, argv=None):
        p = argparse.ArgumentParser(description="Ember fuzz target %s" % self.name)
        p.add_argument("--engine", choices=("atheris", "random", "replay", "describe"), default="random")
        p.add_argument("--time", type=float, default=60.0, help="seconds to run (atheris/random)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--runs", type=int, default=0, help="stop after this many cases (0: no limit)")
        p.add_argument("--case-timeout", type=float, default=20.0)
        p.add_argument("--last-input", default=None,
                       help="random engine: write each input here first (the runner saves it after a crash)")
        p.add_argument("--corpus-dir", default=None, help="atheris: working corpus (seeds are added to it)")
        p.add_argument("--no-save", action="store_true", help="do not write findings into tests/fuzz_corpus")
        p.add_argument("files", nargs="*")
        a, extra = p.parse_known_args(argv)
        self.save = not a.no_save
        if a.engine == "describe":
            for f in a.files:
                with open(f, "rb") as fh:
                    print(self.describe(fh.read()))
            return 0
        limit_memory()
        import faulthandler
        if a.engine != "atheris":  # under atheris, libFuzzer's own deadly-signal handler saves the input
            faulthandler.enable()
        if self.setup:
            self.setup()
        if a.engine == "replay":
            bad = 0
            for f in a.files:
                with open(f, "rb") as fh:
                    data = fh.read()
                faulthandler.dump_traceback_later(a.case_timeout, exit=True)
                try:
                    self.one(data)
                except Finding as e:
                    print("FINDING %s: %s" % (f, e))
                    bad += 1
                faulthandler.cancel_dump_traceback_later()
            print("replayed %d file(s), %d finding(s)" % (len(a.files), bad))
            return 1 if bad else 0
        if a.engine == "random":
            return self._random(a, faulthandler)
        return self._atheris(a, extra)

    def _random(self, a, faulthandler):
        rng = random.Random(a.seed)
        t0 = time.time()
        n = 0
        while (a.runs and n < a.runs) or (not a.runs and time.time() - t0 < a.time):
            size = rng.choice((8, 16, 32, 64, 128, 256, 512, 1024))
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, size)))
            if a.last_input:
                with open(a.last_input, "wb") as fh:
                    fh.write(data)
            faulthandler.dump_traceback_later(a.case_timeout, exit=True)
            self.checked(data)
            faulthandler.cancel_dump_traceback_later()
            n += 1
        dt = time.time() - t0
        print("RATE [%s] random: %d cases in %.1f s = %.1f execs/s, %d distinct finding(s)"
              % (self.name, n, dt, n / max(dt, 1e-9), len(self.seen)))
        return 1 if self.seen else 0

    def _atheris(self, a, extra):
        import atheris
        # every module from here on (ember's Python layer included) is instrumented for coverage
        argv = [sys.argv[0]] + extra
        if a.time:
            argv.append("-max_total_time=%d" % int(a.time))
        if a.runs:
            argv.append("-runs=%d" % a.runs)
        argv.append("-timeout=%d" % max(1, int(a.case_timeout)))
        argv.append("-rss_limit_mb=0")  # RLIMIT_AS (limit_memory) bounds allocations instead
        argv.append("-artifact_prefix=%s/" % os.path.join(CORPUS, self.name))
        os.makedirs(os.path.join(CORPUS, self.name), exist_ok=True)
        if a.corpus_dir:
            os.makedirs(a.corpus_dir, exist_ok=True)
            argv.append(a.corpus_dir)
        t0 = time.time()
        count = [0]

        def test_one(data):
            count[0] += 1
            self.checked(data)

        # coverage needs instrumented bytecode: the modules are imported already, so instrument what is loaded
        # (ember's Python layer, numpy's Python parts, the target itself)
        atheris.instrument_all()
        atheris.Setup(argv, test_one)
        import atexit
        atexit.register(lambda: print("RATE [%s] atheris: %d cases in %.1f s = %.1f execs/s, %d distinct "
                                      "finding(s)" % (self.name, count[0], time.time() - t0,
                                                      count[0] / max(time.time() - t0, 1e-9), len(self.seen)),
                                      flush=True))
        atheris.Fuzz()
        return 0


def format_call(name, args, kwargs):
    parts = [repr_arg(x) for x in args] + ["%s=%s" % (k, repr_arg(v)) for k, v in kwargs.items()]
    return "%s(%s)" % (name, ", ".join(parts))


def repr_arg(x):
    r = getattr(x, "_fuzz_repr", None)
    if r is not None:
        return r
    if isinstance(x, (list, tuple)):
        inner = ", ".join(repr_arg(v) for v in x)
        return "[%s]" % inner if isinstance(x, list) else "(%s%s)" % (inner, "," if len(x) == 1 else "")
    if isinstance(x, dict):
        return "{%s}" % ", ".join("%r: %s" % (k, repr_arg(v)) for k, v in x.items())
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return "float(%r)" % str(x)
    return repr(x)


def traceback_tail(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
