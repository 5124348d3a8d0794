"""``ember.compile``: PyTorch's ``torch.compile`` entry point without a graph compiler.

Ember runs every model eagerly (as PyTorch does with ``backend="eager"``): ``compile`` validates its arguments
the way ``torch.compile`` does, so a misspelt mode or backend still fails loudly, and returns the model or
function itself, unchanged. That keeps ``model = torch.compile(model)`` and ``@torch.compile`` programs running,
with the same state_dict keys and attributes as the uncompiled model.
"""

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# the backends torch._dynamo registers (list_backends() plus the debug ones): a program naming any of them runs
_BACKENDS = ("inductor", "eager", "aot_eager", "aot_eager_decomp_partition", "aot_eager_default_partitioner",
             "aot_ts", "cudagraphs", "cudagraphs_inner", "onnxrt", "openxla", "openxla_eval", "tensorrt",
             "torch_tensorrt", "tvm", "ipex")


def _check(fullgraph, dynamic, backend, mode, options, disable):
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError("Unrecognized mode=%s, should be one of: %s" % (mode, ", ".join(_MODES)))
    if options is not None and not isinstance(options, dict):
        raise TypeError("compile(): options must be a dict of compiler options, got %s" % type(options).__name__)
    if dynamic is not None and not isinstance(dynamic, bool):
        raise TypeError("compile(): dynamic must be None or a bool, got %s" % type(dynamic).__name__)
    if isinstance(backend, str):
        if backend not in _BACKENDS:
            raise RuntimeError("Invalid backend: %r, expected one of %s (or a callable backend)"
                               % (backend, ", ".join(repr(b) for b in _BACKENDS)))
    elif backend is not None and not callable(backend):
        raise TypeError("compile(): backend must be a backend name or a callable, got %s" % type(backend).__name__)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """Returns ``model`` (an ``nn.Module`` or any callable) unchanged: Ember executes eagerly.

    Accepts ``torch.compile``'s arguments and checks them as it does (``mode`` and ``options`` are exclusive;
    ``mode`` is one of 'default', 'lite', 'reduce-overhead', 'max-autotune-no-cudagraphs', 'max-autotune';
    ``backend`` is a known backend name or a callable, which is never called). Called without a model it is a
    decorator: ``@ember.compile`` and ``@ember.compile(fullgraph=True)`` both work.
    """
    _check(fullgraph, dynamic, backend, mode, options, disable)
    if model is None:
        def decorate(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options,
                           disable=disable)
        return decorate
    if not callable(model):
        raise TypeError("A callable function is expected, but %s is provided." % type(model))
    return model
