"""Gradient-flow measurements: what they count, and the plain-vs-residual contrast at init."""

from __future__ import annotations

import math

import pytest
import torch

from resnetlab import create_model
from resnetlab.analysis.gradients import gradient_norms, main_path_convs
from resnetlab.lab import run_experiment


def batch(n=8, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("name", ["resnet20", "plain20"])
def test_one_norm_per_main_path_conv_and_per_block(name):
    model = create_model(name).train()
    report = gradient_norms(model, *batch())
    depth = 20
    assert len(report.conv_grad_norms) == depth - 1  # every weighted layer but the classifier
    assert len(report.block_grad_rms) == (depth - 2) // 2
    assert all(v > 0 and math.isfinite(v) for v in report.conv_grad_norms)
    # the measurement leaves no gradients behind
    assert all(p.grad is None for p in model.parameters())


def test_shortcut_projections_are_not_main_path_convs():
    model = create_model("resnet18", layers=(1, 1, 1, 1))
    names = [n for n, _ in main_path_convs(model)]
    assert not any("downsample" in n for n in names)
    assert len(names) == 1 + 4 * 2


def test_conv_norms_match_autograd_directly():
    torch.manual_seed(0)
    model = create_model("resnet20").train()
    x, y = batch()
    report = gradient_norms(model, x, y)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    first = model.conv1.weight.grad.norm().item()
    assert report.conv_grad_norms[0] == pytest.approx(first, rel=1e-5)


def test_plain_net_gradient_ratio_departs_from_one_by_orders_more_than_resnet(tmp_path):
    result, _ = run_experiment("gradient-flow", tmp_path, quick=True, seed=0,
                               depths=(20, 110), steps=0)
    nets = result.results["networks"]
    plain = abs(math.log10(nets["plain-110"]["first_last_ratio_init"]))
    residual = abs(math.log10(nets["resnet-110"]["first_last_ratio_init"]))
    # BN-plain-110 at init: several orders of magnitude; ResNet-110: within ~1.5 orders.
    assert plain > 4
    assert residual < 2
    assert plain > residual + 3
    # the same contrast in the gradient reaching the blocks
    plain_blocks = abs(math.log10(nets["plain-110"]["block_first_last_ratio_init"]))
    residual_blocks = abs(math.log10(nets["resnet-110"]["block_first_last_ratio_init"]))
    assert plain_blocks > residual_blocks + 2
    assert result.results["steps"] == 0
