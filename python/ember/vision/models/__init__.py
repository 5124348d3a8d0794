"""Vision models: LeNet, and VGG and ResNet with torchvision's module trees and state_dict keys."""
from .lenet import LeNet, lenet
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["LeNet", "lenet", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn", "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50"]
