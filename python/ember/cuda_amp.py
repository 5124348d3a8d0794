"""ember.cuda.amp: the deprecated CUDA spellings of ``ember.amp.autocast("cuda")`` and ``GradScaler("cuda")``.

A module of its own because ember.cuda is a single module file: it is attached as ``ember.cuda.amp`` (and
registered as the importable module "ember.cuda.amp") by the package.
"""
import sys
import warnings

from . import _C
from .amp import autocast as _autocast, GradScaler as _GradScaler
from .amp.autocast_mode import custom_bwd as _custom_bwd, custom_fwd as _custom_fwd

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]


class autocast(_autocast):
    """``ember.cuda.amp.autocast(args...)`` is ``ember.amp.autocast("cuda", args...)`` (deprecated, as in PyTorch)."""

    def __init__(self, enabled=True, dtype=_C.float16, cache_enabled=True):
        warnings.warn("`ember.cuda.amp.autocast(args...)` is deprecated. Please use `ember.amp.autocast('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """``ember.cuda.amp.GradScaler(args...)`` is ``ember.amp.GradScaler("cuda", args...)`` (deprecated)."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`ember.cuda.amp.GradScaler(args...)` is deprecated. Please use `ember.amp.GradScaler('cuda', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)


def custom_fwd(fwd=None, *, cast_inputs=None):
    """``ember.cuda.amp.custom_fwd`` is ``ember.amp.custom_fwd(device_type="cuda")`` (deprecated)."""
    warnings.warn("`ember.cuda.amp.custom_fwd(args...)` is deprecated. Please use `ember.amp.custom_fwd(args..., "
                  "device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return _custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """``ember.cuda.amp.custom_bwd`` is ``ember.amp.custom_bwd(device_type="cuda")`` (deprecated)."""
    warnings.warn("`ember.cuda.amp.custom_bwd(args...)` is deprecated. Please use `ember.amp.custom_bwd(args..., "
                  "device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return _custom_bwd(bwd, device_type="cuda")


amp = sys.modules[__name__]
sys.modules.setdefault("ember.cuda.amp", amp)
