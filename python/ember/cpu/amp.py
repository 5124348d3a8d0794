"""ember.cpu.amp: the deprecated CPU spellings of ``ember.amp.autocast("cpu")`` and ``GradScaler("cpu")``."""
import warnings

from .. import _C, amp as _amp

__all__ = ["autocast", "GradScaler"]


class autocast(_amp.autocast):
    """``ember.cpu.amp.autocast(args...)`` is ``ember.amp.autocast("cpu", args...)`` (deprecated, as in PyTorch)."""

    def __init__(self, enabled=True, dtype=_C.bfloat16, cache_enabled=True):
        warnings.warn("`ember.cpu.amp.autocast(args...)` is deprecated. Please use `ember.amp.autocast('cpu', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``ember.cpu.amp.GradScaler(args...)`` is ``ember.amp.GradScaler("cpu", args...)`` (deprecated)."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        warnings.warn("`ember.cpu.amp.GradScaler(args...)` is deprecated. Please use `ember.amp.GradScaler('cpu', "
                      "args...)` instead.", FutureWarning, stacklevel=2)
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor, backoff_factor=backoff_factor,
                         growth_interval=growth_interval, enabled=enabled)
