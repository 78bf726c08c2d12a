"""int8 post-training quantization of an exported ONNX model with onnxruntime.

Static quantization in QDQ form: weights int8 per output channel, activations uint8 per tensor
with ranges observed on calibration images (a few hundred suffice for a ResNet). onnxruntime
fuses the QuantizeLinear/DequantizeLinear pairs around each conv into integer kernels at load
time. Before calibration the graph goes through onnxruntime's pre-processing (shape inference
and graph optimisation), as its documentation recommends.

Choices that matter for accuracy on x86 (measured in docs/benchmarks.md, "Export and int8"):

- uint8 activations x int8 weights: the fast kernels on x86 (int8 x int8 ran slower than fp32
  on an AVX2 CPU). Without VNNI they multiply with an instruction that saturates 16-bit
  intermediate sums when large activations meet large weights (onnxruntime's quantization
  guide). That happens mostly in the first convolution, whose input uses the whole 0..255
  range; hence
- ``keep_float_ends``: the first convolution (3 input channels, little compute) and the
  classifier (whose rounding goes straight into the logits) stay in float, the usual
  mixed-precision choice. With them in float, full-range weights were more accurate than
  ``reduce_range`` (7-bit weights, the guide's other remedy), which stays available.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from resnetlab.deploy.export import META_KEY, require
from resnetlab.errors import ConfigError

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def _even_batch_size(n: int, at_most: int) -> int:
    """The largest batch size <= ``at_most`` that splits ``n`` images into equal batches
    (onnxruntime's histogram calibrators stack batches, so they must share one shape)."""
    return max(d for d in range(1, max(1, min(at_most, n)) + 1) if n % d == 0)


def _float_ends(model_path: Path) -> list[str]:
    """Names of the first Conv and the last Gemm/MatMul nodes of the graph."""
    onnx = require("onnx")
    nodes = onnx.load(str(model_path), load_external_data=False).graph.node
    convs = [n.name for n in nodes if n.op_type == "Conv"]
    heads = [n.name for n in nodes if n.op_type in ("Gemm", "MatMul")]
    return convs[:1] + heads[-1:]


def _reader(calibration: torch.Tensor, input_name: str, batch_size: int):
    quantization = require("onnxruntime.quantization")

    class _Batches(quantization.CalibrationDataReader):
        """Feeds the calibration images to onnxruntime's calibrator batch by batch."""

        def __init__(self) -> None:
            data = calibration.detach().float().cpu().numpy()
            self._batches = iter([data[i:i + batch_size]
                                  for i in range(0, len(data), batch_size)])

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: np.ascontiguousarray(batch)}

    return _Batches()


def _copy_meta(src: Path, dst: Path) -> None:
    onnx = require("onnx")
    source = onnx.load(str(src), load_external_data=False)
    target = onnx.load(str(dst))
    present = {p.key for p in target.metadata_props}
    for prop in source.metadata_props:
        if prop.key == META_KEY and prop.key not in present:
            target.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(target, str(dst))


def quantize_onnx(fp32_path: str | Path, out_path: str | Path, calibration: torch.Tensor, *,
                  method: str = "minmax", per_channel: bool = True, reduce_range: bool = False,
                  keep_float_ends: bool = True, batch_size: int = 32) -> Path:
    """Write an int8 (QDQ) copy of ``fp32_path`` calibrated on ``calibration``.

    ``calibration`` is an ``N x C x H x W`` batch of normalized images, as the model takes them.
    ``keep_float_ends`` leaves the first conv and the classifier in float; ``reduce_range``
    quantizes weights to 7 bits (both against saturation on x86 without VNNI; module doc).
    Returns ``out_path``.
    """
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; choose one of "
                          f"{', '.join(CALIBRATION_METHODS)}")
    if len(calibration) == 0:
        raise ConfigError("no calibration images; pass a folder or dataset with images")
    quantization = require("onnxruntime.quantization")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        onnx = require("onnx")
        input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
        batches = _reader(calibration, input_name, _even_batch_size(len(calibration), batch_size))
        quantization.quantize_static(
            str(prepared), str(out_path), batches,
            nodes_to_exclude=_float_ends(prepared) if keep_float_ends else None,
            quant_format=quantization.QuantFormat.QDQ,
            activation_type=quantization.QuantType.QUInt8,
            weight_type=quantization.QuantType.QInt8,
            per_channel=per_channel, reduce_range=reduce_range,
            calibrate_method={"minmax": quantization.CalibrationMethod.MinMax,
                              "entropy": quantization.CalibrationMethod.Entropy,
                              "percentile": quantization.CalibrationMethod.Percentile}[method],
        )
    _copy_meta(fp32_path, out_path)
    return out_path
