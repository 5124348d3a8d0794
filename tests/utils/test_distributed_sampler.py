"""DistributedSampler: partitions, padding, drop_last, set_epoch, and the index lists of PyTorch's sampler."""
import pytest

import ember
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset
from ember.utils.data import distributed as data_distributed


class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


SIZES = [1, 2, 3, 7, 10, 11, 16, 17]
REPLICAS = [1, 2, 3, 4, 5, 12]


def _shares(n, replicas, **kw):
    return [list(DistributedSampler(_Sized(n), num_replicas=replicas, rank=r, **kw)) for r in range(replicas)]


def test_module_paths():
    assert data_distributed.DistributedSampler is DistributedSampler
    assert issubclass(DistributedSampler, ember.utils.data.Sampler)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("replicas", REPLICAS)
def test_unshuffled_partition_pads_from_start(n, replicas):
    shares = _shares(n, replicas, shuffle=False)
    per = -(-n // replicas)
    assert all(len(s) == per for s in shares)
    for r in range(replicas):
        assert len(DistributedSampler(_Sized(n), num_replicas=replicas, rank=r, shuffle=False)) == per
    # interleaved: rank r holds positions r, r + R, ... of the padded list
    padded = [None] * (per * replicas)
    for r, s in enumerate(shares):
        padded[r::replicas] = s
    expect = list(range(n))
    while len(expect) < per * replicas:
        expect += list(range(n))
    assert padded == expect[:per * replicas]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("replicas", REPLICAS)
def test_drop_last_is_disjoint(n, replicas):
    shares = _shares(n, replicas, shuffle=True, seed=3, drop_last=True)
    per = n // replicas
    assert all(len(s) == per for s in shares)
    flat = [i for s in shares for i in s]
    assert len(set(flat)) == len(flat) == per * replicas
    assert all(0 <= i < n for i in flat)


@pytest.mark.parametrize("n,replicas", [(10, 3), (16, 4), (17, 2), (5, 12)])
def test_shuffled_covers_everything(n, replicas):
    shares = _shares(n, replicas, seed=11)
    flat = [i for s in shares for i in s]
    assert set(flat) == set(range(n))
    assert len(flat) == -(-n // replicas) * replicas


def test_epoch_and_seed_change_the_order_and_are_reproducible():
    s = DistributedSampler(_Sized(100), num_replicas=2, rank=1, seed=5)
    first = list(s)
    assert list(s) == first  # same epoch, same order
    s.set_epoch(1)
    second = list(s)
    assert second != first
    assert s.epoch == 1
    s.set_epoch(0)
    assert list(s) == first
    other = DistributedSampler(_Sized(100), num_replicas=2, rank=1, seed=6)
    assert list(other) != first
    # the order comes from ember's generator seeded with seed + epoch, not from the global RNG
    ember.manual_seed(123)
    a = list(DistributedSampler(_Sized(100), num_replicas=2, rank=1, seed=5))
    ember.manual_seed(456)
    b = list(DistributedSampler(_Sized(100), num_replicas=2, rank=1, seed=5))
    assert a == b == first
    g = ember.Generator().manual_seed(5 + 1)
    assert second == ember.randperm(100, generator=g).tolist()[1::2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(_Sized(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(_Sized(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(_Sized(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="rank"):
        DistributedSampler(_Sized(4), num_replicas=2, rank=0.5)
    with pytest.raises(TypeError, match="num_replicas"):
        DistributedSampler(_Sized(4), num_replicas="2", rank=0)


def test_defaults_need_a_process_group():
    dist = pytest.importorskip("ember.distributed")
    if dist.is_initialized():
        pytest.skip("a default process group exists in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(_Sized(4))


def test_drives_a_dataloader():
    x = ember.arange(20, dtype=ember.float64)
    ds = TensorDataset(x)
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, seed=1)
        sampler.set_epoch(2)
        loader = DataLoader(ds, batch_size=4, sampler=sampler)
        assert len(loader) == 3
        seen += [int(v) for (b,) in loader for v in b.tolist()]
    assert sorted(seen) == list(range(20))


@pytest.mark.parametrize("n", SIZES + [0])
@pytest.mark.parametrize("replicas", REPLICAS)
@pytest.mark.parametrize("drop_last", [False, True])
def test_index_lists_equal_pytorch(n, replicas, drop_last, monkeypatch):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        for epoch in (0, 3):
            for shuffle in (False, True):
                ours = DistributedSampler(_Sized(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=7,
                                          drop_last=drop_last)
                theirs = TorchSampler(_Sized(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=7,
                                      drop_last=drop_last)
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                assert len(ours) == len(theirs)
                assert ours.total_size == theirs.total_size
                if shuffle:
                    # ember's generator is not torch's (Philox vs MT19937), so torch's sampler is fed the same
                    # permutation ember draws for seed + epoch: padding and interleaving must then agree exactly
                    def perm(m, generator=None, _s=7 + epoch):
                        g = ember.Generator().manual_seed(_s)
                        return torch.tensor(ember.randperm(m, generator=g).tolist(), dtype=torch.int64)
                    monkeypatch.setattr(torch, "randperm", perm)
                assert list(ours) == list(theirs), (n, replicas, rank, epoch, shuffle, drop_last)
                monkeypatch.undo()
