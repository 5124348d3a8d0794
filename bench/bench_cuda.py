"""GPU benchmarks beside PyTorch CUDA in one process (alternating rounds, medians of CUDA-event timings):
float32 add of 256M elements against the device copy bandwidth, a 300-op small-tensor pointwise chain, and the
GEMM cases once the CUDA GEMM exists (reported as missing until then). --dry-run checks the script on a
machine without a GPU. --json FILE writes every number."""
import argparse
import json
import statistics
import sys

import ember


def _torch():
    try:
        import torch
        return torch if torch.cuda.is_available() else None
    except ImportError:
        return None


def timed(fn, sync, rounds):
    """Median seconds of fn() over rounds, each synchronised (the host clock after a device sync)."""
    import time
    fn()
    sync()
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    results = {"device": None, "cases": {}}
    if not ember.cuda.is_available():
        msg = "no CUDA device: every GPU case skipped"
        print(msg)
        results["skipped"] = msg
        if not args.dry_run:
            print("bench_cuda: a GPU is required (use --dry-run to check the script)", file=sys.stderr)
            return 1
    else:
        torch = _torch()
        results["device"] = ember.cuda.get_device_name()
        n = 256 << 20
        a, b = ember.ones(n, device="cuda"), ember.ones(n, device="cuda")
        sync = ember.cuda.synchronize
        t_add = timed(lambda: a + b, sync, args.rounds)
        case = {"ember_s": t_add, "ember_GBps": 3 * 4 * n / t_add / 1e9}
        if torch is not None:
            ta, tb = torch.ones(n, device="cuda"), torch.ones(n, device="cuda")
            t_copy = timed(lambda: ta.clone(), torch.cuda.synchronize, args.rounds)
            t_tadd = timed(lambda: ta + tb, torch.cuda.synchronize, args.rounds)
            case.update(copy_GBps=2 * 4 * n / t_copy / 1e9, torch_add_s=t_tadd,
                        fraction_of_copy_bandwidth=case["ember_GBps"] / (2 * 4 * n / t_copy / 1e9))
        results["cases"]["add_f32_256M"] = case
        del a, b
        x = ember.randn(64, device="cuda")

        def chain(x=x):
            for _ in range(100):
                x = (x * 1.0001 + 0.5).tanh()
            return x
        t_chain = timed(chain, sync, args.rounds)
        case = {"ember_us_per_op": t_chain / 300 * 1e6}
        if torch is not None:
            tx = torch.randn(64, device="cuda")

            def tchain(x=tx):
                for _ in range(100):
                    x = (x * 1.0001 + 0.5).tanh()
                return x
            case["torch_us_per_op"] = timed(tchain, torch.cuda.synchronize, args.rounds) / 300 * 1e6
        results["cases"]["chain_300_forward"] = case
        missing = ember._C._missing_kernels("cuda")
        results["cases"]["gemm"] = {"skipped": "gemm_batched not implemented for cuda"} if "gemm_batched" in missing else {}
    for name, case in results["cases"].items():
        print("%-22s %s" % (name, ", ".join("%s=%.4g" % (k, v) if isinstance(v, float) else "%s=%s" % (k, v)
                                         for k, v in case.items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
