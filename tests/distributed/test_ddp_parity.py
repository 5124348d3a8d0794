"""DistributedDataParallel on 2 ranks: each rank trains on half of every batch and must follow, to 1e-10 in
float64, one process that trains on the full batch (SGD, Adam; BatchNorm buffers; unused parameters; tiny and
large buckets; no_sync accumulation; gradient_as_bucket_view), plus state_dict keys and the error PyTorch raises
when a parameter gets no gradient.

pytest runs this file as the worker of one 2-rank job (all cases in one launch, to keep the wall time short on
a 2-core machine); run as a script, it is that worker.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

STEPS = 4
BATCH = 8  # full batch; each rank gets BATCH // 2
TOL = 1e-10


# ---------------------------------------------------------------------------------------------- the worker

def _worker(out_path):
    import ember
    import ember.distributed as dist
    from ember import nn
    from ember.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert world == 2, world
    ember.set_default_dtype(ember.float64)
    results = {}

    def batch(step, n=BATCH, features=6, classes=3):
        g = ember.Generator().manual_seed(1000 + step)
        x = ember.randn(n, features, generator=g, dtype=ember.float64)
        y = ember.randint(0, classes, (n,), generator=g)
        return x, y

    def half(t, r):
        h = t.shape[0] // 2
        return t[r * h:(r + 1) * h]

    class MLP(nn.Module):
        def __init__(self, bn=False, extra=False):
            super().__init__()
            self.fc1 = nn.Linear(6, 16)
            self.bn = nn.BatchNorm1d(16) if bn else None
            self.fc2 = nn.Linear(16, 8)
            self.fc3 = nn.Linear(8, 3)
            # extra: used only when forward is asked to (locally unused on some ranks)
            self.side = nn.Linear(6, 3) if extra else None
            # never used by forward: globally unused
            self.ghost = nn.Linear(4, 4) if extra else None

        def forward(self, x, use_side=False):
            h = self.fc1(x)
            if self.bn is not None:
                h = self.bn(h)
            h = self.fc2(ember.tanh(h)).relu()
            out = self.fc3(h)
            if use_side:
                out = out + self.side(x)
            return out

    def build(seed, **kw):
        ember.manual_seed(seed)
        return MLP(**kw)

    def make_opt(name, params):
        if name == "sgd":
            return ember.optim.SGD(params, lr=0.1, momentum=0.9)
        return ember.optim.Adam(params, lr=0.01)

    def maxdiff(a_mod, b_mod, buffers=False):
        d = 0.0
        pa = dict(a_mod.named_parameters())
        for n, p in b_mod.named_parameters():
            d = max(d, float((pa[n] - p).abs().max()))
        if buffers:
            ba = dict(a_mod.named_buffers())
            for n, b in b_mod.named_buffers():
                d = max(d, float((ba[n] - b).abs().max()))
        return d

    loss_fn = nn.CrossEntropyLoss()

    def case(name, fn):
        try:
            results[name] = fn()
        except Exception as e:  # reported per case; the pytest side asserts
            results[name] = "error: %s: %s" % (type(e).__name__, e)
        dist.barrier()

    # ---- plain parity: SGD / Adam, default, tiny and large buckets, gradient_as_bucket_view
    def parity(opt_name, **ddp_kw):
        def run():
            ref = build(100)
            model = DDP(build(100 + rank), **ddp_kw)  # different init per rank: construction broadcasts rank 0's
            d0 = maxdiff(ref, model.module)
            o_ref, o = make_opt(opt_name, ref.parameters()), make_opt(opt_name, model.parameters())
            worst = d0
            for step in range(STEPS):
                x, y = batch(step)
                o_ref.zero_grad()
                loss_fn(ref(x), y).backward()
                o_ref.step()
                o.zero_grad()
                loss_fn(model(half(x, rank)), half(y, rank)).backward()
                o.step()
                worst = max(worst, maxdiff(ref, model.module))
            return {"diff": worst, "buckets": len(model._buckets)}
        return run

    case("sgd_default", parity("sgd"))
    case("adam_default", parity("adam"))
    case("sgd_tiny_buckets", parity("sgd", bucket_cap_mb=0.0001))
    case("adam_tiny_buckets", parity("adam", bucket_cap_mb=0.0001))
    case("sgd_large_buckets", parity("sgd", bucket_cap_mb=1000))
    case("sgd_grad_as_bucket_view", parity("sgd", bucket_cap_mb=0.0005, gradient_as_bucket_view=True))

    # ---- BatchNorm: the reference runs the two halves separately (each rank normalises its own half) with the
    # loss averaged; running statistics follow rank 0's half (broadcast from rank 0 before each forward)
    def batchnorm(opt_name):
        def run():
            ref = build(200, bn=True)
            model = DDP(build(200 + rank, bn=True), bucket_cap_mb=0.0002)
            o_ref, o = make_opt(opt_name, ref.parameters()), make_opt(opt_name, model.parameters())
            worst = 0.0
            for step in range(STEPS):
                x, y = batch(step)
                o_ref.zero_grad()
                # each half's backward before the next forward (which updates the statistics backward reads)
                (loss_fn(ref(half(x, 0)), half(y, 0)) / 2).backward()
                kept = {n: b.clone() for n, b in ref.named_buffers()}
                (loss_fn(ref(half(x, 1)), half(y, 1)) / 2).backward()
                with ember.no_grad():
                    for n, b in ref.named_buffers():
                        b.copy_(kept[n])  # only rank 0's statistics survive the next broadcast
                o_ref.step()
                o.zero_grad()
                loss_fn(model(half(x, rank)), half(y, rank)).backward()
                o.step()
                worst = max(worst, maxdiff(ref, model.module))
            # the next forward broadcasts rank 0's buffers to every rank (eval: without updating them)
            model.eval()
            with ember.no_grad():
                model(half(batch(99)[0], rank))
            worst = max(worst, maxdiff(ref, model.module, buffers=True))
            return {"diff": worst}
        return run

    case("batchnorm_sgd", batchnorm("sgd"))
    case("batchnorm_adam", batchnorm("adam"))

    def buffers_not_broadcast():
        model = DDP(build(300 + rank, bn=True), broadcast_buffers=False)
        model(half(batch(0)[0], rank))  # each rank's own statistics
        mean = model.module.bn.running_mean.clone()
        gathered = [ember.zeros_like(mean) for _ in range(world)]
        dist.all_gather(gathered, mean)
        return {"differ": bool(float((gathered[0] - gathered[1]).abs().max()) > 0)}

    case("broadcast_buffers_false", buffers_not_broadcast)

    def no_init_sync():
        kept = DDP(build(310 + rank), init_sync=False)  # each rank keeps its own initial parameters
        w = kept.module.fc1.weight.detach().clone()
        gathered = [ember.zeros_like(w) for _ in range(world)]
        dist.all_gather(gathered, w)
        synced = DDP(build(310 + rank))
        w = synced.module.fc1.weight.detach().clone()
        gathered2 = [ember.zeros_like(w) for _ in range(world)]
        dist.all_gather(gathered2, w)
        return {"kept_differ": bool(float((gathered[0] - gathered[1]).abs().max()) > 0),
                "synced_equal": float((gathered2[0] - gathered2[1]).abs().max()) == 0}

    case("init_sync", no_init_sync)

    # ---- unused parameters: side is used on rank 1 only, ghost nowhere
    def unused(opt_name, **kw):
        def run():
            ref = build(400, extra=True)
            model = DDP(build(400 + rank, extra=True), find_unused_parameters=True, **kw)
            o_ref, o = make_opt(opt_name, ref.parameters()), make_opt(opt_name, model.parameters())
            worst = 0.0
            for step in range(STEPS):
                x, y = batch(step)
                o_ref.zero_grad()
                l0 = loss_fn(ref(half(x, 0)), half(y, 0))
                l1 = loss_fn(ref(half(x, 1), use_side=True), half(y, 1))
                ((l0 + l1) / 2).backward()
                o_ref.step()
                o.zero_grad()
                loss_fn(model(half(x, rank), use_side=rank == 1), half(y, rank)).backward()
                o.step()
                worst = max(worst, maxdiff(ref, model.module))
            return {"diff": worst, "ghost_grad_none": model.module.ghost.weight.grad is None,
                    "side_grad_set": model.module.side.weight.grad is not None}
        return run

    case("unused_sgd", unused("sgd"))
    case("unused_adam_tiny_buckets", unused("adam", bucket_cap_mb=0.0001))
    case("unused_static_graph", unused("sgd", static_graph=True))

    # ---- no_sync: two micro-batches per step, the first accumulated locally
    def no_sync(opt_name, **kw):
        def run():
            ref = build(500)
            model = DDP(build(500 + rank), **kw)
            o_ref, o = make_opt(opt_name, ref.parameters()), make_opt(opt_name, model.parameters())
            worst = 0.0
            for step in range(STEPS):
                xa, ya = batch(2 * step)
                xb, yb = batch(2 * step + 1)
                o_ref.zero_grad()
                loss_fn(ref(xa), ya).backward()
                loss_fn(ref(xb), yb).backward()
                o_ref.step()
                o.zero_grad()
                with model.no_sync():
                    loss_fn(model(half(xa, rank)), half(ya, rank)).backward()
                local = [p.grad.clone() for p in model.parameters()]
                loss_fn(model(half(xb, rank)), half(yb, rank)).backward()
                o.step()
                worst = max(worst, maxdiff(ref, model.module))
            # inside no_sync the gradients were the local ones: they differ across ranks
            gathered = [ember.zeros_like(local[0]) for _ in range(world)]
            dist.all_gather(gathered, local[0])
            return {"diff": worst, "local_differ": bool(float((gathered[0] - gathered[1]).abs().max()) > 0)}
        return run

    case("no_sync_sgd", no_sync("sgd"))
    case("no_sync_adam_tiny_buckets", no_sync("adam", bucket_cap_mb=0.0001))

    # ---- state_dict
    def state_dict():
        inner = build(600)
        model = DDP(inner)
        keys = list(model.state_dict())
        expect = ["module." + k for k in inner.state_dict()]
        fresh = DDP(build(601))
        fresh.load_state_dict(model.state_dict())
        return {"keys_ok": keys == expect, "module_is_inner": model.module is inner,
                "load_diff": maxdiff(fresh.module, inner)}

    case("state_dict", state_dict)

    # ---- construction errors (raised on every rank: the model check is itself a collective)
    def construction_errors():
        msgs = {}
        frozen = build(800)
        for p in frozen.parameters():
            p.requires_grad_(False)
        try:
            DDP(frozen)
        except RuntimeError as e:
            msgs["frozen"] = str(e)
        try:
            DDP(build(801, bn=rank == 1))  # rank 1 has two more parameters
        except RuntimeError as e:
            msgs["mismatch"] = str(e)
        try:
            DDP(build(802), bucket_cap_mb=0)
        except ValueError as e:
            msgs["cap"] = str(e)
        return {"ok": ("any parameter that requires a gradient" in msgs.get("frozen", "")
                       and "different models" in msgs.get("mismatch", "") and "bucket_cap_mb" in msgs.get("cap", ""))}

    case("construction_errors", construction_errors)

    # ---- a parameter without a gradient and find_unused_parameters=False: the next forward raises
    # (last: the wrapper is left unfinished, as in PyTorch)
    def missing_grad():
        model = DDP(build(700, extra=True))
        x, y = batch(0)
        loss_fn(model(half(x, rank)), half(y, rank)).backward()
        try:
            model(half(x, rank))
        except RuntimeError as e:
            return {"message": str(e)}
        return {"message": None}

    case("missing_grad_error", missing_grad)

    with open("%s.%d" % (out_path, rank), "w") as f:
        json.dump(results, f, indent=1)
    dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------- pytest side

def _launch_cmd(script, *args):
    from importlib.util import find_spec
    if find_spec("ember.distributed.run") is not None:
        return [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", script, *args]
    return ["mpiexec", "-n", "2", sys.executable, script, *args]


def _skip_without_mpi():
    pytest.importorskip("mpi4py")
    if shutil.which("mpiexec") is None:
        pytest.skip("mpiexec not found (pip install mpich)")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    _skip_without_mpi()
    out = str(tmp_path_factory.mktemp("ddp") / "results.json")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(_launch_cmd(os.path.abspath(__file__), out), env=env, capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, "worker failed (rc %d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:],
                                                                     proc.stderr[-4000:])
    per_rank = []
    for r in range(2):
        with open("%s.%d" % (out, r)) as f:
            per_rank.append(json.load(f))
    return per_rank


def _ok(results, name):
    """Both ranks' result dicts for a case (asserting neither raised), merged: numbers by max, flags by and."""
    rs = [per[name] for per in results]
    for r, v in enumerate(rs):
        assert not isinstance(v, str), "rank %d: %s" % (r, v)
    merged = {}
    for k in rs[0]:
        vals = [v[k] for v in rs]
        if all(isinstance(v, bool) for v in vals):
            merged[k] = all(vals)
        elif all(isinstance(v, (int, float)) for v in vals):
            merged[k] = max(vals)
        else:
            merged[k] = vals
    return merged


@pytest.mark.parametrize("name", ["sgd_default", "adam_default", "sgd_tiny_buckets", "adam_tiny_buckets",
                                  "sgd_large_buckets", "sgd_grad_as_bucket_view"])
def test_half_batches_match_full_batch(results, name):
    r = _ok(results, name)
    assert r["diff"] <= TOL, r


def test_bucket_caps_change_the_bucketing(results):
    # 104-byte buckets over 16x6, 16, 8x16, 8, 3x8, 3 float64 parameters: [0] [1] [2] [3, 4] [5]
    assert _ok(results, "sgd_tiny_buckets")["buckets"] == 5
    assert _ok(results, "sgd_large_buckets")["buckets"] == 1


@pytest.mark.parametrize("name", ["batchnorm_sgd", "batchnorm_adam"])
def test_batchnorm_buffers(results, name):
    assert _ok(results, name)["diff"] <= TOL


def test_broadcast_buffers_false_keeps_local_statistics(results):
    assert _ok(results, "broadcast_buffers_false")["differ"]


def test_init_sync(results):
    r = _ok(results, "init_sync")
    assert r["kept_differ"] and r["synced_equal"], r


@pytest.mark.parametrize("name", ["unused_sgd", "unused_adam_tiny_buckets", "unused_static_graph"])
def test_unused_parameters(results, name):
    r = _ok(results, name)
    assert r["diff"] <= TOL, r
    assert r["ghost_grad_none"] and r["side_grad_set"], r


@pytest.mark.parametrize("name", ["no_sync_sgd", "no_sync_adam_tiny_buckets"])
def test_no_sync_accumulation(results, name):
    r = _ok(results, name)
    assert r["diff"] <= TOL, r
    assert r["local_differ"], r


def test_state_dict(results):
    r = _ok(results, "state_dict")
    assert r["keys_ok"] and r["module_is_inner"] and r["load_diff"] == 0, r


def test_construction_errors(results):
    assert _ok(results, "construction_errors")["ok"]


def test_missing_gradient_raises_at_next_forward(results):
    for message in _ok(results, "missing_grad_error")["message"]:
        assert message is not None and "Expected to have finished reduction in the prior iteration" in message
        assert "find_unused_parameters=True" in message
        assert "side.weight" in message and "ghost.weight" in message


if __name__ == "__main__":
    _worker(sys.argv[1])
