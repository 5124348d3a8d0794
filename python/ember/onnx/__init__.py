"""ember.onnx: export of a traced forward to an ONNX model (``ember.onnx.export``, as ``torch.onnx.export``).

Design: the forward runs once, eagerly, on the example inputs while the exporter records the operations that
touch values derived from those inputs. Recording happens at the public API boundary, the level a model's
source is written at: every function of ``ember``, ``ember.nn.functional`` and every ``Tensor`` method and
operator is wrapped for the duration of the export, and only the outermost call is recorded (``F.linear`` is
one node even though it calls matmul inside). A recorded op is turned into ONNX nodes by the converter of that
name in ``_symbolic`` (one Python function per op, taking the op's own signature). Recurrent layers are the one
place where the module, not its ops, is the unit: LSTM/GRU/RNN run a fused kernel, so the module call is
recorded and becomes ONNX's LSTM/GRU/RNN nodes.

Why this level rather than ``Function.apply``: autograd Functions are an implementation detail (C fast paths
skip them, several public ops are one Function with flags, some ops are none), while the public API is stable,
documented and is what a converter table can name in its errors. A safety net catches what is not traced: the
inputs are made to require grad (parameters do not during export), so a tensor computed from them by an
untraced path carries a grad_fn and the exporter stops naming it instead of baking it in as a constant. Ops
that involve no input-derived value (masks, parameter arithmetic) are folded into constants.

Shapes are traced statically; dynamic_axes marks input/output dims symbolic, and reshapes copy leading dims
from their input (ONNX Reshape's 0; expand keeps them as 1), so a dynamic batch axis works through
view(x.size(0), -1), flatten, attention and the recurrent layers. Sizes a forward reads (x.size(i)) are Python
ints, so a shape computed from them elsewhere (reshape(B * T, C), a new tensor of x's size) is fixed, and
attention fixes the sequence lengths.
Requires the ``onnx`` package (``pip install ember[onnx]``); tests check outputs with onnxruntime.
"""
import enum
import io
import os

__all__ = ["export", "is_in_onnx_export", "TrainingMode", "OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """The model could not be exported."""


class UnsupportedOperatorError(OnnxExporterError):
    """The traced forward used an operator (or an argument of one) that has no ONNX conversion."""


class TrainingMode(enum.IntEnum):
    """Mode of the model during export: EVAL (default, model.eval() for the export), PRESERVE, TRAINING."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


_DEFAULT_OPSET = 17
_OPSETS = range(17, 22)


def is_in_onnx_export():
    """True while ember.onnx.export is tracing a model."""
    from . import _tracer
    return _tracer.active() is not None


def export(model, args, f, export_params=True, verbose=False, training=TrainingMode.EVAL, input_names=None,
           output_names=None, operator_export_type=None, opset_version=None, do_constant_folding=True,
           dynamic_axes=None, keep_initializers_as_inputs=None, custom_opsets=None, export_modules_as_functions=False,
           autograd_inlining=True, **kwargs):
    """Exports model (an nn.Module or a function) run on args to the ONNX file f (a path or a binary file).

    args: one tensor, or a tuple of positional arguments whose last item may be a dict of keyword arguments.
    input_names / output_names name the graph's inputs (the tensors in args, in order) and outputs;
    dynamic_axes maps such a name to the symbolic dims ([0] or {0: "batch"}). opset_version: 17 to 21
    (default 17). export_params=False makes the parameters graph inputs after the model inputs. Ops that only
    involve constants are always folded (do_constant_folding is accepted for compatibility).
    Raises UnsupportedOperatorError naming an operator that cannot be exported.
    """
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError("ember.onnx.export needs the onnx package: pip install onnx (or ember[onnx])") from e
    for name, value, default in (("operator_export_type", operator_export_type, None),
                                 ("custom_opsets", custom_opsets, None),
                                 ("export_modules_as_functions", export_modules_as_functions, False)):
        if value not in (default, {}):
            raise ValueError("ember.onnx.export: %s=%r is not supported" % (name, value))
    kwargs.pop("dynamo", None)
    kwargs.pop("fallback", None)
    if kwargs:
        raise TypeError("export() got unexpected keyword arguments %s" % sorted(kwargs))
    opset = _DEFAULT_OPSET if opset_version is None else opset_version
    if opset not in _OPSETS:
        raise ValueError("opset_version must be in %d..%d, got %r" % (_OPSETS[0], _OPSETS[-1], opset_version))
    from . import _tracer
    proto = _tracer.trace(model, args, opset, export_params=export_params, training=TrainingMode(training),
                          input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes or {},
                          keep_initializers_as_inputs=bool(keep_initializers_as_inputs))
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.printer.to_text(proto.graph) if hasattr(onnx, "printer") else
              onnx.helper.printable_graph(proto.graph))
    if isinstance(f, (str, os.PathLike)):
        onnx.save_model(proto, os.fspath(f))
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(proto.SerializeToString())
    else:
        raise TypeError("export: f must be a path or a binary file object, got %s" % type(f).__name__)
    return None
