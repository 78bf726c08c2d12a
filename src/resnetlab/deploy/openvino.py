"""Export to OpenVINO IR (``.xml`` graph + ``.bin`` weights) and run it on OpenVINO's CPU plugin.

The IR is converted straight from the PyTorch model (``openvino.convert_model``, which traces
it), so neither ``onnx`` nor an ONNX file is needed; the batch axis is dynamic. The model's
``model.json`` fields ride in the IR's ``rt_info`` (key ``resnetlab``, written into the
``.xml``), as they ride in an ONNX file's metadata. Every export is read back through the IR
frontend, compiled for the CPU in fp32 and compared with PyTorch, like the other formats.

:class:`OpenVinoModule` runs an IR as if it were the model. OpenVINO's performance hint is
chosen per call: ``LATENCY`` (one stream using every thread) for a single image,
``THROUGHPUT`` (several streams) for a batch, which is split across the streams and run
asynchronously; each is compiled on first use. On 2 cores, ResNet-50 at 224, batch 16:
9.3 img/s with LATENCY, 10.7 with THROUGHPUT split over its 2 streams (docs/deploy.md).
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from resnetlab.deploy.export import (
    INPUT_NAME,
    META_KEY,
    OUTPUT_NAME,
    ExportResult,
    example_inputs,
    reference_logits,
    require,
    shipped_meta,
    staged,
)
from resnetlab.errors import ResnetlabError

# fp32 everywhere: on CPUs with AMX or AVX512-BF16 the plugin would pick bf16 by itself, and
# the export check and the engines' agreement with PyTorch are about the same arithmetic.
_PRECISION = "f32"


def weights_file(xml: str | Path) -> Path:
    """The ``.bin`` that OpenVINO reads beside ``xml``."""
    return Path(xml).with_suffix(".bin")


def read_openvino(path: str | Path):
    """The ``openvino.Model`` in an IR file, or a one-line :class:`ResnetlabError` that says
    what is wrong (missing file, not an IR, no weights) and how to get a good one."""
    require("openvino")
    from openvino.frontend import FrontEndManager

    path = Path(path)
    if not path.is_file():
        raise ResnetlabError(f"OpenVINO model {path} does not exist; check the path")
    # The IR frontend alone: Core.read_model would also try every other frontend on a broken
    # file, and TensorFlow's logs a few lines of noise on stderr for it.
    frontend = FrontEndManager().load_by_framework("ir")
    try:
        return frontend.convert(frontend.load(str(path)))
    except Exception as exc:  # OpenVINO raises RuntimeError and its own GeneralFailure
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        why = lines[-1] if lines else type(exc).__name__
        raise ResnetlabError(f"cannot read the OpenVINO model {path} ({why}); export it again "
                             "with 'resnetlab export SOURCE --format openvino'") from None


def read_openvino_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` fields stored in an IR by :func:`export_openvino` (``{}`` if none)."""
    model = read_openvino(path)
    if not model.has_rt_info([META_KEY]):
        return {}
    return json.loads(model.get_rt_info([META_KEY]).astype(str))


def _convert(model: nn.Module, example: torch.Tensor, meta: Mapping[str, Any] | None):
    ov = require("openvino")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # convert_model traces: torch.jit notices
        warnings.simplefilter("ignore", DeprecationWarning)
        converted = ov.convert_model(model, example_input=example,
                                     input=ov.PartialShape([-1, *example.shape[1:]]))
    converted.inputs[0].get_tensor().set_names({INPUT_NAME})
    converted.outputs[0].get_tensor().set_names({OUTPUT_NAME})
    if meta:
        converted.set_rt_info(shipped_meta(meta), [META_KEY])
    return converted


def export_openvino(model: nn.Module, path: str | Path, input_size, *,
                    meta: Mapping[str, Any] | None = None,
                    check_inputs: torch.Tensor | None = None,
                    atol: float = 1e-4) -> ExportResult:
    """Write ``model`` (eval mode, CPU) as OpenVINO IR ``path`` (``.xml``, weights in the
    ``.bin`` beside it) with a dynamic batch axis, then verify it.

    ``input_size`` is ``(C, H, W)``. The IR is read back, run on the CPU in fp32 on
    ``check_inputs`` (normalized images; random ones if ``None``) and compared with PyTorch;
    a difference above ``atol`` raises :class:`ResnetlabError`. Both files are written under
    temp names and renamed into place only after the check passed.
    """
    ov = require("openvino")
    model = model.eval().cpu()
    path = Path(path)
    example = example_inputs(input_size, check_inputs)
    check = check_inputs.float() if check_inputs is not None else example
    with staged(path, weights_file(path)) as tmp:
        # fp16 weight compression is the default of save_model; the check is about fp32
        ov.save_model(_convert(model, example, meta), str(tmp), compress_to_fp16=False)
        diff = float(np.abs(OpenVinoModule(tmp)(check).numpy()
                            - reference_logits(model, check)).max())
        if not diff <= atol:
            raise ResnetlabError(f"the OpenVINO export {path} differs from PyTorch by "
                                 f"{diff:.2e} (> {atol:g}); please report this model")
    return ExportResult(path, "openvino", diff, int(check.shape[0]))


class _Compiled:
    """One compiled model with as many infer requests as its streams; a batch is split over
    them and run at once. The lock makes a call from another thread wait its turn."""

    def __init__(self, compiled) -> None:
        self.model = compiled
        count = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.requests = [compiled.create_infer_request() for _ in range(max(1, count))]
        self.lock = threading.Lock()

    def run(self, array: np.ndarray) -> np.ndarray:
        chunks = np.array_split(array, min(len(self.requests), len(array)))
        with self.lock:
            for request, chunk in zip(self.requests, chunks, strict=False):
                request.start_async({0: chunk})
            outputs = []
            for request in self.requests[:len(chunks)]:
                request.wait()
                outputs.append(request.get_output_tensor(0).data.copy())
        return np.concatenate(outputs)


class OpenVinoModule(nn.Module):
    """An OpenVINO IR run on the CPU, called like the model it was exported from (inference
    only: no gradients, no hooks), so prediction code takes either. ``threads`` caps
    OpenVINO's inference threads (default: one per core)."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.threads = threads
        self._model = read_openvino(self.path)
        self._compiled: dict[str, _Compiled] = {}
        self._compiling = threading.Lock()

    def compiled(self, hint: str) -> _Compiled:
        """The model compiled for performance hint ``hint`` (``LATENCY``/``THROUGHPUT``)."""
        with self._compiling:
            if hint not in self._compiled:
                config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": _PRECISION}
                if self.threads:
                    config["INFERENCE_NUM_THREADS"] = int(self.threads)
                core = require("openvino").Core()
                self._compiled[hint] = _Compiled(core.compile_model(self._model, "CPU", config))
            return self._compiled[hint]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        if not len(array):
            raise ResnetlabError("an empty batch has nothing to predict; pass images")
        hint = "LATENCY" if len(array) == 1 else "THROUGHPUT"
        return torch.from_numpy(self.compiled(hint).run(array))
