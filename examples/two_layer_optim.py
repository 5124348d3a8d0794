"""A two-layer network, way 4 of 4: a custom nn.Module trained by an optimizer from ember.optim (Adam).
Fits random data: x (64 x 1000) -> ReLU hidden layer (100) -> y (64 x 10)."""
import ember as torch
from ember import nn

from _common import steps


class TwoLayerNet(nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = nn.Linear(D_in, H)
        self.linear2 = nn.Linear(H, D_out)

    def forward(self, x):
        return self.linear2(self.linear1(x).clamp(min=0))


torch.manual_seed(0)
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in)
y = torch.randn(N, D_out)

model = TwoLayerNet(D_in, H, D_out)
loss_fn = nn.MSELoss(reduction="sum")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
for t in range(steps(500, 100)):
    loss = loss_fn(model(x), y)
    if t == 0:
        first = loss.item()
    if t % 100 == 99:
        print(t, loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("loss %.1f -> %.1f" % (first, loss.item()))
