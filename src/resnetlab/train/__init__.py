"""Training, evaluation and prediction: recipes, the resumable loop and its run directory.

>>> import resnetlab
>>> from resnetlab.data import load
>>> run = resnetlab.train("resnet20", load("digits", image_size=16), recipe="fast",
...                       out_dir="runs/demo", epochs=5)                     # doctest: +SKIP
>>> resnetlab.evaluate(run.run_dir, load("digits", image_size=16).test).top1  # doctest: +SKIP
"""

import sys
import types

from resnetlab.train.evaluate import Evaluation, evaluate
from resnetlab.train.loop import train
from resnetlab.train.recipes import RECIPES, Recipe, get_recipe, with_overrides
from resnetlab.train.resume import resume
from resnetlab.train.rundir import Run
from resnetlab.train.trainer import TrainingDiverged

__all__ = [
    "RECIPES",
    "Evaluation",
    "Recipe",
    "Run",
    "TrainingDiverged",
    "evaluate",
    "get_recipe",
    "resume",
    "train",
    "with_overrides",
]


class _CallablePackage(types.ModuleType):
    """Lets ``resnetlab.train(...)`` call :func:`train` while ``resnetlab.train`` stays the
    package, so ``import resnetlab.train.recipes as r`` keeps working (a function bound to the
    same name would shadow the package for that import form)."""

    def __call__(self, *args, **kwargs) -> Run:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
