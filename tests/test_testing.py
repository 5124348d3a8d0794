"""ember.testing.assert_close: PyTorch's default tolerances per dtype, shape/dtype checks, containers."""
import pytest

import ember
from ember.testing import assert_close


def test_close_and_not_close():
    a = ember.tensor([1.0, 2.0, 3.0])
    assert_close(a, a + 1e-6)
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        assert_close(a, ember.tensor([1.0, 2.1, 3.0]))
    assert_close(a, ember.tensor([1.0, 2.1, 3.0]), rtol=0.1, atol=0.0)


def test_default_tolerance_depends_on_dtype():
    x = ember.tensor([1.0], dtype=ember.float64)
    with pytest.raises(AssertionError):
        assert_close(x, x + 1e-5)
    h = ember.tensor([1.0], dtype=ember.float16)
    assert_close(h, ember.tensor([1.0009765625], dtype=ember.float16))


def test_shape_dtype_and_nan():
    with pytest.raises(AssertionError, match="shape"):
        assert_close(ember.zeros(2), ember.zeros(3))
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(ember.zeros(2), ember.zeros(2, dtype=ember.float64))
    assert_close(ember.zeros(2), ember.zeros(2, dtype=ember.float64), check_dtype=False)
    n = ember.tensor([float("nan")])
    with pytest.raises(AssertionError):
        assert_close(n, n)
    assert_close(n, n, equal_nan=True)
    with pytest.raises(ValueError, match="rtol"):
        assert_close(n, n, rtol=1e-3)


def test_containers_and_integers():
    assert_close({"a": ember.ones(2), "b": [ember.arange(3)]}, {"a": ember.ones(2), "b": [ember.arange(3)]})
    with pytest.raises(AssertionError):
        assert_close([ember.arange(3)], [ember.arange(3) + 1])
    with pytest.raises(AssertionError, match="length"):
        assert_close([ember.ones(1)], [ember.ones(1), ember.ones(1)])
