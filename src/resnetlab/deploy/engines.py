"""What runs a model's inference: the eager PyTorch model, or its export run by onnxruntime or
OpenVINO (``--engine eager|onnx|openvino`` of predict, eval, embed and serve).

An exported engine is the model written by :func:`~resnetlab.deploy.export.export_onnx` or
:func:`~resnetlab.deploy.openvino.export_openvino` (each checks the file against PyTorch on
the spot) and loaded as :class:`~resnetlab.deploy.export.OnnxModule` or
:class:`~resnetlab.deploy.openvino.OpenVinoModule`: a module called like the model, so
prediction, evaluation and embedding code take any of them.

A file exported beforehand (``model.onnx``, ``model.xml``) is a model source of its own:
:func:`model_runner` opens it on the engine it was written for, with the ``model.json`` fields
the export stored inside it, so ``resnetlab predict model.onnx cat.jpg`` needs no run directory.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.deploy.export import OnnxModule, export_onnx, read_onnx_meta
from resnetlab.deploy.openvino import OpenVinoModule, export_openvino, read_openvino_meta
from resnetlab.errors import CheckpointError, ConfigError, ResnetlabError
from resnetlab.models.hub.loader import load_model

ENGINES = ("eager", "onnx", "openvino")
# engine -> (file suffix, export function, module that runs the file)
_EXPORTED = {"onnx": (".onnx", export_onnx, OnnxModule),
             "openvino": (".xml", export_openvino, OpenVinoModule)}
_META_READERS = {"onnx": read_onnx_meta, "openvino": read_openvino_meta}
_LABELS = {"onnx": "ONNX", "openvino": "OpenVINO IR"}
# what prediction and evaluation read from meta: the export stores it (deploy.export._SHIPPED)
_NEEDED_META = ("input_size", "classes", "mean", "std")


class PooledFeatures(nn.Module):
    """A ResNet up to its global pooling (the pre-logits vector): what ``embed`` exports."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def make_engine(model: nn.Module, meta: Mapping[str, Any], engine: str,
                workdir: Path | None, name: str = "model",
                threads: int | None = None) -> nn.Module:
    """The module that runs ``model`` with ``engine``: ``model`` itself for eager, else its
    export to ``workdir/<name>.onnx|.xml`` loaded with ``threads`` inference threads."""
    if engine == "eager":
        return model
    if engine not in _EXPORTED:
        raise ConfigError(f"unknown engine {engine!r}; choose {', '.join(ENGINES)}")
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError(f"--engine {engine} runs on the CPU; drop --device or use "
                          "--engine eager")
    if workdir is None:
        raise ConfigError(f"--engine {engine} needs a folder for the exported files")
    suffix, export, module = _EXPORTED[engine]
    path = export(model, Path(workdir) / f"{name}{suffix}", meta["input_size"], meta=meta).path
    return module(path, threads)


@contextlib.contextmanager
def engine_for(model: nn.Module, meta: Mapping[str, Any], engine: str,
               threads: int | None = None) -> Iterator[nn.Module]:
    """:func:`make_engine` with a temporary folder for the export, deleted afterwards."""
    if engine == "eager":
        yield model
        return
    with tempfile.TemporaryDirectory(prefix="resnetlab-engine-") as workdir:
        yield make_engine(model, meta, engine, Path(workdir), threads=threads)


def exported_engine(source: str | Path) -> str | None:
    """The engine that runs ``source`` if it is an exported file (``.onnx``: onnx, ``.xml``:
    openvino), else None."""
    suffix = Path(str(source)).suffix.lower()
    return next((engine for engine, (ext, _, _) in _EXPORTED.items() if ext == suffix), None)


def open_exported(source: str | Path, threads: int | None = None
                  ) -> tuple[nn.Module, dict[str, Any]]:
    """``(module, meta)`` of a file written by ``resnetlab export``: the module runs it on its
    engine with ``threads`` threads, ``meta`` holds the ``model.json`` fields stored inside.

    A missing, unreadable or foreign file (no resnetlab metadata: no class names, input size or
    normalization to classify with) raises a one-line :class:`CheckpointError` saying how to
    get a good one."""
    engine = exported_engine(source)
    if engine is None:
        raise ConfigError(f"{source} is not an exported model; pass a .onnx or .xml file")
    path, label = Path(source).expanduser(), _LABELS[engine]
    again = f"export it with 'resnetlab export SOURCE --format {engine}'"
    if not path.is_file():
        raise CheckpointError(f"{label} model {path} does not exist; check the path")
    try:
        meta = _META_READERS[engine](path)
        module = _EXPORTED[engine][2](path, threads)
    except ResnetlabError:
        raise
    except Exception as exc:  # onnx's DecodeError, onnxruntime's and OpenVINO's own errors
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        why = lines[-1][:200] if lines else type(exc).__name__
        raise CheckpointError(f"cannot read the {label} model {path} ({why}); "
                              f"{again}") from None
    missing = [key for key in _NEEDED_META if key not in meta]
    if missing:
        raise CheckpointError(f"{path} has no resnetlab metadata ({', '.join(missing)} "
                              f"missing), so its classes and preprocessing are unknown; {again}")
    return module.eval(), {**meta, "source": str(path), "engine": engine}


def cpu_engine_device(source: str | Path, engine: str, device: str | None) -> str | None:
    """``device``, except where an engine that runs on the CPU (onnx, openvino, or that of an
    exported ``source``) is used: there "not given" means the CPU rather than the default GPU,
    and another device is a :class:`ConfigError` before anything is loaded."""
    kind = exported_engine(source)
    if engine == "eager" and kind is None:
        return device
    if device not in (None, "cpu"):
        what = f"--engine {engine}" if kind is None else f"{source} ({kind})"
        raise ConfigError(f"{what} runs on the CPU; drop --device"
                          + (" or use --engine eager" if kind is None else ""))
    return "cpu"


@contextlib.contextmanager
def model_runner(source: str | Path, model_name: str | None = None, *,
                 device: str | torch.device = "cpu", engine: str = "eager",
                 threads: int | None = None,
                 before: Callable[[dict[str, Any]], Any] | None = None
                 ) -> Iterator[tuple[nn.Module, dict[str, Any]]]:
    """``(runner, meta)`` for any model source: what predict and eval classify with.

    An exported file (:func:`exported_engine`) runs on the engine it was written for (``engine``
    may be left at eager or name that one); anything else is loaded by
    :func:`~resnetlab.models.hub.loader.load_model` on ``device`` and run by ``engine``
    (:func:`engine_for`: exported to a temporary folder first unless eager). ``before(meta)``
    runs as soon as the meta is known and before that export: predict reads its images there,
    so that a folder of unreadable files fails in a second rather than after the export."""
    kind = exported_engine(source)
    if kind is None:
        model, meta = load_model(source, model_name, device=device)
        if before is not None:
            before(meta)
        with engine_for(model, meta, engine, threads) as runner:
            yield runner, meta
        return
    if engine not in ("eager", kind):
        raise ConfigError(f"{source} is an exported {_LABELS[kind]} model: it runs with "
                          f"--engine {kind}; drop --engine {engine}")
    cpu_engine_device(source, engine, None if torch.device(device).type == "cpu" else str(device))
    if model_name:
        raise ConfigError(f"{source} knows its own architecture; drop --model {model_name}")
    runner, meta = open_exported(source, threads)
    if before is not None:
        before(meta)
    yield runner, meta
