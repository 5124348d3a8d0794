"""Helpers shared by the ember.nn tests: numpy conversion, torch cross-checks and float64 gradcheck."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck


def npy(t):
    """An ember tensor (or a torch tensor) as a numpy array."""
    return t.detach().numpy()


def leaf(a, dtype=ember.float64):
    """A leaf tensor that requires grad, from array-like data."""
    return ember.tensor(np.asarray(a), dtype=dtype, requires_grad=True)


def randn(*shape, dtype=ember.float64, requires_grad=False, seed=None):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=requires_grad)


def close(a, b, atol=1e-5, rtol=1e-4):
    np.testing.assert_allclose(npy(a) if hasattr(a, "detach") else a, npy(b) if hasattr(b, "detach") else b,
                               atol=atol, rtol=rtol)


def check_grad(fn, *inputs, atol=1e-5, rtol=1e-3):
    """Float64 finite-difference check of fn's gradients with respect to the inputs that require grad."""
    assert gradcheck(fn, inputs, atol=atol, rtol=rtol)


def check_module_grad(module, *inputs):
    """gradcheck of a float64 module with respect to its inputs and every parameter."""
    module = module.double()
    params = [p for p in module.parameters() if p.requires_grad]
    n = len(inputs)

    def fn(*args):
        # gradcheck perturbs parameter data in place, so the module sees the perturbed values
        out = module(*args[:n])
        return out[0] if isinstance(out, tuple) else out
    assert gradcheck(fn, tuple(inputs) + tuple(params), atol=1e-5, rtol=1e-3)


def torch_or_skip():
    return pytest.importorskip("torch")


def to_torch(t, requires_grad=False):
    torch = torch_or_skip()
    r = torch.tensor(npy(t))
    return r.requires_grad_(requires_grad)


def copy_weights(ember_module, torch_module):
    """Loads ember_module's state_dict into torch_module: the keys must be the same, so this also checks naming."""
    torch = torch_or_skip()
    sd = {k: torch.tensor(npy(v)) for k, v in ember_module.state_dict().items()}
    result = torch_module.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return torch_module
