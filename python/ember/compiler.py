"""``ember.compiler``: the parts of ``torch.compiler`` that programs call around ``torch.compile``.

Ember has no graph compiler (``ember.compile`` returns the model unchanged and everything runs eagerly), so
nothing is ever being compiled or exported by Dynamo: ``is_compiling()`` is False, ``disable`` and the
graph-placement decorators return the function they are given, and ``reset`` has no cache to clear. Arguments
are still checked, so a wrong call fails as loudly as it would in PyTorch.
"""
from ._compile import _BACKENDS, compile

__all__ = ["compile", "reset", "disable", "allow_in_graph", "assume_constant_result", "is_compiling",
           "is_dynamo_compiling", "is_exporting", "list_backends", "cudagraph_mark_step_begin"]

# the backends PyTorch tags "debug" or "experimental" (hidden by list_backends() unless exclude_tags=())
_DEBUG_BACKENDS = frozenset(["eager", "aot_eager", "aot_eager_decomp_partition", "aot_eager_default_partitioner",
                             "aot_ts", "cudagraphs_inner", "onnxrt", "openxla_eval", "tensorrt", "torch_tensorrt",
                             "ipex"])


def _callable(fn, what):
    if not callable(fn):
        raise TypeError("%s expects a callable, got %s" % (what, type(fn).__name__))
    return fn


def reset():
    """Clears compilation caches; Ember keeps none (it never compiles), so there is nothing to clear."""


def disable(fn=None, recursive=True, *, reason=None):
    """Marks ``fn`` to run eagerly, which Ember always does: returns ``fn`` itself (or, called without it, a
    decorator that does)."""
    if not isinstance(recursive, bool):
        raise TypeError("disable(): recursive must be a bool, got %s" % type(recursive).__name__)
    if fn is None:
        return lambda f: _callable(f, "disable()")
    return _callable(fn, "disable()")


def allow_in_graph(fn):
    """Returns ``fn`` unchanged (there is no graph for it to be placed in); a list or tuple of functions is
    accepted as in PyTorch."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(f) for f in fn]
    return _callable(fn, "allow_in_graph()")


def assume_constant_result(fn):
    """Returns ``fn`` unchanged: eager execution calls it every time, which is what its result is assumed to
    equal."""
    return _callable(fn, "assume_constant_result()")


def is_compiling():
    """False: Ember code never runs inside a compiled graph."""
    return False


def is_dynamo_compiling():
    """False: Ember has no Dynamo tracing."""
    return False


def is_exporting():
    """False: Ember has no torch.export tracing (``ember.onnx.is_in_onnx_export()`` reports ONNX tracing)."""
    return False


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names ``ember.compile`` accepts, sorted; the debug ones are left out unless
    ``exclude_tags`` is empty, as in PyTorch."""
    if exclude_tags is None:
        exclude_tags = ()
    if isinstance(exclude_tags, str) or not all(isinstance(t, str) for t in exclude_tags):
        raise TypeError("list_backends(): exclude_tags must be a tuple of tag names")
    if exclude_tags:
        return sorted(b for b in _BACKENDS if b not in _DEBUG_BACKENDS)
    return sorted(_BACKENDS)


def cudagraph_mark_step_begin():
    """Marks the start of an inference or training step for CUDA graph trees; Ember captures no CUDA graphs."""
