"""Samplers: order, randomness (seeded and global), replacement, weights, batching and argument checks."""
import collections

import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                              WeightedRandomSampler)

DATA = list(range(10))


def gen(seed):
    return ember.Generator().manual_seed(seed)


def test_sequential_sampler():
    s = SequentialSampler(DATA)
    assert list(s) == DATA and len(s) == 10


def test_base_sampler_is_abstract():
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_random_sampler_permutation_and_seeding():
    s = RandomSampler(DATA, generator=gen(0))
    first, second = list(s), list(s)
    assert sorted(first) == DATA and sorted(second) == DATA
    assert first != second  # a new order per pass
    assert list(RandomSampler(DATA, generator=gen(0))) == first
    assert list(RandomSampler(DATA, generator=gen(1))) != first
    # without a generator, the global seed decides
    ember.manual_seed(3)
    a = list(RandomSampler(DATA))
    ember.manual_seed(3)
    assert list(RandomSampler(DATA)) == a


def test_random_sampler_num_samples():
    s = RandomSampler(DATA, num_samples=25, generator=gen(0))
    out = list(s)
    assert len(s) == 25 and len(out) == 25
    counts = collections.Counter(out)
    # two whole permutations, then 5 distinct indices from a third
    assert sorted(counts.values()) == [2] * 5 + [3] * 5
    short = list(RandomSampler(DATA, num_samples=4, generator=gen(0)))
    assert len(set(short)) == 4


def test_random_sampler_replacement():
    s = RandomSampler(DATA, replacement=True, num_samples=1000, generator=gen(0))
    out = list(s)
    assert len(out) == 1000 and set(out) == set(DATA)  # i.i.d. draws: every index, with repeats
    assert list(RandomSampler(DATA, replacement=True, num_samples=5, generator=gen(2))) == \
        list(RandomSampler(DATA, replacement=True, num_samples=5, generator=gen(2)))


def test_random_sampler_errors():
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(DATA, replacement=1)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            RandomSampler(DATA, num_samples=bad)
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [3, 7, 11, 19]
    s = SubsetRandomSampler(idx, generator=gen(0))
    out = list(s)
    assert sorted(out) == idx and len(s) == 4
    assert list(SubsetRandomSampler(idx, generator=gen(0))) == out


def test_weighted_random_sampler():
    weights = [0.0, 1.0, 3.0, 0.0]
    s = WeightedRandomSampler(weights, 4000, generator=gen(0))
    counts = collections.Counter(s)
    assert set(counts) == {1, 2}
    assert abs(counts[2] / 4000 - 0.75) < 0.04
    assert len(s) == 4000
    no_rep = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0, 5.0], 5, replacement=False, generator=gen(1)))
    assert sorted(no_rep) == [0, 1, 2, 3, 4]
    assert list(WeightedRandomSampler(np.array([1.0, 5.0]), 8, generator=gen(4))) == \
        list(WeightedRandomSampler(ember.tensor([1.0, 5.0]), 8, generator=gen(4)))


def test_weighted_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="replacement should be a boolean"):
        WeightedRandomSampler([1.0, 2.0], 2, replacement="yes")
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)


@pytest.mark.parametrize("n,batch_size,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                                    (2, 5, True)])
def test_batch_sampler(n, batch_size, drop_last):
    s = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    batches = list(s)
    assert len(batches) == len(s)
    flat = [i for b in batches for i in b]
    assert flat == list(range(len(flat)))
    assert all(len(b) == batch_size for b in batches[:-1])
    if drop_last:
        assert len(flat) == n - n % batch_size
    else:
        assert len(flat) == n
    torch = pytest.importorskip("torch")
    from torch.utils.data import BatchSampler as TBS, SequentialSampler as TSS
    ref = TBS(TSS(range(n)), batch_size, drop_last)
    assert batches == list(ref) and len(s) == len(ref)


def test_batch_sampler_errors():
    for bad in (0, -2, 1.0, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
            BatchSampler(DATA, bad, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(DATA, 2, 0)
