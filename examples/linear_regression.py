"""Linear regression: recover y = 2x + 1 from noisy samples with nn.Linear, MSELoss and SGD."""
import ember
from ember import nn

from _common import steps

ember.manual_seed(0)
x = ember.rand(200, 1) * 10 - 5                  # inputs in [-5, 5)
y = 2 * x + 1 + 0.1 * ember.randn(200, 1)        # the line plus a little noise

model = nn.Linear(1, 1)
loss_fn = nn.MSELoss()
optimizer = ember.optim.SGD(model.parameters(), lr=0.02)

for step in range(steps(500, 150)):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    if step % 100 == 0:
        print("step %4d  loss %.4f" % (step, loss.item()))

w, b = model.weight.item(), model.bias.item()
print("learned: y = %.3f x + %.3f   (true: y = 2x + 1, final loss %.4f)" % (w, b, loss.item()))
