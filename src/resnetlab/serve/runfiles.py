"""What a run directory adds to a served model: training curves, figures, test images.

``metrics.csv`` (written by :class:`resnetlab.train.metrics.MetricsLog`) gives the curves; the
PNG files at the top of the run directory are its figures, served by name from that listing
only; the test split of the dataset named in ``model.json`` gives sample images, loaded once
(``samples`` is 0 when the data cannot be loaded, e.g. CIFAR files that are not on this machine).
"""

from __future__ import annotations

import csv
import logging
import math
import threading
from pathlib import Path
from typing import Any

import torch

from resnetlab.data import load
from resnetlab.errors import ResnetlabError
from resnetlab.serve.registry import ServedModel

log = logging.getLogger("resnetlab.serve")
CURVES = ("train_loss", "test_acc", "val_acc", "lr")  # columns of train/metrics.py's COLUMNS
CURVES_PNG = "curves.png"
_LOADING = threading.Lock()


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def curves(served: ServedModel) -> dict[str, list] | None:
    """``{"epochs": [...], "train_loss": [...], ...}`` from ``metrics.csv``; None if there is
    none (an untrained model, raw weights, a run without epochs). Missing values are None."""
    path = served.run_dir / "metrics.csv" if served.run_dir else None
    if path is None or not path.is_file():
        return None
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        return None
    epochs = [_number(r.get("epoch")) for r in rows]
    out: dict[str, list] = {"epochs": [int(e) if e is not None else None for e in epochs]}
    return out | {name: [_number(r.get(name)) for r in rows] for name in CURVES}


def figures(served: ServedModel) -> list[str]:
    """Names of the PNG files at the top of the run directory, sorted."""
    if served.run_dir is None or not served.run_dir.is_dir():
        return []
    return sorted(p.name for p in served.run_dir.glob("*.png")
                  if p.is_file() and not p.name.startswith("."))


def figure_path(served: ServedModel, name: str) -> Path | None:
    """The file of figure ``name`` if it is in :func:`figures` (a name, never a path)."""
    return served.run_dir / name if name in figures(served) else None


def _load_samples(served: ServedModel) -> tuple[torch.Tensor, list[str]] | None:
    spec = served.meta.get("data") or {}
    if not served.trained or not spec.get("name"):
        return None
    try:
        test = load(spec["name"], spec.get("root"), seed=int(spec.get("seed") or 0)).test
    except (ResnetlabError, OSError, ValueError) as exc:
        log.info("no sample images for %s: %s", served.id, exc)
        return None
    labels = [str(test.classes[int(i)]) for i in test.labels.tolist()]
    return test.images, labels  # the test split only: the bundle's train split is dropped


def samples(served: ServedModel) -> tuple[torch.Tensor, list[str]] | None:
    """The run's test images (uint8 N×C×H×W, at the dataset's own size) and their labels,
    loaded on first use and kept; None when there are none."""
    with _LOADING:  # two first requests at once load the data once
        if "samples" not in served.cache:
            served.cache["samples"] = _load_samples(served)
    return served.cache["samples"]


def sample_count(served: ServedModel) -> int:
    found = samples(served)
    return 0 if found is None else int(found[0].shape[0])


def sample(served: ServedModel, index: int) -> tuple[torch.Tensor, str] | None:
    """Test image ``index`` and its label, or None when out of range."""
    found = samples(served)
    if found is None or not 0 <= index < found[0].shape[0]:
        return None
    return found[0][index], found[1][index]


def describe(served: ServedModel) -> dict[str, Any]:
    """The run-directory fields of ``GET /v1/models/{id}``."""
    return {"has_curves": curves(served) is not None, "figures": figures(served),
            "samples": sample_count(served)}
