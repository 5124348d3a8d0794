"""spawn / start_processes: run fn(i, *args) in nprocs child processes and report the first failure.

Each child writes the traceback of an exception it raised into its own error file; ``ProcessContext.join``
waits on the children's sentinels, and when one fails it terminates the others and raises
``ProcessRaisedException`` (with that traceback) or ``ProcessExitedException`` (exit code or signal).
"""
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import time
import traceback

__all__ = ["spawn", "start_processes", "ProcessContext", "SpawnContext", "ProcessException",
           "ProcessRaisedException", "ProcessExitedException"]


class ProcessException(Exception):
    """Base of the errors ProcessContext.join raises: which process (error_index) failed, and its pid."""

    __slots__ = ["error_index", "error_pid"]

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.error_pid = error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A child raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A child exited with a non-zero exit code or was killed by a signal (signal_name)."""

    __slots__ = ["exit_code", "signal_name"]

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code, self.signal_name)


def _wrap(fn, i, args, error_file):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # the parent is shutting us down (SIGINT)
    except Exception:
        with open(error_file, "w") as f:
            f.write(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The children started by start_processes: ``processes``, ``error_files``, ``pids()`` and ``join()``."""

    def __init__(self, processes, error_files):
        self.error_files = error_files
        self.processes = processes
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [int(p.pid) for p in self.processes]

    def join(self, timeout=None, grace_period=None):
        """Waits up to timeout seconds (None: until one exits) for the children. Returns True when all have
        exited successfully, False while some still run; when one failed, terminates the others (SIGTERM, then
        SIGKILL after grace_period seconds) and raises ProcessRaisedException or ProcessExitedException."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        error_index = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            process = self.processes[index]
            process.join()
            if process.exitcode != 0:
                error_index = index
                break
        if error_index is None:
            if not self.sentinels:
                self._remove_error_files()
            return not self.sentinels
        self._terminate_all(grace_period)
        failed = self.processes[error_index]
        error_file = self.error_files[error_index]
        with open(error_file) as f:
            trace = f.read() or None  # empty: the child died without raising
        self._remove_error_files()
        if trace is None:
            code = failed.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException("process %d terminated with signal %s" % (error_index, name),
                                             error_index, failed.pid, code, name)
            raise ProcessExitedException("process %d terminated with exit code %d" % (error_index, code),
                                         error_index, failed.pid, code)
        msg = "\n\n-- Process %d terminated with the following error:\n%s" % (error_index, trace)
        raise ProcessRaisedException(msg, error_index, failed.pid)

    def _terminate_all(self, grace_period):
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        deadline = time.monotonic() + (grace_period or 0)
        for p in self.processes:
            p.join(max(0.0, deadline - time.monotonic()) if grace_period else None)
            if p.is_alive():
                p.kill()
                p.join()
        self.sentinels.clear()

    def _remove_error_files(self):
        for path in self.error_files:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


SpawnContext = ProcessContext  # the older name, kept by PyTorch for compatibility


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Starts nprocs processes running fn(i, *args) (i = 0..nprocs-1) with the given start method ('spawn',
    'fork' or 'forkserver'). With join=True waits for all and returns None (raising on the first failure);
    else returns the ProcessContext."""
    if not isinstance(nprocs, int) or isinstance(nprocs, bool) or nprocs < 1:
        raise ValueError("nprocs must be a positive int, got %r" % (nprocs,))
    if not callable(fn):
        raise TypeError("fn must be callable, got %s" % type(fn).__name__)
    from . import reductions  # noqa: F401  (shared tensors in args pickle as shared)
    ctx = multiprocessing.get_context(start_method)
    processes, error_files = [], []
    try:
        for i in range(nprocs):
            fd, path = tempfile.mkstemp(prefix="ember_spawn_err_")
            os.close(fd)
            error_files.append(path)
            p = ctx.Process(target=_wrap, args=(fn, i, args, path), daemon=daemon)
            p.start()
            processes.append(p)
    except BaseException:
        ProcessContext(processes, error_files)._terminate_all(None)
        for path in error_files:
            os.unlink(path)
        raise
    context = ProcessContext(processes, error_files)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Spawns nprocs processes that run fn(i, *args), as torch.multiprocessing.spawn (see start_processes)."""
    if start_method != "spawn":
        import warnings
        warnings.warn("This method only supports start_method=spawn (got: %s).\nTo use a different start_method "
                      "use:\n\t\t ember.multiprocessing.start_processes(...)" % start_method, FutureWarning,
                      stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
