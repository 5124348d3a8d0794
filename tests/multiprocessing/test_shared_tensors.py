"""Tensor.share_memory_ / is_shared / Module.share_memory, and shared tensors through queues, pipes and
process arguments: a write in the child must be seen by the parent (same memory, not a copy)."""
import gc
import os
import pickle

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from ember import _C, nn
from _mp_guard import hard_timeout, block_fds, shm_entries  # noqa: F401

T = 60  # seconds for any join / get

DTYPES = [ember.float32, ember.float64, ember.float16, ember.bfloat16, ember.int64, ember.int32, ember.uint8,
          ember.bool]


def _sample(dtype, shape=(3, 4)):
    if dtype is ember.bool:
        return ember.rand(*shape) > 0.5
    if dtype.is_floating_point:
        return ember.randn(*shape).to(dtype)
    return ember.randint(0, 100, shape).to(dtype)


# ------------------------------------------------------------------------------------- in one process

def test_share_memory_keeps_object_version_and_values():
    x = ember.randn(4, 5, requires_grad=True)
    before, version, oid = x.detach().clone(), x._version, id(x)
    assert not x.is_shared()
    assert x.share_memory_() is x
    assert x.is_shared() and id(x) == oid and x._version == version
    assert x.requires_grad and x.is_leaf
    assert ember.equal(x.detach(), before)
    sid = _C.storage_id(x)
    x.share_memory_()  # already shared: nothing moves
    assert _C.storage_id(x) == sid
    (x * 2).sum().backward()  # autograd still works on the moved leaf
    assert ember.equal(x.grad, ember.full((4, 5), 2.0))


def test_views_after_sharing_are_shared_and_version_counter_is_common():
    x = ember.arange(12.).reshape(3, 4).share_memory_()
    v = x[:, 1:3]
    assert v.is_shared() and x.t().is_shared()
    v0 = x._version
    v.mul_(10)
    assert x._version == v._version == v0 + 1
    assert x[0].tolist() == [0.0, 10.0, 20.0, 3.0]


def test_share_memory_of_a_view_keeps_its_geometry():
    base = ember.arange(24.).reshape(4, 6)
    v = base[1:, ::2].t()
    expect, stride, offset = v.clone(), v.stride(), v.storage_offset()
    v.share_memory_()
    assert v.is_shared() and not base.is_shared()
    assert v.shape == (3, 3) and v.stride() == stride and v.storage_offset() == offset
    assert ember.equal(v, expect)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_share_memory_every_dtype(dtype):
    x = _sample(dtype)
    ref = x.clone()
    x.share_memory_()
    assert x.is_shared() and x.dtype is dtype and ember.equal(x, ref)


def test_zero_size_and_0d():
    z = ember.empty(0, 3).share_memory_()
    assert z.is_shared() and z.shape == (0, 3)
    s = ember.tensor(2.5).share_memory_()
    assert s.is_shared() and s.item() == 2.5 and s.dim() == 0


def test_data_assignment_keeps_the_python_object():
    x = ember.zeros(3)
    oid = id(x)
    x.data = ember.ones(5)
    assert id(x) == oid and x.tolist() == [1.0] * 5


def test_module_share_memory_params_grads_buffers():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m(ember.randn(5, 3)).sum().backward()
    params = list(m.parameters())
    assert m.share_memory() is m
    assert list(m.parameters()) == params  # same Parameter objects (optimizers stay valid)
    assert all(p.is_shared() and p.grad.is_shared() for p in params)
    assert all(b.is_shared() for b in m.buffers())


def test_block_freed_with_last_tensor():
    gc.collect()
    fds = block_fds()
    x = ember.randn(100).share_memory_()
    assert block_fds() == fds + 1
    y = x[10:]
    del x
    gc.collect()
    assert block_fds() == fds + 1 and y.is_shared()  # a view keeps the block alive
    del y
    gc.collect()
    assert block_fds() == fds
    assert shm_entries() == []


def test_plain_pickle_is_by_value():
    x = ember.randn(3).share_memory_()
    y = pickle.loads(pickle.dumps(x))
    assert not y.is_shared() and ember.equal(x, y)


def test_non_leaf_requiring_grad_is_refused():
    x = ember.randn(3, requires_grad=True).share_memory_()
    q = mp.get_context("fork").SimpleQueue()
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        q.put(x * 2)


# ------------------------------------------------------------------------------------- across processes

def _add_one_and_echo(q_in, q_out):
    items = q_in.get()
    for t in items:
        if t.dtype is ember.bool:
            t.logical_not_()
        else:
            t.add_(1)
    q_out.put([(t.is_shared(), tuple(t.shape), t.stride(), str(t.dtype)) for t in items])


def _through_child(items, method="fork"):
    """Sends items to a child that adds 1 to (or negates) each in place; returns what it saw of them."""
    ctx = mp.get_context(method)
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_add_one_and_echo, args=(q_in, q_out))
    p.start()
    q_in.put(items)
    info = q_out.get(timeout=T)
    p.join(T)
    assert p.exitcode == 0
    for q in (q_in, q_out):
        q.close()
        q.join_thread()
    return info


def _expected_after(ref):
    return ~ref if ref.dtype is ember.bool else ref + 1


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_queue_every_dtype_child_write_seen(method):
    xs = [_sample(dt).share_memory_() for dt in DTYPES]
    refs = [x.clone() for x in xs]
    info = _through_child(xs, method)
    for x, ref, (shared, shape, stride, dt) in zip(xs, refs, info):
        assert shared and shape == tuple(x.shape) and stride == x.stride() and dt == str(x.dtype)
        assert ember.equal(x, _expected_after(ref)), x.dtype


def test_unshared_tensor_is_copied():
    x = ember.zeros(4)
    (shared, _, _, _), = _through_child([x])
    assert not shared and x.tolist() == [0.0] * 4


def test_non_contiguous_views_and_zero_size_through_a_queue():
    base = ember.zeros(4, 6).share_memory_()
    views = [base[:, ::2], base.t()[1:3], base[2], ember.empty(0, 5).share_memory_()]
    info = _through_child(views)
    assert all(s for s, _, _, _ in info)
    assert info[0][1:3] == ((4, 3), (6, 2)) and info[1][1:3] == ((2, 4), (1, 6)) and info[3][1] == (0, 5)
    expect = np.zeros((4, 6), np.float32)
    expect[:, ::2] += 1
    expect.T[1:3] += 1
    expect[2] += 1
    np.testing.assert_array_equal(base.numpy(), expect)


def _pipe_child(conn):
    t = conn.recv()
    t[0] = 42.0
    conn.send((t, t[1:]))  # back to the parent: over the parent's own block again
    conn.recv()  # a sender must live until its descriptors are fetched
    conn.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pipe_round_trip_returns_same_memory(method):
    ctx = mp.get_context(method)
    x = ember.arange(5.).share_memory_()
    a, b = ctx.Pipe()
    p = ctx.Process(target=_pipe_child, args=(b,))
    p.start()
    a.send(x)
    assert a.poll(T)
    back, tail = a.recv()
    a.send("done")
    p.join(T)
    assert p.exitcode == 0
    assert x.tolist() == [42.0, 1.0, 2.0, 3.0, 4.0]
    assert back.is_shared() and _C.same_storage(back, x) and _C.same_storage(tail, x)
    back[4] = -1.0
    assert x[4].item() == -1.0


def _args_child(x, view, param, q):
    view.fill_(7)
    param.data.add_(1)
    q.put((_C.same_storage(x, view), isinstance(param, nn.Parameter), param.requires_grad, param.is_shared()))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_process_args_share_storage_and_parameters(method):
    ctx = mp.get_context(method)
    x = ember.zeros(6).share_memory_()
    param = nn.Parameter(ember.zeros(2, 2)).share_memory_()
    q = ctx.SimpleQueue()
    p = ctx.Process(target=_args_child, args=(x, x[2:4], param, q))
    p.start()
    p.join(T)
    assert p.exitcode == 0
    same, is_param, rg, shared = q.get()
    assert same and is_param and rg and shared
    assert x.tolist() == [0, 0, 7, 7, 0, 0] and param.tolist() == [[1, 1], [1, 1]]


def test_sender_may_drop_its_tensor_before_the_child_reads():
    ctx = mp.get_context("fork")
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_add_one_and_echo, args=(q_in, q_out))
    x = ember.arange(3.).share_memory_()
    keep = x[:]  # the parent's own view, to read the child's write afterwards
    q_in.put([x])
    del x
    gc.collect()
    p.start()
    q_out.get(timeout=T)
    p.join(T)
    assert keep.tolist() == [1.0, 2.0, 3.0]


def _square(t):
    t.mul_(t)
    return t.sum().item()


def test_pool_map_over_shared_tensors():
    xs = [ember.full((3,), float(i)).share_memory_() for i in range(4)]
    with mp.get_context("fork").Pool(2) as pool:
        sums = pool.map(_square, xs, chunksize=1)
    assert sums == [3.0 * i * i for i in range(4)]
    assert [x.tolist() for x in xs] == [[float(i * i)] * 3 for i in range(4)]


def test_no_dev_shm_leak_and_fds_released():
    gc.collect()
    fds = block_fds()
    xs = [ember.randn(8).share_memory_() for _ in range(5)]
    for method in ("fork", "spawn"):
        _through_child(xs, method)
    assert block_fds() == fds + 5
    del xs
    gc.collect()
    assert shm_entries() == []
    assert block_fds() == fds


def test_without_memfd_an_unlinked_file_serves(monkeypatch):
    monkeypatch.delattr(os, "memfd_create", raising=False)
    x = ember.arange(4.).share_memory_()
    assert x.is_shared() and shm_entries() == []  # unlinked at creation: nothing to leak
    (shared, _, _, _), = _through_child([x])
    assert shared and x.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_reexports_and_sharing_strategy():
    import multiprocessing
    assert mp.Process is multiprocessing.Process and mp.cpu_count() == multiprocessing.cpu_count()
    assert mp.get_context("spawn").get_start_method() == "spawn"
    for name in ("Queue", "SimpleQueue", "Pipe", "Pool", "Event", "Lock", "Manager", "set_start_method",
                 "get_start_method", "current_process", "spawn", "start_processes", "ProcessContext"):
        assert hasattr(mp, name), name
    assert mp.get_sharing_strategy() == "file_descriptor" in mp.get_all_sharing_strategies()
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="file_system"):
        mp.set_sharing_strategy("file_system")
