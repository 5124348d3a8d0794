"""Every collective x dtype over 2 MPI ranks, in ONE launch: this file is also the worker script that
``ember-run --nproc-per-node=2`` runs (its __main__ block); each rank prints OK when all its checks passed."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.abspath(__file__)


def _launch_prereqs():
    pytest.importorskip("mpi4py")
    from ember.distributed.run import find_mpiexec
    try:
        find_mpiexec()
    except FileNotFoundError:
        pytest.skip("no mpiexec")


def test_collectives_two_ranks():
    _launch_prereqs()
    env = dict(os.environ, EMBER_DIST_TEST_WORKER="1")
    p = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node=2", HERE], env=env,
                       capture_output=True, text=True, timeout=90)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert "OK rank 0" in out and "OK rank 1" in out, out[-6000:]
    assert "checks=" in out


# ------------------------------------------------------------------------------------------------ the worker

def _worker():
    import ember
    import ember.distributed as dist
    from ember.distributed import ReduceOp

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    assert size == 2, size
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    failures = []
    count = [0]

    def check(cond, what):
        count[0] += 1
        if not cond:
            failures.append(what)

    def raises(exc, fragment, fn, what):
        count[0] += 1
        try:
            fn()
        except exc as e:
            if fragment not in str(e):
                failures.append("%s: message %r lacks %r" % (what, str(e), fragment))
            return
        except Exception as e:  # noqa: BLE001
            failures.append("%s: raised %s %s instead of %s" % (what, type(e).__name__, e, exc.__name__))
            return
        failures.append("%s: did not raise" % what)

    dtypes = {"bool": ember.bool, "uint8": ember.uint8, "int32": ember.int32, "int64": ember.int64,
              "float16": ember.float16, "bfloat16": ember.bfloat16, "float32": ember.float32,
              "float64": ember.float64}

    def data(r, name, n=6):
        base = np.arange(n, dtype=np.float64)
        if name == "bool":
            return ((base + r) % 3 == 0).astype(np.float64)
        return (base % 3) + 1 + r  # small integers: exact in every dtype, products fit uint8

    def make(vals, dt):
        return ember.tensor(vals.tolist(), dtype=dt)

    def vals(t):
        return np.asarray(t.detach().float().numpy() if t.dtype == ember.bfloat16 else t.numpy(),
                          dtype=np.float64)

    both = lambda name, n=6: [data(r, name, n) for r in range(size)]  # noqa: E731
    for name, dt in dtypes.items():
        is_bool, is_float = name == "bool", name.startswith(("float", "bfloat"))
        a, b = both(name)
        ops = {"SUM": a + b, "MAX": np.maximum(a, b), "MIN": np.minimum(a, b), "PRODUCT": a * b}
        if is_bool:
            ops["SUM"] = np.maximum(a, b)  # logical or
        else:
            ops["AVG"] = (a + b) / 2 if is_float else np.floor_divide(a + b, 2)
        if not is_float:
            ia, ib = a.astype(np.int64), b.astype(np.int64)
            ops.update(BAND=(ia & ib).astype(np.float64), BOR=(ia | ib).astype(np.float64),
                       BXOR=(ia ^ ib).astype(np.float64))
        for opname, want in ops.items():
            t = make(data(rank, name), dt)
            dist.all_reduce(t, op=getattr(ReduceOp, opname))
            check(t.dtype == dt and np.array_equal(vals(t), want), "all_reduce %s %s: %s" % (name, opname, vals(t)))
        if is_float:
            raises(RuntimeError, "BAND", lambda: dist.all_reduce(make(a, dt), op=ReduceOp.BAND), "BAND " + name)
        # broadcast from rank 1
        t = make(data(rank, name), dt)
        dist.broadcast(t, src=1)
        check(np.array_equal(vals(t), b), "broadcast " + name)
        # all_gather (list)
        outs = [ember.zeros(6, dtype=dt) for _ in range(size)]
        dist.all_gather(outs, make(data(rank, name), dt))
        check(all(np.array_equal(vals(o), w) for o, w in zip(outs, (a, b))), "all_gather " + name)
        # all_gather_into_tensor, flat and stacked
        flat = ember.zeros(12, dtype=dt)
        dist.all_gather_into_tensor(flat, make(data(rank, name), dt))
        check(np.array_equal(vals(flat), np.concatenate([a, b])), "all_gather_into_tensor flat " + name)
        stacked = ember.zeros(2, 2, 3, dtype=dt)
        dist.all_gather_into_tensor(stacked, make(data(rank, name), dt).reshape(2, 3))
        check(np.array_equal(vals(stacked).ravel(), np.concatenate([a, b])), "all_gather_into_tensor 3d " + name)
        # reduce_scatter_tensor: input 12 = two chunks of 6
        inp = make(np.concatenate([data(rank, name), data(rank, name) * (0 if is_bool else 2)]), dt)
        out = ember.zeros(6, dtype=dt)
        dist.reduce_scatter_tensor(out, inp, op=ReduceOp.MAX)
        want = np.maximum(a, b) if rank == 0 else np.maximum(a, b) * (0 if is_bool else 2)
        check(np.array_equal(vals(out), want), "reduce_scatter_tensor %s %s" % (name, vals(out)))
        # reduce to rank 1
        t = make(data(rank, name), dt)
        dist.reduce(t, dst=1, op=ReduceOp.MAX)
        check(np.array_equal(vals(t), np.maximum(a, b) if rank == 1 else a), "reduce " + name)
        # gather to rank 0
        t = make(data(rank, name), dt)
        gl = [ember.zeros(6, dtype=dt) for _ in range(size)] if rank == 0 else None
        dist.gather(t, gl, dst=0)
        if rank == 0:
            check(np.array_equal(vals(gl[0]), a) and np.array_equal(vals(gl[1]), b), "gather " + name)
        # scatter from rank 1
        t = ember.zeros(6, dtype=dt)
        sl = [make(data(0, name), dt), make(data(1, name), dt)] if rank == 1 else None
        dist.scatter(t, sl, src=1)
        check(np.array_equal(vals(t), (a, b)[rank]), "scatter " + name)
        # send / recv
        if rank == 0:
            dist.send(make(a, dt), dst=1, tag=3)
        else:
            t = ember.zeros(6, dtype=dt)
            src = dist.recv(t, src=None, tag=3)
            check(src == 0 and np.array_equal(vals(t), a), "send/recv " + name)
        # all_to_all_single, even and uneven splits
        t = make(data(rank, name), dt)
        out = ember.zeros(6, dtype=dt)
        dist.all_to_all_single(out, t)
        want = np.concatenate([a[:3], b[:3]]) if rank == 0 else np.concatenate([a[3:], b[3:]])
        check(np.array_equal(vals(out), want), "all_to_all_single " + name)
        # non-contiguous (transposed) tensors are updated in place, through their base
        base = make(data(rank, name, 6), dt).reshape(2, 3)
        view = base.t()
        dist.all_reduce(view, op=ReduceOp.MAX)
        check(not view.is_contiguous() and np.array_equal(vals(base).ravel(), np.maximum(a, b)),
              "non-contiguous all_reduce " + name)
        base = make(data(rank, name, 6), dt).reshape(2, 3)
        dist.broadcast(base.t(), src=1)
        check(np.array_equal(vals(base).ravel(), b), "non-contiguous broadcast " + name)
        # 0-d
        z = make(np.array(data(rank, name)[1]), dt)
        dist.all_reduce(z, op=ReduceOp.MAX)
        check(z.dim() == 0 and vals(z) == max(a[1], b[1]), "0-d all_reduce %s %s" % (name, vals(z)))
        z = make(np.array(data(rank, name)[2]), dt)
        dist.broadcast(z, src=0)
        check(z.dim() == 0 and vals(z) == a[2], "0-d broadcast " + name)

    # async work: several in flight, then waited
    ts = [ember.ones(1000) * (rank + 1) for _ in range(3)]
    works = [dist.all_reduce(t, async_op=True) for t in ts]
    check(all(w is not None for w in works), "async returns Work")
    for w in works:
        w.wait()
        check(w.is_completed(), "is_completed after wait")
    check(all(float(t.sum()) == 3000 for t in ts), "async all_reduce values")
    t = ember.full((4,), float(rank))
    w = dist.broadcast(t, src=0, async_op=True)
    while not w.is_completed():
        pass
    check(float(t.sum()) == 0 and w.result()[0] is t, "async broadcast polled with is_completed")
    w = dist.barrier(async_op=True)
    w.wait()
    if rank == 0:
        w = dist.isend(ember.arange(5.0), dst=1)
    else:
        r = ember.zeros(5)
        w = dist.irecv(r, src=0)
    w.wait()
    if rank == 1:
        check(r.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and w.source_rank() == 0, "isend/irecv")
    # a Work dropped before completion still completes (and writes back) at a later op
    base = ember.ones(4, 2) * (rank + 1)
    dist.all_reduce(base.t(), async_op=True)  # non-contiguous: result written back when completed
    import gc
    gc.collect()
    dist.barrier()
    dist.all_reduce(ember.ones(1))
    check(base.sum().item() == 24.0, "dropped async Work completed: %s" % base.sum().item())
    # requires_grad tensors (parameters) broadcast in place
    p = ember.ones(3, requires_grad=True) * 1.0
    p = p.detach().requires_grad_(True)
    with ember.no_grad():
        p.mul_(rank + 1)
    dist.broadcast(p, src=1)
    check(p.detach().tolist() == [2.0, 2.0, 2.0], "broadcast of a requires_grad tensor")
    # group_src / group_dst, barrier timeouts, LOCAL_RANK
    t = ember.full((2,), float(rank))
    dist.broadcast(t, group_src=1)
    check(t.tolist() == [1.0, 1.0], "broadcast group_src")
    raises(ValueError, "not both", lambda: dist.broadcast(t, src=1, group_src=1), "src and group_src")
    t = ember.ones(2)
    dist.reduce(t, group_dst=0)
    check(t.tolist() == ([2.0, 2.0] if rank == 0 else [1.0, 1.0]), "reduce group_dst")
    from datetime import timedelta
    dist.barrier(timeout=timedelta(seconds=30))
    dist.monitored_barrier(timeout=timedelta(seconds=30), wait_all_ranks=True)
    check(dist.get_node_local_rank() == rank, "get_node_local_rank")
    # groups
    g = dist.new_group([1])
    if rank == 1:
        check(dist.get_rank(g) == 0 and dist.get_world_size(g) == 1, "new_group member")
        t = ember.ones(2)
        dist.all_reduce(t, group=g)
        check(t.tolist() == [1.0, 1.0], "all_reduce in a 1-rank group")
    else:
        check(g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1, "new_group non-member")
    g2 = dist.new_group([0, 1])
    t = ember.ones(2) * (rank + 1)
    dist.all_reduce(t, group=g2)
    check(t.tolist() == [3.0, 3.0] and dist.get_process_group_ranks(g2) == [0, 1], "new_group of all")
    check(dist.group.WORLD is dist.get_default_group(), "group.WORLD")
    # object collectives
    objs = [None, None]
    dist.all_gather_object(objs, {"rank": rank})
    check(objs == [{"rank": 0}, {"rank": 1}], "all_gather_object")
    lst = [rank, "x"] if rank == 0 else [None, None]
    dist.broadcast_object_list(lst, src=0)
    check(lst == [0, "x"], "broadcast_object_list")
    # bad input
    raises(ValueError, "world_size (2)", lambda: dist.all_gather_into_tensor(ember.zeros(5), ember.zeros(3)),
           "all_gather_into_tensor shape")
    raises(TypeError, "dtype", lambda: dist.all_gather_into_tensor(ember.zeros(6, dtype=ember.float64),
                                                                    ember.zeros(3)), "all_gather_into_tensor dtype")
    raises(ValueError, "world_size (2)", lambda: dist.reduce_scatter_tensor(ember.zeros(3), ember.zeros(7)),
           "reduce_scatter_tensor shape")
    raises(ValueError, "dst rank 2 is out of range", lambda: dist.reduce(ember.zeros(2), dst=2), "reduce dst")
    raises(ValueError, "src rank 5 is out of range", lambda: dist.broadcast(ember.zeros(2), src=5), "broadcast src")
    raises(ValueError, "same as the rank", lambda: dist.send(ember.zeros(2), dst=rank), "send to self")
    raises(ValueError, "has 1 tensors, the group has 2", lambda: dist.all_gather([ember.zeros(2)], ember.zeros(2)),
           "all_gather list length")
    raises(ValueError, "does not match", lambda: dist.all_gather([ember.zeros(2), ember.zeros(3)], ember.zeros(2)),
           "all_gather list shapes")
    raises(TypeError, "ReduceOp", lambda: dist.all_reduce(ember.zeros(2), op="sum"), "op type")
    raises(TypeError, "ember.Tensor", lambda: dist.all_reduce(np.zeros(2)), "numpy input")
    raises(RuntimeError, "bool", lambda: dist.all_reduce(ember.zeros(2, dtype=ember.bool), op=ReduceOp.AVG),
           "AVG bool")
    raises(ValueError, "must NOT be specified", lambda: dist.gather(ember.zeros(2), [ember.zeros(2)] * 2, dst=1 - rank)
           if True else None, "gather_list on non-dst")
    raises(ValueError, "twice", lambda: dist.init_process_group("mpi"), "init twice")
    dist.barrier()
    dist.destroy_process_group()
    check(not dist.is_initialized(), "destroyed")
    raises(ValueError, "Default process group has not been initialized",
           lambda: dist.all_reduce(ember.zeros(1)), "use after destroy")
    # a second init after destroy works
    dist.init_process_group("mpi")
    t = ember.ones(1)
    dist.all_reduce(t)
    check(t.item() == 2.0 and dist.get_backend() == "mpi", "re-init after destroy")
    dist.destroy_process_group()
    if failures:
        print("FAIL rank %d:\n  %s" % (rank, "\n  ".join(failures)), flush=True)
        sys.exit(1)
    print("OK rank %d checks=%d" % (rank, count[0]), flush=True)


if __name__ == "__main__" and os.environ.get("EMBER_DIST_TEST_WORKER"):
    _worker()
