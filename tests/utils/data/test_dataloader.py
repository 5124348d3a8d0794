"""DataLoader: batching, shuffling, samplers, collation and argument checks in one process, then worker
processes (order, seeding, worker info, prefetching, persistence, errors, timeouts, crashes, shutdown)."""
import os
import time
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset, SequentialSampler,
                              TensorDataset, get_worker_info)

N = 10
X = ember.arange(2 * N).float().view(N, 2)
Y = ember.arange(N)
DS = TensorDataset(X, Y)


def labels(loader):
    return [b[1].tolist() for b in loader]


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


class Stream(IterableDataset):
    """Yields 0..n-1, each worker taking every num_workers-th item."""

    def __init__(self, n, length=None):
        self.n = n
        self.length = length

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        if self.length is None:
            raise TypeError("no length")
        return self.length


class WhoAmI(Dataset):
    """Each sample reports the process and worker that loaded it."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "pid": os.getpid(), "worker": info.id, "seed": info.seed,
                "np": float(np.random.rand()), "ember": ember.rand(1).item(),
                "init": int(os.environ.get("EMBER_TEST_WORKER_INIT", "-1"))}


def _init(worker_id):
    os.environ["EMBER_TEST_WORKER_INIT"] = str(worker_id)


class Failing(Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise self.exc
        return i


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(0.6)
        return i


class Crash(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os._exit(3)
        return i


class Unpicklable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i


# ---------------------------------------------------------------------------------------------- main process
def test_sequential_batches():
    dl = DataLoader(DS, batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    np.testing.assert_array_equal(batches[0][0].numpy(), X.numpy()[:4])
    assert labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert labels(DataLoader(DS, batch_size=4, drop_last=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(DS, batch_size=4, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(Range(3))] == [[0], [1], [2]]  # batch_size defaults to 1


def test_shuffle_is_seedable_and_reshuffles_each_epoch():
    dl = DataLoader(DS, batch_size=3, shuffle=True, generator=ember.Generator().manual_seed(0))
    e1, e2 = labels(dl), labels(dl)
    assert sorted(sum(e1, [])) == list(range(N)) and sorted(sum(e2, [])) == list(range(N))
    assert e1 != e2
    again = DataLoader(DS, batch_size=3, shuffle=True, generator=ember.Generator().manual_seed(0))
    assert labels(again) == e1 and labels(again) == e2
    ember.manual_seed(7)
    a = labels(DataLoader(DS, batch_size=5, shuffle=True))
    ember.manual_seed(7)
    assert labels(DataLoader(DS, batch_size=5, shuffle=True)) == a


def test_samplers_and_collate_fn():
    assert labels(DataLoader(DS, batch_size=2, sampler=[9, 0, 4])) == [[9, 0], [4]]
    assert labels(DataLoader(DS, batch_sampler=[[1, 2, 3], [0]])) == [[1, 2, 3], [0]]
    bs = BatchSampler(SequentialSampler(DS), 4, True)
    assert len(DataLoader(DS, batch_sampler=bs)) == 2
    assert list(DataLoader(Range(5), batch_size=2, collate_fn=lambda b: sum(b))) == [1, 5, 4]


def test_batch_size_none_disables_batching():
    samples = list(DataLoader(DS, batch_size=None))
    assert len(samples) == N
    assert samples[3][0].shape == (2,) and samples[3][1].item() == 3

    class NumpyItems(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full(3, i), "s"

    out = list(DataLoader(NumpyItems(), batch_size=None))
    assert isinstance(out[1][0], ember.Tensor) and out[1][0].tolist() == [1, 1, 1] and out[1][1] == "s"


def test_dataset_getitems_is_used():
    class Batched(Range):
        def __getitems__(self, indices):
            return [i * 10 for i in indices]

    assert [b.tolist() for b in DataLoader(Batched(5), batch_size=2)] == [[0, 10], [20, 30], [40]]


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]
    assert len(DataLoader(Stream(7, length=7), batch_size=3)) == 3
    assert len(DataLoader(Stream(7, length=7), batch_size=3, drop_last=True)) == 2
    dl = DataLoader(Stream(5, length=3), batch_size=1)
    len(dl)
    with pytest.warns(UserWarning, match="was reported to be 3"):
        list(dl)
    assert len(list(DataLoader(Stream(2), shuffle=False))) == 2
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(2), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(2), sampler=[0])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(Stream(2), batch_sampler=[[0]])


@pytest.mark.parametrize("kwargs,msg", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(num_workers=1, prefetch_factor=-1), "prefetch_factor option should be non-negative"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(sampler=[0], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler=[[0]], drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context can only be used with multi-process"),
    (dict(num_workers=1, multiprocessing_context="nonsense"), "should specify a valid start method"),
])
def test_argument_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        DataLoader(DS, **kwargs)


def test_misc_arguments():
    with pytest.raises(TypeError, match="valid context object"):
        DataLoader(DS, num_workers=1, multiprocessing_context=3)
    dl = DataLoader(DS, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 3
    with pytest.warns(UserWarning, match="pin_memory"):
        dl = DataLoader(DS, pin_memory=True)
    assert len(list(dl)) == N
    with pytest.raises(NotImplementedError, match="cannot be pickled"):
        import pickle
        pickle.dumps(iter(DataLoader(DS)))


# ---------------------------------------------------------------------------------------------- workers
def test_workers_match_single_process_and_shut_down():
    ref = labels(DataLoader(DS, batch_size=3))
    dl = DataLoader(DS, batch_size=3, num_workers=2)
    it = iter(dl)
    assert len(it) == 4
    assert [b[1].tolist() for b in it] == ref
    assert all(not w.is_alive() for w in it._workers)  # the end of the epoch stops the workers
    out = list(DataLoader(DS, batch_size=3, num_workers=2, in_order=False))
    assert sorted(sum((b[1].tolist() for b in out), [])) == list(range(N))
    # stopping early and dropping the iterator shuts the workers down too
    it = iter(DataLoader(DS, batch_size=1, num_workers=2))
    next(it)
    workers = it._workers
    del it
    assert all(not w.is_alive() for w in workers)


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    g = ember.Generator().manual_seed(123)
    dl = DataLoader(WhoAmI(), batch_size=None, num_workers=2, worker_init_fn=_init, generator=g)
    rows = list(dl)
    assert [r["i"].item() if hasattr(r["i"], "item") else r["i"] for r in rows] == list(range(8))
    pids = {r["worker"]: r["pid"] for r in rows}
    assert set(pids) == {0, 1} and os.getpid() not in pids.values() and pids[0] != pids[1]
    seeds = {r["worker"]: r["seed"] for r in rows}
    assert seeds[1] == seeds[0] + 1
    assert all(r["init"] == r["worker"] for r in rows)
    # numpy and ember streams differ between workers (each is seeded from its own seed)
    first = {r["worker"]: (r["np"], r["ember"]) for r in rows[:2]}
    assert first[0][0] != first[1][0] and first[0][1] != first[1][1]
    # the loader's generator fixes the workers' base seed
    rows2 = list(DataLoader(WhoAmI(), batch_size=None, num_workers=2, generator=ember.Generator().manual_seed(123)))
    assert [r["seed"] for r in rows2] == [r["seed"] for r in rows]
    assert [r["np"] for r in rows2] == [r["np"] for r in rows]


def test_iterable_dataset_sharded_across_workers():
    out = [b.tolist() for b in DataLoader(Stream(11), batch_size=2, num_workers=2)]
    assert sorted(sum(out, [])) == list(range(11))
    # batches alternate between workers: worker 0 has the even items, worker 1 the odd ones
    assert out[0] == [0, 2] and out[1] == [1, 3]


def test_prefetch_factor_bounds_tasks_in_flight():
    it = iter(DataLoader(Range(40), batch_size=2, num_workers=2, prefetch_factor=3))
    assert it._tasks_outstanding == 6 and it._send_idx == 6
    assert next(it).tolist() == [0, 1]
    assert it._tasks_outstanding <= 6
    assert [b.tolist() for b in it][-1] == [38, 39]


def test_persistent_workers():
    dl = DataLoader(WhoAmI(), batch_size=4, num_workers=2, persistent_workers=True)
    e1 = list(dl)
    e2 = list(dl)
    assert [b["i"].tolist() for b in e1] == [b["i"].tolist() for b in e2] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert {p for b in e1 for p in b["pid"].tolist()} == {p for b in e2 for p in b["pid"].tolist()}
    it = iter(dl)
    next(it)  # abandon this epoch part way: its stale results must not leak into the next
    assert [b["i"].tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    workers = dl._iterator._workers
    assert all(w.is_alive() for w in workers)
    dl._iterator._shutdown_workers()
    assert all(not w.is_alive() for w in workers)
    # an IterableDataset restarts in every worker at each epoch
    stream = DataLoader(Stream(7), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        assert sorted(sum((b.tolist() for b in stream), [])) == list(range(7))
    stream._iterator._shutdown_workers()


def test_worker_errors_are_reraised_with_the_worker_traceback():
    with pytest.raises(ValueError) as info:
        list(DataLoader(Failing(ValueError("bad sample")), batch_size=2, num_workers=2))
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in msg
    assert "__getitem__" in msg and "bad sample" in msg
    with pytest.raises(KeyError, match="in DataLoader worker process"):
        list(DataLoader(Failing(KeyError("k")), num_workers=1))
    # an exception type that cannot be rebuilt from a message comes back as RuntimeError
    with pytest.raises(RuntimeError, match="Caught TwoArgError"):
        list(DataLoader(Failing(TwoArgError(1, 2)), num_workers=1))
    with pytest.raises(ZeroDivisionError, match="in DataLoader worker process 0"):
        list(DataLoader(Range(3), num_workers=1, worker_init_fn=lambda wid: 1 / 0))
    with pytest.raises(Exception, match="while sending a batch"):
        list(DataLoader(Unpicklable(), batch_size=None, num_workers=1))


def test_timeout_and_crashed_worker():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Crash(), num_workers=1))


def test_spawn_context():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dl = DataLoader(DS, batch_size=4, num_workers=1, multiprocessing_context="spawn")
        assert labels(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
