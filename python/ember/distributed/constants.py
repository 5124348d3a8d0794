"""ReduceOp, Backend and the default timeout, as torch.distributed spells them."""
from datetime import timedelta

default_pg_timeout = timedelta(minutes=30)


class ReduceOp:
    """Reduction operations of all_reduce, reduce and reduce_scatter_tensor (``ReduceOp.SUM`` etc.)."""

    class RedOpType:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            return "<RedOpType.%s>" % self.name

        def __reduce__(self):
            return getattr, (ReduceOp, self.name)

    SUM = RedOpType("SUM")
    AVG = RedOpType("AVG")
    PRODUCT = RedOpType("PRODUCT")
    MIN = RedOpType("MIN")
    MAX = RedOpType("MAX")
    BAND = RedOpType("BAND")
    BOR = RedOpType("BOR")
    BXOR = RedOpType("BXOR")


class Backend(str):
    """Backend names; ``Backend("GLOO") == "gloo"``. "gloo" runs on MPI here; "nccl" needs CUDA tensors."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    backend_list = ["gloo", "nccl", "mpi"]

    def __new__(cls, name):
        if not isinstance(name, str):
            raise TypeError("Backend name must be a string, got %r" % (name,))
        value = name.lower()
        if value not in cls.backend_list and value != "undefined":
            raise ValueError("Invalid backend %r: ember.distributed supports %s" % (name, ", ".join(cls.backend_list)))
        return str.__new__(cls, value)


class DistError(RuntimeError):
    """Base of ember.distributed's errors (a RuntimeError, as torch.distributed.DistError)."""


class DistBackendError(DistError):
    """The communication backend failed, e.g. a collective timed out."""
