"""A file written by ``resnetlab export`` is a model source of its own: ``predict`` and ``eval``
take ``model.onnx`` / ``model.xml`` directly and give what the run directory gives, and every
way such a file can be wrong is a one-line error that says what to do."""

from __future__ import annotations

import json

import pytest

from resnetlab.cli import main
from resnetlab.deploy.engines import exported_engine

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

FORMATS = {"onnx": "model.onnx", "openvino": "model.xml"}


@pytest.fixture(scope="module")
def exported_files(digits_run_dir, tmp_path_factory):
    """The trained digits model exported once per format: ``{engine: path}``."""
    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for engine, name in FORMATS.items():
        files[engine] = folder / name
        assert main(["export", str(digits_run_dir), "--format", engine,
                     "--out", str(files[engine])]) == 0
    return files


def _predict(source, pngs, capsys, *extra):
    assert main(["predict", str(source), str(pngs), "--top-k", "3", "--json", "-",
                 *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_suffix_names_the_engine():
    assert exported_engine("a/model.onnx") == "onnx"
    assert exported_engine("model.XML") == "openvino"
    assert exported_engine("run/model.safetensors") is None
    assert exported_engine("runs/mnist") is None


@pytest.mark.parametrize("engine", list(FORMATS))
def test_predict_takes_the_exported_file_and_gives_the_run_dirs_labels(
        digits_run_dir, exported_files, digit_pngs, capsys, engine):
    eager = _predict(digits_run_dir, digit_pngs, capsys)
    for extra in ((), ("--engine", engine)):  # eager (the default) or the file's own engine
        exported = _predict(exported_files[engine], digit_pngs, capsys, *extra)
        assert len(exported) == len(eager) == 12
        for e, x in zip(eager, exported, strict=True):
            assert e["image"] == x["image"]
            assert [t["label"] for t in e["top"]] == [t["label"] for t in x["top"]]
            assert abs(e["top"][0]["probability"] - x["top"][0]["probability"]) < 1e-4


def _evaluate(source, folder, capsys, *extra) -> dict:
    capsys.readouterr()  # what ran before (a train, an export) printed too
    assert main(["eval", str(source), "--json", "-", "--confusion", str(folder / "c.png"),
                 *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("engine", list(FORMATS))
def test_eval_of_the_exported_file_defaults_to_the_trained_dataset(
        digits_run_dir, exported_files, tmp_path, capsys, engine):
    eager = _evaluate(digits_run_dir, tmp_path, capsys)
    exported = _evaluate(exported_files[engine], tmp_path, capsys)
    assert exported["data"] == eager["data"] == "digits"  # from the file's metadata
    assert exported["n"] == eager["n"] > 0
    assert exported["top1"] == eager["top1"]
    assert exported["per_class"] == eager["per_class"]
    assert abs(exported["loss"] - eager["loss"]) < 1e-4


def _error(argv, capsys, code: int = 2) -> str:
    """The one line a user mistake prints (exit 2: bad options; 1: a bad model file)."""
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_a_wrong_engine_device_or_model_for_an_exported_file_says_what_to_drop(
        exported_files, digit_pngs, capsys):
    onnx = str(exported_files["onnx"])
    err = _error(["predict", onnx, str(digit_pngs), "--engine", "openvino"], capsys)
    assert "runs with --engine onnx" in err
    assert "drop --device" in _error(["predict", onnx, str(digit_pngs), "--device", "cuda"],
                                     capsys)
    assert "drop --model resnet18" in _error(
        ["predict", onnx, str(digit_pngs), "--model", "resnet18"], capsys)
    err = _error(["embed", onnx, str(digit_pngs), "--out", "x.npz"], capsys)
    assert "exported classifier" in err and "--engine onnx" in err


@pytest.mark.parametrize("engine", list(FORMATS))
def test_a_missing_or_corrupt_exported_file_is_a_one_line_error(tmp_path, digit_pngs, capsys,
                                                                engine):
    missing = tmp_path / FORMATS[engine]
    assert "does not exist" in _error(["predict", str(missing), str(digit_pngs)], capsys, 1)
    missing.write_bytes(b"\x00not a model\xff" * 64)
    err = _error(["predict", str(missing), str(digit_pngs)], capsys, 1)
    assert "cannot read the" in err and f"--format {engine}" in err


def test_an_onnx_file_from_elsewhere_says_it_lacks_the_metadata(tmp_path, digit_pngs, capsys):
    from resnetlab.deploy import export_onnx
    from resnetlab.models import create_model

    foreign = tmp_path / "foreign.onnx"  # what another tool writes: a graph, no model.json
    export_onnx(create_model("resnet20", num_classes=10), foreign, (3, 8, 8))
    err = _error(["predict", str(foreign), str(digit_pngs)], capsys, 1)
    assert "no resnetlab metadata" in err and "resnetlab export" in err


def test_eval_of_an_exported_file_on_the_validation_split_finds_the_held_out_images(
        tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--image-size", "8", "--epochs", "1",
                 "--batch-size", "64", "--threads", "1", "--quiet", "--set", "val_size=150",
                 "--seed", "3", "--out", str(run)]) == 0
    onnx = tmp_path / "model.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(onnx)]) == 0
    eager = _evaluate(run, tmp_path, capsys, "--split", "val")
    exported = _evaluate(onnx, tmp_path, capsys, "--split", "val")
    assert exported["n"] == eager["n"] == 150  # the split the run held out, by its size
    assert exported["per_class"] == eager["per_class"]  # ... and its seed: the same images
    assert abs(exported["loss"] - eager["loss"]) < 1e-4
