"""Residual blocks, the configurable ResNet, the registry of named variants and the hub.

Names are imported on first use (see :mod:`resnetlab._lazy`): the registry and the cards need no
torch, so ``resnetlab models`` starts fast, while ``create_model`` builds with torch.
"""

from resnetlab._lazy import lazy_exports

_EXPORTS = {
    "SHORTCUTS": "resnetlab.models.config",
    "ResNetConfig": "resnetlab.models.config",
    "BasicBlock": "resnetlab.models.blocks",
    "BottleneckBlock": "resnetlab.models.blocks",
    "PreActBasicBlock": "resnetlab.models.blocks",
    "PreActBottleneckBlock": "resnetlab.models.blocks",
    "ResidualBlock": "resnetlab.models.blocks",
    "ZeroPadShortcut": "resnetlab.models.shortcuts",
    "ResNet": "resnetlab.models.resnet",
    "FeatureExtractor": "resnetlab.models.features",
    "list_models": "resnetlab.models.registry",
    "resolve_config": "resnetlab.models.registry",
    "ModelCard": "resnetlab.models.cards",
    "get_card": "resnetlab.models.cards",
    "create_model": "resnetlab.models.factory",
    "load_model": "resnetlab.models.hub.loader",
    "load_weights": "resnetlab.models.hub.weights",
    "save_weights": "resnetlab.models.hub.weights",
    "LoadReport": "resnetlab.models.hub.weights",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
