"""The host block cache (csrc/core/storage.cpp): freed blocks of 128 KiB and up are reused by the next request of
the same size instead of being mapped afresh (page faults and kernel zeroing every step), within a bounded
total; EMBER_CPU_CACHE_MB sets the bound (0 turns it off)."""
import os
import subprocess
import sys
import textwrap

import ember

BIG = 1 << 18  # float32 elements: 1 MiB


def test_a_freed_large_block_is_reused_and_zeros_still_zero():
    ember._C._host_cache_clear()
    x = ember.ones(BIG)
    ptr = x.data_ptr()
    del x
    assert ember._C._host_cache_bytes() >= BIG * 4
    y = ember.zeros(BIG)
    assert y.data_ptr() == ptr  # the same block, which held ones
    assert y.sum().item() == 0.0
    assert ember._C._host_cache_bytes() == 0
    del y
    ember._C._host_cache_clear()
    assert ember._C._host_cache_bytes() == 0


def test_small_blocks_and_other_sizes_are_not_served_from_the_cache():
    ember._C._host_cache_clear()
    small = ember.ones(1000)
    del small
    assert ember._C._host_cache_bytes() == 0  # malloc reuses small blocks itself
    x = ember.ones(BIG)
    del x
    held = ember._C._host_cache_bytes()
    z = ember.ones(BIG * 2)  # a different size: a new block, the cached one stays
    assert ember._C._host_cache_bytes() == held and z.sum().item() == BIG * 2
    ember._C._host_cache_clear()


def _child(code, env):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1:]  # the last line (an editable install may print its rebuild first)


def test_the_cache_is_bounded_and_can_be_turned_off():
    code = """
        import ember
        xs = [ember.ones(1 << 20) for _ in range(6)]  # 4 MiB each
        del xs
        print(ember._C._host_cache_bytes())
    """
    held, = _child(code, {"EMBER_CPU_CACHE_MB": "10"})
    assert 0 < int(held) <= 10 << 20
    off, = _child(code, {"EMBER_CPU_CACHE_MB": "0"})
    assert int(off) == 0
