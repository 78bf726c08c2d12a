"""What runs a model's inference: the eager PyTorch model, or its export run by onnxruntime or
OpenVINO (``--engine eager|onnx|openvino`` of predict, eval, embed and serve).

An exported engine is the model written by :func:`~resnetlab.deploy.export.export_onnx` or
:func:`~resnetlab.deploy.openvino.export_openvino` (each checks the file against PyTorch on
the spot) and loaded as :class:`~resnetlab.deploy.export.OnnxModule` or
:class:`~resnetlab.deploy.openvino.OpenVinoModule`: a module called like the model, so
prediction, evaluation and embedding code take any of them.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnetlab.deploy.export import OnnxModule, export_onnx
from resnetlab.deploy.openvino import OpenVinoModule, export_openvino
from resnetlab.errors import ConfigError

ENGINES = ("eager", "onnx", "openvino")
# engine -> (file suffix, export function, module that runs the file)
_EXPORTED = {"onnx": (".onnx", export_onnx, OnnxModule),
             "openvino": (".xml", export_openvino, OpenVinoModule)}


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
