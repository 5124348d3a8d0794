"""ember.multiprocessing: Python's multiprocessing, with tensors that share memory between processes.

Everything in the standard ``multiprocessing`` namespace is re-exported (Process, Queue, SimpleQueue, Pipe,
Pool, get_context, set_start_method, cpu_count, ...); importing this package registers a reducer with
multiprocessing's pickler, so a tensor in shared memory (``Tensor.share_memory_()``, ``Module.share_memory()``)
that is put on a queue or pipe, or passed to a spawned process, arrives in the other process over the same
memory, while other tensors arrive as copies (see ``reductions``). ``spawn``/``start_processes`` run
``fn(i, *args)`` in several processes and raise the first child's error, as torch.multiprocessing does.
"""
import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from .reductions import init_reductions
from .spawn import (ProcessContext, ProcessException, ProcessExitedException, ProcessRaisedException,
                    SpawnContext, spawn, start_processes)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies", "spawn",
           "start_processes", "ProcessContext", "SpawnContext", "ProcessException", "ProcessRaisedException",
           "ProcessExitedException", "init_reductions"] + list(multiprocessing.__all__)

# Only descriptor passing: the shared files have no name, so the kernel frees them with their last user.
_all_sharing_strategies = frozenset({"file_descriptor"})
_sharing_strategy = "file_descriptor"


def set_sharing_strategy(new_strategy):
    """Sets the strategy for sharing CPU tensors; Ember has 'file_descriptor' only."""
    if new_strategy not in _all_sharing_strategies:
        raise ValueError("sharing strategy %r is not supported; available: %s"
                         % (new_strategy, ", ".join(sorted(_all_sharing_strategies))))


def get_sharing_strategy():
    """The current strategy for sharing CPU tensors ('file_descriptor')."""
    return _sharing_strategy


def get_all_sharing_strategies():
    """The set of sharing strategies this platform supports."""
    return set(_all_sharing_strategies)
