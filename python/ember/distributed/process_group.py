"""Process groups over MPI communicators: init_process_group, destroy_process_group, new_group and queries.

Two ways to form the world:
- started by an MPI launcher (ember-run, mpiexec): the ranks are MPI's; RANK/WORLD_SIZE (environment or
  arguments) and the launcher's PMI_RANK/PMI_SIZE or OMPI_COMM_WORLD_RANK/SIZE are checked against
  MPI.COMM_WORLD;
- started separately (ember.multiprocessing.spawn, several shells) with world_size > 1, rank, MASTER_ADDR and
  MASTER_PORT (env:// or tcp://host:port): a TCP rendezvous (rendezvous.py: rank 0 serves MPICH's PMI-1
  protocol on MASTER_ADDR:MASTER_PORT) makes them one MPI job before MPI is initialised.
"""
import os
import sys
import traceback
from datetime import timedelta

from . import _mpi
from .constants import Backend, default_pg_timeout

_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


class ProcessGroup:
    """A set of ranks sharing an MPI communicator. ``rank()``/``size()`` are within the group."""

    def __init__(self, comm, backend, timeout, global_ranks, global_rank, name=""):
        self.comm = comm
        self.backend = backend
        self.timeout = timeout  # seconds
        self.global_ranks = list(global_ranks)  # group rank -> global rank
        self.global_rank = global_rank
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()
        self.group_name = name

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def name(self):
        return self.backend

    def group_rank_of(self, global_rank, what):
        try:
            return self.global_ranks.index(int(global_rank))
        except ValueError:
            raise ValueError("%s rank %d is not in the process group (global ranks %s; world size %d)"
                             % (what, global_rank, self.global_ranks, _world_size_or(len(self.global_ranks))))

    def __repr__(self):
        return "<ember.distributed.ProcessGroup backend=%s rank=%d size=%d>" % (self.backend, self._rank, self._size)


class _NonMember:
    def __repr__(self):
        return "<ember.distributed.GroupMember.NON_GROUP_MEMBER>"


class _State:
    default = None  # ProcessGroup of the whole world
    groups = []
    prev_excepthook = None
    rendezvous = False  # MPI was initialised through the TCP rendezvous (finalised by destroy_process_group)
    rendezvous_server = None


_state = _State()


def _world_size_or(default):
    return _state.default.size() if _state.default is not None else default


class _GroupMeta(type):
    @property
    def WORLD(cls):
        return _state.default


class GroupMember(metaclass=_GroupMeta):
    """``GroupMember.WORLD`` is the default group once initialised; ``NON_GROUP_MEMBER`` is what new_group
    returns on ranks outside the new group."""
    NON_GROUP_MEMBER = _NonMember()


class group(metaclass=_GroupMeta):
    """``group.WORLD``: the default process group (None before init_process_group)."""


def _timeout_seconds(timeout):
    if timeout is None:
        timeout = default_pg_timeout
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError("Expected timeout argument to be of type datetime.timedelta, got %r" % (timeout,))
    if not seconds > 0:
        raise ValueError("timeout must be positive, got %r" % (timeout,))
    return seconds


def _env_int(name):
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError("environment variable %s=%r is not an integer" % (name, value)) from None


def _launcher_rank_size():
    """(rank, size, source) from the MPI launcher's own variables, or (None, None, None)."""
    for r, s in (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                 ("PMIX_RANK", None)):
        if os.environ.get(r) is not None:
            return _env_int(r), (_env_int(s) if s else None), r
    return None, None, None


_LAUNCHER_VARS = ("PMI_RANK", "PMI_FD", "PMI_PORT", "PMI_ID", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "HYDI_CONTROL_FD")


def _under_mpi_launcher():
    return any(v in os.environ for v in _LAUNCHER_VARS)


def _master_endpoint(init_method):
    if init_method and init_method.startswith("file://"):
        raise ValueError("init_method %r: file:// rendezvous is not supported for processes started without a "
                         "launcher; use env:// (MASTER_ADDR/MASTER_PORT) or tcp://host:port, or start the ranks "
                         "with ember-run" % init_method)
    if init_method and init_method.startswith("tcp://"):
        host, _, port = init_method[len("tcp://"):].split("/")[0].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("init_method %r: expected tcp://host:port" % init_method)
        return host.strip("[]"), int(port)
    for var in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(var):
            raise ValueError("Error initializing ember.distributed using env:// rendezvous: environment variable "
                             "%s expected, but not set (or start the ranks with ember-run / mpiexec)" % var)
    port = _env_int("MASTER_PORT")
    return os.environ["MASTER_ADDR"], port


def _tcp_rendezvous(rank, size, init_method, seconds):
    """Makes this separately started process rank ``rank`` of a ``size``-process MPI job (see rendezvous.py),
    then initialises MPI. Returns mpi4py.MPI."""
    import socket
    import subprocess
    import time

    host, port = _master_endpoint(init_method)
    try:
        import mpi4py
    except ImportError as e:
        raise ImportError(_mpi._INSTALL_HINT) from e
    deadline = time.monotonic() + seconds
    if rank == 0:
        bind = host if host in ("127.0.0.1", "localhost", "::1") else ""
        from . import rendezvous
        # the server reports ranks missing after the timeout (MPI_Init holds the GIL: no watchdog thread here)
        server = subprocess.Popen([sys.executable, os.path.abspath(rendezvous.__file__), str(port), str(size),
                                   bind, str(seconds), str(os.getpid())], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, start_new_session=True)
        line = server.stdout.readline()
        if b"LISTENING" not in line:
            server.wait()
            raise RuntimeError("init_process_group: rank 0 could not listen on MASTER_PORT %d for the rendezvous "
                               "(port in use?)" % port)
        _state.rendezvous_server = server
    else:
        while True:  # wait until rank 0's rendezvous listens (MPICH's PMI client does not retry)
            try:
                socket.create_connection((host, port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("init_process_group: rank %d could not reach the rendezvous of rank 0 at "
                                       "%s:%d within %.0f s" % (rank, host, port, seconds)) from None
                time.sleep(0.05)

    os.environ["PMI_PORT"] = "%s:%d" % (host, port)
    os.environ["PMI_ID"] = str(rank)
    mpi4py.rc.finalize = False  # MPI_Finalize runs in destroy_process_group (a failed rank must not block in it)
    try:
        MPI = _mpi.load_mpi()
    finally:
        os.environ.pop("PMI_PORT", None)
        os.environ.pop("PMI_ID", None)
    _state.rendezvous = True
    return MPI


def _check_backend(backend):
    if backend is None:
        return Backend.MPI if not _cuda_default() else Backend.NCCL
    if isinstance(backend, str) and ":" in backend:  # "cpu:gloo,cuda:nccl"
        parts = dict(p.split(":", 1) for p in backend.split(",") if ":" in p)
        backend = parts.get("cpu", next(iter(parts.values())))
    name = Backend(backend)
    if name == Backend.NCCL:
        _nccl_unavailable()
    if name == Backend.UNDEFINED:
        raise ValueError("backend 'undefined' cannot initialise a process group")
    return name


def _cuda_default():
    return False  # the MPI backends carry CPU tensors; "nccl" has to be asked for explicitly


def _nccl_unavailable():
    try:
        import ember
        cuda_ok = bool(ember.cuda.is_available())
    except Exception:
        cuda_ok = False
    if not cuda_ok:
        raise RuntimeError('Distributed backend "nccl" needs CUDA tensors on a GPU, but ember.cuda.is_available() '
                           'is False (no GPU visible or ember built without CUDA); use backend "mpi" or "gloo" for '
                           'CPU tensors')
    raise RuntimeError('Distributed backend "nccl" is not available in this ember build (NCCL collectives of CUDA '
                       'tensors are not implemented yet); use backend "mpi" or "gloo" with CPU tensors')


def _install_excepthook(rank):
    """An uncaught exception in one rank would leave the others blocked in a collective (MPICH waits): print
    the traceback with the rank and abort the whole MPI job instead."""
    prev = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            sys.stderr.write("[rank %d] uncaught exception; aborting the MPI job:\n" % rank)
            sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
        finally:
            _mpi.abort_job(1)

    hook.ember_distributed = True
    if not getattr(prev, "ember_distributed", False):
        _state.prev_excepthook = prev
    sys.excepthook = hook


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Initialises the default process group.

    Under an MPI launcher (ember-run / mpiexec) the ranks are MPI's, and RANK/WORLD_SIZE (environment or the
    rank/world_size arguments) must agree with MPI.COMM_WORLD. A process started without a launcher with
    world_size > 1 (ember.multiprocessing.spawn, one shell per rank) joins the others through the TCP
    rendezvous at MASTER_ADDR:MASTER_PORT (env://) or tcp://host:port, where rank 0 listens.
    backend: "mpi" or "gloo" (both run on MPI, CPU tensors) or "nccl" (CUDA; a clear error where unavailable).
    timeout: a timedelta (default 30 minutes): a collective that does not finish in time raises an error
    naming the op and the rank. store, pg_options and device_id are accepted for torch compatibility
    (a store cannot rendezvous MPI processes; device_id is irrelevant for CPU tensors).
    """
    if _state.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    mpi = _mpi.mpi_if_loaded()
    if _state.rendezvous and mpi is not None and mpi.Is_finalized():
        raise RuntimeError("init_process_group: this process's MPI job (formed by the TCP rendezvous) was "
                           "finalised by destroy_process_group; MPI cannot be initialised twice in one process")
    if init_method is not None and store is not None:
        raise ValueError("Cannot specify both init_method and store.")
    if init_method is not None:
        if not isinstance(init_method, str) or not init_method.split("://")[0] in ("env", "tcp", "file"):
            raise ValueError("init_method must be 'env://', 'tcp://host:port' or 'file://path', got %r"
                             % (init_method,))
    name = _check_backend(backend)
    seconds = _timeout_seconds(timeout)
    if not isinstance(world_size, int) or not isinstance(rank, int):
        raise TypeError("world_size and rank must be integers, got %r and %r" % (world_size, rank))
    want_size = world_size if world_size != -1 else _env_int("WORLD_SIZE")
    want_rank = rank if rank != -1 else _env_int("RANK")
    if want_size is not None and want_size < 1:
        raise ValueError("world_size must be positive, got %d" % want_size)
    if want_rank is not None and want_size is not None and not 0 <= want_rank < want_size:
        raise ValueError("rank %d is out of range for world_size %d" % (want_rank, want_size))

    if (want_size is not None and want_size > 1 and _mpi.mpi_if_loaded() is None and not _under_mpi_launcher()
            and _mpi.mpi4py_installed()):
        if want_rank is None:
            raise ValueError("init_process_group: world_size=%d without a launcher needs this process's rank "
                             "(rank= or RANK)" % want_size)
        MPI = _tcp_rendezvous(want_rank, want_size, init_method, seconds)
    else:
        MPI = _mpi.load_mpi()
    world = MPI.COMM_WORLD
    mpi_rank, mpi_size = world.Get_rank(), world.Get_size()
    l_rank, l_size, source = _launcher_rank_size()
    if want_size is not None and want_size > 1 and mpi_size == 1:
        raise RuntimeError(
            "init_process_group: world_size=%d was requested but this process is alone in its MPI job "
            "(MPI.COMM_WORLD has 1 process): MPI was initialised before init_process_group (importing "
            "mpi4py.MPI does that), or the MPI library is not MPICH (the TCP rendezvous of separately started "
            "processes speaks MPICH's PMI). Launch the ranks with "
            "`ember-run --nproc-per-node=%d script.py` (python -m ember.distributed.run) or "
            "`mpiexec -n %d python script.py`." % (want_size, want_size, want_size))
    if want_size is not None and want_size != mpi_size:
        raise RuntimeError("init_process_group: world_size=%d but the MPI job has %d processes (MPI.COMM_WORLD); "
                           "start as many processes as the world size" % (want_size, mpi_size))
    if want_rank is not None and want_rank != mpi_rank:
        raise RuntimeError("init_process_group: rank=%d but MPI.COMM_WORLD says this process is rank %d of %d; "
                           "ember.distributed's ranks are MPI's ranks" % (want_rank, mpi_rank, mpi_size))
    if l_rank is not None and (l_rank != mpi_rank or (l_size is not None and l_size != mpi_size)):
        raise RuntimeError("init_process_group: the launcher's %s=%s disagrees with MPI.COMM_WORLD (rank %d of %d): "
                           "mixed MPI installations (mpiexec of one MPI, mpi4py built for another)?"
                           % (source, os.environ.get(source), mpi_rank, mpi_size))
    comm = world.Dup()
    pg = ProcessGroup(comm, str(name), seconds, range(mpi_size), mpi_rank, group_name or "default_pg")
    _state.default = pg
    _state.groups = [pg]
    _install_excepthook(mpi_rank)


def destroy_process_group(group=None):
    """Frees the default group (and every group made by new_group), or only ``group``."""
    if group is None or group is _state.default:
        if _state.default is None:
            raise ValueError(_NOT_INIT)
        for pg in _state.groups:
            _free(pg)
        _state.default = None
        _state.groups = []
        if getattr(sys.excepthook, "ember_distributed", False):
            sys.excepthook = _state.prev_excepthook or sys.__excepthook__
        mpi = _mpi.mpi_if_loaded()
        if _state.rendezvous and mpi is not None and not mpi.Is_finalized():
            mpi.Finalize()  # the rendezvous job cannot be re-initialised: MPI allows one MPI_Init per process
        return
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    if group not in _state.groups:
        raise ValueError("destroy_process_group: %r is not a live process group" % (group,))
    _free(group)
    _state.groups.remove(group)


def _free(pg):
    mpi = _mpi.mpi_if_loaded()
    if mpi is not None and not mpi.Is_finalized():
        try:
            pg.comm.Free()
        except Exception:
            pass


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None, sort_ranks=True):
    """A group of some global ranks; every rank of the world must call it (as in torch). Returns
    GroupMember.NON_GROUP_MEMBER on ranks outside the group."""
    world = _default("new_group")
    if backend is not None and Backend(backend) == Backend.NCCL:
        _nccl_unavailable()
    seconds = world.timeout if timeout is None else _timeout_seconds(timeout)
    if ranks is None:
        ranks = list(range(world.size()))
    ranks = [int(r) for r in ranks]
    if sort_ranks:
        ranks.sort()
    if len(set(ranks)) != len(ranks):
        raise ValueError("new_group: ranks %s contain duplicates" % ranks)
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError("new_group: rank %d is out of range for world size %d" % (r, world.size()))
    MPI = _mpi.load_mpi()
    sub = world.comm.group.Incl(ranks)
    comm = world.comm.Create(sub)
    sub.Free()
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, world.backend, seconds, ranks, world.global_rank, group_desc or "")
    _state.groups.append(pg)
    return pg


def _default(op):
    if _state.default is None:
        raise ValueError(_NOT_INIT)
    return _state.default


def _resolve(group, op):
    """The ProcessGroup to run ``op`` on (None/WORLD: the default), or None when this rank is not a member."""
    world = _default(op)
    if group is None or group is world:
        return world
    if group is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(group, ProcessGroup):
        raise TypeError("%s: group must be a ProcessGroup from new_group (or None), got %r" % (op, group))
    if group not in _state.groups:
        raise ValueError("%s: the process group was destroyed" % op)
    return group


def is_initialized():
    return _state.default is not None


def is_available():
    """ember.distributed is always built in (the backends need mpi4py, see is_mpi_available)."""
    return True


def is_mpi_available():
    return _mpi.mpi4py_installed()


def is_gloo_available():
    return _mpi.mpi4py_installed()  # "gloo" is carried by MPI


def is_nccl_available():
    return False


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def get_rank(group=None):
    """This process's rank in ``group`` (default: the world); -1 when it is not a member."""
    pg = _resolve(group, "get_rank")
    return -1 if pg is None else pg.rank()


def get_world_size(group=None):
    pg = _resolve(group, "get_world_size")
    return -1 if pg is None else pg.size()


def get_backend(group=None):
    pg = _resolve(group, "get_backend")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return Backend(pg.backend)


def get_process_group_ranks(group):
    pg = _resolve(group, "get_process_group_ranks")
    if pg is None:
        raise ValueError("Invalid process group specified")
    return list(pg.global_ranks)


def get_group_rank(group, global_rank):
    pg = _resolve(group, "get_group_rank")
    return pg.group_rank_of(global_rank, "global")


def get_global_rank(group, group_rank):
    pg = _resolve(group, "get_global_rank")
    if not 0 <= group_rank < pg.size():
        raise ValueError("group rank %d is out of range for a group of size %d" % (group_rank, pg.size()))
    return pg.global_ranks[group_rank]


def get_node_local_rank(fallback_rank=None):
    """LOCAL_RANK set by the launcher (or fallback_rank)."""
    value = os.environ.get("LOCAL_RANK")
    if value is not None:
        return int(value)
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment (start the ranks with ember-run) and no "
                       "fallback_rank was given")


def get_default_group():
    return _default("get_default_group")
