"""A two-layer network, way 3 of 4: the layers and the loss come from ember.nn; the update is by hand over
model.parameters(). Fits random data: x (64 x 1000) -> ReLU hidden layer (100) -> y (64 x 10)."""
import ember as torch
from ember import nn

from _common import steps

torch.manual_seed(0)
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)

model = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
loss_fn = nn.MSELoss(reduction="sum")

learning_rate = 1e-4
for t in range(steps(500, 100)):
    loss = loss_fn(model(x), y)
    if t == 0:
        first = loss.item()
    if t % 100 == 99:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
print("loss %.1f -> %.1f" % (first, loss.item()))
