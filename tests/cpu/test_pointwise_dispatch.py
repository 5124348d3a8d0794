"""Pointwise kernels under every CPU capability (baseline and AVX2 copies of csrc/cpu/pointwise.inc): each op
on odd sizes through its contiguous, scalar-broadcast, in-place and strided inner loops, with NaN/inf/signed
zero in the data, against float64 numpy."""
import functools
import math

import numpy as np
import pytest

import ember
from cpu_util import E, N

SIZES = (1, 7, 33, 1031, 100003)  # 100003: split across threads, and a ragged vector tail
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 80.0, -80.0, 700.0, -700.0])

_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)).astype(np.float64))


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def _relu(x):
    return np.where(np.isnan(x), x, np.maximum(x, 0))


# name: (ember fn, numpy reference on float64, input domain)
UNARY = {
    "exp": (ember.exp, np.exp, "real"),
    "log": (ember.log, np.log, "positive"),
    "tanh": (ember.tanh, np.tanh, "real"),
    "sigmoid": (ember.sigmoid, _sigmoid, "real"),
    "sqrt": (ember.sqrt, np.sqrt, "positive"),
    "relu": (ember.relu, _relu, "real"),
    "gelu": (lambda t: ember.gelu(t), _gelu, "small"),
    "silu": (lambda t: ember.silu(t), lambda x: x * _sigmoid(x), "real"),
    "abs": (ember.abs, np.abs, "real"),
    "neg": (ember.neg, np.negative, "real"),
    "expm1": (ember.expm1, np.expm1, "real"),
    "sin": (ember.sin, np.sin, "small"),
}

BINARY = {
    "add": (ember.add, np.add),
    "sub": (ember.sub, np.subtract),
    "mul": (ember.mul, np.multiply),
    "div": (ember.div, np.divide),
    "maximum": (ember.maximum, lambda a, b: np.where(np.isnan(a) | np.isnan(b), np.nan, np.maximum(a, b))),
    "minimum": (ember.minimum, lambda a, b: np.where(np.isnan(a) | np.isnan(b), np.nan, np.minimum(a, b))),
    "atan2": (ember.atan2, np.arctan2),
    "logaddexp": (ember.logaddexp, np.logaddexp),
}


@functools.lru_cache(maxsize=None)
def data(domain, n, dtype, seed=0):
    rng = np.random.default_rng(seed + n)
    if domain == "positive":
        x = np.exp(rng.uniform(-20, 20, n))
        special = np.array([np.nan, np.inf, 0.0, 1e-30, 1.0, 3e38])
    elif domain == "small":
        x = rng.uniform(-6, 6, n)
        special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30])
    else:
        x = rng.standard_normal(n) * 10
        special = SPECIAL
    k = min(n, len(special))
    x[rng.permutation(n)[:k]] = special[:k]
    x = x.astype(dtype)
    x.setflags(write=False)
    return x


def tol(dtype, name):
    # gelu = x/2 (1 + erf(x/sqrt2)) cancels for negative x and logaddexp = max + log1p(exp(-|a-b|)) near 0
    # (PyTorch uses the same formulas): their error is absolute, a few ulps of the inputs
    absolute = name in ("gelu", "logaddexp")
    if np.dtype(dtype) == np.float64:
        return dict(rtol=1e-13, atol=1e-14 if absolute else 1e-300)
    loose = {"gelu": 1e-5, "silu": 1e-5, "sigmoid": 4e-6, "tanh": 4e-6, "expm1": 4e-6, "sin": 2e-6}
    return dict(rtol=loose.get(name, 2e-6), atol=1e-6 if absolute else 1e-37)


def ref_unary(fn, x):
    with np.errstate(all="ignore"):
        return np.asarray(fn(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


def compare(got, ref, dtype, name, what):
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), what
    same_special = (np.isnan(got) == np.isnan(ref)).all() and (np.isinf(got) == np.isinf(ref)).all()
    fin = np.isfinite(ref)
    assert same_special, "%s %s: NaN/inf pattern differs at %s" % (
        name, what, np.flatnonzero((np.isnan(got) != np.isnan(ref)) | (np.isinf(got) != np.isinf(ref)))[:5])
    np.testing.assert_array_equal(got[np.isinf(ref)], ref[np.isinf(ref)], err_msg="%s %s: infinities" % (name, what))
    np.testing.assert_allclose(got[fin], ref[fin], err_msg="%s %s" % (name, what), **tol(dtype, name))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(capability, name, dtype):
    fn, ref_fn, domain = UNARY[name]
    for n in SIZES:
        x = data(domain, n, dtype)
        ref = ref_unary(ref_fn, x)
        compare(N(fn(E(x))), ref, dtype, name, "contiguous n=%d" % n)
        if n >= 33:
            # strided input (every other element of a bigger buffer) and a transposed 2-D view
            big = np.repeat(x, 2)
            compare(N(fn(E(big)[::2])), ref, dtype, name, "strided n=%d" % n)
    x = data(domain, 1031 * 3, dtype)[: 33 * 31].reshape(33, 31)
    compare(N(fn(E(x.T.copy()).t())), ref_unary(ref_fn, x), dtype, name, "transposed")
    # in place, where the op has an in-place method
    t = E(data(domain, 1031, dtype))
    if hasattr(t, name + "_"):
        getattr(t, name + "_")()
        compare(N(t), ref_unary(ref_fn, data(domain, 1031, dtype)), dtype, name, "in place")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(capability, name, dtype):
    fn, ref_fn = BINARY[name]

    def ref(a, b):
        with np.errstate(all="ignore"):
            return np.asarray(ref_fn(a.astype(np.float64), b.astype(np.float64))).astype(dtype)

    for n in SIZES:
        a, b = data("real", n, dtype, 1), data("real", n, dtype, 2)
        compare(N(fn(E(a), E(b))), ref(a, b), dtype, name, "contiguous n=%d" % n)
        # a 0-d / 1-element operand on either side (the scalar-broadcast loops)
        s = np.array([a[0] if np.isfinite(a[0]) else 1.5], dtype=dtype)
        compare(N(fn(E(a), E(s))), ref(a, np.broadcast_to(s, a.shape)), dtype, name, "tensor-scalar n=%d" % n)
        compare(N(fn(E(s), E(b))), ref(np.broadcast_to(s, b.shape), b), dtype, name, "scalar-tensor n=%d" % n)
        compare(N(fn(E(a), E(s[0]))), ref(a, np.broadcast_to(s, a.shape)), dtype, name, "0-d n=%d" % n)
        if n >= 33:
            compare(N(fn(E(np.repeat(a, 3))[1::3], E(b))), ref(a, b), dtype, name, "strided n=%d" % n)
    # row and column broadcasting of 2-D operands
    m = data("real", 33 * 65, dtype, 3).reshape(33, 65)
    row, col = data("real", 65, dtype, 4), data("real", 33, dtype, 5).reshape(33, 1)
    compare(N(fn(E(m), E(row))), ref(m, np.broadcast_to(row, m.shape)), dtype, name, "row broadcast")
    compare(N(fn(E(col), E(m))), ref(np.broadcast_to(col, m.shape), m), dtype, name, "column broadcast")
    compare(N(fn(E(m.T.copy()).t(), E(m))), ref(m, m), dtype, name, "transposed")
    # in place into the first operand
    t = E(m)
    if hasattr(t, name + "_"):
        getattr(t, name + "_")(E(row))
        compare(N(t), ref(m, np.broadcast_to(row, m.shape)), dtype, name, "in place")


def test_capabilities_agree(rng):
    """The AVX2 and baseline copies compute the same function: results agree to float32 rounding."""
    x = rng.standard_normal(4099).astype(np.float32) * 5
    prev = ember._C.cpu_capability()
    outs = {}
    try:
        for cap in ("default", "avx2"):
            ember._C.set_cpu_capability(cap)
            if ember._C.cpu_capability() != cap:
                pytest.skip("no AVX2")
            t = E(x)
            outs[cap] = [N(f(t)) for f in (ember.exp, ember.tanh, ember.sigmoid, lambda v: v * v + v / 3)]
    finally:
        ember._C.set_cpu_capability(prev)
    for a, b in zip(outs["default"], outs["avx2"]):
        np.testing.assert_allclose(a, b, rtol=3e-6, atol=1e-30)
