"""Core engine benchmarks: per-op overhead of a small-tensor op chain (forward + backward) against PyTorch,
and throughput of 16M-element add / exp / sum against numpy (and PyTorch when installed).

Run: python bench/bench_core.py [--rounds N]. Timings alternate between libraries in one process; each number
is the median over rounds, and ratios compare medians taken from the same rounds.
"""
import argparse
import statistics
import time

import numpy as np

import ember

try:
    import torch
except ImportError:  # PyTorch is optional: Ember vs numpy still runs
    torch = None


def chain(lib, x, w, n_ops):
    """n_ops small-tensor ops mixing the common pointwise kinds, then sum + backward."""
    h = x
    for i in range(n_ops // 6):
        h = h * w
        h = h + x
        h = lib.tanh(h)
        h = h - 0.5
        h = lib.sigmoid(h)
        h = h * 2.0
    h.sum().backward()


def time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_chain(rounds, n_ops=300, size=16):
    libs = {"ember": ember}
    if torch is not None:
        libs["torch"] = torch
    data = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    tensors = {}
    for name, lib in libs.items():
        x = lib.tensor(data, requires_grad=True)
        w = lib.tensor(data * 0.1, requires_grad=True)
        tensors[name] = (x, w)
        for _ in range(3):  # warm up
            chain(lib, x, w, n_ops)
    times = {name: [] for name in libs}
    for _ in range(rounds):
        for name, lib in libs.items():
            x, w = tensors[name]
            x.grad = None
            w.grad = None
            times[name].append(time_once(lambda: chain(lib, x, w, n_ops)))
    med = {k: statistics.median(v) for k, v in times.items()}
    print("op chain: %d ops on %dx%d float32, forward + backward" % (n_ops, size, size))
    for k, v in med.items():
        print("  %-6s %8.3f ms per chain, %6.2f us per op" % (k, v * 1e3, v / n_ops * 1e6))
    if "torch" in med:
        print("  ember/torch time ratio: %.2f (<= 1.0 means Ember's per-op overhead is no worse)"
              % (med["ember"] / med["torch"]))
    return med


def bench_big(rounds, n=16 * 1024 * 1024):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    ea, eb = ember.from_numpy(a), ember.from_numpy(b)
    cases = {
        "add": {"numpy": lambda: np.add(a, b), "ember": lambda: ea + eb},
        "exp": {"numpy": lambda: np.exp(a), "ember": lambda: ember.exp(ea)},
        "sum": {"numpy": lambda: a.sum(), "ember": lambda: ea.sum()},
        "tanh": {"numpy": lambda: np.tanh(a), "ember": lambda: ember.tanh(ea)},
        "gelu": {"ember": lambda: ember.nn.functional.gelu(ea)},  # numpy has no erf
    }
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        cases["add"]["torch"] = lambda: ta + tb
        cases["exp"]["torch"] = lambda: torch.exp(ta)
        cases["sum"]["torch"] = lambda: ta.sum()
        cases["tanh"]["torch"] = lambda: torch.tanh(ta)
        cases["gelu"]["torch"] = lambda: torch.nn.functional.gelu(ta)
    bytes_moved = {"add": 12 * n, "exp": 8 * n, "sum": 4 * n, "tanh": 8 * n, "gelu": 8 * n}
    print("16M-element float32 ops (%d threads for Ember)" % ember.get_num_threads())
    results = {}
    for op, fns in cases.items():
        for f in fns.values():
            f()
        times = {k: [] for k in fns}
        for _ in range(rounds):
            for k, f in fns.items():
                times[k].append(time_once(f))
        med = {k: statistics.median(v) for k, v in times.items()}
        line = "  %-4s" % op
        for k, v in med.items():
            line += "  %s %6.2f ms (%5.1f GB/s)" % (k, v * 1e3, bytes_moved[op] / v / 1e9)
        peer = "numpy" if "numpy" in med else "torch"
        if peer not in med:
            continue
        ratio = med[peer] / med["ember"]
        line += "  | ember throughput = %.2fx %s" % (ratio, peer)
        print(line)
        results[op] = ratio
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    bench_chain(args.rounds)
    bench_big(args.rounds)


if __name__ == "__main__":
    main()
