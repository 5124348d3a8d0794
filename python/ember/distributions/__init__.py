"""ember.distributions: PyTorch's torch.distributions for the common families, their constraints and
transforms, and closed-form KL divergences. Samples come from ember's generator (ember.manual_seed makes them
reproducible); rsample is reparameterised so gradients reach the parameters. Gamma, Beta and Dirichlet use
implicit reparameterisation (the derivative of the inverse CDF at the sample, see utils.StandardGamma)."""
from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical, OneHotCategorical
from .constraints import Constraint
from .dirichlet import Dirichlet
from .distribution import Distribution
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .log_normal import LogNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform, IndependentTransform,
                         PowerTransform, SigmoidTransform, SoftmaxTransform, StickBreakingTransform, TanhTransform,
                         Transform, identity_transform)
from .uniform import Uniform

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Categorical", "ComposeTransform", "Constraint",
           "Dirichlet", "Distribution", "ExpTransform", "Gamma", "Independent", "IndependentTransform",
           "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical", "PowerTransform", "SigmoidTransform",
           "SoftmaxTransform", "StickBreakingTransform", "TanhTransform", "Transform", "TransformedDistribution",
           "Uniform", "constraints", "identity_transform", "kl_divergence", "register_kl", "transforms"]
