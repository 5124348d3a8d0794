"""ember.backends: the switches PyTorch code commonly sets (``torch.backends.cudnn.benchmark = True``,
``torch.backends.mps.is_available()``, ``torch.backends.cuda.matmul.allow_tf32``). Ember has no cuDNN, MPS or
CUDA backend, so the availability checks say False and the flags are stored but change nothing."""
import types

__all__ = ["cpu", "cuda", "cudnn", "mps", "mkldnn"]


def _flags_module(name, doc, **flags):
    m = types.ModuleType(__name__ + "." + name, doc)
    m.__dict__.update(flags)
    m.is_available = lambda: False
    return m


cudnn = _flags_module("cudnn", "cuDNN switches (no cuDNN in this build).", enabled=True, benchmark=False,
                      deterministic=False, allow_tf32=True)
cudnn.version = lambda: None
mps = _flags_module("mps", "Apple MPS (not in this build).")
mps.is_built = lambda: False
mkldnn = _flags_module("mkldnn", "oneDNN switches (Ember uses its own CPU kernels).", enabled=True)
cuda = _flags_module("cuda", "CUDA switches (no CUDA backend in this build).")
cuda.is_built = lambda: False
cuda.matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                    allow_bf16_reduced_precision_reduction=True)
cpu = types.ModuleType(__name__ + ".cpu", "CPU capability.")
cpu.get_cpu_capability = lambda: __import__("ember")._C.cpu_capability().upper()
