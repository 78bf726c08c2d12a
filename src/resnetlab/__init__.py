"""resnetlab: residual networks to learn, train, inspect and ship.

>>> import resnetlab as rl
>>> m = rl.create_model("resnet56", num_classes=10)

Every public name is imported on first use (PEP 562, see :mod:`resnetlab._lazy`), so that
``import resnetlab`` and the CLI's start do not pay for ``import torch`` until something needs it.
"""

from resnetlab._lazy import lazy_exports

__version__ = "0.1.0"  # pyproject.toml's version; a test checks that the two agree

_EXPORTS = {
    "data": "resnetlab.data",  # sub-packages: the package itself is the attribute
    "train": "resnetlab.train",  # a callable package: rl.train(model, data, ...)
    "summary": "resnetlab.analysis.summary",
    "ResnetlabError": "resnetlab.errors",
    "ModelCard": "resnetlab.models",
    "ResNet": "resnetlab.models",
    "create_model": "resnetlab.models",
    "get_card": "resnetlab.models",
    "list_models": "resnetlab.models",
    "load_model": "resnetlab.models",
    "load_weights": "resnetlab.models",
    "save_weights": "resnetlab.models",
    "evaluate": "resnetlab.train.evaluate",
    "resume": "resnetlab.train.resume",
}
__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
