"""ember.accelerator, ember.backends and the float32 matmul precision switch: the device-selection idioms of
PyTorch tutorials run and pick the CPU."""
import pytest

import ember


def test_accelerator_idiom_picks_cpu():
    device = ember.accelerator.current_accelerator().type if ember.accelerator.is_available() else "cpu"
    assert device == "cpu"
    assert ember.accelerator.device_count() == 0
    ember.accelerator.synchronize()
    with pytest.raises(RuntimeError, match="no accelerator"):
        ember.accelerator.set_device_index(0)


def test_backends_flags():
    dev = "cuda" if ember.cuda.is_available() else "mps" if ember.backends.mps.is_available() else "cpu"
    assert dev == "cpu"
    assert not ember.backends.mps.is_built() and not ember.backends.cudnn.is_available()
    ember.backends.cudnn.benchmark = True  # settable, as scripts do
    assert ember.backends.cudnn.benchmark is True
    ember.backends.cudnn.benchmark = False
    ember.backends.cuda.matmul.allow_tf32 = True
    ember.backends.cuda.matmul.allow_tf32 = False
    assert ember.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2", "AVX512")


def test_float32_matmul_precision():
    assert ember.get_float32_matmul_precision() == "highest"
    try:
        ember.set_float32_matmul_precision("high")
        assert ember.get_float32_matmul_precision() == "high"
    finally:
        ember.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="'highest', 'high' or 'medium'"):
        ember.set_float32_matmul_precision("fast")
