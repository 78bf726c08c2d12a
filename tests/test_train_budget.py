"""Time budgets on a virtual clock: the plan follows a machine that slows down or speeds up.

Every time reading of the loop goes through ``resnetlab.train.pace.CLOCK``; here it is a
virtual clock that only moves when a training step or an evaluation "costs" time, so the
tests are exact and do not depend on how busy the machine is (no wall-clock asserts).
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from resnetlab.data import load
from resnetlab.models import create_model
from resnetlab.train import budget as budget_mod
from resnetlab.train import pace
from resnetlab.train.checkpoint import load_checkpoint
from resnetlab.train.loop import train
from resnetlab.train.trainer import Trainer

STEP_S = 0.05  # virtual seconds per training step before the change
EVAL_S = 0.2  # virtual seconds per evaluation pass


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return load("digits", image_size=8)


def tiny(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8, num_classes=10,
                        in_chans=1)


class VirtualMachine:
    """A clock, and a machine whose step time changes by ``factor`` from step ``change_at``."""

    def __init__(self, factor: float, change_at: int) -> None:
        self.t, self.factor, self.change_at = 1000.0, factor, change_at
        self.kill_at: int | None = None
        self.steps = 0

    def clock(self) -> float:
        return self.t

    def install(self, monkeypatch) -> None:
        step, evaluate = Trainer.train_step, Trainer.evaluate_split
        vm = self

        def timed_step(trainer, x, y, epoch):
            vm.steps += 1
            if vm.kill_at is not None and vm.steps == vm.kill_at:
                raise KeyboardInterrupt  # a crash in the middle of the run
            out = step(trainer, x, y, epoch)
            # the run's own step counter: calibration steps and resumed steps cost the same
            vm.t += STEP_S * (vm.factor if trainer.step >= vm.change_at else 1.0)
            return out

        def timed_eval(trainer, ds, tta=False):
            vm.t += EVAL_S * (2 if tta else 1) * len(ds) / 359
            return evaluate(trainer, ds, tta)

        monkeypatch.setattr(pace, "CLOCK", self.clock)
        monkeypatch.setattr(Trainer, "train_step", timed_step)
        monkeypatch.setattr(Trainer, "evaluate_split", timed_eval)


KW = dict(recipe="fast", batch_size=64, quiet=True, checkpoint_seconds=0.0)
BUDGET = 30.0
HALF = int(BUDGET / 2 / (STEP_S + EVAL_S / 22))  # about the step where half the budget is used


@pytest.mark.parametrize("factor", [2.0, 0.5], ids=["2x-slower", "2x-faster"])
def test_budgeted_run_ends_inside_the_budget_when_the_machine_changes_speed(
        tmp_path, digits, monkeypatch, factor):
    vm = VirtualMachine(factor, change_at=HALF)
    vm.install(monkeypatch)
    start = vm.t
    run = train(tiny(), digits, out_dir=tmp_path / "run", time_budget=BUDGET, **KW)
    used = vm.t - start
    assert 0.95 * BUDGET <= used <= BUDGET, used
    plan = load_checkpoint(run.last)["plan"]
    assert plan["replans"] > 0 and plan["total_steps"] == run.metrics["steps"]
    # The planned first length was wrong by the speed change; the re-plans fixed it.
    first = budget_mod.steps_that_fit(BUDGET * budget_mod.TARGET, 0, STEP_S, EVAL_S, 22)
    assert (run.metrics["steps"] < first) if factor > 1 else (run.metrics["steps"] > first)


def test_without_replanning_the_same_run_would_miss_the_budget(tmp_path, digits, monkeypatch):
    """The control: the budget holds because of the re-plans, not by luck."""
    vm = VirtualMachine(2.0, change_at=HALF)
    vm.install(monkeypatch)
    monkeypatch.setattr(budget_mod, "replan_for_budget", lambda *a, **k: None)
    start = vm.t
    train(tiny(), digits, out_dir=tmp_path / "run", time_budget=BUDGET, **KW)
    assert vm.t - start > BUDGET


def test_budgeted_run_resumes_bit_exactly_after_a_crash(tmp_path, digits, monkeypatch):
    vm = VirtualMachine(2.0, change_at=HALF)
    vm.install(monkeypatch)
    a = train(tiny(), digits, out_dir=tmp_path / "a", time_budget=BUDGET, checkpoint_steps=7,
              **KW)
    vm.steps, vm.kill_at = 0, 350
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), digits, out_dir=tmp_path / "b", time_budget=BUDGET, checkpoint_steps=7,
              **KW)
    vm.kill_at = None
    state = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    assert 0 < state["step"] < a.metrics["steps"] and state["plan"]["replans"] > 0
    b = train(tiny(seed=5), digits, out_dir=tmp_path / "b", resume=True, checkpoint_steps=7,
              **KW)
    assert b.metrics["steps"] == a.metrics["steps"]
    wa, wb = load_file(a.final), load_file(b.final)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_plan_keeps_the_learning_rate_continuous_when_retargeted():
    from resnetlab.train.recipes import get_recipe
    from resnetlab.train.schedule import scheduled_lr

    recipe = get_recipe("he2016").__class__(lr=0.4, schedule="linear", warmup_frac=0.2,
                                            milestones=())
    plan = budget_mod.Plan(100, 10, "budget", budget_seconds=10.0)
    before = scheduled_lr(recipe, plan.progress(50), plan.progress(51))
    plan.retarget(50, 200)
    after = scheduled_lr(recipe, plan.progress(50), plan.progress(51))
    assert after == pytest.approx(before, rel=0.02)
    assert plan.progress(200) == 1.0 and plan.progress(50) == pytest.approx(0.5)
