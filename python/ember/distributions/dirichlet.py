"""Dirichlet(concentration) on the probability simplex; samples are normalised Gamma variates, so the
Gamma sampler's implicit reparameterisation gradient carries through (per sample this differs from PyTorch's
Dirichlet-specific formula, which differentiates the marginal Beta CDFs; both are unbiased, with the same
expectation)."""
import ember
from .._tensor import Size
from . import constraints
from .distribution import Distribution
from .utils import digamma, standard_gamma

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """Density prod x_i^(a_i - 1) / B(a) on the simplex; concentration (..., K) has batch dims in front."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        batch_shape, event_shape = concentration.shape[:-1], concentration.shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        g = standard_gamma(self.concentration.expand(shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return ember.xlogy(c - 1.0, value).sum(-1) + c.sum(-1).lgamma() - c.lgamma().sum(-1)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        c = self.concentration
        cm1 = (c - 1).clamp(min=0.0)
        mode = cm1 / cm1.sum(-1, keepdim=True)
        # with every a_i < 1 the density peaks at a vertex: the one of the largest a_i
        vertex = ember.nn.functional.one_hot(c.argmax(-1), c.shape[-1]).to(mode.dtype)
        return ember.where((c < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self):
        con0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (con0 - self.concentration) / (con0.pow(2) * (con0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return c.lgamma().sum(-1) - a0.lgamma() - (k - a0) * digamma(a0) - ((c - 1.0) * digamma(c)).sum(-1)
