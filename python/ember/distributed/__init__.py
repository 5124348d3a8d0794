"""ember.distributed: torch.distributed's process groups and collectives on MPI (mpi4py, CPU tensors).

Start the ranks with the launcher, e.g. ``ember-run --nproc-per-node=2 train.py`` (``python -m
ember.distributed.run``; see its docstring for several machines), or with ``mpiexec -n 2 python train.py``.
Importing this package does not import mpi4py (which would initialise MPI); init_process_group does.
Backends "mpi" and "gloo" both run on MPI; "nccl" raises a clear error where it cannot run.
"""
from .constants import Backend, DistBackendError, DistError, ReduceOp, default_pg_timeout
from .process_group import (GroupMember, ProcessGroup, destroy_process_group, get_backend, get_default_group,
                            get_global_rank, get_group_rank, get_node_local_rank, get_process_group_ranks,
                            get_rank, get_world_size, group, init_process_group, is_available, is_gloo_available,
                            is_initialized, is_mpi_available, is_nccl_available, is_torchelastic_launched,
                            new_group)
from .collectives import (P2POp, all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
                          all_to_all_single, barrier, batch_isend_irecv, broadcast, broadcast_object_list, gather,
                          irecv, isend, monitored_barrier, recv, reduce, reduce_scatter_tensor, scatter, send)
from .work import Work

__all__ = ["Backend", "DistBackendError", "DistError", "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work",
           "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all_single",
           "barrier", "batch_isend_irecv", "broadcast", "broadcast_object_list", "default_pg_timeout",
           "destroy_process_group", "gather", "get_backend", "get_default_group", "get_global_rank",
           "get_group_rank", "get_node_local_rank", "get_process_group_ranks", "get_rank", "get_world_size",
           "group", "init_process_group", "irecv", "is_available", "is_gloo_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "isend", "monitored_barrier",
           "new_group", "recv", "reduce", "reduce_scatter_tensor", "scatter", "send"]
