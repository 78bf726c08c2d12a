"""Every lab experiment runs end to end with --quick through the CLI and leaves valid outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnetlab.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_DIR = SHARED / "cifar10-subset" / "cifar-10-batches-py"

# experiment → fields its results.json must have
FIELDS = {
    "features": ["model", "stages", "image"],
    "residual": ["block", "max_abs_diff", "allclose", "shapes"],
    "gradient-flow": ["networks", "verdict_facts", "measurement"],
    "degradation": ["final", "comparisons", "deeper_plain_trains_worse",
                    "deeper_residual_trains_better", "iterations", "history"],
    "batchnorm": ["models", "iterations", "lr", "batch_size"],
    "gradcam": ["model", "layer", "images", "trained_here"],
    "depth": ["table"],
}


def assert_real_png(path: Path, min_side: int = 300) -> None:
    """A decodable PNG, not tiny, and not a blank canvas."""
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert min(image.size) >= min_side, image.size
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    assert pixels.std() > 20, f"{path.name} looks blank (pixel std {pixels.std():.1f})"
    assert path.stat().st_size < 300_000, f"{path.name} is {path.stat().st_size} bytes"


def run_quick(experiment: str, out: Path, *extra: str, capsys) -> tuple[dict, str]:
    code = main(["lab", experiment, "--quick", "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads((out / "results.json").read_text()), captured.out


@pytest.mark.parametrize("experiment", list(FIELDS))
def test_quick_run_writes_results_figures_and_short_verdict(experiment, tmp_path, capsys):
    results, printed = run_quick(experiment, tmp_path, capsys=capsys)
    assert results["experiment"] == experiment
    assert results["quick"] is True and results["ok"] is True
    for field in FIELDS[experiment]:
        assert field in results, f"{experiment}: results.json lacks {field}"
    assert results["figures"], "no figure listed"
    for name in results["figures"]:
        assert_real_png(tmp_path / name, min_side=250)
    lines = printed.strip().splitlines()
    assert 2 <= len(lines) <= 5, printed
    assert lines[-1].startswith("wrote ")


def test_batchnorm_first_iteration_matches_its_curve(tmp_path, capsys):
    results, _ = run_quick("batchnorm", tmp_path, capsys=capsys)
    for model in results["models"].values():
        curve = model["test_accuracy"]
        assert len(curve) == results["iterations"]
        for threshold in (50, 70):
            first = model[f"first_iteration_above_{threshold}"]
            above = [i + 1 for i, a in enumerate(curve) if a > threshold / 100]
            assert first == (above[0] if above else None)


def test_quick_without_data_dir_says_it_fell_back_to_digits(tmp_path, capsys):
    _, printed = run_quick("batchnorm", tmp_path, capsys=capsys)
    assert "embedded digits" in printed


@pytest.mark.parametrize("experiment", ["degradation", "batchnorm"])
def test_real_mode_without_data_dir_is_a_one_line_error_naming_the_flag(
        experiment, tmp_path, capsys):
    code = main(["lab", experiment, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "--data-dir" in err


def test_missing_data_dir_is_a_one_line_error(tmp_path, capsys):
    code = main(["lab", "degradation", "--quick", "--data-dir", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "--data-dir" in err


def test_features_and_residual_accept_trained_weights(tmp_path, capsys):
    run_quick("gradcam", tmp_path / "gradcam", capsys=capsys)
    run_dir = tmp_path / "gradcam" / "model"
    assert (run_dir / "model.safetensors").is_file()
    features, _ = run_quick("features", tmp_path / "f", "--weights", str(run_dir),
                            capsys=capsys)
    assert features["trained"] is True and features["model"] == "resnet20"
    # the model was trained on 1×16×16 digits: the image is fed at that size
    assert features["input_shape"] == [1, 16, 16]
    residual, _ = run_quick("residual", tmp_path / "r", "--weights", str(run_dir),
                            capsys=capsys)
    assert residual["allclose"] is True and residual["shortcut"] == "A"
    # an RGB file for this grey model is converted, not rejected
    path = tmp_path / "colour.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
        path)
    colour, _ = run_quick("features", tmp_path / "c", "--weights", str(run_dir), "--image",
                          str(path), capsys=capsys)
    assert colour["input_shape"] == [1, 16, 16]


def test_features_reads_an_image_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    results, _ = run_quick("features", tmp_path / "out", "--image", str(path), "--model",
                           "resnet20", capsys=capsys)
    assert results["image"] == str(path)
    assert [s["shape"] for s in results["stages"]] == [
        [16, 32, 32], [16, 32, 32], [32, 16, 16], [64, 8, 8]]


@pytest.mark.skipif(not CIFAR_DIR.is_dir(), reason="shared CIFAR-10 subset not available")
def test_quick_degradation_on_the_shared_cifar_subset(tmp_path, capsys):
    results, printed = run_quick("degradation", tmp_path, "--data-dir", str(CIFAR_DIR),
                                 capsys=capsys)
    assert results["data"] == "cifar10"
    assert "embedded digits" not in printed
    for name in ("plain20", "plain56", "resnet20", "resnet56"):
        final = results["final"][name]
        assert 0.0 <= final["train_error"] <= 1.0 and 0.0 <= final["test_error"] <= 1.0
