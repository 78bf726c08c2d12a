"""``benchmarks/gpu_check.py``: the smoke run writes every section, bad starts say the fix.

The GPU check only runs for real in a device session; its ``--device cpu --smoke`` run goes
through every section here, in a child process as a user starts it, so the script cannot rot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
CIFAR_DIR = ROOT.parent / "shared" / "data" / "cifar10-subset" / "cifar-10-batches-py"
SECTIONS = ("machine", "training throughput", "time to accuracy", "inference", "peak memory",
            "no host sync")


def run_script(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``(report, stdout)`` of one smoke run on the CPU."""
    if not CIFAR_DIR.is_dir():
        pytest.skip(f"the shared CIFAR subset is not at {CIFAR_DIR}")
    out = tmp_path_factory.mktemp("gpu-check") / "report.json"
    done = run_script("--device", "cpu", "--smoke", "--data-dir", str(CIFAR_DIR),
                      "--json", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


def medians(entries) -> list[float]:
    return [e["images_per_second"]["median"] for e in entries]


def test_smoke_report_describes_this_machine(smoke):
    machine = smoke[0]["machine"]
    assert machine["torch"] == torch.__version__
    assert machine["cuda"] == torch.version.cuda
    assert machine["gpu"] is None  # the CPU run names no GPU even where one exists


def test_smoke_training_measures_every_rung_from_stock_to_trainer(smoke):
    (row,) = smoke[0]["training"]["models"]
    rungs = row["rungs"]
    assert len(rungs) == 6
    assert not [label for label, e in rungs.items() if "skipped" in e]
    assert list(rungs)[0].startswith("stock") and list(rungs)[-1] == "resnetlab trainer step"
    assert all(v > 0 for v in medians(rungs.values()))
    assert all(e["speedup"]["median"] > 0 and e["build_seconds"] > 0 for e in rungs.values())


def test_smoke_inference_times_each_engine_at_each_batch(smoke):
    inference = smoke[0]["inference"]
    assert inference["model"] == "resnet50"
    assert [b["batch_size"] for b in inference["batches"]] == [1, 2]
    for batch in inference["batches"]:
        assert set(batch["engines"]) == {"eager fp32", "fp32 + channels_last", "compiled"}
        assert all(v > 0 for v in medians(batch["engines"].values()))
        assert all(e["latency_ms"]["median"] > 0 for e in batch["engines"].values())


def test_smoke_time_to_accuracy_trains_both_recipes_for_the_same_budget(smoke):
    section = smoke[0]["time_to_accuracy"]
    for recipe in ("stock", "fast"):
        run = section[recipe]
        assert "skipped" not in run, run
        assert run["steps"] > 0 and run["wall_seconds"] > 0
        assert 0.0 <= run["test_top1"] <= 1.0
        # the budget is the same for both, and neither overruns it by much
        assert run["wall_seconds"] < 2 * section["budget_seconds"]
    assert section["fast_minus_stock"] == pytest.approx(
        section["fast"]["test_top1"] - section["stock"]["test_top1"])


def test_smoke_cuda_only_sections_say_not_applicable(smoke):
    report = smoke[0]
    assert report["memory"]["status"] == "n/a on cpu"
    assert report["no_host_sync"]["status"] == "n/a on cpu"
    rungs = report["training"]["models"][0]["rungs"].values()
    assert all(e["peak_bytes"] is None for e in rungs)


def test_smoke_table_names_each_section(smoke):
    stdout = smoke[1]
    for title in SECTIONS:
        assert f"== {title} ==" in stdout
    assert "resnetlab trainer step" in stdout and "n/a on cpu" in stdout


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_missing_data_dir_is_one_line_error(tmp_path):
    line = one_line_error(run_script("--device", "cpu", "--smoke", "--data-dir",
                                     str(tmp_path / "nowhere"), "--json", str(tmp_path / "r")))
    assert "nowhere" in line and "--data-dir" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_default_cuda_without_gpu_says_to_use_the_cpu_smoke_run(tmp_path):
    line = one_line_error(run_script("--data-dir", str(tmp_path), "--json",
                                     str(tmp_path / "r.json")))
    assert "--device cpu --smoke" in line
    assert not (tmp_path / "r.json").exists()


def test_full_size_run_on_the_cpu_is_refused(tmp_path):
    line = one_line_error(run_script("--device", "cpu", "--data-dir", str(tmp_path), "--json",
                                     str(tmp_path / "r.json")))
    assert "--smoke" in line
