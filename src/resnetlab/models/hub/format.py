"""The saved-model format: ``model.safetensors`` (weights) + ``model.json`` (everything needed to
rebuild, feed and interpret the model without the training code).

``model.json`` holds at least :data:`REQUIRED_META`: the registered ``model`` name, its
``model_kwargs`` (options that differ from the registered variant), ``num_classes``,
``input_size`` (C, H, W), ``mean``/``std`` and the ``classes`` in index order. A run directory
adds the recipe, data source, seed and final metrics. The one writer is
:func:`resnetlab.models.hub.weights.save_weights`; the one reader is
:func:`resnetlab.models.hub.loader.load_model`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from torch import nn

from resnetlab.errors import CheckpointError
from resnetlab.models.hub.fetch import is_url
from resnetlab.models.hub.zoo import is_tag
from resnetlab.models.registry import resolve_config

WEIGHTS = "model.safetensors"
META = "model.json"
FORMAT = "resnetlab-model/1"
REQUIRED_META = ("model", "num_classes", "input_size", "mean", "std", "classes")
_OBJECT_FIELDS = ("model_kwargs", "recipe", "data", "metrics")


def is_saved_model(source: object) -> bool:
    """True for a run directory, a ``model.json``, or a .safetensors with model.json beside it."""
    if not isinstance(source, str | Path) or (isinstance(source, str) and (
            is_url(source) or is_tag(source))):
        return False
    p = Path(source).expanduser()
    return p.is_dir() or p.name == META or (
        p.suffix == ".safetensors" and p.is_file() and p.with_name(META).is_file())


def locate(path: str | Path) -> tuple[Path, Path]:
    """``(weights, model.json)`` for a run dir, a weights file or a model.json path."""
    p = Path(path).expanduser()
    if p.is_dir():
        weights, meta = p / WEIGHTS, p / META
        if not weights.is_file() and (p / "checkpoints" / "last.pt").is_file():
            raise CheckpointError(
                f"{p} has no {WEIGHTS} yet (the run did not finish); finish it with "
                f"'resnetlab train --resume {p}'")
    elif p.name == META:
        weights, meta = p.with_name(WEIGHTS), p
    elif p.is_file():
        weights, meta = p, p.with_name(META)
    else:
        raise CheckpointError(f"{p} does not exist; pass a run directory or a .safetensors file")
    if not weights.is_file():
        raise CheckpointError(f"no weights file {weights}; pass a finished run directory")
    if not meta.is_file():
        raise CheckpointError(f"{meta} is missing; weights need the model.json written beside "
                              "them by 'resnetlab train'")
    return weights, meta


def read_meta(meta_path: str | Path) -> dict[str, Any]:
    """Parse ``model.json``; unreadable or incomplete files raise :class:`CheckpointError`."""
    try:
        meta = json.loads(Path(meta_path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {meta_path} ({exc}); re-export the model") from None
    missing = ([k for k in REQUIRED_META if k not in meta] if isinstance(meta, dict)
               else ["everything"])
    if missing:
        raise CheckpointError(f"{meta_path} lacks {', '.join(missing)}; it was not written by "
                              "'resnetlab train' or save_weights")
    problem = meta_problem(meta)
    if problem:
        raise CheckpointError(f"{meta_path} is damaged: {problem}; re-export the model")
    return meta


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _numbers(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        for v in value)


def meta_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the types and sizes of ``model.json``'s fields, or None.

    The file is read back by code that indexes and multiplies these values: a string where the
    class count belongs, or two means for three channels, must be a one-line error here, not
    a ``TypeError`` deep in the model builder."""
    if not isinstance(meta["model"], str) or not meta["model"]:
        return f"'model' must be a model name, got {meta['model']!r:.40}"
    if not _whole(meta["num_classes"]):
        return f"'num_classes' must be a whole number >= 1, got {meta['num_classes']!r:.40}"
    size = meta["input_size"]
    if not (isinstance(size, list) and len(size) == 3 and all(_whole(s) for s in size)):
        return f"'input_size' must be [channels, height, width], got {size!r:.40}"
    for key in ("mean", "std"):
        if not _numbers(meta[key]) or len(meta[key]) != size[0]:
            return f"{key!r} must hold {size[0]} finite numbers (one per channel)"
    if any(v <= 0 for v in meta["std"]):
        return "'std' must be positive"
    classes = meta["classes"]
    if not isinstance(classes, list) or len(classes) != meta["num_classes"] or not all(
            isinstance(c, str | int | float) and not isinstance(c, bool) for c in classes):
        return f"'classes' must name the {meta['num_classes']} classes, in index order"
    for key in _OBJECT_FIELDS:  # optional, but read with .get() by predict, eval, finetune
        if not isinstance(meta.get(key) or {}, dict):
            return f"{key!r} must be an object, got {type(meta[key]).__name__}"
    for key in ("resize_size", "in_chans"):
        if key in meta and meta[key] is not None and not _whole(meta[key]):
            return f"{key!r} must be a whole number >= 1, got {meta[key]!r:.40}"
    return None


def model_spec(model: nn.Module) -> dict[str, Any]:
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
    default = resolve_config(name).to_dict()
    kwargs = {k: v for k, v in config.to_dict().items()
              if k in ("num_classes", "in_chans") or v != default.get(k)}
    return {"name": name, "kwargs": {k: list(v) if isinstance(v, tuple) else v
                                     for k, v in kwargs.items()}}
