"""Zero-size tensors through forward AND backward: every differentiable op of the op database (its zero_size
samples) plus nn.functional, shape, indexing and matmul cases, against PyTorch where it is installed, and
torch-free checks of the properties any backward must have (a gradient for every leaf, shaped like it).

A zero-size leaf must receive a zero-size gradient; a non-empty leaf whose every use is empty receives zeros.
"""
import pathlib
import sys

import numpy as np
import pytest

import ember

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests/, for the op database
from opinfo import op_db  # noqa: E402

try:
    import torch
except ImportError:  # the torch-free checks still run
    torch = None

# PyTorch warns about var/std over empty dims (so does the NaN result); the comparison is the point here
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom:UserWarning")


class Const:
    """An array argument that never requires grad (running statistics, targets given positionally)."""

    def __init__(self, array):
        self.array = array


def _build(obj, mod, grad):
    """numpy arrays -> tensors of mod (floating ones require grad when grad); containers recursively."""
    if isinstance(obj, Const):
        return mod.tensor(obj.array)
    if isinstance(obj, np.ndarray):
        t = mod.tensor(obj)
        if grad and obj.dtype.kind == "f":
            t.requires_grad_(True)
        return t
    if isinstance(obj, list):
        return [_build(o, mod, grad) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_build(o, mod, grad) for o in obj)
    return obj


def _tensors(obj, pred):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o, pred)
    elif hasattr(obj, "requires_grad") and pred(obj):
        yield obj


def _run(fn, args, kwargs, mod, backward=True):
    """Forward, then backward of a weighted sum of every differentiable output: (outputs, leaves)."""
    targs = _build(args, mod, True)
    tkw = {k: _build(v, mod, False) for k, v in kwargs.items()}
    out = fn(mod)(*targs, **tkw)
    outs = list(_tensors(out, lambda t: True))
    diff = [o for o in outs if o.requires_grad]
    leaves = list(_tensors(targs, lambda t: t.requires_grad))
    if diff and backward:
        loss = None
        for k, o in enumerate(diff):
            w = mod.tensor(np.linspace(0.5, 1.5, max(o.numel(), 1))[:o.numel()].reshape(tuple(o.shape)),
                           dtype=o.dtype)
            term = (o * w).sum()
            loss = term if loss is None else loss + term
        loss.backward()
    return outs, leaves


def _np(t):
    return np.array(t.detach().numpy(), copy=True)


def _check_properties(outs, leaves, args):
    """What holds without a reference: every leaf got a gradient of its own shape and dtype; a zero-size
    leaf's gradient is zero-size; outputs are finite where they are not documented NaNs (checked vs torch)."""
    for o in outs:
        assert isinstance(o, ember.Tensor)
    for leaf in leaves:
        if not any(o.requires_grad for o in outs):
            continue
        assert leaf.grad is not None, "leaf %s got no gradient" % (tuple(leaf.shape),)
        assert tuple(leaf.grad.shape) == tuple(leaf.shape)
        assert leaf.grad.dtype is leaf.dtype


def _compare(name, fn, args, kwargs):
    eouts, eleaves = _run(fn, args, kwargs, ember)
    _check_properties(eouts, eleaves, args)
    if torch is None:
        return
    try:
        touts, tleaves = _run(fn, args, kwargs, torch)
    except RuntimeError as e:
        if "not implemented" not in str(e):
            raise
        # PyTorch has no derivative for this op (floor_divide): compare the forward only
        touts, tleaves = _run(fn, args, kwargs, torch, backward=False)
        eleaves = tleaves = []
    assert len(eouts) == len(touts), name
    for e, t in zip(eouts, touts):
        assert tuple(e.shape) == tuple(t.shape), "%s: output shape %s != torch %s" % (name, tuple(e.shape),
                                                                                     tuple(t.shape))
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], name
        np.testing.assert_allclose(_np(e).astype(np.float64), _np(t).astype(np.float64), rtol=1e-6, atol=1e-6,
                                   equal_nan=True, err_msg="%s forward" % name)
    for e, t in zip(eleaves, tleaves):
        assert (e.grad is None) == (t.grad is None), "%s: gradient presence differs from torch" % name
        if t.grad is not None:
            assert tuple(e.grad.shape) == tuple(t.grad.shape), name
            np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-6, atol=1e-6, equal_nan=True,
                                       err_msg="%s gradient" % name)


# ------------------------------------------------------------------------------------------- the op database

_DB = [op for op in op_db if op.supports_grad and op.has_kind("zero_size")]


@pytest.mark.parametrize("op", _DB, ids=[op.name for op in _DB])
def test_opinfo_zero_size_backward(op):
    rng = np.random.default_rng(0)
    for s in op.samples(rng, np.float64, "zero_size"):
        if torch is not None and op.torch_ok:
            _compare("%s %s" % (op.name, s), lambda m: op.op if m is ember else op.get_torch_fn(torch),
                     s.args, s.kwargs)
        else:
            outs, leaves = _run(lambda m: op.op, s.args, s.kwargs, ember)
            _check_properties(outs, leaves, s.args)


def _emptied(obj, last):
    """obj with every array argument emptied along its first (or last) dim."""
    if isinstance(obj, np.ndarray):
        return np.take(obj, [], axis=obj.ndim - 1 if last else 0) if obj.ndim else obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_emptied(o, last) for o in obj)
    return obj


_NO_ZERO_SAMPLES = [op for op in op_db if op.supports_grad and op.torch_ok and not op.has_kind("zero_size")]


@pytest.mark.parametrize("op", _NO_ZERO_SAMPLES, ids=[op.name for op in _NO_ZERO_SAMPLES])
def test_opinfo_basic_samples_emptied(op):
    """Ops without zero-size samples: their basic samples with every array emptied along the first or the
    last dim, wherever PyTorch accepts that, must match PyTorch forward and backward."""
    if torch is None:
        pytest.skip("needs torch to know which emptied samples are valid")
    rng = np.random.default_rng(0)
    checked = 0
    for s in op.samples(rng, np.float64, "basic")[:3]:
        for last in (False, True):
            args = _emptied(s.args, last)
            kwargs = {k: _emptied(v, last) for k, v in s.kwargs.items()}
            try:
                _run(lambda m: op.get_torch_fn(torch), args, kwargs, torch)
            except Exception:  # noqa: BLE001 - PyTorch rejects this emptied sample: nothing to compare
                continue
            _compare("%s %s" % (op.name, s), lambda m: op.op if m is ember else op.get_torch_fn(torch), args,
                     kwargs)
            checked += 1
    if not checked:
        pytest.skip("PyTorch rejects every emptied sample of %s" % op.name)


# ------------------------------------------------------------------------------------------- further cases

def _f(name, **fixed):
    """m -> m.nn.functional.<name> with fixed keyword arguments."""
    return lambda m: (lambda *a, **k: getattr(m.nn.functional, name)(*a, **fixed, **k))


def _m(fn):
    """m -> fn bound to the module (fn(m, *tensors))."""
    return lambda m: (lambda *a, **k: fn(m, *a, **k))


R = np.random.default_rng(1)


def _a(*shape):
    return R.uniform(-1.0, 1.0, size=shape)


def _i(*shape, high=3):
    return R.integers(0, high, size=shape).astype(np.int64)


_ACTIVATIONS = ["relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "leaky_relu", "hardtanh",
                "hardswish", "hardsigmoid", "softsign", "softplus", "tanhshrink", "softshrink", "hardshrink",
                "logsigmoid", "sigmoid", "tanh"]

CASES = [("F.%s" % n, _f(n), (_a(0, 3),), {}) for n in _ACTIVATIONS] + [
    ("F.threshold", _f("threshold", threshold=0.1, value=0.0), (_a(0, 3),), {}),
    ("F.softmax dim=-1", _f("softmax", dim=-1), (_a(0, 3),), {}),
    ("F.softmax dim=0", _f("softmax", dim=0), (_a(0, 3),), {}),
    ("F.log_softmax", _f("log_softmax", dim=1), (_a(0, 3),), {}),
    ("F.log_softmax dim=0", _f("log_softmax", dim=0), (_a(0, 3),), {}),
    ("F.softmin", _f("softmin", dim=1), (_a(0, 3),), {}),
    ("F.glu", _f("glu", dim=-1), (_a(0, 4),), {}),
    ("F.prelu", _f("prelu"), (_a(0, 3), _a(1)), {}),
    ("F.dropout eval", _f("dropout", p=0.5, training=False), (_a(0, 3),), {}),
    ("F.dropout train", _f("dropout", p=0.5, training=True), (_a(0, 3),), {}),
    ("F.linear empty batch", _f("linear"), (_a(0, 3), _a(4, 3), _a(4)), {}),
    ("F.linear empty features", _f("linear"), (_a(2, 0), _a(4, 0), _a(4)), {}),
    ("F.bilinear", _f("bilinear"), (_a(0, 3), _a(0, 2), _a(4, 3, 2), _a(4)), {}),
    ("F.layer_norm", _f("layer_norm"), (_a(0, 3), (3,), _a(3), _a(3)), {}),
    ("F.group_norm", _f("group_norm"), (_a(0, 4, 2), 2, _a(4), _a(4)), {}),
    ("F.batch_norm eval", _f("batch_norm", training=False),
     (_a(0, 3), Const(np.zeros(3)), Const(np.ones(3)), _a(3), _a(3)), {}),
    ("F.normalize", _f("normalize", dim=1), (_a(0, 3),), {}),
    ("F.cosine_similarity", _f("cosine_similarity", dim=1), (_a(0, 3), _a(0, 3)), {}),
    ("F.pairwise_distance", _f("pairwise_distance"), (_a(0, 3), _a(0, 3)), {}),
    ("F.embedding", _f("embedding"), (_i(0), _a(5, 3)), {}),
    ("F.pad", _f("pad", pad=(1, 2)), (_a(0, 3),), {}),
    ("F.mse_loss sum", _f("mse_loss", reduction="sum"), (_a(0, 3), _a(0, 3)), {}),
    ("F.mse_loss mean", _f("mse_loss"), (_a(0, 3), _a(0, 3)), {}),
    ("F.mse_loss none", _f("mse_loss", reduction="none"), (_a(0, 3), _a(0, 3)), {}),
    ("F.l1_loss sum", _f("l1_loss", reduction="sum"), (_a(0, 3), _a(0, 3)), {}),
    ("F.smooth_l1_loss sum", _f("smooth_l1_loss", reduction="sum"), (_a(0, 3), _a(0, 3)), {}),
    ("F.huber_loss sum", _f("huber_loss", reduction="sum"), (_a(0, 3), _a(0, 3)), {}),
    ("F.binary_cross_entropy sum", _f("binary_cross_entropy", reduction="sum"),
     (R.uniform(0.1, 0.9, size=(0, 3)), R.uniform(0, 1, size=(0, 3))), {}),
    ("F.binary_cross_entropy_with_logits sum", _f("binary_cross_entropy_with_logits", reduction="sum"),
     (_a(0, 3), R.uniform(0, 1, size=(0, 3))), {}),
    ("F.kl_div sum", _f("kl_div", reduction="sum"), (_a(0, 3), _a(0, 3)), {}),
    ("F.cross_entropy sum", _f("cross_entropy", reduction="sum"), (_a(0, 5), _i(0)), {}),
    ("F.cross_entropy mean", _f("cross_entropy"), (_a(0, 5), _i(0)), {}),
    ("F.cross_entropy none", _f("cross_entropy", reduction="none"), (_a(0, 5), _i(0)), {}),
    ("F.nll_loss sum", _f("nll_loss", reduction="sum"), (_a(0, 5), _i(0)), {}),
    ("F.conv1d", _f("conv1d"), (_a(0, 2, 5), _a(3, 2, 2), _a(3)), {}),
    ("F.conv2d", _f("conv2d"), (_a(0, 2, 5, 5), _a(3, 2, 3, 3), _a(3)), {}),
    ("F.conv2d padded", _f("conv2d", padding=1, stride=2), (_a(0, 2, 4, 4), _a(3, 2, 3, 3)), {}),
    ("F.conv_transpose2d", _f("conv_transpose2d"), (_a(0, 2, 3, 3), _a(2, 3, 2, 2)), {}),
    ("F.max_pool1d", _f("max_pool1d", kernel_size=2), (_a(0, 2, 4),), {}),
    ("F.max_pool2d", _f("max_pool2d", kernel_size=2), (_a(0, 2, 4, 4),), {}),
    ("F.avg_pool1d", _f("avg_pool1d", kernel_size=2), (_a(0, 2, 4),), {}),
    ("F.avg_pool2d", _f("avg_pool2d", kernel_size=2), (_a(0, 2, 4, 4),), {}),
    ("F.adaptive_avg_pool1d", _f("adaptive_avg_pool1d", output_size=2), (_a(0, 2, 4),), {}),
    ("F.adaptive_avg_pool2d", _f("adaptive_avg_pool2d", output_size=2), (_a(0, 2, 4, 4),), {}),
    ("F.adaptive_max_pool2d", _f("adaptive_max_pool2d", output_size=2), (_a(0, 2, 4, 4),), {}),
    ("F.interpolate nearest", _f("interpolate", scale_factor=2.0), (_a(0, 2, 3, 3),), {}),
    ("F.interpolate bilinear", _f("interpolate", scale_factor=2.0, mode="bilinear"), (_a(0, 2, 3, 3),), {}),
    ("F.scaled_dot_product_attention", _f("scaled_dot_product_attention"),
     (_a(1, 0, 4), _a(1, 0, 4), _a(1, 0, 4)), {}),
    ("F.scaled_dot_product_attention no queries", _f("scaled_dot_product_attention"),
     (_a(1, 0, 4), _a(1, 3, 4), _a(1, 3, 4)), {}),
    # shape ops whose outputs are empty while an input is not (and the reverse)
    ("cat empty+full", _m(lambda m, a, b: m.cat([a, b])), (_a(0, 3), _a(2, 3)), {}),
    ("stack empty", _m(lambda m, a, b: m.stack([a, b], 1)), (_a(0, 3), _a(0, 3)), {}),
    ("split empty", _m(lambda m, a: m.split(a, 2, dim=1)), (_a(0, 3),), {}),
    ("chunk empty", _m(lambda m, a: m.chunk(a, 2, dim=1)), (_a(0, 4),), {}),
    ("unbind empty", _m(lambda m, a: m.unbind(a, 1)), (_a(0, 3),), {}),
    ("narrow to zero", _m(lambda m, a: a.narrow(0, 1, 0)), (_a(3, 4),), {}),
    ("empty slice", _m(lambda m, a: a[1:1] * 2), (_a(3, 4),), {}),
    ("empty index list", _m(lambda m, a: a[:, []]), (_a(3, 4),), {}),
    ("empty bool mask", _m(lambda m, a: a[a > 5]), (_a(3, 4),), {}),
    ("index_select empty index", _m(lambda m, a, i: a.index_select(0, i)), (_a(3, 4), _i(0)), {}),
    ("gather empty index", _m(lambda m, a, i: a.gather(1, i)), (_a(3, 4), _i(3, 0)), {}),
    ("expand to zero", _m(lambda m, a: a.expand(0, 3)), (_a(1, 3),), {}),
    ("repeat zero times", _m(lambda m, a: a.repeat(0, 1)), (_a(2, 3),), {}),
    ("permute", _m(lambda m, a: a.permute(1, 0, 2)), (_a(2, 0, 3),), {}),
    ("transpose contiguous view", _m(lambda m, a: a.transpose(0, 1).contiguous().view(-1)), (_a(0, 3),), {}),
    ("unsqueeze squeeze", _m(lambda m, a: a.unsqueeze(1).squeeze(1)), (_a(0, 3),), {}),
    ("flatten", _m(lambda m, a: a.flatten()), (_a(2, 0, 3),), {}),
    ("where", _m(lambda m, a, b: m.where(a > 0, a, b)), (_a(0, 3), _a(0, 3)), {}),
    ("clone", _m(lambda m, a: a.clone()), (_a(0, 3),), {}),
    ("to float32", _m(lambda m, a: a.to(m.float32)), (_a(0, 3),), {}),
    ("setitem on a copy", _m(lambda m, a: _setitem_copy(a)), (_a(0, 3),), {}),
    ("in-place on a non-leaf", _m(lambda m, a: (a * 1).mul_(2)), (_a(0, 3),), {}),
    # reductions over empty and non-empty dims
    ("sum all", _m(lambda m, a: a.sum()), (_a(0, 3),), {}),
    ("sum dim 0", _m(lambda m, a: a.sum(0)), (_a(0, 3),), {}),
    ("mean all", _m(lambda m, a: a.mean()), (_a(0, 3),), {}),
    ("amax non-empty dim", _m(lambda m, a: a.amax(1)), (_a(0, 3),), {}),
    ("max dim", _m(lambda m, a: a.max(dim=1)), (_a(0, 3),), {}),
    ("min dim", _m(lambda m, a: a.min(dim=1)), (_a(0, 3),), {}),
    ("softmax method", _m(lambda m, a: a.softmax(-1)), (_a(2, 0),), {}),
    ("prod dim 0", _m(lambda m, a: a.prod(0)), (_a(0, 3),), {}),
    # products whose inner dim is empty: non-empty zeros, gradients reach the bias
    ("matmul empty inner", _m(lambda m, a, b: a @ b), (_a(2, 0), _a(0, 3)), {}),
    ("matmul empty batch", _m(lambda m, a, b: a @ b), (_a(0, 2, 3), _a(3, 4)), {}),
    ("addmm empty inner", _m(lambda m, c, a, b: m.addmm(c, a, b)), (_a(2, 3), _a(2, 0), _a(0, 3)), {}),
    ("einsum empty", _m(lambda m, a, b: m.einsum("ij,jk->ik", a, b)), (_a(2, 0), _a(0, 3)), {}),
    ("outer empty", _m(lambda m, a, b: m.outer(a, b)), (_a(0), _a(3)), {}),
]


CASES += [
    # losses with mean reductions (NaN, as in PyTorch), probability targets, weights, spatial dims
    ("F.l1_loss mean", _f("l1_loss"), (_a(0, 3), _a(0, 3)), {}),
    ("F.smooth_l1_loss mean", _f("smooth_l1_loss"), (_a(0, 3), _a(0, 3)), {}),
    ("F.huber_loss none", _f("huber_loss", reduction="none"), (_a(0, 3), _a(0, 3)), {}),
    ("F.binary_cross_entropy mean", _f("binary_cross_entropy"),
     (R.uniform(0.1, 0.9, size=(0, 3)), Const(R.uniform(0, 1, size=(0, 3)))), {}),
    ("F.binary_cross_entropy_with_logits pos_weight", _f("binary_cross_entropy_with_logits", reduction="sum"),
     (_a(0, 3), Const(R.uniform(0, 1, size=(0, 3)))), dict(pos_weight=Const(R.uniform(0.5, 1, size=3)))),
    ("F.kl_div batchmean", _f("kl_div", reduction="batchmean"), (_a(0, 3), _a(0, 3)), {}),
    ("F.nll_loss mean", _f("nll_loss"), (_a(0, 5), _i(0)), {}),
    ("F.cross_entropy probabilities", _f("cross_entropy"), (_a(0, 5), Const(R.uniform(0, 1, size=(0, 5)))), {}),
    ("F.cross_entropy label_smoothing", _f("cross_entropy", label_smoothing=0.1, reduction="sum"),
     (_a(0, 5), _i(0)), {}),
    ("F.cross_entropy empty spatial", _f("cross_entropy", reduction="sum"), (_a(2, 5, 0), _i(2, 0)), {}),
    ("F.cross_entropy weight", _f("cross_entropy", reduction="sum"), (_a(0, 5), _i(0)),
     dict(weight=Const(R.uniform(0.5, 1, size=5)))),
    ("F.cross_entropy ignore_index", _f("cross_entropy", ignore_index=1), (_a(0, 5), _i(0)), {}),
    # layers with an empty weight dim, grouped/strided convolutions, norms over more dims
    ("F.linear no outputs", _f("linear"), (_a(2, 3), _a(0, 3), _a(0)), {}),
    ("F.linear 3-D empty", _f("linear"), (_a(2, 0, 3), _a(4, 3), _a(4)), {}),
    ("F.bilinear no outputs", _f("bilinear"), (_a(2, 3), _a(2, 2), _a(0, 3, 2), _a(0)), {}),
    ("F.conv1d groups", _f("conv1d", groups=2), (_a(0, 4, 5), _a(4, 2, 2)), {}),
    ("F.conv_transpose2d stride", _f("conv_transpose2d", stride=2), (_a(0, 2, 3, 3), _a(2, 3, 2, 2), _a(3)), {}),
    ("F.embedding padding_idx", _f("embedding", padding_idx=0), (_i(0, 2), _a(5, 3)), {}),
    ("F.layer_norm 3-D", _f("layer_norm"), (_a(2, 0, 4), (4,), _a(4), _a(4)), {}),
    ("F.layer_norm no affine", _f("layer_norm"), (_a(0, 4), (4,)), {}),
    ("F.group_norm 4-D", _f("group_norm"), (_a(0, 4, 2, 2), 2, _a(4), _a(4)), {}),
    ("F.batch_norm eval 4-D", _f("batch_norm", training=False),
     (_a(0, 3, 2, 2), Const(np.zeros(3)), Const(np.ones(3)), _a(3), _a(3)), {}),
    ("F.softmax empty dim", _f("softmax", dim=1), (_a(3, 0),), {}),
    ("F.log_softmax empty dim", _f("log_softmax", dim=1), (_a(3, 0),), {}),
    ("F.normalize empty dim", _f("normalize", dim=1), (_a(3, 0),), {}),
    ("F.glu dim 0", _f("glu", dim=0), (_a(4, 0),), {}),
    ("F.prelu channels", _f("prelu"), (_a(0, 3, 2), _a(3)), {}),
    ("F.rrelu eval", _f("rrelu", training=False), (_a(0, 3),), {}),
    ("F.dropout2d train", _f("dropout2d", training=True), (_a(0, 2, 3, 3),), {}),
    ("F.pad reflect", _f("pad", pad=(1, 1), mode="reflect"), (_a(0, 2, 4),), {}),
    ("F.pad replicate", _f("pad", pad=(1, 1), mode="replicate"), (_a(0, 2, 4),), {}),
    ("F.interpolate bilinear align_corners", _f("interpolate", size=(4, 5), mode="bilinear", align_corners=True),
     (_a(0, 2, 3, 3),), {}),
    ("F.scaled_dot_product_attention causal", _f("scaled_dot_product_attention", is_causal=True),
     (_a(1, 0, 4), _a(1, 0, 4), _a(1, 0, 4)), {}),
    ("F.scaled_dot_product_attention empty batch", _f("scaled_dot_product_attention"),
     (_a(0, 2, 3, 4), _a(0, 2, 3, 4), _a(0, 2, 3, 4)), {}),
    ("F.max_pool2d return_indices", _f("max_pool2d", kernel_size=2, return_indices=True), (_a(0, 2, 4, 4),), {}),
    ("F.max_pool1d return_indices", _f("max_pool1d", kernel_size=2, return_indices=True), (_a(0, 2, 4),), {}),
    ("F.adaptive_max_pool2d return_indices", _f("adaptive_max_pool2d", output_size=2, return_indices=True),
     (_a(0, 2, 4, 4),), {}),
    ("F.avg_pool2d ceil_mode", _f("avg_pool2d", kernel_size=2, ceil_mode=True), (_a(0, 2, 5, 5),), {}),
    # reductions and scans over an empty dim of a non-empty shape
    ("cumsum empty dim", _m(lambda m, a: a.cumsum(1)), (_a(3, 0),), {}),
    ("logsumexp empty dim", _m(lambda m, a: a.logsumexp(1)), (_a(3, 0),), {}),
    ("std empty dim", _m(lambda m, a: a.std(1)), (_a(3, 0),), {}),
    ("norm empty dim", _m(lambda m, a: a.norm(dim=1)), (_a(3, 0),), {}),
    ("mean empty dim", _m(lambda m, a: a.mean(1)), (_a(3, 0),), {}),
    # scatter-like ops with nothing to scatter
    ("index_add nothing", _m(lambda m, a, s, i: a.index_add(0, i, s)), (_a(3, 2), _a(0, 2), _i(0)), {}),
    ("scatter_add nothing", _m(lambda m, a, s, i: a.scatter_add(0, i, s)), (_a(3, 2), _a(0, 2), _i(0, 2)), {}),
    ("index_put nothing", _m(lambda m, a, v: a.index_put((m.tensor([], dtype=m.int64),), v)),
     (_a(3, 2), _a(0, 2)), {}),
    ("take_along_dim empty", _m(lambda m, a, i: m.take_along_dim(a, i, 1)), (_a(3, 2), _i(3, 0)), {}),
    ("masked_fill", _m(lambda m, a: a.masked_fill(a > 0, 0.0)), (_a(0, 2),), {}),
    # views and products
    ("diag_embed", _m(lambda m, a: m.diag_embed(a)), (_a(0, 3),), {}),
    ("trace of 0x0", _m(lambda m, a: m.trace(a)), (_a(0, 0),), {}),
    ("diagonal", _m(lambda m, a: a.diagonal()), (_a(0, 3),), {}),
    ("unfold", _m(lambda m, a: a.unfold(1, 2, 1)), (_a(0, 4),), {}),
    ("movedim", _m(lambda m, a: a.movedim(0, 1)), (_a(0, 4),), {}),
    ("as_strided to empty", _m(lambda m, a: a.as_strided((0, 2), (2, 1))), (_a(3, 4),), {}),
    ("split into an empty piece", _m(lambda m, a: a.split([0, 3], 1)), (_a(2, 3),), {}),
    ("cat with a legacy empty 1-D", _m(lambda m, a, b: m.cat([a, b])), (_a(0), _a(2, 3)), {}),
    ("baddbmm empty inner", _m(lambda m, c, a, b: m.baddbmm(c, a, b)), (_a(2, 2, 3), _a(2, 2, 0), _a(2, 0, 3)), {}),
    ("mv empty inner", _m(lambda m, a, b: m.mv(a, b)), (_a(2, 0), _a(0)), {}),
    ("dot empty", _m(lambda m, a, b: m.dot(a, b)), (_a(0), _a(0)), {}),
]


def _setitem_copy(a):
    b = a.clone()
    b[:, 1] = 2.0
    return b


@pytest.mark.parametrize("name,fn,args,kwargs", CASES, ids=[c[0] for c in CASES])
def test_zero_size_forward_backward(name, fn, args, kwargs):
    _compare(name, fn, args, kwargs)


# ------------------------------------------------------------------------------------------- torch-free


def test_zero_size_leaf_from_numpy_accumulates_twice():
    """A leaf made from an empty numpy array (numpy gives it zero strides) accumulates a gradient, twice."""
    x = ember.tensor(np.zeros((0, 3)), requires_grad=True)
    for _ in range(2):
        (x.exp() * 2).sum().backward()
    assert x.grad.shape == (0, 3) and x.grad.dtype is ember.float64
    x.grad.add_(1.0)  # the gradient is writable
    x.grad.zero_()


def test_zero_size_leaf_with_non_empty_output_gets_zero_size_grad():
    a = ember.randn(2, 0, dtype=ember.float64, requires_grad=True)
    b = ember.randn(0, 3, dtype=ember.float64, requires_grad=True)
    c = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    out = ember.addmm(c, a, b)
    np.testing.assert_array_equal(out.detach().numpy(), c.detach().numpy())
    out.sum().backward()
    assert a.grad.shape == (2, 0) and b.grad.shape == (0, 3)
    np.testing.assert_array_equal(c.grad.numpy(), np.ones((2, 3)))


def test_non_empty_leaf_whose_uses_are_empty_gets_zeros():
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    y = ember.cat([x[1:1], x.index_select(0, ember.tensor([], dtype=ember.int64))])
    assert y.shape == (0, 4)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


def test_prod_of_empty_dim_backward():
    x = ember.randn(0, 3, dtype=ember.float64, requires_grad=True)
    p = x.prod(0)
    np.testing.assert_array_equal(p.detach().numpy(), np.ones(3))
    p.sum().backward()
    assert x.grad.shape == (0, 3)
    y = ember.randn(2, 0, dtype=ember.float64, requires_grad=True)
    y.prod().backward()
    assert y.grad.shape == (2, 0)


def test_zero_size_create_graph_and_grad():
    x = ember.tensor(np.zeros((0, 2)), requires_grad=True)
    (g,) = ember.autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.shape == (0, 2) and g.requires_grad
    (gg,) = ember.autograd.grad(g.sum(), x, allow_unused=True)
    assert gg is None or gg.shape == (0, 2)


def test_zero_size_grad_from_create_graph_then_plain_backward():
    x = ember.zeros(0, 3, dtype=ember.float64, requires_grad=True)
    x.sum().backward(create_graph=True)  # the gradient of sum is an expanded (zero-stride) tensor
    x.sum().backward()
    (x * x).sum().backward(create_graph=True)
    assert x.grad.shape == (0, 3)
    x.grad.add_(1.0)


def test_zero_size_inplace_ops_on_tensor_from_numpy():
    x = ember.tensor(np.zeros((0, 3)))
    for f in (lambda t: t.fill_(1.0), lambda t: t.add_(1.0), lambda t: t.copy_(ember.zeros(3, dtype=t.dtype)),
              lambda t: t.uniform_(), lambda t: t.exp_(), lambda t: t.zero_()):
        assert f(x) is x and x.shape == (0, 3)
    y = ember.from_numpy(np.zeros((3, 0), dtype=np.float32))
    y.mul_(2.0)
    assert y.shape == (3, 0)
