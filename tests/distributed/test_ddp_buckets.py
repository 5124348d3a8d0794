"""DistributedDataParallel pieces that need no second process: the bucket assignment (against PyTorch's),
the graph walk that finds unused parameters, and the construction errors."""
import pytest

import ember
from ember import nn
from ember.nn.parallel import DistributedDataParallel
from ember.nn.parallel.distributed import _assign_buckets, _find_tensors, _reachable_leaves

SHAPES = [((16, 6), "float64"), ((16,), "float64"), ((8, 16), "float64"), ((8,), "float64"), ((3, 8), "float64"),
          ((3,), "float64"), ((100,), "float32"), ((5,), "float64"), ((300, 700), "float32"), ((0,), "float64"),
          ((2000,), "float32"), ((7, 7), "float64")]
CAPS = [(104, 104), (200, 300), (1024 * 1024, 25 * 1024 * 1024), (1, 1), (4096, 512), (10 ** 9, 10 ** 9)]


def _params(shapes):
    return [ember.zeros(*s, dtype=getattr(ember, d)) for s, d in shapes]


@pytest.mark.parametrize("first,cap", CAPS)
@pytest.mark.parametrize("count", [1, 3, 8, len(SHAPES)])
def test_bucket_assignment_equals_pytorch(first, cap, count):
    torch = pytest.importorskip("torch")
    import torch.distributed as tdist
    if not hasattr(tdist, "_compute_bucket_assignment_by_size"):
        pytest.skip("this torch build has no distributed package")
    shapes = SHAPES[:count]
    ours = _assign_buckets(_params(shapes), first, cap)
    theirs, _ = tdist._compute_bucket_assignment_by_size(
        [torch.zeros(*s, dtype=getattr(torch, d)) for s, d in shapes], [first, cap], [False] * count)
    # PyTorch's DistributedDataParallel hands the reversed list to its reducer
    assert ours == [list(b) for b in reversed(theirs)]


def test_bucket_assignment_covers_each_parameter_once():
    params = _params(SHAPES)
    for first, cap in CAPS:
        buckets = _assign_buckets(params, first, cap)
        flat = sorted(i for b in buckets for i in b)
        assert flat == list(range(len(params)))
        for b in buckets:
            assert len({params[i].dtype for i in b}) == 1


def test_reachable_leaves_and_find_tensors():
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    c = nn.Linear(2, 2)
    x = ember.randn(4, 3)
    out = {"y": (c(a(x)), [x.sum()]), "n": 3}
    found = _find_tensors(out)
    assert len(found) == 2
    reach = _reachable_leaves(found)
    for p in list(a.parameters()) + list(c.parameters()):
        assert id(p) in reach
    for p in b.parameters():
        assert id(p) not in reach
    # a leaf returned as it is counts as reached
    assert id(b.weight) in _reachable_leaves([b.weight])


def test_constructor_errors():
    with pytest.raises(TypeError, match="Module"):
        DistributedDataParallel(lambda x: x)
    dist = pytest.importorskip("ember.distributed")
    if dist.is_initialized():
        pytest.skip("a default process group exists in this process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(nn.Linear(2, 2))
