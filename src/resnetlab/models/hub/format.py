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
    return meta


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
