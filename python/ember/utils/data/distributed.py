"""DistributedSampler: gives each process of a data-parallel job its own share of a dataset, as
``torch.utils.data.distributed`` does."""
import math
import numbers

from ..._ops.creation import Generator, randperm
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _int_arg(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError("%s should be an integer, but got %s=%r" % (name, name, value))
    return int(value)


class DistributedSampler(Sampler):
    """Restricts loading to the part of ``dataset`` that belongs to one replica.

    Every replica computes the same ordering of all indices (a permutation drawn from an ``ember.Generator``
    seeded with ``seed + epoch`` when ``shuffle``, else ``0..len-1``), makes its length a multiple of
    ``num_replicas`` (repeating indices from its start, or cutting its tail with ``drop_last``), and keeps
    every ``num_replicas``-th entry starting at ``rank``. The replicas' shares are therefore disjoint unless
    padding repeated some indices.

    Args:
        dataset: the dataset (only its length is used; it must not change).
        num_replicas: the number of replicas (default: the world size of the default process group).
        rank: this replica's rank in ``[0, num_replicas)`` (default: the rank in the default process group).
        shuffle: shuffle the indices (a new order after each ``set_epoch``).
        seed: the shuffle seed; it must be the same on all replicas.
        drop_last: drop the tail so the data divides evenly instead of padding with repeated indices.

    Call ``set_epoch(epoch)`` before each epoch's DataLoader iterator; otherwise each epoch sees the same order.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler needs num_replicas and rank, or an initialized default "
                                   "process group (call ember.distributed.init_process_group first)")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        num_replicas = _int_arg("num_replicas", num_replicas)
        rank = _int_arg("rank", rank)
        if num_replicas < 1:
            raise ValueError("num_replicas should be a positive integer, but got num_replicas=%d" % num_replicas)
        if rank >= num_replicas or rank < 0:
            raise ValueError("Invalid rank %d, rank should be in the interval [0, %d]" % (rank, num_replicas - 1))
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = _int_arg("seed", seed)
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            # the largest multiple of num_replicas not above n
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _all_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            return randperm(n, generator=g).tolist()
        return list(range(n))

    def __iter__(self):
        indices = self._all_indices()
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            missing = self.total_size - len(indices)
            if missing > 0:
                if not indices:
                    raise ValueError("DistributedSampler: the dataset is empty")
                # repeat the whole list as often as needed (a dataset smaller than num_replicas)
                indices += (indices * math.ceil(missing / len(indices)))[:missing]
        if len(indices) != self.total_size:
            raise RuntimeError("DistributedSampler: the dataset has %d indices but %d were expected; did its "
                               "length change?" % (len(indices), self.total_size))
        mine = indices[self.rank:self.total_size:self.num_replicas]
        return iter(mine)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch, which (with ``seed``) determines the shuffle order of the next iteration."""
        self.epoch = epoch
