"""What runs the predictions: the eager PyTorch model, or its export run by onnxruntime or
OpenVINO (``--engine onnx|openvino``).

The engines are deploy's (:mod:`resnetlab.deploy.engines`), the ones predict, eval and embed
use too; the server gives each model a folder for its exported file in a temporary directory
deleted with the registry. Explanations (Grad-CAM, feature maps, block anatomy) keep using the
eager model, which they hook into.
"""

from resnetlab.deploy.engines import ENGINES, make_engine

__all__ = ["ENGINES", "make_engine"]
