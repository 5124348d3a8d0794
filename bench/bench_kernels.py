"""Kernel benchmarks against PyTorch (MKL/oneDNN) and numpy (OpenBLAS) in one process: GEMM at 256/1024/2048,
bfloat16 GEMM against Ember's float32 one,
a 3x3 64-channel convolution forward + backward, and (when ember.nn / ember.optim are present) an MLP Adam
step and a LeNet SGD step. Libraries alternate round by round; numbers are medians.

Run: python bench/bench_kernels.py [--threads 2] [--rounds 7] [--only gemm,bf16,conv,mlp,lenet]
"""
import argparse
import statistics
import time

import numpy as np

import ember

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None


def timed(fn, reps):
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


# Pause before each library's turn: OpenBLAS and OpenMP worker threads keep spinning for a while after a
# call, and on a 2-core machine that spinning would steal a core from whichever library runs next.
SETTLE = 0.3


def compare(fns, rounds, reps):
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            time.sleep(SETTLE)
            f()  # warm caches after the pause
            times[k].append(timed(f, reps))
    return {k: statistics.median(v) for k, v in times.items()}


def bench_gemm(rounds):
    print("GEMM float32 (GFLOP/s; ratio = Ember / max(PyTorch, numpy))")
    rng = np.random.default_rng(0)
    out = {}
    for n in (256, 1024, 2048):
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        ea, eb = ember.from_numpy(a), ember.from_numpy(b)
        fns = {"ember": lambda: ea @ eb, "numpy": lambda: a @ b}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            fns["torch"] = lambda: ta @ tb
        reps = max(2, int(6e9 / (2 * n ** 3)))
        med = compare(fns, rounds, reps)
        gf = {k: 2 * n ** 3 / v / 1e9 for k, v in med.items()}
        best = max(v for k, v in gf.items() if k != "ember")
        print("  gemm_%-5d " % n + "  ".join("%s %6.1f" % (k, v) for k, v in gf.items())
              + "  | ratio %.2f" % (gf["ember"] / best))
        out[n] = gf["ember"] / best
    return out


def bench_gemm_bf16(rounds):
    """bfloat16 GEMM (float32 accumulation) against Ember's own float32 GEMM: AVX512-BF16 (vdpbf16ps) where the
    CPU has it, else float32 panels; PyTorch's bfloat16 matmul beside it."""
    print("GEMM bfloat16 (GFLOP/s; x f32 = Ember bfloat16 / Ember float32; AVX512-BF16 in use: %s)"
          % ember._C.cpu_bf16_dot())
    rng = np.random.default_rng(0)
    out = {}
    for n in (512, 1024, 2048):
        a = rng.standard_normal((n, n)).astype(np.float32)
        b = rng.standard_normal((n, n)).astype(np.float32)
        ea, eb = ember.from_numpy(a), ember.from_numpy(b)
        ha, hb = ea.to(ember.bfloat16), eb.to(ember.bfloat16)
        fns = {"ember_f32": lambda: ea @ eb, "ember_bf16": lambda: ha @ hb}
        if torch is not None:
            ta, tb = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
            fns["torch_bf16"] = lambda: ta @ tb
        reps = max(2, int(6e9 / (2 * n ** 3)))
        med = compare(fns, rounds, reps)
        gf = {k: 2 * n ** 3 / v / 1e9 for k, v in med.items()}
        line = "  bf16_%-5d " % n + "  ".join("%s %6.1f" % (k, v) for k, v in gf.items())
        line += "  | x f32 %.2f" % (gf["ember_bf16"] / gf["ember_f32"])
        if "torch_bf16" in gf:
            line += "  vs torch %.2f" % (gf["ember_bf16"] / gf["torch_bf16"])
        print(line)
        out[n] = gf["ember_bf16"] / gf["ember_f32"]
    return out


def bench_conv(rounds):
    print("conv2d 3x3, 64->64 channels, input [32, 64, 32, 32], padding 1: forward + backward (ms)")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 64, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    b = np.zeros(64, np.float32)
    g = rng.standard_normal((32, 64, 32, 32)).astype(np.float32)

    def make(lib, F):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        bt = lib.tensor(b, requires_grad=True)
        gt = lib.tensor(g)

        def step():
            xt.grad = wt.grad = bt.grad = None
            F.conv2d(xt, wt, bt, padding=1).backward(gt)
        return step
    fns = {"ember": make(ember, ember)}
    if torch is not None:
        fns["torch"] = make(torch, torch.nn.functional)
    med = compare(fns, rounds, 1)
    line = "  " + "  ".join("%s %7.2f" % (k, v * 1e3) for k, v in med.items())
    if "torch" in med:
        line += "  | ember/torch time %.2f" % (med["ember"] / med["torch"])
    print(line)
    return med


def _training_step(lib, make_model, make_opt, x_np, y_np):
    """One zero_grad / forward / cross-entropy / backward / step, as a closure over lib's objects."""
    lib.manual_seed(0)
    model = make_model(lib.nn)
    opt = make_opt(lib.optim, model.parameters())
    x, y = lib.tensor(x_np), lib.tensor(y_np)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


def bench_steps(rounds, which):
    rng = np.random.default_rng(2)
    cases = []
    if "mlp" in which:
        def mlp(nn):
            return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        cases.append(("MLP 784-512-512-10, Adam, batch 256", mlp, lambda optim, p: optim.Adam(p, lr=1e-3),
                      rng.standard_normal((256, 784)).astype(np.float32), rng.integers(0, 10, 256)))
    if "lenet" in which:
        def lenet(nn):
            return nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                                 nn.ReLU(), nn.Linear(84, 10))
        cases.append(("LeNet, SGD momentum, batch 64 x 3x32x32", lenet,
                      lambda optim, p: optim.SGD(p, lr=0.01, momentum=0.9),
                      rng.standard_normal((64, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 64)))
    results = {}
    for name, make_model, make_opt, x, y in cases:
        fns = {"ember": _training_step(ember, make_model, make_opt, x, y)}
        if torch is not None:
            fns["torch"] = _training_step(torch, make_model, make_opt, x, y)
        med = compare(fns, rounds, 5)
        line = "%s (ms per step)\n  " % name + "  ".join("%s %7.2f" % (k, v * 1e3) for k, v in med.items())
        if "torch" in med:
            line += "  | ember/torch time %.2f" % (med["ember"] / med["torch"])
        print(line)
        results[name] = med
    return results


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--only", default="gemm,bf16,conv,mlp,lenet")
    args = p.parse_args()
    ember.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    which = set(args.only.split(","))
    if "gemm" in which:
        bench_gemm(args.rounds)
    if "bf16" in which:
        bench_gemm_bf16(args.rounds)
    if "conv" in which:
        bench_conv(args.rounds)
    if which & {"mlp", "lenet"}:
        bench_steps(args.rounds, which)


if __name__ == "__main__":
    main()
