"""Fitting an adaptive recipe (``fast``) to the run it is used for.

A fixed set of hyper-parameters cannot serve a 1-epoch and a 100-epoch run alike: a peak
learning rate that a long warm-up makes safe diverges in 30 steps, an EMA with a 100-step
horizon evaluates mostly the initial weights of a 35-step run, and random crops that pay off
over 50 epochs only slow down 3. So a recipe with ``adapt=True`` leaves those fields to the
rules below, applied once the run's length is known (from ``--epochs`` or the first plan of a
time budget). Any field set explicitly (``--set``, ``--lr``, ``--batch-size``, a dataset
default) is *pinned* and left as given.

The rules and where they come from:

* **Batch size** — at least :data:`MIN_STEPS_PER_EPOCH` steps per epoch, halving from 128
  down to 16: a 1,003-image training set at batch 128 gets 7 steps an epoch, too few for any
  schedule to work in a few epochs.
* **Peak learning rate** — 0.1 for runs of up to 8 epochs, growing with the square root of the
  length up to 0.4 from 128 epochs on; above batch 128 it grows with the square root of the
  batch (Krizhevsky 2014, arXiv 1404.5997; Hoffer et al. 2017, arXiv 1705.08741). Below 128
  it stays at 0.1: the automatic batch only shrinks for small training sets, whose short
  epochs need the larger step.
  Measured on the shared subsets (docs/recipes.md): resnet20, CIFAR subset, 3 epochs at batch
  128: lr 0.1 → 46.8 %, 0.2 → 37.0 %, 0.4 → diverges (the old fixed ``fast``: 19 %); 30+
  epoch runs trained well at 0.4 (docs/benchmarks.md); Fashion-MNIST subset, 5 epochs at
  batch 32: 0.1 ≈ 0.05 > 0.15 > 0.2.
* **Warm-up** — 20 % of the schedule, as in the one-cycle schedules of Smith & Topin 2018
  (arXiv 1708.07120) and Page's DAWNBench ResNet (5 of 24 epochs), at most 5 epochs.
* **Label smoothing** (Szegedy et al. 2016, arXiv 1512.00567) — 0.1 under 10 epochs, 0.2 from
  10 on (airbench, Jordan 2024, arXiv 2404.00498, uses 0.2 for ~10-epoch runs).
* **EMA of the weights** — a horizon of 5 % of the run (decay ``1 - 1/horizon``), off when that
  is under 20 steps; so the evaluated average never leans on the first weights.
* **Augmentation** — no random crop under 8 epochs (it costs more accuracy than it gives in
  so few passes: 75.8 % → 78.5 % on Fashion-MNIST at 5 epochs), padding of 1/8 of the image
  side from 8 epochs, Cutout of 1/4 of the side (DeVries & Taylor 2017, arXiv 1708.04552) from
  80 epochs.
"""

from __future__ import annotations

import math
from dataclasses import replace

from resnetlab.train.recipes import Recipe

MIN_STEPS_PER_EPOCH = 25
FITTED_FIELDS = ("batch_size", "lr", "warmup_frac", "label_smoothing", "ema", "pad", "cutout")


def crop_pad(image_side: int) -> int:
    """Random-crop padding for ``image_side``-pixel images: an eighth of the side (He et al.'s
    4 pixels at 32), at least 1."""
    return max(1, round(image_side / 8))


def fit_batch_size(recipe: Recipe, train_images: int, world_size: int = 1) -> int:
    """The batch size of a run: the recipe's, or for ``batch_size=0`` (auto) the largest power
    of two from 128 down to 16 that gives :data:`MIN_STEPS_PER_EPOCH` steps per epoch (and
    splits evenly over ``world_size`` processes)."""
    if recipe.batch_size > 0:
        return recipe.batch_size
    batch = 128
    while batch > 16 and train_images // batch < MIN_STEPS_PER_EPOCH:
        batch //= 2
    while batch % world_size:
        batch += 1
    return batch


def fit_recipe(recipe: Recipe, total_steps: int, steps_per_epoch: int, image_side: int,
               batch_size: int) -> Recipe:
    """The concrete recipe of a run of ``total_steps`` (the recipe itself unless it adapts)."""
    if not recipe.adapt:
        return replace(recipe, batch_size=batch_size)
    epochs = total_steps / max(1, steps_per_epoch)
    horizon = 0.05 * total_steps
    rules = {
        "batch_size": batch_size,
        "lr": round(0.1 * max(1.0, math.sqrt(batch_size / 128))
                    * min(4.0, max(1.0, math.sqrt(epochs / 8))), 4),
        "warmup_frac": round(min(0.2, 5.0 / epochs) if epochs > 0 else 0.2, 4),
        "label_smoothing": 0.1 if epochs < 10 else 0.2,
        "ema": min(0.9999, round(1.0 - 1.0 / horizon, 5)) if horizon >= 20 else 0.0,
        "pad": 0 if epochs < 8 else crop_pad(image_side),
        "cutout": image_side // 4 if epochs >= 80 else 0,
    }
    chosen = {k: v for k, v in rules.items() if k not in recipe.pinned}
    return replace(recipe, **chosen, adapt=False)
