"""What ``resnetlab serve`` serves and who may call it: sources, ids, tokens, CORS, the
environment config of ``uvicorn --factory``, and the command's one-line errors."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from resnetlab.cli import main
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.models.hub.loader import untrained_model
from resnetlab.models.hub.weights import save_weights
from resnetlab.serve import registry as reg
from resnetlab.serve.app import create_app
from resnetlab.serve.config import ServeConfig
from resnetlab.serve.page import preferred_language
from resnetlab.serve.server import host_warning


def saved_run(path):
    model, meta = untrained_model("resnet20")
    save_weights(model, path, meta)
    return path


@pytest.fixture(scope="module")
def guarded(one_thread):
    app = create_app(ServeConfig(sources=("untrained:resnet20",), token="s3cret",
                                 cors=("https://page.example",)))
    with TestClient(app) as client:
        yield client


def test_a_token_guards_every_v1_route(guarded):
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret"},
                    {"authorization": "Basic s3cret"}, {"authorization": "Bearer s3cret2"}):
        response = guarded.get("/v1/models", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["error"]
    assert guarded.post("/v1/models/resnet20-untrained/predict", content=b"x").status_code == 401
    ok = guarded.get("/v1/models", headers={"authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["models"][0]["id"] == "resnet20-untrained"
    # health, readiness and metrics stay open for the orchestrator and the scraper
    assert guarded.get("/healthz").status_code == 200
    assert guarded.get("/metrics").status_code == 200


def test_cors_only_for_the_origin_given(guarded, one_thread):
    allowed = guarded.get("/healthz", headers={"origin": "https://page.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://page.example"
    other = guarded.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = guarded.options("/v1/models", headers={
        "origin": "https://page.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization"})
    assert preflight.status_code == 200
    with TestClient(create_app(ServeConfig(sources=("untrained:resnet20",)))) as plain:
        response = plain.get("/healthz", headers={"origin": "https://page.example"})
        assert "access-control-allow-origin" not in response.headers


def test_the_factory_reads_its_config_from_the_environment(monkeypatch, tmp_path, one_thread):
    run = saved_run(tmp_path / "my run")
    monkeypatch.setenv("RESNETLAB_SERVE_SOURCES", f"'{run}' untrained:resnet20")
    monkeypatch.setenv("RESNETLAB_SERVE_MAX_BATCH", "4")
    monkeypatch.setenv("RESNETLAB_TOKEN", "t")
    config = ServeConfig.from_env()
    assert config.sources == (str(run), "untrained:resnet20")
    assert (config.max_batch, config.token) == (4, "t")
    with TestClient(create_app()) as client:
        models = client.get("/v1/models", headers={"authorization": "Bearer t"}).json()
        assert [m["id"] for m in models["models"]] == ["my-run", "resnet20-untrained"]
    with pytest.raises(ConfigError, match="RESNETLAB_SERVE_MAX_BATCH"):
        ServeConfig.from_env({"RESNETLAB_SERVE_MAX_BATCH": "many"})
    with pytest.raises(ConfigError, match="engine"):
        ServeConfig(engine="tensorrt")


def test_sources_runs_and_the_newest_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="untrained:resnet20"):
        reg.chosen_sources(ServeConfig())
    old, new = saved_run(tmp_path / "runs" / "old"), saved_run(tmp_path / "runs" / "b" / "new")
    os.utime(old / "model.json", (1, 1))
    (tmp_path / "runs" / "unfinished").mkdir()  # no model.json: not a finished run
    assert reg.chosen_sources(ServeConfig()) == [str(reg.DEFAULT_RUNS / "b" / "new")]
    every = reg.chosen_sources(ServeConfig(runs=tmp_path / "runs"))
    assert every == [str(new), str(old)]
    assert reg.chosen_sources(ServeConfig(sources=("untrained:resnet20",))) == [
        "untrained:resnet20"]
    with pytest.raises(CheckpointError, match="--runs"):
        reg.chosen_sources(ServeConfig(runs=tmp_path / "runs" / "unfinished"))


def test_ids_are_slugs_and_unique(tmp_path, one_thread):
    assert reg.slug("ResNet 20 (digits)!") == "resnet-20-digits"
    assert reg.slug("..") == "model" and reg.slug("../../etc") == "etc"
    run = saved_run(tmp_path / "Run A")
    loaded = reg.load_registry(ServeConfig(sources=(str(run), str(run / "model.safetensors"),
                                                    "untrained:resnet20",
                                                    "untrained:resnet20")))
    assert loaded.ids == ["run-a", "run-a-2", "resnet20-untrained", "resnet20-untrained-2"]
    assert [m.trained for m in loaded] == [True, True, False, False]
    assert loaded.get("run-a").run_dir == run.resolve()


def test_the_command_says_what_to_pass_when_there_is_nothing_to_serve(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESNETLAB_TOKEN", raising=False)
    assert main(["serve", "--port", "0"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: no model to serve") and "\n" not in error
    assert "untrained:resnet20" in error and "--runs DIR" in error
    assert main(["serve", "untrained:resnet2000", "--port", "0"]) == 2
    assert "resnet2000" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 1


def test_a_busy_port_is_a_one_line_error(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "untrained:resnet20", "--port", str(port)]) == 2
    error = capsys.readouterr().err.strip()
    assert f"127.0.0.1:{port}" in error and "--port" in error and "\n" not in error


def test_other_hosts_get_a_warning_and_languages_are_picked():
    assert host_warning("127.0.0.1", False) is None and host_warning("::1", False) is None
    warning = host_warning("0.0.0.0", False)
    assert warning.startswith("warning:") and "--token" in warning and "\n" not in warning
    assert "--token T" not in host_warning("0.0.0.0", True)
    assert preferred_language(None) == "en"
    assert preferred_language("es-ES,es;q=0.9,en;q=0.8") == "es"
    assert preferred_language("fr, en;q=0.5, es;q=0.4") == "en"
    assert preferred_language("fr, es;q=0.5, en;q=0.4") == "es"
    assert preferred_language("en-GB, es") == "en"
    assert preferred_language("es;q=0, en;q=0.1") == "en"


def test_the_onnx_engine_predicts_what_the_eager_model_does(one_thread):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    image = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
                    ).save(image, "PNG")
    tops = []
    for engine in ("eager", "onnx"):
        registry = reg.load_registry(ServeConfig(sources=("untrained:resnet20",),
                                                 engine=engine))
        if engine == "onnx":
            exported = list(Path(registry._workdir.name).rglob("*.onnx"))
            assert len(exported) == 1
        with TestClient(create_app(ServeConfig(engine=engine), registry)) as client:
            response = client.post("/v1/models/resnet20-untrained/predict", params={"top_k": 3},
                                   content=image.getvalue(),
                                   headers={"content-type": "image/png"})
            tops.append(response.json()["top"])
            # explanations keep the eager model, whatever runs the predictions
            cam = client.post("/v1/models/resnet20-untrained/gradcam",
                              content=image.getvalue(), headers={"content-type": "image/png"})
            assert cam.status_code == 200
        registry.close()
        if engine == "onnx":
            assert not exported[0].exists()  # the export is deleted with the registry
    assert [t["index"] for t in tops[0]] == [t["index"] for t in tops[1]]
    assert [t["probability"] for t in tops[0]] == pytest.approx(
        [t["probability"] for t in tops[1]], abs=1e-5)
