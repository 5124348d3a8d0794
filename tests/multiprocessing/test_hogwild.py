"""Hogwild training as in PyTorch's mnist_hogwild example: model.share_memory(), then several processes each
run their own optimizer on the same parameters; the parent must see the trained weights."""
import pytest

import ember
import ember.multiprocessing as mp
from ember import nn
from _mp_guard import hard_timeout  # noqa: F401

T = 60


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc2(ember.tanh(self.fc1(x)))


def _data():
    g = ember.Generator().manual_seed(0)
    x = ember.randn(64, 4, generator=g)
    y = (x * ember.tensor([1.0, -2.0, 0.5, 3.0])).sum(1, keepdim=True)
    return x, y


def _loss(model):
    x, y = _data()
    with ember.no_grad():
        return nn.functional.mse_loss(model(x), y).item()


def _train(rank, model, steps, q, start, done):
    """One Hogwild worker. Rank 0 trains first and reports its weights (a private copy); rank 1 checks that it
    sees exactly those weights through the shared memory, then both train at the same time."""
    ember.manual_seed(rank)
    opt = ember.optim.SGD(model.parameters(), lr=0.05)
    x, y = _data()

    def run(n):
        for _ in range(n):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    if rank == 0:
        run(steps)
        q.put(("rank0", [p.detach().clone() for p in model.parameters()]))
        start.set()
    else:
        assert start.wait(T)
        q.put(("rank1_saw", [p.detach().clone() for p in model.parameters()]))
    done.wait(T)  # both workers now update the same weights concurrently
    run(steps)
    q.put(("end", rank, all(p.is_shared() for p in model.parameters())))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_hogwild_two_processes_update_shared_parameters(method):
    ctx = mp.get_context(method)
    ember.manual_seed(0)
    model = Net()
    params = list(model.parameters())
    initial = [p.detach().clone() for p in params]
    loss0 = _loss(model)
    model.share_memory()
    assert all(p.is_shared() for p in params)
    q, start, done = ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=_train, args=(rank, model, 60, q, start, done)) for rank in range(2)]
    for p in procs:
        p.start()
    msgs = {}
    for _ in range(2):
        kind, value = q.get(timeout=T)
        msgs[kind] = value
    done.set()
    ends = [q.get(timeout=T) for _ in range(2)]
    for p in procs:
        p.join(T)
        assert p.exitcode == 0
    # rank 1 saw rank 0's trained weights, not its own copy of the initial ones
    for w0, seen, init in zip(msgs["rank0"], msgs["rank1_saw"], initial):
        assert ember.equal(w0, seen) and not ember.equal(w0, init)
    assert sorted(e[1] for e in ends) == [0, 1] and all(e[2] for e in ends)
    # the parent's parameters (same objects as before) hold the result of both workers' later steps
    assert model.parameters().__next__() is params[0]
    assert not any(ember.equal(p, w0) for p, w0 in zip(params, msgs["rank0"]))
    loss = _loss(model)
    assert loss < 0.5 * _loss_of(msgs["rank0"]) and loss < 0.05 * loss0


def _loss_of(weights):
    m = Net()
    with ember.no_grad():
        for p, w in zip(m.parameters(), weights):
            p.copy_(w)
    return _loss(m)
