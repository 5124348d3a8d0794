"""Hard time limit and child clean-up for the multiprocessing tests (no pytest-timeout needed)."""
import multiprocessing
import os
import signal

import pytest

LIMIT_S = 90  # per test; every join/get inside a test has its own, shorter timeout


@pytest.fixture(autouse=True)
def hard_timeout():
    def expire(signum, frame):
        raise TimeoutError("multiprocessing test ran past %d s" % LIMIT_S)
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        for p in multiprocessing.active_children():  # never leave a child behind a failed test
            p.kill()
            p.join(10)


def shm_entries():
    """Names in /dev/shm that Ember could have left (its fallback files are named ember_shm_*)."""
    return sorted(n for n in os.listdir("/dev/shm") if "ember" in n) if os.path.isdir("/dev/shm") else []


def block_fds():
    """How many of this process's descriptors are Ember shared-memory blocks (memfd or unlinked /dev/shm)."""
    n = 0
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
        try:
            n += "ember_sh" in os.readlink("/proc/self/fd/" + fd)
        except OSError:  # the descriptor listdir itself used
            pass
    return n
