"""Weights in and out: torchvision/timm checkpoints, safetensors, name map, one-line errors."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import torchvision
from torch import nn

import resnetlab
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.models import load_weights, save_weights
from resnetlab.models.hub.statedict import map_keys, read_file

timm = pytest.importorskip("timm")

SMALL = (2, 3, 64, 64)  # logits parity needs no 224 input, only every layer exercised


def _randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine terms, so a swapped or skipped tensor shows."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    return model.eval()


def _logits(model: nn.Module, seed: int = 1) -> torch.Tensor:
    x = torch.randn(*SMALL, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)


def _assert_same_logits(reference: nn.Module, name: str, tmp_path, suffix: str = ".pth") -> None:
    path = tmp_path / f"ref{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    else:
        torch.save(reference.state_dict(), path)
    ours = resnetlab.create_model(name)
    load_weights(ours, path)
    assert torch.allclose(_logits(ours), _logits(reference), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d"])
def test_torchvision_checkpoint_gives_the_same_logits(name, tmp_path):
    reference = _randomize(getattr(torchvision.models, name)(weights=None))
    _assert_same_logits(reference, name, tmp_path)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "resnet50d"])
def test_timm_checkpoint_gives_the_same_logits(name, tmp_path):
    reference = _randomize(timm.create_model(name, pretrained=False))
    _assert_same_logits(reference, name, tmp_path, suffix=".safetensors")


def test_create_model_weights_argument_loads_the_file(tmp_path):
    reference = _randomize(torchvision.models.resnet18(weights=None))
    torch.save(reference.state_dict(), tmp_path / "r18.pth")
    ours = resnetlab.create_model("resnet18", weights=tmp_path / "r18.pth")
    assert torch.allclose(_logits(ours), _logits(reference), atol=1e-5, rtol=0)


def test_training_checkpoint_wrappers_and_prefixes_are_unwrapped(tmp_path):
    reference = _randomize(resnetlab.create_model("resnet20"))
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    # timm's train.py layout: weights under state_dict, arguments in a Namespace.
    torch.save({"epoch": 3, "state_dict": state, "args": argparse.Namespace(lr=0.1)},
               tmp_path / "ckpt.pth")
    ours = resnetlab.create_model("resnet20")
    load_weights(ours, tmp_path / "ckpt.pth")
    assert torch.equal(_logits(ours), _logits(reference))


@pytest.mark.parametrize("head", ["head.fc.", "classifier.", "last_linear."])
def test_foreign_classifier_names_map_to_fc(head):
    state = {"conv1.weight": torch.zeros(1), f"{head}weight": torch.zeros(2)}
    assert set(map_keys(state)) == {"conv1.weight", "fc.weight"}


def test_checkpoint_without_bn_counters_still_loads_strictly():
    reference = _randomize(resnetlab.create_model("resnet20"))
    state = {k: v for k, v in reference.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    ours = resnetlab.create_model("resnet20")
    load_weights(ours, state)
    assert torch.equal(_logits(ours), _logits(reference))


def test_wrong_architecture_names_the_first_mismatching_key(tmp_path):
    torch.save(resnetlab.create_model("resnet18").state_dict(), tmp_path / "r18.pth")
    with pytest.raises(CheckpointError) as info:
        load_weights(resnetlab.create_model("resnet50"), tmp_path / "r18.pth")
    message = str(info.value)
    assert "\n" not in message
    assert "layer1.0.conv1.weight" in message and "resnet18" in message


def test_missing_block_is_reported_as_missing_key():
    state = resnetlab.create_model("resnet20").state_dict()
    with pytest.raises(CheckpointError, match=r"layer1\.3\.conv1\.weight is missing"):
        load_weights(resnetlab.create_model("resnet20", depth=32), state)


def test_other_class_count_suggests_num_classes_or_non_strict():
    state = resnetlab.create_model("resnet20", num_classes=100).state_dict()
    model = resnetlab.create_model("resnet20")
    with pytest.raises(CheckpointError, match="100 classes"):
        load_weights(model, state)
    fc_before = model.fc.weight.clone()
    report = load_weights(model, state, strict=False)
    assert report.mismatched == ["fc.weight", "fc.bias"]
    assert torch.equal(model.fc.weight, fc_before)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_file_gives_one_line_error(tmp_path, suffix):
    model = resnetlab.create_model("resnet20")
    whole = tmp_path / f"whole{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), whole)
    else:
        save_weights(model, whole, {"classes": list("abcdefghij"), "mean": [0.5] * 3,
                                    "std": [0.25] * 3, "input_size": [3, 32, 32]})
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        read_file(cut)
    assert "\n" not in str(info.value)


def test_pickled_objects_are_refused_not_executed(tmp_path):
    torch.save(resnetlab.create_model("resnet20"), tmp_path / "whole_model.pth")
    with pytest.raises(CheckpointError, match="never executes code"):
        read_file(tmp_path / "whole_model.pth")


def test_save_weights_round_trips_through_safetensors_and_model_json(tmp_path):
    model = _randomize(resnetlab.create_model("resnet20", num_classes=3))
    meta = {"classes": ["a", "b", "c"], "mean": [0.5] * 3, "std": [0.2] * 3,
            "input_size": [3, 32, 32]}
    weights, meta_path = save_weights(model, tmp_path / "out", meta)
    assert weights.name == "model.safetensors" and meta_path.name == "model.json"
    written = json.loads(meta_path.read_text())
    assert written["model"] == "resnet20" and written["num_classes"] == 3
    loaded, loaded_meta = resnetlab.load_model(tmp_path / "out")
    assert loaded_meta["classes"] == ["a", "b", "c"]
    assert torch.equal(_logits(loaded), _logits(model))


def test_save_weights_without_class_names_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="classes"):
        save_weights(resnetlab.create_model("resnet20"), tmp_path / "m.safetensors")
