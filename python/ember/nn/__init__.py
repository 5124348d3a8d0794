"""ember.nn: neural network building blocks with torch.nn's API.

Modules (``nn.Linear``, ``nn.Conv2d``, ``nn.LSTM``, ...), containers, losses, ``nn.functional``, ``nn.init``
and ``nn.utils``; parameter names, shapes, default initialisations, state_dict keys and reprs match PyTorch's.
"""
from .parameter import Parameter
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, init, parallel, utils
from .parallel import DataParallel

__all__ = ["Parameter", "functional", "init", "parallel", "utils", "DataParallel"] + list(_modules_all)
