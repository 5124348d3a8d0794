"""Op tests driven by tests/opinfo.py: forward vs numpy (float32/float64), broadcasting, non-contiguous inputs,
zero-size and 0-d tensors, float64 gradcheck/gradgradcheck, integer/bool and float16/bfloat16 dtypes, Tensor
method and in-place variants, binary type promotion, and (when PyTorch is installed) parity with PyTorch.

Every test draws fresh inputs from a numpy Generator seeded by the test's own id.
"""
import subprocess
import sys
import warnings
import zlib

import numpy as np
import pytest

import ember
from opinfo import DEFAULT_TOL, FLOAT_DTYPES, KINDS, Maker, op_db, OPS_BY_NAME

NP_TO_EMBER = {np.dtype(np.float32): ember.float32, np.dtype(np.float64): ember.float64,
               np.dtype(np.float16): ember.float16, np.dtype(np.int32): ember.int32,
               np.dtype(np.int64): ember.int64, np.dtype(np.int16): ember.int16, np.dtype(np.int8): ember.int8,
               np.dtype(np.uint8): ember.uint8, np.dtype(np.bool_): ember.bool}
EMBER_BY_NAME = {"float32": ember.float32, "float64": ember.float64, "float16": ember.float16,
                 "bfloat16": ember.bfloat16, "int32": ember.int32, "int64": ember.int64, "int16": ember.int16,
                 "int8": ember.int8, "uint8": ember.uint8, "bool": ember.bool}


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


# ------------------------------------------------------------------------------------------- parametrization


def _dname(dtype):
    return np.dtype(dtype).name if not isinstance(dtype, str) else dtype


def op_params(test, dtypes=(None,), where=lambda op: True):
    """pytest params (op, dtype) for the ops that `where` accepts, with each op's expected failures marked."""
    out = []
    for op in op_db:
        if not where(op):
            continue
        for dt in (dtypes(op) if callable(dtypes) else dtypes):
            name = _dname(dt) if dt is not None else None
            reason = op.xfail_reason(test, name)
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            pid = op.name if dt is None else "%s-%s" % (op.name, name)
            out.append(pytest.param(op, dt, id=pid, marks=marks))
    return out


# ------------------------------------------------------------------------------------------- conversion


def _round_bf16(a):
    """float32 values rounded (to nearest even) onto the bfloat16 grid, still stored as float32."""
    b = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32).reshape(np.shape(a))


def _base_tensor(arr, lowp=None):
    if lowp == "bfloat16" and arr.dtype.kind == "f":
        return ember.tensor(np.array(arr, dtype=np.float32, order="C")).to(ember.bfloat16)
    return ember.tensor(np.array(arr, order="C"))


def make_tensor(arr, layout="contig", lowp=None):
    """An ember tensor holding arr's values, laid out contiguously, transposed, or as a stepped slice."""
    if layout == "transposed" and arr.ndim >= 2:
        return _base_tensor(np.swapaxes(arr, -1, -2), lowp).transpose(-1, -2)
    if layout == "sliced" and arr.ndim >= 1:
        big = np.empty(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
        big[..., ::2] = arr
        big[..., 1::2] = arr[..., ::-1] if arr.dtype.kind != "f" else -7.0
        return _base_tensor(big, lowp)[..., ::2]
    return _base_tensor(arr, lowp)


def to_ember(obj, layout="contig", lowp=None):
    if isinstance(obj, np.ndarray):
        return make_tensor(obj, layout, lowp)
    if isinstance(obj, list):
        return [to_ember(o, layout, lowp) for o in obj]
    if isinstance(obj, tuple):
        return tuple(to_ember(o, layout, lowp) for o in obj)
    return obj


def map_arrays(obj, fn):
    if isinstance(obj, np.ndarray):
        return fn(obj)
    if isinstance(obj, list):
        return [map_arrays(o, fn) for o in obj]
    if isinstance(obj, tuple):
        return tuple(map_arrays(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_arrays(v, fn) for k, v in obj.items()}
    return obj


def _upcast(a):
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def call_ref(op, args, kwargs):
    """The numpy reference, on float64 copies of floating inputs."""
    if op.ref_upcast:
        args, kwargs = map_arrays(args, _upcast), map_arrays(kwargs, _upcast)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return op.ref(*args, **kwargs)


def call_op(op, args, kwargs, layout="contig", lowp=None):
    return op.op(*to_ember(args, layout, lowp), **map_arrays(kwargs, lambda a: make_tensor(a, layout, lowp)))


def to_numpy(t):
    if t.dtype is ember.bfloat16:
        t = t.float()
    return np.array(t.numpy(), copy=True)


# ------------------------------------------------------------------------------------------- comparison


def expected_dtype(leaf, float_dtype, op):
    """The ember dtype PyTorch gives for a reference leaf: floats follow the inputs' float dtype (or the
    default float32 for integer inputs), integers and bools keep numpy's type (small unsigned sums -> int64)."""
    kind = np.asarray(leaf).dtype.kind
    if kind == "b":
        return ember.bool
    if kind in "iu":
        d = np.asarray(leaf).dtype
        return ember.int64 if d in (np.uint64, np.uint32, np.uint16) else NP_TO_EMBER[d]
    if op.float_out_dtype:
        return EMBER_BY_NAME[op.float_out_dtype]
    return EMBER_BY_NAME[float_dtype] if float_dtype else ember.float32


def assert_match(actual, expected, op, float_dtype, tol_dtype=None, check_dtype=True, path="out", atol=None):
    """actual (ember tensors / sequences / Python values) against expected (numpy values / sequences)."""
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), "%s: expected a sequence, got %s" % (path, type(actual).__name__)
        assert len(actual) == len(expected), "%s: length %d != %d" % (path, len(actual), len(expected))
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_match(a, e, op, float_dtype, tol_dtype, check_dtype, "%s[%d]" % (path, i), atol)
        return
    if isinstance(expected, (bool, np.bool_)) and not isinstance(expected, np.ndarray) and not isinstance(
            actual, ember.Tensor):
        assert type(actual) is bool, "%s: expected a Python bool, got %r" % (path, actual)
        assert actual == bool(expected), "%s: %r != %r" % (path, actual, expected)
        return
    assert isinstance(actual, ember.Tensor), "%s: expected a Tensor, got %s" % (path, type(actual).__name__)
    exp = np.asarray(expected)
    assert tuple(actual.shape) == exp.shape, "%s: shape %s != expected %s" % (path, tuple(actual.shape), exp.shape)
    if check_dtype:
        want = expected_dtype(exp, float_dtype, op)
        assert actual.dtype is want, "%s: dtype %s != expected %s" % (path, actual.dtype, want)
    got = to_numpy(actual)
    if exp.dtype.kind in "biu" and got.dtype.kind in "biu":
        np.testing.assert_array_equal(got, exp, err_msg=path)
    else:
        rtol, default_atol = op.tolerance(tol_dtype or actual.dtype._name)
        atol = default_atol if atol is None else atol
        np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=path)


def check_samples(op, samples, float_dtype, layout="contig", lowp=None):
    if not samples:
        pytest.skip("no samples of this kind")
    for s in samples:
        expected = call_ref(op, s.args, s.kwargs)
        actual = call_op(op, s.args, s.kwargs, layout, lowp)
        try:
            assert_match(actual, expected, op, lowp or float_dtype, atol=s.atol)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (s, e)) from None


# ------------------------------------------------------------------------------------------- forward


@pytest.mark.parametrize("op,dtype", op_params("forward", lambda op: op.dtypes))
def test_forward(op, dtype, rng):
    check_samples(op, op.samples(rng, dtype, "basic"), _dname(dtype))


@pytest.mark.parametrize("op,dtype", op_params("broadcast", (np.float64,), lambda op: op.dtypes and
                                               op.has_kind("broadcast")))
def test_broadcast(op, dtype, rng):
    check_samples(op, op.samples(rng, dtype, "broadcast"), "float64")


@pytest.mark.parametrize("op,dtype", op_params("zero_size", (np.float32,), lambda op: op.dtypes and
                                               op.has_kind("zero_size")))
def test_zero_size(op, dtype, rng):
    check_samples(op, op.samples(rng, dtype, "zero_size"), "float32")


@pytest.mark.parametrize("op,dtype", op_params("scalar", (np.float64,), lambda op: op.dtypes and
                                               op.has_kind("scalar")))
def test_scalar(op, dtype, rng):
    check_samples(op, op.samples(rng, dtype, "scalar"), "float64")


# ------------------------------------------------------------------------------------------- layouts


def _expand_first_dim(a):
    """arr with every index along dim 0 equal to the first (values an expanded tensor would show)."""
    return np.ascontiguousarray(np.broadcast_to(a[:1], a.shape))


def _expand_last_dim(a):
    return np.ascontiguousarray(np.broadcast_to(a[..., :1], a.shape))


@pytest.mark.parametrize("layout", ["transposed", "sliced", "expanded", "expanded_inner"])
@pytest.mark.parametrize("op,dtype", op_params("noncontiguous", (np.float32,), lambda op: bool(op.dtypes)))
def test_noncontiguous(op, dtype, layout, rng):
    if layout.startswith("expanded") and not op.expand_ok:
        pytest.skip("repeated values make this op's result ambiguous")
    samples = op.samples(rng, dtype, "basic")
    checked = 0
    for s in samples:
        args, kwargs = s.args, s.kwargs
        if layout.startswith("expanded"):
            inner = layout == "expanded_inner"
            ax = -1 if inner else 0
            expandable = lambda a: a.dtype.kind == "f" and a.ndim >= 1 and a.shape[ax] > 1  # noqa: E731
            if not s.expand or not any(expandable(a) for a in _arrays(args, kwargs)):
                continue
            rep = _expand_last_dim if inner else _expand_first_dim
            args = map_arrays(args, lambda a: rep(a) if expandable(a) else a)
            kwargs = map_arrays(kwargs, lambda a: rep(a) if expandable(a) else a)
            conv = lambda a: (ember.tensor(np.array(a[..., :1] if inner else a[:1])).expand(*a.shape)  # noqa: E731
                              if expandable(a) else ember.tensor(a))
            t_args, t_kwargs = map_arrays(args, conv), map_arrays(kwargs, conv)
        else:
            conv = lambda a: make_tensor(a, layout)  # noqa: E731
            t_args, t_kwargs = map_arrays(args, conv), map_arrays(kwargs, conv)
        tensors = _tensors(t_args, t_kwargs)
        if not any(not t.is_contiguous() for t in tensors):
            continue
        checked += 1
        expected = call_ref(op, args, kwargs)
        contiguous = op.op(*to_ember(args), **map_arrays(kwargs, make_tensor))
        actual = op.op(*t_args, **t_kwargs)
        try:
            assert_match(actual, expected, op, "float32", atol=s.atol)
            assert_match(actual, _as_numpy_tree(contiguous), op, "float32", check_dtype=False)
        except AssertionError as e:
            raise AssertionError("%s (%s)\n%s" % (s, layout, e)) from None
    if not checked:
        pytest.skip("no sample can be laid out this way")


def _arrays(args, kwargs):
    out = []
    map_arrays((args, kwargs), lambda a: out.append(a) or a)
    return out


def _tensors(args, kwargs):
    out = []

    def walk(o):
        if isinstance(o, ember.Tensor):
            out.append(o)
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x)
        elif isinstance(o, dict):
            for x in o.values():
                walk(x)
    walk((args, kwargs))
    return out


def _as_numpy_tree(out):
    if isinstance(out, ember.Tensor):
        return to_numpy(out)
    if isinstance(out, (list, tuple)):
        return type(out)(_as_numpy_tree(o) for o in out) if not hasattr(out, "_fields") else tuple(
            _as_numpy_tree(o) for o in out)
    return out


# ------------------------------------------------------------------------------------------- gradients


def _grad_samples(op, rng):
    """A few float64 samples: the first two and the last basic ones, one broadcast and one 0-d."""
    samples = op.samples(rng, np.float64)
    basic = [s for s in samples if s.grad and s.kind == "basic"]
    picked = basic[:2] + basic[2:][-1:]
    for kind in ("broadcast", "scalar"):
        picked += [s for s in samples if s.grad and s.kind == kind][:1]
    return picked


def _grad_setup(sample, layout="contig"):
    """(template, leaves, rebuild): leaves are float64 tensors requiring grad (laid out as `layout`);
    rebuild(template, leaves) gives the op's (args, kwargs)."""
    leaves = []

    def leaf(a):
        t = make_tensor(a, layout)
        if a.dtype.kind == "f":
            if layout != "contig":
                t = t.detach()  # a non-contiguous leaf
            t.requires_grad_(True)
            leaves.append(t)
            return ("leaf", len(leaves) - 1)
        return t

    template = map_arrays((sample.args, sample.kwargs), leaf)

    def rebuild(o, ts):
        if isinstance(o, tuple) and len(o) == 2 and o[0] == "leaf" and isinstance(o[1], int):
            return ts[o[1]]
        if isinstance(o, list):
            return [rebuild(x, ts) for x in o]
        if isinstance(o, tuple):
            return tuple(rebuild(x, ts) for x in o)
        if isinstance(o, dict):
            return {k: rebuild(v, ts) for k, v in o.items()}
        return o

    return template, leaves, rebuild


def _float_outputs(out):
    if isinstance(out, ember.Tensor):
        return (out,) if out.dtype.is_floating_point else ()
    res = ()
    for o in out:
        res += _float_outputs(o)
    return res


def _run_gradcheck(op, rng, second_order, layout="contig"):
    samples = _grad_samples(op, rng)
    if layout != "contig":
        samples = [s for s in samples if any(a.ndim >= 2 and a.dtype.kind == "f" for a in _arrays(s.args, s.kwargs))]
        samples = samples[:1]
    if not samples:
        pytest.skip("no differentiable samples")
    for s in samples:
        template, leaves, rebuild = _grad_setup(s, layout)
        if not leaves:
            continue

        def fn(*ts, _t=template, _r=rebuild):
            args, kwargs = _r(_t, ts)
            return _float_outputs(op.op(*args, **kwargs))
        check = ember.autograd.gradgradcheck if second_order else ember.autograd.gradcheck
        try:
            assert check(fn, tuple(leaves))
        except Exception as e:
            raise AssertionError("%s\n%s: %s" % (s, type(e).__name__, e)) from None


@pytest.mark.parametrize("op,dtype", op_params("gradcheck", where=lambda op: op.supports_grad and bool(op.dtypes)))
def test_gradcheck(op, dtype, rng):
    _run_gradcheck(op, rng, second_order=False)


@pytest.mark.parametrize("op,dtype", op_params("gradcheck_noncontiguous", where=lambda op: op.supports_grad and
                                               bool(op.dtypes)))
def test_gradcheck_noncontiguous(op, dtype, rng):
    """Gradients flow correctly into transposed (non-contiguous) leaf tensors."""
    _run_gradcheck(op, rng, second_order=False, layout="transposed")


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "maximum", "atan2", "pow", "where", "lerp"])
def test_mixed_dtype_gradients(name, rng):
    """float32 and float64 operands: each gradient has its input's dtype and the float64 values."""
    a64, b64 = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    cond = ember.tensor(rng.random((3, 4)) < 0.5)
    fns = {"where": lambda a, b: ember.where(cond, a, b), "lerp": lambda a, b: ember.lerp(a, b.to(a.dtype), 0.3)}
    fn = fns.get(name, getattr(ember, name))
    grads = []
    for dta, dtb in ((ember.float32, ember.float64), (ember.float64, ember.float64)):
        a = ember.tensor(a64, dtype=dta, requires_grad=True)
        b = ember.tensor(b64, dtype=dtb, requires_grad=True)
        fn(a, b).sum().backward()
        assert a.grad.dtype is dta and b.grad.dtype is dtb, name
        assert tuple(a.grad.shape) == (3, 4) and tuple(b.grad.shape) == (4,)
        grads.append((to_numpy(a.grad), to_numpy(b.grad)))
    for g32, g64 in zip(*grads):
        np.testing.assert_allclose(g32.astype(np.float64), g64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,dtype", op_params("gradgradcheck", where=lambda op: op.supports_gradgrad and
                                               bool(op.dtypes)))
def test_gradgradcheck(op, dtype, rng):
    _run_gradcheck(op, rng, second_order=True)


# ------------------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("op,dtype", op_params("int_dtypes", lambda op: op.int_dtypes))
def test_int_dtypes(op, dtype, rng):
    samples = [s for k in KINDS for s in op.samples(rng, dtype, k)]
    check_samples(op, samples, None)


@pytest.mark.parametrize("op,dtype", op_params("bool_dtype", (np.bool_,), lambda op: op.supports_bool))
def test_bool_dtype(op, dtype, rng):
    samples = [s for k in KINDS for s in op.samples(rng, dtype, k)]
    check_samples(op, samples, None)


@pytest.mark.parametrize("op,dtype", op_params("low_precision", ("float16", "bfloat16"),
                                               lambda op: op.low_precision and bool(op.dtypes)))
def test_low_precision(op, dtype, rng):
    """float16 / bfloat16 forward against a double reference computed on the same (rounded) values."""
    samples = op.samples(rng, np.float32, "basic") + op.samples(rng, np.float32, "broadcast")
    if dtype == "float16":
        rnd = lambda a: a.astype(np.float16) if a.dtype.kind == "f" else a  # noqa: E731
    else:
        rnd = lambda a: _round_bf16(a) if a.dtype.kind == "f" else a  # noqa: E731
    for s in samples:
        args, kwargs = map_arrays(s.args, rnd), map_arrays(s.kwargs, rnd)
        expected = call_ref(op, args, kwargs)
        lowp = "bfloat16" if dtype == "bfloat16" else None
        actual = op.op(*to_ember(args, lowp=lowp), **map_arrays(kwargs, lambda a: make_tensor(a, lowp=lowp)))
        try:
            assert_match(actual, expected, op, dtype, tol_dtype=dtype)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (s, e)) from None


# ------------------------------------------------------------------------------------------- variants


@pytest.mark.parametrize("op,dtype", op_params("method", (np.float32,), lambda op: op.method and bool(op.dtypes)))
def test_method(op, dtype, rng):
    """x.<method>(*rest) gives the same result as ember.<op>(x, *rest)."""
    checked = 0
    for s in op.samples(rng, dtype, "basic"):
        if not s.args or not isinstance(s.args[0], np.ndarray):
            continue
        args, kwargs = to_ember(s.args), map_arrays(s.kwargs, make_tensor)
        expected = _as_numpy_tree(op.op(*args, **kwargs))
        actual = getattr(args[0], op.method)(*args[1:], **kwargs)
        assert_match(actual, expected, op, "float32", check_dtype=False)
        checked += 1
    if not checked:
        pytest.skip("no sample starts with a tensor")


def _inplace_samples(op, rng, dtype):
    """Samples whose result has the first argument's shape and a floating dtype (so it can be written back)."""
    out = []
    for s in op.samples(rng, dtype, "basic"):
        if not s.args or not isinstance(s.args[0], np.ndarray):
            continue
        expected = call_ref(op, s.args, s.kwargs)
        exp = np.asarray(expected) if not isinstance(expected, (tuple, list)) else None
        if exp is not None and exp.shape == s.args[0].shape and exp.dtype.kind == "f":
            out.append((s, expected))
    return out


def _inplace_ok(op):
    return bool(op.dtypes) and hasattr(ember.Tensor, op.name + "_") and bool(
        _inplace_samples(op, np.random.default_rng(0), np.float64))


@pytest.mark.parametrize("op,dtype", op_params("inplace", (np.float64,), _inplace_ok))
def test_inplace(op, dtype, rng):
    """x.<op>_(*rest) writes ember.<op>(x, *rest) into x and returns x (when the result fits x)."""
    for s, expected in _inplace_samples(op, rng, dtype):
        args, kwargs = to_ember(s.args), map_arrays(s.kwargs, make_tensor)
        x = args[0]
        r = getattr(x, op.name + "_")(*args[1:], **kwargs)
        assert r is x
        assert_match(x, expected, op, "float64", atol=s.atol)


# ------------------------------------------------------------------------------------------- type promotion

# (lhs dtype, lhs shape or Python value, rhs dtype, rhs shape, expected dtype for add) as PyTorch defines them:
# categories bool < integer < float; a 0-d tensor only matters when its category is higher.
PROMOTION_CASES = [
    ("float32", (3, 4), "int64", (3, 4), "float32"),
    ("int32", (3, 4), "int64", (3, 4), "int64"),
    ("uint8", (3, 4), "int32", (3, 4), "int32"),
    ("float32", (3, 4), "float64", (3, 4), "float64"),
    ("float32", (3, 4), "float64", (), "float32"),
    ("int32", (3, 4), "int64", (), "int32"),
    ("int64", (3, 4), "float64", (), "float64"),
    ("float16", (3, 4), "float32", (), "float16"),
    ("bool", (3, 4), "float32", (3, 4), "float32"),
    ("bool", (3, 4), "int32", (3, 4), "int32"),
    ("int32", (3, 4), "python_float", 2.5, "float32"),
    ("float16", (3, 4), "python_float", 2.5, "float16"),
    ("uint8", (3, 4), "python_int", 3, "uint8"),
]
PROMOTION_OPS = ["add", "mul", "maximum", "div", "atan2", "eq", "where"]


def _promo_array(rng, dtype, shape):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("int32", "int64", "uint8"):
        return rng.integers(1, 6, size=shape).astype(dtype)
    return rng.uniform(0.5, 2.0, size=shape).astype(dtype)


@pytest.mark.parametrize("case", PROMOTION_CASES, ids=lambda c: "%s%s-%s%s" % (c[0], list(c[1]) if isinstance(
    c[1], tuple) else "", c[2], list(c[3]) if isinstance(c[3], tuple) else c[3]))
@pytest.mark.parametrize("name", PROMOTION_OPS)
def test_type_promotion(name, case, rng):
    ldt, lshape, rdt, rshape, want = case
    a = _promo_array(rng, ldt, lshape)
    b = rshape if rdt.startswith("python") else _promo_array(rng, rdt, rshape)
    if name == "where":
        cond = rng.random(lshape) < 0.5
        actual = ember.where(ember.tensor(cond), ember.tensor(a), ember.tensor(b) if isinstance(b, np.ndarray)
                             else b)
        expected = np.where(cond, a.astype(np.float64), np.asarray(b, dtype=np.float64))
    else:
        actual = getattr(ember, name)(ember.tensor(a), ember.tensor(b) if isinstance(b, np.ndarray) else b)
        ref = {"add": np.add, "mul": np.multiply, "maximum": np.maximum, "div": np.true_divide,
               "atan2": np.arctan2, "eq": np.equal}[name]
        expected = ref(a.astype(np.float64), np.asarray(b, dtype=np.float64))
    if name == "eq":
        want = "bool"
    elif name in ("div", "atan2") and want in ("int32", "int64", "uint8"):
        want = "float32"
    assert actual.dtype is EMBER_BY_NAME[want], "%s(%s, %s): %s, expected %s" % (name, ldt, rdt, actual.dtype, want)
    got = to_numpy(actual).astype(np.float64)
    rtol, atol = DEFAULT_TOL.get(want, (0, 0))
    if want in ("int32", "int64", "uint8"):
        expected = expected.astype(want).astype(np.float64)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------- PyTorch parity


def _to_torch(torch, obj):
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj, order="C"))
    if isinstance(obj, list):
        return [_to_torch(torch, o) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_to_torch(torch, o) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_torch(torch, v) for k, v in obj.items()}
    return obj


def _torch_tree(torch, out):
    if isinstance(out, torch.Tensor):
        return out.detach().numpy()
    if isinstance(out, (list, tuple)):
        return [_torch_tree(torch, o) for o in out]
    return out


def _torch_dtype_names(torch, out):
    if isinstance(out, torch.Tensor):
        return [str(out.dtype).replace("torch.", "")]
    if isinstance(out, (list, tuple)):
        return [d for o in out for d in _torch_dtype_names(torch, o)]
    return []


def _ember_dtype_names(out):
    if isinstance(out, ember.Tensor):
        return [out.dtype._name]
    if isinstance(out, (list, tuple)):
        return [d for o in out for d in _ember_dtype_names(o)]
    return []


def _parity_dtypes(op):
    return tuple(op.dtypes[:1]) + tuple(op.int_dtypes[:2]) + ((np.bool_,) if op.supports_bool else ())


@pytest.mark.parametrize("op,dtype", op_params("torch_parity", _parity_dtypes, lambda op: op.torch_ok))
def test_torch_parity(op, dtype, rng):
    """Same samples through PyTorch: identical result dtypes and shapes, values within tolerance."""
    torch = pytest.importorskip("torch")
    fn = op.get_torch_fn(torch)
    for s in [s for k in KINDS for s in op.samples(rng, dtype, k)]:
        t_args, t_kwargs = _to_torch(torch, s.args), _to_torch(torch, s.kwargs)
        expected = fn(*t_args, **t_kwargs)
        actual = op.op(*to_ember(s.args), **map_arrays(s.kwargs, make_tensor))
        try:
            assert _ember_dtype_names(actual) == _torch_dtype_names(torch, expected), "dtypes differ"
            assert_match(actual, _torch_tree(torch, expected), op, None, check_dtype=False)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (s, e)) from None


# ------------------------------------------------------------------------------------------- error inputs


def _error_params():
    out = []
    for op in op_db:
        if op.error_inputs is None:
            continue
        for i, e in enumerate(op.error_inputs(Maker(np.random.default_rng(0), np.float32))):
            marks = [pytest.mark.xfail(reason=e.xfail, strict=True)] if e.xfail else []
            out.append(pytest.param(op, i, id="%s-%s" % (op.name, e.name.replace(" ", "_")), marks=marks))
    return out


@pytest.mark.parametrize("op,index", _error_params())
def test_errors(op, index, rng):
    """Invalid inputs raise a Python exception (checked before memory is touched) instead of returning junk."""
    e = op.error_inputs(Maker(rng, np.float32))[index]
    args, kwargs = to_ember(e.sample.args), map_arrays(e.sample.kwargs, make_tensor)
    with pytest.raises(e.error, match=e.match):
        op.op(*args, **kwargs)


@pytest.mark.parametrize("op,dtype", op_params("int32_index", (np.float32,), lambda op: op.int32_index))
def test_int32_indices(op, dtype, rng):
    """int32 index tensors give the same result as int64 ones (PyTorch accepts both for these ops)."""
    samples = op.samples(rng, dtype, "basic")
    as32 = lambda a: a.astype(np.int32) if a.dtype == np.int64 else a  # noqa: E731
    for s in samples:
        expected = call_ref(op, s.args, s.kwargs)
        actual = call_op(op, map_arrays(s.args, as32), map_arrays(s.kwargs, as32))
        assert_match(actual, expected, op, "float32")


# ------------------------------------------------------------------------------------------- edge cases

# op, int dtype, PyTorch's result for op(INT_MIN, -1): the hardware division traps (SIGFPE) on x86
INT_MIN_CASES = [
    ("floor_divide", "int64", -2 ** 63), ("floor_divide", "int32", -2 ** 31),
    ("remainder", "int64", 0), ("remainder", "int32", 0), ("fmod", "int64", 0),
]


@pytest.mark.parametrize("name,dtype,want", INT_MIN_CASES, ids=["%s-%s" % c[:2] for c in INT_MIN_CASES])
def test_integer_division_overflow_does_not_crash(name, dtype, want):
    code = ("import ember\nx = ember.tensor([%d, 7], dtype=ember.%s)\n"
            "print(ember.%s(x, -1).tolist())" % (-2 ** (63 if dtype == "int64" else 31), dtype, name))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, "process died with return code %d" % proc.returncode
    assert proc.stdout.split("\n")[0] == str([want, {"floor_divide": -7}.get(name, 0)])


@pytest.mark.parametrize("name,kwargs", [
    ("floor_divide", {}), ("remainder", {}), ("fmod", {}), ("div_floor", {"rounding_mode": "floor"}),
    ("div_trunc", {"rounding_mode": "trunc"}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_integer_division_by_zero_raises(name, kwargs):
    fn = getattr(ember, name.split("_")[0] if name.startswith("div_") else name)
    with pytest.raises((ZeroDivisionError, RuntimeError), match="(?i)division by zero|ZeroDivision"):
        fn(ember.tensor([5, -3, 0]), ember.tensor([0, 1, 2]), **kwargs)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_backward_without_degrees_of_freedom(name, rng):
    x = ember.tensor(rng.uniform(-1, 1, (3, 1)), requires_grad=True)
    y = getattr(ember, name)(x, 1)  # one element per row: correction=1 leaves no degrees of freedom
    assert np.isnan(to_numpy(y.detach())).all()
    y.sum().backward()
    assert x.grad is not None and np.isnan(to_numpy(x.grad)).all()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_accumulates_in_float32(dtype):
    """3000 ones: a float16 accumulator would stop at 2048; results are float32 sums rounded once."""
    want = 3000.0 if dtype == "float16" else 3008.0  # 3000 rounded to bfloat16
    d = EMBER_BY_NAME[dtype]
    ones = ember.ones(3000, dtype=d)
    results = {
        "sum": ember.sum(ones), "cumsum": ember.cumsum(ones, 0)[-1], "dot": ember.dot(ones, ones),
        "matmul": ember.matmul(ones.reshape(1, -1), ones.reshape(-1, 1))[0, 0],
        "mean": ember.mean(ones * 3) * 1000,
    }
    for name, r in results.items():
        assert r.dtype is d, name
        assert float(r.float().item()) == (want if name != "mean" else 3000.0 if dtype == "float16" else 3008.0), name


@pytest.mark.parametrize("name", ["sum", "mean", "cumsum", "prod"])
def test_reduction_dtype_argument(name, rng):
    """dtype= casts the input before reducing (float32 -> float64, int32 -> int64 / float64)."""
    x = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    fn = getattr(ember, name)
    args = (ember.tensor(x), 1)
    r = fn(*args, dtype=ember.float64)
    assert r.dtype is ember.float64
    ref = {"sum": np.sum, "mean": np.mean, "cumsum": np.cumsum, "prod": np.prod}[name](x.astype(np.float64), axis=1)
    np.testing.assert_allclose(to_numpy(r), ref, rtol=1e-12, atol=1e-12)
    if name != "mean":
        xi = rng.integers(-3, 4, (3, 4)).astype(np.int32)
        r = fn(ember.tensor(xi), 1, dtype=ember.int64)
        assert r.dtype is ember.int64
        ref = {"sum": np.sum, "cumsum": np.cumsum, "prod": np.prod}[name](xi.astype(np.int64), axis=1)
        np.testing.assert_array_equal(to_numpy(r), ref)


def test_return_type_fields(rng):
    x = ember.tensor(rng.uniform(-1, 1, (3, 4)))
    for r in (ember.sort(x), ember.topk(x, 2), ember.max(x, 1), ember.min(x, 1), ember.median(x, 1),
              ember.kthvalue(x, 2)):
        assert r.values is r[0] and r.indices is r[1] and r.indices.dtype is ember.int64
    r = ember.aminmax(x)
    assert r.min is r[0] and r.max is r[1]


def test_database_covers_requested_ops():
    required = """neg abs exp log log1p expm1 sqrt rsqrt reciprocal sin cos tanh sigmoid relu gelu silu sign floor
    ceil round clamp pow add sub mul div floor_divide remainder maximum minimum atan2 eq ne lt le gt ge logical_and
    logical_or logical_xor logical_not where isclose allclose equal isnan isinf isfinite nan_to_num sum mean prod
    max_all max_dim min_all min_dim argmax argmin var std norm logsumexp all any cumsum cat stack split chunk sort
    topk index_select gather scatter scatter_add masked_fill masked_select nonzero matmul tan atan sinh erf softplus
    cumprod amax logaddexp lerp addcmul einsum tril flip roll repeat""".split()
    missing = [n for n in required if n not in OPS_BY_NAME]
    assert not missing
    for op in op_db:
        for dt in op.dtypes:
            assert op.samples(np.random.default_rng(0), dt, "basic"), op.name
        assert set(FLOAT_DTYPES) >= set(op.dtypes)
