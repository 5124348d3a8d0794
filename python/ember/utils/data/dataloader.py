"""DataLoader: batches from a dataset, in the main process or in worker processes that prefetch ahead.

With ``num_workers > 0`` each worker gets tasks ``(send_idx, indices)`` on its own index queue, round robin, and
all workers answer on one result queue. At most ``prefetch_factor * num_workers`` tasks are outstanding; results
that arrive early are held until their turn so batches come out in sampler order (unless ``in_order=False``).
Tensors cross the process boundary by pickling (through numpy).
"""
import itertools
import math
import multiprocessing
import multiprocessing.context
import os
import pickle
import queue
import warnings
import weakref

from ... import _C
from ..._ops.creation import empty
from . import _worker
from ._collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

# How often (seconds) the main process checks that its workers are alive while waiting for a batch.
_STATUS_CHECK_INTERVAL = 1.0

class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (the dataset, not the sampler, decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _draw_seed(generator):
    return empty((), dtype=_C.int64).random_(0, 2 ** 63 - 1, generator=generator).item()


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


class DataLoader:
    """Iterates over a dataset in batches.

    Args:
        dataset: a map-style :class:`Dataset` (``__getitem__``/``__len__``) or an :class:`IterableDataset`.
        batch_size (int, optional): samples per batch (default 1); None disables automatic batching, so the
            loader yields single samples converted with :func:`default_convert`.
        shuffle (bool, optional): reshuffle the indices every epoch (a :class:`RandomSampler`).
        sampler (Sampler or Iterable, optional): the indices to load; excludes ``shuffle``.
        batch_sampler (Sampler or Iterable, optional): yields lists of indices; excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers (int): worker processes to load with; 0 loads in the main process.
        collate_fn (callable, optional): turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory (bool): accepted for compatibility; Ember has no pinned memory, so it only warns.
        drop_last (bool): drop the last batch when it is smaller than ``batch_size``.
        timeout (float): with workers, seconds to wait for a batch before raising RuntimeError (0: forever).
        worker_init_fn (callable, optional): called as ``worker_init_fn(worker_id)`` in each worker after
            seeding and before loading.
        multiprocessing_context (str or context, optional): start method ("fork", "spawn", "forkserver");
            default: Python's default for the platform.
        generator (ember.Generator, optional): draws the shuffle order (for the default RandomSampler) and the
            workers' base seed, so a seeded generator makes shuffling reproducible.
        prefetch_factor (int, optional): batches loaded ahead per worker (default 2 with workers).
        persistent_workers (bool): keep the worker processes (and their dataset copies) alive between epochs.
        in_order (bool): yield batches in sampler order; False yields them as workers finish them.

    Each worker seeds ``random``, ``ember`` and ``numpy`` from ``base_seed + worker_id``, where ``base_seed`` is
    drawn from ``generator`` (or the global RNG) once per iterator; :func:`get_worker_info` exposes the seed.
    """

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > "
                             "0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then device pinned "
                          "memory won't be used.", stacklevel=2)

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = False
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            # an IterableDataset decides its own order; shuffle=False is allowed as an explicit no-op
            if isinstance(shuffle, bool) and shuffle:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                                 "shuffle=%s" % shuffle)
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler option, but got "
                                 "sampler=%s" % sampler)
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                                 "got batch_sampler=%s" % batch_sampler)
        shuffle = bool(shuffle)

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                             "drop_last")

        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        self._check_worker_number_rationality()
        self._initialized = True

    # ------------------------------------------------------------------ configuration
    def __setattr__(self, attr, val):
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                          "persistent_workers"):
            raise ValueError("%s attribute should not be set after %s is initialized"
                             % (attr, type(self).__name__))
        super().__setattr__(attr, val)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 "(num_workers > 0), but got num_workers=%d" % self.num_workers)
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid start method in %r, "
                                     "but got multiprocessing_context=%r" % (methods, context))
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context object or a string "
                                "specifying the start method, but got multiprocessing_context=%r" % (context,))
        self.__multiprocessing_context = context

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        # what the iterator draws from: index lists with auto-collation, single indices without
        return self.batch_sampler if self._auto_collation else self.sampler

    def _check_worker_number_rationality(self):
        cpus = _cpu_count()
        if self.num_workers > 1 and cpus is not None and self.num_workers > cpus:
            warnings.warn("This DataLoader will create %d worker processes in total. Our suggested max number of "
                          "worker in current system is %d, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get DataLoader running "
                          "slow or even freeze, lower the worker number to avoid potential slowness/freeze if "
                          "necessary." % (self.num_workers, cpus), stacklevel=3)

    # ------------------------------------------------------------------ iteration
    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        """A new iterator per epoch; with persistent workers, the same iterator (and processes) reset."""
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        """Batches per epoch (for an IterableDataset, derived from ``len(dataset)`` when it has one)."""
        if self._iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = _draw_seed(loader.generator)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if (self._iterable and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            warnings.warn("Length of IterableDataset %s was reported to be %d (when accessing len(dataloader)), but "
                          "%d samples have been fetched. For multiprocessing data-loading, this could be caused by "
                          "not properly configuring the IterableDataset replica at each worker."
                          % (self._dataset, self._IterableDataset_len_called, self._num_yielded), stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError("%s cannot be pickled" % type(self).__name__)


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _worker.create_fetcher(self._iterable, self._dataset, self._auto_collation,
                                               self._collate_fn, self._drop_last)

    def _next_data(self):
        index = self._next_index()  # StopIteration ends the epoch
        return self._fetcher.fetch(index)


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Starts the workers, keeps up to prefetch_factor * num_workers tasks in flight, reorders results."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        if self._prefetch_factor <= 0:
            raise ValueError("prefetch_factor must be positive when num_workers > 0")
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        self._workers_status = [True] * self._num_workers
        # A finalizer, not __del__, and one that owns the queues: when the iterator dies in a reference cycle
        # the queues stay alive (the finalizer holds them) so the exit messages still go out; it also runs
        # at interpreter exit. It acts only in this process: a worker forked later inherits this iterator (when
        # it is still alive, e.g. held by a caught exception) and must leave its handles alone.
        self._finalizer = weakref.finalize(self, _shutdown_workers, os.getpid(), self._workers,
                                           self._index_queues, self._worker_result_queue, self._workers_done_event)
        try:
            for i in range(self._num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()  # never block exit on tasks a dead worker left unread
                w = ctx.Process(target=_worker.worker_loop,
                                args=(self._iterable, self._dataset, index_queue, self._worker_result_queue,
                                      self._workers_done_event, self._auto_collation, self._collate_fn,
                                      self._drop_last, self._base_seed, loader.worker_init_fn, i,
                                      self._num_workers))
                w.daemon = True  # a crashed main process takes its workers with it
                w.start()
                self._index_queues.append(index_queue)
                self._workers.append(w)
        except BaseException:
            self._shutdown_workers()
            raise
        self._data_queue = self._worker_result_queue
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0  # index of the next task to send
        self._rcvd_idx = 0  # index of the next task to return
        # send_idx -> (worker_id,) while outstanding, (worker_id, data) once received out of order
        self._task_info = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: wait until each has seen the resume marker, dropping the stale results of an
            # epoch that was abandoned part way
            for q in self._index_queues:
                q.put(_worker._ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _worker._ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout=_STATUS_CHECK_INTERVAL):
        try:
            return True, self._data_queue.get(timeout=timeout)
        except queue.Empty:
            failed = [w for wid, w in enumerate(self._workers) if self._workers_status[wid] and not w.is_alive()]
            if failed:
                for w in failed:
                    self._mark_worker_as_unavailable(self._workers.index(w))
                raise RuntimeError("DataLoader worker (pid(s) %s) exited unexpectedly"
                                   % ", ".join(str(w.pid) for w in failed)) from None
            return False, None

    def _get_data(self):
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if not ok:
                raise RuntimeError("DataLoader timed out after %s seconds" % self._timeout)
            return data
        while True:
            ok, data = self._try_get_data()
            if ok:
                return data

    def _next_data(self):
        while True:
            # skip tasks whose worker ended (an exhausted IterableDataset replica) without answering
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            data = pickle.loads(data)
            if self._iterable and isinstance(data, _worker._IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    worker_id = self._task_info.pop(idx)[0]
                    return self._process_data(data, worker_id)
                self._task_info[idx] += (data,)  # hold it until its turn
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _try_put_index(self):
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next active worker, round robin
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                if self._in_order or self._workers_num_tasks[worker_id] < max_tasks // sum(self._workers_status):
                    break
        else:
            return  # no active worker left
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._workers_num_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data, worker_id):
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id):
        # None tells the worker to exit once it has drained its queue
        self._index_queues[worker_id].put(None)
        self._workers_status[worker_id] = False

    def _shutdown_workers(self):
        self._finalizer()


def _shutdown_workers(owner_pid, workers, index_queues, result_queue, done_event):
    """Asks every worker to exit (None on its queue), waits a little, terminates stragglers, then releases every
    handle: the processes (their sentinel pipes) and the queues (pipes and feeder threads). Only the
    process that started the workers may do this; anywhere else (a forked child holding a copy) it does
    nothing."""
    if os.getpid() != owner_pid:
        return
    try:
        done_event.set()
        for q in index_queues:
            try:
                q.put(None)  # harmless for a worker that already exited
            except (OSError, ValueError):  # ValueError: the queue is already closed
                pass
        for w in workers:
            w.join(timeout=_worker.STATUS_CHECK_INTERVAL)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join(timeout=_worker.STATUS_CHECK_INTERVAL)
            if w.is_alive():  # ignored SIGTERM: nothing kills a stuck worker but SIGKILL
                w.kill()
                w.join()
        for q in index_queues:
            q.cancel_join_thread()
            q.close()  # its feeder thread flushes what is left and ends
        result_queue.cancel_join_thread()
        result_queue.close()
        for w in workers:
            w.close()  # the process object's sentinel fd
        del workers[:]
