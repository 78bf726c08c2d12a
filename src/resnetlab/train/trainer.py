"""One run's training state and steps: :class:`Trainer` (see :func:`resnetlab.train.train`).

Everything the next step depends on (weights, optimizer and EMA state, the step counter, the
plan and the measured pace, the warm-up switch, the per-epoch accumulators, every RNG) is in
the checkpoint, and the data order and augmentation are functions of ``(seed, epoch, batch)``.
So a CPU run killed at any moment and resumed from its last checkpoint ends with the same
weights as an uninterrupted one.

The steps never wait for the device: each leaves its loss and number correct on the device,
and the loop reads them (:meth:`Trainer.collect`) at *read points* only: every
:data:`LOG_EVERY` steps, at the end of an epoch, before a re-plan or a checkpoint, and at the
end of each he2016 warm-up window. There the NaN check runs, so a diverged run stops within
one log interval and never checkpoints its diverged weights; a checkpoint is always written
right after a read, so its accumulators are plain numbers, as before.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.data import Augment, InMemoryLoader
from resnetlab.errors import CheckpointError, ConfigError, ResnetlabError
from resnetlab.hardware import require_compiler
from resnetlab.train import budget as budget_mod
from resnetlab.train.checkpoint import (
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from resnetlab.train.distributed import (
    SINGLE,
    Dist,
)
from resnetlab.train.ema import ModelEma
from resnetlab.train.evaluate import normalized_batches, predict_logits
from resnetlab.train.fit import fit_batch_size, fit_recipe
from resnetlab.train.metrics import MetricsLog
from resnetlab.train.optim import build_optimizer, set_lr
from resnetlab.train.pace import Pace, now
from resnetlab.train.progress import Progress
from resnetlab.train.recipes import Recipe
from resnetlab.train.schedule import ERROR_WINDOW, ErrorWarmup, lr_at, weighted_depth
from resnetlab.train.step import train_step as run_step
from resnetlab.train.timer import StepTimer

CHECKPOINT_VERSION = 1
EVAL_BATCH = 500
# How often (in steps, at most) a budgeted run re-fits its plan to the measured speed; it also
# re-plans after every evaluation. Each re-plan is arithmetic (plus one broadcast under torchrun).
REPLAN_SPLIT = 4
# Steps between reads of the training statistics (progress, NaN check): on a GPU one wait per
# 20 steps costs nothing measurable, and a diverged run stops within 20 steps.
LOG_EVERY = 20


class TrainingDiverged(ResnetlabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3


@dataclass(frozen=True)
class StepStats:
    """One step's figures, left on the device until the next read point."""

    loss: torch.Tensor  # 0-d, this rank's mean loss of the batch
    correct: torch.Tensor  # 0-d, this rank's number of right top-1 predictions
    count: int  # this rank's images
    step: int  # the step's index (0-based), for the divergence message
    epoch: int
    lr: float


class Trainer:
    """State and steps of one run (see :func:`train` for the arguments)."""

    def __init__(self, model: nn.Module, bundle, recipe: Recipe, run_dir: Path, *, seed: int,
                 where, checkpoint_steps: int, checkpoint_seconds: float, quiet: bool,
                 dist: Dist = SINGLE, sync_bn: bool = False, started: float = 0.0,
                 lr_scales: Mapping[str, float] | None = None) -> None:
        self.recipe, self.run_dir, self.bundle, self.where = recipe, run_dir, bundle, where
        batch_size = fit_batch_size(recipe, len(bundle.train), dist.world_size)
        self.seed = seed
        self.ckpt_dir = run_dir / "checkpoints"
        self.checkpoint_steps, self.checkpoint_seconds = checkpoint_steps, checkpoint_seconds
        self.quiet, self.dist, self.sync_bn = quiet, dist, sync_bn
        self.model = model.to(where.device, memory_format=where.memory_format)
        # self.net is the training forward (DDP under torchrun); self.model holds the weights.
        self.model, self.net = dist.prepare(self.model, sync_bn)
        if where.compile:
            # Only the training forward is compiled; self.model keeps the plain module, so
            # checkpoints, EMA and evaluation see the usual parameter names.
            require_compiler(where.device)
            self.net = torch.compile(self.net)
        self.loader = InMemoryLoader(
            bundle.train, dist.local_batch_size(batch_size), shuffle=True,
            drop_last=True, seed=seed, device=where.device, rank=dist.rank,
            world_size=dist.world_size)
        if len(self.loader) == 0:
            raise ConfigError(
                f"batch size {batch_size} is larger than the {len(bundle.train)} training "
                "images; lower --batch-size"
            )
        self.batch_size = batch_size
        self.lr_scales = dict(lr_scales or {})
        self.optimizer = build_optimizer(self.model, recipe, self.lr_scales)
        self.warmup = ErrorWarmup.for_recipe(recipe, weighted_depth(self.model))
        self.ema: ModelEma | None = None
        self.fitted: Recipe | None = None  # set by fit_to once the length is planned
        self.step = 0
        self.plan: budget_mod.Plan | None = None
        self.pace = Pace(started=started)
        self.counters = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.pending: list[StepStats] = []  # steps not read yet (see collect)
        self.timer = StepTimer(where.device)
        self.elapsed = 0.0  # training + evaluation seconds, summed over resumes
        self.history: list[dict] = []
        self.best: dict[str, Any] = {"metric": None, "value": None}
        self.first_loss: float | None = None
        self.saved_step: int | None = None  # step of the last checkpoint written

    def fit_to(self, total_steps: int) -> None:
        """Fit the recipe to a schedule of ``total_steps`` and set augmentation and EMA to it."""
        image_side = min(self.bundle.input_size[1:])
        self.set_fitted(fit_recipe(self.recipe, total_steps, self.loader_len, image_side,
                                   self.batch_size))

    def set_fitted(self, fitted: Recipe) -> None:
        self.fitted = fitted
        self.loader.augment = Augment(pad=fitted.pad, flip=fitted.flip, cutout=fitted.cutout
                                      ).with_stats(self.bundle.train.mean, self.bundle.train.std)
        if fitted.ema <= 0:
            self.ema = None
        elif self.ema is None:
            self.ema = ModelEma(self.model, fitted.ema)
        else:
            self.ema.decay = fitted.ema

    # ---------------------------------------------------------------- state
    @property
    def eval_model(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.model

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "grad_scaler": None,  # bf16 needs no loss scaling
            "step": self.step,
            "epoch": self.step // self.loader_len,
            "plan": self.plan.to_dict(),
            "warmup": self.warmup.state_dict(),
            "counters": dict(self.counters),
            "elapsed": self.elapsed,
            "history": list(self.history),
            "best": dict(self.best),
            "recipe": self.recipe.to_dict(),
            "fitted": self.fitted.to_dict(),
            "pace": self.pace.state_dict(),
            "first_loss": self.first_loss,
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("recipe") != self.recipe.to_dict():
            raise CheckpointError(
                "the checkpoint was written with a different recipe than the one given; resume "
                "with the run's own settings ('resnetlab train --resume RUN_DIR')"
            )
        self.plan = budget_mod.Plan.from_dict(state["plan"])
        if state.get("fitted"):
            self.set_fitted(Recipe.from_dict(state["fitted"]))
        else:  # a checkpoint from before fitted recipes: fit to its plan
            self.fit_to(self.plan.total_steps - self.plan.segment_start)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise CheckpointError(
                f"checkpoint does not fit this model ({first[:120]}); resume with the model "
                "it was written for"
            ) from None
        self.step = int(state["step"])
        self.saved_step = self.step  # the checkpoint on disk is this one
        self.warmup.load_state_dict(state["warmup"])
        self.counters = dict(state["counters"])
        self.elapsed = float(state["elapsed"])
        self.history = list(state["history"])
        self.best = dict(state["best"])
        self.pace.load_state_dict(state.get("pace"))
        self.first_loss = state.get("first_loss")
        set_rng_state(state["rng"])

    @property
    def loader_len(self) -> int:
        return len(self.loader)

    @property
    def eval_images(self) -> int:
        """Images of one per-epoch evaluation (validation and test splits)."""
        return len(self.bundle.test) + (len(self.bundle.val) if self.bundle.val else 0)

    @property
    def finished(self) -> bool:
        return self.step >= self.plan.total_steps

    def save(self, name: str = "last.pt") -> Path:
        self.collect()  # a checkpoint holds read figures only (the loop has read them already)
        path = self.ckpt_dir / name
        if self.dist.is_main:
            t = now()
            save_checkpoint(path, self.state_dict())
            self.pace.save_s = now() - t
            if name == "last.pt":
                self.saved_step = self.step
        return path

    # ---------------------------------------------------------------- steps
    def train_step(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> StepStats:
        """Optimizer step ``self.step`` of ``epoch`` at its scheduled learning rate (the
        caller advances the counter); its figures stay on the device (see :meth:`collect`)."""
        lr = self.lr_for(self.step)
        set_lr(self.optimizer, lr)
        loss, correct = run_step(self.net, self.optimizer, x, y, where=self.where,
                                 label_smoothing=self.fitted.label_smoothing, ema=self.ema,
                                 weights=self.model)
        return StepStats(loss, correct, int(y.shape[0]), self.step, epoch, lr)

    def step_values(self, stats: list[StepStats]) -> list[tuple[float, int, int]]:
        """``(mean loss, correct, images)`` of each step's global batch: one wait for the
        device (and under torchrun an all-reduce per step)."""
        losses = torch.stack([s.loss for s in stats]).double()  # float32 values, exactly
        correct = torch.stack([s.correct for s in stats]).double()
        rows = torch.stack([losses, correct]).tolist()
        return [self.dist.batch_stats(loss, round(c), s.count)
                for loss, c, s in zip(*rows, stats, strict=True)]

    def collect(self) -> None:
        """Read the steps since the last read point into the counters, the warm-up and the
        pace; raise :class:`TrainingDiverged` if a loss is not finite (nothing is saved)."""
        if not self.pending:
            return
        stats, self.pending = self.pending, []
        seconds = self.timer.elapsed()
        c = self.counters
        for s, (loss, correct, count) in zip(stats, self.step_values(stats), strict=True):
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"loss became {loss} at epoch {s.epoch + 1}, step {s.step + 1} (lr "
                    f"{s.lr:.4g}); the last good checkpoint {self.ckpt_dir / 'last.pt'} is kept "
                    "- lower the learning rate (--set lr=...) or use --precision fp32 and "
                    "start again")
            c["loss_sum"] += loss * count
            c["correct"] += correct
            c["seen"] += count
            self.warmup.update(count - correct, count)
            if self.first_loss is None:
                self.first_loss = loss
        c["seconds"] += seconds
        self.elapsed += seconds
        for _ in stats:
            self.pace.add_step(seconds / len(stats))

    def read_due(self) -> bool:
        """Whether the step just done ends a log interval or a warm-up window (the warm-up
        decides on a window's errors before the next step's learning rate)."""
        window_done = (self.warmup.active
                       and self.warmup.steps + len(self.pending) >= ERROR_WINDOW)
        return self.step % LOG_EVERY == 0 or window_done

    def lr_for(self, step: int) -> float:
        """The learning rate of optimizer step ``step`` under the current plan."""
        plan = self.plan
        return lr_at(self.fitted, plan.progress(step), plan.progress(step + 1), self.warmup)

    def evaluate_split(self, ds, tta: bool = False):
        part = self.dist.shard(ds)  # each rank evaluates its part; the metrics are reduced
        batches = normalized_batches(part.images, EVAL_BATCH, ds.mean, ds.std, self.where)
        logits = predict_logits(self.eval_model, batches, self.where, tta_flip=tta)
        return self.dist.evaluation(logits, part.labels, ds.classes, tta=tta)

    # ---------------------------------------------------------------- loop
    def run(self, progress: Progress, log: MetricsLog) -> None:
        spe = self.loader_len
        replan_every = max(1, spe // REPLAN_SPLIT)
        last_save = now()
        while self.step < self.plan.total_steps:
            epoch, start = divmod(self.step, spe)
            self.timer.restart()
            for x, y in self.loader.iter_from(epoch, start):
                self.pending.append(self.train_step(x, y, epoch))
                self.step += 1
                if self.step >= self.plan.total_steps or self.step % spe == 0:
                    break
                # Read points depend on the step count only, so that every rank of a torchrun
                # job reads (all-reduces) at the same steps.
                replan = self.plan.budget_seconds > 0 and self.step % replan_every == 0
                due_steps = self.checkpoint_steps and self.step % self.checkpoint_steps == 0
                if not (replan or due_steps or self.read_due()):
                    continue
                self.read(progress, epoch)
                # Re-plan before a checkpoint, so that a resumed run starts from this decision.
                if replan:
                    self.replan(progress)
                    if self.step >= self.plan.total_steps:
                        break
                # A time-based checkpoint waits for the next read point.
                due_time = (self.checkpoint_seconds
                            and now() - last_save >= self.checkpoint_seconds)
                if due_steps or due_time:
                    self.save()
                    last_save = now()
                self.timer.restart()  # re-planning and checkpoints are not step time
            self.read(progress, epoch)
            self.end_epoch(epoch, progress, log)
            last_save = now()

    def read(self, progress: Progress, epoch: int) -> None:
        """A read point: :meth:`collect`, then show the figures."""
        self.collect()
        progress.update(self.step, epoch, self.counters)

    def replan(self, progress: Progress) -> None:
        """Re-fit a budgeted plan to the measured pace (rank 0 decides for every rank)."""
        plan = self.plan
        if plan.budget_seconds <= 0:
            return
        if self.dist.is_main:
            pace = self.pace
            budget_mod.replan_for_budget(plan, self.step, pace.used(),
                                         pace.step_seconds(plan.step_seconds),
                                         pace.eval_s, pace.final_seconds())
        self.plan = self.dist.broadcast(plan)
        progress.retarget(self.plan.total_steps)

    def end_epoch(self, epoch: int, progress: Progress, log: MetricsLog) -> None:
        t = now()
        c = self.counters
        row: dict[str, Any] = {
            "epoch": epoch + 1, "step": self.step,
            "lr": self.lr_for(self.step - 1),
            "train_loss": c["loss_sum"] / max(1, c["seen"]),
            "train_acc": c["correct"] / max(1, c["seen"]),
            "epoch_seconds": c["seconds"],
            "images_per_second": c["seen"] / c["seconds"] if c["seconds"] else None,
        }
        if self.plan.eval_each_epoch:
            for split in ("val", "test"):
                ds = getattr(self.bundle, split)
                if ds is not None:
                    ev = self.evaluate_split(ds)
                    row[f"{split}_loss"], row[f"{split}_acc"] = ev.loss, ev.top1
            self.pace.record_eval(now() - t, self.eval_images, len(self.bundle.test),
                                  self.fitted.tta_flip)
        self.elapsed += now() - t
        row["elapsed_seconds"] = self.elapsed
        self.history.append(row)
        self.counters = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        metric = "val_acc" if self.bundle.val is not None else "test_acc"
        improved = row.get(metric) is not None and (
            self.best["value"] is None or row[metric] > self.best["value"])
        if improved:
            self.best = {"metric": metric, "value": row[metric], "epoch": epoch + 1}
        if not self.finished:
            self.replan(progress)  # before the save: a resumed run continues from this decision
        self.save()
        if improved and self.dist.is_main:
            save_checkpoint(self.ckpt_dir / "best.pt", {
                "model": self.eval_model.state_dict(), "epoch": epoch + 1, "step": self.step,
                "metric": metric, "value": row[metric], "recipe": self.recipe.to_dict()})
        log.append(row)
        progress.epoch_done(row, self.plan.epochs)
        if epoch == 0 and self.plan.segment == 0:
            self.warn_if_diverging(row)

    def warn_if_diverging(self, row: dict[str, Any]) -> None:
        """One line when the first epoch's loss ended above its first step's: the usual sign of
        a learning rate too high for the run (the run goes on; the user decides)."""
        first, mean = self.first_loss, row["train_loss"]
        if first is None or not mean > first or not self.dist.is_main:
            return
        peak = self.fitted.lr
        print(f"warning: the training loss rose during the first epoch ({first:.3f} -> "
              f"{mean:.3f}); the peak learning rate {peak:g} is too high for this run - lower "
              f"it, e.g. --lr {peak / 4:g}, or lengthen the warm-up with --set warmup_frac=0.3",
              file=sys.stderr, flush=True)
