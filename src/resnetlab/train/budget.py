"""How many optimizer steps a run takes: from the recipe, or fitted to a wall-clock budget.

For a budget the loop first times a few training steps (on a snapshot that is thrown away, so
the measured steps change nothing) and one evaluation pass, then fixes the total number of
steps so that the whole schedule, per-epoch evaluations included, ends inside the budget. The
plan is stored in every checkpoint: a resumed run follows it exactly, whatever its speed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from resnetlab.errors import ConfigError
from resnetlab.train.recipes import Recipe

# Share of the remaining budget the schedule is planned to fill; the rest absorbs jitter in
# throughput (other processes, thermal limits) so the run does not overshoot.
SAFETY = 0.93


@dataclass(frozen=True)
class Plan:
    """The fixed length of a run."""

    total_steps: int
    steps_per_epoch: int
    source: str  # "epochs", "iterations" or "budget"
    step_seconds: float = 0.0
    eval_seconds: float = 0.0

    @property
    def epochs(self) -> int:
        """Number of epochs, the last one possibly partial."""
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(**data)


def plan_from_recipe(recipe: Recipe, steps_per_epoch: int) -> Plan:
    """The recipe's own length: ``epochs`` full epochs or ``iterations`` steps."""
    if recipe.epochs > 0:
        return Plan(recipe.epochs * steps_per_epoch, steps_per_epoch, "epochs")
    if recipe.iterations > 0:
        return Plan(recipe.iterations, steps_per_epoch, "iterations")
    raise ConfigError("the recipe sets neither epochs nor iterations; pass --epochs N, "
                      "--set iterations=N or --time-budget SECONDS")


def plan_for_budget(budget_s: float, elapsed_s: float, step_s: float, eval_s: float,
                    final_s: float, steps_per_epoch: int) -> Plan:
    """The largest step count whose steps, per-epoch evaluations (``eval_s`` each) and final
    evaluation/export (``final_s``) fit in what is left of ``budget_s``."""
    available = (budget_s - elapsed_s) * SAFETY - final_s
    per_step = step_s + eval_s / steps_per_epoch
    steps = int(available / per_step) if available > 0 else 0
    if steps < 1:
        raise ConfigError(
            f"a time budget of {budget_s:g} s leaves no time to train (one step takes "
            f"{step_s:.2f} s, evaluation {eval_s:.1f} s); raise --time-budget"
        )
    return Plan(steps, steps_per_epoch, "budget", step_seconds=step_s, eval_seconds=eval_s)
