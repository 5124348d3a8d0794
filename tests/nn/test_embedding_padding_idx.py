"""padding_idx must lie in [-num_embeddings, num_embeddings) for nn.Embedding, Embedding.from_pretrained and
F.embedding (AssertionError "Padding_idx must be within num_embeddings", as PyTorch); negative values count
from the end, and the padding row gets no gradient."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

_MSG = "Padding_idx must be within num_embeddings"


@pytest.mark.parametrize("pad", [5, 6, 100, -6, -100])
def test_module_out_of_range(pad):
    with pytest.raises(AssertionError, match=_MSG):
        nn.Embedding(5, 3, padding_idx=pad)
    with pytest.raises(AssertionError, match=_MSG):
        nn.Embedding.from_pretrained(ember.randn(5, 3), padding_idx=pad)


@pytest.mark.parametrize("pad", [5, 6, -6])
def test_functional_out_of_range(pad):
    w = ember.randn(5, 3, requires_grad=True)
    with pytest.raises(AssertionError, match=_MSG):
        F.embedding(ember.tensor([0, 1]), w, padding_idx=pad)


@pytest.mark.parametrize("pad,expect", [(0, 0), (4, 4), (-1, 4), (-5, 0)])
def test_in_range_and_negative(pad, expect):
    m = nn.Embedding(5, 3, padding_idx=pad)
    assert m.padding_idx == expect
    assert m.weight[expect].tolist() == [0.0, 0.0, 0.0]
    assert nn.Embedding.from_pretrained(ember.randn(5, 3), padding_idx=pad).padding_idx == expect
    w = ember.randn(5, 3, requires_grad=True)
    F.embedding(ember.tensor([0, 4, 2]), w, padding_idx=pad).sum().backward()
    g = w.grad.numpy()
    assert np.all(g[expect] == 0)
    for row in {0, 4, 2} - {expect}:
        assert np.all(g[row] == 1)


def test_error_is_also_a_value_error():
    # earlier Ember versions raised ValueError; the error is both, so either except clause catches it
    with pytest.raises(ValueError, match=_MSG):
        nn.Embedding(5, 3, padding_idx=5)


def test_non_integer_padding_idx():
    with pytest.raises(TypeError, match="padding_idx"):
        F.embedding(ember.tensor([0]), ember.randn(5, 3), padding_idx=1.0)
    with pytest.raises(TypeError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx="1")
    assert nn.Embedding(5, 3, padding_idx=np.int64(-2)).padding_idx == 3


def test_against_torch():
    torch = pytest.importorskip("torch")
    for pad in range(-8, 8):
        t_exc = e_exc = None
        try:
            tm = torch.nn.Embedding(5, 3, padding_idx=pad)
        except AssertionError as exc:
            t_exc = str(exc)
        try:
            em = nn.Embedding(5, 3, padding_idx=pad)
        except AssertionError as exc:
            e_exc = str(exc)
        assert t_exc == e_exc, pad
        if t_exc is None:
            assert tm.padding_idx == em.padding_idx, pad
        tw, ew = torch.randn(5, 3), ember.randn(5, 3)
        try:
            torch.nn.functional.embedding(torch.tensor([1]), tw, padding_idx=pad)
            t_exc = None
        except AssertionError as exc:
            t_exc = str(exc)
        try:
            F.embedding(ember.tensor([1]), ew, padding_idx=pad)
            e_exc = None
        except AssertionError as exc:
            e_exc = str(exc)
        assert t_exc == e_exc, pad
