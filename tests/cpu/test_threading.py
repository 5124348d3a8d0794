"""The thread pool (csrc/core/parallel.cpp): results do not depend on ember.set_num_threads (bitwise for
elementwise ops, reductions and the row-wise fused kernels; to rounding for GEMM and convolution, whose
partial sums may be split), the pool is usable from several Python threads, and after os.fork() a child
process can use Ember (the pool is rebuilt there)."""
import os
import sys
import threading
import time

import numpy as np
import pytest

import ember
from cpu_util import E, F, N


def run_with_threads(fn, counts=(1, 2)):
    """{n: fn()} with ember.set_num_threads(n), restoring the previous setting."""
    prev = ember.get_num_threads()
    out = {}
    try:
        for n in counts:
            ember.set_num_threads(n)
            assert ember.get_num_threads() == n
            out[n] = fn()
    finally:
        ember.set_num_threads(prev)
    return out


def test_set_num_threads_validation(restore_threads):
    ember.set_num_threads(3)
    assert ember.get_num_threads() == 3
    for bad in (0, -2):
        with pytest.raises(ValueError):
            ember.set_num_threads(bad)
    assert ember.get_num_threads() == 3


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    return {
        "v": rng.standard_normal(1_000_003).astype(np.float32),
        "m": rng.standard_normal((1031, 1537)).astype(np.float32),
        "m64": rng.standard_normal((517, 1029)),
        "row": rng.standard_normal(1537).astype(np.float32),
    }


def test_elementwise_bitwise(big):
    def f():
        v, m, row = E(big["v"]), E(big["m"]), E(big["row"])
        return [N(v.exp()), N(v * 3 + v.tanh()), N(m + row), N(ember.maximum(m.t(), m.t() * 0.5)),
                N(ember.where(m > 0, m, row))]
    r = run_with_threads(f, (1, 2, 3))
    for a, b, c in zip(r[1], r[2], r[3]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(r[1][0], np.exp(big["v"].astype(np.float64)), rtol=2e-6)


def test_reductions_bitwise(big):
    def f():
        v, m, m64 = E(big["v"]), E(big["m"]), E(big["m64"])
        return [N(v.sum()), N(v.mean()), N(m.sum(0)), N(m.sum(1)), N(m.t().sum(1)), N(m64.sum()),
                N(m64.var(1)), N(m.amax(0)), N(m.argmax(1)), N(v.cumsum(0)[-5:]), N(m.prod(1)),
                N((m * m).sum((0, 1)))]
    r = run_with_threads(f, (1, 2, 3))
    for i, (a, b, c) in enumerate(zip(r[1], r[2], r[3])):
        np.testing.assert_array_equal(a, b, err_msg="reduction %d" % i)
        np.testing.assert_array_equal(a, c, err_msg="reduction %d" % i)
    np.testing.assert_allclose(r[1][0], big["v"].astype(np.float64).sum(), rtol=1e-5)
    np.testing.assert_allclose(r[1][2], big["m"].astype(np.float64).sum(0), rtol=1e-4, atol=1e-4)


def test_fused_rowwise_bitwise(big):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 1031)).astype(np.float32)
    t = rng.integers(0, 1031, 256)
    xb = rng.standard_normal((16, 32, 20, 20)).astype(np.float32)

    def f():
        ex = E(x, True)
        outs = [F.softmax(ex, 1), F.log_softmax(ex, 0), F.layer_norm(ex, (1031,))]
        loss = F.cross_entropy(ex, E(t), label_smoothing=0.1) + sum(o.sum() * 0.01 for o in outs)
        loss.backward()
        eb = E(xb, True)
        rm, rv = E(np.zeros(32, np.float32)), E(np.ones(32, np.float32))
        y = F.batch_norm(eb, rm, rv, training=True)
        (y * y).sum().backward()
        mp = F.max_pool2d(eb, 3, 2, 1)
        ap = F.avg_pool2d(eb, 3, 2, 1)
        return [N(o) for o in outs] + [N(loss), N(ex.grad), N(y), N(rm), N(rv), N(eb.grad), N(mp), N(ap)]
    r = run_with_threads(f)
    for i, (a, b) in enumerate(zip(r[1], r[2])):
        np.testing.assert_array_equal(a, b, err_msg="output %d" % i)


def test_gemm_thread_independent(big):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((700, 513)).astype(np.float32)
    b = rng.standard_normal((513, 901)).astype(np.float32)
    bt = rng.standard_normal((901, 60)).astype(np.float32)

    def f():
        return [N(E(a) @ E(b)), N(E(a)[:60].t() @ E(bt).t()), N(ember.bmm(E(a).reshape(3, 100, -1)[:, :, :33],
                                                                             E(b)[:33, :300].expand(3, 33, 300)))]
    r = run_with_threads(f, (1, 2, 3))
    for x, y, z in zip(r[1], r[2], r[3]):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(x, z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r[1][0], a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_conv_thread_independent():
    rng = np.random.default_rng(3)
    # big enough for one GEMM per image (images split across threads, per-thread weight-gradient partials)
    x = rng.standard_normal((6, 16, 26, 26)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    g = rng.standard_normal((6, 32, 13, 13)).astype(np.float32)
    x1 = x[:1]  # one image: threads split the GEMMs instead of the images

    def f():
        res = []
        for xx, stride in ((x, 2), (x1, 1), (x, 1)):
            ex, ew, eb = E(xx, True), E(w, True), E(b, True)
            out = F.conv2d(ex, ew, eb, stride=stride, padding=1)
            gg = g[:xx.shape[0]] if stride == 2 else np.ones(tuple(out.shape), np.float32)
            out.backward(E(gg))
            res += [N(out), N(ex.grad), N(ew.grad), N(eb.grad)]
        return res
    r = run_with_threads(f, (1, 2, 4))
    for i, (a, b1, c) in enumerate(zip(r[1], r[2], r[4])):
        np.testing.assert_allclose(a, b1, rtol=1e-4, atol=1e-4, err_msg="tensor %d" % i)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4, err_msg="tensor %d" % i)


def test_many_python_threads(big):
    """Several Python threads calling Ember at once: the pool serves one job at a time and the others run
    inline, so every result stays right."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    ref_mm = a.astype(np.float64) @ b
    ref_sum = big["v"].astype(np.float64).sum()
    errors = []

    def work():
        try:
            for _ in range(5):
                np.testing.assert_allclose(N(E(a) @ E(b)), ref_mm, rtol=1e-4, atol=1e-3)
                np.testing.assert_allclose(float(E(big["v"]).sum()), ref_sum, rtol=1e-5)
                np.testing.assert_allclose(N(E(big["v"]).exp()[:1000]), np.exp(big["v"][:1000].astype(np.float64)),
                                           rtol=2e-6)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a thread hung"
    assert not errors, errors[0]


# ----------------------------------------------------------------------------------------------- fork


def _wait(pid, timeout):
    """Exit status of pid, or None when it did not finish within timeout (it is then killed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs os.fork (POSIX)")
@pytest.mark.parametrize("child_threads", [None, 1, 3])
def test_fork_child_uses_ember(restore_threads, child_threads):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 256)).astype(np.float32)
    v = rng.standard_normal(1_000_000).astype(np.float32)
    # references computed here: the child avoids numpy's BLAS, which has its own thread pool
    ref_mm = a.astype(np.float64) @ b
    ref_exp = np.exp(v.astype(np.float64))
    ember.set_num_threads(2)
    # the parent's pool has live worker threads at the moment of the fork
    parent_mm = N(E(a) @ E(b))
    N(E(v).exp())
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            if child_threads is not None:
                ember.set_num_threads(child_threads)
            for _ in range(3):
                r = N(E(a) @ E(b))  # 33 MFLOP: split across the pool
                e = N(E(v).exp())  # 1M elements: split across the pool
                s = float(E(v).sum())
                ok = (np.abs(r - ref_mm) <= 1e-3 + 1e-4 * np.abs(ref_mm)).all()
                ok = ok and (np.abs(e - ref_exp) <= 2e-6 * ref_exp).all()
                ok = ok and abs(s - v.astype(np.float64).sum()) <= 1e-5 * np.abs(v).sum()
                ok = ok and (r == parent_mm).all() if child_threads is None else ok
                if not ok:
                    break
            code = 0 if ok else 3
        except BaseException:  # noqa: BLE001 - the exit status carries the failure
            code = 2
        finally:
            os._exit(code)
    status = _wait(pid, 60)
    assert status is not None, "the forked child hung (deadlock in the thread pool after fork?)"
    assert os.WIFEXITED(status), "child killed by signal %d" % os.WTERMSIG(status)
    assert os.WEXITSTATUS(status) == 0, "child exit status %d (2: exception, 3: wrong result)" % (
        os.WEXITSTATUS(status))
    # the parent's pool still works
    np.testing.assert_array_equal(N(E(a) @ E(b)), parent_mm)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs os.fork (POSIX)")
def test_fork_while_other_thread_runs_ember(restore_threads):
    """Fork while another Python thread is inside a parallel region: the child must still get a working pool
    (its copy of the pool mutex may have been held at the moment of the fork)."""
    ember.set_num_threads(2)
    v = np.random.default_rng(6).standard_normal(2_000_000).astype(np.float32)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            E(v).exp().sum()
    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                r = float(E(v).sum())
                e = N(E(v[:100000]).exp())
                code = 0 if abs(r - v.astype(np.float64).sum()) < 1e-5 * np.abs(v).sum() and np.isfinite(e).all() \
                    else 3
            except BaseException:  # noqa: BLE001
                code = 2
            finally:
                os._exit(code)
        status = _wait(pid, 60)
    finally:
        stop.set()
        t.join()
    assert status is not None, "the forked child hung"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
