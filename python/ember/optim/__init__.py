"""ember.optim: optimizers (fused C++ updates over whole parameter groups; Adadelta, RAdam, ASGD, Rprop,
SparseAdam and LBFGS in ember ops) and learning-rate schedulers, with PyTorch's names, defaults, update rules
and state_dict structure."""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer, register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adamax", "NAdam", "Adadelta", "RAdam",
           "ASGD", "Rprop", "SparseAdam", "LBFGS", "lr_scheduler",
           "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]
