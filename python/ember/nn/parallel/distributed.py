"""DistributedDataParallel: one model replica per process, gradients averaged across the processes of a group.

How a step runs (PyTorch's design, written for Ember's Python autograd engine):

* At construction the parameters and buffers of rank 0 are broadcast to every rank, so all replicas start
  equal, and the parameters that require grad are split into buckets as PyTorch first assigns them: per dtype
  and device, each bucket closed once it holds ``bucket_cap_mb`` (the one holding the first-registered
  parameters at 1 MiB when the cap is the default), launched in reverse registration order (roughly the order
  backward produces the gradients). Each bucket owns one flat buffer. (PyTorch also rebuilds the buckets
  after the first iteration in the order the gradients really came; Ember keeps the first assignment.)
* Every parameter carries a post-accumulate-grad hook. When a parameter's gradient is ready its ``.grad`` is
  copied into its slot of the bucket; when a bucket is full it is divided by the world size and all-reduced
  with ``async_op=True``, so the reduction overlaps the rest of backward. Buckets are launched in their fixed
  order, which keeps every rank's sequence of collectives identical.
* When the last bucket has been launched (in the hook that completed it; Ember's engine has no end-of-backward
  callback), all pending reductions are waited on and the averaged values are copied back into ``.grad``.
* With ``find_unused_parameters=True`` forward walks the autograd graph of its outputs and the parameters it
  cannot reach are marked ready (contributing zeros) when backward starts; a parameter unused on every rank
  keeps its ``.grad`` untouched. Without it, a parameter that gets no gradient leaves its bucket unfinished and
  the next forward raises, as in PyTorch.
"""
import contextlib
import weakref

from ... import _C
from ..._ops.creation import tensor, zeros
from ..._ops.shape import cat
from ..._tensor import Tensor
from ...autograd.function import AccumulateGrad
from ...autograd.grad_mode import no_grad, is_grad_enabled
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
_DEFAULT_BUCKET_CAP_MB = 25
_DEFAULT_FIRST_BUCKET_BYTES = 1 * _MB
_BROADCAST_BUCKET_BYTES = 250 * _MB


def _dist():
    from ... import distributed
    return distributed


def _find_tensors(obj):
    """Every tensor inside obj (nested tuples, lists, dicts, dataclasses, namedtuples)."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _find_tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _find_tensors(o)]
    fields = getattr(type(obj), "__dataclass_fields__", None)
    if fields is not None:
        return [t for name in fields for t in _find_tensors(getattr(obj, name))]
    return []


def _reachable_leaves(outputs):
    """ids of the leaf tensors whose AccumulateGrad node the graphs of outputs reach."""
    found = set()
    stack, seen = [], set()
    for t in outputs:
        if t.grad_fn is not None:
            if t.grad_fn not in seen:
                seen.add(t.grad_fn)
                stack.append(t.grad_fn)
        elif t.requires_grad:
            found.add(id(t))
    while stack:
        node = stack.pop()
        if node.__class__ is AccumulateGrad:
            found.add(id(node.variable))
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return found


def _assign_buckets(params, first_cap, cap):
    """Lists of parameter indices, in the order the buckets are expected to become ready (PyTorch's initial
    assignment): parameters taken in registration order and grouped by (dtype, device); a group's bucket is
    closed once its size reaches the cap (first_cap for the group's first bucket, which thus holds the first
    parameters: their gradients come last, and a small bucket keeps the reduction after backward short);
    buckets ordered by their first parameter, then reversed, since backward produces gradients roughly in
    reverse registration order."""
    open_buckets = {}  # (dtype, device) -> [indices, bytes, cap]
    done = []
    for i, p in enumerate(params):
        key = (p.dtype, str(p.device))
        b = open_buckets.get(key)
        if b is None:
            b = open_buckets[key] = [[], 0, first_cap]
        b[0].append(i)
        b[1] += p.numel() * p.element_size()
        if b[1] >= b[2]:
            done.append(b[0])
            open_buckets[key] = [[], 0, cap]
    done += [b[0] for b in open_buckets.values() if b[0]]
    done.sort(key=lambda idx: idx[0])
    return done[::-1]


class _Bucket:
    __slots__ = ("indices", "offsets", "flat", "views", "pending", "work")

    def __init__(self, indices, params):
        self.indices = indices
        p0 = params[indices[0]]
        total, self.offsets = 0, []
        for i in indices:
            self.offsets.append(total)
            total += params[i].numel()
        self.flat = zeros(total, dtype=p0.dtype, device=p0.device)
        # one view per parameter, shaped like it: grads are copied in and the result copied back through these
        self.views = [self.flat[o:o + params[i].numel()].view(params[i].shape)
                      for o, i in zip(self.offsets, indices)]
        self.pending = len(indices)
        self.work = None


class DistributedDataParallel(Module):
    """Data parallelism across processes: wraps ``module`` (reachable as ``.module``; state_dict keys gain a
    ``module.`` prefix) and averages its gradients over ``process_group`` during backward.

    Every rank builds the same model, wraps it (rank 0's parameters and buffers are broadcast to the others),
    feeds it its own part of each batch (see ``ember.utils.data.DistributedSampler``) and steps its optimizer;
    because the gradients are averaged, the replicas stay identical.

    Args:
        module: the module to replicate.
        device_ids: ``None`` for CPU modules; for a module on one CUDA device, ``[device]`` (inputs are moved
            there).
        output_device: the device of the output for a CUDA module (default ``device_ids[0]``).
        dim: the batch dimension (kept for PyTorch compatibility; each process already holds its own batch).
        broadcast_buffers: broadcast rank 0's buffers (e.g. BatchNorm running statistics) at construction and
            before each forward that follows a synchronising forward; False keeps every rank's own buffers.
        init_sync: broadcast rank 0's parameters (and buffers, see above) at construction.
        process_group: the group to average over (default: the default group).
        bucket_cap_mb: the bucket size in MiB (default 25, and then 1 MiB for the bucket of the first-registered
            parameters, reduced last).
        find_unused_parameters: detect in each forward the parameters that cannot receive a gradient and mark
            them ready, so backward completes (costs a walk of the autograd graph per forward).
        check_reduction: deprecated; ignored, as in PyTorch.
        gradient_as_bucket_view: after the first reduction ``.grad`` tensors are views into the bucket buffers,
            saving one copy per step and the gradients' memory.
        static_graph: the set of used parameters is the same every iteration: it is found in the first
            iteration only.
        forward_sync_buffers: PyTorch's newer name for the per-forward buffer broadcast; when given it wins
            over ``broadcast_buffers`` and buffers are always broadcast at construction.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, forward_sync_buffers=None):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError("DistributedDataParallel expects an ember.nn.Module, but got %s" % type(module).__name__)
        dist = _dist()
        if process_group is None:
            if not dist.is_initialized():
                raise RuntimeError("Default process group has not been initialized, please make sure to call "
                                   "init_process_group.")
        self.module = module
        self.process_group = process_group
        self.dim = dim
        if forward_sync_buffers is not None:
            # PyTorch's newer spelling: buffers are then always synced at construction
            self.broadcast_buffers = bool(forward_sync_buffers)
            init_sync_buffers = True
        else:
            self.broadcast_buffers = init_sync_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True

        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        devices = {str(p.device) for p in module.parameters()}
        self._module_device = None
        if any(d.startswith("cuda") for d in devices):
            if len(devices) > 1:
                raise ValueError("DistributedDataParallel's input module must be on the same type of devices, but "
                                 "input module parameters locate in %s." % sorted(devices))
            from ..._device import device as _device
            self._module_device = _device(devices.pop())
            if device_ids is not None:
                if len(device_ids) != 1:
                    raise ValueError("device_ids can only be None or contain a single element.")
            self.device_ids = [self._module_device.index] if device_ids is not None else None
            self.output_device = output_device if output_device is not None else (
                self.device_ids[0] if self.device_ids else None)
        else:
            if device_ids is not None or output_device is not None:
                raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                                 "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                                 "%s, output_device %s, and module parameters %s." % (device_ids, output_device,
                                                                                      sorted(devices)))
            self.device_ids = None
            self.output_device = None

        self._world = dist.get_world_size(process_group)
        self._src = dist.get_global_rank(process_group, 0) if process_group is not None else 0

        if bucket_cap_mb is None:
            cap, first = _DEFAULT_BUCKET_CAP_MB * _MB, _DEFAULT_FIRST_BUCKET_BYTES
        else:
            if not bucket_cap_mb > 0:
                raise ValueError("bucket_cap_mb must be positive, but got %s" % (bucket_cap_mb,))
            cap = first = max(int(bucket_cap_mb * _MB), 1)
        self.bucket_bytes_cap = cap

        if init_sync:  # as in PyTorch, every collective of the construction is behind init_sync
            self._verify_same_model()
            self._broadcast_states(list(module.parameters()) + (list(module.buffers()) if init_sync_buffers else []))

        with no_grad():
            self._buckets = [_Bucket(idx, self._params) for idx in _assign_buckets(self._params, first, cap)]
        self._where = [None] * len(self._params)  # param index -> (bucket, slot)
        for b in self._buckets:
            for slot, i in enumerate(b.indices):
                self._where[i] = (b, slot)

        # per-iteration state
        self._expect_hooks = False
        self._require_finalize = False
        self._ready = [False] * len(self._params)
        self._used = [False] * len(self._params)
        self._unused = []
        self._static_unused = None
        self._next_bucket = 0
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                              for i, p in enumerate(self._params)]

    # ------------------------------------------------------------------------------------------ construction

    def _verify_same_model(self):
        """All ranks must wrap models with the same parameters (count and sizes): a mismatch would pair
        different tensors in every collective."""
        dist = _dist()
        sig = [len(self._params), sum(p.numel() for p in self._params)]
        sig.append(sum((i + 1) * p.numel() for i, p in enumerate(self._params)) % (2 ** 40))
        t = tensor(sig + [-s for s in sig], dtype=_C.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.process_group)
        hi, lo = t[:3].tolist(), [-v for v in t[3:].tolist()]
        if hi != lo:
            raise RuntimeError("DistributedDataParallel: the ranks wrap different models (parameter count / "
                               "sizes differ across the process group; this rank has %d parameters with %d "
                               "elements)" % (sig[0], sig[1]))

    def _broadcast_states(self, tensors):
        """Broadcasts tensors from the group's rank 0 in coalesced chunks (one flat buffer per dtype/device
        chunk of at most 250 MiB)."""
        dist = _dist()
        groups = {}
        for t in tensors:
            if t.numel():
                groups.setdefault((t.dtype, str(t.device)), []).append(t)
        with no_grad():
            for ts in groups.values():
                chunk, size = [], 0
                for t in ts + [None]:
                    if t is not None:
                        chunk.append(t)
                        size += t.numel() * t.element_size()
                    if chunk and (t is None or size >= _BROADCAST_BUCKET_BYTES):
                        flat = cat([c.detach().reshape(-1) for c in chunk])
                        dist.broadcast(flat, src=self._src, group=self.process_group)
                        off = 0
                        for c in chunk:
                            n = c.numel()
                            c.copy_(flat[off:off + n].view(c.shape))
                            off += n
                        chunk, size = [], 0

    # ------------------------------------------------------------------------------------------ forward

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients of the forward/backward passes inside are only accumulated locally; the first backward
        after the context reduces the accumulated gradients. The forward must run inside the context."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def will_sync_module_buffers(self):
        return self.require_forward_param_sync and self.broadcast_buffers and any(
            b.numel() for b in self.module.buffers())

    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self._check_finished()
        if self.will_sync_module_buffers():
            self._broadcast_states(list(self.module.buffers()))
        if self._module_device is not None and self.device_ids:
            from .data_parallel import _to_device
            inputs, kwargs = _to_device(tuple(inputs), self._module_device), _to_device(dict(kwargs),
                                                                                         self._module_device)
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self._prepare_for_backward(output)
        else:
            self.require_forward_param_sync = False
        return output

    def _check_finished(self):
        if not self._require_finalize:
            return
        missing = [self._param_names[i] for i in range(len(self._params)) if not self._ready[i]]
        raise RuntimeError(
            "Expected to have finished reduction in the prior iteration before starting a new one. This error "
            "indicates that your module has parameters that were not used in producing loss. You can enable "
            "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
            "`ember.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
            "participate in calculating loss. If you already have done the above, then the distributed data "
            "parallel module wasn't able to locate the output tensors in the return value of your module's "
            "`forward` function.\nParameters which did not receive grad for rank %d: %s"
            % (_dist().get_rank(), ", ".join(missing)))

    def _prepare_for_backward(self, output):
        self._expect_hooks = True
        self._ready = [False] * len(self._params)
        self._used = [False] * len(self._params)
        self._next_bucket = 0
        for b in self._buckets:
            b.pending = len(b.indices)
            b.work = None
        self._unused = []
        if self.find_unused_parameters or self.static_graph:
            if self.static_graph and self._static_unused is not None:
                self._unused = self._static_unused
            else:
                reach = _reachable_leaves(_find_tensors(output))
                self._unused = [i for i, p in enumerate(self._params) if id(p) not in reach]
                if self.static_graph:
                    self._static_unused = self._unused

    # ------------------------------------------------------------------------------------------ backward

    def _make_hook(self, index):
        # a weak reference: the parameters must not keep a discarded wrapper alive (nor let it react)
        ref = weakref.ref(self)

        def hook(param):
            ddp = ref()
            if ddp is not None and ddp._expect_hooks:
                ddp._autograd_hook(index)
        return hook

    def _autograd_hook(self, index):
        if self._ready[index]:
            raise RuntimeError("Expected to mark a variable ready only once. This error is caused by one of the "
                               "following reasons: 1) Use of a module parameter outside the `forward` function; "
                               "2) Reused parameters in multiple reentrant backward passes. Parameter: %s"
                               % self._param_names[index])
        if not self._require_finalize:
            self._require_finalize = True
            for j in self._unused:
                if not self._ready[j]:
                    self._mark_ready(j)
        self._used[index] = True
        self._mark_ready(index)

    def _mark_ready(self, index):
        self._ready[index] = True
        bucket, slot = self._where[index]
        p = self._params[index]
        view = bucket.views[slot]
        g = p.grad
        with no_grad():
            if g is None:
                _C.fill_(view, 0)
            elif g is not view:
                view.copy_(g)
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready_buckets()
        else:
            # let the reductions already in flight progress while backward computes
            for b in self._buckets[:self._next_bucket]:
                if b.work is not None:
                    b.work.is_completed()

    def _launch_ready_buckets(self):
        dist = _dist()
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
            b = buckets[self._next_bucket]
            with no_grad():
                if self._world > 1:
                    b.flat.div_(self._world)
                b.work = dist.all_reduce(b.flat, op=dist.ReduceOp.SUM, group=self.process_group, async_op=True)
            self._next_bucket += 1
        if self._next_bucket == len(buckets):
            self._finalize()

    def _finalize(self):
        """Waits for every bucket, then writes the averaged gradients into .grad."""
        dist = _dist()
        globally_used = None
        if self._unused:
            flags = tensor([1 if u else 0 for u in self._used], dtype=_C.int32)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=self.process_group)
            globally_used = flags.tolist()
        with no_grad():
            for b in self._buckets:
                b.work.wait()
                b.work = None
                for slot, i in enumerate(b.indices):
                    if globally_used is not None and not globally_used[i]:
                        continue  # unused on every rank: .grad stays as it was
                    p = self._params[i]
                    view = b.views[slot]
                    if self.gradient_as_bucket_view:
                        if p.grad is not view:
                            p.grad = view
                    elif p.grad is None:
                        p.grad = _C.clone(view)
                    else:
                        p.grad.copy_(view)
        self._expect_hooks = False
        self._require_finalize = False

    # ------------------------------------------------------------------------------------------ misc

    def extra_repr(self):
        return ""

    def __getstate__(self):
        raise RuntimeError("DistributedDataParallel cannot be pickled: pickle (or save) its .module instead")
