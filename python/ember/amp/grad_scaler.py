"""GradScaler: dynamic loss scaling for float16/bfloat16 training, with PyTorch's API, schedule and errors.

The loss is multiplied by ``scale`` before backward so small float16 gradients do not flush to zero;
``unscale_`` divides the gradients back (and notes whether any is inf/NaN), ``step`` skips the optimizer
step when one was, and ``update`` backs the scale off after such a step or grows it after
``growth_interval`` clean ones.
"""
import enum
import warnings

from .. import _C
from .._tensor import Tensor
from ..autograd.grad_mode import no_grad

__all__ = ["GradScaler", "OptState"]


class OptState(enum.Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _ScalerArgumentError(ValueError, AssertionError):
    """A bad GradScaler hyper-parameter (PyTorch raises AssertionError; a ValueError is what Ember raises)."""


def _check_device(device):
    if not isinstance(device, str):
        device = getattr(device, "type", device)
    if device not in ("cpu", "cuda"):
        raise RuntimeError("Expected one of cpu, cuda device type at start of device string: %s" % (device,))
    return device


class GradScaler:
    """Dynamic loss scaling (``ember.amp.GradScaler(device)``).

    Typical use::

        scaler = ember.amp.GradScaler("cpu")
        with ember.autocast("cpu"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)   # skipped when a gradient is inf/NaN
        scaler.update()

    init_scale: the first scale; growth_factor (> 1) multiplies it after growth_interval steps without
    inf/NaN gradients; backoff_factor (< 1) multiplies it after a step that had them. enabled=False makes
    every method a pass-through (scale returns its input, step just steps).
    """

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = _check_device(device)
        self._enabled = bool(enabled)
        if self._device == "cuda" and self._enabled:
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("ember.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                              stacklevel=2)
                self._enabled = False
        if self._enabled:
            if not growth_factor > 1.0:
                raise _ScalerArgumentError("The growth factor must be > 1.0.")
            if not backoff_factor < 1.0:
                raise _ScalerArgumentError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = {}

    # ------------------------------------------------------------------------------------------ helpers
    def _check_scale_growth_tracker(self, funcname):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError("Attempted %s but _scale is None.  %s" % (funcname, fix))
        if self._growth_tracker is None:
            raise AssertionError("Attempted %s but _growth_tracker is None.  %s" % (funcname, fix))
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self):
        self._scale = _C.full((), float(self._init_scale), _C.float32)
        self._growth_tracker = _C.full((), int(self._init_growth_tracker), _C.int32)

    def _opt_state(self, optimizer):
        state = self._per_optimizer_states.get(id(optimizer))
        if state is None:
            state = self._per_optimizer_states[id(optimizer)] = _refresh_per_optimizer_state()
        return state

    # ------------------------------------------------------------------------------------------ API
    def scale(self, outputs):
        """outputs (a tensor, or nested lists/tuples/iterables of tensors) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker()
            return outputs * self._scale

        def apply_scale(val):
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker()
                return val * self._scale
            if isinstance(val, (list, tuple)):
                return type(val)(apply_scale(v) for v in val)
            if hasattr(val, "__iter__") and not isinstance(val, (str, bytes)):
                return map(apply_scale, val)
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, allow_fp16):
        """Checks every gradient for inf/NaN (before unscaling, as PyTorch) and multiplies it by inv_scale;
        returns {device type: float32 0-d tensor, 1 when some gradient there was not finite}."""
        all_finite = {}
        with no_grad():
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if not isinstance(param, Tensor):
                        raise AssertionError("expected param to be ember.Tensor, got %s" % type(param).__name__)
                    g = param.grad
                    if g is None:
                        continue
                    if not allow_fp16 and g.dtype is _C.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    if getattr(g, "is_sparse", False):
                        g = g._values()
                    dev = g.device.type
                    ok = _C.isfinite(g).all()
                    prev = all_finite.get(dev)
                    all_finite[dev] = ok if prev is None else _C.logical_and(prev, ok)
                    g.mul_(inv_scale)
        return {dev: _C.to_dtype(_C.logical_not(ok), _C.float32, False) for dev, ok in all_finite.items()}

    def unscale_(self, optimizer):
        """Divides optimizer's gradients by the scale in place (once per step, before step/update): use it
        to clip or inspect the true gradients. step() then does not unscale again."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._opt_state(optimizer)
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # 1 / scale in double, then rounded to float32, as PyTorch computes it
        inv_scale = _C.full((), float(1.0 / self._scale.item()), _C.float32)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, False)
        state["stage"] = OptState.UNSCALED

    def _maybe_opt_step(self, optimizer, state, *args, **kwargs):
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            return optimizer.step(*args, **kwargs)
        return None

    def step(self, optimizer, *args, **kwargs):
        """Unscales the gradients (unless unscale_ already did) and runs optimizer.step(*args, **kwargs)
        unless some gradient is inf/NaN. Returns what optimizer.step returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._opt_state(optimizer)
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = self._maybe_opt_step(optimizer, state, *args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale=None):
        """Ends the iteration: sets the scale to new_scale when given, else backs it off (some optimizer
        saw inf/NaN this iteration) or grows it (growth_interval clean iterations in a row)."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                self._scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element ember.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                if new_scale.device.type != self._device:
                    raise AssertionError(reason)
                self._scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [f for state in self._per_optimizer_states.values()
                          for f in state["found_inf_per_device"].values()]
            if len(found_infs) == 0:
                raise AssertionError("No inf checks were recorded prior to update.")
            found = sum(f.item() for f in found_infs)
            scale = self._scale.item()
            if found:
                self._scale.fill_(scale * self._backoff_factor)
                self._growth_tracker.fill_(0)
            else:
                successful = self._growth_tracker.item() + 1
                if successful == self._growth_interval:
                    grown = _C.full((), scale * self._growth_factor, _C.float32)  # rounded to float32
                    if bool(_C.isfinite(grown).all()):
                        self._scale.copy_(grown)
                    successful = 0
                self._growth_tracker.fill_(successful)
        self._per_optimizer_states = {}

    # ------------------------------------------------------------------------------------------ accessors
    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if self._enabled:
            return float(self._init_scale) if self._scale is None else self._scale.item()
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def _get_growth_tracker(self):
        if self._enabled:
            return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())
        return 0

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """scale, growth_factor, backoff_factor, growth_interval and _growth_tracker ({} when disabled)."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(float(state_dict["scale"]))
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(int(state_dict["_growth_tracker"]))

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                     "or at the end after scaler.update().")
            # the scale tensors are rebuilt lazily from the plain numbers
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _check_inf_per_device(self, optimizer):
        """Runs the inf/NaN check alone (gradients unscaled by 1, i.e. unchanged); returns it per device."""
        self._check_scale_growth_tracker("_check_inf_per_device")
        one = _C.full((), 1.0, _C.float32)
        state = self._opt_state(optimizer)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, one, True)
        return state["found_inf_per_device"]

    def _found_inf_per_device(self, optimizer):
        return self._opt_state(optimizer)["found_inf_per_device"]
