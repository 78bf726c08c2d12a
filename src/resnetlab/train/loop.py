"""The training loop's entry point: one :func:`train` for CPU and CUDA, resumable bit for bit.

:func:`train` resolves the recipe and the run directory, builds a
:class:`~resnetlab.train.trainer.Trainer`, plans the length (recipe, epochs or a re-planned
time budget), runs it and finishes the run (evaluation, export, plots).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.files import DiskError, remove_stale_temp_files
from resnetlab.hardware import placement, seed_everything, set_deterministic
from resnetlab.models import create_model
from resnetlab.train import budget as budget_mod
from resnetlab.train.calibrate import calibrate
from resnetlab.train.checkpoint import load_checkpoint
from resnetlab.train.defaults import resolve_for_data
from resnetlab.train.distributed import NullLog, launch_settings, restart_action, setup
from resnetlab.train.finish import finish_run
from resnetlab.train.fit import fit_batch_size
from resnetlab.train.lengthen import (
    already_finished,
    extension,
    is_complete,
    lengthen,
    result,
)
from resnetlab.train.lock import RunLock
from resnetlab.train.metrics import MetricsLog
from resnetlab.train.pace import now
from resnetlab.train.progress import Progress
from resnetlab.train.recipes import Recipe
from resnetlab.train.rundir import (
    Run,
    default_run_dir,
    prepare_new_run_dir,
    read_config,
    removed_on_failure,
    run_config,
    stopped_by_disk,
    write_config,
)
from resnetlab.train.trainer import Trainer


def train(model: nn.Module | str, bundle, recipe: str | Recipe | None = None,
          out_dir: str | Path | None = None, *, overrides: dict[str, Any] | None = None,
          epochs: int | None = None, batch_size: int | None = None,
          time_budget: float | None = None, device: str | torch.device | None = None,
          precision: str | None = None, channels_last: bool | None = None,
          compile: bool = False, seed: int = 0,
          deterministic: bool = False, overwrite: bool = False, resume: bool = False,
          more_epochs: int | None = None, total_epochs: int | None = None,
          checkpoint_steps: int = 0, checkpoint_seconds: float = 60.0, quiet: bool = False,
          data_spec: dict[str, Any] | None = None, sync_bn: bool | None = None,
          resume_if_exists: bool = False, lr_scales: dict[str, float] | None = None) -> Run:
    """Train ``model`` on ``bundle`` (a :class:`resnetlab.data.DataBundle`) with ``recipe``.

    ``model`` is a module or a registered name (built for the bundle's classes and channels).
    ``recipe`` is a :class:`Recipe` or a name; by default (and for a name) the dataset's
    defaults apply exactly as in ``resnetlab train`` (``fast``, fitted to the run's length).
    The run directory gets ``config.json`` (with the data source, so the run resumes from its
    directory alone), ``metrics.csv``, TensorBoard events, ``checkpoints/last.pt`` +
    ``best.pt``, ``model.safetensors`` + ``model.json`` and ``curves.png``; an existing
    non-empty one is refused unless ``overwrite``, or continued from its last checkpoint with
    ``resume=True``. ``time_budget`` (seconds, counted from this call) replaces the recipe's
    length: the schedule is re-fitted to the measured speed as the run goes, so it ends inside
    ``[0.95, 1] x time_budget``; given together with ``epochs``, the run takes ``epochs`` or
    as many steps as fit, whichever is fewer. With ``resume=True``, ``total_epochs`` (a new
    total) or ``more_epochs`` lengthens the run: a finished run gets a new warm-up and decay phase,
    an unfinished one stretches the rest of its schedule; a finished run resumed without them
    changes nothing (``Run.already_finished``). ``lr_scales`` (parameter name -> factor) gives
    parameters their own learning rate, ``lr * factor`` (fine-tuning's discriminative rates).
    Raises :class:`TrainingDiverged` when the loss stops being finite. The run directory is
    held (``RUN_DIR/.lock``, :mod:`resnetlab.train.lock`) for the call: another live run in it
    raises :class:`~resnetlab.train.lock.RunLocked`; a full or read-only disk raises
    :class:`~resnetlab.errors.DiskError` saying what was kept; a start that fails before its
    first checkpoint removes the directory it created.

    Under ``torchrun`` every process runs this same call (see docs/distributed.md): the
    recipe's batch is the global batch, split over the processes; ``sync_bn`` synchronises
    BatchNorm statistics across them (default: the run's setting when resuming, else off);
    only rank 0 prints and writes. ``resume_if_exists`` continues ``out_dir`` when it has a
    checkpoint and starts it otherwise; a torchrun restart does so by itself.
    """
    started = now()
    extend = extension(resume, total_epochs, more_epochs)
    # a resumed run's length is in its checkpoint: no default length is filled in
    recipe, epochs, time_budget = resolve_for_data(bundle.name, recipe, overrides, epochs,
                                                   batch_size, time_budget,
                                                   default_length=not resume)
    dist = setup(device)
    # fail before any file is touched
    dist.local_batch_size(fit_batch_size(recipe, len(bundle.train), dist.world_size))
    if time_budget is not None and time_budget <= 0:
        raise ConfigError(f"--time-budget must be > 0 seconds, got {time_budget:g}")
    if time_budget is None and not (recipe.epochs or recipe.iterations):
        budget_mod.plan_from_recipe(recipe, 1)  # raises the "no length" error
    where = placement(dist.pick_device(device), precision, channels_last, compile)
    set_deterministic(deterministic)
    seed_everything(seed)
    if isinstance(model, str):
        model = create_model(model, num_classes=bundle.num_classes, in_chans=bundle.input_size[0])
    name = getattr(model, "variant_name", None) or type(model).__name__.lower()
    data_spec = data_spec or bundle.source or {"name": bundle.name}
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
    if sync_bn is None:
        sync_bn = (resume and dist.enabled
                   and bool(dist.on_main(read_config, run_dir).get("sync_bn", False)))
    # Built before the run directory is made: whatever it refuses leaves no directory behind.
    trainer = Trainer(model, bundle, recipe, run_dir, seed=seed, where=where,
                      checkpoint_steps=checkpoint_steps,
                      checkpoint_seconds=checkpoint_seconds, quiet=quiet, dist=dist,
                      sync_bn=sync_bn, started=started, lr_scales=lr_scales)
    lock = RunLock(run_dir, held=dist.is_main)  # rank 0 holds it for the whole job
    try:
        if resume:
            dist.on_main(lock.acquire)
        else:
            # A start that fails before its step-0 checkpoint removes the directory it made
            # (a pre-existing one is never removed).
            created = dist.on_main(lambda: not run_dir.exists())
            with removed_on_failure(run_dir, created and dist.is_main):
                dist.on_main(prepare_new_run_dir, run_dir, overwrite)  # refuses a held one
                dist.on_main(lock.acquire)
                _start(trainer, data_spec, where, deterministic, time_budget, epochs)
        return _locked_run(trainer, name, data_spec, resume, extend, where)
    finally:
        lock.release()


def _locked_run(trainer: Trainer, name: str, data_spec: dict[str, Any], resume: bool,
                extend: tuple[str, int] | None, where) -> Run:
    """The part of :func:`train` that runs with the run directory locked and started."""
    dist, run_dir = trainer.dist, trainer.run_dir
    if resume:
        # Rank 0 reads and broadcasts it (CPU tensors), so other nodes need no shared disk.
        trainer.load_state_dict(dist.on_main(load_checkpoint, trainer.ckpt_dir / "last.pt",
                                             "cpu" if dist.enabled else where.device))
        if extend is None and is_complete(trainer):
            return already_finished(trainer)
        if dist.is_main:
            remove_stale_temp_files(trainer.ckpt_dir)
            remove_stale_temp_files(run_dir)  # an export killed before its rename
        if extend is not None:
            lengthen(trainer, *extend)
    log = MetricsLog(run_dir, trainer.history) if dist.is_main else NullLog()
    progress = Progress(trainer.plan.total_steps, trainer.step, trainer.batch_size,
                        quiet=trainer.quiet or not dist.is_main)
    try:
        trainer.run(progress, log)
        metrics = finish_run(trainer, name, data_spec)
    except DiskError as exc:
        raise stopped_by_disk(exc, trainer) from None
    finally:
        progress.close()
        log.close()
    return result(trainer, metrics)


def _start(trainer: Trainer, data_spec: dict[str, Any], where, deterministic: bool,
           time_budget: float | None, epochs: int | None) -> None:
    """A new run's first files: ``config.json``, the plan and the step-0 checkpoint."""
    dist, recipe = trainer.dist, trainer.recipe
    dist.on_main(write_config, trainer.run_dir, run_config(
        trainer.model, trainer.bundle, recipe, where, data_spec=data_spec, seed=trainer.seed,
        deterministic=deterministic, time_budget=time_budget,
        checkpoint_steps=trainer.checkpoint_steps,
        checkpoint_seconds=trainer.checkpoint_seconds,
        threads=torch.get_num_threads(), **launch_settings(dist, trainer.sync_bn)))
    if dist.is_main:
        trainer.ckpt_dir.mkdir(parents=True, exist_ok=True)
    fixed = budget_mod.plan_from_recipe(recipe, trainer.loader_len) if (
        time_budget is None or epochs is not None) else None
    if time_budget is not None:
        # explicit epochs + budget: whichever is shorter
        trainer.plan = calibrate(trainer, time_budget, fixed.total_steps if fixed else 0)
    else:
        trainer.plan = fixed
    trainer.fit_to(trainer.plan.total_steps)
    trainer.save()  # step 0: a run killed from here on can be resumed
