"""Model cards are data (``assets/cards.json``): they must match fresh measurements and counts
taken on the built models by other means (``numel`` of every parameter, torchinfo's mult-adds)."""

from __future__ import annotations

import pytest
import torch

import resnetlab as rl
from resnetlab.analysis.cards import measure_card
from resnetlab.models.cards import get_card
from resnetlab.models.registry import get_variant


@pytest.mark.parametrize("name", rl.list_models())
def test_stored_card_equals_a_fresh_measurement(name):
    assert get_card(name) == measure_card(name), "run 'python scripts/make_cards.py'"


@pytest.mark.parametrize("name", rl.list_models())
def test_card_params_count_every_parameter_of_the_built_model(name):
    with torch.device("meta"):  # full depth, no memory
        model = rl.create_model(name)
    assert get_card(name).params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet56", "plain20",
                                  "preact_resnet110", "resnet18_cifar"])
def test_card_macs_equal_torchinfo_on_the_full_model(name):
    torchinfo = pytest.importorskip("torchinfo")
    if name not in rl.list_models():
        pytest.fail(f"{name} is not registered; update this test's list")
    model = rl.create_model(name)
    size = (1, *get_variant(name).input_size)
    assert get_card(name).macs == torchinfo.summary(model, input_size=size,
                                                    verbose=0).total_mult_adds


def test_reading_a_card_needs_no_torch():
    import subprocess
    import sys

    code = ("import sys, resnetlab.models.cards as c; c.get_card('resnet1202'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
