"""The residual-block anatomy check: exact for every block type, and able to fail."""

from __future__ import annotations

import pytest
import torch

from resnetlab import create_model
from resnetlab.analysis.residual import block_input, block_names, dissect_block, get_block
from resnetlab.errors import ConfigError
from resnetlab.models import BasicBlock, BottleneckBlock, PreActBasicBlock, PreActBottleneckBlock

SMALL = {"layers": (1, 1, 1), "widths": (8, 16, 32)}
CASES = [
    ("resnet20", {}, "layer2.0", BasicBlock),  # zero-pad shortcut (A)
    ("resnet18", {"layers": (1, 1, 1, 1)}, "layer2.0", BasicBlock),  # projection (B)
    ("resnet50", {"layers": (1, 1, 1, 1), "widths": (8, 16, 32, 64)}, "layer3.0",
     BottleneckBlock),
    ("preact_resnet110", SMALL, "layer2.0", PreActBasicBlock),
    ("preact_resnet164", SMALL, "layer1.0", PreActBottleneckBlock),
    ("plain20", {}, "layer1.1", BasicBlock),  # no shortcut at all
]


def anatomy_of(name, overrides, block_name, size=32):
    torch.manual_seed(0)
    model = create_model(name, **overrides).eval()
    block = get_block(model, block_name)
    x = torch.randn(2, 3, size, size)
    return block, dissect_block(block, block_input(model, block, x))


@pytest.mark.parametrize(("name", "overrides", "block_name", "kind"), CASES)
def test_forward_equals_post_of_residual_plus_shortcut(name, overrides, block_name, kind):
    block, anatomy = anatomy_of(name, overrides, block_name)
    assert isinstance(block, kind)
    assert anatomy.allclose, anatomy.max_abs_diff
    assert torch.allclose(anatomy.own_output, anatomy.output, rtol=0, atol=1e-6)
    # the sum is kept before post: for ReLU blocks, negatives survive in the sum only
    if not block.preactivation:
        assert (anatomy.total < 0).any() and (anatomy.output >= 0).all()
    else:
        assert torch.equal(anatomy.total, anatomy.output)


def test_plain_block_has_no_shortcut_tensor():
    _, anatomy = anatomy_of("plain20", {}, "layer1.1")
    assert anatomy.shortcut is None


def _forward_skip_added_after_relu(self, x):
    return self.post(self.residual(x)) + self.shortcut(x)


def _forward_without_skip(self, x):
    return self.post(self.residual(x))


@pytest.mark.parametrize("wrong_forward", [_forward_skip_added_after_relu, _forward_without_skip])
def test_check_fails_when_the_block_is_wired_wrongly(monkeypatch, wrong_forward):
    monkeypatch.setattr(BasicBlock, "forward", wrong_forward)
    _, anatomy = anatomy_of("resnet20", {}, "layer2.0")
    assert not anatomy.allclose
    assert anatomy.max_abs_diff > 1e-3


def test_check_fails_when_a_preactivation_shortcut_is_miswired(monkeypatch):
    # PreAct forward inlines its shortcut; a shortcut() that adds the wrong signal is caught.
    torch.manual_seed(0)
    model = create_model("preact_resnet110", **SMALL).eval()
    block = get_block(model, "layer2.0")
    x = block_input(model, block, torch.randn(2, 3, 32, 32))
    monkeypatch.setattr(block, "shortcut", lambda t: block.downsample(t))  # skips BN-ReLU
    assert not dissect_block(block, x).allclose


def test_lab_residual_reports_failure_through_the_cli(monkeypatch, tmp_path, capsys):
    from resnetlab.cli import main

    monkeypatch.setattr(BasicBlock, "forward", _forward_without_skip)
    code = main(["lab", "residual", "--quick", "--model", "resnet20", "--out", str(tmp_path)])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_unknown_block_name_lists_valid_ones():
    model = create_model("resnet20")
    assert block_names(model)[:2] == ["layer1.0", "layer1.1"]
    with pytest.raises(ConfigError, match="layer1.0"):
        get_block(model, "layer9.9")
