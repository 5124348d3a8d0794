"""softmax / log_softmax / cross-entropy row kernels (their fused exp-and-sum pass and the exp for non-positive
arguments) against float64 numpy under each CPU capability: wide logit ranges whose exponentials reach the
subnormal range, -inf entries, all -inf rows, NaN rows and ragged row lengths (vector tails)."""
import numpy as np
import pytest

import ember
from cpu_util import E, N


def _rows(rng, n):
    x = rng.standard_normal((6, n)) * 4
    x[1] *= 30  # exp(x - max) down to the subnormal range and to zero
    x[2, ::3] = -np.inf
    x[3] = -np.inf
    x[4, n // 2] = np.nan
    x[5] = 80.0 + rng.standard_normal(n)  # large logits: only their differences matter
    return x.astype(np.float32)


def _ref_log_softmax(x):
    x = x.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.max(np.where(np.isnan(x), -np.inf, x), axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        return x - lse


@pytest.mark.parametrize("n", [1, 7, 16, 33, 1000])
def test_softmax_and_log_softmax_rows(capability, n):
    x = _rows(np.random.default_rng(n), n)
    ref = _ref_log_softmax(x)
    got_log = N(ember.log_softmax(E(x), -1)).astype(np.float64)
    got = N(ember.softmax(E(x), -1)).astype(np.float64)
    finite = np.isfinite(ref)
    np.testing.assert_allclose(got_log[finite], ref[finite], rtol=2e-6, atol=2e-5)
    with np.errstate(invalid="ignore"):
        want = np.exp(ref)
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-5, atol=1e-44)
    # -inf logits give exactly 0 (and -inf in log space); NaN and all -inf rows are NaN throughout
    if n > 1:  # (a 1-element row of -inf is an all -inf row)
        assert (got[2, ::3] == 0).all() and np.isneginf(got_log[2, ::3]).all()
    assert np.isnan(got[3]).all() and np.isnan(got[4]).all() and np.isnan(got_log[4]).all()
    np.testing.assert_allclose(got[[0, 1, 5]].sum(1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("n", [3, 17, 1000])
def test_cross_entropy_rows(capability, n):
    rng = np.random.default_rng(n + 1)
    x = (rng.standard_normal((8, n)) * np.array([1, 40, 4, 1, 1, 1, 1, 1])[:, None]).astype(np.float32)
    t = rng.integers(0, n, 8)
    ref = -_ref_log_softmax(x)[np.arange(8), t]
    got = N(ember.nn.functional.cross_entropy(E(x), E(t), reduction="none")).astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-5)
