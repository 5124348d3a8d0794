"""Faults: an exception, a non-zero exit or a SIGKILL in one rank ends the 2-rank job promptly with a non-zero
status naming the rank (through ember-run and through plain mpiexec); a collective past the group's timeout
raises an error naming the op and the rank; a process without a launcher asking for WORLD_SIZE > 1, a missing
mpi4py, "nccl" without CUDA and use before init_process_group raise clear errors.
This file is also the worker script of the launched cases (its __main__ block)."""
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.abspath(__file__)
LIMIT = 60


def _mpiexec():
    pytest.importorskip("mpi4py")
    from ember.distributed.run import find_mpiexec
    try:
        return find_mpiexec()
    except FileNotFoundError:
        pytest.skip("no mpiexec")


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "OMPI_", "PMIX_", "HYDI_", "MPI_LOCAL")) and k not in ("RANK", "WORLD_SIZE")}
    env.update(extra)
    return env


def _run(cmd, **extra):
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=_clean_env(EMBER_DIST_TEST_WORKER="1", **extra), capture_output=True, text=True,
                       timeout=LIMIT)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def _launch(mode):
    _mpiexec()
    return _run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node=2", HERE, mode])


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_failing_rank_ends_job_through_launcher(mode):
    code, out, secs = _launch(mode)
    assert code != 0, out
    assert "[rank 1]" in out, out
    assert ("boom on purpose" in out) if mode == "raise" else ("exited with code 3" in out), out
    assert "unreachable" not in out, out
    assert secs < 30, secs


def test_killed_rank_ends_job_through_launcher():
    code, out, secs = _launch("kill")
    assert code != 0, out
    assert "rank 1 (pid" in out and "SIGKILL" in out, out
    assert "unreachable" not in out
    assert secs < 30, secs


def test_uncaught_exception_aborts_plain_mpiexec():
    """Without ember-run, init_process_group's excepthook prints the rank and calls MPI Abort."""
    mpiexec = _mpiexec()
    code, out, secs = _run([mpiexec, "-n", "2", sys.executable, HERE, "raise"])
    assert code != 0, out
    assert "[rank 1] uncaught exception" in out and "boom on purpose" in out, out
    assert "unreachable" not in out
    assert secs < 30, secs


def test_killed_rank_under_plain_mpiexec():
    mpiexec = _mpiexec()
    code, out, secs = _run([mpiexec, "-n", "2", sys.executable, HERE, "kill"])
    assert code != 0, out
    assert "unreachable" not in out
    assert secs < 30, secs


def test_collective_timeout_names_op_and_rank():
    code, out, secs = _launch("timeout")
    # first a caught timeout (the late peer then completes it), then an uncaught one that aborts the job
    assert "CAUGHT ember.distributed: all_reduce timed out after 1.0 s on rank 0" in out, out
    assert "LATE PEER DONE 3.0" in out, out
    assert "barrier timed out after 1.0 s on rank 0" in out and "[rank 0] failed; aborting" in out, out
    assert code != 0
    assert secs < 30, secs


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_separately_started_processes_rendezvous_over_tcp():
    """Two plain `python` processes (no launcher) with RANK/WORLD_SIZE and init_method tcp://host:port form one
    job (the env:// form, MASTER_ADDR/MASTER_PORT, is what the spawn tests use)."""
    pytest.importorskip("mpi4py")
    env = _clean_env(EMBER_DIST_TEST_WORKER="1", WORLD_SIZE="2", EMBER_TEST_INIT="tcp://127.0.0.1:" + _free_port())
    env.pop("MASTER_ADDR", None)
    env.pop("MASTER_PORT", None)
    procs = [subprocess.Popen([sys.executable, HERE, "plain"], env=dict(env, RANK=str(r)), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for r in range(2)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=LIMIT)[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    for r, (p, out) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, out
        assert "PLAIN rank %d of 2 sum 3.0" % r in out, out


def test_missing_peer_times_out_at_rendezvous():
    pytest.importorskip("mpi4py")
    code, out, secs = _run([sys.executable, HERE, "alone"], RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                           MASTER_PORT=_free_port())
    assert code != 0
    assert "[rank 0] init_process_group: not all 2 ranks joined the rendezvous" in out, out
    assert secs < 30


def test_world_size_after_mpi_was_initialised_is_a_clear_error():
    pytest.importorskip("mpi4py")
    code, out, _ = _run([sys.executable, "-c", "from mpi4py import MPI; import ember.distributed as d; "
                         "d.init_process_group('gloo')"], RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                        MASTER_PORT="29513")
    assert code != 0
    assert "alone in its MPI job" in out and "ember-run --nproc-per-node=2" in out, out


def test_rendezvous_needs_master_addr():
    pytest.importorskip("mpi4py")
    code, out, _ = _run([sys.executable, "-c", "import ember.distributed as d; d.init_process_group('gloo', "
                         "rank=0, world_size=2)"])
    assert code != 0 and "environment variable MASTER_ADDR expected, but not set" in out, out


@pytest.mark.parametrize("mode", ["spawn", "spawn-raise"])
def test_spawn_tutorial_pattern(mode):
    """ember.multiprocessing.spawn + init_process_group("gloo", rank=r, world_size=2), MASTER_ADDR/PORT set in
    the parent (the DDP tutorial); an exception in one child makes spawn raise, naming the process."""
    pytest.importorskip("mpi4py")
    code, out, secs = _run([sys.executable, HERE, mode], MASTER_ADDR="127.0.0.1", MASTER_PORT=_free_port())
    if mode == "spawn":
        assert code == 0, out
        assert "SPAWNED rank 0 sum 3.0" in out and "SPAWNED rank 1 sum 3.0" in out, out
    else:
        assert code != 0
        assert "Process 1 terminated with the following error" in out and "boom in a spawned rank" in out, out
        assert secs < 30


def test_nccl_without_cuda_names_what_is_missing():
    import ember
    import ember.distributed as dist
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"nccl.*ember.cuda.is_available\(\) is False"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
    assert dist.is_nccl_available() is False


def test_not_initialized_errors():
    import ember
    import ember.distributed as dist
    msg = "Default process group has not been initialized, please make sure to call init_process_group."
    for fn in (lambda: dist.all_reduce(ember.zeros(1)), lambda: dist.barrier(), lambda: dist.get_rank(),
               lambda: dist.broadcast(ember.zeros(1), 0), lambda: dist.destroy_process_group()):
        with pytest.raises(ValueError) as e:
            fn()
        assert str(e.value) == msg
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("smoke-signals")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout="soon")


def test_without_mpi4py_the_error_says_what_to_install(monkeypatch):
    import ember.distributed as dist
    from ember.distributed import _mpi
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert dist.is_mpi_available() is False and dist.is_gloo_available() is False
    assert dist.is_available() is True
    with pytest.raises(ImportError, match=r'pip install "ember\[mpi\]"'):
        dist.init_process_group("mpi")
    with pytest.raises(ImportError, match=r'pip install "ember\[mpi\]"'):
        _mpi.load_mpi()
    assert not dist.is_initialized()


def test_import_does_not_import_mpi4py():
    code, out, _ = _run([sys.executable, "-c", "import sys, ember, ember.distributed as d, ember.distributed.run; "
                         "print(d.is_available(), d.is_mpi_available(), d.is_initialized()); "
                         "print('MPI4PY-LOADED=%s' % ('mpi4py' in sys.modules))"])
    assert code == 0, out
    assert "True True False" in out and "MPI4PY-LOADED=False" in out, out


# ------------------------------------------------------------------------------------------------ the worker

def _spawned(i, fail):
    import ember
    import ember.distributed as dist
    dist.init_process_group("gloo", rank=i, world_size=2)
    t = ember.ones(2) * (i + 1)
    dist.all_reduce(t)
    print("SPAWNED rank %d sum %s" % (dist.get_rank(), t[0].item()), flush=True)
    if fail and i == 1:
        raise ValueError("boom in a spawned rank")
    dist.barrier()  # rank 0 waits here when rank 1 failed: spawn must end it
    dist.destroy_process_group()


def _worker(mode):
    import signal
    from datetime import timedelta

    import ember
    import ember.distributed as dist

    if mode.startswith("spawn"):
        import ember.multiprocessing as mp
        mp.spawn(_spawned, args=(mode == "spawn-raise",), nprocs=2)
        return
    if mode in ("plain", "alone"):
        dist.init_process_group("gloo", init_method=os.environ.get("EMBER_TEST_INIT"),
                                timeout=timedelta(seconds=1) if mode == "alone" else None)
        t = ember.ones(2) * (dist.get_rank() + 1)
        dist.all_reduce(t)
        print("PLAIN rank %d of %d sum %s" % (dist.get_rank(), dist.get_world_size(), t[0].item()), flush=True)
        dist.destroy_process_group()
        return
    dist.init_process_group("mpi", timeout=timedelta(seconds=1) if mode == "timeout" else None)
    rank = dist.get_rank()
    if mode == "timeout":
        if rank == 0:
            t = ember.ones(3)
            try:
                dist.all_reduce(t)
            except dist.DistBackendError as e:
                print("CAUGHT %s" % e, flush=True)
        else:
            time.sleep(2.5)  # rank 0 gives up after 1 s; our late all_reduce still matches its request
            t = ember.ones(3) * 2
            dist.all_reduce(t)
            print("LATE PEER DONE %s" % t[0].item(), flush=True)
        dist.barrier(async_op=True).wait(timeout=20)
        if rank == 1:
            time.sleep(20)
        dist.barrier()  # rank 0: uncaught timeout -> excepthook -> MPI Abort ends rank 1 too
        print("unreachable", rank, flush=True)
        return
    if rank == 1:
        if mode == "raise":
            raise ValueError("boom on purpose")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "exit":
            sys.exit(3)
    dist.all_reduce(ember.ones(3))  # rank 0 waits here for the failed rank
    print("unreachable", rank, flush=True)


if __name__ == "__main__" and os.environ.get("EMBER_DIST_TEST_WORKER"):
    _worker(sys.argv[1])
