"""DataLoader worker cleanup: after a worker raised (or an epoch was abandoned), later epochs must not print
"can only test a child process" errors from workers that inherited a dead iterator, and no worker process,
queue pipe or process sentinel may outlive its iterator. The end-to-end scenarios run in a child interpreter
(so its stderr, its exit and its file descriptors can be checked) under a hard timeout; the in-process
checks run under SIGALRM, so nothing here can hang a test run."""
import gc
import json
import multiprocessing
import os
import signal
import subprocess
import sys

import pytest

import ember
from ember.utils.data import DataLoader, Dataset

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork/fd checks are POSIX")


class _Deadline(BaseException):
    pass


@pytest.fixture(autouse=True)
def _deadline():
    def fail(signum, frame):
        raise _Deadline("DataLoader cleanup test ran past its 120 s deadline")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(120)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class FailsAt(Dataset):
    """Samples 0..n-1; __getitem__ raises ValueError for the index `bad`."""

    def __init__(self, n=16, bad=5):
        self.n, self.bad = n, bad

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError("bad index %d" % i)
        return ember.tensor([float(i)])


def _children():
    return [p for p in multiprocessing.active_children()]


def test_iterator_of_a_failed_epoch_is_freed_without_garbage_collection():
    # the re-raised worker error must not sit in a reference cycle with the iterator: once the caller drops
    # the exception, the iterator goes, and its workers are shut down right away
    gc.collect()
    before = set(_children())
    gc.disable()
    try:
        it = iter(DataLoader(FailsAt(), batch_size=2, num_workers=2))
        workers = list(it._workers)
        assert len(workers) == 2
        with pytest.raises(ValueError, match="bad index 5"):
            for _ in it:
                pass
        del it
        assert set(_children()) == before
        for w in workers:
            with pytest.raises(ValueError):  # closed: its sentinel pipe is released
                w.is_alive()
    finally:
        gc.enable()


def test_an_iterator_can_go_on_after_a_worker_error_and_then_cleans_up():
    # as in PyTorch, a worker error does not end the iterator: the batches after it still come
    it = iter(DataLoader(FailsAt(n=12, bad=3), batch_size=2, num_workers=2))
    got = [next(it).tolist()]
    with pytest.raises(ValueError, match="bad index 3"):
        next(it)
    got += [b.tolist() for b in it]
    assert got == [[[0.0], [1.0]], [[4.0], [5.0]], [[6.0], [7.0]], [[8.0], [9.0]], [[10.0], [11.0]]]
    assert it._workers == []  # the finished epoch shut its workers down and released them
    del it
    gc.collect()
    assert _children() == []


def test_shutdown_in_another_process_does_nothing():
    # what a forked worker does with an inherited iterator's finalizer: nothing (before the fix it joined and
    # tested processes that are not its children, and printed AssertionErrors)
    it = iter(DataLoader(FailsAt(n=4, bad=99), batch_size=2, num_workers=1))
    workers = list(it._workers)
    ctx = multiprocessing.get_context("fork")
    r, w = ctx.Pipe(duplex=False)

    def child(conn):
        import io
        import contextlib
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            it._finalizer()  # the inherited copy: must not touch the parent's workers
            gc.collect()
        conn.send(err.getvalue())
        conn.close()
    p = ctx.Process(target=child, args=(w,))
    p.start()
    w.close()
    assert r.poll(60), "child did not answer"
    assert r.recv() == ""
    p.join(30)
    assert p.exitcode == 0
    assert all(x.is_alive() for x in workers)  # the parent's workers were not touched
    assert [b.tolist() for b in it] == [[[0.0], [1.0]], [[2.0], [3.0]]]


_SCENARIO = r'''
import gc, json, multiprocessing, os, sys, time
import ember
from ember.utils.data import DataLoader, Dataset

class FailsAt(Dataset):
    def __init__(self, n=16, bad=5):
        self.n, self.bad = n, bad
    def __len__(self):
        return self.n
    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError("bad index %d" % i)
        return ember.tensor([float(i)])

def fds():
    """The open descriptors and what they are (pipes, files)."""
    out = {}
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            out[fd] = os.readlink("/proc/self/fd/" + fd)
        except OSError:  # the one listdir itself had open
            pass
    return out

def run(scenario, ctx=None):
    kept = []  # caught exceptions kept alive: their tracebacks hold the failed iterators
    # warm up: what the first use of workers opens for good (e.g. spawn's resource tracker) is no leak
    list(DataLoader(FailsAt(bad=-1, n=4), batch_size=2, num_workers=2, multiprocessing_context=ctx))
    gc.collect()
    base_fds = fds()
    sys.stderr.write("<<BEGIN %s>>\n" % scenario)
    sys.stderr.flush()
    dl = DataLoader(FailsAt(), batch_size=2, num_workers=2, multiprocessing_context=ctx,
                    persistent_workers=(scenario == "persistent"))
    caught = 0
    for epoch in range(3):
        try:
            for i, b in enumerate(dl):
                if scenario == "abandon" and i == 1:
                    break
        except ValueError as e:
            caught += 1
            if scenario == "keep":
                kept.append(e)
    # a clean epoch from another loader after the failures
    clean = [b.tolist() for b in DataLoader(FailsAt(bad=-1, n=6), batch_size=3, num_workers=2,
                                            multiprocessing_context=ctx)]
    del kept[:], dl
    gc.collect()
    deadline = time.time() + 30
    while multiprocessing.active_children() and time.time() < deadline:
        time.sleep(0.05)
    sys.stderr.write("<<END %s>>\n" % scenario)
    sys.stderr.flush()
    print(json.dumps({"scenario": scenario, "caught": caught, "clean": clean,
                      "children": len(multiprocessing.active_children()), "fds_before": base_fds,
                      "fds_after": fds()}), flush=True)

if __name__ == "__main__":
    for name in sys.argv[1:]:
        run(name)
    sys.stderr.write("<<EXIT>>\n")
'''


_SCENARIOS = ["plain", "keep", "persistent", "abandon"]


@pytest.fixture(scope="module")
def scenario_runs(tmp_path_factory):
    """Runs every scenario in one child interpreter (fork, Linux's default start method, is where workers
    inherit live iterators); returns {scenario: (result, its stderr)} and the stderr printed at exit."""
    script = tmp_path_factory.mktemp("dataloader_cleanup") / "scenario.py"
    script.write_text(_SCENARIO)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, str(script)] + _SCENARIOS, env=env, capture_output=True, timeout=100)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err[-3000:]
    results = {}
    for line in proc.stdout.decode().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            results[r["scenario"]] = r
    out = {}
    for name in _SCENARIOS:
        # only what the scenario itself printed (an editable install may log a rebuild while importing)
        begin, end = "<<BEGIN %s>>" % name, "<<END %s>>" % name
        assert begin in err and end in err and name in results, err[-3000:]
        out[name] = (results[name], err.split(begin, 1)[1].split(end, 1)[0].strip())
    at_exit = err.split("<<END %s>>" % _SCENARIOS[-1], 1)[1].strip()
    return out, at_exit


@pytest.mark.parametrize("scenario", _SCENARIOS)
def test_epochs_after_a_worker_error_leave_stderr_clean_and_no_processes(scenario_runs, scenario):
    result, stderr = scenario_runs[0][scenario]
    assert stderr == "", stderr[-3000:]
    assert result["caught"] == (0 if scenario == "abandon" else 3)
    assert result["clean"] == [[[0.0], [1.0], [2.0]], [[3.0], [4.0], [5.0]]]
    assert result["children"] == 0
    assert set(result["fds_after"]) <= set(result["fds_before"]), result  # no pipe or sentinel left open


def test_nothing_is_printed_at_interpreter_exit(scenario_runs):
    # no finalizer, queue feeder thread or resource tracker complains when the process ends
    assert scenario_runs[1] == "<<EXIT>>", scenario_runs[1][-3000:]
