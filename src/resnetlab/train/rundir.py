"""Run directories: naming, the never-overwrite rule, ``config.json`` and the :class:`Run`."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.files import DiskError, atomic_write_bytes, disk_error
from resnetlab.models.hub.format import model_spec
from resnetlab.train.lock import RunLocked, check_free

CONFIG = "config.json"
# Files whose presence shows a directory was made by resnetlab (and may be replaced).
_RUN_MARKERS = ("config.json", "checkpoints", "metrics.csv", "model.json")


@dataclass
class Run:
    """The result of :func:`resnetlab.train.train`: where everything is and how it did.

    ``final`` is the exported ``model.safetensors`` (EMA weights when the recipe uses EMA),
    ``best`` the checkpoint of the epoch with the best validation (or, without a validation
    split, test) accuracy, ``metrics`` the final evaluation.
    """

    run_dir: Path
    final: Path
    best: Path | None
    last: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    already_finished: bool = False  # resumed without lengthening: nothing was trained or written

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics.get("test_top1")


def default_run_dir(model_name: str, data_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<model>-<data>-<YYYYmmdd-HHMMSS>`` (a suffix is added if that exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{model_name}-{data_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def prepare_new_run_dir(path: Path, overwrite: bool) -> Path:
    """Create ``path`` for a new run; refuses a non-empty one unless ``overwrite``.

    ``overwrite`` only ever deletes a directory that holds a previous resnetlab run, so a
    mistyped ``--out`` cannot wipe unrelated files.
    """
    path = Path(path)
    check_free(path)  # a live run's directory is refused, --overwrite or not
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} exists and is not a directory; choose another --out")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"run directory {path} already exists and is not empty; pass --overwrite to "
                f"replace it, --resume {path} to continue it, or choose another --out"
            )
        if not any((path / m).exists() for m in _RUN_MARKERS):
            raise ConfigError(
                f"{path} is not empty and does not look like a resnetlab run, so --overwrite "
                "will not delete it; choose another --out"
            )
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only or full parent: one line, before any work
        raise disk_error(path, exc, "nothing was written; choose another --out") from None
    return path


@contextlib.contextmanager
def removed_on_failure(path: Path, created: bool) -> Iterator[None]:
    """Delete ``path`` if the block fails before any checkpoint was written under it and
    ``created`` (this call made the directory): a start that fails before doing any work
    leaves nothing behind. Never on :class:`RunLocked` (the directory is another run's)."""
    try:
        yield
    except RunLocked:
        raise
    except BaseException:
        if created and not any(Path(path).glob("**/checkpoints/last.pt")):
            shutil.rmtree(path, ignore_errors=True)
        raise


def stopped_by_disk(exc: DiskError, trainer) -> DiskError:
    """``exc`` raised mid-run (a checkpoint, the metrics or the export could not be written),
    with what was kept and how to continue, still on one line."""
    run_dir = trainer.run_dir
    command = f"resnetlab train --resume {run_dir}"
    if (run_dir.parent / "finetune.json").is_file():  # a fine-tune's phase directory
        command = f"resnetlab finetune --resume {run_dir.parent}"
    last = trainer.ckpt_dir / "last.pt"
    kept = (f"the last checkpoint {last} (step {trainer.saved_step}) is kept"
            if trainer.saved_step is not None else f"the checkpoint {last} is kept")
    return DiskError(f"{exc}. The run stopped at step {trainer.step}; {kept}: free space, "
                     f"then continue with '{command}'", exc.path, exc.reason, exc.errno)


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write_bytes(Path(run_dir) / CONFIG, (json.dumps(config, indent=2) + "\n").encode())


def read_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` of a run to resume; a missing or unreadable one raises one-line errors."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"cannot resume: {run_dir} is not a directory; pass a run directory")
    path = run_dir / CONFIG
    if not path.is_file():
        raise CheckpointError(
            f"cannot resume: {run_dir} has no {CONFIG}; it is not a resnetlab run directory"
        )
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot resume: {path} is unreadable ({exc})") from None


def run_config(model, bundle, recipe, where, **settings) -> dict[str, Any]:
    """The ``config.json`` of a new run: enough to rebuild model and data and to resume."""
    import platform

    import torch

    data = dict(settings.pop("data_spec") or {"name": bundle.name})
    return {
        "model": model_spec(model), "data": data, "recipe": recipe.to_dict(),
        "device": str(where.device), "precision": where.precision,
        "channels_last": where.channels_last, "compile": where.compile, **settings,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
