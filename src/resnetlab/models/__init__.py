"""Residual blocks, the configurable ResNet and the registry of named variants."""

from resnetlab.models.blocks import (
    BasicBlock,
    BottleneckBlock,
    PreActBasicBlock,
    PreActBottleneckBlock,
    ResidualBlock,
)
from resnetlab.models.registry import ModelCard, create_model, get_card, list_models
from resnetlab.models.resnet import ResNet, ResNetConfig
from resnetlab.models.shortcuts import SHORTCUTS, ZeroPadShortcut

__all__ = [
    "SHORTCUTS",
    "BasicBlock",
    "BottleneckBlock",
    "ModelCard",
    "PreActBasicBlock",
    "PreActBottleneckBlock",
    "ResNet",
    "ResNetConfig",
    "ResidualBlock",
    "ZeroPadShortcut",
    "create_model",
    "get_card",
    "list_models",
]
