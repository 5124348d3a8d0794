"""A custom autograd Function: the Legendre polynomial P3(x) = (5x^3 - 3x) / 2 with a hand-written backward,
checked by gradcheck, then used to fit y = sin(x) as y = a + b * P3(c + d * x)."""
import math

import ember
from ember.autograd import Function, gradcheck

from _common import steps


class LegendrePolynomial3(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


# the analytic backward agrees with finite differences (in float64)
probe = ember.randn(6, dtype=ember.float64, requires_grad=True)
print("gradcheck:", gradcheck(LegendrePolynomial3.apply, (probe,), eps=1e-6, atol=1e-4))

ember.manual_seed(0)
x = ember.linspace(-math.pi, math.pi, 2000)
y = ember.sin(x)
a = ember.full((), 0.0, requires_grad=True)
b = ember.full((), -1.0, requires_grad=True)
c = ember.full((), 0.0, requires_grad=True)
d = ember.full((), 0.3, requires_grad=True)

P3 = LegendrePolynomial3.apply
learning_rate = 5e-6
for t in range(steps(2000, 1000)):
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if t == 0:
        first = loss.item()
    if t % 500 == 499:
        print(t, loss.item())
    loss.backward()
    with ember.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None
print("result: y = %.3f + %.3f * P3(%.3f + %.3f x); loss %.1f -> %.1f"
      % (a.item(), b.item(), c.item(), d.item(), first, loss.item()))
