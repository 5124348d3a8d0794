"""Host-side logic of the CUDA GEMM, checked without a GPU: the row-major -> column-major argument mapping of
cublasGemmStridedBatchedEx (replayed here as a column-major BLAS over the operands' raw buffers and compared
with numpy's matmul), and the run-time library lookup through cuda-python (imported only when asked)."""
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import _C


def strided(rng, shape, order, batch_broadcast=False):
    """A [B, rows, cols] float64 array with the given memory layout: 'row', 'col' (each matrix transposed in
    memory), 'gap' (row-major with padded rows) or 'colgap'; a batch stride of 0 when batch_broadcast."""
    B, r, c = shape
    side = max(r, c) + 3
    base = rng.standard_normal((1 if batch_broadcast else B, side, side))
    if order == "row":
        x = np.ascontiguousarray(base[:, :r, :c])
    elif order == "col":
        x = np.ascontiguousarray(base[:, :c, :r]).transpose(0, 2, 1)
    elif order == "gap":
        x = base[:, :r, :c]
    else:
        x = np.ascontiguousarray(base[:, :c + 2, :r]).transpose(0, 2, 1)[:, :, :c]
    if batch_broadcast:
        x = np.broadcast_to(x, (B, r, c))
    assert x.shape == (B, r, c)
    return x


def elem_strides(x):
    return [s // x.itemsize for s in x.strides]


def column_major(buf, offset, rows, cols, ld, trans):
    """cuBLAS's op(X) (rows x cols) for a column-major X at buf[offset:] with leading dimension ld."""
    s = buf.itemsize
    if trans:  # X is stored cols x rows: element (r, c) of op(X) at c + r * ld
        return np.lib.stride_tricks.as_strided(buf[offset:], (rows, cols), (ld * s, s))
    return np.lib.stride_tricks.as_strided(buf[offset:], (rows, cols), (s, ld * s))


def base_buffer(x):
    """The flat buffer under x and x's element offset in it."""
    root = x
    while root.base is not None and isinstance(root.base, np.ndarray):
        root = root.base
    flat = root.reshape(-1) if root.flags.c_contiguous else np.ascontiguousarray(root).reshape(-1)
    assert np.shares_memory(flat, root)
    offset = (x.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // x.itemsize
    return flat, offset


def replay(plan, a, b, c):
    """Runs the planned column-major GEMM on the raw buffers of a, b and the output c (writing into c)."""
    abuf, aoff = base_buffer(a)
    bbuf, boff = base_buffer(b)
    cbuf, coff = base_buffer(c)
    (xa, xaoff), (xb, xboff) = ((bbuf, boff), (abuf, aoff)) if plan["swapped"] else ((abuf, aoff), (bbuf, boff))
    for i in range(plan["batch"]):
        opa = column_major(xa, xaoff + i * plan["stride_a"], plan["m"], plan["k"], plan["lda"], plan["trans_a"])
        opb = column_major(xb, xboff + i * plan["stride_b"], plan["k"], plan["n"], plan["ldb"], plan["trans_b"])
        out = np.lib.stride_tricks.as_strided(cbuf[coff + i * plan["stride_c"]:], (plan["m"], plan["n"]),
                                              (cbuf.itemsize, plan["ldc"] * cbuf.itemsize))
        out[...] = opa @ opb


CASES = [(B, M, N, K) for B in (1, 3) for (M, N, K) in [(5, 7, 4), (1, 6, 3), (6, 1, 5), (4, 5, 1), (1, 1, 1)]]


@pytest.mark.parametrize("out_order", ["row", "col"])
@pytest.mark.parametrize("a_order", ["row", "col", "gap", "colgap"])
@pytest.mark.parametrize("b_order", ["row", "col", "gap", "colgap"])
@pytest.mark.parametrize("B,M,N,K", CASES)
def test_cublas_argument_mapping_computes_the_product(B, M, N, K, a_order, b_order, out_order):
    rng = np.random.default_rng(B * 1000 + M * 100 + N * 10 + K)
    a = strided(rng, (B, M, K), a_order, batch_broadcast=(a_order == "gap" and B > 1))
    b = strided(rng, (B, K, N), b_order)
    c = np.zeros((B, M, N)) if out_order == "row" else np.zeros((B, N, M)).transpose(0, 2, 1)
    plan = _C._cublas_gemm_plan(B, M, N, K, elem_strides(a), elem_strides(b), elem_strides(c))
    assert plan is not None, (a.strides, b.strides, c.strides)
    replay(plan, a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12, atol=1e-12)


def test_cublas_plan_refuses_layouts_it_cannot_express():
    # expanded rows (stride 0 in a dim of size > 1) and no unit-stride dim: the caller must copy first
    assert _C._cublas_gemm_plan(1, 4, 5, 3, [12, 0, 1], [15, 5, 1], [20, 5, 1]) is None
    assert _C._cublas_gemm_plan(1, 4, 5, 3, [24, 6, 2], [15, 5, 1], [20, 5, 1]) is None
    assert _C._cublas_gemm_plan(1, 4, 5, 3, [12, 3, 1], [15, 5, 1], [40, 10, 2]) is None  # strided output
    assert _C._cublas_gemm_plan(1, 2 ** 31, 5, 3, [0, 3, 1], [15, 5, 1], [0, 5, 1]) is None  # beyond int
    with pytest.raises(ValueError, match="3 strides"):
        _C._cublas_gemm_plan(1, 4, 5, 3, [12, 3], [15, 5, 1], [20, 5, 1])


def test_row_major_product_maps_to_the_swapped_call():
    # C = A @ B row-major is cuBLAS's C^T = B^T A^T: no transposes, leading dims = row lengths
    p = _C._cublas_gemm_plan(2, 4, 5, 3, [12, 3, 1], [15, 5, 1], [20, 5, 1])
    assert p["swapped"] and not p["trans_a"] and not p["trans_b"]
    assert (p["m"], p["n"], p["k"], p["lda"], p["ldb"], p["ldc"]) == (5, 4, 3, 5, 3, 5)
    assert (p["stride_a"], p["stride_b"], p["stride_c"], p["batch"]) == (15, 12, 20, 2)


def test_library_lookup_reports_not_found_without_the_wheels():
    try:
        import cuda.pathfinder  # noqa: F401
        have_pathfinder = True
    except ImportError:
        have_pathfinder = False
    path = _C._locate_cuda_library("cublas")
    if not have_pathfinder:
        assert path == ""
    else:  # found only where the nvidia-cublas wheel is installed
        assert path == "" or "cublas" in path
    assert ember.cuda._find_nvidia_library("no-such-nvidia-library") == ""


def test_import_ember_does_not_import_cuda_python():
    code = "import sys, ember; bad = [m for m in sys.modules if m == 'cuda' or m.startswith('cuda.')]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_float32_matmul_precision_reaches_the_gemm_switch():
    assert not _C._float32_matmul_tf32()
    try:
        ember.set_float32_matmul_precision("high")
        assert _C._float32_matmul_tf32()
    finally:
        ember.set_float32_matmul_precision("highest")
    assert not _C._float32_matmul_tf32()
