"""Grad-CAM: the map follows the evidence, explains the requested class, leaves grads alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from resnetlab import create_model
from resnetlab.analysis.gradcam import grad_cam, overlay
from resnetlab.errors import ConfigError


class BrightnessNet(nn.Module):
    """Class 0's score is the mean brightness: the evidence is exactly the bright pixels."""

    stage_names = ["features"]

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
        self.fc = nn.Linear(2, 3)
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.zero_()
            self.fc.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def test_cam_lights_up_the_evidence_and_nothing_else():
    x = torch.zeros(1, 1, 16, 16)
    x[..., 2:6, 3:7] = 1.0  # a bright square: the only evidence for class 0
    result = grad_cam(BrightnessNet(), x)
    cam = result.cam
    assert result.class_index == 0
    assert cam.shape == (16, 16)
    assert float(cam.min()) >= 0 and float(cam.max()) == pytest.approx(1.0)
    assert torch.allclose(cam[2:6, 3:7], torch.ones(4, 4))
    assert float(cam[8:, :].max()) == 0.0 and float(cam[:, 9:].max()) == 0.0


def test_default_class_is_the_top_class_and_others_can_be_asked():
    model = create_model("resnet20", num_classes=5).eval()
    x = torch.randn(1, 3, 32, 32)
    top = int(model(x).argmax())
    assert grad_cam(model, x).class_index == top
    other = (top + 1) % 5
    result = grad_cam(model, x, class_index=other)
    assert result.class_index == other and result.layer == "layer3"
    assert result.layer_shape == (64, 8, 8)


def test_parameter_gradients_and_mode_are_untouched():
    model = create_model("resnet20").train()
    grad_cam(model, torch.randn(1, 3, 32, 32))
    assert all(p.grad is None for p in model.parameters())
    assert model.training


def test_bad_inputs_are_config_errors():
    model = create_model("resnet20")
    with pytest.raises(ConfigError):
        grad_cam(model, torch.randn(2, 3, 32, 32))
    with pytest.raises(ConfigError):
        grad_cam(model, torch.randn(1, 3, 32, 32), layer="layer9")


def test_overlay_blends_grey_images_to_rgb():
    image = np.full((8, 8), 128, dtype=np.uint8)
    out = overlay(image, torch.zeros(8, 8))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
