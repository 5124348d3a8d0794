"""Per-rank entry point that ``ember-run`` hands to mpiexec: sets torchrun's variables from the MPI
launcher's own (PMI_RANK, MPI_LOCALRANKID, ... / OMPI_COMM_WORLD_*), then runs the user's script or module.

    python -m ember.distributed.bootstrap [--module | --no-python] TARGET [ARGS...]

An exception (or a non-zero exit) in the user's code is printed with the rank and, once MPI is initialised,
aborts the whole MPI job so that the other ranks do not wait forever in a collective.
"""
import os
import runpy
import sys
import traceback


def _first(*names):
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return v
    return None


def rank_environment(environ=None):
    """torchrun's per-rank variables derived from the MPI launcher's variables in ``environ``."""
    env = os.environ if environ is None else environ
    get = lambda *names: next((env[n] for n in names if env.get(n) not in (None, "")), None)  # noqa: E731
    rank = get("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
    size = get("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "EMBER_RUN_WORLD_SIZE")
    if rank is None or size is None:
        raise RuntimeError("ember.distributed.bootstrap must run under mpiexec (no PMI_RANK/PMI_SIZE or "
                           "OMPI_COMM_WORLD_RANK/SIZE in the environment); use ember-run")
    local_rank = get("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")
    local_size = get("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "EMBER_RUN_LOCAL_WORLD_SIZE")
    if local_size is None:
        local_size = size
    if local_rank is None:
        local_rank = str(int(rank) % int(local_size))
    out = {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local_rank, "LOCAL_WORLD_SIZE": local_size,
           "GROUP_RANK": str(int(rank) // max(1, int(local_size))), "ROLE_RANK": rank, "ROLE_WORLD_SIZE": size,
           "ROLE_NAME": "default"}
    out["NODE_RANK"] = out["GROUP_RANK"]
    return out


def _register(rank):
    """Leaves "pid -> rank" for ember-run, which names the rank of a process that MPI reports killed."""
    run_dir = os.environ.get("EMBER_RUN_DIR")
    if run_dir and os.path.isdir(run_dir):
        try:
            with open(os.path.join(run_dir, "pid.%d" % os.getpid()), "w") as f:
                f.write(str(rank))
        except OSError:
            pass


def _abort(rank, code):
    from ember.distributed._mpi import abort_job
    abort_job(code)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = "script"
    if argv and argv[0] in ("--module", "-m"):
        mode, argv = "module", argv[1:]
    elif argv and argv[0] == "--no-python":
        mode, argv = "exec", argv[1:]
    if not argv:
        raise SystemExit("ember.distributed.bootstrap: no script, module or program to run")
    os.environ.update(rank_environment())
    rank = int(os.environ["RANK"])
    _register(rank)
    target, args = argv[0], argv[1:]
    if mode == "exec":
        os.execvp(target, [target] + args)
    sys.argv = [target] + args
    try:
        if mode == "module":
            sys.path.insert(0, os.getcwd())
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return
        if not isinstance(code, int):
            sys.stderr.write("%s\n" % (code,))
            code = 1
        sys.stderr.write("[rank %d] exited with code %d; aborting the MPI job\n" % (rank, code))
        sys.stderr.flush()
        _abort(rank, code)
    except BaseException:
        sys.stderr.write("[rank %d] failed; aborting the MPI job:\n%s" % (rank, traceback.format_exc()))
        sys.stderr.flush()
        _abort(rank, 1)


if __name__ == "__main__":
    main()
