"""The first plan of a budgeted run: time a few real steps, one evaluation and the end-of-run
work, on a throw-away copy of the state, and fit the schedule to what is left of the budget.

Only the first plan comes from here; the loop then re-plans from its own measured pace
(:func:`resnetlab.train.budget.replan_for_budget`), so this needs to be roughly right, not
exact. The measured steps change nothing: weights, optimizer, EMA, warm-up and every RNG
are put back.
"""

from __future__ import annotations

import copy
import statistics
from typing import TYPE_CHECKING

from resnetlab.train import budget as budget_mod
from resnetlab.train.checkpoint import rng_state, set_rng_state
from resnetlab.train.optim import build_optimizer
from resnetlab.train.pace import now
from resnetlab.train.schedule import ErrorWarmup, weighted_depth
from resnetlab.train.timer import StepTimer

if TYPE_CHECKING:
    from resnetlab.train.trainer import Trainer

MAX_STEPS = 20


def calibrate(trainer: Trainer, budget_s: float, cap_steps: int = 0) -> budget_mod.Plan:
    """Measure ``trainer``'s speed and return the plan that fills ``budget_s``."""
    from resnetlab.train.plots import plot_curves  # imported here: its import is timed too

    trainer.fit_to(10 * trainer.loader_len)  # provisional: the real length is not known yet
    snapshot = copy.deepcopy(trainer.model.state_dict())
    rng = rng_state()
    optimizer = trainer.optimizer
    trainer.optimizer = build_optimizer(trainer.model, trainer.recipe, trainer.lr_scales)
    trainer.plan = budget_mod.Plan(10**9, trainer.loader_len, "budget")
    limit = max(0.2, 0.02 * budget_s)
    times: list[float] = []
    timer = StepTimer(trainer.where.device)  # the step does not wait for the device; this does
    epoch = 0
    while len(times) < 3 or (len(times) < MAX_STEPS and sum(times) < limit):
        for x, y in trainer.loader.iter_from(epoch, 0):
            seconds = timer.time(lambda x=x, y=y, epoch=epoch: trainer.train_step(x, y, epoch))
            # The slowest rank's time: every rank must stop calibrating at the same step.
            times.append(trainer.dist.maximum(seconds))
            if len(times) >= MAX_STEPS or (len(times) >= 3 and sum(times[2:]) >= limit):
                break
        epoch += 1
    measured = times[2:] if len(times) > 3 else times
    # The median: one step slowed by the scheduler or an allocation must not shrink the whole
    # plan; the loop's re-planning follows the real mean pace from there on.
    step_s = statistics.median(measured)
    bundle = trainer.bundle
    sample = bundle.test.subset(slice(0, 200))
    t = now()
    trainer.evaluate_split(sample)
    per_image = (now() - t) / max(1, len(sample))
    pace = trainer.pace
    pace.record_eval(per_image * trainer.eval_images, trainer.eval_images, len(bundle.test),
                     trainer.fitted.tta_flip)
    trainer.save("calibration.pt").unlink(missing_ok=True)  # times a checkpoint (pace.save_s)
    if trainer.dist.is_main:
        t = now()
        plot_curves([{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5}],
                    trainer.ckpt_dir / "calibration.png")
        pace.plot_s = now() - t
        (trainer.ckpt_dir / "calibration.png").unlink()
    # Put everything back: the measured steps must not change the run.
    trainer.model.load_state_dict(snapshot)
    trainer.optimizer = optimizer
    trainer.warmup = ErrorWarmup.for_recipe(trainer.recipe, weighted_depth(trainer.model))
    trainer.fitted = trainer.ema = None  # train() fits the planned length from fresh weights
    trainer.first_loss = None
    set_rng_state(rng)
    # Rank 0's measurements decide, so that every rank follows one plan.
    used, step_s, eval_s, final_s = trainer.dist.broadcast(
        (pace.used(), step_s, pace.eval_s, pace.final_seconds()))
    return budget_mod.plan_for_budget(budget_s, used, step_s, eval_s, final_s,
                                      trainer.loader_len, cap_steps)
