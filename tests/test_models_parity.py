"""torchvision (and timm) checkpoints load strictly into resnetlab models and give equal logits."""

import pytest
import torch
import torchvision

import resnetlab as rl

SHARED = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
          "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]


@pytest.mark.parametrize("name", SHARED)
def test_matches_torchvision_keys_shapes_and_logits(name):
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)(weights=None).eval()
    ours = rl.create_model(name).eval()
    ref_sd, our_sd = reference.state_dict(), ours.state_dict()
    assert list(our_sd) == list(ref_sd)
    assert all(our_sd[k].shape == v.shape for k, v in ref_sd.items())
    # Random BN statistics so the test sees every tensor, not just identity BNs.
    with torch.no_grad():
        for key, value in ref_sd.items():
            if key.endswith("running_var"):
                value.uniform_(0.5, 1.5)
            elif key.endswith(("running_mean", "bias")):
                value.normal_(0, 0.1)
    ours.load_state_dict(ref_sd, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() <= 1e-5


def test_resnet50d_matches_timm_layout():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet50d", pretrained=False).eval()
    ours = rl.create_model("resnet50d").eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() <= 1e-5
