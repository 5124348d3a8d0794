"""GPU benchmarks beside PyTorch CUDA in one process (alternating rounds, medians of CUDA-event timings):
float32 add of 256M elements against the device copy bandwidth, a 300-op small-tensor pointwise chain, and
float16/bfloat16 GEMM 8192^3 (float32 4096^3) on the process's GEMM path (EMBER_GEMM). --dry-run checks the script on a
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
        # GEMM on this process's path (EMBER_GEMM=own|cublas; tools/gpu_check.sh runs both), TFLOP/s side by side
        import os
        path = os.environ.get("EMBER_GEMM") or ("cublas" if ember._C._locate_cuda_library("cublas") else "own")
        for dtype, n in (("float16", 8192), ("bfloat16", 8192), ("float32", 4096)):
            ea = ember.randn(n, n, device="cuda").to(getattr(ember, dtype))
            eb = ember.randn(n, n, device="cuda").to(getattr(ember, dtype))
            t = timed(lambda: ea @ eb, sync, max(3, args.rounds // 2))
            case = {"path": path, "ember_TFLOPs": 2 * n ** 3 / t / 1e12}
            if torch is not None:
                ta = torch.randn(n, n, device="cuda").to(getattr(torch, dtype))
                tb = torch.randn(n, n, device="cuda").to(getattr(torch, dtype))
                tt = timed(lambda: ta @ tb, torch.cuda.synchronize, max(3, args.rounds // 2))
                case.update(torch_TFLOPs=2 * n ** 3 / tt / 1e12, ratio=tt / t)
                del ta, tb
            results["cases"]["gemm_%s_%d_%s" % (dtype, n, path)] = case
            del ea, eb
    for name, case in results["cases"].items():
        print("%-22s %s" % (name, ", ".join("%s=%.4g" % (k, v) if isinstance(v, float) else "%s=%s" % (k, v)
                                         for k, v in case.items())))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
