"""The training loop: one :func:`train` for CPU and CUDA, resumable bit for bit.

Everything the next step depends on (weights, optimizer and EMA state, the step counter, the
warm-up switch, the per-epoch accumulators, every RNG) is in the checkpoint, and the data
order and augmentation are functions of ``(seed, epoch, batch)``. So a CPU run killed at any
moment and resumed from its last checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.errors import CheckpointError, ConfigError, ResnetlabError
from resnetlab.train import budget as budget_mod
from resnetlab.train.artifacts import finish_run
from resnetlab.train.checkpoint import (
    load_checkpoint,
    remove_stale_temp_files,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from resnetlab.train.device import placement, seed_everything, set_deterministic
from resnetlab.train.distributed import (
    SINGLE,
    Dist,
    NullLog,
    launch_settings,
    restart_action,
    setup,
)
from resnetlab.train.ema import ModelEma
from resnetlab.train.evaluate import normalized_batches, predict_logits
from resnetlab.train.metrics import MetricsLog
from resnetlab.train.optim import build_optimizer, set_lr
from resnetlab.train.progress import Progress
from resnetlab.train.recipes import Recipe, resolve_recipe
from resnetlab.train.rundir import (
    Run,
    default_run_dir,
    prepare_new_run_dir,
    read_config,
    run_config,
    write_config,
)
from resnetlab.train.schedule import ErrorWarmup, lr_at, weighted_depth

CHECKPOINT_VERSION = 1
EVAL_BATCH = 500


class TrainingDiverged(ResnetlabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3


class _Trainer:
    """State and steps of one run (see :func:`train` for the arguments)."""

    def __init__(self, model: nn.Module, bundle, recipe: Recipe, run_dir: Path, *, seed: int,
                 where, checkpoint_steps: int, checkpoint_seconds: float, quiet: bool,
                 dist: Dist = SINGLE, sync_bn: bool = False) -> None:
        from resnetlab.data import Augment, InMemoryLoader

        self.recipe, self.run_dir, self.bundle, self.where = recipe, run_dir, bundle, where
        self.seed = seed
        self.ckpt_dir = run_dir / "checkpoints"
        self.checkpoint_steps, self.checkpoint_seconds = checkpoint_steps, checkpoint_seconds
        self.quiet, self.dist = quiet, dist
        self.model = model.to(where.device, memory_format=where.memory_format)
        # self.net is the training forward (DDP under torchrun); self.model holds the weights.
        self.model, self.net = dist.prepare(self.model, sync_bn)
        if where.compile:
            # Only the training forward is compiled; self.model keeps the plain module, so
            # checkpoints, EMA and evaluation see the usual parameter names.
            from resnetlab.hardware import require_compiler

            require_compiler(where.device)
            self.net = torch.compile(self.net)
        self.loader = InMemoryLoader(
            bundle.train, dist.local_batch_size(recipe.batch_size), shuffle=True,
            drop_last=True, seed=seed, device=where.device, rank=dist.rank,
            world_size=dist.world_size, augment=Augment(pad=recipe.pad, flip=recipe.flip,
                                                        cutout=recipe.cutout))
        if len(self.loader) == 0:
            raise ConfigError(
                f"batch size {recipe.batch_size} is larger than the {len(bundle.train)} training "
                "images; lower --batch-size"
            )
        self.optimizer = build_optimizer(self.model, recipe)
        self.ema = ModelEma(self.model, recipe.ema) if recipe.ema > 0 else None
        self.warmup = ErrorWarmup.for_recipe(recipe, weighted_depth(self.model))
        self.step = 0
        self.plan: budget_mod.Plan | None = None
        self.counters = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        self.elapsed = 0.0  # training + evaluation seconds, summed over resumes
        self.history: list[dict] = []
        self.best: dict[str, Any] = {"metric": None, "value": None}

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
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("recipe") != self.recipe.to_dict():
            raise CheckpointError(
                "the checkpoint was written with a different recipe than the one given; resume "
                "with the run's own settings ('resnetlab train --resume RUN_DIR')"
            )
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
        self.plan = budget_mod.Plan.from_dict(state["plan"])
        self.warmup.load_state_dict(state["warmup"])
        self.counters = dict(state["counters"])
        self.elapsed = float(state["elapsed"])
        self.history = list(state["history"])
        self.best = dict(state["best"])
        set_rng_state(state["rng"])

    @property
    def loader_len(self) -> int:
        return len(self.loader)

    def save(self, name: str = "last.pt") -> Path:
        path = self.ckpt_dir / name
        if self.dist.is_main:
            save_checkpoint(path, self.state_dict())
        return path

    # ---------------------------------------------------------------- steps
    def train_step(self, x: torch.Tensor, y: torch.Tensor,
                   epoch: int) -> tuple[float, int, int]:
        """One optimizer step; returns ``(loss, number correct, images)`` of the global batch."""
        total = self.plan.total_steps
        lr = lr_at(self.recipe, self.step, total, self.warmup)
        set_lr(self.optimizer, lr)
        x = x.contiguous(memory_format=self.where.memory_format)
        with self.where.autocast():
            logits = self.net(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.recipe.label_smoothing)
        correct = int((logits.detach().argmax(dim=1) == y).sum())
        loss_value, correct, count = self.dist.batch_stats(loss.detach(), correct, y.shape[0])
        if not math.isfinite(loss_value):
            raise TrainingDiverged(
                f"loss became {loss_value} at epoch {epoch + 1}, step {self.step + 1} "
                f"(lr {lr:.4g}); the last good checkpoint {self.ckpt_dir / 'last.pt'} is kept - "
                "lower the learning rate (--set lr=...) or use --precision fp32 and start again"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.warmup.update(count - correct, count)
        return loss_value, correct, count

    def evaluate_split(self, ds, tta: bool = False):
        part = self.dist.shard(ds)  # each rank evaluates its part; the metrics are reduced
        batches = normalized_batches(part.images, EVAL_BATCH, ds.mean, ds.std, self.where)
        logits = predict_logits(self.eval_model, batches, self.where, tta_flip=tta)
        return self.dist.evaluation(logits, part.labels, ds.classes, tta=tta)

    def calibrate(self, budget_s: float, started: float) -> budget_mod.Plan:
        """Time a few steps on a throw-away copy of the state, then fit the plan to the budget."""
        snapshot = copy.deepcopy(self.model.state_dict())
        rng = rng_state()
        optimizer = self.optimizer
        self.optimizer = build_optimizer(self.model, self.recipe)
        self.plan = budget_mod.Plan(10**9, self.loader_len, "budget")
        limit = max(1.0, 0.02 * budget_s)
        times: list[float] = []
        epoch = 0
        while len(times) < 3 or (len(times) < 20 and sum(times) < limit):
            for x, y in self.loader.iter_from(epoch, 0):
                t = time.perf_counter()
                self.train_step(x, y, epoch)
                # The slowest rank's time: every rank must stop calibrating at the same step.
                times.append(self.dist.maximum(time.perf_counter() - t))
                if len(times) >= 20 or (len(times) >= 3 and sum(times[2:]) >= limit):
                    break
            epoch += 1
        measured = times[2:] if len(times) > 3 else times
        # The median: one step slowed by the scheduler or an allocation must not shrink the
        # whole plan (SAFETY in budget.py covers the drift of the typical step).
        step_s = statistics.median(measured)
        sample = self.bundle.test.subset(slice(0, EVAL_BATCH))
        t = time.perf_counter()
        self.evaluate_split(sample)
        per_image = (time.perf_counter() - t) / max(1, len(sample))
        eval_images = len(self.bundle.test) + (len(self.bundle.val) if self.bundle.val else 0)
        t = time.perf_counter()
        if self.dist.is_main:
            save_checkpoint(self.ckpt_dir / "calibration.pt", self.state_dict())
            (self.ckpt_dir / "calibration.pt").unlink()
        eval_s = per_image * eval_images + (time.perf_counter() - t)
        final_s = per_image * len(self.bundle.test) * (2 if self.recipe.tta_flip else 1) + 3.0
        # Put everything back: the measured steps must not change the run.
        self.model.load_state_dict(snapshot)
        self.optimizer = optimizer
        self.warmup = ErrorWarmup.for_recipe(self.recipe, weighted_depth(self.model))
        if self.ema is not None:
            self.ema = ModelEma(self.model, self.recipe.ema)
        set_rng_state(rng)
        # Rank 0's measurements decide, so that every rank follows one plan.
        measured = self.dist.broadcast((time.perf_counter() - started, step_s, eval_s, final_s))
        return budget_mod.plan_for_budget(budget_s, *measured, self.loader_len)

    # ---------------------------------------------------------------- loop
    def run(self, progress: Progress, log: MetricsLog) -> None:
        spe, total = self.loader_len, self.plan.total_steps
        last_save = time.perf_counter()
        while self.step < total:
            epoch, start = divmod(self.step, spe)
            for x, y in self.loader.iter_from(epoch, start):
                t = time.perf_counter()
                loss, correct, count = self.train_step(x, y, epoch)
                dt = time.perf_counter() - t
                self.step += 1
                c = self.counters
                c["loss_sum"] += loss * count
                c["correct"] += correct
                c["seen"] += count
                c["seconds"] += dt
                self.elapsed += dt
                progress.update(self.step, epoch, c)
                if self.step == total or self.step % spe == 0:
                    break
                due_steps = self.checkpoint_steps and self.step % self.checkpoint_steps == 0
                due_time = (self.checkpoint_seconds
                            and time.perf_counter() - last_save >= self.checkpoint_seconds)
                if due_steps or due_time:
                    self.save()
                    last_save = time.perf_counter()
            self.end_epoch(epoch, progress, log)
            last_save = time.perf_counter()

    def end_epoch(self, epoch: int, progress: Progress, log: MetricsLog) -> None:
        t = time.perf_counter()
        c = self.counters
        row: dict[str, Any] = {
            "epoch": epoch + 1, "step": self.step,
            "lr": lr_at(self.recipe, self.step - 1, self.plan.total_steps, self.warmup),
            "train_loss": c["loss_sum"] / max(1, c["seen"]),
            "train_acc": c["correct"] / max(1, c["seen"]),
            "epoch_seconds": c["seconds"],
            "images_per_second": c["seen"] / c["seconds"] if c["seconds"] else None,
        }
        for split in ("val", "test"):
            ds = getattr(self.bundle, split)
            if ds is not None:
                ev = self.evaluate_split(ds)
                row[f"{split}_loss"], row[f"{split}_acc"] = ev.loss, ev.top1
        self.elapsed += time.perf_counter() - t
        row["elapsed_seconds"] = self.elapsed
        self.history.append(row)
        self.counters = {"loss_sum": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
        metric = "val_acc" if self.bundle.val is not None else "test_acc"
        improved = self.best["value"] is None or row[metric] > self.best["value"]
        if improved:
            self.best = {"metric": metric, "value": row[metric], "epoch": epoch + 1}
        self.save()
        if improved and self.dist.is_main:
            save_checkpoint(self.ckpt_dir / "best.pt", {
                "model": self.eval_model.state_dict(), "epoch": epoch + 1, "step": self.step,
                "metric": metric, "value": row[metric], "recipe": self.recipe.to_dict()})
        log.append(row)
        progress.epoch_done(row, self.plan.epochs)


def train(model: nn.Module | str, bundle, recipe: str | Recipe = "he2016",
          out_dir: str | Path | None = None, *, overrides: dict[str, Any] | None = None,
          epochs: int | None = None, batch_size: int | None = None,
          time_budget: float | None = None, device: str | torch.device | None = None,
          precision: str | None = None, channels_last: bool | None = None,
          compile: bool = False, seed: int = 0,
          deterministic: bool = False, overwrite: bool = False, resume: bool = False,
          checkpoint_steps: int = 0, checkpoint_seconds: float = 60.0, quiet: bool = False,
          data_spec: dict[str, Any] | None = None, sync_bn: bool | None = None,
          resume_if_exists: bool = False) -> Run:
    """Train ``model`` on ``bundle`` (a :class:`resnetlab.data.DataBundle`) with ``recipe``.

    ``model`` is a module or a registered name (built for the bundle's classes and channels).
    The run directory gets ``config.json``, ``metrics.csv``, TensorBoard events,
    ``checkpoints/last.pt`` + ``best.pt``, ``model.safetensors`` + ``model.json`` and
    ``curves.png``; an existing non-empty one is refused unless ``overwrite``, or continued
    from its last checkpoint with ``resume=True``. ``time_budget`` (seconds, counted from this
    call) replaces the recipe's length with as many steps as fit; given together with
    ``epochs``, the run takes ``epochs`` or as many steps as fit, whichever is fewer. Raises
    :class:`TrainingDiverged` when the loss stops being finite.

    Under ``torchrun`` every process runs this same call (see docs/distributed.md): the
    recipe's batch is the global batch, split over the processes; ``sync_bn`` synchronises
    BatchNorm statistics across them (default: the run's setting when resuming, else off);
    only rank 0 prints and writes. ``resume_if_exists`` continues ``out_dir`` when it has a
    checkpoint and starts it otherwise; a torchrun restart does so by itself.
    """
    started = time.perf_counter()
    recipe = resolve_recipe(recipe, overrides, epochs, batch_size)
    dist = setup(device)
    dist.local_batch_size(recipe.batch_size)  # fail before any file is touched
    if time_budget is not None and time_budget <= 0:
        raise ConfigError(f"--time-budget must be > 0 seconds, got {time_budget:g}")
    if time_budget is None and not (recipe.epochs or recipe.iterations):
        budget_mod.plan_from_recipe(recipe, 1)  # raises the "no length" error
    where = placement(dist.pick_device(device), precision, channels_last, compile)
    set_deterministic(deterministic)
    seed_everything(seed)
    if isinstance(model, str):
        from resnetlab.models import create_model

        model = create_model(model, num_classes=bundle.num_classes, in_chans=bundle.input_size[0])
    name = getattr(model, "variant_name", None) or type(model).__name__.lower()
    if not resume:
        action = dist.on_main(restart_action, out_dir, resume_if_exists)
        resume, overwrite = action == "resume", overwrite or action == "replace"
    if resume:
        if out_dir is None:
            raise ConfigError("resume=True needs out_dir, the run directory to continue")
        run_dir = Path(out_dir)
        if not dist.on_main((run_dir / "checkpoints" / "last.pt").is_file):
            raise CheckpointError(
                f"cannot resume: {run_dir} has no checkpoints/last.pt; start a new run instead"
            )
    else:
        run_dir = (Path(out_dir) if out_dir is not None
                   else dist.on_main(default_run_dir, name, bundle.name))
        dist.on_main(prepare_new_run_dir, run_dir, overwrite)
    if sync_bn is None:
        sync_bn = (resume and dist.enabled
                   and bool(dist.on_main(read_config, run_dir).get("sync_bn", False)))
    trainer = _Trainer(model, bundle, recipe, run_dir, seed=seed, where=where,
                       checkpoint_steps=checkpoint_steps,
                       checkpoint_seconds=checkpoint_seconds, quiet=quiet, dist=dist,
                       sync_bn=sync_bn)
    if resume:
        if dist.is_main:
            remove_stale_temp_files(trainer.ckpt_dir)
        # Rank 0 reads and broadcasts it (CPU tensors), so other nodes need no shared disk.
        trainer.load_state_dict(dist.on_main(load_checkpoint, trainer.ckpt_dir / "last.pt",
                                             "cpu" if dist.enabled else where.device))
    else:
        dist.on_main(write_config, run_dir, run_config(
            model, bundle, recipe, where, data_spec=data_spec, seed=seed,
            deterministic=deterministic, time_budget=time_budget,
            checkpoint_steps=checkpoint_steps, checkpoint_seconds=checkpoint_seconds,
            threads=torch.get_num_threads(), **launch_settings(dist, sync_bn)))
        if dist.is_main:
            trainer.ckpt_dir.mkdir(parents=True, exist_ok=True)
        if time_budget is not None:
            trainer.plan = trainer.calibrate(time_budget, started)
            fixed = budget_mod.plan_from_recipe(recipe, trainer.loader_len)
            if epochs is not None and fixed.total_steps <= trainer.plan.total_steps:
                trainer.plan = fixed  # explicit epochs + budget: whichever is shorter
        else:
            trainer.plan = budget_mod.plan_from_recipe(recipe, trainer.loader_len)
        trainer.save()  # step 0: a run killed from here on can be resumed
    log = MetricsLog(run_dir, trainer.history) if dist.is_main else NullLog()
    progress = Progress(trainer.plan.total_steps, trainer.step, recipe.batch_size,
                        quiet=quiet or not dist.is_main)
    try:
        trainer.run(progress, log)
        metrics = finish_run(trainer, name, data_spec or {"name": bundle.name})
    finally:
        progress.close()
        log.close()
    return Run(run_dir=run_dir, final=run_dir / "model.safetensors",
               best=trainer.ckpt_dir / "best.pt" if (trainer.ckpt_dir / "best.pt").is_file()
               else None, last=trainer.ckpt_dir / "last.pt", metrics=metrics,
               history=trainer.history)
