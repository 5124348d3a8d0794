"""ember.testing: ``assert_close`` as in ``torch.testing``, with PyTorch's default tolerances per dtype."""
import numpy as np

__all__ = ["assert_close"]

# (rtol, atol) defaults by dtype name, as torch.testing.assert_close documents them
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7)}


def _as_array(x):
    from ._tensor import Tensor
    if isinstance(x, Tensor):
        return x.detach().float().numpy() if x.dtype._name in ("float16", "bfloat16") else x.detach().numpy()
    return np.asarray(x)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raises AssertionError unless ``|actual - expected| <= atol + rtol * |expected|`` elementwise (shapes and,
    with check_dtype, dtypes must match). Sequences and mappings are compared item by item."""
    from ._tensor import Tensor
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got rtol=%r, atol=%r"
                         % (rtol, atol))
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError("The length of the sequences mismatch: %d != %d" % (len(actual), len(expected)))
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, dict) and isinstance(expected, dict):
        if actual.keys() != expected.keys():
            raise AssertionError("The keys of the mappings do not match: %s != %s"
                                 % (sorted(actual), sorted(expected)))
        for k in actual:
            assert_close(actual[k], expected[k], rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    if isinstance(actual, Tensor) != isinstance(expected, Tensor):
        raise TypeError("assert_close: expected both inputs to be tensors or both not, got %s and %s"
                        % (type(actual).__name__, type(expected).__name__))
    if isinstance(actual, Tensor):
        if tuple(actual.shape) != tuple(expected.shape):
            raise AssertionError(msg or "The values for attribute 'shape' do not match: %s != %s."
                                 % (actual.shape, expected.shape))
        if check_dtype and actual.dtype != expected.dtype:
            raise AssertionError(msg or "The values for attribute 'dtype' do not match: %s != %s."
                                 % (actual.dtype, expected.dtype))
        name = actual.dtype._name
    else:
        name = "float64" if isinstance(actual, float) or isinstance(expected, float) else "int64"
    a, e = _as_array(actual), _as_array(expected)
    if rtol is None:
        rtol, atol = _TOLERANCES.get(name, (0.0, 0.0))
    if a.dtype == np.bool_ or e.dtype == np.bool_:
        close = a == e
    else:
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not np.all(close):
        close = np.broadcast_to(close, np.broadcast(a, e).shape)
        bad = int(close.size - np.count_nonzero(close))
        ea = np.broadcast_to(np.asarray(a, np.float64), close.shape)
        ee = np.broadcast_to(np.asarray(e, np.float64), close.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(close, 0.0, np.abs(ea - ee))
            rel = np.where(close, 0.0, diff / np.abs(ee))
        worst = np.unravel_index(int(np.argmax(np.nan_to_num(diff, nan=np.inf))), close.shape)
        raise AssertionError(msg or (
            "Tensor-likes are not close!\n\nMismatched elements: %d / %d (%.1f%%)\nGreatest absolute difference: "
            "%s at index %s (up to %s allowed)\nGreatest relative difference: %s (up to %s allowed)"
            % (bad, close.size, 100.0 * bad / max(close.size, 1), diff[worst], tuple(int(i) for i in worst), atol,
               np.max(np.nan_to_num(rel, nan=np.inf)), rtol)))
