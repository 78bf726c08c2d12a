"""The shipped result of a run: ``model.safetensors`` (weights) + ``model.json`` (everything
needed to rebuild, feed and interpret the model without the training code).

Both files are written atomically. :func:`load_trained` accepts a run directory, a
``.safetensors`` file with ``model.json`` beside it, or the ``model.json`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from resnetlab.errors import CheckpointError
from resnetlab.files import atomic_write_bytes

WEIGHTS = "model.safetensors"
META = "model.json"
FORMAT = "resnetlab-model/1"


def export_model(run_dir: Path, model: torch.nn.Module, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``model.safetensors`` and ``model.json`` into ``run_dir``; returns both paths."""
    run_dir = Path(run_dir)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights, meta_path = run_dir / WEIGHTS, run_dir / META
    atomic_write_bytes(weights, save(tensors, metadata={"format": FORMAT}))
    text = json.dumps({"format": FORMAT, **meta}, indent=2) + "\n"
    atomic_write_bytes(meta_path, text.encode())
    return weights, meta_path


def locate(path: str | Path) -> tuple[Path, Path]:
    """``(weights, model.json)`` for a run dir, a weights file or a model.json path."""
    p = Path(path)
    if p.is_dir():
        weights, meta = p / WEIGHTS, p / META
        if not weights.is_file() and (p / "checkpoints" / "last.pt").is_file():
            raise CheckpointError(
                f"{p} has no {WEIGHTS} yet (the run did not finish); finish it with "
                f"'resnetlab train --resume {p}'"
            )
    elif p.name == META:
        weights, meta = p.with_name(WEIGHTS), p
    elif p.is_file():
        weights, meta = p, p.with_name(META)
    else:
        raise CheckpointError(f"{p} does not exist; pass a run directory or a .safetensors file")
    if not weights.is_file():
        raise CheckpointError(f"no weights file {weights}; pass a finished run directory")
    if not meta.is_file():
        raise CheckpointError(
            f"{meta} is missing; weights need the model.json written beside them by "
            "'resnetlab train'"
        )
    return weights, meta


def read_meta(meta_path: Path) -> dict[str, Any]:
    """Parse ``model.json``; unreadable or incomplete files raise :class:`CheckpointError`."""
    try:
        meta = json.loads(Path(meta_path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {meta_path} ({exc}); re-export the model") from None
    missing = [k for k in ("model", "num_classes", "input_size", "mean", "std", "classes")
               if k not in meta] if isinstance(meta, dict) else ["everything"]
    if missing:
        raise CheckpointError(
            f"{meta_path} lacks {', '.join(missing)}; it was not written by 'resnetlab train'"
        )
    return meta


def build_model(meta: dict[str, Any]) -> torch.nn.Module:
    """Re-create the architecture described by ``meta`` (random weights)."""
    from resnetlab.models import create_model

    kwargs = dict(meta.get("model_kwargs") or {})
    kwargs["num_classes"] = int(meta["num_classes"])
    kwargs.setdefault("in_chans", int(meta["input_size"][0]))
    return create_model(meta["model"], **kwargs)


def load_trained(path: str | Path, device: str | torch.device = "cpu"
                 ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained model (eval mode, on ``device``) and its ``model.json`` metadata."""
    weights, meta_path = locate(path)
    meta = read_meta(meta_path)
    model = build_model(meta)  # an unknown model name raises UnknownModelError here
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} is corrupt ({exc}); re-export the model") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(
            f"{weights} does not fit model {meta['model']!r} ({first[:120]}); "
            "check that model.json belongs to these weights"
        ) from None
    return model.to(device).eval(), meta



def model_spec(model: torch.nn.Module) -> dict[str, Any]:
    """``{"name", "kwargs"}`` that rebuild ``model`` with :func:`resnetlab.create_model`.

    ``kwargs`` holds only the config fields that differ from the registered variant (plus
    ``num_classes`` and ``in_chans``), so model.json stays short and readable. A model that
    was not made by ``create_model`` gets ``name=None``: it can be trained and evaluated, but
    not rebuilt from its run directory.
    """
    name = getattr(model, "variant_name", None)
    config = getattr(model, "config", None)
    if name is None or config is None:
        return {"name": None, "kwargs": {}}
    from resnetlab.models.registry import resolve_config

    default = resolve_config(name).to_dict()
    mine = config.to_dict()
    kwargs = {k: v for k, v in mine.items()
              if k in ("num_classes", "in_chans") or v != default.get(k)}
    return {"name": name, "kwargs": {k: list(v) if isinstance(v, tuple) else v
                                     for k, v in kwargs.items()}}


def finish_run(trainer, name: str, data_spec: dict[str, Any]) -> dict[str, Any]:
    """End of a training run (``trainer`` is a :class:`~resnetlab.train.trainer.Trainer`):
    final evaluation (with flip TTA if the recipe asks), ``model.safetensors`` +
    ``model.json`` and ``curves.png`` on the main process; returns the final metrics."""
    from resnetlab.train.plots import plot_curves  # matplotlib: only needed once, at the end

    recipe, bundle = trainer.fitted, trainer.bundle
    final = trainer.evaluate_split(bundle.test, tta=recipe.tta_flip)
    last = trainer.history[-1] if trainer.history else {}
    metrics: dict[str, Any] = {
        "test_top1": final.top1, "test_top5": final.top5, "test_loss": final.loss,
        "test_n": final.n, "tta_flip": recipe.tta_flip, "test_top1_no_tta": last.get("test_acc"),
        "val_top1": last.get("val_acc"), "train_loss": last.get("train_loss"),
        "epochs": trainer.plan.epochs, "steps": trainer.step,
        "plan": trainer.plan.source, "train_seconds": trainer.elapsed,
        "ema": recipe.ema > 0, "budget_seconds": trainer.plan.budget_seconds or None,
        "replans": trainer.plan.replans, "segments": trainer.plan.segment + 1,
    }
    if not trainer.dist.is_main:
        return metrics
    spec = model_spec(trainer.model)
    train_ds = bundle.train
    export_model(trainer.run_dir, trainer.eval_model, {
        "model": spec["name"] or name, "model_kwargs": spec["kwargs"],
        "num_classes": bundle.num_classes, "in_chans": bundle.input_size[0],
        "input_size": list(bundle.input_size), "classes": list(bundle.classes),
        "mean": list(train_ds.mean), "std": list(train_ds.std), "data": data_spec,
        "recipe": recipe.to_dict(), "declared_recipe": trainer.recipe.to_dict(),
        "seed": trainer.seed, "metrics": metrics,
    })
    plot_curves(trainer.history, trainer.run_dir / "curves.png",
                title=f"{name} on {bundle.name} ({recipe.name})")
    return metrics
