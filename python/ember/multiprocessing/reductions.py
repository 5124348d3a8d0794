"""Tensors in shared memory, and their pickling between processes.

``Tensor.share_memory_()`` copies a tensor's storage into an anonymous shared-memory file (``memfd_create``; an
unlinked file under /dev/shm where memfd is missing) mapped ``MAP_SHARED``, and points the same tensor object at
it (``x.data = ...``: object, version counter and autograd identity stay). Each block keeps its descriptor open
while it is mapped here. Pickled by multiprocessing (queues, pipes, ``Process`` args of spawned children), a
shared tensor travels as a duplicate of that descriptor plus its geometry (``multiprocessing.reduction.DupFd``:
handed over at spawn, else fetched from the sender's resource sharer), and the receiver maps the same file, so
writes on either side are seen by the other. The file has no name: the memory lives exactly as long as some
process maps it or holds a descriptor, and nothing can leak into /dev/shm (PyTorch's 'file_descriptor'
strategy). A forked child inherits the mappings. Tensors that are not shared are pickled by value (a copy).

A receiver that already maps a file (found by inode) reuses that mapping, so a Hogwild worker handed the same
parameters twice, or a parent handed its own tensors back, does not map them again.
"""
import ctypes
import mmap
import os
import tempfile
import threading
import weakref
from multiprocessing import reduction as _mp_reduction

import numpy as np

from .. import _C
from .._tensor import Tensor

__all__ = ["share_memory_", "is_shared", "init_reductions"]

_lock = threading.RLock()  # queue feeder threads pickle in the background; a finalizer may run under it
_by_inode = {}            # (st_dev, st_ino) -> _Block mapped in this process
_by_storage = {}          # _C.storage_id -> _Block, for every storage created over a block here

# mmap through libc rather than the mmap module, which keeps a second descriptor per mapping
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


class _Block:
    """One mapped shared-memory file: its descriptor, size and address, a weak reference to the numpy array
    over the mapping (every storage on the block holds that array; when the last goes, the mapping and the
    descriptor are closed) and weak references to live tensors on it (to give receivers the same storage)."""

    __slots__ = ("fd", "nbytes", "addr", "key", "array", "storages", "tensors", "handle", "_first")

    def __init__(self, fd, nbytes, key):
        size = max(nbytes, 1)  # a mapping cannot be empty: zero-byte tensors map one byte and use none of it
        addr = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == _MAP_FAILED:
            err = ctypes.get_errno()
            raise OSError(err, "share_memory_: mmap of %d bytes failed: %s" % (size, os.strerror(err)))
        arr = np.frombuffer((ctypes.c_uint8 * size).from_address(addr), dtype=np.uint8, count=nbytes)
        self.fd, self.nbytes, self.key, self.addr = fd, nbytes, key, addr
        self.array = weakref.ref(arr)
        self.storages = set()
        self.tensors = weakref.WeakSet()
        self.handle = _Handle(self)
        weakref.finalize(arr, _release, self, size)
        self._first = arr  # dropped by the first base(): from then on the storages keep it alive

    def base(self):
        """A uint8 tensor over the whole block (on the storage of a live tensor when there is one), or None
        once the mapping is gone."""
        for t in list(self.tensors):
            if _block_of(t) is self:  # still on this block (not moved away by `t.data = ...`)
                return _C._storage_view(t, _C.uint8, [self.nbytes], [1], 0)
        arr, self._first = (self.array() if self._first is None else self._first), None
        if arr is None:
            return None
        t = _C.from_numpy(arr)
        self.storages.add(_C.storage_id(t))
        _by_storage[_C.storage_id(t)] = self
        return t

    def adopt(self, t):
        self.tensors.add(t)


def _reset_lock():  # a fork while another thread held the lock must not leave the child's copy locked
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_lock)


def _release(block, size):  # the last storage on the block is gone
    with _lock:
        if _by_inode.get(block.key) is block:
            del _by_inode[block.key]
        for sid in block.storages:
            if _by_storage.get(sid) is block:
                del _by_storage[sid]
    _libc.munmap(block.addr, size)
    os.close(block.fd)


def _new_fd(nbytes):
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ember_shared_tensor", os.MFD_CLOEXEC)
    else:
        fd, path = tempfile.mkstemp(prefix="ember_shm_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        os.unlink(path)  # nameless from the start: the kernel frees it with the last descriptor or mapping
    try:
        os.ftruncate(fd, max(nbytes, 1))
    except OSError:
        os.close(fd)
        raise
    return fd


def _key(fd):
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)


def _attach(fd, nbytes):
    """A uint8 tensor over the shared file behind fd (which this call takes over), reusing a live mapping."""
    key = _key(fd)
    with _lock:
        block = _by_inode.get(key)
        base = block.base() if block is not None else None
        if base is not None:
            if fd != block.fd:
                os.close(fd)
            return base, block
        os.set_inheritable(fd, False)
        block = _Block(fd, nbytes, key)
        _by_inode[key] = block
        return block.base(), block


def _storage_addr(t):
    return t.data_ptr() - t.storage_offset() * t.element_size()


def _block_of(t):
    block = _by_storage.get(_C.storage_id(t))
    if block is None or block.array() is None or _storage_addr(t) != block.addr:
        return None  # a storage id reused by a private storage after a shared one died
    return block


def is_shared(self):
    """True when this tensor's storage is in shared memory (after share_memory_, or received from another
    process as a shared tensor)."""
    return _block_of(self) is not None


def share_memory_(self):
    """Moves this tensor's storage into shared memory, in place (a no-op when it is already there), and returns
    self. The tensor object, its autograd state and version counter stay; the data is copied once. Views taken
    afterwards share the block; views taken before keep the old private memory."""
    if _block_of(self) is not None:
        return self
    _register(type(self))
    nbytes = _C.storage_nbytes(self)
    fd = _new_fd(nbytes)
    try:
        base, block = _attach(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise
    if nbytes:
        _C.copy_(base, _C._storage_view(self, _C.uint8, [nbytes], [1], 0))
    self.data = _C._storage_view(base, self.dtype, list(self.shape), list(self.stride()), self.storage_offset())
    block.adopt(self)
    return self


# ---------------------------------------------------------------------------------------------- pickling

class _Handle:
    """Stands for one block in a pickle. Every tensor on the block refers to the block's one handle, so the
    pickle memo sends the descriptor once per message and the receiver rebuilds all of them on one storage
    (a spawning child must also be passed each descriptor only once)."""

    __slots__ = ("block",)

    def __init__(self, block):
        self.block = block

    def __reduce__(self):
        b = self.block
        # at spawn: passed to the child; else a duplicate the resource sharer keeps until the receiver fetches it
        return (_rebuild_base, (_mp_reduction.DupFd(b.fd), b.nbytes))


def _rebuild_base(df, nbytes):
    fd = df.detach()
    try:
        return _attach(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise


def _reduce_tensor(t):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd does "
                           "not support crossing process boundaries.  If you just want to transfer the data, call "
                           "detach() on the tensor before serializing (e.g., putting it on the queue).")
    block = _block_of(t)
    if block is None:
        return t.__reduce_ex__(2)  # not shared: sent by value
    state = {k: v for k, v in t.__dict__.items() if k != "_post_acc_node"}
    return (_rebuild_shared, (type(t), block.handle, t.dtype._name, tuple(t.shape), t.stride(), t.storage_offset(),
                              t.requires_grad, state))


def _rebuild_shared(cls, base_block, dtype, sizes, strides, offset, requires_grad, state):
    base, block = base_block
    t = _C._storage_view(base, getattr(_C, dtype), list(sizes), list(strides), offset)
    if cls is not Tensor and getattr(cls, "_is_param", False):
        t = cls(t, requires_grad)
    else:
        t.requires_grad = requires_grad
    t.__dict__.update(state)
    block.adopt(t)
    return t


_registered = set()


def _register(cls):
    if cls not in _registered:
        _mp_reduction.ForkingPickler.register(cls, _reduce_tensor)
        _registered.add(cls)


def init_reductions():
    """Registers the tensor reducer with multiprocessing's pickler (done on import of ember.multiprocessing;
    pickling looks reducers up by exact type, so share_memory_ also registers subclasses it meets)."""
    from ..nn.parameter import Parameter
    _register(Tensor)
    _register(Parameter)


init_reductions()
