"""OpenVINO as export format and inference engine: parity with PyTorch on real images, the
export CLI, ``--engine openvino`` for predict/eval/embed/serve, and the one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import resnetlab
from resnetlab.cli import main
from resnetlab.commands import options
from resnetlab.deploy import OpenVinoModule, export_openvino, read_openvino_meta
from resnetlab.deploy.engines import ENGINES
from resnetlab.errors import ResnetlabError
from resnetlab.models.hub.loader import load_model

pytest.importorskip("openvino")

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset" / \
    "cifar-10-batches-py"


@pytest.fixture
def engine_calls(monkeypatch):
    """How many batches each exported engine ran: proof that ``--engine`` was not ignored."""
    from resnetlab.deploy.export import OnnxModule

    calls = {"onnx": 0, "openvino": 0}
    for name, cls in (("onnx", OnnxModule), ("openvino", OpenVinoModule)):
        def counted(self, x, _forward=cls.forward, _name=name):
            calls[_name] += 1
            return _forward(self, x)

        monkeypatch.setattr(cls, "forward", counted)
    return calls


def _normalized(dataset, meta, count):
    from resnetlab.data import normalize

    return normalize(dataset.images[:count], meta["mean"], meta["std"])


@pytest.fixture(scope="module")
def exported(digits_run_dir, digits_test, tmp_path_factory):
    """The trained model exported once (checked on 16 real images): ``(result, model, meta)``."""
    model, meta = load_model(digits_run_dir)
    result = export_openvino(model, tmp_path_factory.mktemp("ir") / "m.xml", meta["input_size"],
                             meta=meta, check_inputs=_normalized(digits_test, meta, 16))
    return result, model, meta


def _copy_of(exported, folder: Path) -> Path:
    xml = exported[0].path
    for source in (xml, xml.with_suffix(".bin")):
        (folder / source.name).write_bytes(source.read_bytes())
    return folder / xml.name


def test_trained_model_reloads_with_full_top1_agreement_on_real_images(exported, digits_test):
    result, model, meta = exported
    assert result.format == "openvino" and result.checked == 16
    assert result.max_abs_diff <= 1e-4 and result.path.with_suffix(".bin").is_file()
    x = _normalized(digits_test, meta, 200)
    runner = OpenVinoModule(result.path)
    with torch.no_grad():
        expected = model.eval()(x)
    for batch in (1, 7, 200):  # the batch axis is dynamic; 1 and >1 take different hints
        got = runner(x[:batch])
        assert (got - expected[:batch]).abs().max() <= 1e-4
        assert torch.equal(got.argmax(1), expected[:batch].argmax(1))


def test_ir_carries_the_model_json_but_not_the_history(exported):
    result, _, meta = exported
    shipped = read_openvino_meta(result.path)
    assert shipped["model"] == "resnet20" and shipped["classes"] == meta["classes"]
    assert shipped["mean"] == meta["mean"] and shipped["input_size"] == meta["input_size"]
    assert "metrics" in meta and "metrics" not in shipped and "recipe" not in shipped


@pytest.mark.skipif(not CIFAR.is_dir(), reason="shared CIFAR subset not present")
def test_resnet18_on_cifar_images_agrees_with_pytorch(tmp_path):
    from resnetlab.data import load_cifar10, normalize

    train, test = load_cifar10(CIFAR)
    x = normalize(test.images[:64], train.mean, train.std)
    torch.manual_seed(0)
    model = resnetlab.create_model("resnet18", num_classes=10).eval()
    result = export_openvino(model, tmp_path / "r18.xml", (3, 32, 32), check_inputs=x)
    with torch.no_grad():
        expected = model(x)
    got = OpenVinoModule(result.path)(x)
    assert float((got - expected).abs().max()) <= 1e-4
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_hint_follows_the_batch_and_threads_are_passed_on(exported, digits_test):
    result, _, meta = exported
    runner = OpenVinoModule(result.path, threads=1)
    x = _normalized(digits_test, meta, 4)
    runner(x[:1])
    assert list(runner._compiled) == ["LATENCY"]
    runner(x)
    assert sorted(runner._compiled) == ["LATENCY", "THROUGHPUT"]
    for hint, compiled in runner._compiled.items():
        assert str(compiled.model.get_property("PERFORMANCE_HINT")) == hint
        assert int(compiled.model.get_property("INFERENCE_NUM_THREADS")) == 1


@pytest.mark.parametrize("damage", ["garbage xml", "no bin", "missing"])
def test_a_broken_ir_is_a_one_line_error(exported, tmp_path, damage):
    path = _copy_of(exported, tmp_path)
    if damage == "garbage xml":
        path.write_text("<net name='x'><layers><layer id=")
    elif damage == "no bin":
        path.with_suffix(".bin").unlink()
    else:
        path.unlink()
    with pytest.raises(ResnetlabError) as caught:
        OpenVinoModule(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    with pytest.raises(ResnetlabError):
        read_openvino_meta(path)
    OpenVinoModule(exported[0].path)  # the undamaged original still loads


def test_missing_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(ResnetlabError, match="install it with 'pip install openvino'"):
        export_openvino(resnetlab.create_model("resnet20"), tmp_path / "m.xml", (3, 32, 32))
    assert not list(tmp_path.iterdir())


def test_export_cli_writes_xml_and_bin_and_refuses_to_overwrite(digits_run_dir, capsys):
    assert main(["export", str(digits_run_dir), "--format", "openvino"]) == 0
    out = capsys.readouterr().out
    xml, weights = digits_run_dir / "model.xml", digits_run_dir / "model.bin"
    assert xml.is_file() and weights.is_file() and "OpenVINO CPU vs PyTorch" in out
    assert not [p for p in digits_run_dir.iterdir() if p.name.startswith(".tmp-")]
    assert read_openvino_meta(xml)["model"] == "resnet20"
    before = weights.read_bytes()
    assert main(["export", str(digits_run_dir), "--format", "openvino"]) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "--overwrite" in err and err.count("\n") == 1
    xml.unlink()  # the .bin alone is enough to refuse too ...
    weights.write_bytes(b"old")
    assert main(["export", str(digits_run_dir), "--format", "openvino"]) == 2
    assert weights.read_bytes() == b"old" and not xml.exists()
    capsys.readouterr()
    assert main(["export", str(digits_run_dir), "--format", "openvino", "--overwrite"]) == 0
    assert weights.read_bytes() == before and xml.is_file()  # ... --overwrite writes both


def test_export_cli_wants_an_xml_out(digits_run_dir, tmp_path, capsys):
    assert main(["export", str(digits_run_dir), "--format", "openvino",
                 "--out", str(tmp_path / "m.onnx")]) == 2
    assert ".xml" in capsys.readouterr().err
    assert not list(tmp_path.glob("m.*"))


def _predict_json(digits_run_dir, pngs, engine, capsys):
    assert main(["predict", str(digits_run_dir), str(pngs), "--top-k", "3", "--json", "-",
                 "--engine", engine]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("engine", ["openvino", "onnx"])  # predict had no --engine before
def test_predict_with_an_exported_engine_gives_eagers_labels(digits_run_dir, digit_pngs, capsys,
                                                             engine, engine_calls):
    if engine == "onnx":
        pytest.importorskip("onnxruntime")
    eager = _predict_json(digits_run_dir, digit_pngs, "eager", capsys)
    assert engine_calls == {"onnx": 0, "openvino": 0}
    ov = _predict_json(digits_run_dir, digit_pngs, engine, capsys)
    assert engine_calls[engine] >= 1
    assert len(eager) == len(ov) == 12
    for e, o in zip(eager, ov, strict=True):
        assert e["image"] == o["image"]
        assert [t["label"] for t in e["top"]] == [t["label"] for t in o["top"]]
        assert abs(e["top"][0]["probability"] - o["top"][0]["probability"]) < 1e-4


def _eval_json(digits_run_dir, engine, tmp_path, capsys):
    assert main(["eval", str(digits_run_dir), "--engine", engine, "--json", "-",
                 "--confusion", str(tmp_path / f"{engine}.png")]) == 0
    return json.loads(capsys.readouterr().out)


def test_eval_with_openvino_gives_eagers_metrics(digits_run_dir, tmp_path, capsys, engine_calls):
    eager = _eval_json(digits_run_dir, "eager", tmp_path, capsys)
    ov = _eval_json(digits_run_dir, "openvino", tmp_path, capsys)
    assert engine_calls["openvino"] > 1  # the export check, then the test split
    assert eager["n"] == ov["n"] > 0
    assert eager["top1"] == ov["top1"] and eager["per_class"] == ov["per_class"]
    assert abs(eager["loss"] - ov["loss"]) < 1e-4


def test_eval_refuses_openvino_on_another_device(digits_run_dir, capsys):
    assert main(["eval", str(digits_run_dir), "--engine", "openvino", "--device", "cuda"]) == 2
    assert "runs on the CPU" in capsys.readouterr().err


def test_embed_with_openvino_gives_eagers_vectors(digits_run_dir, digit_pngs, tmp_path, capsys,
                                                  engine_calls):
    vectors = {}
    for engine in ("eager", "openvino"):
        out = tmp_path / f"{engine}.npy"
        assert main(["embed", str(digits_run_dir), str(digit_pngs), "--out", str(out),
                     "--batch-size", "5", "--engine", engine]) == 0
        vectors[engine] = np.load(out)
    assert engine_calls["openvino"] == 1 + 3  # the export check, then 12 images in 5s
    assert vectors["eager"].shape == vectors["openvino"].shape == (12, 64)
    assert np.abs(vectors["eager"] - vectors["openvino"]).max() <= 1e-4


def test_serve_with_openvino_gives_eagers_labels(digits_run_dir, digit_pngs, one_thread,
                                                 engine_calls):
    from resnetlab.serve.app import create_app
    from resnetlab.serve.config import ServeConfig

    answers = {}
    for engine in ("eager", "openvino"):
        app = create_app(ServeConfig(sources=(str(digits_run_dir),), engine=engine, threads=1))
        with TestClient(app) as client:
            answers[engine] = [
                client.post("/v1/models/digits-run/predict", params={"top_k": 3},
                            content=png.read_bytes(),
                            headers={"content-type": "image/png"}).json()
                for png in sorted(digit_pngs.iterdir())]
        if engine == "eager":
            assert engine_calls["openvino"] == 0
    assert engine_calls["openvino"] >= 12
    labels = {e: [[t["label"] for t in a["top"]] for a in answers[e]] for e in answers}
    assert len(labels["eager"]) == 12 and labels["eager"] == labels["openvino"]


def test_the_cli_offers_exactly_the_engines_deploy_has():
    assert options.SPECS["--engine"][1]["choices"] == ENGINES
