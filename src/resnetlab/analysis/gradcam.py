"""Grad-CAM (Selvaraju et al. 2017, arXiv:1610.02391): where does the network look?

For a class ``c`` and the feature maps ``A^k`` of a layer, the weights are the spatially
averaged gradients ``alpha_k = mean_ij dy_c / dA^k_ij`` and the map is
``ReLU(sum_k alpha_k A^k)``, upsampled to the input. A forward hook keeps the activations and
``torch.autograd.grad`` their gradient: a dozen lines, so no dependency on pytorch-grad-cam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnetlab.errors import ConfigError


@dataclass
class GradCam:
    """A class activation map (``H × W`` in [0, 1], input resolution) and what it explains."""

    cam: torch.Tensor
    class_index: int
    probability: float
    layer: str
    layer_shape: tuple[int, ...]


def default_layer(model: nn.Module) -> str:
    """The last stage (``layer4`` / ``layer3``): the last spatial map before pooling."""
    names = getattr(model, "stage_names", None)
    if not names:
        raise ConfigError(f"{type(model).__name__} has no stages; pass a resnetlab model")
    return names[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str | None = None,
             class_index: int | None = None) -> GradCam:
    """Grad-CAM of ``class_index`` (default: the top class) for a single image ``x`` (1×C×H×W).

    The model is evaluated in eval mode; its parameter gradients are left untouched.
    """
    if x.dim() != 4 or x.shape[0] != 1:
        raise ConfigError(f"grad_cam takes one image (1×C×H×W), got {tuple(x.shape)}")
    layer = layer or default_layer(model)
    target = dict(model.named_modules()).get(layer)
    if target is None:
        raise ConfigError(f"no layer {layer!r} in the model; pass e.g. {default_layer(model)!r}")
    store: dict[str, torch.Tensor] = {}

    def forward_hook(_module, _args, out):
        store["act"] = out

    was_training = model.training
    model.eval()
    handle = target.register_forward_hook(forward_hook)
    try:
        with torch.enable_grad():
            # The input asks for gradients so that frozen models work too.
            logits = model(x.detach().requires_grad_(True))
            index = int(logits.argmax(dim=1)) if class_index is None else int(class_index)
            if not 0 <= index < logits.shape[1]:
                raise ConfigError(f"class index {index} is outside 0..{logits.shape[1] - 1}")
            # autograd.grad, unlike backward(), leaves every parameter's .grad untouched.
            (grad,) = torch.autograd.grad(logits[0, index], store["act"])
    finally:
        handle.remove()
        model.train(was_training)
    act = store["act"].detach()
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else cam
    probability = float(torch.softmax(logits.detach(), dim=1)[0, index])
    return GradCam(cam, index, probability, layer, tuple(int(d) for d in act.shape[1:]))


def overlay(image: np.ndarray, cam: torch.Tensor, alpha: float = 0.45,
            colormap: str = "jet") -> np.ndarray:
    """Blend a heatmap over an image: uint8 H×W(×3) image, [0, 1] map → uint8 H×W×3."""
    from matplotlib import colormaps

    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    heat = colormaps[colormap](cam.detach().cpu().numpy())[..., :3]
    blended = (1 - alpha) * rgb.astype(np.float64) / 255.0 + alpha * heat
    return (np.clip(blended, 0, 1) * 255).round().astype(np.uint8)
