"""``resnetlab train / eval / predict / recipes`` through the entry point, bad input included.

Every user mistake must end in one ``error: ...`` line, a non-zero exit code and no lost files.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnetlab.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_DIR = SHARED / "cifar10-subset" / "cifar-10-batches-py"
# resnet20 on 8x8 digits for one epoch: a real run of the default pipeline in about a second.
TINY = ["--data", "digits", "--image-size", "8", "--epochs", "1", "--batch-size", "64",
        "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run directory and what ``train`` printed."""
    out = tmp_path_factory.mktemp("cli") / "run"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["train", *TINY, "--out", str(out)])
    assert code == 0
    return out, buf.getvalue()


def fails(capsys, argv: list[str], *needles: str) -> str:
    """Run ``argv``; assert a non-zero exit and one ``error:`` line containing ``needles``."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0, f"expected failure for {argv}"
    assert err.startswith("error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"
    return err


def test_train_prints_test_accuracy_and_run_dir(trained):
    out, printed = trained
    assert "test accuracy:" in printed and f"run dir: {out}" in printed
    assert (out / "model.safetensors").is_file() and (out / "curves.png").is_file()


def test_eval_json_reports_top1_top5_per_class_and_confusion_png(trained, tmp_path, capsys):
    out, _ = trained
    report = tmp_path / "eval.json"
    assert main(["eval", str(out), "--data", "digits", "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    assert set(result) >= {"top1", "top5", "n", "per_class"} and result["n"] == 359
    assert sorted(result["per_class"]) == [str(d) for d in range(10)]
    assert 0 <= result["top1"] <= result["top5"] <= 1
    assert Path(result["confusion_png"]).is_file()
    meta = json.loads((out / "model.json").read_text())
    assert result["top1"] == pytest.approx(meta["metrics"]["test_top1"])
    assert "top-1" in capsys.readouterr().out


def test_eval_accepts_the_weights_file(trained, capsys):
    out, _ = trained
    assert main(["eval", str(out / "model.safetensors")]) == 0
    assert "digits/test" in capsys.readouterr().out


def test_predict_prints_label_and_probability_per_image(trained, tmp_path, capsys):
    from resnetlab.data import load

    out, _ = trained
    paths = []
    for i, image in enumerate(load("digits").test.images[:2]):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(image[0].numpy(), mode="L").save(path)
        paths.append(str(path))
    capsys.readouterr()
    assert main(["predict", str(out), *paths, "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith(path + ": ") and "%" in line


def test_predict_json_probabilities_are_sorted_and_sum_below_one(trained, tmp_path, capsys):
    out, _ = trained
    path = tmp_path / "x.png"
    Image.new("RGB", (20, 30), "white").save(path)  # colour, other size: converted, resized
    capsys.readouterr()
    assert main(["predict", str(out), str(path), "--json"]) == 0
    top = json.loads(capsys.readouterr().out)[0]["top"]
    probs = [t["probability"] for t in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6


def test_recipes_lists_names_and_shows_fields(capsys):
    assert main(["recipes"]) == 0
    listing = capsys.readouterr().out
    assert "he2016" in listing and "fast" in listing
    assert main(["recipes", "he2016"]) == 0
    assert "weight_decay" in capsys.readouterr().out


# ------------------------------------------------------------------ bad input, one line each
def test_missing_data_directory(tmp_path, capsys):
    fails(capsys, ["train", "--data", "cifar10", "--data-dir", str(tmp_path / "nowhere"),
                   "--out", str(tmp_path / "run")], "nowhere")
    assert not (tmp_path / "run").exists()


def test_malformed_data_directory(tmp_path, capsys):
    bad = tmp_path / "cifar"
    bad.mkdir()
    (bad / "data_batch_1").write_text("not a pickle")
    fails(capsys, ["train", "--data", "cifar10", "--data-dir", str(bad),
                   "--out", str(tmp_path / "run")], "data_batch_1")


@pytest.mark.skipif(not CIFAR_DIR.is_dir(), reason="shared CIFAR-10 subset not available")
def test_truncated_batch_file(tmp_path, capsys):
    copy = tmp_path / "cifar-10-batches-py"
    shutil.copytree(CIFAR_DIR, copy)
    data = (copy / "data_batch_2").read_bytes()
    (copy / "data_batch_2").write_bytes(data[: len(data) // 3])
    fails(capsys, ["train", "--data", "cifar10", "--data-dir", str(copy),
                   "--out", str(tmp_path / "run")], "data_batch_2")


def test_corrupt_checkpoint_on_resume(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    (run / "checkpoints" / "last.pt").write_bytes(b"\x00garbage" * 10)
    fails(capsys, ["train", "--resume", str(run)], "corrupt", "last.pt")
    assert (run / "model.safetensors").read_bytes() == (
        trained[0] / "model.safetensors").read_bytes()


def test_resume_without_checkpoint(tmp_path, capsys):
    fails(capsys, ["train", "--resume", str(tmp_path)], "cannot resume")
    (tmp_path / "config.json").write_text("{}")
    fails(capsys, ["train", "--resume", str(tmp_path)], "no checkpoints/last.pt")


def test_resume_rejects_new_settings(trained, capsys):
    fails(capsys, ["train", "--resume", str(trained[0]), "--lr", "0.5"], "--lr")


def test_unknown_recipe_field_lists_valid_fields(tmp_path, capsys):
    err = fails(capsys, ["train", *TINY, "--out", str(tmp_path / "r"), "--set", "lrate=1"],
                "lrate", "valid fields", "label_smoothing")
    assert "weight_decay" in err


@pytest.mark.parametrize("flag, value", [("--epochs", "0"), ("--epochs", "-3"),
                                         ("--batch-size", "0"), ("--batch-size", "-8")])
def test_zero_or_negative_epochs_and_batch_size(tmp_path, capsys, flag, value):
    argv = ["train", "--data", "digits", "--out", str(tmp_path / "r"), flag, value]
    fails(capsys, argv, flag.lstrip("-").split("-")[0])
    assert not (tmp_path / "r").exists()


def test_predict_on_a_file_that_is_not_an_image(trained, tmp_path, capsys):
    fake = tmp_path / "photo.png"
    fake.write_text("this is text")
    fails(capsys, ["predict", str(trained[0]), str(fake)], "photo.png", "could not be read",
          "not an image")


def test_predict_on_weights_with_unknown_model_name(trained, tmp_path, capsys):
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(trained[0] / "model.safetensors", copy)
    meta = json.loads((trained[0] / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**meta, "model": "resnet9999"}))
    image = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(image)
    fails(capsys, ["predict", str(copy / "model.safetensors"), str(image)], "resnet9999")


def test_existing_run_dir_without_overwrite(trained, capsys):
    out = trained[0]
    before = (out / "model.safetensors").read_bytes()
    fails(capsys, ["train", *TINY, "--out", str(out)], "--overwrite", str(out))
    assert (out / "model.safetensors").read_bytes() == before


def test_train_starts_from_weights(trained, tmp_path):
    from safetensors.torch import load_file

    source = trained[0] / "model.safetensors"
    # A vanishing learning rate keeps the starting point: the result must be the source's
    # weights (BatchNorm statistics still move, so compare conv/linear weights only).
    still = ["--set", "lr=1e-12", "ema=0", "weight_decay=0"]
    assert main(["train", *TINY, *still, "--weights", str(source), "--out",
                 str(tmp_path / "warm")]) == 0
    assert main(["train", *TINY, *still, "--seed", "7", "--out", str(tmp_path / "cold")]) == 0
    before = load_file(source)
    warm, cold = (load_file(tmp_path / d / "model.safetensors") for d in ("warm", "cold"))
    keys = [k for k in before if k.endswith(".weight") and before[k].dim() > 1]
    assert all(torch.allclose(before[k], warm[k], atol=1e-6) for k in keys)
    assert not all(torch.allclose(before[k], cold[k], atol=1e-6) for k in keys)


def test_train_weights_of_another_architecture_is_one_line(trained, tmp_path, capsys):
    fails(capsys, ["train", *TINY, "--model", "resnet32", "--weights",
                   str(trained[0] / "model.safetensors"), "--out", str(tmp_path / "x")],
          "do not fit resnet32", "--model")
    assert not (tmp_path / "x").exists()


def test_train_weights_with_another_class_count_keeps_a_fresh_classifier(tmp_path, capsys):
    from safetensors.torch import save_file

    from resnetlab.models import create_model

    five = create_model("resnet20", num_classes=5, in_chans=1)
    save_file(five.state_dict(), str(tmp_path / "five.safetensors"))
    assert main(["train", *TINY, "--weights", str(tmp_path / "five.safetensors"),
                 "--out", str(tmp_path / "run")]) == 0
    assert "classifier does not fit 10 classes and starts fresh" in capsys.readouterr().out
