"""Shared helpers for tests/cpu: numpy <-> ember conversion, ember's functional namespace, optional PyTorch,
and low-precision rounding for the float16/bfloat16 paths."""
import numpy as np

import ember

try:  # ember.nn.functional once it exists; the ops it re-exports until then
    from ember.nn import functional as F  # noqa: F401
except ImportError:  # pragma: no cover - depends on how far the nn package has grown
    from ember._ops import nn as F  # noqa: F401

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # PyTorch is optional
    torch = None
    TF = None

needs_torch = __import__("pytest").mark.skipif(torch is None, reason="PyTorch is not installed")


def _tensor_copy(lib, a, requires_grad):
    t = lib.tensor(np.array(a, order="C"))
    if requires_grad:
        t.requires_grad_(True)
    return t


def E(a, requires_grad=False):
    """An ember tensor holding a copy of the numpy array a (C order)."""
    return _tensor_copy(ember, a, requires_grad)


def N(t):
    """A numpy copy of an ember tensor (float16/bfloat16 go through float32)."""
    if t.dtype in (ember.bfloat16, ember.float16):
        t = t.float()
    return np.array(t.detach().numpy(), copy=True)


def T(a, requires_grad=False):
    """A torch tensor holding a copy of a (PyTorch tests only)."""
    return _tensor_copy(torch, a, requires_grad)


def round_bf16(a):
    """float32 values rounded (to nearest even) onto the bfloat16 grid, still stored as float32."""
    b = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32).reshape(np.shape(a))


def round_f16(a):
    return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, msg=""):
    actual = N(actual) if isinstance(actual, ember.Tensor) else np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, "%sshape %s != %s" % (msg, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg)


TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def gemm_tol(dtype, k):
    """Tolerance for a K-long dot product of standard-normal values (error grows like sqrt(K))."""
    eps = 1.2e-7 if np.dtype(dtype) == np.float32 else 2.3e-16
    t = 8 * eps * np.sqrt(max(k, 1)) * 4
    return dict(rtol=t, atol=t * np.sqrt(max(k, 1)))


def has_capability(name):
    """Whether this CPU can run ember's `name` kernels (set_cpu_capability caps at what the CPU supports)."""
    prev = ember._C.cpu_capability()
    try:
        ember._C.set_cpu_capability(name)
        return ember._C.cpu_capability() == name
    finally:
        ember._C.set_cpu_capability(prev)


def run_isolated(code, env=None, timeout=120):
    """Runs code in a fresh interpreter that imports this ember (for checks that could crash the process or
    that need a clean environment); returns the CompletedProcess."""
    import os
    import subprocess
    import sys
    e = dict(os.environ)
    e.update(env or {})
    root = os.path.dirname(os.path.dirname(ember.__file__))
    e["PYTHONPATH"] = root + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=timeout)
