"""erf / erfc and the ops built on them (gelu and its backward) against double-precision math.erf / math.erfc
over the whole float range, under each CPU capability (the vectorised copies and the baseline one)."""
import math

import numpy as np
import pytest

import ember
from cpu_util import E, N

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _grid():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-12, 12, 120001), rng.standard_normal(20000) * 3,
                        np.geomspace(1e-38, 1, 2000), -np.geomspace(1e-38, 1, 2000),
                        [0.0, -0.0, 1e-45, 0.9999999, 1.0, 1.0000001, 10.0, 10.06, 10.1, 26.0, 3e38]])
    return x.astype(np.float32)


def test_erf_erfc_accuracy(capability):
    x = _grid()
    x64 = x.astype(np.float64)
    for op, ref, max_ulp in [(ember.erf, _erf, 4.0), (ember.erfc, _erfc, 4.0)]:
        got = N(op(E(x))).astype(np.float64)
        want = ref(x64).astype(np.float64)
        normal = np.abs(want) >= 1.17549435e-38
        ulp = np.abs(got[normal] - want[normal]) / np.spacing(np.abs(want[normal]).astype(np.float32))
        assert ulp.max() <= max_ulp, "%s: %.1f ulp at x = %r" % (op.__name__, ulp.max(), x[normal][np.argmax(ulp)])
        # subnormal results (erfc past 9.2) within the smallest subnormals' spacing
        assert (np.abs(got[~normal] - want[~normal]) <= 16 * 1.4e-45).all()
    special = E(np.array([np.inf, -np.inf, np.nan], np.float32))
    assert N(ember.erf(special))[:2].tolist() == [1.0, -1.0] and np.isnan(N(ember.erf(special))[2])
    assert N(ember.erfc(special))[:2].tolist() == [0.0, 2.0] and np.isnan(N(ember.erfc(special))[2])


def test_gelu_and_its_gradient_keep_relative_accuracy_in_the_negative_tail(capability):
    """gelu(x) = x/2 erfc(-x/sqrt 2): no cancellation of 1 + erf(x) for negative x, so tiny values stay accurate
    relative to themselves (the scaling of x by 1/sqrt 2 bounds it: about 2 x^2 float ulps)."""
    x = np.concatenate([np.linspace(-13, 13, 52001), [-0.0, 0.0]]).astype(np.float32)
    x64 = x.astype(np.float64)
    want = 0.5 * x64 * _erfc(-x64 / math.sqrt(2)).astype(np.float64)
    got = N(ember.nn.functional.gelu(E(x))).astype(np.float64)
    m = np.abs(want) > 1e-30
    rel = np.abs(got[m] - want[m]) / np.abs(want[m])
    assert (rel <= 2e-6 + 2.4e-7 * x64[m] ** 2).all(), "worst %.2e" % rel.max()
    t = E(x, requires_grad=True)
    ember.nn.functional.gelu(t).sum().backward()
    dwant = 0.5 * _erfc(-x64 / math.sqrt(2)).astype(np.float64) + x64 * np.exp(-0.5 * x64 ** 2) / math.sqrt(2 * math.pi)
    d = N(t.grad).astype(np.float64)
    assert (np.abs(d - dwant) <= 1e-6 + 2e-6 * np.abs(dwant) * (1 + x64 ** 2)).all()


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_erf_other_dtypes(dtype):
    x = np.linspace(-5, 5, 1001)
    t = E(x).to(getattr(ember, dtype))
    xr = N(t).astype(np.float64)
    tol = {"float64": 1e-15, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
    np.testing.assert_allclose(N(ember.erf(t)), _erf(xr).astype(np.float64), rtol=tol, atol=tol)
    np.testing.assert_allclose(N(ember.erfc(t)), _erfc(xr).astype(np.float64), rtol=tol, atol=tol)
