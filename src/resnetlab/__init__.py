"""resnetlab: residual networks to learn, train, inspect and ship.

>>> import resnetlab as rl
>>> m = rl.create_model("resnet56", num_classes=10)
"""

from resnetlab import (
    data,
    train,  # a callable package: rl.train(model, data, ...)
)
from resnetlab.analysis.summary import summary
from resnetlab.errors import ResnetlabError
from resnetlab.models import ModelCard, ResNet, create_model, get_card, list_models
from resnetlab.train.evaluate import evaluate
from resnetlab.train.resume import resume

__version__ = "0.1.0"

__all__ = [
    "ModelCard",
    "ResNet",
    "ResnetlabError",
    "__version__",
    "create_model",
    "data",
    "evaluate",
    "get_card",
    "list_models",
    "resume",
    "summary",
    "train",
]
