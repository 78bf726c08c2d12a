"""Per-layer summary: parity with torchinfo, the table, the JSON form and the CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torchinfo
import torchvision
from torch import nn
from torch.nn.utils import prune

import resnetlab
from resnetlab.analysis import count_macs_total, count_params, summary
from resnetlab.cli import main
from resnetlab.errors import ConfigError

IMAGENET = (1, 3, 224, 224)
CIFAR = (1, 3, 32, 32)


@pytest.fixture(scope="module")
def resnet18() -> nn.Module:
    return torchvision.models.resnet18()


@pytest.fixture(scope="module")
def resnet18_summary(resnet18):
    return summary(resnet18, IMAGENET)


def _reference_models():
    yield "resnet18", torchvision.models.resnet18, IMAGENET
    yield "resnet50", torchvision.models.resnet50, IMAGENET
    yield "resnet56", lambda: resnetlab.create_model("resnet56"), CIFAR


@pytest.mark.parametrize(("name", "build", "size"), list(_reference_models()))
def test_totals_equal_torchinfo(name, build, size):
    model = build()
    ours = summary(model, size)
    ref = torchinfo.summary(model, input_size=size, verbose=0)
    assert ours.total_params == ref.total_params
    assert ours.trainable_params == ref.trainable_params
    assert ours.total_macs == ref.total_mult_adds


def test_macs_scale_with_batch_like_torchinfo(resnet18):
    ref = torchinfo.summary(resnet18, input_size=(2, 3, 64, 64), verbose=0)
    assert count_macs_total(resnet18, (2, 3, 64, 64)) == ref.total_mult_adds


@pytest.mark.parametrize(
    ("build", "weights"),
    [
        (torchvision.models.resnet18, torchvision.models.ResNet18_Weights.IMAGENET1K_V1),
        (torchvision.models.resnet50, torchvision.models.ResNet50_Weights.IMAGENET1K_V1),
    ],
)
def test_macs_match_torchvision_published_figures(build, weights):
    # torchvision's weight metadata lists GMACs at 224x224 under "_ops" (1.814 / 4.089).
    published = weights.meta["_ops"] * 1e9
    with torch.device("meta"):  # counting needs shapes only
        model = build()
    assert count_macs_total(model, IMAGENET, device="meta") == pytest.approx(published, rel=0.01)


def test_first_row_is_the_stem_conv_and_last_the_classifier(resnet18_summary):
    first, last = resnet18_summary.rows[0], resnet18_summary.rows[-1]
    assert (first.type, first.name, first.label) == ("Conv2d", "conv1", "Conv2d-1")
    assert first.output_shape == (1, 64, 112, 112)
    assert first.params == 7 * 7 * 3 * 64
    assert (last.type, last.name) == ("Linear", "fc")
    assert last.params == 512 * 1000 + 1000
    assert last.label == f"Linear-{len(resnet18_summary.rows)}"


def test_table_shows_rows_with_batch_as_minus_one_and_totals(resnet18, resnet18_summary):
    table = str(resnet18_summary)
    lines = table.splitlines()
    assert lines[1].split()[:2] == ["Layer", "(type)"]
    first_row = lines[3]
    assert first_row.split()[:2] == ["Conv2d-1", "conv1"]
    assert "[-1, 64, 112, 112]" in first_row and "9,408" in first_row
    assert f"Total params: {sum(p.numel() for p in resnet18.parameters()):,}" in table
    assert "Total params: 11,689,512" in table  # torchvision's published count
    assert f"({resnet18_summary.total_macs:,})" in table
    assert len({len(line) for line in (lines[0], lines[2], lines[-1])}) == 1


def test_shared_module_gives_one_row_per_call_but_params_once():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x))

    model = Twice()
    s = summary(model, (2, 4))
    assert [r.name for r in s.rows] == ["fc", "fc"]
    assert [r.repeat for r in s.rows] == [False, True]
    assert s.total_params == 20
    assert s.total_macs == 2 * s.rows[0].macs
    assert s.total_macs == torchinfo.summary(model, input_size=(2, 4), verbose=0).total_mult_adds


def test_torchvision_basicblock_relu_appears_once_per_call(resnet18_summary):
    names = [r.name for r in resnet18_summary.rows]
    assert names.count("layer1.0.relu") == 2


def test_pruned_weights_count_only_unmasked_entries_like_torchinfo():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 5))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    s = summary(model, (1, 3, 8, 8))
    ref = torchinfo.summary(model, input_size=(1, 3, 8, 8), verbose=0)
    assert s.total_params == ref.total_params < sum(p.numel() for p in model.parameters())
    assert s.total_macs == ref.total_mult_adds


def test_depth_collapses_containers_and_keeps_totals(resnet18, resnet18_summary):
    shallow = summary(resnet18, IMAGENET, depth=1)
    assert all("." not in r.name for r in shallow.rows)
    assert [r.name for r in shallow.rows if r.type == "Sequential"] == [
        "layer1",
        "layer2",
        "layer3",
        "layer4",
    ]
    assert shallow.total_macs == resnet18_summary.total_macs
    assert shallow.total_params == resnet18_summary.total_params
    with pytest.raises(ConfigError, match="depth 0"):
        summary(resnet18, IMAGENET, depth=0)


def test_training_mode_restored_per_module_and_hooks_removed():
    model = torchvision.models.resnet18()
    model.train()
    model.bn1.eval()  # a mixed setting (frozen BN) must survive too
    summary(model, (1, 3, 64, 64))
    assert model.training and model.layer1[0].bn1.training
    assert not model.bn1.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_forward_error_propagates_and_still_restores_state():
    model = torchvision.models.resnet18().train()
    with pytest.raises(RuntimeError):
        summary(model, (1, 1, 64, 64))  # wrong channel count
    assert model.training
    assert not model.conv1._forward_hooks


def test_to_dict_is_json_and_consistent(resnet18, resnet18_summary):
    data = json.loads(json.dumps(resnet18_summary.to_dict()))
    assert data["total_params"] == count_params(resnet18)
    assert data["total_macs"] == sum(row["macs"] for row in data["rows"])
    assert data["rows"][0]["output_shape"] == [1, 64, 112, 112]
    layers = [row for row in data["rows"] if not row["container"]]  # block rows: no own tensor
    assert data["activation_bytes"] == sum(row["output_bytes"] for row in layers)
    assert [row["formula"] for row in data["rows"]][:2] == ["64 × 3 × 7 × 7", "64 × 2"]
    assert data["input_bytes"] == 3 * 224 * 224 * 4


def test_bad_input_size_is_a_config_error(resnet18):
    with pytest.raises(ConfigError, match="input size"):
        summary(resnet18, (1, 3, 0, 224))


def test_cli_prints_table(capsys):
    assert main(["summary", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "Conv2d-1" in out and "[-1, 64, 112, 112]" in out
    assert "Total params: 11,689,512" in out


def test_cli_rejects_zero_classes_on_one_line(capsys):
    assert main(["summary", "resnet18", "--num-classes", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "0" in err and "\n" not in err


def test_cli_input_that_does_not_fit_names_size_and_fix(capsys):
    assert main(["summary", "resnet18", "--input-size", "1", "32", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "1x32x32" in err and "--input-size 3 " in err and "\n" not in err


def test_cli_json_matches_api(tmp_path, capsys):
    out = tmp_path / "s.json"
    code = main(["summary", "resnet18", "--input-size", "3", "64", "64", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    model = torchvision.models.resnet18()
    assert data["total_macs"] == count_macs_total(model, (1, 3, 64, 64))
    assert data["total_params"] == count_params(model)
    assert data["model"] == "resnet18"
    assert "Total MACs" in capsys.readouterr().out


def test_count_params_counts_tied_weights_once():
    model = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Linear(3, 3, bias=False))
    model[1].weight = model[0].weight
    assert count_params(model) == 9
