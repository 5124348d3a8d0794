"""A two-layer network, way 1 of 4: forward pass and gradients written by hand, numpy style, on ember tensors
(no autograd). Fits random data: x (64 x 1000) -> ReLU hidden layer (100) -> y (64 x 10)."""
import ember as torch

from _common import steps

torch.manual_seed(0)
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H)
w2 = torch.randn(H, D_out)

learning_rate = 1e-6
for t in range(steps(500, 100)):
    # forward
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    if t == 0:
        first = loss
    if t % 100 == 99:
        print(t, loss)

    # backward: the chain rule by hand
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)

    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2

print("loss %.1f -> %.1f" % (first, loss))
