"""Lengthening a resumed run, and reading back one that has already finished.

A finished run asked for more epochs gets a new schedule segment (warm-up and decay again,
fitted to the added length: a warm restart, Loshchilov & Hutter 2017, arXiv:1608.03983); an
unfinished one stretches the rest of its schedule to the new end. A finished run resumed
without more epochs is read back and nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resnetlab.errors import ConfigError
from resnetlab.models.hub.format import META, WEIGHTS, read_meta
from resnetlab.train.rundir import Run

if TYPE_CHECKING:
    from resnetlab.train.trainer import Trainer


def extension(resume: bool, epochs: int | None, more: int | None) -> tuple[str, int] | None:
    """``("to", N)`` / ``("more", K)`` for a resumed run asked to be longer, else None."""
    if more is not None:
        if not resume:
            raise ConfigError("--more-epochs lengthens an existing run: use it with --resume")
        if epochs is not None:
            raise ConfigError("give --epochs N (new total) or --more-epochs K, not both")
        if more < 1:
            raise ConfigError(f"--more-epochs must be >= 1, got {more}")
        return ("more", int(more))
    if resume and epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {epochs}")
        return ("to", int(epochs))
    return None


def lengthen(trainer: Trainer, how: str, epochs: int) -> None:
    """Make a resumed run longer: a finished one gets a new schedule segment (warm-up and
    decay again, fitted to the added length), an unfinished one stretches what is left."""
    spe, step, plan = trainer.loader_len, trainer.step, trainer.plan
    target = step + epochs * spe if how == "more" else epochs * spe
    if target <= step:
        done = step / spe
        raise ConfigError(
            f"the run has already trained {done:g} epochs; ask for more (--epochs N with "
            f"N > {done:g}, or --more-epochs K)"
        )
    restart = trainer.finished
    plan.lengthen(step, target, new_segment=restart)
    if restart:
        trainer.fit_to(target - step)


def is_complete(trainer: Trainer) -> bool:
    """Every step trained *and* the model exported: a run killed during its final export has
    run all its steps but must still be finished."""
    run_dir = trainer.run_dir
    return trainer.finished and (run_dir / META).is_file() and (run_dir / WEIGHTS).is_file()


def already_finished(trainer: Trainer) -> Run:
    """The result of a complete run, read back without writing anything."""
    metrics: dict[str, Any] = dict(read_meta(trainer.run_dir / META).get("metrics") or {})
    run = result(trainer, metrics)
    run.already_finished = True
    return run


def result(trainer: Trainer, metrics: dict[str, Any]) -> Run:
    best = trainer.ckpt_dir / "best.pt"
    return Run(run_dir=trainer.run_dir, final=trainer.run_dir / "model.safetensors",
               best=best if best.is_file() else None, last=trainer.ckpt_dir / "last.pt",
               metrics=metrics, history=trainer.history)
