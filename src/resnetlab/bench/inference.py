"""Inference engines to time and compare: one trained network, several ways to run it.

Every engine maps a float32 NCHW batch (as images come out of preprocessing) to logits, so the
same function serves timing and the agreement check. Format conversions an application would
have to do (to channels_last, to NumPy) happen inside and are timed too.

=============  ===============================================================  ================
engine         what it does                                                     resnetlab option
=============  ===============================================================  ================
eager          the model as is: eager, fp32, NCHW (the stock baseline)          -
channels_last  eager with NHWC tensors (oneDNN's native layout)                 CPU default
fold_bn        BatchNorm folded into the convolutions, eager, NCHW              fold_batchnorm
jit_freeze     TorchScript trace + freeze: oneDNN fuses conv+add+ReLU           -
compile        BN folded + channels_last + torch.compile (inductor, frozen)     -
bf16           channels_last with bf16 autocast                                 --precision bf16
onnx           BN folded, exported to ONNX, run by onnxruntime                  export --fold-bn
onnx_int8      that ONNX model statically quantized (int8 QDQ, per channel)     export --int8
openvino       exported to OpenVINO IR, run by OpenVINO's CPU plugin in fp32    export --format
               (LATENCY hint for one image, THROUGHPUT split over its streams   openvino,
               for a batch; as many threads as torch has)                       --engine openvino
=============  ===============================================================  ================
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resnetlab.bench.memory import param_bytes
from resnetlab.deploy import export_onnx, fold_batchnorm, onnx_session, quantize_onnx
from resnetlab.deploy.openvino import OpenVinoModule, export_openvino, weights_file
from resnetlab.errors import ConfigError
from resnetlab.hardware import require_compiler

ENGINES = ("eager", "channels_last", "fold_bn", "jit_freeze", "compile", "bf16", "onnx",
           "onnx_int8", "openvino")
INT8_ENGINES = ("onnx_int8",)
FILE_ENGINES = ("onnx", "onnx_int8", "openvino")  # run a file exported beforehand


@dataclass
class Engine:
    """A ready-to-call way of running a model, with its build time and weight size."""

    name: str
    run: Callable[[torch.Tensor], torch.Tensor]
    setup_seconds: float
    weight_bytes: int


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def _eager(model: nn.Module, *, to_nhwc: bool, bf16: bool = False):
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            return model(_channels_last(x) if to_nhwc else x).float()

    return run


def _jit_freeze(model: nn.Module, example: torch.Tensor):
    nhwc = model.to(memory_format=torch.channels_last)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        frozen = torch.jit.freeze(torch.jit.trace(nhwc, _channels_last(example)))
    return _eager(frozen, to_nhwc=True)


def _compiled(model: nn.Module):
    import torch._inductor.config as inductor_config

    compiled = torch.compile(fold_batchnorm(model).to(memory_format=torch.channels_last))

    def run(x: torch.Tensor) -> torch.Tensor:
        # Freezing turns weights into constants, so inductor can pre-pack them for oneDNN;
        # patched per call rather than process-wide to leave other compiled code alone.
        with inductor_config.patch(freezing=True), torch.inference_mode():
            return compiled(_channels_last(x))

    return run


def onnx_files(model: nn.Module, example: torch.Tensor, workdir: Path,
               calibration: torch.Tensor | None = None) -> Path:
    """Export ``model`` BN-folded to ``workdir/model.onnx`` (and, given ``calibration``, its
    int8 copy ``model.int8.onnx``) unless already there; returns the file to run."""
    path = workdir / "model.onnx"
    if not path.is_file():
        export_onnx(fold_batchnorm(model), path, tuple(example.shape[1:]),
                    check_inputs=example[:2], atol=1e-3)
    if calibration is None:
        return path
    int8 = workdir / "model.int8.onnx"
    if not int8.is_file():
        quantize_onnx(path, int8, calibration, batch_size=min(16, len(calibration)))
    return int8


def openvino_files(model: nn.Module, example: torch.Tensor, workdir: Path) -> Path:
    """Export ``model`` to ``workdir/model.xml`` (+ ``.bin``) unless already there; returns
    the ``.xml``. OpenVINO folds BatchNorm itself, so the model goes in as it is."""
    path = workdir / "model.xml"
    if not (path.is_file() and weights_file(path).is_file()):
        export_openvino(model, path, tuple(example.shape[1:]), check_inputs=example[:2],
                        atol=1e-3)
    return path


def export_files(name: str, model: nn.Module, example: torch.Tensor, workdir: Path,
                 calibration: torch.Tensor | None = None) -> Path:
    """The file engine ``name`` (one of :data:`FILE_ENGINES`) runs, exported if missing."""
    if name == "openvino":
        return openvino_files(model, example, workdir)
    return onnx_files(model, example, workdir, calibration if name in INT8_ENGINES else None)


def _openvino(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    # torch's thread count is the benchmark's --threads (else one per core), so every engine
    # gets the same number of cores
    module = OpenVinoModule(path, threads=torch.get_num_threads())
    return module.forward


def _session(path: Path):
    """deploy's onnxruntime session, except that its threads sleep instead of spinning when
    ``OMP_WAIT_POLICY=PASSIVE`` asks the same of torch's (fair on a shared machine, where
    spinning threads lose their cores to other processes: docs/benchmarks.md, "Speed")."""
    import os

    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE":
        return onnx_session(path)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _onnx(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    session = _session(path)
    input_name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(session.run(None, {input_name: array})[0])

    return run


def build_engine(name: str, model: nn.Module, example: torch.Tensor, *,
                 workdir: str | Path | None = None,
                 calibration: torch.Tensor | None = None) -> Engine:
    """Engine ``name`` for an fp32 CPU ``model`` (left unchanged), warmed up on ``example``.

    ``workdir`` holds the exported files (a temporary folder if None); files already there
    (see :func:`export_files`) are reused, so exporting can happen apart from the engine's start.
    ``calibration`` (normalized images) is required by the int8 engine.
    """
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    import copy

    model = copy.deepcopy(model).eval().cpu()
    start = time.perf_counter()
    weights = param_bytes(model)
    if name == "eager":
        run = _eager(model, to_nhwc=False)
    elif name in ("channels_last", "bf16"):
        run = _eager(model.to(memory_format=torch.channels_last), to_nhwc=True,
                     bf16=name == "bf16")
    elif name == "fold_bn":
        folded = fold_batchnorm(model)
        run, weights = _eager(folded, to_nhwc=False), param_bytes(folded)
    elif name == "jit_freeze":
        run = _jit_freeze(model, example)
    elif name == "compile":
        require_compiler(torch.device("cpu"))
        run = _compiled(model)
    else:
        if name in INT8_ENGINES and calibration is None:
            raise ConfigError(f"the {name} engine needs calibration images")
        folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp())
        folder.mkdir(parents=True, exist_ok=True)
        path = export_files(name, model, example, folder, calibration)
        if name == "openvino":
            run, weights = _openvino(path), weights_file(path).stat().st_size
        else:
            run, weights = _onnx(path), path.stat().st_size
    run(example)  # first call: compilation, oneDNN primitive creation, ORT arena
    if name == "openvino":
        run(example[:1])  # OpenVINO compiles its batch-1 (LATENCY) model on first use
    return Engine(name, run, time.perf_counter() - start, weights)
