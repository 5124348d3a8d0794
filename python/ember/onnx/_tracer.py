"""The tracer behind ember.onnx.export: wraps the public op API, records calls on input-derived tensors, and
builds the ONNX graph through the converters in _symbolic (see the package docstring for the design)."""
import functools
import threading
import types

import numpy as np

from .. import _C
from .._tensor import Tensor
from . import OnnxExporterError, TrainingMode, UnsupportedOperatorError

_active = None


def active():
    return _active


# never recorded: they return no tensor, act on autograd state, or only read metadata
_SKIP = frozenset("""__new__ __repr__ __format__ __hash__ __bool__ __float__ __int__ __index__ __len__ __iter__
__array__ __deepcopy__ __reduce_ex__ __dir__ __contains__ __complex__ backward register_hook
register_post_accumulate_grad_hook requires_grad_ retain_grad tolist item numpy share_memory_ is_shared size dim
numel element_size stride storage_offset data_ptr is_contiguous is_floating_point type_as_string
new_zeros new_ones new_full new_empty new_tensor""".split())

_ONNX_DTYPES = {"float32": 1, "uint8": 2, "int8": 3, "int16": 5, "int32": 6, "int64": 7, "bool": 9, "float16": 10, "float64": 11,
                "bfloat16": 16}


def onnx_dtype(dtype):
    try:
        return _ONNX_DTYPES[dtype._name]
    except KeyError:
        raise UnsupportedOperatorError("dtype %s has no ONNX type" % dtype) from None


def numpy_dtype(dtype):
    """The numpy dtype of an ember dtype (float32 standing in for bfloat16, which numpy lacks)."""
    return np.dtype(np.float32) if dtype is _C.bfloat16 else _C.to_numpy(_C.empty((0,), dtype)).dtype


class Value:
    """A graph value as converters see it: its name and the traced tensor (static shape, dtype)."""

    __slots__ = ("name", "tensor")

    def __init__(self, name, tensor):
        self.name, self.tensor = name, tensor

    @property
    def shape(self):
        return tuple(self.tensor.shape)

    @property
    def dtype(self):
        return self.tensor.dtype

    def dim(self):
        return self.tensor.dim()

    def __repr__(self):
        return "Value(%s, %s)" % (self.name, list(self.shape))


class Graph:
    """Nodes, initializers and names; what converters emit into."""

    def __init__(self, opset):
        import onnx
        self.onnx = onnx
        self.opset = opset
        self.nodes, self.initializers = [], []
        self._n = 0
        self.op_name = None  # the op being converted, for error messages
        self.out = []        # its real output tensors (dtype, static shape)

    def fresh(self, hint="v"):
        self._n += 1
        return "%s_%d" % (hint, self._n)

    def op(self, op_type, inputs, outputs=1, **attrs):
        """Appends one node; inputs are Values, names or None (an omitted optional input). Returns the output
        name, or a list of them when outputs > 1."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        ins = ["" if i is None else (i.name if isinstance(i, Value) else i) for i in inputs]
        while ins and ins[-1] == "":
            ins.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op_type, ins, names, **attrs))
        return names[0] if outputs == 1 else names

    def const(self, array, name=None):
        """An initializer holding a numpy array (or a Python scalar / list)."""
        arr = np.asarray(array)
        name = name or self.fresh("const")
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def ints(self, values):
        return self.const(np.asarray(list(values), dtype=np.int64))

    def tensor_const(self, t, name=None):
        """An initializer with a tensor's values (bfloat16 stored as float32 and cast back)."""
        t = t.detach()
        if t.dtype is _C.bfloat16:
            return self.op("Cast", [self.const(t.float().numpy().copy(), name)], to=16)
        return self.const(t.contiguous().numpy().copy(), name)

    def scalar(self, value, dtype):
        """A 0-d constant of the given ember dtype."""
        name = self.const(np.asarray(value, dtype=numpy_dtype(dtype)))
        return self.op("Cast", [name], to=16) if dtype is _C.bfloat16 else name

    def reduce(self, op_type, x, axes, keepdims):
        """Reduce* with axes as an input (ReduceSum from opset 13, the others from 18) or an attribute."""
        if axes is None:
            return self.op(op_type, [x], keepdims=int(keepdims))
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    def unsupported(self, why):
        raise UnsupportedOperatorError("Exporting the operator '%s' to ONNX is not supported: %s"
                                       % (self.op_name, why))


class Tracer:
    def __init__(self, graph, params, export_params):
        self.graph = graph
        self.values = {}        # id(tensor) -> Value for input-derived tensors
        self.keep = []          # every traced tensor stays alive, so ids are not reused
        self.depth = 0
        self.params = params    # id(tensor) -> (name, tensor) for parameters and buffers
        self.param_values = {}  # id -> Value once used
        self.param_inputs = []  # (name, tensor) made graph inputs when export_params=False
        self.export_params = export_params
        self.consts = {}        # id(tensor) -> Value of a folded constant
        self.thread = threading.get_ident()  # ops other threads run meanwhile are not the model's

    def track(self, t, name):
        v = Value(name, t)
        self.values[id(t)] = v
        self.keep.append(t)
        return v

    def value(self, t):
        """The graph value of a tensor argument: traced, a parameter/buffer, or a constant."""
        v = self.values.get(id(t))
        if v is not None:
            return v
        if id(t) in self.param_values:
            return self.param_values[id(t)]
        if id(t) in self.params:
            name, p = self.params[id(t)]
            if self.export_params:
                v = Value(self.graph.tensor_const(p, name), p)
            else:
                v = Value(name, p)
                self.param_inputs.append((name, p))
            self.param_values[id(t)] = v
            return v
        if id(t) in self.consts:
            return self.consts[id(t)]
        if t.grad_fn is not None:
            raise UnsupportedOperatorError(
                "a tensor computed from the inputs by an operation the ONNX exporter does not trace (autograd "
                "node %s) reached '%s'; use ember / ember.nn.functional / Tensor ops in forward"
                % (type(t.grad_fn).__name__, self.graph.op_name))
        v = Value(self.graph.tensor_const(t), t)
        self.consts[id(t)] = v
        self.keep.append(t)
        return v

    def involves(self, objs):
        """True when some tensor among objs derives from the inputs (traced, or carrying a grad_fn: value()
        then names the untraced op that made it)."""
        for a in objs:
            if isinstance(a, Tensor):
                if id(a) in self.values or a.grad_fn is not None:
                    return True
            elif isinstance(a, (list, tuple)):
                if self.involves(a):
                    return True
            elif isinstance(a, dict):
                if self.involves(a.values()):
                    return True
        return False

    def to_values(self, a):
        if isinstance(a, Tensor):
            return self.value(a)
        if isinstance(a, tuple) and not hasattr(a, "_fields"):
            return tuple(self.to_values(x) for x in a)
        if isinstance(a, list):
            return [self.to_values(x) for x in a]
        return a

    def record(self, name, args, kwargs, out):
        from . import _symbolic
        fn = _symbolic.CONVERTERS.get(name)
        self.graph.op_name = name
        if fn is None:
            raise UnsupportedOperatorError("Exporting the operator '%s' to ONNX is not supported (opset %d): no "
                                           "converter for it in ember.onnx" % (name, self.graph.opset))
        outs = flatten_tensors(out)
        vargs = [self.to_values(a) for a in args]
        vkwargs = {k: self.to_values(v) for k, v in kwargs.items()}
        self.graph.out = outs
        names = fn(self.graph, *vargs, **vkwargs)
        names = [names] if isinstance(names, str) else list(names)
        if len(names) != len(outs):
            raise OnnxExporterError("internal: converter '%s' gave %d outputs for %d tensors"
                                    % (name, len(names), len(outs)))
        for t, n in zip(outs, names):
            self.track(t, n)


def flatten_tensors(obj):
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in flatten_tensors(o)]
    return []


def _wrap(name, fn):
    @functools.wraps(fn)
    def traced(*args, **kwargs):
        tr = _active
        if tr is None or tr.depth or tr.thread != threading.get_ident():
            return fn(*args, **kwargs)
        if name == "__setitem__" and tr.involves(args):
            tr.graph.op_name = name
            raise UnsupportedOperatorError("Exporting the operator '__setitem__' (in-place indexed assignment) "
                                           "to ONNX is not supported; build the tensor with where/cat instead")
        tr.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            tr.depth -= 1
        if flatten_tensors(out) and (tr.involves(args) or tr.involves(kwargs.values())):
            inplace = name.endswith("_") and not name.endswith("__") or name.startswith("__i") or \
                kwargs.get("inplace") is True
            canonical = name[:-1] if inplace and name.endswith("_") else name
            if inplace and isinstance(out, Tensor) and out._base is not None and id(out) in tr.values:
                tr.graph.op_name = name
                raise UnsupportedOperatorError("Exporting the in-place operator '%s' on a view to ONNX is not "
                                               "supported; use the out-of-place op" % name)
            tr.record(canonical, args, kwargs, out)
        return out
    traced._ember_onnx_original = fn
    return traced


def _module_call(orig):
    @functools.wraps(orig)
    def call(self, *args, **kwargs):
        from . import _symbolic
        tr = _active
        if tr is None or tr.depth or type(self) not in _symbolic.MODULES or tr.thread != threading.get_ident():
            return orig(self, *args, **kwargs)
        tr.depth += 1
        try:
            out = orig(self, *args, **kwargs)
        finally:
            tr.depth -= 1
        if tr.involves(args) or tr.involves(kwargs.values()):
            tr.record(type(self).__name__, (self,) + args, kwargs, out)
        return out
    return call


class _Patches:
    """Wraps the public op API for the duration of an export and restores it afterwards."""

    def __init__(self):
        from .. import nn
        from ..nn import functional as F
        import ember
        self.saved = []
        for owner in (ember, F):
            for k, v in list(vars(owner).items()):
                if not k.startswith("_") and k not in _SKIP and isinstance(v, (types.FunctionType,
                                                                              types.BuiltinFunctionType)):
                    self.saved.append((owner, k, v, _wrap(k, v)))
        for k, v in list(vars(Tensor).items()):
            if k in _SKIP or not isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
                continue
            if k.startswith("_") and not (k.startswith("__") and k.endswith("__")):
                continue
            self.saved.append((Tensor, k, v, _wrap(k, v)))
        for k in ("T", "mT"):  # transposes spelled as properties
            prop = vars(Tensor).get(k)
            if isinstance(prop, property):
                self.saved.append((Tensor, k, prop, property(_wrap(k, prop.fget))))
        call = nn.Module.__call__
        self.saved.append((nn.Module, "__call__", call, _module_call(call)))

    def __enter__(self):
        for owner, k, _, new in self.saved:
            setattr(owner, k, new)
        return self

    def __exit__(self, *exc):
        for owner, k, old, _ in reversed(self.saved):
            setattr(owner, k, old)


def _split_args(args):
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, tuple):
        args = (args,)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _dynamic_dims(spec, name):
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(a): "%s_dynamic_axes_%d" % (name, i + 1) for i, a in enumerate(spec)}


def _value_info(onnx, name, t, dyn):
    dims = [dyn.get(i, dyn.get(i - t.dim(), s)) for i, s in enumerate(t.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(t.dtype), dims)


def trace(model, args, opset, export_params, training, input_names, output_names, dynamic_axes,
          keep_initializers_as_inputs):
    """Runs model(*args) under the tracer; returns the onnx ModelProto."""
    global _active
    import onnx
    from .. import nn
    from ..autograd.grad_mode import enable_grad
    pos, kw = _split_args(args)
    flat_in = flatten_tensors(list(pos) + list(kw.values()))
    input_names = list(input_names or [])
    if len(input_names) > len(flat_in):
        raise ValueError("export: %d input_names for %d input tensors" % (len(input_names), len(flat_in)))
    input_names += ["input_%d" % i for i in range(len(input_names), len(flat_in))]
    is_module = isinstance(model, nn.Module)
    params = {}
    if is_module:
        for n, p in model.named_parameters():
            params[id(p)] = (n, p)
        for n, b in model.named_buffers():
            if b is not None:
                params[id(b)] = (n, b)
    graph = Graph(opset)
    tracer = Tracer(graph, params, export_params)
    # traced inputs are copies that require grad (floating ones), so untraced paths leave a grad_fn behind
    replaced = {}
    for t, name in zip(flat_in, input_names):
        c = t.detach().clone()
        if c.is_floating_point():
            c = c.requires_grad_() * 1
        replaced[id(t)] = c
        tracer.track(c, name)

    def sub(a):
        if isinstance(a, Tensor):
            return replaced[id(a)]
        if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
            return type(a)(sub(x) for x in a)
        if isinstance(a, dict):
            return {k: sub(v) for k, v in a.items()}
        return a
    call_pos, call_kw = sub(tuple(pos)), sub(kw)
    modes = [(m, m.training) for m in model.modules()] if is_module else []
    grads = [(p, p.requires_grad) for _, p in params.values()]
    if _active is not None:
        raise OnnxExporterError("ember.onnx.export is already running (nested export)")
    try:
        if is_module and training is TrainingMode.EVAL:
            model.eval()
        elif is_module and training is TrainingMode.TRAINING:
            model.train()
        for p, _ in grads:
            p.requires_grad_(False)
        with _Patches(), enable_grad():
            _active = tracer
            try:
                out = model(*call_pos, **call_kw)
            finally:
                _active = None
    finally:
        for m, mode in modes:
            m.training = mode
        for p, rg in grads:
            p.requires_grad_(rg)
    flat_out = flatten_tensors(out)
    if not flat_out:
        raise OnnxExporterError("export: the model returned no tensors")
    output_names = list(output_names or [])
    if len(output_names) > len(flat_out):
        raise ValueError("export: %d output_names for %d output tensors" % (len(output_names), len(flat_out)))
    output_names += ["output_%d" % i for i in range(len(output_names), len(flat_out))]
    unknown = set(dynamic_axes) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError("dynamic_axes names %s are neither input nor output names" % sorted(unknown))
    graph.op_name = "output"
    for t, name in zip(flat_out, output_names):
        graph.nodes.append(onnx.helper.make_node("Identity", [tracer.value(t).name], [name]))
    inputs = [_value_info(onnx, n, replaced[id(t)], _dynamic_dims(dynamic_axes.get(n, ()), n))
              for t, n in zip(flat_in, input_names)]
    inputs += [_value_info(onnx, n, p, {}) for n, p in tracer.param_inputs]
    if keep_initializers_as_inputs:
        inputs += [onnx.helper.make_tensor_value_info(i.name, i.data_type, list(i.dims))
                   for i in graph.initializers]
    dynamic_in = any(n in dynamic_axes for n in input_names)
    outputs = [_value_info(onnx, n, t, _dynamic_dims(dynamic_axes.get(n, ()), n))
               if n in dynamic_axes or not dynamic_in else
               onnx.helper.make_tensor_value_info(n, onnx_dtype(t.dtype), None)
               for t, n in zip(flat_out, output_names)]
    g = onnx.helper.make_graph(graph.nodes, type(model).__name__ if is_module else "main", inputs, outputs,
                               graph.initializers)
    proto = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="ember")
    proto.ir_version = 8 if opset <= 18 else 9 if opset <= 20 else 10  # what runtimes of that opset read
    if dynamic_in:  # outputs not named in dynamic_axes: their shapes as ONNX infers them from the inputs
        inferred = onnx.shape_inference.infer_shapes(proto)
        for o in proto.graph.output:
            if not o.type.tensor_type.HasField("shape"):
                for io in inferred.graph.output:
                    if io.name == o.name:
                        o.type.CopyFrom(io.type)
    return proto
