"""A trainer set up as :func:`resnetlab.train.train` sets one up, to time its step on the side.

The benchmark's resnetlab path and the lab's budget planning must time the step that
``resnetlab train`` runs, with everything it configures (placement defaults, the dataset's
recipe fitted to the run's length, the recipe's optimizer, label smoothing, EMA, learning
rate), not a restatement of it that drifts. :func:`probe_trainer` builds that
:class:`~resnetlab.train.trainer.Trainer` without a run directory: nothing is written, so it
must not be saved.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.hardware import placement, set_deterministic
from resnetlab.train.budget import plan_from_recipe
from resnetlab.train.defaults import resolve_for_data
from resnetlab.train.recipes import Recipe
from resnetlab.train.trainer import Trainer

# A probe trainer's checkpoints would go under here, which cannot be written: it has none.
_NOWHERE = Path(os.devnull)


def probe_trainer(model: nn.Module, bundle, recipe: str | Recipe | None = None, *,
                  overrides: dict[str, Any] | None = None, batch_size: int | None = None,
                  device: str | torch.device | None = None, precision: str | None = None,
                  channels_last: bool | None = None, compile: bool = False,
                  deterministic: bool = False, seed: int = 0) -> Trainer:
    """The :class:`Trainer` that ``train(model, bundle, recipe, overrides=..., ...)`` would
    run, fitted to the recipe's own length (a time budget would plan its own).

    ``model`` is moved to the device and trained in place by :meth:`Trainer.train_step`.
    Like ``train``, this sets torch's global determinism flags (on CUDA they decide whether
    cuDNN tunes its kernels, which changes the step's time).
    """
    recipe, _, _ = resolve_for_data(bundle.name, recipe, overrides, batch_size=batch_size)
    where = placement(device, precision, channels_last, compile)
    set_deterministic(deterministic)
    trainer = Trainer(model, bundle, recipe, _NOWHERE, seed=seed, where=where,
                      checkpoint_steps=0, checkpoint_seconds=0.0, quiet=True)
    trainer.plan = plan_from_recipe(recipe, trainer.loader_len)
    trainer.fit_to(trainer.plan.total_steps)
    return trainer


def first_batch(trainer: Trainer) -> tuple[torch.Tensor, torch.Tensor]:
    """The first training batch of ``trainer``'s loader, augmented as the run would."""
    return next(iter(trainer.loader.iter_from(0, 0)))
