"""A two-layer network, way 2 of 4: autograd computes the gradients; the update is still by hand.
Fits random data: x (64 x 1000) -> ReLU hidden layer (100) -> y (64 x 10)."""
import ember as torch

from _common import steps

torch.manual_seed(0)
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)
w1 = torch.randn(D_in, H, requires_grad=True)
w2 = torch.randn(H, D_out, requires_grad=True)

learning_rate = 1e-6
for t in range(steps(500, 100)):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t == 0:
        first = loss.item()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()
print("loss %.1f -> %.1f" % (first, loss.item()))
