"""DistributedDataParallel step time: 2 ranks vs 1 process on the same per-rank batch.

The model is the MLP 784-512-512-10 with SGD (momentum 0.9) and cross-entropy, batch 64 per rank, float32.
Three runs, each with one thread per process (OMP_NUM_THREADS=1 and ember.set_num_threads(1), so two ranks on
a 2-core machine are compared fairly with one process on one core):

    plain   one process, the bare model (no DDP)
    ddp x1  one rank through the launcher, wrapped in DistributedDataParallel (bucketing/hook overhead)
    ddp x2  two ranks through the launcher: gradients (2.6 MiB) all-reduced during backward

A step is zero_grad + forward + loss + backward (+ reduction) + optimizer step. Reported: the median step
time over the timed steps (the slower rank for ddp x2), the ratio to plain (target <= 1.3x), and for DDP the
time per step spent waiting for reductions after the last gradient (what overlap did not hide).

    python bench/bench_ddp.py [--steps 200] [--repeats 3] [--bucket-cap-mb MB]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODEL = (784, 512, 512, 10)
BATCH = 64


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def _worker(args):
    import ember
    from ember import nn
    ember.set_num_threads(1)
    dist = None
    rank = 0
    model = None
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(MODEL[0], MODEL[1]), nn.ReLU(), nn.Linear(MODEL[1], MODEL[2]), nn.ReLU(),
                        nn.Linear(MODEL[2], MODEL[3]))
    waits = []
    if args.mode == "ddp":
        import ember.distributed as dist
        from ember.nn.parallel import DistributedDataParallel as DDP
        from ember.nn.parallel import distributed as ddp_impl
        dist.init_process_group("mpi")
        rank = dist.get_rank()
        model = DDP(net, bucket_cap_mb=args.bucket_cap_mb)
        finalize = ddp_impl.DistributedDataParallel._finalize

        def timed_finalize(self):
            t = time.perf_counter()
            finalize(self)
            waits.append(time.perf_counter() - t)
        ddp_impl.DistributedDataParallel._finalize = timed_finalize
    else:
        model = net
    opt = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    g = ember.Generator().manual_seed(1 + rank)
    xs = [ember.randn(BATCH, MODEL[0], generator=g) for _ in range(8)]
    ys = [ember.randint(0, MODEL[3], (BATCH,), generator=g) for _ in range(8)]

    def step(i):
        opt.zero_grad()
        loss_fn(model(xs[i % 8]), ys[i % 8]).backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    if dist is not None:
        dist.barrier()
    del waits[:]
    times = []
    for i in range(args.steps):
        t = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - t)
    result = {"median": statistics.median(times), "mean": statistics.fmean(times),
              "wait": statistics.median(waits) if waits else None,
              "buckets": len(model._buckets) if dist is not None else None}
    if dist is not None:
        world = dist.get_world_size()
        gathered = [None] * world
        dist.all_gather_object(gathered, result)
        dist.destroy_process_group()
        if rank != 0:
            return
        result = {"median": max(r["median"] for r in gathered), "mean": max(r["mean"] for r in gathered),
                  "wait": max(r["wait"] for r in gathered), "buckets": gathered[0]["buckets"], "world": world}
    with open(args.out, "w") as f:
        json.dump(result, f)


def _run(cmd, out):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit("bench_ddp: %s failed:\n%s\n%s" % (" ".join(cmd), proc.stdout[-3000:], proc.stderr[-3000:]))
    with open(out) as f:
        return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--bucket-cap-mb", type=float, default=None, help="default: DDP's (25, first bucket 1)")
    p.add_argument("--repeats", type=int, default=3, help="run each configuration this many times, keep the best")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="plain", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args)
        return
    me = os.path.abspath(__file__)
    common = ["--worker", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if args.bucket_cap_mb is not None:
        common += ["--bucket-cap-mb", str(args.bucket_cap_mb)]
    launch = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node"]
    print("CPU: %s, %d cores visible; one thread per process" % (_cpu_model(), os.cpu_count() or 0))
    print("MLP %s, SGD momentum, batch %d per rank, float32, %d timed steps after %d warm-up"
          % ("-".join(map(str, MODEL)), BATCH, args.steps, args.warmup))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        configs = [("plain", [sys.executable, me, *common, "--mode", "plain", "--out", out]),
                   ("ddp x1", launch + ["1", me, *common, "--mode", "ddp", "--out", out]),
                   ("ddp x2", launch + ["2", me, *common, "--mode", "ddp", "--out", out])]
        res = {}
        for _ in range(args.repeats):
            for name, cmd in configs:
                r = _run(cmd, out)
                if name not in res or r["median"] < res[name]["median"]:
                    res[name] = r
    base = res["plain"]["median"]
    for name, _ in configs:
        r = res[name]
        extra = ""
        if r.get("wait") is not None:
            extra = "  (%d bucket%s; waiting after backward %.3f ms/step)" % (
                r["buckets"], "" if r["buckets"] == 1 else "s", r["wait"] * 1e3)
        print("%-7s %8.3f ms/step  %5.2fx%s" % (name, r["median"] * 1e3, r["median"] / base, extra))
    ratio = res["ddp x2"]["median"] / base
    print("2-rank DDP step / 1-process step: %.2fx (target <= 1.3x): %s" % (ratio, "ok" if ratio <= 1.3 else "OVER"))


if __name__ == "__main__":
    main()
