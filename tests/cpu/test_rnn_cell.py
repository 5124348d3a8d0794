"""The fused LSTM cell kernels (csrc/cpu/rnn.cpp via _C.lstm_cell / _C.lstm_cell_backward) against the gate
formulas in float64 numpy, under each CPU capability; 16-bit inputs within half-precision tolerance."""
import numpy as np
import pytest

import ember
from ember import _C
from cpu_util import E, N


def _sig(x):
    return 1 / (1 + np.exp(-x))


def reference(gates, c, dh, dh2, dc):
    H = c.shape[1]
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    i, f, g, o = _sig(i), _sig(f), np.tanh(g), _sig(o)
    cn = f * c + i * g
    tc = np.tanh(cn)
    h = o * tc
    d = dh + (dh2 if dh2 is not None else 0)
    dct = d * o * (1 - tc * tc) + (dc if dc is not None else 0)
    dgates = np.concatenate([dct * g * i * (1 - i), dct * c * f * (1 - f), dct * i * (1 - g * g),
                             d * tc * o * (1 - o)], 1)
    return (h, cn, np.concatenate([i, f, g, o], 1)), (dgates, dct * f)


TOL = {np.float32: 2e-6, np.float64: 1e-13, "float16": 2e-3, "bfloat16": 2e-2}


def _cast(a, dtype):
    t = E(a)
    return t.to(getattr(ember, dtype)) if isinstance(dtype, str) else t


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float16", "bfloat16"], ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 8), (20, 64), (7, 37), (129, 5)])
def test_lstm_cell_matches_formulas(capability, dtype, shape, rng):
    n, H = shape
    npdt = np.float64 if isinstance(dtype, str) else dtype
    gates = (rng.standard_normal((n, 4 * H)) * 3).astype(npdt)
    c, dh, dh2, dc = (rng.standard_normal((n, H)).astype(npdt) for _ in range(4))
    if isinstance(dtype, str):  # the reference sees the rounded inputs
        gates, c, dh, dh2, dc = (N(_cast(a, dtype)).astype(np.float64) for a in (gates, c, dh, dh2, dc))
    h, cn, act = _C.lstm_cell(_cast(gates, dtype), _cast(c, dtype))
    (rh, rcn, ract), _ = reference(gates, c, dh, None, None)
    tol = TOL[dtype]
    for got, want in [(h, rh), (cn, rcn), (act, ract)]:
        np.testing.assert_allclose(N(got).astype(np.float64), want, rtol=tol, atol=tol)
    for extra in [(dh2, dc), (None, dc), (dh2, None), (None, None)]:
        args = [None if a is None else _cast(a, dtype) for a in extra]
        dg, dcp = _C.lstm_cell_backward(_cast(dh, dtype), args[0], args[1], act, _cast(c, dtype), cn)
        # the reference backward from the kernel's own (rounded) forward values
        acts = N(act).astype(np.float64)
        i, f, g, o = (acts[:, k * H:(k + 1) * H] for k in range(4))
        tc = np.tanh(N(cn).astype(np.float64))
        d = dh + (extra[0] if extra[0] is not None else 0)
        dct = d * o * (1 - tc * tc) + (extra[1] if extra[1] is not None else 0)
        want = np.concatenate([dct * g * i * (1 - i), dct * c * f * (1 - f), dct * i * (1 - g * g),
                               d * tc * o * (1 - o)], 1)
        np.testing.assert_allclose(N(dg).astype(np.float64), want, rtol=tol * 4, atol=tol * 4)
        np.testing.assert_allclose(N(dcp).astype(np.float64), dct * f, rtol=tol * 4, atol=tol * 4)


def test_lstm_cell_non_contiguous_and_zero_size(rng):
    wide = rng.standard_normal((5, 80))
    gates = E(wide)[:, ::2]  # [5, 40], column stride 2
    c = E(rng.standard_normal((10, 5))).t()  # [5, 10] transposed
    h, cn, act = _C.lstm_cell(gates, c)
    (rh, rcn, ract), _ = reference(wide[:, ::2], N(c), N(c), None, None)
    np.testing.assert_allclose(N(h), rh, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(N(cn), rcn, rtol=1e-13, atol=1e-13)
    for n, H in [(0, 4), (3, 0)]:
        h, cn, act = _C.lstm_cell(ember.zeros(n, 4 * H), ember.zeros(n, H))
        assert tuple(h.shape) == (n, H) and tuple(act.shape) == (n, 4 * H)
        dg, dcp = _C.lstm_cell_backward(h, None, None, act, ember.zeros(n, H), cn)
        assert tuple(dg.shape) == (n, 4 * H) and tuple(dcp.shape) == (n, H)


def test_lstm_cell_bad_inputs_raise():
    g, c = ember.zeros(3, 16), ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"gates of shape \[3, 16\], got \[3, 15\]"):
        _C.lstm_cell(ember.zeros(3, 15), c)
    with pytest.raises(RuntimeError, match="2-D cell state"):
        _C.lstm_cell(g, ember.zeros(3, 4, 1))
    with pytest.raises(TypeError, match="gates of dtype float32, got float64"):
        _C.lstm_cell(g.double(), c)
    with pytest.raises(TypeError, match="floating point"):
        _C.lstm_cell(g.long(), c.long())
    h, cn, act = _C.lstm_cell(g, c)
    with pytest.raises(RuntimeError, match=r"dc of shape \[3, 4\], got \[2, 4\]"):
        _C.lstm_cell_backward(h, None, ember.zeros(2, 4), act, c, cn)
    with pytest.raises(RuntimeError, match=r"act of shape \[3, 16\]"):
        _C.lstm_cell_backward(h, None, None, act[:, :8], c, cn)


def gru_reference(xg, hg, h, d):
    H = h.shape[1]
    xr, xz, xn = (xg[:, k * H:(k + 1) * H] for k in range(3))
    hr, hz, hn = (hg[:, k * H:(k + 1) * H] for k in range(3))
    r, z = _sig(xr + hr), _sig(xz + hz)
    n = np.tanh(xn + r * hn)
    hnew = n + z * (h - n)
    dn = d * (1 - z) * (1 - n * n)
    dr, dz = dn * hn * r * (1 - r), d * (h - n) * z * (1 - z)
    return (hnew, np.concatenate([r, z, n], 1)), (np.concatenate([dr, dz, dn], 1),
                                                  np.concatenate([dr, dz, dn * r], 1), d * z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float16", "bfloat16"], ids=str)
@pytest.mark.parametrize("shape", [(1, 1), (3, 8), (20, 64), (7, 37)])
def test_gru_cell_matches_formulas(capability, dtype, shape, rng):
    n, H = shape
    npdt = np.float64 if isinstance(dtype, str) else dtype
    xg, hg = ((rng.standard_normal((n, 3 * H)) * 2).astype(npdt) for _ in range(2))
    h, dh, dh2 = (rng.standard_normal((n, H)).astype(npdt) for _ in range(3))
    if isinstance(dtype, str):
        xg, hg, h, dh, dh2 = (N(_cast(a, dtype)).astype(np.float64) for a in (xg, hg, h, dh, dh2))
    tol = TOL[dtype]
    hnew, act = _C.gru_cell(_cast(xg, dtype), _cast(hg, dtype), _cast(h, dtype))
    (rh, ract), _ = gru_reference(xg, hg, h, dh)
    np.testing.assert_allclose(N(hnew).astype(np.float64), rh, rtol=tol, atol=tol)
    np.testing.assert_allclose(N(act).astype(np.float64), ract, rtol=tol, atol=tol)
    for extra in (dh2, None):
        got = _C.gru_cell_backward(_cast(dh, dtype), None if extra is None else _cast(extra, dtype), act,
                                   _cast(hg, dtype), _cast(h, dtype))
        # the reference from the kernel's own (rounded) activations
        acts = N(act).astype(np.float64)
        r, z, nn_ = (acts[:, k * H:(k + 1) * H] for k in range(3))
        d = dh + (extra if extra is not None else 0)
        hn = hg[:, 2 * H:]
        dn = d * (1 - z) * (1 - nn_ * nn_)
        dr, dz = dn * hn * r * (1 - r), d * (h - nn_) * z * (1 - z)
        want = (np.concatenate([dr, dz, dn], 1), np.concatenate([dr, dz, dn * r], 1), d * z)
        for g, w in zip(got, want):
            np.testing.assert_allclose(N(g).astype(np.float64), w, rtol=tol * 4, atol=tol * 4)


def test_gru_cell_bad_inputs_raise():
    xg, h = ember.zeros(3, 12), ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"hidden projection of shape \[3, 12\], got \[3, 8\]"):
        _C.gru_cell(xg, ember.zeros(3, 8), h)
    with pytest.raises(TypeError, match="input projection of dtype float32, got float64"):
        _C.gru_cell(xg.double(), xg, h)
    with pytest.raises(RuntimeError, match="2-D hidden state"):
        _C.gru_cell(xg, xg, ember.zeros(4))
    hn, act = _C.gru_cell(xg, xg, h)
    with pytest.raises(RuntimeError, match=r"dh2 of shape \[3, 4\], got \[3, 5\]"):
        _C.gru_cell_backward(hn, ember.zeros(3, 5), act, xg, h)
