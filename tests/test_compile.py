"""ember.compile: torch.compile's signature and argument checks, returning the model unchanged (eager)."""
import inspect

import numpy as np
import pytest

import ember


def test_returns_modules_and_functions_unchanged():
    net = ember.nn.Linear(3, 2)
    assert ember.compile(net) is net
    assert ember.compile(net, backend="eager", fullgraph=True, dynamic=False) is net
    assert list(ember.compile(net).state_dict()) == ["weight", "bias"]

    def f(x):
        return (x * 2).sum()
    assert ember.compile(f, mode="max-autotune") is f
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    ember.compile(f)(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_decorator_forms():
    @ember.compile
    def g(x):
        return x + 1

    @ember.compile(fullgraph=True, backend="inductor", options={"triton.cudagraphs": False})
    def h(x):
        return x * 3

    @ember.compile()
    def k(x):
        return -x
    assert g.__name__ == "g" and g(1) == 2 and h(2) == 6 and k(4) == -4
    deco = ember.compile(disable=True)
    assert callable(deco) and deco(abs) is abs


def test_callable_backend_is_accepted_and_never_called():
    calls = []

    def backend(gm, example_inputs):
        calls.append(1)
        return gm
    assert ember.compile(abs, backend=backend)(-3) == 3 and calls == []


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(mode="fast"), RuntimeError, "Unrecognized mode=fast"),
    (dict(mode="default", options={}), RuntimeError, "Either mode or options"),
    (dict(backend="nope"), RuntimeError, "Invalid backend: 'nope'"),
    (dict(backend=5), TypeError, "backend must be"),
    (dict(dynamic="yes"), TypeError, "dynamic must be"),
    (dict(options=[1]), TypeError, "options must be a dict"),
])
def test_bad_arguments_raise_like_torch(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ember.compile(abs, **kwargs)
    with pytest.raises(exc, match=match):  # the decorator form checks when it is created
        ember.compile(**kwargs)


def test_non_callable_model():
    with pytest.raises(TypeError, match="A callable function is expected"):
        ember.compile(5)


def test_signature_matches_torch():
    params = inspect.signature(ember.compile).parameters
    assert list(params)[:7] == ["model", "fullgraph", "dynamic", "backend", "mode", "options", "disable"]
    assert params["backend"].default == "inductor" and params["fullgraph"].default is False
    assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in list(params)[1:])
