"""Collectives and point-to-point ops on CPU tensors over MPI's nonblocking calls.

Each op stages its tensors as contiguous numpy buffers (the tensor's own memory when it is contiguous and
numpy has its dtype; otherwise a contiguous copy that is written back into the caller's tensor when the op
completes; float16 reductions and every bfloat16 op go through a float32 copy), starts the MPI request and
returns a Work (async_op=True) or waits for it against the group's timeout.
"""
import numpy as np

import ember

from . import _mpi
from .constants import ReduceOp
from .process_group import _resolve
from .work import Work

_FLOAT_STAGED = (ember.bfloat16,)


def _check_tensor(t, op, what="tensor"):
    if not isinstance(t, ember.Tensor):
        raise TypeError("%s: %s must be an ember.Tensor, got %s" % (op, what, type(t).__name__))
    if t.device.type != "cpu":
        raise RuntimeError("%s: the mpi/gloo backend carries CPU tensors only, %s is on %s" % (op, what, t.device))


class _Buf:
    """A contiguous numpy view of a tensor for MPI (``arr``), with write-back into the tensor when needed."""

    __slots__ = ("tensor", "arr", "copied")

    def __init__(self, t, reduce=False):
        d = t.detach()
        if d.dtype in _FLOAT_STAGED or (reduce and d.dtype == ember.float16):
            self.arr = np.ascontiguousarray(d.float().numpy())
            self.copied = True
        elif d.is_contiguous():
            self.arr = d.numpy()
            self.copied = False
        else:
            self.arr = d.contiguous().numpy()
            self.copied = True
        self.tensor = t

    @property
    def mpi(self):
        """The buffer handed to MPI (bool as uint8: MPI has no arithmetic on C bool)."""
        return self.arr.view(np.uint8) if self.arr.dtype == np.bool_ else self.arr

    def write_back(self):
        if self.copied:
            src = ember.from_numpy(self.arr)
            self.tensor.detach().copy_(src.reshape(self.tensor.shape))


def _empty_like_staged(t, n, reduce=False):
    """A contiguous numpy array of n copies of t's elements, in t's staged dtype."""
    if t.dtype in _FLOAT_STAGED or (reduce and t.dtype == ember.float16):
        dt = np.float32
    else:
        dt = ember.empty(0, dtype=t.dtype).numpy().dtype
    return np.empty((n,) + tuple(t.shape), dtype=dt)


def _mpi_buf(arr):
    return arr.view(np.uint8) if arr.dtype == np.bool_ else arr


def _op(MPI, op, np_dtype, name):
    """(MPI op, post-processing of the reduced array or None) for a ReduceOp on a numpy dtype."""
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError("%s: op must be a ReduceOp (ReduceOp.SUM, ...), got %r" % (name, op))
    kind = np.dtype(np_dtype).kind
    if op is ReduceOp.BAND or op is ReduceOp.BOR or op is ReduceOp.BXOR:
        if kind not in "biu":
            raise RuntimeError("%s: ReduceOp.%s is defined for integer and bool tensors only, got %s"
                               % (name, op.name, np.dtype(np_dtype).name))
        return {"BAND": MPI.BAND, "BOR": MPI.BOR, "BXOR": MPI.BXOR}[op.name], None
    if kind == "b":  # on 0/1 bytes: sum -> or, product -> and
        if op is ReduceOp.AVG:
            raise RuntimeError("%s: ReduceOp.AVG is not defined for bool tensors" % name)
        return {"SUM": MPI.MAX, "PRODUCT": MPI.MIN, "MIN": MPI.MIN, "MAX": MPI.MAX}[op.name], None
    if op is ReduceOp.AVG:
        def average(arr, size):
            if kind == "f":
                arr /= size
            else:
                np.floor_divide(arr, size, out=arr)
        return MPI.SUM, average
    return {"SUM": MPI.SUM, "PRODUCT": MPI.PROD, "MIN": MPI.MIN, "MAX": MPI.MAX}[op.name], None


def _finish(pg, name, requests, finish, outputs, async_op, status=None, keep=(), timeout=None):
    work = Work(name, pg, requests, finish, outputs, status, keep, timeout)
    if async_op:
        return work
    work.wait()
    return None


def _root(pg, rank, group_rank, name, what):
    """The group rank of the root given as a global rank (``rank``) or a group rank (``group_rank``)."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError("%s: give %s or group_%s, not both" % (name, what, what))
        if not 0 <= int(group_rank) < pg.size():
            raise ValueError("%s: group_%s %d is out of range for a group of size %d"
                             % (name, what, group_rank, pg.size()))
        return int(group_rank)
    if rank is None:
        raise ValueError("%s: %s must be given" % (name, what))
    if not isinstance(rank, (int, np.integer)) or isinstance(rank, bool):
        raise TypeError("%s: %s must be an int rank, got %r" % (name, what, rank))
    if rank not in pg.global_ranks:
        raise ValueError("%s: %s rank %d is out of range (the group has global ranks %s)"
                         % (name, what, rank, _ranges(pg.global_ranks)))
    return pg.global_ranks.index(int(rank))


def _ranges(ranks):
    if ranks == list(range(len(ranks))):
        return "0..%d" % (len(ranks) - 1)
    return str(ranks)


# ---------------------------------------------------------------------------------------------- collectives

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``tensor`` across the group in place (every rank gets the result)."""
    name = "all_reduce"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    MPI = _mpi.load_mpi()
    buf = _Buf(tensor, reduce=True)
    mop, post = _op(MPI, op, buf.arr.dtype, name)
    req = pg.comm.Iallreduce(MPI.IN_PLACE, buf.mpi, mop)

    def finish():
        if post is not None:
            post(buf.arr, pg.size())
        buf.write_back()
    return _finish(pg, name, [req], finish, [tensor], async_op, keep=(buf,))


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copies ``tensor`` of rank ``src`` (a global rank) into ``tensor`` of every rank of the group."""
    name = "broadcast"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    root = _root(pg, src, group_src, name, "src")
    buf = _Buf(tensor)
    req = pg.comm.Ibcast(buf.mpi, root)
    finish = buf.write_back if pg.rank() != root else None
    return _finish(pg, name, [req], finish, [tensor], async_op, keep=(buf,))


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Blocks until every rank of the group entered the barrier (bounded by ``timeout``, a timedelta or
    seconds, else the group's timeout)."""
    pg = _resolve(group, "barrier")
    if pg is None:
        return None
    return _finish(pg, "barrier", [pg.comm.Ibarrier()], None, [], async_op, timeout=_seconds(timeout))


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier that raises (naming the op and this rank) when the others do not arrive within ``timeout``."""
    pg = _resolve(group, "monitored_barrier")
    if pg is None:
        return None
    return _finish(pg, "monitored_barrier", [pg.comm.Ibarrier()], None, [], False, timeout=_seconds(timeout))


def _seconds(timeout):
    if timeout is None:
        return None
    from .process_group import _timeout_seconds
    return _timeout_seconds(timeout)


def _check_items(items, like, name, list_name, role):
    """Each tensor of a per-rank list has like's dtype and number of elements."""
    for i, t in enumerate(items):
        _check_tensor(t, name, "%s[%d]" % (list_name, i))
        if t.dtype != like.dtype or t.numel() != like.numel():
            raise ValueError("%s: %s[%d] (%s, shape %s) does not match the %s (%s, shape %s)"
                             % (name, list_name, i, t.dtype, list(t.shape), role, like.dtype, list(like.shape)))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fills ``tensor_list[i]`` with rank i's ``tensor`` (all the same shape and dtype)."""
    name = "all_gather"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError("all_gather: tensor_list must be a list of tensors, got %s" % type(tensor_list).__name__)
    if len(tensor_list) != pg.size():
        raise ValueError("all_gather: tensor_list has %d tensors, the group has %d ranks"
                         % (len(tensor_list), pg.size()))
    _check_items(tensor_list, tensor, name, "tensor_list", "input")
    send = _Buf(tensor)
    recv = _empty_like_staged(tensor, pg.size())
    req = pg.comm.Iallgather(send.mpi, _mpi_buf(recv))

    def finish():
        for i, t in enumerate(tensor_list):
            t.detach().copy_(ember.from_numpy(np.ascontiguousarray(recv[i])).reshape(t.shape))
    return _finish(pg, name, [req], finish, list(tensor_list), async_op, keep=(send, recv))


def _check_stacked(name, big, small, size, big_name, small_name):
    """big must be size * small: shape [size*d0, ...] or [size, d0, ...] (for 0-d small: [size])."""
    if big.dtype != small.dtype:
        raise TypeError("%s: %s dtype %s does not match %s dtype %s" % (name, big_name, big.dtype, small_name,
                                                                        small.dtype))
    s = tuple(small.shape)
    ok = [(size,) + s]
    if len(s) > 0:
        ok.append((size * s[0],) + s[1:])
    if tuple(big.shape) not in ok:
        raise ValueError("%s: %s must have world_size (%d) times the %s's elements, shape %s; got %s of shape %s "
                         "and %s of shape %s" % (name, big_name, size, small_name,
                                                 " or ".join(str(list(o)) for o in ok), big_name, list(big.shape),
                                                 small_name, list(small.shape)))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenates every rank's ``input_tensor`` into ``output_tensor`` (world_size times as large)."""
    name = "all_gather_into_tensor"
    pg = _resolve(group, name)
    _check_tensor(output_tensor, name, "output_tensor")
    _check_tensor(input_tensor, name, "input_tensor")
    if pg is None:
        return None
    _check_stacked(name, output_tensor, input_tensor, pg.size(), "output_tensor", "input_tensor")
    send, recv = _Buf(input_tensor), _Buf(output_tensor)
    req = pg.comm.Iallgather(send.mpi, recv.mpi)
    return _finish(pg, name, [req], recv.write_back, [output_tensor], async_op, keep=(send, recv))


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces ``input`` (world_size chunks) across ranks; rank i gets the reduced chunk i in ``output``."""
    name = "reduce_scatter_tensor"
    pg = _resolve(group, name)
    _check_tensor(output, name, "output")
    _check_tensor(input, name, "input")
    if pg is None:
        return None
    _check_stacked(name, input, output, pg.size(), "input", "output")
    MPI = _mpi.load_mpi()
    send, recv = _Buf(input, reduce=True), _Buf(output, reduce=True)
    mop, post = _op(MPI, op, recv.arr.dtype, name)
    req = pg.comm.Ireduce_scatter_block(send.mpi, recv.mpi, mop)

    def finish():
        if post is not None:
            post(recv.arr, pg.size())
        recv.write_back()
    return _finish(pg, name, [req], finish, [output], async_op, keep=(send, recv))


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduces ``tensor`` across ranks into ``tensor`` of rank ``dst`` (others keep theirs)."""
    name = "reduce"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, name, "dst")
    MPI = _mpi.load_mpi()
    buf = _Buf(tensor, reduce=True)
    mop, post = _op(MPI, op, buf.arr.dtype, name)
    if pg.rank() == root:
        req = pg.comm.Ireduce(MPI.IN_PLACE, buf.mpi, mop, root)

        def finish():
            if post is not None:
                post(buf.arr, pg.size())
            buf.write_back()
    else:
        req = pg.comm.Ireduce(buf.mpi, None, mop, root)
        finish = None
    return _finish(pg, name, [req], finish, [tensor], async_op, keep=(buf,))


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (None on the other ranks)."""
    name = "gather"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    root = _root(pg, 0 if dst is None and group_dst is None else dst, group_dst, name, "dst")
    send = _Buf(tensor)
    if pg.rank() == root:
        if not isinstance(gather_list, (list, tuple)) or len(gather_list) != pg.size():
            raise ValueError("gather: the destination rank needs gather_list, a list of %d tensors, got %r"
                             % (pg.size(), None if gather_list is None else "%d items" % len(gather_list)))
        _check_items(gather_list, tensor, name, "gather_list", "input")
        recv = _empty_like_staged(tensor, pg.size())
        req = pg.comm.Igather(send.mpi, _mpi_buf(recv), root)

        def finish():
            for i, t in enumerate(gather_list):
                t.detach().copy_(ember.from_numpy(np.ascontiguousarray(recv[i])).reshape(t.shape))
        return _finish(pg, name, [req], finish, list(gather_list), async_op, keep=(send, recv))
    if gather_list:
        raise ValueError("gather: Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    req = pg.comm.Igather(send.mpi, None, root)
    return _finish(pg, name, [req], None, [], async_op, keep=(send,))


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``src`` sends ``scatter_list[i]`` to rank i, which receives it into ``tensor``."""
    name = "scatter"
    pg = _resolve(group, name)
    _check_tensor(tensor, name)
    if pg is None:
        return None
    root = _root(pg, 0 if src is None and group_src is None else src, group_src, name, "src")
    recv = _Buf(tensor)
    if pg.rank() == root:
        if not isinstance(scatter_list, (list, tuple)) or len(scatter_list) != pg.size():
            raise ValueError("scatter: the source rank needs scatter_list, a list of %d tensors, got %r"
                             % (pg.size(), None if scatter_list is None else "%d items" % len(scatter_list)))
        _check_items(scatter_list, tensor, name, "scatter_list", "output")
        send = _empty_like_staged(tensor, pg.size())
        for i, t in enumerate(scatter_list):
            send[i] = _Buf(t).arr.reshape(send.shape[1:])
        req = pg.comm.Iscatter(_mpi_buf(send), recv.mpi, root)
        keep = (send, recv)
    else:
        if scatter_list:
            raise ValueError("scatter: Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        req = pg.comm.Iscatter(None, recv.mpi, root)
        keep = (recv,)
    return _finish(pg, name, [req], recv.write_back, [tensor], async_op, keep=keep)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                      async_op=False):
    """Splits ``input`` along dim 0 (evenly, or by input_split_sizes), sends piece i to rank i, and
    concatenates the received pieces into ``output``."""
    name = "all_to_all_single"
    pg = _resolve(group, name)
    _check_tensor(output, name, "output")
    _check_tensor(input, name, "input")
    if pg is None:
        return None
    if output.dtype != input.dtype:
        raise TypeError("all_to_all_single: output dtype %s does not match input dtype %s"
                        % (output.dtype, input.dtype))
    size = pg.size()

    def counts(t, splits, what):
        if t.dim() == 0:
            raise ValueError("all_to_all_single: %s must have at least one dimension" % what)
        inner = t.numel() // t.shape[0] if t.shape[0] else 0
        if splits is None or len(splits) == 0:
            if t.shape[0] % size:
                raise ValueError("all_to_all_single: %s dim 0 (%d) is not divisible by the group size %d"
                                 % (what, t.shape[0], size))
            splits = [t.shape[0] // size] * size
        splits = [int(s) for s in splits]
        if len(splits) != size or sum(splits) != t.shape[0] or min(splits) < 0:
            raise ValueError("all_to_all_single: %s split sizes %s must be %d non-negative numbers summing to %s "
                             "dim 0 (%d)" % (what, splits, size, what, t.shape[0]))
        c = [s * inner for s in splits]
        return c, [sum(c[:i]) for i in range(size)]
    sc, sd = counts(input, input_split_sizes, "input")
    rc, rd = counts(output, output_split_sizes, "output")
    send, recv = _Buf(input), _Buf(output)
    req = pg.comm.Ialltoallv([send.mpi, (sc, sd)], [recv.mpi, (rc, rd)])
    return _finish(pg, name, [req], recv.write_back, [output], async_op, keep=(send, recv))


# --------------------------------------------------------------------------------------------- point to point

def _p2p_peer(pg, peer, group_peer, name, what):
    r = _root(pg, peer, group_peer, name, what)
    if r == pg.rank():
        raise ValueError("Invalid %s rank: should not be the same as the rank of the current process."
                         % ("destination" if what == "dst" else "source"))
    return r


def _check_tag(tag):
    if not isinstance(tag, (int, np.integer)) or isinstance(tag, bool) or tag < 0:
        raise ValueError("tag must be a non-negative int, got %r" % (tag,))
    return int(tag)


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Starts sending ``tensor`` to global rank ``dst``; returns a Work."""
    pg = _resolve(group, "isend")
    _check_tensor(tensor, "isend")
    if pg is None:
        return None
    peer = _p2p_peer(pg, dst, group_dst, "isend", "dst")
    buf = _Buf(tensor)
    req = pg.comm.Isend(buf.mpi, peer, _check_tag(tag))
    return Work("send", pg, [req], None, [tensor], keep=(buf,))


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    """Starts receiving into ``tensor`` from global rank ``src`` (None: any rank); returns a Work
    (``work.source_rank()`` after completion)."""
    pg = _resolve(group, "irecv")
    _check_tensor(tensor, "irecv")
    if pg is None:
        return None
    MPI = _mpi.load_mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _p2p_peer(pg, src, group_src, "irecv", "src")
    buf = _Buf(tensor)
    status = MPI.Status()
    req = pg.comm.Irecv(buf.mpi, peer, _check_tag(tag))
    return Work("recv", pg, [req], buf.write_back, [tensor], status=status, keep=(buf,))


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Sends ``tensor`` to global rank ``dst`` (waits for the send to complete)."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receives into ``tensor`` from global rank ``src`` (None: any); returns the sender's global rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    return work.source_rank()


class P2POp:
    """One point-to-point operation for batch_isend_irecv: P2POp(isend or irecv, tensor, peer, group, tag)."""

    def __init__(self, op, tensor, peer=None, group=None, tag=0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("P2POp: op must be ember.distributed.isend or ember.distributed.irecv")
        self.op, self.tensor, self.peer, self.group, self.tag, self.group_peer = op, tensor, peer, group, tag, \
            group_peer


def batch_isend_irecv(p2p_op_list):
    """Starts every P2POp of the list; returns their Works."""
    if not isinstance(p2p_op_list, (list, tuple)) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise TypeError("batch_isend_irecv: expects a list of P2POp")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


# -------------------------------------------------------------------------------------------- object collectives

def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replaces object_list's items on every rank by those of rank ``src`` (pickled; trusted peers only)."""
    pg = _resolve(group, "broadcast_object_list")
    if pg is None:
        return
    root = _root(pg, 0 if src is None and group_src is None else src, group_src, "broadcast_object_list", "src")
    got = pg.comm.bcast(list(object_list) if pg.rank() == root else None, root=root)
    if len(got) != len(object_list):
        raise ValueError("broadcast_object_list: object_list has %d items here, %d on the source rank"
                         % (len(object_list), len(got)))
    object_list[:] = got


def all_gather_object(object_list, obj, group=None):
    """Fills object_list[i] with rank i's ``obj`` (pickled; trusted peers only)."""
    pg = _resolve(group, "all_gather_object")
    if pg is None:
        return
    if len(object_list) != pg.size():
        raise ValueError("all_gather_object: object_list has %d items, the group has %d ranks"
                         % (len(object_list), pg.size()))
    object_list[:] = pg.comm.allgather(obj)
