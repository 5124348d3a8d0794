"""Signed integer overflow wraps modulo 2^bits (PyTorch's and numpy's answer) in the pointwise and reduction
kernels, and float32 exp-based kernels take NaN without undefined behaviour. Both used to be undefined behaviour
in C++ (signed overflow; a left shift of a negative value on the NaN path of the fast exp): the sanitizer build
(tools/sanitize_check.sh) aborts on them, the normal build must give the wrapped / NaN results."""
import numpy as np
import pytest

import ember
from cpu_util import E

INT_TYPES = (np.int32, np.int64)  # the signed integer dtypes Ember has


def _edges(dt):
    info = np.iinfo(dt)
    return np.array([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max], dtype=dt)


def _check(actual, expected):
    a = actual.numpy()
    assert a.dtype == expected.dtype
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("dt", INT_TYPES)
def test_pointwise_wraps(dt):
    x = _edges(dt)
    y = x[::-1].copy()
    ex, ey = E(x), E(y)
    with np.errstate(over="ignore"):
        _check(ex + ey, x + y)
        _check(ex - ey, x - y)
        _check(ex * ey, x * y)
        _check(ex + E(np.full_like(x, np.iinfo(dt).max)), x + np.iinfo(dt).max)
        _check(-ex, -x)
        _check(ember.abs(ex), np.abs(x))
        _check(ember.square(ex), x * x)


@pytest.mark.parametrize("dt", (np.int32, np.int64))
def test_integer_pow_wraps(dt):
    base = np.array([3, -3, 7, 2, -2], dtype=dt)
    exp = np.array([40, 41, 30, 64, 63], dtype=dt)
    _check(ember.pow(E(base), E(exp)), np.power(base, exp))


@pytest.mark.parametrize("dt", (np.int32, np.int64))
def test_reductions_wrap(dt):
    big = np.iinfo(dt).max // 2 + 1
    x = np.array([big, big, big, 5], dtype=dt)
    ex = E(x)
    with np.errstate(over="ignore"):
        assert int(ex.sum()) == int(x.sum(dtype=np.int64))
        assert int(ex.prod()) == int(x.prod(dtype=np.int64))
        _check(ember.cumsum(ex, 0), np.cumsum(x, dtype=np.int64))
        _check(ember.cumprod(ex, 0), np.cumprod(x, dtype=np.int64))


@pytest.mark.parametrize("n", (1, 17, 1031))
def test_float32_exp_family_nan(n):
    x = np.linspace(-3, 3, n).astype(np.float32)
    x[n // 2] = np.nan
    for fn in (ember.exp, ember.sigmoid, ember.tanh, ember.nn.functional.silu):
        r = fn(E(x)).numpy()
        assert np.isnan(r[n // 2]) and np.isfinite(np.delete(r, n // 2)).all(), fn
    s = ember.softmax(E(x.reshape(1, -1)), dim=1).numpy()
    assert np.isnan(s).all()
