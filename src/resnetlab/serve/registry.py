"""The served models: ids → loaded model, its meta and its run directory.

Every model comes through the one loader (:func:`resnetlab.models.hub.loader.load_model`, or
:func:`~resnetlab.models.hub.loader.untrained_model` for ``untrained:NAME``). Which ones:

- each ``SOURCE``: a run directory, a weights file, a URL, a published tag (with ``--model``),
  or ``untrained:NAME`` for a registered architecture with random weights (``trained=false``);
- with ``--runs DIR``, every finished run under DIR (a folder that holds ``model.json``);
- with neither, the newest finished run under ``./runs``.

Ids are slugs of what the user gave (a run's folder name, a file's stem, ``resnet20-untrained``),
made unique with ``-2``, ``-3``...; the API looks ids up in this table and nothing else, so an
id can never name a path.
"""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.deploy.predict import Guess, predict_tensors
from resnetlab.errors import CheckpointError
from resnetlab.hardware import Placement, placement
from resnetlab.models.hub.format import is_saved_model
from resnetlab.models.hub.loader import load_model, untrained_model
from resnetlab.serve.config import DEFAULT_RUNS, ServeConfig
from resnetlab.serve.engines import make_engine

UNTRAINED = "untrained:"
META_FILE = "model.json"


@dataclass(eq=False)
class ServedModel:
    """One model the server answers for.

    ``model`` is the eager PyTorch model (Grad-CAM, feature maps and block anatomy need it);
    ``engine`` runs predictions (the same module, or its ONNX/OpenVINO export).
    ``lock`` is held around every use of the model: explanations hook into its modules, and a
    hook must not see another request's forward pass.
    """

    id: str
    model: nn.Module
    engine: nn.Module
    meta: dict[str, Any]
    trained: bool
    source: str
    where: Placement
    run_dir: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # summary, samples...

    @property
    def name(self) -> str:
        return str(self.meta.get("model", ""))

    @property
    def channels(self) -> int:
        return int(self.meta["input_size"][0])

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.meta["classes"]]

    def predict(self, images: Sequence[torch.Tensor], top_k: int) -> list[list[Guess]]:
        """Top-``top_k`` guesses for each uint8 image: ``resnetlab predict``'s own code path."""
        with self.lock:
            return predict_tensors(self.engine, self.meta, images, top_k, where=self.where)

    def listing(self) -> dict[str, Any]:
        """The entry of ``GET /v1/models``."""
        return {"id": self.id, "name": self.name, "trained": self.trained,
                "num_classes": int(self.meta["num_classes"]),
                "input_size": [int(s) for s in self.meta["input_size"]],
                "classes": self.classes}


def slug(text: str) -> str:
    """A URL-safe id: letters, digits, ``.``, ``_`` and ``-``, lower case, never ``.``/``..``."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip(".-")
    return cleaned or "model"


def finished_runs(root: Path) -> list[Path]:
    """Run directories under ``root`` (any depth) that hold a saved model, sorted by path."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    return sorted({p.parent for p in root.rglob(META_FILE)
                   if (p.parent / "model.safetensors").is_file()})


def newest_run(root: Path) -> Path | None:
    """The finished run under ``root`` whose ``model.json`` was written last."""
    runs = finished_runs(root)
    return max(runs, key=lambda r: (r / META_FILE).stat().st_mtime) if runs else None


def chosen_sources(config: ServeConfig) -> list[str]:
    """What to serve: the SOURCEs, every run under ``--runs``, else the newest run in ./runs.

    Nothing to serve is a one-line :class:`CheckpointError` saying what to pass.
    """
    sources = list(config.sources)
    hint = ("pass a run directory, a weights file, a published tag (with --model NAME) or "
            "untrained:resnet20 as SOURCE, or --runs DIR")
    if config.runs is not None:
        runs = finished_runs(config.runs)
        if not runs:
            raise CheckpointError(f"--runs {config.runs} holds no finished run (a folder with "
                                  f"{META_FILE}); {hint}")
        sources += [str(r) for r in runs]
    if not sources:
        newest = newest_run(DEFAULT_RUNS)
        if newest is None:
            raise CheckpointError(f"no model to serve: ./{DEFAULT_RUNS} holds no finished run; "
                                  f"{hint}")
        sources.append(str(newest))
    return sources


def _default_id(source: str, meta: dict[str, Any]) -> str:
    if source.startswith(UNTRAINED):
        return slug(f"{meta['model']}-untrained")
    path = Path(source).expanduser()
    if path.is_dir():
        return slug(path.resolve().name)
    if path.exists():  # a saved model is named after its folder, raw weights after the file
        return slug(path.parent.resolve().name if is_saved_model(path) else path.stem)
    tail = source.rstrip("/").rsplit("/", 1)[-1]  # a URL or a tag
    return slug(Path(tail).stem if "://" in source else f"{meta['model']}-{tail}")


def _run_dir(source: str) -> Path | None:
    path = Path(source).expanduser()
    if source.startswith(UNTRAINED) or not is_saved_model(path):
        return None
    folder = path if path.is_dir() else path.parent
    return folder.resolve()


class ModelRegistry:
    """The table of served models, in the order they were given."""

    def __init__(self, models: Sequence[ServedModel] = (), *,
                 workdir: tempfile.TemporaryDirectory | None = None) -> None:
        self._models: dict[str, ServedModel] = {}
        self._workdir = workdir  # files of --engine onnx|openvino, deleted with the registry
        for served in models:
            self.add(served)

    def add(self, served: ServedModel) -> ServedModel:
        """Add ``served``; a taken id gets ``-2``, ``-3``... appended."""
        base, n = served.id, 1
        while served.id in self._models:
            n += 1
            served.id = f"{base}-{n}"
        self._models[served.id] = served
        return served

    @property
    def ids(self) -> list[str]:
        return list(self._models)

    def __iter__(self) -> Iterator[ServedModel]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model_id: str) -> ServedModel | None:
        return self._models.get(model_id)

    def close(self) -> None:
        """Delete the files made for serving (ONNX exports)."""
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def open_model(source: str, config: ServeConfig, where: Placement,
               workdir: Path | None = None) -> ServedModel:
    """Load one SOURCE (``untrained:NAME`` too) and prepare its engine."""
    if source.startswith(UNTRAINED):
        model, meta = untrained_model(source[len(UNTRAINED):], device=where.device)
        trained = False
    else:
        model, meta = load_model(source, config.model, device=where.device)
        trained = True
    served_id = _default_id(source, meta)
    engine = make_engine(model, meta, config.engine, workdir, served_id, config.threads)
    return ServedModel(served_id, model, engine, dict(meta), trained, source, where,
                       _run_dir(source))


def load_registry(config: ServeConfig) -> ModelRegistry:
    """Every model ``config`` asks for, loaded (one-line errors name a bad SOURCE)."""
    if config.threads:
        torch.set_num_threads(config.threads)
    where = placement(config.device, "fp32", channels_last=False)
    workdir = (tempfile.TemporaryDirectory(prefix="resnetlab-serve-")
               if config.engine != "eager" else None)
    registry = ModelRegistry(workdir=workdir)
    try:
        for source in chosen_sources(config):
            # one folder per model: two sources may want the same id, hence the same file name
            folder = Path(workdir.name) / str(len(registry)) if workdir else None
            registry.add(open_model(source, config, where, folder))
    except BaseException:
        registry.close()
        raise
    return registry
