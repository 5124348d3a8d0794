"""RNN, LSTM, GRU and their cells: numpy references for one layer, gradcheck, shapes and options, and exact
agreement with torch.nn (outputs, final states, input and weight gradients) for 2-layer bidirectional
networks."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from nn_testing import check_module_grad, close, copy_weights, npy, randn, torch_or_skip


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np_params(m, suffix="_l0"):
    return [npy(getattr(m, n + suffix)) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def test_rnn_numpy_reference():
    rnn = nn.RNN(3, 4).double()
    x = randn(5, 2, 3, seed=1)
    w_ih, w_hh, b_ih, b_hh = _np_params(rnn)
    h = np.zeros((2, 4))
    outs = []
    for t in range(5):
        h = np.tanh(npy(x)[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outs.append(h)
    out, h_n = rnn(x)
    close(out, np.stack(outs), atol=1e-12)
    close(h_n, h[None], atol=1e-12)


def test_lstm_numpy_reference():
    lstm = nn.LSTM(3, 4).double()
    x = randn(4, 2, 3, seed=2)
    w_ih, w_hh, b_ih, b_hh = _np_params(lstm)
    h, c = np.zeros((2, 4)), np.zeros((2, 4))
    for t in range(4):
        g = npy(x)[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = np.split(g, 4, axis=1)
        c = _sig(f) * c + _sig(i) * np.tanh(gg)
        h = _sig(o) * np.tanh(c)
    out, (h_n, c_n) = lstm(x)
    close(out[-1], h, atol=1e-12)
    close(h_n[0], h, atol=1e-12)
    close(c_n[0], c, atol=1e-12)


def test_gru_numpy_reference():
    gru = nn.GRU(3, 4).double()
    x = randn(4, 2, 3, seed=3)
    w_ih, w_hh, b_ih, b_hh = _np_params(gru)
    h = np.zeros((2, 4))
    for t in range(4):
        xr, xz, xn = np.split(npy(x)[t] @ w_ih.T + b_ih, 3, axis=1)
        hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=1)
        r, z = _sig(xr + hr), _sig(xz + hz)
        n = np.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
    out, h_n = gru(x)
    close(h_n[0], h, atol=1e-12)


def test_parameter_names_shapes_and_reprs():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert names[5] == "weight_ih_l0_reverse" and len(names) == 20
    assert lstm.weight_ih_l0.shape == (16, 3) and lstm.weight_hh_l0.shape == (16, 2)
    assert lstm.weight_ih_l1.shape == (16, 4) and lstm.weight_hr_l1_reverse.shape == (2, 4)
    gru = nn.GRU(3, 5, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert gru.weight_ih_l0.shape == (15, 3)
    assert len(lstm.all_weights) == 4 and lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    assert repr(nn.RNN(3, 4)) == "RNN(3, 4)"
    assert repr(nn.RNN(3, 4, 2, nonlinearity="relu", bidirectional=True, batch_first=True, dropout=0.5)) == (
        "RNN(3, 4, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)")
    assert repr(nn.LSTM(3, 4, proj_size=2)) == "LSTM(3, 4, proj_size=2)"
    assert repr(nn.GRU(3, 4, bias=False)) == "GRU(3, 4, bias=False)"
    assert repr(nn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"


def test_hyperparameter_validation():
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(2, 3, dropout=0.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(2, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.RNN(2, 3, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        nn.RNN(2, 3.0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        nn.RNN(2, 3, nonlinearity="gelu")


def test_shapes_batch_first_unbatched_and_initial_state():
    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    x = ember.randn(2, 5, 3)
    out, (h, c) = lstm(x)
    assert out.shape == (2, 5, 8) and h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    out2, _ = lstm(x, (h, c))
    assert out2.shape == out.shape
    single, (h1, c1) = lstm(x[0])  # unbatched [L, H_in]
    assert single.shape == (5, 8) and h1.shape == (4, 4)
    close(single, out[0], atol=1e-6)
    gru = nn.GRU(3, 4)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        gru(ember.randn(5, 2, 3), ember.zeros(1, 3, 4))
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 3, got 2"):
        gru(ember.randn(5, 2, 2))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        gru(ember.randn(3))
    proj = nn.LSTM(3, 4, proj_size=2)
    o, (hp, cp) = proj(ember.randn(6, 1, 3))
    assert o.shape == (6, 1, 2) and hp.shape == (1, 1, 2) and cp.shape == (1, 1, 4)


def test_dropout_between_layers_only_in_training():
    rnn = nn.RNN(3, 4, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 3)
    rnn.eval()
    a, _ = rnn(x)
    b, _ = rnn(x)
    np.testing.assert_array_equal(npy(a), npy(b))
    rnn.train()
    ember.manual_seed(0)
    c, _ = rnn(x)
    assert not np.allclose(npy(c), npy(a))


def test_gradchecks():
    for mod in (nn.RNN(2, 2, bidirectional=True), nn.LSTM(2, 2, num_layers=2), nn.GRU(2, 2, batch_first=True),
                nn.LSTM(2, 3, proj_size=1)):
        check_module_grad(mod, randn(3, 2, 2, requires_grad=True, seed=4))
    check_module_grad(nn.GRUCell(2, 2), randn(3, 2, requires_grad=True))


def test_cells_match_sequence_layers():
    cell, layer = nn.LSTMCell(3, 4).double(), nn.LSTM(3, 4).double()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        with ember.no_grad():
            getattr(layer, name + "_l0").copy_(getattr(cell, name))
    x = randn(4, 2, 3, seed=5)
    h = c = ember.zeros(2, 4, dtype=ember.float64)
    for t in range(4):
        h, c = cell(x[t], (h, c))
    out, (h_n, c_n) = layer(x)
    close(h, h_n[0], atol=1e-12)
    close(c, c_n[0], atol=1e-12)
    assert nn.GRUCell(3, 4)(ember.randn(3)).shape == (4,)
    assert nn.RNNCell(3, 4)(ember.randn(5, 3), ember.zeros(5, 4)).shape == (5, 4)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_torch_two_layer_bidirectional(kind, batch_first):
    torch = torch_or_skip()
    kw = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    e = getattr(nn, kind)(4, 5, **kw)
    t = getattr(torch.nn, kind)(4, 5, **kw)
    copy_weights(e, t)
    x = np.random.default_rng(6).standard_normal((3, 6, 4)).astype(np.float32)
    h0 = np.random.default_rng(7).standard_normal((4, 3 if batch_first else 6, 5)).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if kind == "LSTM":
        eo, (eh, ec) = e(ex, (ember.tensor(h0), ember.tensor(h0 * 0.5)))
        to, (th, tc) = t(tx, (torch.tensor(h0), torch.tensor(h0 * 0.5)))
        close(ec, tc, atol=1e-5)
    else:
        eo, eh = e(ex, ember.tensor(h0))
        to, th = t(tx, torch.tensor(h0))
    close(eo, to, atol=1e-5)
    close(eh, th, atol=1e-5)
    g = np.random.default_rng(8).standard_normal(tuple(to.shape)).astype(np.float32)
    (eo * ember.tensor(g)).sum().add(eh.sum()).backward()
    (to * torch.tensor(g)).sum().add(th.sum()).backward()
    close(ex.grad, tx.grad, atol=1e-5)
    for (name, p), (_, q) in zip(e.named_parameters(), t.named_parameters()):
        close(p.grad, q.grad, atol=1e-4)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
def test_lstm_projection_and_cells_match_torch():
    torch = torch_or_skip()
    e, t = nn.LSTM(3, 5, proj_size=2, bidirectional=True), torch.nn.LSTM(3, 5, proj_size=2, bidirectional=True)
    copy_weights(e, t)
    x = np.random.default_rng(9).standard_normal((4, 2, 3)).astype(np.float32)
    close(e(ember.tensor(x))[0], t(torch.tensor(x))[0], atol=1e-5)
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        ec, tc = getattr(nn, name)(3, 4), getattr(torch.nn, name)(3, 4)
        copy_weights(ec, tc)
        eo, to = ec(ember.tensor(x[0])), tc(torch.tensor(x[0]))
        close(eo[0] if isinstance(eo, tuple) else eo, to[0] if isinstance(to, tuple) else to, atol=1e-6)
    assert repr(nn.LSTM(3, 5, 2, batch_first=True)) == repr(torch.nn.LSTM(3, 5, 2, batch_first=True))
