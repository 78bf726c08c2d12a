"""What runs the predictions: the eager PyTorch model, or its ONNX export (``--engine onnx``).

The ONNX engine is the model exported by :func:`resnetlab.deploy.export.export_onnx` (which
checks the file against PyTorch on the spot) and run by onnxruntime through
:class:`~resnetlab.deploy.export.OnnxModule`; explanations (Grad-CAM, feature maps, block
anatomy) keep using the eager model, which they hook into.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from resnetlab.deploy.export import OnnxModule, export_onnx
from resnetlab.errors import ConfigError


def make_engine(model: nn.Module, meta: dict[str, Any], engine: str, workdir: Path | None,
                name: str, threads: int | None = None) -> nn.Module:
    """The module that :meth:`ServedModel.predict` calls for ``engine`` (eager or onnx)."""
    if engine == "eager":
        return model
    if engine != "onnx":
        raise ConfigError(f"unknown engine {engine!r}; choose eager or onnx")
    if next(model.parameters()).device.type != "cpu":
        raise ConfigError("--engine onnx runs on the CPU; drop --device or use --engine eager")
    if workdir is None:
        raise ConfigError("--engine onnx needs a folder for the exported files")
    path = export_onnx(model, Path(workdir) / f"{name}.onnx", meta["input_size"], meta=meta).path
    return OnnxModule(path, threads)
