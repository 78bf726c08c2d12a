"""Shipping models: prediction, ONNX/OpenVINO/TorchScript export, inference engines,
BatchNorm folding, int8.

Models come in through :func:`resnetlab.load_model` (the hub, one floor down):

>>> import resnetlab as rl
>>> from resnetlab.deploy import export_onnx, fold_batchnorm
>>> model, meta = rl.load_model("resnet50-0676ba61.pth", "resnet50")             # doctest: +SKIP
>>> export_onnx(fold_batchnorm(model), "r50.onnx", meta["input_size"], meta=meta)  # +SKIP
"""

from resnetlab.deploy.calibration import calibration_images
from resnetlab.deploy.export import (
    ExportResult,
    export_onnx,
    export_torchscript,
    onnx_session,
    read_onnx_meta,
    run_onnx,
)
from resnetlab.deploy.fold_bn import find_conv_bn_pairs, fold_batchnorm
from resnetlab.deploy.images import expand_images, load_images, preprocess, read_images
from resnetlab.deploy.openvino import OpenVinoModule, export_openvino, read_openvino_meta
from resnetlab.deploy.predict import (
    Guess,
    Prediction,
    predict_files,
    predict_paths,
    predict_tensors,
)
from resnetlab.deploy.quantize import quantize_onnx

__all__ = [
    "ExportResult",
    "Guess",
    "OpenVinoModule",
    "Prediction",
    "calibration_images",
    "export_onnx",
    "export_openvino",
    "expand_images",
    "export_torchscript",
    "find_conv_bn_pairs",
    "fold_batchnorm",
    "load_images",
    "onnx_session",
    "predict_files",
    "predict_paths",
    "predict_tensors",
    "preprocess",
    "quantize_onnx",
    "read_images",
    "read_onnx_meta",
    "read_openvino_meta",
    "run_onnx",
]
