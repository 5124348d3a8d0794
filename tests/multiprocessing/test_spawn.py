"""ember.multiprocessing.spawn / start_processes: fn(i, *args) per process, errors carrying the child's
traceback or exit code, join timeouts, and clean-up of the other children when one fails."""
import os
import pickle
import signal
import time

import pytest

import ember
import ember.multiprocessing as mp
from _mp_guard import hard_timeout  # noqa: F401

T = 60


def _report(i, q, scale):
    q.put((i, os.getpid(), float(ember.full((2,), float(i)).sum()) * scale))


def _raise_on_one(i):
    if i == 1:
        raise ValueError("boom in process %d" % i)
    time.sleep(120)  # terminated by the parent once process 1 fails


def _exit_with(i, code):
    os._exit(code) if i == 0 else time.sleep(120)


def _kill_self(i):
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(i, seconds):
    time.sleep(seconds)


def _sys_exit_zero(i):
    raise SystemExit(0)


def test_spawn_runs_fn_with_index_and_args():
    q = mp.get_context("spawn").SimpleQueue()
    assert mp.spawn(_report, args=(q, 10.0), nprocs=2) is None
    got = sorted(q.get() for _ in range(2))
    assert [g[0] for g in got] == [0, 1] and [g[2] for g in got] == [0.0, 20.0]
    assert got[0][1] != got[1][1] != os.getpid()


def test_spawn_raised_exception_carries_traceback_and_stops_the_others():
    t0 = time.monotonic()
    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.spawn(_raise_on_one, nprocs=2)
    e = info.value
    assert time.monotonic() - t0 < T  # process 0 (sleeping 120 s) was terminated
    assert e.error_index == 1 and isinstance(e.error_pid, int)
    assert "-- Process 1 terminated with the following error:" in str(e)
    assert "ValueError: boom in process 1" in str(e) and "Traceback" in str(e)
    assert not mp.active_children()


def test_exit_code_and_signal():
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as info:
        mp.start_processes(_exit_with, args=(3,), nprocs=2, start_method="fork")
    assert info.value.exit_code == 3 and info.value.signal_name is None and info.value.error_index == 0
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with signal SIGKILL") as info:
        mp.start_processes(_kill_self, nprocs=1, start_method="fork")
    assert info.value.exit_code == -signal.SIGKILL and info.value.signal_name == "SIGKILL"


def test_system_exit_zero_is_success():
    assert mp.start_processes(_sys_exit_zero, nprocs=2, start_method="fork") is None


def test_join_timeout_and_context():
    ctx = mp.start_processes(_sleep, args=(1.0,), nprocs=2, join=False, start_method="fork")
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 2
    t0 = time.monotonic()
    assert ctx.join(timeout=0.05) is False  # still running
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + T
    while not ctx.join(timeout=1):
        assert time.monotonic() < deadline
    assert ctx.join() is True and all(p.exitcode == 0 for p in ctx.processes)
    assert not any(os.path.exists(f) for f in ctx.error_files)


def test_join_timeout_then_failure_terminates_sleepers():
    ctx = mp.start_processes(_raise_on_one, nprocs=3, join=False, start_method="fork")
    with pytest.raises(mp.ProcessRaisedException, match="boom in process 1"):
        deadline = time.monotonic() + T
        while not ctx.join(timeout=5, grace_period=2):
            assert time.monotonic() < deadline
    assert all(not p.is_alive() for p in ctx.processes)
    assert not any(os.path.exists(f) for f in ctx.error_files)


def test_spawn_with_other_start_method_warns_and_bad_arguments():
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        mp.spawn(_sleep, args=(0,), nprocs=1, start_method="fork")
    with pytest.raises(ValueError, match="nprocs"):
        mp.start_processes(_sleep, args=(0,), nprocs=0)
    with pytest.raises(TypeError, match="callable"):
        mp.start_processes(42, nprocs=1)
    with pytest.raises(ValueError):
        mp.start_processes(_sleep, args=(0,), start_method="no-such-method")


def test_exceptions_pickle():
    e = pickle.loads(pickle.dumps(mp.ProcessExitedException("m", 2, 123, 4, "SIGTERM")))
    assert (e.msg, e.error_index, e.error_pid, e.exit_code, e.signal_name) == ("m", 2, 123, 4, "SIGTERM")
    r = pickle.loads(pickle.dumps(mp.ProcessRaisedException("tb", 1, 7)))
    assert isinstance(r, mp.ProcessException) and (r.error_index, r.error_pid) == (1, 7)
    assert mp.SpawnContext is mp.ProcessContext
