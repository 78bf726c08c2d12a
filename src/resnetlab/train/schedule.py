"""Learning rate as a pure function of the schedule's progress (0 → 1), so a resumed run needs
no scheduler object and a re-planned one bends its schedule without a jump (see
:class:`resnetlab.train.budget.Plan`).

The only schedule state is the he2016 "warm up at 0.01 until the training error is below 80 %"
switch (He et al. 2016, sec. 4.2, used there for ResNet-110); it lives in :class:`ErrorWarmup`,
whose counters are plain integers saved in every checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from resnetlab.train.recipes import Recipe

# The error of the warm-up is measured over windows of this many steps (about a tenth of the
# paper's ~400 warm-up iterations), so one lucky batch cannot end it.
ERROR_WINDOW = 40


def scheduled_lr(recipe: Recipe, start: float, end: float) -> float:
    """The learning rate of a step that moves the schedule's progress from ``start`` to ``end``.

    Progress runs from 0 to 1 over a schedule; the loop advances it by ``1 / steps`` of the
    current plan, so when a time budget is re-planned the schedule stretches or shrinks from
    where it is, without a jump in the learning rate. Warm-up ramps linearly by the step's end
    (not 0) so the very first step already moves.
    """
    peak = recipe.lr
    w = recipe.warmup_frac
    if w > 0 and start < w:
        return peak * min(1.0, end / w)
    if recipe.schedule == "constant":
        return peak
    if recipe.schedule == "step":
        # A tiny tolerance: progress accumulated over re-plans is a float.
        passed = sum(start >= m - 1e-12 for m in recipe.milestones)
        return peak * recipe.gamma**passed
    progress = min(1.0, max(0.0, (start - w) / (1.0 - w)))
    final = peak * recipe.final_lr_frac
    if recipe.schedule == "cosine":
        return final + (peak - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    # linear: after warm-up this is the triangular / one-cycle shape
    return peak + (final - peak) * progress


def base_lr(recipe: Recipe, step: int, total_steps: int) -> float:
    """The scheduled learning rate for step ``step`` (0-based) of a fixed ``total_steps``."""
    return scheduled_lr(recipe, step / total_steps, (step + 1) / total_steps)


@dataclass
class ErrorWarmup:
    """Holds the learning rate at ``recipe.warmup_lr`` until the training error drops below
    ``recipe.warmup_until_error`` (measured over windows of :data:`ERROR_WINDOW` steps).

    ``active`` is False from the start when the recipe does not ask for it or the model is
    shallower than ``recipe.warmup_min_depth``.
    """

    active: bool = False
    threshold: float = 0.0
    seen: int = 0
    wrong: int = 0
    steps: int = 0

    @classmethod
    def for_recipe(cls, recipe: Recipe, depth: int) -> ErrorWarmup:
        on = recipe.warmup_until_error > 0 and depth >= recipe.warmup_min_depth
        return cls(active=on, threshold=recipe.warmup_until_error)

    def update(self, wrong: int, seen: int) -> None:
        """Record one step's mistakes; ends the warm-up at the end of a window below threshold."""
        if not self.active:
            return
        self.wrong += wrong
        self.seen += seen
        self.steps += 1
        if self.steps >= ERROR_WINDOW:
            if self.wrong < self.threshold * self.seen:
                self.active = False
            self.seen = self.wrong = self.steps = 0

    def state_dict(self) -> dict:
        return {
            "active": self.active, "threshold": self.threshold,
            "seen": self.seen, "wrong": self.wrong, "steps": self.steps,
        }

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def lr_at(recipe: Recipe, start: float, end: float, warmup: ErrorWarmup) -> float:
    """The learning rate actually used: the error warm-up (he2016) overrides the schedule."""
    lr = scheduled_lr(recipe, start, end)
    return min(recipe.warmup_lr, lr) if warmup.active else lr


def weighted_depth(model) -> int:
    """Number of convolution and linear layers on the longest path, as the paper counts depth.

    Counts all ``Conv2d``/``Linear`` modules except 1x1 projection shortcuts (which sit beside
    the residual path), so resnet110 counts 110 whichever shortcut option it uses.
    """
    from torch import nn

    depth = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            depth += 1
        elif isinstance(module, nn.Conv2d):
            if any(part in name for part in ("downsample", "shortcut", "proj")):
                continue
            depth += 1
    return depth
