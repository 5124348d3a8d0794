"""out= casting rule (PyTorch's): a result may be written into out only when torch.can_cast(result dtype,
out dtype) -- no step down from floating to integral to bool -- otherwise RuntimeError "result type Float can't
be cast to the desired output type Long". Ops whose out= sets the computation dtype (sum, cumsum, cumprod) and
factory functions take out's dtype instead. Checked directly, then against torch as the oracle."""
import numpy as np
import pytest

import ember
import ember.nn.functional as EF


def _e(values, dtype):
    return ember.tensor(values, dtype=dtype)


# ------------------------------------------------------------------------------ without torch


@pytest.mark.parametrize("fn", [
    lambda a, o: ember.add(a, a, out=o),
    lambda a, o: ember.mul(a, 2, out=o),
    lambda a, o: ember.div(a, a, out=o),
    lambda a, o: ember.exp(a, out=o),
    lambda a, o: ember.sqrt(a, out=o),
    lambda a, o: ember.maximum(a, a, out=o),
    lambda a, o: ember.mean(a, 0, out=o),
])
def test_float_result_into_long_raises(fn):
    a = _e([1.0, 4.0, 9.0], ember.float32)
    out = ember.zeros(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        fn(a, out)
    assert out.tolist() == [0, 0, 0]  # nothing written


def test_integer_result_into_bool_raises_and_widening_is_allowed():
    i = _e([1, 2, 3], ember.int64)
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        ember.add(i, i, out=ember.zeros(3, dtype=ember.bool))
    # integral -> floating, narrower integral, narrower floating: all allowed (same category or up)
    assert ember.add(i, i, out=ember.zeros(3)).tolist() == [2.0, 4.0, 6.0]
    assert ember.add(i, i, out=ember.zeros(3, dtype=ember.int32)).dtype == ember.int32
    f = _e([1.5, 2.5], ember.float64)
    assert ember.add(f, f, out=ember.zeros(2, dtype=ember.float16)).tolist() == [3.0, 5.0]
    # comparison results (bool) go anywhere
    assert ember.eq(f, f, out=ember.zeros(2, dtype=ember.int64)).tolist() == [1, 1]


def test_out_sets_dtype_for_sum_and_scans():
    x = _e([1.5, 1.5], ember.float32)
    r = ember.sum(x, 0, out=ember.zeros((), dtype=ember.int64))
    assert r.dtype == ember.int64 and r.item() == 2  # summed in int64, as PyTorch does
    assert ember.cumsum(x, 0, out=ember.zeros(2, dtype=ember.int64)).tolist() == [1, 2]
    assert ember.cumprod(x, 0, out=ember.zeros(2, dtype=ember.int64)).tolist() == [1, 1]
    with pytest.raises(RuntimeError, match="must match"):
        ember.sum(x, 0, dtype=ember.float32, out=ember.zeros((), dtype=ember.int64))


def test_factories_take_outs_dtype():
    assert ember.full((3,), 1.5, out=ember.zeros(3, dtype=ember.int64)).tolist() == [1, 1, 1]
    assert ember.zeros(2, out=ember.ones(2, dtype=ember.int64)).tolist() == [0, 0]
    assert ember.arange(3, out=ember.zeros(3)).tolist() == [0.0, 1.0, 2.0]


def test_tuple_outs_and_formerly_ignored_outs():
    m = _e([[3.0, 1.0], [2.0, 4.0]], ember.float32)
    vals, idx = ember.zeros(2), ember.zeros(2, dtype=ember.int64)
    r = ember.max(m, 0, out=(vals, idx))
    assert r.values is vals and r.indices is idx
    assert vals.tolist() == [3.0, 4.0] and idx.tolist() == [0, 1]
    sv, si = ember.zeros(2, 2), ember.zeros(2, 2, dtype=ember.int64)
    ember.sort(m, 1, out=(sv, si))
    assert sv.tolist() == [[1.0, 3.0], [2.0, 4.0]] and si.tolist() == [[1, 0], [0, 1]]
    tv, ti = ember.zeros(1), ember.zeros(1, dtype=ember.int64)
    ember.topk(_e([1.0, 5.0, 2.0], ember.float32), 1, out=(tv, ti))
    assert tv.tolist() == [5.0] and ti.tolist() == [1]
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.max(m, 0, out=(ember.zeros(2, dtype=ember.int64), ember.zeros(2, dtype=ember.int64)))
    with pytest.raises(RuntimeError, match="can't be cast"):
        EF.normalize(m, out=ember.zeros(2, 2, dtype=ember.int64))


# ------------------------------------------------------------------------------ torch as the oracle

_DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool", "float16"]
_INPUTS = ["float32", "float64", "int64", "bool"]

_OPS = {
    "add": (lambda m, a, b, o: m.add(a, b, out=o), 2),
    "sub": (lambda m, a, b, o: m.sub(a, b, out=o), 2),
    "mul": (lambda m, a, b, o: m.mul(a, b, out=o), 2),
    "mul_scalar_float": (lambda m, a, b, o: m.mul(a, 2.5, out=o), 1),
    "div": (lambda m, a, b, o: m.div(a, b, out=o), 2),
    "floor_divide": (lambda m, a, b, o: m.floor_divide(a, b, out=o), 2),
    "pow": (lambda m, a, b, o: m.pow(a, 2, out=o), 1),
    "maximum": (lambda m, a, b, o: m.maximum(a, b, out=o), 2),
    "exp": (lambda m, a, b, o: m.exp(a, out=o), 1),
    "sqrt": (lambda m, a, b, o: m.sqrt(a, out=o), 1),
    "sin": (lambda m, a, b, o: m.sin(a, out=o), 1),
    "eq": (lambda m, a, b, o: m.eq(a, b, out=o), 2),
    "lt": (lambda m, a, b, o: m.lt(a, b, out=o), 2),
    "logical_and": (lambda m, a, b, o: m.logical_and(a, b, out=o), 2),
    "mean": (lambda m, a, b, o: m.mean(a, 0, out=o), 1),
    "sum": (lambda m, a, b, o: m.sum(a, 0, out=o), 1),
    "cumsum": (lambda m, a, b, o: m.cumsum(a, 0, out=o), 1),
    "cat": (lambda m, a, b, o: m.cat([a, b], out=o), 2),
}


def _out_shape(name):
    return {"mean": (), "sum": (), "cat": (6,)}.get(name, (3,))


def _values(dtype):
    return [True, False, True] if dtype == "bool" else [1, 4, 9]


@pytest.mark.parametrize("name", sorted(_OPS))
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    fn, arity = _OPS[name]
    seen = {"ok": 0, "cast_error": 0}
    for din in _INPUTS:
        for dout in _DTYPES:
            ta = torch.tensor(_values(din), dtype=getattr(torch, din))
            ea = _e(_values(din), getattr(ember, din))
            tout = torch.zeros(_out_shape(name), dtype=getattr(torch, dout))
            eout = ember.zeros(_out_shape(name), dtype=getattr(ember, dout))
            try:
                tr = fn(torch, ta, ta, tout)
            except (RuntimeError, TypeError) as exc:
                msg = str(exc).splitlines()[0]
                if "can't be cast to the desired output type" not in msg:
                    continue  # torch refuses for another reason (bool subtraction, integer-only op, ...)
                with pytest.raises((RuntimeError, TypeError)) as info:
                    fn(ember, ea, ea, eout)
                # the desired output type is named as torch names it (torch's own "result type" part is not
                # always the result's: mean of float64 reports Float)
                tail = msg.split("can't be cast to the desired output type")[1]
                assert str(info.value).endswith("can't be cast to the desired output type" + tail), \
                    (name, din, dout, str(info.value))
                seen["cast_error"] += 1
                continue
            er = fn(ember, ea, ea, eout)
            assert er is eout, (name, din, dout)
            assert str(er.dtype).rsplit(".", 1)[-1] == str(tr.dtype).rsplit(".", 1)[-1], (name, din, dout)
            tol = 1e-2 if dout == "float16" else 1e-6
            np.testing.assert_allclose(np.asarray(er.tolist(), dtype=np.float64),
                                       np.asarray(tr.tolist(), dtype=np.float64), rtol=tol, atol=tol,
                                       err_msg=f"{name} {din}->{dout}")
            seen["ok"] += 1
    assert seen["ok"] > 0, seen
    if name not in ("eq", "lt", "logical_and", "sum", "cumsum"):  # bool results / out-dtype ops never refuse
        assert seen["cast_error"] > 0, seen
