"""all_reduce bandwidth across local ranks: ember.distributed vs mpi4py alone on the same buffers.

Run: python bench/bench_distributed.py [--mib 64] [--rounds 20] [--nproc 2]. Run directly, it starts itself
through ember-run (python -m ember.distributed.run) with --nproc ranks. Each round times one ember
all_reduce (SUM, float32, in place) and one mpi4py Allreduce(IN_PLACE) of the same numpy view of the same
tensor, alternating which goes first; every timing starts after a barrier and ends when the slowest rank
finished (MAX over ranks). Reported: medians, algorithm bandwidth (bytes / time) and the ratio
mpi4py time / ember time (1.0 = ember adds nothing; the target is >= 0.8).
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

from bench_util import cpu_model


def worker(mib, rounds):
    import numpy as np

    import ember
    import ember.distributed as dist
    from mpi4py import MPI

    dist.init_process_group("mpi")
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    n = mib * (1 << 20) // 4
    t = ember.full((n,), 1.0 / size)  # the sum of 1/size stays 1: the values never overflow
    arr = t.numpy()  # the very memory ember all-reduces

    def timed(fn):
        comm.Barrier()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        return comm.allreduce(dt, op=MPI.MAX)

    def run_ember():
        dist.all_reduce(t)

    def run_mpi():
        comm.Allreduce(MPI.IN_PLACE, arr, op=MPI.SUM)

    for fn in (run_ember, run_mpi):  # warm-up (page faults, shared-memory setup)
        fn()
        arr[:] = 1.0 / size
    times = {"ember": [], "mpi4py": []}
    for r in range(rounds):
        order = [("ember", run_ember), ("mpi4py", run_mpi)]
        if r % 2:
            order.reverse()
        for name, fn in order:
            arr[:] = 1.0 / size
            times[name].append(timed(fn))
    ok = bool(np.allclose(arr, 1.0))
    dist.destroy_process_group()
    if rank == 0:
        med = {k: statistics.median(v) for k, v in times.items()}
        nbytes = n * 4
        print("CPU: %s (%d logical cores); %d ranks; all_reduce SUM of %d MiB float32, %d rounds (medians)"
              % (cpu_model(), os.cpu_count() or 0, size, mib, rounds))
        for k in ("ember", "mpi4py"):
            print("  %-7s %8.2f ms  %6.2f GB/s  (min %.2f ms)" % (k, med[k] * 1e3, nbytes / med[k] / 1e9,
                                                                min(times[k]) * 1e3))
        print("  ratio mpi4py/ember time: %.3f (target >= 0.8); values correct: %s"
              % (med["mpi4py"] / med["ember"], ok))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--nproc", type=int, default=2)
    a = p.parse_args()
    if os.environ.get("PMI_RANK") is None and os.environ.get("OMPI_COMM_WORLD_RANK") is None:
        cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node=%d" % a.nproc,
               os.path.abspath(__file__), "--mib", str(a.mib), "--rounds", str(a.rounds)]
        sys.exit(subprocess.call(cmd))
    worker(a.mib, a.rounds)


if __name__ == "__main__":
    main()
