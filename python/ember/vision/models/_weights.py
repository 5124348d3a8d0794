"""Pretrained weights: Ember downloads none, but loads a torchvision checkpoint file given by path."""
import os

from ...serialization import load


def load_weights(model, weights, progress=True):
    """Loads ``weights`` (the path of a torchvision ``.pth`` checkpoint, read by Ember's restricted PyTorch
    checkpoint import) into ``model``; None leaves the random initialisation."""
    if weights is None:
        return model
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        model.load_state_dict(load(weights))
        return model
    raise RuntimeError("Ember does not download pretrained weights (got weights=%r). Pass the path of a "
                       "torchvision checkpoint file instead, e.g. weights='~/.cache/torch/hub/checkpoints/"
                       "resnet18-f37072fd.pth' as downloaded by torchvision, or call "
                       "model.load_state_dict(ember.load(path))." % (weights,))


def check_legacy_kwargs(kwargs):
    if kwargs.pop("pretrained", False):
        raise RuntimeError("pretrained=True is not supported: Ember does not download weights; pass "
                           "weights=<path of a torchvision .pth file> instead")
