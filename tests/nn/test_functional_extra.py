"""ctc_loss (against a brute-force sum over alignments, float64 gradcheck, every reduction, zero_infinity,
padded/concatenated targets, unbatched input), one_hot, normalize, cosine_similarity, pairwise_distance and their
modules: numpy references, errors, and comparisons with PyTorch."""
import itertools
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from nn_testing import check_grad, close, npy, randn, torch_or_skip


def _rng(seed):
    return np.random.default_rng(seed)


def _log_softmax(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


# ================================================================================ ctc_loss


def _ctc_brute(lp, target, blank):
    """-log sum over every length-T path that collapses (merge repeats, drop blanks) to target of the product of
    its per-frame probabilities; lp [T, C]."""
    t_len, c = lp.shape
    total = 0.0
    for path in itertools.product(range(c), repeat=t_len):
        collapsed = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
        if collapsed == list(target):
            total += math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _ctc_case(seed=0):
    """Four samples of unequal input/target lengths, a repeated label, an empty target; C = 3 keeps the brute
    force small."""
    rng = _rng(seed)
    t_len, c = 5, 3
    lp = _log_softmax(rng.standard_normal((t_len, 4, c)))
    targets = np.array([[1, 2, 1], [2, 2, 0], [1, 0, 0], [0, 0, 0]])
    il, tl = [5, 4, 3, 2], [3, 2, 1, 0]
    return lp, targets, il, tl


def test_ctc_matches_brute_force_alignment_sum():
    lp, targets, il, tl = _ctc_case()
    out = F.ctc_loss(ember.tensor(lp), ember.tensor(targets), ember.tensor(il), ember.tensor(tl), reduction="none")
    ref = [_ctc_brute(lp[:il[b], b], targets[b, :tl[b]], 0) for b in range(4)]
    close(out, ref, atol=1e-12)
    # blank at another index: relabel so that class 2 is the blank
    lp2 = lp[..., [1, 2, 0]]
    t2 = np.where(targets == 1, 0, 1)
    out2 = F.ctc_loss(ember.tensor(lp2), ember.tensor(t2), ember.tensor(il), ember.tensor(tl), blank=2,
                      reduction="none")
    ref2 = [_ctc_brute(lp2[:il[b], b], t2[b, :tl[b]], 2) for b in range(4)]
    close(out2, ref2, atol=1e-12)


def test_ctc_reductions_and_target_forms():
    lp, targets, il, tl = _ctc_case(1)
    e = ember.tensor(lp)
    per = npy(F.ctc_loss(e, ember.tensor(targets), il, tl, reduction="none"))
    close(F.ctc_loss(e, ember.tensor(targets), ember.tensor(il), ember.tensor(tl)),
          (per / np.maximum(tl, 1)).mean(), atol=1e-12)
    close(F.ctc_loss(e, ember.tensor(targets), tuple(il), tuple(tl), reduction="sum"), per.sum(), atol=1e-12)
    # concatenated targets give the same losses as padded ones
    flat = np.concatenate([targets[b, :tl[b]] for b in range(4)])
    close(F.ctc_loss(e, ember.tensor(flat), il, tl, reduction="none"), per, atol=1e-12)
    # int32 targets and lengths
    close(F.ctc_loss(e, ember.tensor(targets).int(), ember.tensor(il).int(), ember.tensor(tl).int(),
                     reduction="none"), per, atol=1e-12)
    # unbatched [T, C] input: a 0-d loss equal to the batched one
    one = F.ctc_loss(e[:, 0], ember.tensor(targets[0]), ember.tensor(5), ember.tensor(3), reduction="none")
    assert one.shape == ()
    close(one, per[0], atol=1e-12)
    close(F.ctc_loss(e[:, 0], ember.tensor(targets[0]), 5, 3), per[0] / 3, atol=1e-12)
    # an empty input aligns only with an empty target
    z = F.ctc_loss(e[:, :2], ember.tensor(targets[:2]), [0, 0], [0, 1], reduction="none")
    close(z, [0.0, math.inf], atol=0)


def test_ctc_zero_infinity():
    lp = ember.tensor(_log_softmax(_rng(2).standard_normal((2, 2, 4))), requires_grad=True)
    targets = ember.tensor([[1, 1], [2, 3]])      # [1, 1] needs 3 frames: impossible in 2
    loss = F.ctc_loss(lp, targets, [2, 2], [2, 2], reduction="none")
    assert math.isinf(float(loss[0])) and math.isfinite(float(loss[1]))
    loss = F.ctc_loss(lp, targets, [2, 2], [2, 2], reduction="none", zero_infinity=True)
    assert float(loss[0]) == 0.0
    loss.sum().backward()
    assert not npy(lp.grad)[:, 0].any()
    assert np.isfinite(npy(lp.grad)).all() and npy(lp.grad)[:, 1].any()


def test_ctc_gradcheck():
    lp, targets, il, tl = _ctc_case(3)
    x = ember.tensor(lp, requires_grad=True)
    for reduction in ("none", "mean", "sum"):
        check_grad(lambda t: F.ctc_loss(t, ember.tensor(targets), il, tl, reduction=reduction), x)
    # through log_softmax of raw scores, and with gradient zero past each input length
    raw = randn(5, 2, 3, requires_grad=True, seed=4)
    check_grad(lambda t: F.ctc_loss(t.log_softmax(2), ember.tensor([[1, 2], [2, 0]]), [5, 3], [2, 1]), raw)
    F.ctc_loss(x, ember.tensor(targets), il, tl, reduction="sum").backward()
    for b in range(4):
        assert not npy(x.grad)[il[b]:, b].any()


def test_ctc_errors():
    lp = ember.tensor(_log_softmax(_rng(5).standard_normal((6, 3, 5))))
    tg, il, tl = ember.tensor([[1, 2, 3, 4], [1, 2, 0, 0], [3, 0, 0, 0]]), [6, 5, 4], [4, 2, 1]
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(lp, tg, il, tl, blank=5)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 6, but got value 7"):
        F.ctc_loss(lp, tg, [7, 5, 4], tl)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at least 0"):
        F.ctc_loss(lp, tg, [-1, 5, 4], tl)
    with pytest.raises(RuntimeError, match="Expected target_lengths to have value at least 0"):
        F.ctc_loss(lp, tg, il, [4, -1, 1])
    with pytest.raises(RuntimeError, match="Expected tensor to have size at least 5 at dimension 1"):
        F.ctc_loss(lp, tg, il, [5, 2, 1])
    with pytest.raises(RuntimeError, match="input_lengths must be of size batch_size"):
        F.ctc_loss(lp, tg, il[:2], tl)
    with pytest.raises(RuntimeError, match="target_lengths must be of size batch_size"):
        F.ctc_loss(lp, tg, il, tl[:2])
    with pytest.raises(RuntimeError, match="input_lengths must be integral"):
        F.ctc_loss(lp, tg, ember.tensor([6.0, 5.0, 4.0]), tl)
    with pytest.raises(RuntimeError, match="Expected tensor to have size 7 at dimension 0"):
        F.ctc_loss(lp, ember.tensor([1, 2, 3, 4, 1, 2]), il, tl)
    with pytest.raises(IndexError, match="target value 9 of sample 1 is out of range for 5 classes"):
        F.ctc_loss(lp, ember.tensor([[1, 2, 3, 4], [1, 9, 0, 0], [3, 0, 0, 0]]), il, tl)
    with pytest.raises(IndexError, match="target value -2"):
        F.ctc_loss(lp, ember.tensor([[1, 2, 3, -2], [1, 2, 0, 0], [3, 0, 0, 0]]), il, tl)
    # padding past a target's length is never read, so it may hold anything
    F.ctc_loss(lp, ember.tensor([[1, 2, 3, 4], [1, 2, -1, -1], [3, 99, -1, -1]]), il, tl)
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.ctc_loss(lp, tg, il, tl, reduction="bogus")
    with pytest.raises(RuntimeError, match="Expected 3-dimensional tensor, but got 4-dimensional"):
        F.ctc_loss(lp.unsqueeze(0), tg, il, tl)
    with pytest.raises(RuntimeError, match="log_probs tensor must not be empty"):
        F.ctc_loss(lp[:, :0], tg[:0], [], [])
    with pytest.raises(RuntimeError, match="Expected 1 to 2 dimensions"):
        F.ctc_loss(lp, tg.unsqueeze(0), il, tl)


def test_ctc_module():
    lp, targets, il, tl = _ctc_case(6)
    m = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert repr(m) == "CTCLoss()" and m.blank == 0 and m.zero_infinity
    close(m(ember.tensor(lp), ember.tensor(targets), il, tl),
          F.ctc_loss(ember.tensor(lp), ember.tensor(targets), il, tl, reduction="sum"), atol=0)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.CTCLoss(reduction="avg")


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("reduction,zero_infinity", [("mean", False), ("sum", True), ("none", True)])
def test_ctc_matches_torch(dtype, atol, reduction, zero_infinity):
    torch = torch_or_skip()
    rng = _rng(7)
    t_len, n, c, s = 12, 5, 6, 5
    raw = rng.standard_normal((t_len, n, c)).astype(dtype)
    targets = rng.integers(1, c, (n, s))
    targets[0, 1] = targets[0, 0]
    il, tl = [12, 9, 7, 12, 3], [5, 3, 4, 0, 3]   # the last one cannot align when zero_infinity is on
    if not zero_infinity:
        il[4] = 8
    e, t = ember.tensor(raw, requires_grad=True), torch.tensor(raw, requires_grad=True)
    eo = F.ctc_loss(e.log_softmax(2), ember.tensor(targets), ember.tensor(il), ember.tensor(tl), reduction=reduction,
                    zero_infinity=zero_infinity)
    to = torch.nn.functional.ctc_loss(t.log_softmax(2), torch.tensor(targets), torch.tensor(il), torch.tensor(tl),
                                      reduction=reduction, zero_infinity=zero_infinity)
    close(eo, to.detach(), atol=atol, rtol=atol)
    eo.sum().backward()
    to.sum().backward()
    close(e.grad, t.grad, atol=atol, rtol=atol)


def test_ctc_leaf_gradient_relation_to_torch():
    # PyTorch's kernel returns d loss / d log_probs + exp(log_probs) (the logits' gradient under log_softmax);
    # Ember returns the exact derivative. The two differ by exactly exp(log_probs) on the frames in use.
    torch = torch_or_skip()
    lp, targets, il, tl = _ctc_case(8)
    e, t = ember.tensor(lp, requires_grad=True), torch.tensor(lp, requires_grad=True)
    F.ctc_loss(e, ember.tensor(targets), il, tl, reduction="sum").backward()
    torch.nn.functional.ctc_loss(t, torch.tensor(targets), il, tl, reduction="sum").backward()
    used = (np.arange(5)[:, None] < np.array(il)[None, :])[..., None]
    close(npy(e.grad) + np.exp(lp) * used, t.grad, atol=1e-12)


# ================================================================================ one_hot


def test_one_hot_values_shapes_and_errors():
    x = ember.tensor([[0, 3], [2, 1]])
    np.testing.assert_array_equal(npy(F.one_hot(x)), np.eye(4, dtype=np.int64)[npy(x)])
    np.testing.assert_array_equal(npy(F.one_hot(x, num_classes=6)), np.eye(6, dtype=np.int64)[npy(x)])
    assert F.one_hot(x).dtype is ember.int64
    np.testing.assert_array_equal(npy(F.one_hot(ember.tensor(2), 4)), [0, 0, 1, 0])
    # a non-contiguous index view
    xt = ember.tensor([[0, 1, 2], [2, 0, 1]]).t()
    np.testing.assert_array_equal(npy(F.one_hot(xt, 3)), np.eye(3, dtype=np.int64)[npy(xt)])
    assert F.one_hot(ember.zeros(2, 0, dtype=ember.int64), 3).shape == (2, 0, 3)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes from empty tensor"):
        F.one_hot(ember.zeros(0, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes.*negative"):
        F.one_hot(x, -2)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes.*class 3"):
        F.one_hot(x, 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(ember.tensor([1, -1]))
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(ember.tensor([1, 2]).int())
    with pytest.raises(TypeError, match="num_classes"):
        F.one_hot(x, 3.0)


# ================================================================================ distances


def test_normalize_cosine_pairwise_numpy():
    rng = _rng(9)
    a, b = rng.standard_normal((4, 3, 5)), rng.standard_normal((3, 5))
    ea, eb = ember.tensor(a), ember.tensor(b)
    close(F.normalize(ea, dim=(1, 2)), a / np.sqrt((a ** 2).sum((1, 2), keepdims=True)), atol=1e-12)
    close(F.normalize(ea, p=float("inf"), dim=-1), a / np.abs(a).max(-1, keepdims=True), atol=1e-12)
    # broadcast operands, dim counted in the broadcast shape
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    close(F.cosine_similarity(ea, eb, dim=-1), cos, atol=1e-12)
    close(F.cosine_similarity(ea, eb, dim=2), cos, atol=1e-12)
    close(F.cosine_similarity(ember.tensor([[1, 0]]), ember.tensor([[1.0, 1.0]])), [1 / math.sqrt(2)], atol=1e-7)
    # a zero vector has similarity 0, not NaN
    close(F.cosine_similarity(ember.zeros(2, 3), ember.ones(2, 3)), np.zeros(2), atol=0)
    d = a - b + 1e-6
    close(F.pairwise_distance(ea, eb), np.linalg.norm(d, axis=-1), atol=1e-12)
    close(F.pairwise_distance(ea, eb, p=1.0, keepdim=True), np.abs(d).sum(-1, keepdims=True), atol=1e-12)
    close(F.pairwise_distance(ea, eb, p=float("inf")), np.abs(d).max(-1), atol=1e-12)
    close(F.pairwise_distance(ember.tensor(1.0), ember.tensor(3.0)), 2.0 - 1e-6, atol=1e-12)
    assert F.pairwise_distance(ember.zeros(0, 4), ember.zeros(0, 4)).shape == (0,)
    close(F.pairwise_distance(ember.zeros(3, 0), ember.zeros(3, 0)), np.zeros(3), atol=0)
    check_grad(lambda x, y: F.cosine_similarity(x, y, dim=0), randn(3, 2, requires_grad=True, seed=10),
               randn(3, 1, requires_grad=True, seed=11))
    check_grad(lambda x, y: F.pairwise_distance(x, y, p=3.0), randn(2, 3, requires_grad=True, seed=12),
               randn(3, requires_grad=True, seed=13))
    check_grad(lambda x: F.normalize(x, p=1.5, dim=0), randn(3, 2, requires_grad=True, seed=14))


def test_cosine_similarity_gradient_flows_through_the_clamped_norm():
    # the norm is clamped at eps in value only: d/dx1 of x1 / max(||x1||, eps) keeps the norm's own term
    x1 = ember.tensor([[3e-9, 4e-9]], dtype=ember.float64, requires_grad=True)
    x2 = ember.tensor([[1.0, 0.0]], dtype=ember.float64, requires_grad=True)
    F.cosine_similarity(x1, x2).sum().backward()
    v, eps = np.array([3e-9, 4e-9]), 1e-8
    n = np.linalg.norm(v)
    expected = np.array([1.0, 0.0]) / eps - (v[0] / eps ** 2) * v / n
    close(x1.grad, expected[None], rtol=1e-9, atol=0)


def test_distance_errors_and_modules():
    with pytest.raises(RuntimeError, match="expected common dtype to be floating point"):
        F.cosine_similarity(ember.tensor([1, 2]), ember.tensor([2, 3]), dim=0)
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        F.pairwise_distance(ember.tensor([1, 2]), ember.tensor([2, 3]))
    with pytest.raises(RuntimeError, match=r"must match the size of tensor b \(2\) at non-singleton dimension 0"):
        F.cosine_similarity(ember.randn(3, 4), ember.randn(2, 4))
    x, y = randn(4, 3, seed=15), randn(4, 3, seed=16)
    pd = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    assert pd.norm == 1.0 and repr(pd) == "PairwiseDistance()"
    close(pd(x, y), np.abs(npy(x) - npy(y)).sum(-1, keepdims=True), atol=1e-12)
    cs = nn.CosineSimilarity(dim=0, eps=1e-6)
    assert repr(cs) == "CosineSimilarity()"
    close(cs(x, y), F.cosine_similarity(x, y, 0, 1e-6), atol=0)


@pytest.mark.parametrize("dtype,atol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_distances_match_torch(dtype, atol):
    torch = torch_or_skip()
    TF = torch.nn.functional
    rng = _rng(17)
    cases = [
        (lambda M, a, b: M.cosine_similarity(a, b), [(4, 3), (3,)]),
        (lambda M, a, b: M.cosine_similarity(a, b, dim=-1, eps=0.5), [(2, 1, 3), (4, 3)]),
        (lambda M, a, b: M.cosine_similarity(a * 1e-9, b), [(4, 3), (4, 3)]),     # norms below eps
        (lambda M, a, b: M.pairwise_distance(a, b), [(4, 3), (4, 3)]),
        (lambda M, a, b: M.pairwise_distance(a, b, p=0.5, keepdim=True), [(2, 4, 3), (3,)]),
        (lambda M, a, b: M.pairwise_distance(a.t(), b), [(3, 4), (4, 3)]),
        (lambda M, a, b: M.normalize(a - b, p=3.0, dim=0), [(4, 3), (4, 3)]),
    ]
    for fn, shapes in cases:
        arrs = [rng.standard_normal(s).astype(dtype) for s in shapes]
        es = [ember.tensor(v, requires_grad=True) for v in arrs]
        ts = [torch.tensor(v, requires_grad=True) for v in arrs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eo, to = fn(F, *es), fn(TF, *ts)
        close(eo, to.detach(), atol=atol, rtol=atol)
        g = rng.standard_normal(tuple(to.shape)).astype(dtype)
        eo.backward(ember.tensor(g))
        to.backward(torch.tensor(g))
        for e, t in zip(es, ts):
            close(e.grad, t.grad, atol=atol * 10, rtol=atol * 10)
    for name in ("ctc_loss", "normalize"):
        import inspect
        ours, theirs = inspect.signature(getattr(F, name)), inspect.signature(getattr(TF, name))
        assert list(ours.parameters) == list(theirs.parameters)
        assert [p.default for p in ours.parameters.values()] == [p.default for p in theirs.parameters.values()]


def test_ctc_frees_its_saved_tensors_after_backward():
    import gc
    lp, targets, il, tl = _ctc_case(9)
    tg = ember.tensor(targets)
    gc.collect()
    base = ember._C._live_storages()
    x = ember.tensor(lp, requires_grad=True)
    loss = F.ctc_loss(x.log_softmax(2), tg, il, tl)
    gc.collect()
    assert ember._C._live_storages() > base + 6     # the graph holds alpha, the label tensors, ...
    loss.backward()
    gc.collect()
    # left alive: x, x.grad and loss
    assert ember._C._live_storages() <= base + 3
