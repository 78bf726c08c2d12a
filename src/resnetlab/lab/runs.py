"""Which trained network the looking experiments show when no ``--weights`` are given.

A learner who has just run ``resnetlab train --model resnet20 --data cifar10 ...`` wants
``resnetlab lab features`` to look into *that* network, not a random one: feature maps of a
trained net go from edges to textures to parts, its residual branches are small (He et al.
2015, Fig. 7), its Grad-CAM lands on the object. So ``features``, ``residual`` and ``gradcam``
use the newest *finished* run under ``./runs`` (one with ``model.json`` and
``model.safetensors``, written when training ends) whose model fits ``--model`` and whose data
fits ``--data`` when those are given. The lab's own by-products (``runs/lab/...``) are not
candidates: they are scaled-down nets trained for an experiment, not the user's model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUNS_ROOT = Path("runs")
_LAB = "lab"


@dataclass(frozen=True)
class FoundRun:
    """A finished run directory and what its ``model.json`` says."""

    path: Path
    meta: dict[str, Any]

    @property
    def model(self) -> str | None:
        return self.meta.get("model")

    @property
    def data(self) -> str | None:
        return (self.meta.get("data") or {}).get("name")


def _meta(run_dir: Path) -> dict[str, Any] | None:
    """``model.json`` of a finished run, or ``None`` (unfinished, unreadable, not a model)."""
    if not (run_dir / "model.safetensors").is_file():
        return None
    try:
        meta = json.loads((run_dir / "model.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    size = meta.get("input_size") if isinstance(meta, dict) else None
    if not (isinstance(meta.get("model"), str) and isinstance(size, list) and len(size) == 3):
        return None
    return meta


def finished_runs(root: Path | None = None) -> list[FoundRun]:
    """Every finished run under ``root`` (default :data:`RUNS_ROOT`), newest first."""
    root = RUNS_ROOT if root is None else root
    if not root.is_dir():
        return []
    found = []
    for marker in root.rglob("model.json"):
        run_dir = marker.parent
        if run_dir.relative_to(root).parts[:1] == (_LAB,):
            continue
        meta = _meta(run_dir)
        if meta is not None:
            found.append((marker.stat().st_mtime, FoundRun(run_dir, meta)))
    return [run for _, run in sorted(found, key=lambda item: item[0], reverse=True)]


def newest_fitting_run(model: str | None = None, data: str | None = None,
                       root: Path | None = None) -> FoundRun | None:
    """The newest finished run of ``model`` trained on ``data`` (each ``None``: any)."""
    for run in finished_runs(root):
        if (model is None or run.model == model) and (data is None or run.data == data):
            return run
    return None
