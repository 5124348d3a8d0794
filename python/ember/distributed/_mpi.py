"""Lazy access to mpi4py: importing mpi4py initialises MPI, so nothing here runs at ``import ember.distributed``."""
import importlib.util

_INSTALL_HINT = ('ember.distributed needs mpi4py and an MPI library for its "mpi"/"gloo" backends and its '
                 'launcher: pip install "ember[mpi]" (mpi4py>=4 and the mpich wheel)')


def mpi4py_installed():
    """True when mpi4py can be imported, found without importing it (so without initialising MPI)."""
    try:
        return importlib.util.find_spec("mpi4py") is not None
    except (ImportError, ValueError):
        return False


def load_mpi():
    """Returns mpi4py.MPI (initialising MPI on first use) or raises ImportError naming what to install."""
    try:
        import mpi4py
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    if int(mpi4py.__version__.split(".")[0]) < 4:
        raise ImportError("ember.distributed needs mpi4py>=4, found %s: %s" % (mpi4py.__version__, _INSTALL_HINT))
    try:
        from mpi4py import MPI
    except ImportError as e:  # mpi4py present but no MPI shared library it can load
        raise ImportError("mpi4py is installed but could not load an MPI library (%s); %s" % (e, _INSTALL_HINT)) from e
    return MPI


def mpi_if_loaded():
    """mpi4py.MPI when some code already imported it, else None (never imports)."""
    import sys
    return sys.modules.get("mpi4py.MPI")


def abort_job(code=1):
    """Ends this rank so that the launcher tears the whole job down, without losing what it printed.

    Under MPICH's Hydra and Open MPI's mpirun a rank that exits non-zero without MPI_Finalize makes the
    launcher kill the others at once, and the launcher still forwards the rank's last output (MPI_Abort races
    the forwarding of stderr, which then is sometimes lost); elsewhere MPI_Abort is used."""
    import os
    import sys
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    env = os.environ
    known_launcher = any(k in env for k in ("HYDI_CONTROL_FD", "PMI_FD", "PMI_PORT", "OMPI_COMM_WORLD_SIZE"))
    mpi = mpi_if_loaded()
    try:
        if not known_launcher and mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
            mpi.COMM_WORLD.Abort(code)
    finally:
        os._exit(code)
