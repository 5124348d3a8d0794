"""What runs inside a DataLoader worker process: seeding, fetching batches, and shipping results or errors back.

Everything here is module-level so that it can be pickled by reference when workers are started with the
"spawn" or "forkserver" methods.
"""
import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ... import _C

__all__ = ["WorkerInfo", "get_worker_info"]

# How often (seconds) a worker checks that its parent is alive while idle.
STATUS_CHECK_INTERVAL = 5.0


@dataclass(frozen=True)
class WorkerInfo:
    """Describes the current worker: ``id`` (0..num_workers-1), ``num_workers``, ``seed`` (its base seed for
    ``random``, ``ember`` and ``numpy``) and ``dataset`` (this process's copy of the dataset)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """The :class:`WorkerInfo` of the current DataLoader worker process, or None in the main process.

    Use it in an :class:`~ember.utils.data.IterableDataset`'s ``__iter__`` or in ``worker_init_fn`` to give
    each worker its own shard of the data, or to seed other libraries from ``seed``.
    """
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch; they echo it back once ready."""


class _KeyErrorMessage(str):
    """KeyError's str() is repr() of its argument; this keeps a multi-line traceback readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception with its formatted traceback, picklable, to be re-raised in another process."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # e.g. a class defined inside a function: re-raised as RuntimeError
            self.exc_type = None

    def reraise(self):
        name = self.exc_type.__name__ if self.exc_type is not None else "exception"
        msg = "Caught %s %s.\nOriginal %s" % (name, self.where, self.exc_msg)
        if self.exc_type is None:
            raise RuntimeError(msg)
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # the exception type needs other constructor arguments
            raise RuntimeError(msg) from None
        try:
            raise exception
        finally:
            # no cycle exception -> traceback -> this frame -> exception: the DataLoader iterator that the
            # traceback's frames refer to is freed (and its workers shut down) as soon as the caller drops it,
            # not at some later garbage collection, possibly inside a worker forked for the next epoch
            del exception


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def fetch(self, index):
        if self.auto_collation:
            getitems = getattr(self.dataset, "__getitems__", None)
            if getitems:
                data = getitems(index)
            else:
                data = [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        # with auto-collation ``index`` is a list of batch_size Nones: only its length matters
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _seed_worker(base_seed, worker_id):
    """Seeds random, ember and numpy differently in each worker (and differently each time workers start)."""
    from ..._ops.creation import manual_seed
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def pack(data):
    """Pickles a result in the worker, so an unpicklable batch becomes an error the main process sees instead
    of a message the queue's feeder thread drops (which would leave the main process waiting forever)."""
    try:
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return pickle.dumps(ExceptionWrapper(where="while sending a batch from a DataLoader worker process"),
                            protocol=pickle.HIGHEST_PROTOCOL)


def worker_loop(iterable, dataset, index_queue, data_queue, done_event, auto_collation, collate_fn, drop_last,
                base_seed, init_fn, worker_id, num_workers):
    """Fetches (send_idx, indices) tasks from index_queue and puts (send_idx, pickled batch) on data_queue until
    it receives None, the main process dies, or it is interrupted."""
    global _worker_info
    try:
        # N workers each running a multi-threaded pool would oversubscribe the cores
        _C.set_num_threads(1)
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        where = "in DataLoader worker process %d" % worker_id

        def make_fetcher():
            return create_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)

        fetcher, init_error = None, None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher()
        except Exception:
            init_error = ExceptionWrapper(where=where)

        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(task, _ResumeIteration):
                iteration_end = False
                if init_error is None:
                    try:
                        fetcher = make_fetcher()
                    except Exception:
                        init_error = ExceptionWrapper(where=where)
                data_queue.put((task, None))
                continue
            if task is None:
                break
            if done_event.is_set() or iteration_end:
                continue  # drain what is left of this epoch's tasks without working on them
            idx, index = task
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                except Exception:
                    data = ExceptionWrapper(where=where)
            data_queue.put((idx, pack(data)))
            del data, idx, index, task
    except KeyboardInterrupt:
        pass  # the main process sees it and shuts the workers down
    if done_event.is_set():
        # don't block exit on flushing results nobody will read
        data_queue.cancel_join_thread()
        data_queue.close()
