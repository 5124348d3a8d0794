"""Model training-step benchmarks against PyTorch in one process: a 2-layer LSTM language model (the shape of
PyTorch's word_language_model example) and a small Transformer encoder language model. Both libraries run the
same code (``lib`` is ember or torch), start from the same weights and use the same number of threads; rounds
alternate between libraries and each number is the median time per training step.

Run: python bench/bench_models.py [--threads 2] [--rounds 7] [--steps 5] [--only lstm,transformer] [--profile]

On a machine whose cores other processes share, PyTorch's OpenMP workers spin at barriers and its multi-thread
times balloon (several-fold, from one round to the next): compare multi-thread runs at a quiet moment (the
load average is worth quoting with them).
"""
import argparse
import statistics
import time

import numpy as np

import ember

from bench_util import cpu_model

try:
    import torch
except ImportError:  # PyTorch is optional: Ember's own numbers still print
    torch = None

VOCAB, BPTT, BATCH = 1000, 35, 20
SETTLE = 0.3  # let the other library's worker threads go idle before timing (2-core machines)


class LSTMModel:
    """Embedding -> 2-layer LSTM -> Linear over the vocabulary, built from lib.nn."""

    def __init__(self, lib, emsize=64, nhid=64, nlayers=2):
        nn = lib.nn
        self.lib = lib
        self.modules = nn.ModuleDict({"encoder": nn.Embedding(VOCAB, emsize), "rnn": nn.LSTM(emsize, nhid, nlayers),
                                      "decoder": nn.Linear(nhid, VOCAB)})
        self.hidden = (lib.zeros(nlayers, BATCH, nhid), lib.zeros(nlayers, BATCH, nhid))

    def loss(self, data, target):
        m = self.modules
        # truncated BPTT: the state carries over from the previous batch, detached
        hidden = tuple(h.detach() for h in self.hidden)
        out, self.hidden = m["rnn"](m["encoder"](data), hidden)
        logits = m["decoder"](out)
        return self.lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))


class TransformerModel:
    """Embedding -> TransformerEncoder (causal mask) -> Linear over the vocabulary."""

    def __init__(self, lib, d_model=64, nhead=4, nlayers=2, dim_feedforward=256):
        nn = lib.nn
        self.lib = lib
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.1)
        self.modules = nn.ModuleDict({"encoder": nn.Embedding(VOCAB, d_model),
                                      "transformer": nn.TransformerEncoder(layer, nlayers,
                                                                           enable_nested_tensor=False),
                                      "decoder": nn.Linear(d_model, VOCAB)})
        self.mask = nn.Transformer.generate_square_subsequent_mask(BPTT)
        self.scale = d_model ** 0.5

    def loss(self, data, target):
        m = self.modules
        h = m["transformer"](m["encoder"](data) * self.scale, mask=self.mask, is_causal=True)
        logits = m["decoder"](h)
        return self.lib.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), target.reshape(-1))


def make_step(model, lr=0.1):
    lib = model.lib
    params = list(model.modules.parameters())
    opt = lib.optim.SGD(params, lr=lr)

    def step(data, target):
        opt.zero_grad()
        loss = model.loss(data, target)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(params, 0.25)
        opt.step()
        return loss
    return step


def build(name):
    """Per library: (step function, data, target), all libraries starting from the same weights."""
    cls = {"lstm": LSTMModel, "transformer": TransformerModel}[name]
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, size=(BPTT + 1, BATCH))
    libs = {"ember": ember}
    if torch is not None:
        libs["torch"] = torch
    models = {k: cls(lib) for k, lib in libs.items()}
    if torch is not None:
        state = {k: ember.tensor(v.detach().numpy()) for k, v in models["torch"].modules.state_dict().items()}
        models["ember"].modules.load_state_dict(state, strict=True)
    out = {}
    for k, lib in libs.items():
        data = lib.tensor(tokens[:-1], dtype=lib.int64)
        target = lib.tensor(tokens[1:], dtype=lib.int64)
        out[k] = (make_step(models[k]), data, target)
    return out


def bench(name, rounds, steps):
    cases = build(name)
    first = {}
    for k, (step, data, target) in cases.items():
        first[k] = float(step(data, target).detach())  # warm-up; same weights, so the first losses agree
        for _ in range(2):
            step(data, target)
    times = {k: [] for k in cases}
    for _ in range(rounds):
        for k, (step, data, target) in cases.items():
            time.sleep(SETTLE)
            t0 = time.perf_counter()
            for _ in range(steps):
                step(data, target)
            times[k].append((time.perf_counter() - t0) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    low = {k: min(v) for k, v in times.items()}
    print("%s training step (first loss: %s)" % (name, ", ".join("%s %.4f" % kv for kv in first.items())))
    for k, v in med.items():
        print("  %-6s %8.2f ms per step (fastest round %.2f)" % (k, v * 1e3, low[k] * 1e3))
    if "torch" in med:
        # on a shared machine other load only adds time, so the fastest rounds are the steadier comparison
        print("  ember/torch time ratio: %.2f (fastest rounds: %.2f)"
              % (med["ember"] / med["torch"], low["ember"] / low["torch"]))
    return med


def profile(name, steps):
    import cProfile
    import pstats
    step, data, target = build(name)["ember"]
    step(data, target)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        step(data, target)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--only", default="lstm,transformer")
    p.add_argument("--profile", action="store_true", help="cProfile Ember's steps instead of timing")
    args = p.parse_args()
    ember.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    if not args.profile:
        print("%s, %d thread(s)" % (cpu_model(), args.threads))
    for name in args.only.split(","):
        if args.profile:
            profile(name, args.steps)
        else:
            bench(name, args.rounds, args.steps)


if __name__ == "__main__":
    main()
