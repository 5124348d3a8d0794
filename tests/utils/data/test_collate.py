"""default_collate / default_convert over every supported sample type, and their errors."""
import collections

import numpy as np
import pytest

import ember
from ember.utils.data import default_collate, default_convert
from ember.utils.data._collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


def test_tensors_are_stacked():
    a, b = ember.randn(2, 3), ember.randn(2, 3)
    out = default_collate([a, b])
    assert isinstance(out, ember.Tensor) and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), np.stack([a.numpy(), b.numpy()]))
    # a non-contiguous sample stacks by value
    t = ember.randn(3, 2).t()
    np.testing.assert_array_equal(default_collate([t, t]).numpy()[1], t.numpy())


def test_numbers():
    ints = default_collate([1, 2, 3])
    assert ints.dtype is ember.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([0.5, 1.5])
    assert floats.dtype is ember.float64 and floats.tolist() == [0.5, 1.5]
    bools = default_collate([True, False])
    assert bools.dtype is ember.bool and bools.tolist() == [True, False]


def test_numpy_arrays_and_scalars():
    out = default_collate([np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)])
    assert out.dtype is ember.float32 and out.shape == (2, 2, 2)
    assert default_collate([np.arange(3), np.arange(3)]).dtype is ember.int64
    assert default_collate([np.array([1], np.uint8)] * 2).dtype is ember.uint8
    scalars = default_collate([np.float32(1.5), np.float32(2.5)])
    assert scalars.dtype is ember.float32 and scalars.tolist() == [1.5, 2.5]
    assert default_collate([np.int64(4), np.int64(5)]).tolist() == [4, 5]
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_strings_pass_through():
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"x", b"y"]) == [b"x", b"y"]


def test_containers():
    out = default_collate([{"img": np.zeros(2), "label": 1, "name": "a"},
                           {"img": np.ones(2), "label": 2, "name": "b"}])
    assert set(out) == {"img", "label", "name"}
    assert out["img"].shape == (2, 2) and out["label"].tolist() == [1, 2] and out["name"] == ["a", "b"]
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict) and od["a"].tolist() == [1, 2]
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.tolist() == [2.0, 4.0]
    tup = default_collate([(0, "a"), (1, "b")])
    assert isinstance(tup, list) and tup[0].tolist() == [0, 1] and tup[1] == ["a", "b"]
    nested = default_collate([[1, [2, 3]], [4, [5, 6]]])
    assert nested[0].tolist() == [1, 4] and [t.tolist() for t in nested[1]] == [[2, 5], [3, 6]]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


def test_unsupported_type():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>"):
        default_collate([object(), object()])


def test_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as tcollate
    batch = [{"x": np.full((2,), i, np.float32), "y": (i, float(i)), "p": Point(i, [i, i + 1])} for i in range(3)]

    def plain(o):
        if hasattr(o, "numpy"):
            return (str(o.dtype).split(".")[-1], o.numpy().tolist())
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return (type(o).__name__, [plain(v) for v in o])
        return o

    assert plain(default_collate(batch)) == plain(tcollate(batch))


def test_extending_the_map():
    class Box:
        def __init__(self, v):
            self.v = v

    def collate_box(batch, *, collate_fn_map):
        return sum(b.v for b in batch)

    assert collate([Box(1), Box(2)], collate_fn_map={**default_collate_fn_map, Box: collate_box}) == 3
    # subclasses resolve through isinstance
    class SubBox(Box):
        pass

    assert collate([SubBox(2), SubBox(5)], collate_fn_map={Box: collate_box}) == 7


def test_default_convert():
    out = default_convert(np.arange(3))
    assert isinstance(out, ember.Tensor) and out.tolist() == [0, 1, 2]
    assert isinstance(default_convert(np.float64(2.0)), ember.Tensor)
    s = np.array(["a", "b"])
    assert default_convert(s) is s
    assert default_convert(3) == 3 and default_convert("abc") == "abc"
    t = ember.ones(2)
    assert default_convert(t) is t
    conv = default_convert({"a": np.zeros(1), "b": (np.ones(1), 2)})
    assert isinstance(conv["a"], ember.Tensor) and isinstance(conv["b"], list)
    assert isinstance(conv["b"][0], ember.Tensor) and conv["b"][1] == 2
    p = default_convert(Point(np.array(1), "s"))
    assert isinstance(p, Point) and isinstance(p.x, ember.Tensor) and p.y == "s"
