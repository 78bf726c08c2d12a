"""The lab's own model (LeNet-5) and the family table come out as documented."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnetlab import create_model
from resnetlab.lab.depth import family_table
from resnetlab.lab.lenet import lenet5


@pytest.mark.parametrize("batchnorm", [False, True])
def test_lenet5_shapes_and_batchnorm_placement(batchnorm):
    model = lenet5(10, 1, batchnorm)
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    norms = [m for m in model if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
    assert len(norms) == (4 if batchnorm else 0)
    assert sum(isinstance(m, nn.Sigmoid) for m in model) == 4
    if batchnorm:  # BN sits between each conv/linear and its sigmoid
        layers = list(model)
        for i, m in enumerate(layers):
            if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
                assert isinstance(layers[i - 1], nn.Conv2d | nn.Linear)
                assert isinstance(layers[i + 1], nn.Sigmoid)


def test_family_table_counts_match_the_built_models():
    """The table's figures are checked against the models themselves, not against the cards
    it is made from: parameters by ``numel``, MACs by torchinfo on the full-depth model."""
    torchinfo = pytest.importorskip("torchinfo")
    rows = {r["name"]: r for r in family_table()}
    for name in ("resnet18", "resnet152", "resnet20", "resnet1202", "preact_resnet164"):
        with torch.device("meta"):
            model = create_model(name)
        assert rows[name]["params"] == sum(p.numel() for p in model.parameters())
    for name in ("resnet20", "resnet18"):  # small enough for a real forward pass here
        size = (1, *rows[name]["input_size"])
        macs = torchinfo.summary(create_model(name), input_size=size, verbose=0).total_mult_adds
        assert rows[name]["macs"] == macs
    assert rows["resnet50"]["block"] == "bottleneck" and rows["resnet34"]["block"] == "basic"
    cifar = sorted((r for r in rows.values() if r["family"] == "cifar"), key=lambda r: r["depth"])
    assert [r["depth"] for r in cifar] == [20, 32, 44, 56, 110, 1202]
    # fixed widths: parameters grow with depth
    assert all(a["params"] < b["params"] for a, b in zip(cifar, cifar[1:], strict=False))
