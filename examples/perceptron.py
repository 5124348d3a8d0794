"""A perceptron built from a custom Linear module (nn.Module + nn.Parameter), trained with Rosenblatt's rule
on linearly separable 2-D points. The custom layer is first checked against nn.Linear, gradients included."""
import math

import numpy as np

import ember
from ember import nn

from _common import steps


class Linear(nn.Module):
    """y = x W^T + b, written from scratch: parameters are registered by assigning nn.Parameter attributes."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(ember.empty(out_features, in_features))
        self.bias = nn.Parameter(ember.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        out = x @ self.weight.t()
        return out + self.bias if self.bias is not None else out

    def extra_repr(self):
        return "in_features=%d, out_features=%d" % (self.in_features, self.out_features)


class Perceptron(nn.Module):
    def __init__(self, in_features):
        super().__init__()
        self.linear = Linear(in_features, 1)

    def forward(self, x):
        # +1 / -1 by the side of the hyperplane
        return ember.where(self.linear(x).squeeze(1) >= 0, 1.0, -1.0)


ember.manual_seed(0)
mine, ref = Linear(3, 2), nn.Linear(3, 2)
ref.load_state_dict(mine.state_dict())  # same parameter names, so state dicts are interchangeable
x = ember.randn(4, 3)
mine(x).sum().backward()
ref(x).sum().backward()
print("custom Linear matches nn.Linear:",
      bool(ember.allclose(mine(x), ref(x))) and bool(ember.allclose(mine.weight.grad, ref.weight.grad)))
print(mine)

# two clusters either side of the line x1 + x2 = 0, with a margin
rng = np.random.default_rng(0)
points = rng.uniform(-1, 1, size=(200, 2)).astype(np.float32)
points = points[np.abs(points.sum(1)) > 0.2]
labels = np.where(points.sum(1) > 0, 1.0, -1.0).astype(np.float32)
X, Y = ember.tensor(points), ember.tensor(labels)

model = Perceptron(2)
lr = 0.1
for epoch in range(steps(100, 100)):
    mistakes = 0
    with ember.no_grad():
        for xi, yi in zip(X, Y):
            if model(xi.unsqueeze(0)).item() != yi.item():
                # Rosenblatt: move the hyperplane towards the misclassified point
                model.linear.weight += lr * yi * xi
                model.linear.bias += lr * yi
                mistakes += 1
    if mistakes == 0:
        break
accuracy = (model(X) == Y).float().mean().item()
print("converged after %d epochs, training accuracy %.1f%%" % (epoch + 1, 100 * accuracy))
