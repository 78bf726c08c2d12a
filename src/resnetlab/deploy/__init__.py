"""Shipping models: weights in and out, inference loading, ONNX/TorchScript export, int8.

>>> from resnetlab.deploy import load_for_inference, export_onnx, fold_batchnorm
>>> model, meta = load_for_inference("resnet50-0676ba61.pth", "resnet50")   # doctest: +SKIP
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
from resnetlab.deploy.fetch import cache_dir, fetch
from resnetlab.deploy.fold_bn import find_conv_bn_pairs, fold_batchnorm
from resnetlab.deploy.images import list_images, load_images, preprocess, read_image
from resnetlab.deploy.inference import load_for_inference
from resnetlab.deploy.preset import IMAGENET_MEAN, IMAGENET_STD, imagenet_classes, imagenet_meta
from resnetlab.deploy.quantize import quantize_onnx
from resnetlab.deploy.weights import LoadReport, load_weights, read_weights, save_weights
from resnetlab.deploy.zoo import TORCHVISION_WEIGHTS, KnownWeights

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TORCHVISION_WEIGHTS",
    "ExportResult",
    "KnownWeights",
    "LoadReport",
    "cache_dir",
    "calibration_images",
    "export_onnx",
    "export_torchscript",
    "fetch",
    "find_conv_bn_pairs",
    "fold_batchnorm",
    "imagenet_classes",
    "imagenet_meta",
    "list_images",
    "load_for_inference",
    "load_images",
    "load_weights",
    "onnx_session",
    "preprocess",
    "quantize_onnx",
    "read_image",
    "read_onnx_meta",
    "read_weights",
    "run_onnx",
    "save_weights",
]
