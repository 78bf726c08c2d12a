"""``resnetlab finetune``: new head, frozen phase, discriminative learning rates, usable result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import resnetlab
from resnetlab.cli import main
from resnetlab.train.finetune import discriminative_lr, stage_distances
from resnetlab.train.optim import build_optimizer, set_lr
from resnetlab.train.recipes import get_recipe

CLASSES = ("cat", "dog", "ship")


def _write_folder(root: Path, per_class: int = 20) -> Path:
    """Three classes that differ in colour, so a few epochs can learn them."""
    g = torch.Generator().manual_seed(0)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            x = torch.rand(16, 16, 3, generator=g) * 0.5
            x[..., c] += 0.5
            Image.fromarray((x * 255).byte().numpy()).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """A tiny 10-class resnet20 (depth 8) saved with its model.json, as ``train`` leaves it."""
    from resnetlab.models import save_weights

    out = tmp_path_factory.mktemp("pre") / "run"
    torch.manual_seed(0)
    model = resnetlab.create_model("resnet20", depth=8, num_classes=10)
    save_weights(model, out, {"classes": [str(i) for i in range(10)], "mean": [0.5] * 3,
                              "std": [0.25] * 3, "input_size": [3, 16, 16]})
    return out


@pytest.fixture(scope="module")
def finetuned(pretrained, tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("ft")
    data = _write_folder(tmp / "data")
    out = tmp / "ft"
    code = main(["finetune", "--weights", str(pretrained), "--data", "folder",
                 "--data-dir", str(data), "--epochs", "2", "--freeze-epochs", "2",
                 "--batch-size", "16", "--lr", "0.05", "--out", str(out), "--quiet",
                 "--device", "cpu"])
    assert code == 0
    return out, data


def test_finetune_writes_a_run_dir_with_the_folders_classes(finetuned):
    out, _ = finetuned
    meta = json.loads((out / "model.json").read_text())
    assert meta["classes"] == list(CLASSES)
    assert meta["num_classes"] == 3
    assert meta["model"] == "resnet20"
    assert (out / "head" / "metrics.csv").is_file() and (out / "full" / "metrics.csv").is_file()
    # No --val-dir: a stratified validation split was held out and evaluated.
    assert json.loads((out / "full" / "model.json").read_text())["metrics"]["val_top1"] is not None


def test_frozen_phase_leaves_the_backbone_unchanged_and_trains_the_head(finetuned, pretrained):
    out, _ = finetuned
    before = load_file(str(pretrained / "model.safetensors"))
    after = load_file(str(out / "head" / "model.safetensors"))
    backbone = [k for k in before
                if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
    assert backbone
    for k in backbone:
        assert torch.equal(before[k], after[k]), k
    final = load_file(str(out / "model.safetensors"))
    assert after["fc.weight"].shape == (3, final["fc.weight"].shape[1])
    # the full phase did move the backbone
    assert any(not torch.equal(before[k], final[k]) for k in backbone if k.endswith("weight"))


def test_eval_and_predict_accept_the_result(finetuned, capsys):
    out, data = finetuned
    assert main(["eval", str(out), "--data", "folder", "--data-dir", str(data)]) == 0
    image = next((data / "dog").iterdir())
    assert main(["predict", str(out), str(image)]) == 0
    assert any(c in capsys.readouterr().out for c in CLASSES)


def test_missing_weights_is_a_one_line_error(tmp_path, capsys):
    data = _write_folder(tmp_path / "data", per_class=4)
    code = main(["finetune", "--model", "resnet20", "--weights", str(tmp_path / "nope.pt"),
                 "--data-dir", str(data), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error:") and "nope.pt" in err and "\n" not in err


def test_weights_that_do_not_fit_fail_before_anything_is_written(tmp_path, capsys):
    data = _write_folder(tmp_path / "data", per_class=4)
    torch.save(resnetlab.create_model("resnet18").state_dict(), tmp_path / "r18.pth")
    code = main(["finetune", "--model", "resnet20", "--weights", str(tmp_path / "r18.pth"),
                 "--data-dir", str(data), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "resnet18" in err  # the hint names the architecture that fits
    assert not (tmp_path / "o").exists()


def test_discriminative_lr_decays_with_distance_from_the_head():
    model = resnetlab.create_model("resnet20", depth=8, num_classes=3)
    dist = stage_distances(model)
    assert dist["fc.weight"] == 0 and dist["layer3.0.conv1.weight"] == 1
    assert dist["layer1.0.conv1.weight"] == 3 and dist["conv1.weight"] == 4
    optimizer = build_optimizer(model, get_recipe("fast"), discriminative_lr(model, 0.5))
    set_lr(optimizer, 0.1)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    assert lr_of[id(params["fc.weight"])] == pytest.approx(0.1)
    assert lr_of[id(params["conv1.weight"])] == pytest.approx(0.1 * 0.5 ** 4)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(params)


def test_resume_of_a_finished_finetune_reuses_its_settings(finetuned, capsys):
    out, _ = finetuned
    before = (out / "model.safetensors").read_bytes()
    assert main(["finetune", "--resume", str(out), "--quiet"]) == 0
    assert f"run dir: {out}" in capsys.readouterr().out
    assert (out / "model.safetensors").read_bytes() == before
