"""Work: a handle on nonblocking MPI requests, polled against the group's deadline."""
import os
import time

from .constants import DistBackendError


def _poll(requests, status, deadline, describe):
    """Drives MPI progress with Test() until every request completed; raises DistBackendError at the deadline."""
    single = requests[0] if len(requests) == 1 else None
    spins = 0
    while True:
        for _ in range(64):
            done = single.Test(status) if single is not None else type(requests[0]).Testall(requests)
            if done:
                return
        if time.monotonic() > deadline:
            raise DistBackendError(describe())
        spins += 1
        if spins > 1000:  # a long wait (peer still computing): let the other ranks' processes run
            os.sched_yield()


_abandoned = []  # works whose wait() timed out while their requests were in flight
_orphans = []  # (requests, buffers, finish, status) of Works dropped before they completed


def _reap_orphans():
    """Completes the dropped Works whose requests finished (their write-backs run then)."""
    pending = []
    for item in _orphans:
        reqs, _, finish, status = item
        done = reqs[0].Test(status) if len(reqs) == 1 else type(reqs[0]).Testall(reqs)
        if done:
            if finish is not None:
                finish()
        else:
            pending.append(item)
    _orphans[:] = pending


class Work:
    """Returned by a collective called with ``async_op=True``: ``wait()``, ``is_completed()``, ``result()``."""

    def __init__(self, op_name, pg, requests, finish=None, outputs=(), status=None, keep=(), timeout=None):
        self._op = op_name
        self._timeout = pg.timeout if timeout is None else timeout  # seconds
        self._pg = pg
        self._requests = list(requests)
        self._finish = finish
        self._outputs = list(outputs)
        self._status = status
        self._keep = keep  # the numpy buffers the requests read and write stay alive until completion
        self._done = not self._requests
        self._start = time.monotonic()
        if _orphans:
            _reap_orphans()
        if self._done:
            self._complete()

    def _describe(self):
        return ("ember.distributed: %s timed out after %.1f s on rank %d (group of size %d, backend %s): a peer "
                "did not join the collective or is stuck" % (self._op, self._timeout, self._pg.global_rank,
                                                             self._pg.size(), self._pg.backend))

    def _complete(self):
        self._done = True
        finish, self._finish = self._finish, None
        self._requests = []
        self._keep = ()
        if finish is not None:
            finish()

    def __del__(self):
        # dropped while in flight (async_op=True, never waited): MPI still reads/writes the buffers
        if not getattr(self, "_done", True) and self._requests and self not in _abandoned:
            _orphans.append((self._requests, self._keep, self._finish, self._status))

    def is_completed(self):
        """True when the operation finished (the outputs then hold the result); never blocks."""
        if self._done:
            return True
        reqs = self._requests
        done = reqs[0].Test(self._status) if len(reqs) == 1 else type(reqs[0]).Testall(reqs)
        if done:
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Blocks until the operation finished; raises DistBackendError naming the op and rank after the
        group's timeout (or ``timeout``, a timedelta or seconds, counted from the call)."""
        if self._done:
            return True
        if timeout is None:
            deadline = self._start + self._timeout
        else:
            deadline = time.monotonic() + (timeout.total_seconds() if hasattr(timeout, "total_seconds")
                                           else float(timeout))
        try:
            _poll(self._requests, self._status, deadline, self._describe)
        except BaseException:
            _abandoned.append(self)  # MPI may still write into the buffers: keep them alive
            raise
        self._complete()
        return True

    def is_success(self):
        return self._done

    def exception(self):
        return None

    def result(self):
        """The output tensors of the operation (after wait())."""
        return list(self._outputs)

    def source_rank(self):
        """For a completed recv/irecv: the global rank the message came from."""
        if self._status is None:
            raise RuntimeError("source_rank() is defined only for recv/irecv work")
        self.wait()
        return self._pg.global_ranks[self._status.Get_source()]

    def synchronize(self):
        self.wait()

    def __repr__(self):
        return "<ember.distributed.Work %s %s>" % (self._op, "completed" if self._done else "pending")
