"""Datasets: TensorDataset, StackDataset, ConcatDataset, ChainDataset, Subset and random_split."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                              TensorDataset, random_split)


class Range(Dataset):
    def __init__(self, start, stop):
        self.values = list(range(start, stop))

    def __len__(self):
        return len(self.values)

    def __getitem__(self, i):
        return self.values[i]


class Stream(IterableDataset):
    def __init__(self, values):
        self.values = values

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)


def test_base_classes_are_abstract():
    with pytest.raises(NotImplementedError):
        Dataset()[0]
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())


def test_tensor_dataset():
    x = ember.randn(5, 3)
    y = ember.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[3])
    assert yi.item() == 3
    # slices and index tensors pass straight through to the tensors
    np.testing.assert_array_equal(ds[1:3][0].numpy(), x.numpy()[1:3])
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, ember.arange(4))


def test_stack_dataset():
    a, b = Range(0, 4), Range(10, 14)
    assert StackDataset(a, b)[2] == (2, 12)
    assert StackDataset(x=a, y=b)[1] == {"x": 1, "y": 11}
    assert len(StackDataset(a, b)) == 4
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(a, Range(0, 3))
    with pytest.raises(ValueError):
        StackDataset(a, y=b)
    with pytest.raises(ValueError):
        StackDataset()


def test_concat_dataset():
    parts = [Range(0, 3), Range(3, 3), Range(3, 7), Range(7, 8)]
    ds = ConcatDataset(parts)
    assert ds.cumulative_sizes == [3, 3, 7, 8]
    assert len(ds) == 8
    assert [ds[i] for i in range(8)] == list(range(8))
    assert ds[-1] == 7 and ds[-8] == 0
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        ds[-9]
    with pytest.raises(IndexError):
        ds[8]
    with pytest.raises(ValueError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Range(0, 2), Stream([1])])
    added = Range(0, 2) + Range(2, 4)
    assert isinstance(added, ConcatDataset) and [added[i] for i in range(4)] == [0, 1, 2, 3]


def test_chain_dataset():
    chained = Stream([1, 2]) + Stream([3])
    assert isinstance(chained, ChainDataset)
    assert list(chained) == [1, 2, 3]
    assert len(chained) == 3
    with pytest.raises(TypeError, match="only supports IterableDataset"):
        list(ChainDataset([Stream([1]), Range(0, 2)]))


def test_subset():
    class Batched(Range):
        calls = 0

        def __getitems__(self, indices):
            Batched.calls += 1
            return [self.values[i] for i in indices]

    base = Batched(0, 10)
    sub = Subset(base, [9, 4, 1])
    assert len(sub) == 3
    assert [sub[i] for i in range(3)] == [9, 4, 1]
    assert sub.__getitems__([2, 0]) == [1, 9] and Batched.calls == 1
    plain = Subset(Range(0, 10), [5, 6])
    assert plain.__getitems__([1, 0]) == [6, 5]
    tensors = Subset(TensorDataset(ember.arange(10)), [7, 3])
    assert tensors[[1, 0]][0].tolist() == [3, 7]  # a list index maps through to the wrapped dataset


def test_random_split_lengths_partition():
    ds = Range(0, 20)
    parts = random_split(ds, [5, 15], generator=ember.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [5, 15]
    seen = sorted(parts[0][i] for i in range(5)) + sorted(parts[1][i] for i in range(15))
    assert sorted(seen) == list(range(20))
    assert sorted(parts[0].indices + parts[1].indices) == list(range(20))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 10])


def test_random_split_is_seedable():
    ds = Range(0, 50)

    def split(seed):
        return [p.indices for p in random_split(ds, [10, 40], generator=ember.Generator().manual_seed(seed))]

    assert split(3) == split(3)
    assert split(3) != split(4)
    ember.manual_seed(5)
    a = [p.indices for p in random_split(ds, [25, 25])]
    ember.manual_seed(5)
    assert a == [p.indices for p in random_split(ds, [25, 25])]


@pytest.mark.parametrize("n,fractions", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1]),
                                         (5, [0.25, 0.25, 0.25, 0.25])])
def test_random_split_fractions(n, fractions):
    parts = random_split(Range(0, n), fractions, generator=ember.Generator().manual_seed(0))
    lengths = [len(p) for p in parts]
    assert sum(lengths) == n
    # floor of each share, then the remainder handed out one each from the first split on
    expected = [int(np.floor(n * f)) for f in fractions]
    for i in range(n - sum(expected)):
        expected[i % len(expected)] += 1
    assert lengths == expected
    torch = pytest.importorskip("torch")
    assert lengths == [len(p) for p in torch.utils.data.random_split(range(n), fractions)]


def test_random_split_fraction_errors_and_warnings():
    with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
        random_split(Range(0, 4), [0.5, 1.5, -1.0])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        parts = random_split(Range(0, 2), [0.5, 0.5, 0.0])
    assert [len(p) for p in parts] == [1, 1, 0]
    assert any("Length of split at index 2 is 0" in str(x.message) for x in w)
