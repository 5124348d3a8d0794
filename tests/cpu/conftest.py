"""Fixtures for the CPU kernel tests: a per-test seeded numpy Generator, a forced CPU capability (GEMM and
pointwise dispatch paths) and a forced thread count, each restored afterwards."""
import zlib

import numpy as np
import pytest

import ember

CAPABILITIES = ("default", "avx2", "avx512")


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=CAPABILITIES)
def capability(request):
    """Runs the test with ember._C.set_cpu_capability(param); skips when the CPU cannot run that level (the
    setter caps it at what the CPU supports)."""
    prev = ember._C.cpu_capability()
    ember._C.set_cpu_capability(request.param)
    try:
        if ember._C.cpu_capability() != request.param:
            pytest.skip("this CPU does not support %s" % request.param)
        yield request.param
    finally:
        ember._C.set_cpu_capability(prev)


@pytest.fixture
def restore_threads():
    n = ember.get_num_threads()
    yield n
    ember.set_num_threads(n)


@pytest.fixture(params=("gemm", "direct"))
def conv_algorithm(request):
    """Forces the convolution kernels: im2col + packed GEMM, or the direct stride-1 kernels (strided
    convolutions still take the GEMM); restores the automatic choice afterwards."""
    ember._C._set_conv_algorithm(request.param)
    try:
        yield request.param
    finally:
        ember._C._set_conv_algorithm("auto")
