"""Fuzz target: Ember's public ops and every ``ember._C`` binding, with random shapes, strides, dtypes and
arguments. Each case is one call; it must return or raise an ``Exception`` subclass (see _harness.py for what
counts as a finding, and why atheris' coverage stops at the Python side of ``_C``).

The op table is built at start-up from the live modules, so a new binding or public function is fuzzed
without editing this file:

* every name in ``dir(ember._C)``; argument kinds are read from the pybind11 signature in its docstring
  (``abs(arg0: Tensor) -> Tensor``); bindings without one (``_record``, ``_attach``, classes) get random
  arguments of random kinds;
* the public callables of ``ember``, ``ember.nn.functional``, ``ember.linalg``/``ember.special``/``ember.fft``
  when present, and the methods and operators of ``ember.Tensor``; argument kinds come from parameter names
  and defaults (``dim`` -> int, ``keepdim`` -> bool, ``dtype`` -> dtype, ...).

Every argument is sometimes replaced by one of another kind, so type checks are fuzzed too. Tensors are 0-d to
4-d, sizes 0..8, any of the eight dtypes, contiguous or not (transposed, sliced with a step, expanded, offset
into a larger storage), values with NaN/inf/extreme integers, sometimes requiring grad (and then backward is
sometimes run through the result).

Usage: python tools/fuzz/fuzz_ops.py --engine {random,atheris,replay,describe} [--time S] [files]
``--engine describe FILE`` prints the call a corpus file decodes to, as Python (the start of a repro).
"""
import inspect
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
from _harness import Finding, Reader, check_exception  # noqa: E402

import warnings  # noqa: E402

import numpy as np  # noqa: E402

import ember  # noqa: E402

C = ember._C
DTYPES = ("float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool", "int16", "int8")
SIZES = (0, 1, 2, 3, 4, 5, 7, 8)
EDGE_INTS = (0, -1, -2, 2 ** 31 - 1, 2 ** 31, -2 ** 31 - 1, 2 ** 32, 2 ** 62, 2 ** 63 - 1, -2 ** 63, 2 ** 63,
             2 ** 64, 1000, 65536, 10 ** 6, 100)
EDGE_FLOATS = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e308, 5e-324, 1e10, -1e10, 2.0 ** 63,
               0.5, -1.5, 1e-7)
STRINGS = ("cpu", "cuda", "cuda:0", "meta", "", "mean", "sum", "none", "constant", "reflect", "replicate",
           "circular", "nearest", "bilinear", "zeros", "border", "fro", "nuc", "tanh", "reduced", "complete",
           "auto", "gemm", "direct", "avx2", "default", "x" * 40, "cpu:1", "cuda:-1")

# --------------------------------------------------------------------------------------------- exclusions
# Names never called, each with the reason. Everything else in dir(ember._C) and the public namespaces is.
EXCLUDED = {
    # _C: these replace the Python objects/callbacks that `import ember` registered; a random argument would
    # break every later call in the process (the contract under test is per-call, not "survives sabotage")
    "_C._set_classes": "re-registers ember.Tensor/ember.Size (global; breaks all later ops)",
    "_C._init_record": "re-registers the autograd fast path's Python objects (global)",
    "_C._set_view_refresh": "replaces the view-history callback (global)",
    "_C._set_index_converter": "replaces the indexing converter callback (global)",
    "_C._set_cuda_library_locator": "replaces the CUDA library locator callback (global)",
    # _C: switches a simulated CUDA backend on the host for the rest of the process; no getter to restore
    "_C._set_host_cuda_backend": "turns on the host-simulated CUDA backend (global, no getter)",
    "_C._set_host_cuda_capacity": "sets the host-simulated CUDA memory capacity (global, no getter)",
    # _C: asks cuda.pathfinder to dlopen the named library: loading arbitrary system libraries runs their
    # initialisers in this process
    "_C._locate_cuda_library": "dlopens the library its argument names",
    # public: file I/O (checkpoint readers have their own target, fuzz_checkpoints.py)
    "ember.save": "writes files at a fuzzed path",
    "ember.load": "covered by fuzz_checkpoints.py",
    # public: global state with no getter to restore it
    "ember.set_printoptions": "global print options, no getter",
    "ember.autocast_increment_nesting": "unbalanced autocast nesting counter (global)",
    "ember.autocast_decrement_nesting": "unbalanced autocast nesting counter (global)",
    # Tensor: creates shared-memory segments that outlive the case
    "Tensor.share_memory_": "creates shared-memory segments",
    "Tensor.is_shared": "harmless, but pairs with share_memory_",
}

# global state that some calls change legitimately: restored after every case (getter, setter)
def _restorers():
    r = [
        (C.get_default_dtype, C.set_default_dtype),
        (C.get_num_threads, C.set_num_threads),
        (C.cpu_capability, C.set_cpu_capability),
        (C._float32_matmul_tf32, C._set_float32_matmul_tf32),
        (lambda: "auto", C._set_conv_algorithm),  # no getter; auto is the default
        (ember.is_grad_enabled, ember.set_grad_enabled),
        (ember.get_float32_matmul_precision, ember.set_float32_matmul_precision),
        (ember.are_deterministic_algorithms_enabled, ember.use_deterministic_algorithms),
        (ember.get_rng_state, ember.set_rng_state),
    ]
    for dev in ("cpu", "cuda"):
        r.append(((lambda d=dev: ember.is_autocast_enabled(d)), (lambda v, d=dev: ember.set_autocast_enabled(d, v))))
        r.append(((lambda d=dev: ember.get_autocast_dtype(d)), (lambda v, d=dev: ember.set_autocast_dtype(d, v))))
    r.append((ember.is_autocast_cache_enabled, ember.set_autocast_cache_enabled))
    return r


# ------------------------------------------------------------------------------------------ argument kinds
KINDS = ("T", "T?", "i", "i?", "f", "b", "il", "dt", "dt?", "s", "TL", "TL?", "bl", "o", "gen", "tup", "np",
         "cap", "none", "any")

_TYPE_KINDS = [
    (r"^Tensor$", "T"), (r"^Tensor \| None$", "T?"),
    (r"^typing\.SupportsInt \| typing\.SupportsIndex$", "i"),
    (r"^typing\.SupportsInt \| typing\.SupportsIndex \| None$", "i?"),
    (r"^typing\.SupportsFloat \| typing\.SupportsIndex$", "f"), (r"^bool$", "b"),
    (r"^(collections\.abc\.)?Sequence\[(int|typing\.SupportsInt \| typing\.SupportsIndex)\]$", "il"),
    (r"^dtype$", "dt"), (r"^dtype \| None$", "dt?"), (r"^str$", "s"),
    (r"^collections\.abc\.Sequence\[Tensor\]$", "TL"), (r"^collections\.abc\.Sequence\[Tensor \| None\]$", "TL?"),
    (r"^collections\.abc\.Sequence\[bool\]$", "bl"), (r"^object$", "o"), (r"^ember\._C\.Generator$", "gen"),
    (r"^tuple$", "tup"), (r"^numpy\.ndarray$", "np"), (r"CapsuleType$", "cap"),
]


def _split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _pybind_params(name, obj):
    """[(kind, optional)] from a pybind11 docstring, or None when it has no parseable signature."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    m = re.match(r"^%s\((.*)\) -> " % re.escape(name), doc.split("\n")[0])
    if not m:
        return None
    params = []
    for p in _split_top(m.group(1)):
        if ":" not in p:
            return None
        ptype = p.split(":", 1)[1].strip()
        optional = "=" in ptype
        ptype = ptype.split("=")[0].strip()
        kind = next((k for rx, k in _TYPE_KINDS if re.search(rx, ptype)), "any")
        params.append((kind, optional))
    return params


_TENSOR_NAMES = {"input", "self", "x", "x1", "x2", "y", "tensor", "other", "a", "b", "mat", "mat1", "mat2",
                 "vec", "vec1", "vec2", "weight", "bias", "target", "index", "mask", "src", "values", "grad",
                 "batch1", "batch2", "tensor1", "tensor2", "end", "exponent", "boundaries", "sorted_sequence",
                 "indices", "running_mean", "running_var", "query", "key", "value", "attn_mask", "log_probs",
                 "targets", "input_lengths", "target_lengths", "grid", "theta", "A", "B", "LU", "source",
                 "elements", "test_elements", "probs", "logits", "pos_weight", "input1", "input2", "weights",
                 "condition", "repeats", "out_like", "start"}
_BOOL_NAMES = re.compile(r"^(keepdim|inplace|training|sorted|largest|descending|unbiased|replacement|stable|"
                         r"right|out_int32|ceil_mode|count_include_pad|align_corners|return_\w+|requires_grad|"
                         r"upper|lower|some|compute_uv|full_matrices|accumulate|non_blocking|copy|pin_memory|"
                         r"is_causal|need_weights|log_target|reduce|size_average|hermitian|left|zero_infinity|"
                         r"equal_nan|full|batch_first|check_\w+|antialias|recompute_scale_factor|\w+_mode)$")
_INT_NAMES = re.compile(r"^(dim|axis|k|n|m|offset|dim0|dim1|dim2|diagonal|start_dim|end_dim|groups|"
                        r"num_samples|num_classes|chunks|sections|split_size_or_sections|shifts|steps|bins|"
                        r"minlength|low|high|padding_idx|upscale_factor|downscale_factor|ignore_index|"
                        r"blank|diagonal_offset|row|col|r|base|q|ord|source|destination|size|length|"
                        r"step|split_size|indices_or_sections|output_size|kernel_size|stride|padding|"
                        r"dilation|scale_factor|pad|dims|shape|normalized_shape|output_padding|repeats_\w*)$")
_LIST_NAMES = {"dims", "shape", "size", "kernel_size", "stride", "padding", "dilation", "output_size", "pad",
               "normalized_shape", "output_padding", "shifts", "scale_factor", "source", "destination",
               "indices_or_sections", "split_size_or_sections", "sizes", "perm"}
_FLOAT_NAMES = re.compile(r"^(p|alpha|beta|eps|value|lr|momentum|min|max|scale|negative_slope|lambd|"
                          r"threshold|rtol|atol|margin|delta|lower|upper|min_val|max_val|rcond|tol|"
                          r"nan|posinf|neginf|weight_decay|dropout_p|label_smoothing|mean|std|rate|"
                          r"lambda_|init|start|end|from_|to|correction|exponent|other|fill_value)$")


def _python_params(fn, method):
    """[(kind, optional, name)] for a Python callable, from parameter names and defaults."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = []
    for i, p in enumerate(sig.parameters.values()):
        if method and i == 0:
            continue  # self: the receiver
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.kind is p.VAR_POSITIONAL:
            params.append(("*", True, p.name))
            continue
        n, d = p.name, p.default
        optional = d is not p.empty
        if n == "out":
            kind = "none"
        elif n == "generator":
            kind = "gen"
        elif n in ("dtype",):
            kind = "dt?"
        elif n in ("device", "layout", "memory_format", "reduction", "mode", "padding_mode", "approximate",
                   "nonlinearity", "norm", "driver", "rounding_mode", "side", "interpolation", "indexing"):
            kind = "s"
        elif n in ("tensors", "inputs", "tensor_list", "seq", "operands"):
            kind = "TL"
        elif n in ("indices",) and method:
            kind = "o"
        elif _BOOL_NAMES.match(n) or isinstance(d, bool):
            kind = "b"
        elif n in _LIST_NAMES:
            kind = "il|i"
        elif _INT_NAMES.match(n) or (isinstance(d, int) and not isinstance(d, bool)):
            kind = "i?" if d is None else "i"
        elif isinstance(d, float) or _FLOAT_NAMES.match(n):
            kind = "f"
        elif isinstance(d, str):
            kind = "s"
        elif n in _TENSOR_NAMES or (i == 0 and not optional):
            kind = "T?" if d is None else "T"
        else:
            kind = "any"
        params.append((kind, optional, n))
    return params


_OPERATORS = ("__getitem__", "__setitem__", "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__",
              "__isub__", "__mul__", "__rmul__", "__imul__", "__truediv__", "__rtruediv__", "__itruediv__",
              "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__ipow__",
              "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__invert__", "__and__", "__or__", "__xor__",
              "__lshift__", "__rshift__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
              "__bool__", "__int__", "__float__", "__index__", "__len__", "__iter__", "__contains__",
              "__repr__", "__format__", "__array__", "__dlpack__", "__dlpack_device__", "__deepcopy__",
              "__reduce_ex__", "__hash__")


def build_table():
    """[(qualified name, callable or method name, params, is_method)] sorted by name: the fuzzed ops."""
    table = {}
    for n in dir(C):
        if n.startswith("__") or "_C." + n in EXCLUDED:
            continue
        obj = getattr(C, n)
        if not callable(obj):
            continue
        table["_C." + n] = (obj, _pybind_params(n, obj), False)
    mods = [("ember", ember)]
    import importlib
    for sub in ("nn.functional", "linalg", "special", "fft"):
        try:
            mods.append(("ember." + sub, importlib.import_module("ember." + sub)))
        except ImportError:
            pass
    for prefix, mod in mods:
        for n in dir(mod):
            if n.startswith("_") or prefix + "." + n in EXCLUDED:
                continue
            obj = getattr(mod, n)
            if not callable(obj) or inspect.ismodule(obj):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            table[prefix + "." + n] = (obj, _python_params(obj, False), False)
    for n in sorted(set(dir(ember.Tensor))):
        if (n.startswith("_") and n not in _OPERATORS) or "Tensor." + n in EXCLUDED:
            continue
        attr = getattr(ember.Tensor, n, None)
        if not callable(attr) or inspect.isclass(attr):
            continue
        params = _python_params(attr, True)
        if params is None:  # C-level method: its pybind11 docstring, or no signature
            params = _pybind_params(n, attr)
            if params:
                params = params[1:]  # self
        table["Tensor." + n] = (n, params, True)
    # EMBER_FUZZ_SKIP: ops with a known, open crash bug, left out of a run (the smoke test uses it so that a
    # recorded bug fails only its own corpus test); comma-separated qualified names, e.g. _C.index
    for k in filter(None, os.environ.get("EMBER_FUZZ_SKIP", "").split(",")):
        table.pop(k.strip(), None)
    return [(k,) + table[k] for k in sorted(table)]


TABLE = build_table()

# ----------------------------------------------------------------------------------------- argument specs
# A case decodes to specs (plain data); `make` turns a spec into the object, `src` into Python source.


def gen_int(r):
    if r.chance(12):
        return r.pick(EDGE_INTS)
    return r.int(-3, 9)


def gen_float(r):
    if r.chance(20):
        return r.pick(EDGE_FLOATS)
    return r.int(-400, 400) / 100.0


def gen_tensor_spec(r, allow_grad=True):
    ndim = r.pick((0, 1, 1, 2, 2, 2, 3, 3, 4))
    shape = tuple(r.pick(SIZES) if r.chance(70) else r.int(1, 3) for _ in range(ndim))
    dtype = r.pick(DTYPES)
    layout = r.pick(("contig", "contig", "contig", "transpose", "step", "expand", "offset"))
    vals = r.pick(("normal", "small_int", "special", "zeros", "extreme"))
    seed = r.int(0, 255)
    grad = allow_grad and dtype.startswith(("float", "bfloat")) and r.chance(15)
    exp_dim = r.int(0, max(ndim - 1, 0))
    return ("T", dtype, shape, layout, vals, seed, grad, exp_dim)


def gen_index(r, depth=0):
    k = r.int(0, 9)
    if k == 0:
        return ("lit", gen_int(r))
    if k == 1:
        return ("slice", [r.pick((None, gen_int(r))) for _ in range(3)])
    if k == 2:
        return ("lit", None)
    if k == 3:
        return ("lit", Ellipsis)
    if k == 4:
        return ("lit", r.bool())
    if k == 5 and depth == 0:
        return ("tuple", [gen_index(r, 1) for _ in range(r.int(0, 4))])
    if k == 6:
        return ("lit", [gen_int(r) for _ in range(r.int(0, 3))])
    if k == 7:
        return ("T", r.pick(("int64", "bool", "int32", "uint8")), (r.pick((0, 1, 2, 3)),), "contig",
                "small_int", r.int(0, 255), False, 0)
    return ("lit", r.int(-3, 3))


def gen_arg(r, kind, depth=0):
    if kind != "none" and r.chance(7) and depth == 0:
        kind = r.pick(KINDS)  # the wrong kind, on purpose
    if kind == "il|i":
        kind = r.pick(("il", "il", "i"))
    if kind == "any":
        kind = r.pick(("T", "T", "T", "i", "f", "il", "none", "b", "dt", "s"))
    if kind == "T":
        spec = gen_tensor_spec(r)
        return ("sp", spec) if r.chance(3) else spec  # now and then a sparse COO tensor of the same values
    if kind == "T?":
        return ("lit", None) if r.chance(30) else gen_tensor_spec(r)
    if kind == "i":
        return ("lit", gen_int(r))
    if kind == "i?":
        return ("lit", None) if r.chance(30) else ("lit", gen_int(r))
    if kind == "f":
        return ("lit", gen_float(r)) if r.chance(80) else ("lit", gen_int(r))
    if kind == "b":
        return ("lit", r.bool())
    if kind == "il":
        return ("lit", [gen_int(r) for _ in range(r.int(0, 4))])
    if kind in ("dt", "dt?"):
        if kind == "dt?" and r.chance(40):
            return ("lit", None)
        return ("dtype", r.pick(DTYPES))
    if kind == "s":
        return ("lit", r.pick(STRINGS))
    if kind in ("TL", "TL?"):
        n = r.int(0, 3)
        return ("list", [("lit", None) if kind == "TL?" and r.chance(25) else gen_tensor_spec(r)
                         for _ in range(n)])
    if kind == "bl":
        return ("lit", [r.bool() for _ in range(r.int(0, 3))])
    if kind == "o":
        return gen_index(r)
    if kind == "gen":
        return ("lit", None) if r.chance(50) else ("gen", r.int(0, 1000))
    if kind == "tup":
        return ("tuple", [("lit", gen_int(r)) for _ in range(r.int(0, 3))])
    if kind == "np":
        return ("np", gen_tensor_spec(r, False))
    if kind == "cap":
        return ("cap", gen_tensor_spec(r, False))
    return ("lit", None)


def decode(data):
    """bytes -> (qualified op name, self spec or None, [arg specs], {kw specs}, run_backward)."""
    r = Reader(data)
    name, obj, params, method = TABLE[r.int(0, len(TABLE) - 1)]
    self_spec = gen_tensor_spec(r) if method else None
    args, kwargs = [], {}
    if params is None:
        args = [gen_arg(r, "any") for _ in range(r.int(0, 4))]
    else:
        for p in params:
            kind, optional = p[0], p[1]
            pname = p[2] if len(p) > 2 else None
            if kind == "*":
                args += [gen_arg(r, r.pick(("i", "i", "T", "il"))) for _ in range(r.int(0, 4))]
                continue
            if optional and r.chance(50):
                continue
            spec = gen_arg(r, kind)
            if optional and pname and not kwargs.__len__() < 0 and (r.chance(60) or kwargs):
                kwargs[pname] = spec  # keyword once one optional was skipped (positional would shift)
            else:
                args.append(spec)
    return name, obj, method, self_spec, args, kwargs, r.chance(30)


def _values(dtype, n, vals, rng):
    if vals == "zeros":
        return np.zeros(n)
    if vals == "small_int":
        return rng.integers(-3, 6, n).astype(np.float64)
    if vals == "special":
        pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 1e-40, 65504.0, 70000.0])
        return pool[rng.integers(0, len(pool), n)]
    if vals == "extreme":
        return rng.choice(np.array([0, 1, -1, 127, 255, 2 ** 31 - 1, -2 ** 31, 2 ** 40, -2 ** 62],
                                   dtype=np.float64), n)
    return rng.standard_normal(n) * 3


_NP = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "int32": np.int32,
       "int64": np.int64, "uint8": np.uint8, "bool": np.bool_, "int16": np.int16, "int8": np.int8}


def make_tensor(dtype, shape, layout="contig", vals="normal", seed=0, grad=False, exp_dim=0):
    """The tensor a spec describes (also the helper a printed repro calls)."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    ndim = len(shape)
    if layout == "transpose" and ndim >= 2:
        base_shape = shape[::-1]
    elif layout == "step" and ndim >= 1:
        base_shape = (shape[0] * 2,) + shape[1:]
    elif layout == "expand" and ndim >= 1:
        base_shape = shape[:exp_dim] + (1,) + shape[exp_dim + 1:]
    else:
        base_shape = shape
    n = int(np.prod(base_shape, dtype=np.int64)) + (3 if layout == "offset" else 0)
    v = _values(dtype, n, vals, rng)
    if dtype == "bool":
        arr = v != 0
    elif dtype in ("bfloat16",):
        arr = v.astype(np.float32)
    elif dtype.startswith("float"):
        with np.errstate(all="ignore"):
            arr = v.astype(_NP[dtype])
    else:
        info = np.iinfo(_NP[dtype])
        arr = np.nan_to_num(v, nan=0, posinf=info.max, neginf=info.min).clip(info.min, info.max).astype(_NP[dtype])
    t = ember.from_numpy(np.ascontiguousarray(arr))
    if dtype == "bfloat16":
        t = t.to(ember.bfloat16)
    if layout == "offset":
        t = t[3:]
    t = t.reshape(base_shape)
    if layout == "transpose" and ndim >= 2:
        t = t.permute(*range(ndim - 1, -1, -1))
    elif layout == "step" and ndim >= 1:
        t = t[::2]
    elif layout == "expand" and ndim >= 1:
        t = t.expand(*shape)
    if grad:
        t.requires_grad_(True)
    return t


def make(spec):
    tag = spec[0]
    if tag == "lit":
        return spec[1]
    if tag == "T":
        return make_tensor(*spec[1:])
    if tag == "sp":
        return make_tensor(*spec[1][1:]).detach().to_sparse()
    if tag == "dtype":
        return getattr(ember, spec[1])
    if tag == "list":
        return [make(s) for s in spec[1]]
    if tag == "tuple":
        return tuple(make(s) for s in spec[1])
    if tag == "slice":
        return slice(*spec[1])
    if tag == "gen":
        g = ember.Generator()
        g.manual_seed(spec[1])
        return g
    if tag == "np":
        return C.to_numpy(make_tensor(*spec[1][1:6]))
    if tag == "cap":
        return C._to_dlpack(make_tensor(*spec[1][1:6]), False)
    raise AssertionError(tag)


def src(spec):
    tag = spec[0]
    if tag == "lit":
        return _harness.repr_arg(spec[1])
    if tag == "T":
        return "T(%r, %r%s)" % (spec[1], spec[2], "".join(", %s=%r" % (k, v) for k, v, d in zip(
            ("layout", "vals", "seed", "grad", "exp_dim"), spec[3:], ("contig", "normal", 0, False, 0))
            if v != d))
    if tag == "sp":
        return "%s.detach().to_sparse()" % src(spec[1])
    if tag == "dtype":
        return "ember." + spec[1]
    if tag == "list":
        return "[%s]" % ", ".join(src(s) for s in spec[1])
    if tag == "tuple":
        return "(%s%s)" % (", ".join(src(s) for s in spec[1]), "," if len(spec[1]) == 1 else "")
    if tag == "slice":
        return "slice(%s)" % ", ".join(_harness.repr_arg(v) for v in spec[1])
    if tag == "gen":
        return "ember.Generator().manual_seed(%d)" % spec[1]
    if tag == "np":
        return "ember._C.to_numpy(%s)" % src(spec[1])
    if tag == "cap":
        return "ember._C._to_dlpack(%s, False)" % src(spec[1])
    raise AssertionError(tag)


def describe(data):
    name, obj, method, self_spec, args, kwargs, back = decode(data)
    call_args = ", ".join([src(a) for a in args] + ["%s=%s" % (k, src(v)) for k, v in kwargs.items()])
    if method:
        call = "%s.%s(%s)" % (src(self_spec), name.split(".", 1)[1], call_args)
    else:
        call = "ember.%s(%s)" % (name, call_args) if name.startswith("_C.") else "%s(%s)" % (name, call_args)
    lines = ["import sys; sys.path.insert(0, 'tools/fuzz')", "import ember, ember.nn.functional",
             "from fuzz_ops import make_tensor as T", "out = " + call]
    if back:
        lines.append("# then: backward through out (float tensor requiring grad)")
    return "\n".join(lines)


RESTORE = _restorers()
STATS = {"ok": 0}
warnings.simplefilter("ignore")


def one(data):
    saved = [get() for get, _ in RESTORE]
    try:
        name, obj, method, self_spec, args, kwargs, back = decode(data)
        try:
            a = [make(s) for s in args]
            kw = {k: make(v) for k, v in kwargs.items()}
            if method:
                obj = getattr(make(self_spec), obj)
            out = obj(*a, **kw)
            if back and isinstance(out, ember.Tensor) and out.requires_grad and out.is_floating_point():
                out.sum().backward()
            if isinstance(out, ember.Tensor):
                repr(out)  # reads every element: catches results whose views point outside their storage
            STATS["ok"] += 1
        except Finding:
            raise
        except BaseException as exc:  # noqa: B902 - classifying is the point
            if isinstance(exc, KeyboardInterrupt):
                raise
            if os.environ.get("EMBER_FUZZ_STATS"):
                key = "%s %s" % (type(exc).__name__, str(exc)[:60])
                STATS[key] = STATS.get(key, 0) + 1
            try:
                check_exception(exc)
            except Finding as f:
                raise Finding("%s: %s" % (name, f)) from exc
    finally:
        for (get, put), v in zip(RESTORE, saved):
            try:
                put(v)
            except Exception:
                pass


DRIVER = _harness.Driver("ops", one, describe)
if os.environ.get("EMBER_FUZZ_STATS"):
    import atexit
    atexit.register(lambda: print(sorted(STATS.items(), key=lambda kv: -kv[1])[:25]))

if __name__ == "__main__":
    sys.exit(DRIVER.main())
