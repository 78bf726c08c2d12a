"""The blocks compute what the papers say: shortcut kinds, plain nets, pre-activation."""

import pytest
import torch

import resnetlab as rl
from resnetlab.models import BasicBlock, BottleneckBlock, PreActBasicBlock, ZeroPadShortcut


def _zero_residual_branch(block):
    """Make F(x) == 0 for an original (post-activation) block by zeroing its last BN."""
    bn = block.last_bn()
    torch.nn.init.zeros_(bn.weight)
    torch.nn.init.zeros_(bn.bias)


@pytest.mark.parametrize("name,expect_zero", [("plain20", True), ("resnet20", False)])
def test_plain_net_has_no_identity_path(name, expect_zero):
    model = rl.create_model(name).eval()
    block = model.layer2[1]
    _zero_residual_branch(block)
    x = torch.rand(2, block.in_channels, 16, 16)  # non-negative, like a post-ReLU input
    out = block(x)
    assert torch.count_nonzero(out).item() == 0 if expect_zero else torch.equal(out, x)


def test_plain_net_has_no_shortcut_modules():
    model = rl.create_model("plain56")
    assert all(not m.has_skip and m.downsample is None for m in model.modules()
               if isinstance(m, BasicBlock))


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2]) and not y[:, 16:].any()
    assert sum(p.numel() for p in ZeroPadShortcut(16, 32, 2).parameters()) == 0


@pytest.mark.parametrize("kind,projections", [("A", 0), ("B", 2), ("C", 9)])
def test_shortcut_kind_decides_where_projections_are(kind, projections):
    model = rl.create_model("resnet20", shortcut=kind)
    convs = [m for m in model.modules()
             if isinstance(m, BasicBlock) and isinstance(m.downsample, torch.nn.Sequential)]
    assert len(convs) == projections


def test_block_forward_is_activation_of_residual_plus_shortcut():
    for block in (BasicBlock(16, 32, 2, "B"), BottleneckBlock(64, 32, 2, "B"),
                  PreActBasicBlock(16, 32, 2, "B-nobn")):
        block.eval()
        x = torch.randn(2, block.in_channels, 8, 8)
        expected = block.post(block.residual(x) + block.shortcut(x))
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_preact_block_has_no_relu_after_sum():
    block = PreActBasicBlock(8, 8, 1).eval()
    out = block(torch.randn(4, 8, 6, 6) - 3.0)
    assert (out < 0).any()


def test_zero_init_residual_makes_blocks_identity_at_start():
    model = rl.create_model("resnet18_cifar", zero_init_residual=True).eval()
    block = model.layer1[0]
    x = torch.rand(1, 64, 8, 8)
    assert torch.equal(block(x), x)


def test_wide_resnet_dropout_active_only_in_training():
    model = rl.create_model("wrn_16_8", dropout=0.3, num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_resnext_uses_grouped_convs():
    model = rl.create_model("resnext29_8x64d")
    assert model.layer1[0].conv2.groups == 8 and model.layer1[0].conv2.in_channels == 512


def test_forward_features_and_head_compose_forward():
    model = rl.create_model("preact_resnet164").eval()
    x = torch.randn(1, 3, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (1, 256, 8, 8)
    assert torch.allclose(model.forward_head(feats), model(x))
    assert model.forward_head(feats, pre_logits=True).shape == (1, 256)
