"""Continue a run from its directory alone: ``config.json`` rebuilds the model and the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from resnetlab.data import load
from resnetlab.errors import CheckpointError, DataError
from resnetlab.models import create_model
from resnetlab.train.loop import train
from resnetlab.train.recipes import Recipe
from resnetlab.train.rundir import Run, read_config


def val_size_arg(value: float) -> int | float:
    """The recipe's ``val_size`` as :func:`resnetlab.data.load` wants it (count or fraction)."""
    return int(value) if value >= 1 or value == 0 else float(value)


def load_bundle(data_spec: dict[str, Any], recipe: Recipe, seed: int,
                data_dir: str | Path | None = None):
    """Load the data a run trains on from its recorded source (``name``, ``root``,
    ``image_size``, ``val_size``, ``seed``, ``val_dir``, ``strict``; see
    :attr:`resnetlab.data.DataBundle.source`). ``data_dir`` replaces the recorded root (data
    moved since). Older records without ``val_size``/``seed`` take them from the recipe and
    ``seed``."""
    root = str(Path(data_dir).expanduser().resolve()) if data_dir else data_spec.get("root")
    size = data_spec.get("image_size") or recipe.image_size or None
    if isinstance(size, list):
        size = tuple(size)
    val_size = data_spec["val_size"] if "val_size" in data_spec else val_size_arg(recipe.val_size)
    if root and not Path(root).exists():
        raise DataError(
            f"data directory {root} does not exist; pass the folder that holds the "
            f"{data_spec['name']} data with --data-dir DIR (data_dir=DIR in Python; for a "
            "resumed run, the data's new place)"
        )
    return load(data_spec["name"], root, val_size=val_size, image_size=size,
                seed=int(data_spec.get("seed", seed)), val_dir=data_spec.get("val_dir"),
                strict=bool(data_spec.get("strict", False)))


def resume(run_dir: str | Path, *, quiet: bool = False, device: str | None = None,
           threads: int | None = None, data_dir: str | Path | None = None,
           epochs: int | None = None, more_epochs: int | None = None) -> Run:
    """Finish the run in ``run_dir`` from ``checkpoints/last.pt`` with its own settings.

    Everything comes from the run directory, the data's source included; ``data_dir``
    replaces the recorded data directory. ``epochs`` (new total) or ``more_epochs`` lengthen
    the run (a finished one gets a new warm-up and decay phase); a finished run resumed without
    them is left untouched and returned with ``already_finished=True``. The run's own CPU
    thread count is used unless ``threads`` is given: on CPU the reduction order, hence the
    last bits of the weights, can depend on it.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if not (run_dir / "checkpoints" / "last.pt").is_file():
        raise CheckpointError(
            f"cannot resume: {run_dir} has no checkpoints/last.pt (it was stopped before its "
            "first checkpoint); start it again with --overwrite"
        )
    spec = config.get("model") or {}
    if not spec.get("name"):
        raise CheckpointError(
            f"cannot resume {run_dir} from the command line: its model is not a registered "
            "one; call resnetlab.train(model, bundle, out_dir=..., resume=True) in Python"
        )
    if threads or config.get("threads"):
        torch.set_num_threads(int(threads or config["threads"]))
    recipe = Recipe.from_dict(config["recipe"])
    seed = int(config.get("seed", 0))
    bundle = load_bundle(config["data"], recipe, seed, data_dir)
    model = create_model(spec["name"], **spec.get("kwargs", {}))
    return train(
        model, bundle, recipe, run_dir, resume=True, seed=seed,
        device=device or config.get("device"), precision=config.get("precision"),
        channels_last=config.get("channels_last"), compile=bool(config.get("compile", False)),
        deterministic=bool(config.get("deterministic", False)),
        checkpoint_steps=int(config.get("checkpoint_steps", 0)),
        checkpoint_seconds=float(config.get("checkpoint_seconds", 60.0)),
        quiet=quiet, data_spec=config["data"], total_epochs=epochs, more_epochs=more_epochs,
    )
