"""``resnetlab bench``: the quick run works and its report has every section (not the speeds)."""

from __future__ import annotations

import json

import pytest

from resnetlab.cli import main

# One torch thread: on a shared runner, OpenMP threads spinning against other processes can
# make the run many times slower (docs/benchmarks.md, "Speed"); the structure is what's tested.
QUICK = ["bench", "--quick", "--quiet", "--threads", "1"]


def _is_stats(entry: dict) -> bool:
    return (set(entry) >= {"median", "min", "max", "spread", "samples"}
            and entry["min"] <= entry["median"] <= entry["max"] and entry["median"] > 0)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "report.json"
    assert main([*QUICK, "--json", str(path)]) == 0
    return json.loads(path.read_text())


def test_quick_report_names_the_machine_and_command(quick_report):
    machine = quick_report["machine"]
    assert machine["cores"] >= 1 and machine["torch"] and machine["date"]
    assert quick_report["command"].startswith("resnetlab bench")


def test_quick_report_compares_stock_and_resnetlab_training(quick_report):
    (row,) = quick_report["training"]
    assert row["model"] == "resnet20"
    for key in ("baseline", "resnetlab"):
        assert _is_stats(row[key]["images_per_second"])
        assert len(row[key]["images_per_second"]["samples"]) == quick_report["config"]["repeats"]
        assert row[key]["peak_bytes"] is None or row[key]["peak_bytes"] >= 0
    assert _is_stats(row["resnetlab"]["speedup"])


def test_quick_report_times_every_engine_at_batch_and_at_batch_one(quick_report):
    rows = quick_report["inference"]
    assert [r["batch_size"] for r in rows] == [quick_report["config"]["infer_batch"], 1]
    for row in rows:
        assert _is_stats(row["baseline"]["latency_ms"])
        assert set(row["engines"]) == set(quick_report["config"]["engines"])
        for engine in row["engines"].values():
            assert _is_stats(engine["images_per_second"]) and _is_stats(engine["speedup"])
        assert row["best_fp32"] in row["engines"] and row["best_fp32"] != "onnx_int8"
        assert row["best_int8"] == "onnx_int8"


def test_quick_report_relates_data_path_to_training_speed(quick_report):
    data = quick_report["data"]
    assert _is_stats(data["images_per_second"])
    assert data["ratio"] == pytest.approx(
        data["images_per_second"]["median"] / data["train_images_per_second"])


def test_quick_bench_prints_markdown_tables(capsys):
    assert main([*QUICK, "--engines", "fold_bn", "--train-models", "resnet20"]) == 0
    out = capsys.readouterr().out
    assert "| model | batch | stock img/s | resnetlab img/s | speed-up |" in out
    assert "latency ms" in out and "fold_bn" in out


def test_unknown_engine_is_a_one_line_error(capsys):
    assert main([*QUICK, "--engines", "tensorrt"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: unknown engine 'tensorrt'") and "choose from" in err


def test_malformed_inference_model_is_a_one_line_error(capsys):
    assert main([*QUICK, "--infer-models", "resnet50"]) != 0
    assert "NAME:SIZE" in capsys.readouterr().err


def test_unknown_model_is_a_one_line_error(capsys):
    assert main([*QUICK, "--train-models", "resnet7"]) != 0
    assert "unknown model 'resnet7'" in capsys.readouterr().err
