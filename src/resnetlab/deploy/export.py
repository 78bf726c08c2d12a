"""Export to ONNX (dynamic batch, opset >= 17) and TorchScript, each checked after writing.

ONNX uses PyTorch's TorchScript-based exporter (``dynamo=False``): it needs only ``onnx``,
whereas the newer ``torch.export`` route also needs ``onnxscript``; for these static CNNs both
give the same graph. Every export is re-loaded (onnxruntime / ``torch.jit.load``) and run on the
check images, and the largest absolute difference from the PyTorch model is returned, so a
broken export never goes unnoticed. The model's ``model.json`` is stored in the ONNX file's
metadata (key ``resnetlab``), so the file alone is enough to feed and label images.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from resnetlab.errors import ConfigError, ResnetlabError
from resnetlab.files import TMP_PREFIX

DEFAULT_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"
META_KEY = "resnetlab"
# Meta fields worth carrying inside a deployable file (not the training history).
_SHIPPED = ("model", "model_kwargs", "num_classes", "in_chans", "input_size", "resize_size",
            "classes", "mean", "std")


@dataclass
class ExportResult:
    """Where the export went and how closely it reproduces the PyTorch model."""

    path: Path
    format: str
    max_abs_diff: float
    checked: int


def require(module: str):
    """Import an optional dependency, or raise a one-line error saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ResnetlabError(f"this needs the '{package}' package; install it with "
                             f"'pip install {package}'") from None


def onnx_session(path: str | Path, threads: int | None = None):
    """A CPU onnxruntime session for ``path`` (``threads`` intra-op threads if given)."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3  # errors only: its warnings about unused initializers are noise
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """The session's first output for a float32 batch."""
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x
    return session.run(None, {session.get_inputs()[0].name: array.astype(np.float32)})[0]


class OnnxModule(nn.Module):
    """An ONNX file run by onnxruntime, called like the model it was exported from (inference
    only: no gradients, no hooks), so prediction code takes either."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.session = onnx_session(path, threads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(run_onnx(self.session, x.float().contiguous()))


def _temp_name(path: Path) -> Path:
    # the real suffix last: onnxruntime, torch.jit and OpenVINO do not care, people listing
    # the folder do
    return path.with_name(f"{TMP_PREFIX}{path.stem}.{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def staged(path: Path, *companions: Path) -> Iterator[Path]:
    """A temp file beside ``path`` to write and check; renamed to ``path`` only when the block
    succeeds. On failure the temp file (and any folder made for it) is removed, so a failed
    export leaves nothing behind and never replaces an earlier good file with a torn one.

    ``companions`` are files the writer puts beside the temp file under the same temp stem
    (OpenVINO's ``.bin`` beside its ``.xml``); they are renamed first, ``path`` last."""
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    temps = {p: _temp_name(p) for p in (*companions, path)}
    try:
        yield temps[path]
        for final, tmp in temps.items():
            os.replace(tmp, final)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for folder in made:  # innermost first; rmdir refuses a folder someone filled meanwhile
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def example_inputs(input_size, check_inputs: torch.Tensor | None) -> torch.Tensor:
    if check_inputs is not None and len(check_inputs):
        return check_inputs[:2].float()
    return torch.randn(2, *(int(s) for s in input_size), generator=torch.Generator().manual_seed(0))


@torch.no_grad()
def reference_logits(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    return model(x).float().numpy()


def shipped_meta(meta: Mapping[str, Any]) -> str:
    """The ``model.json`` fields a deployable file carries, as JSON: what predicting needs, and
    the dataset it learned — its name, and the size and seed of the validation split held out
    of it, so that ``eval`` of the file defaults to that data and ``--split val`` finds the same
    images. The local folders it was read from stay out of a file meant to travel."""
    shipped = {k: meta[k] for k in _SHIPPED if k in meta}
    data = meta.get("data")
    if isinstance(data, Mapping) and data.get("name"):
        shipped["data"] = {k: data[k] for k in ("name", "val_size", "seed") if k in data}
    return json.dumps(shipped)


def _attach_meta(path: Path, meta: Mapping[str, Any]) -> None:
    onnx = require("onnx")
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, shipped_meta(meta)
    onnx.save(proto, str(path))


def read_onnx_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` fields stored in an ONNX file by :func:`export_onnx` (``{}`` if none)."""
    onnx = require("onnx")
    proto = onnx.load(str(path), load_external_data=False)
    for entry in proto.metadata_props:
        if entry.key == META_KEY:
            return json.loads(entry.value)
    return {}


def export_onnx(model: nn.Module, path: str | Path, input_size, *,
                meta: Mapping[str, Any] | None = None, opset: int = DEFAULT_OPSET,
                check_inputs: torch.Tensor | None = None, atol: float = 1e-4) -> ExportResult:
    """Write ``model`` (eval mode, CPU) as ONNX with a dynamic batch axis, then verify it.

    ``input_size`` is ``(C, H, W)``. The file is run with onnxruntime on ``check_inputs``
    (normalized images; random ones if ``None``) and compared with PyTorch; a difference above
    ``atol`` raises :class:`ResnetlabError`. Returns an :class:`ExportResult`.
    """
    if opset < DEFAULT_OPSET:
        raise ConfigError(f"opset {opset} is too old; use {DEFAULT_OPSET} or newer")
    require("onnx")
    model = model.eval().cpu()
    path = Path(path)
    with staged(path) as tmp:
        diff, checked = _write_onnx(model, tmp, input_size, meta, opset, check_inputs, atol)
        if not diff <= atol:
            raise ResnetlabError(f"the ONNX export {path} differs from PyTorch by {diff:.2e} "
                                 f"(> {atol:g}); please report this model and opset {opset}")
    return ExportResult(path, "onnx", diff, checked)


def _write_onnx(model: nn.Module, path: Path, input_size, meta: Mapping[str, Any] | None,
                opset: int, check_inputs: torch.Tensor | None, atol: float) -> tuple[float, int]:
    """Export to ``path`` and run it: the largest difference from PyTorch and the inputs used."""
    example = example_inputs(input_size, check_inputs)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation, and warns that it cannot
        # constant-fold the strided slices of zero-pad shortcuts (they run fine).
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            model, (example,), str(path), dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    if meta:
        _attach_meta(path, meta)
    check = check_inputs.float() if check_inputs is not None else example
    diff = float(np.abs(run_onnx(onnx_session(path), check)
                        - reference_logits(model, check)).max())
    return diff, int(check.shape[0])


def export_torchscript(model: nn.Module, path: str | Path, input_size, *,
                       check_inputs: torch.Tensor | None = None,
                       atol: float = 1e-5) -> ExportResult:
    """Trace ``model`` to TorchScript (any batch size works: ResNets have no shape branches),
    save it, re-load it and compare it with the eager model on ``check_inputs``."""
    model = model.eval().cpu()
    path = Path(path)
    example = example_inputs(input_size, check_inputs)
    with staged(path) as tmp, warnings.catch_warnings(), torch.no_grad():
        # torch.jit is deprecated in favour of torch.export, yet still the format C++ and
        # mobile runtimes load; the warnings would only repeat that.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(model, example)
        torch.jit.save(traced, str(tmp))
        loaded = torch.jit.load(str(tmp))
        check = check_inputs.float() if check_inputs is not None else example
        diff = float((loaded(check) - model(check)).abs().max())
        if not diff <= atol:
            raise ResnetlabError(f"the TorchScript export {path} differs from eager PyTorch by "
                                 f"{diff:.2e} (> {atol:g}); please report this model")
    return ExportResult(path, "torchscript", diff, int(check.shape[0]))
