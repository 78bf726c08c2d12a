"""How many optimizer steps a run takes, and where in its schedule each step is.

A :class:`Plan` holds the planned end step and an *anchor* (a step and the schedule progress
reached there). Progress grows linearly from the anchor to 1 at the end step, so changing the
end step (re-planning a time budget, extending a finished run) bends the rest of the schedule
from where it is: the learning rate never jumps.

With a time budget the loop first times a few steps (on a snapshot that is thrown away) to make
a first plan, then re-plans as it goes from the measured speed of its recent steps and
evaluations (:func:`replan_for_budget`), so the run ends inside ``[0.95 B, B]`` of the budget
``B`` whatever the machine does meanwhile. The plan is in every checkpoint: a resumed run
continues from the decisions taken so far.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from resnetlab.errors import ConfigError
from resnetlab.train.recipes import Recipe

# Share of the budget the run aims to fill: the rest absorbs the error of the last estimate
# (the final evaluation and export are estimated, not yet measured, when the last re-plan runs).
TARGET = 0.975
# A budgeted run evaluates after every epoch only while that costs at most this share of the
# budget; a shorter budget evaluates once, at the end (a 4-second budget has no time for more).
EVAL_SHARE = 0.1


@dataclass
class Plan:
    """The length of a run and its position in the learning-rate schedule."""

    total_steps: int
    steps_per_epoch: int
    source: str  # "epochs", "iterations" or "budget"
    budget_seconds: float = 0.0  # > 0 while the plan follows a time budget
    cap_steps: int = 0  # > 0: never plan beyond this step (explicit epochs with a budget)
    anchor_step: int = 0
    anchor_progress: float = 0.0
    segment: int = 0  # 0 for the first schedule, +1 for each extension
    segment_start: int = 0
    replans: int = 0
    step_seconds: float = 0.0
    eval_seconds: float = 0.0
    final_seconds: float = 0.0
    eval_each_epoch: bool = True

    @property
    def epochs(self) -> int:
        """Number of epochs, the last one possibly partial."""
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def progress(self, step: int) -> float:
        """Schedule progress (0 → 1) before optimizer step ``step``."""
        span = self.total_steps - self.anchor_step
        if span <= 0:
            return 1.0
        done = (step - self.anchor_step) / span
        return min(1.0, self.anchor_progress + done * (1.0 - self.anchor_progress))

    def retarget(self, step: int, total_steps: int) -> None:
        """Move the end to ``total_steps`` (at least ``step``) keeping the schedule continuous."""
        total_steps = max(int(total_steps), step)
        if total_steps == self.total_steps:
            return
        self.anchor_progress = self.progress(step)
        self.anchor_step = step
        self.total_steps = total_steps
        self.replans += 1

    def lengthen(self, step: int, total_steps: int, new_segment: bool) -> None:
        """End at ``total_steps`` from now on, without a budget: a finished schedule starts a
        new segment at ``step`` (warm-up and decay again), an unfinished one is stretched."""
        if new_segment:
            self.segment += 1
            self.segment_start = self.anchor_step = step
            self.anchor_progress = 0.0
            self.total_steps = int(total_steps)
        else:
            self.retarget(step, total_steps)
        self.source, self.budget_seconds, self.cap_steps = "epochs", 0.0, 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def plan_from_recipe(recipe: Recipe, steps_per_epoch: int) -> Plan:
    """The recipe's own length: ``epochs`` full epochs or ``iterations`` steps."""
    if recipe.epochs > 0:
        return Plan(recipe.epochs * steps_per_epoch, steps_per_epoch, "epochs")
    if recipe.iterations > 0:
        return Plan(recipe.iterations, steps_per_epoch, "iterations")
    raise ConfigError("the recipe sets neither epochs nor iterations; pass --epochs N, "
                      "--set iterations=N or --time-budget SECONDS")


def evaluations_between(step: int, end: int, steps_per_epoch: int) -> int:
    """Per-epoch evaluations the loop runs after ``step`` up to ``end`` (a partial last epoch
    is evaluated too)."""
    if end <= step:
        return 0
    full = end // steps_per_epoch - step // steps_per_epoch
    return full + (1 if end % steps_per_epoch else 0)


def steps_that_fit(seconds: float, step: int, step_s: float, eval_s: float,
                   steps_per_epoch: int) -> int:
    """The most steps after ``step`` whose time and evaluations fit in ``seconds``."""
    if seconds <= 0 or step_s <= 0:
        return 0

    def cost(k: int) -> float:
        return k * step_s + evaluations_between(step, step + k, steps_per_epoch) * eval_s

    k = int(seconds / (step_s + eval_s / steps_per_epoch))
    while k > 0 and cost(k) > seconds:
        k -= 1
    while cost(k + 1) <= seconds:
        k += 1
    return k


def _end_that_fits(plan: Plan, step: int, used_s: float, step_s: float, eval_s: float,
                   final_s: float) -> int:
    """The last step of ``plan``'s budget from ``step``, ``used_s`` seconds into it."""
    left = plan.budget_seconds * TARGET - used_s - final_s
    per_eval = eval_s if plan.eval_each_epoch else 0.0
    end = step + steps_that_fit(left, step, step_s, per_eval, plan.steps_per_epoch)
    plan.step_seconds, plan.eval_seconds, plan.final_seconds = step_s, eval_s, final_s
    return min(end, plan.cap_steps) if plan.cap_steps else end


def plan_for_budget(budget_s: float, used_s: float, step_s: float, eval_s: float,
                    final_s: float, steps_per_epoch: int, cap_steps: int = 0) -> Plan:
    """The first plan of a budgeted run: as many steps as fit in what is left of the budget."""
    plan = Plan(0, steps_per_epoch, "budget", budget_seconds=budget_s, cap_steps=cap_steps)
    uncapped = replace(plan, cap_steps=0)
    evals = evaluations_between(0, _end_that_fits(uncapped, 0, used_s, step_s, eval_s, final_s),
                                steps_per_epoch)
    plan.eval_each_epoch = evals * eval_s <= EVAL_SHARE * budget_s
    plan.total_steps = _end_that_fits(plan, 0, used_s, step_s, eval_s, final_s)
    if plan.total_steps < 1:
        raise ConfigError(
            f"a time budget of {budget_s:g} s leaves no time to train (one step takes "
            f"{step_s:.2f} s, evaluation {eval_s:.1f} s); raise --time-budget"
        )
    return plan


def replan_for_budget(plan: Plan, step: int, used_s: float, step_s: float,
                      eval_s: float, final_s: float) -> None:
    """Re-fit the end of the budgeted ``plan`` (at ``step``, ``used_s`` seconds into the
    budget) to the measured step and evaluation times."""
    plan.retarget(step, _end_that_fits(plan, step, used_s, step_s, eval_s, final_s))
