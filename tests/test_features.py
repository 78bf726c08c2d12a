"""Backbone features: stage outputs and timm-style ``feature_info``."""

from __future__ import annotations

import pytest
import torch

import resnetlab
from resnetlab.errors import ConfigError
from resnetlab.models import load_weights
from resnetlab.models.features import FeatureExtractor


def _features(name: str, out_indices=None, **kwargs) -> FeatureExtractor:
    return FeatureExtractor(resnetlab.create_model(name, **kwargs), out_indices).eval()


@pytest.mark.parametrize("name, channels", [
    ("resnet18", [64, 128, 256, 512]),
    ("resnet50", [256, 512, 1024, 2048]),
])
def test_imagenet_stage_outputs_at_224(name, channels):
    extractor = _features(name, out_indices=(1, 2, 3, 4))
    with torch.no_grad():
        maps = extractor(torch.randn(1, 3, 224, 224))
    assert [m.shape[1] for m in maps] == channels == extractor.feature_info.channels()
    assert [m.shape[-1] for m in maps] == [56, 28, 14, 7]
    assert extractor.feature_info.reduction() == [4, 8, 16, 32]
    assert extractor.feature_info.module_name() == ["layer1", "layer2", "layer3", "layer4"]


def test_cifar_resnet56_stages_at_32():
    extractor = _features("resnet56", out_indices=(0, 1, 2, 3))
    with torch.no_grad():
        maps = extractor(torch.randn(2, 3, 32, 32))
    assert [tuple(m.shape[1:]) for m in maps] == [(16, 32, 32), (16, 32, 32), (32, 16, 16),
                                                  (64, 8, 8)]
    assert extractor.feature_info.reduction() == [1, 1, 2, 4]
    assert extractor.feature_info[0]["num_chs"] == 16


def test_reductions_match_the_real_map_sizes():
    extractor = _features("resnet50d", out_indices=(0, 1, 2, 3, 4))
    with torch.no_grad():
        maps = extractor(torch.randn(1, 3, 64, 64))
    assert [64 // m.shape[-1] for m in maps] == extractor.feature_info.reduction()


def test_feature_info_matches_timm():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet50", features_only=True, out_indices=(0, 1, 2, 3, 4))
    ours = _features("resnet50", out_indices=(0, 1, 2, 3, 4))
    assert ours.feature_info.channels() == reference.feature_info.channels()
    assert ours.feature_info.reduction() == reference.feature_info.reduction()


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet50d"])
def test_default_out_indices_are_timms_stem_and_every_stage(name):
    """Code written for ``timm.create_model(name, features_only=True)`` works unchanged: same
    default indices, channels, strides and map shapes."""
    timm = pytest.importorskip("timm")
    reference = timm.create_model(name, features_only=True).eval()
    ours = resnetlab.create_model(name, features_only=True).eval()
    assert isinstance(ours, FeatureExtractor)
    assert list(ours.out_indices) == list(reference.feature_info.out_indices)
    assert ours.feature_info.channels() == reference.feature_info.channels()
    assert ours.feature_info.reduction() == reference.feature_info.reduction()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert [m.shape for m in ours(x)] == [m.shape for m in reference(x)]


def test_timm_feature_weights_give_the_same_maps():
    timm = pytest.importorskip("timm")
    reference = timm.create_model("resnet18", features_only=True, out_indices=(1, 2, 3)).eval()
    ours = _features("resnet18", out_indices=(1, 2, 3))
    load_weights(ours, reference.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), reference(x), strict=True):
            assert torch.allclose(a, b, atol=1e-5, rtol=0)


def test_extractor_keeps_only_what_it_needs_and_loads_classifier_weights():
    full = resnetlab.create_model("resnet18")
    extractor = _features("resnet18", out_indices=(1, 2))
    assert not hasattr(extractor, "layer3") and not hasattr(extractor, "fc")
    load_weights(extractor, full.state_dict())  # strict: fc and layer3/4 are expected extras
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = full.eval().stage_outputs(x)[1:3]
        for a, b in zip(extractor(x), expected, strict=True):
            assert torch.equal(a, b)


def test_preact_last_stage_is_normalised_like_forward_features():
    model = resnetlab.create_model("preact_resnet110", depth=20).eval()
    extractor = FeatureExtractor(model, out_indices=(-1,))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(extractor(x)[0], model.forward_features(x))
    assert extractor.feature_info.module_name() == ["final_relu"]


def test_out_of_range_index_is_a_config_error():
    with pytest.raises(ConfigError, match="0 \\(stem\\) to 3"):
        _features("resnet56", out_indices=(1, 2, 3, 4))


def test_create_model_features_only_with_weights(tmp_path):
    full = resnetlab.create_model("resnet18").eval()
    torch.save(full.state_dict(), tmp_path / "r18.pth")
    extractor = resnetlab.create_model("resnet18", features_only=True, out_indices=(1, 2, 3, 4),
                                       weights=tmp_path / "r18.pth").eval()
    assert extractor.feature_info.channels() == [64, 128, 256, 512]
    assert extractor.feature_info.reduction() == [4, 8, 16, 32]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        c5 = extractor(x)[-1]
        assert torch.equal(c5, full.forward_features(x))


def test_out_indices_without_features_only_is_a_config_error():
    with pytest.raises(ConfigError, match="features_only"):
        resnetlab.create_model("resnet18", out_indices=(1,))
