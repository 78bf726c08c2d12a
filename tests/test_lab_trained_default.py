"""The looking experiments (features, residual, gradcam) look into the user's trained run by
default: the newest finished run under ./runs that fits, named in the title; random init only
when none exists (or with --untrained), and then labelled "untrained"."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import resnetlab.lab.runs as lab_runs
from resnetlab.cli import main
from resnetlab.lab import record_figures

CIFAR_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset" / \
    "cifar-10-batches-py"


def titles(fig) -> str:
    """Every suptitle and axes title of a drawn figure, joined."""
    from matplotlib.figure import SubFigure

    figures = [fig, *(f for f in fig.findobj(SubFigure) if f is not fig)]
    texts = [t.get_text() for f in figures for t in f.texts]
    texts += [ax.get_title() for ax in fig.axes]
    return "\n".join(texts)


def lab(experiment: str, out: Path, *extra: str, capsys) -> tuple[dict, str, str]:
    with record_figures() as figures:
        code = main(["lab", experiment, "--quick", "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = json.loads((out / "results.json").read_text())
    return results, captured.out, "\n".join(titles(f) for f in figures.values())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny real `resnetlab train --model resnet20 --data cifar10` run under ./runs."""
    if not CIFAR_DIR.is_dir():
        pytest.fail(f"the shared CIFAR-10 subset is missing at {CIFAR_DIR}")
    home = tmp_path_factory.mktemp("student")
    before = os.getcwd()
    os.chdir(home)
    try:
        code = main(["train", "--model", "resnet20", "--data", "cifar10", "--data-dir",
                     str(CIFAR_DIR), "--set", "iterations=2", "--quiet", "--threads", "1"])
    finally:
        os.chdir(before)
    assert code == 0
    (run_dir,) = [p for p in (home / "runs").iterdir() if p.is_dir()]
    return home, run_dir


@pytest.fixture
def in_home(trained_run, monkeypatch):
    home, run_dir = trained_run
    monkeypatch.chdir(home)
    monkeypatch.setattr(lab_runs, "RUNS_ROOT", Path("runs"))
    return run_dir.relative_to(home)


@pytest.mark.parametrize("experiment", ["features", "residual", "gradcam"])
def test_the_newest_finished_run_is_used_without_flags(experiment, in_home, tmp_path, capsys):
    results, printed, drawn = lab(experiment, tmp_path / experiment, capsys=capsys)
    assert results["model"] == "resnet20"
    assert results["found_run"] is True
    assert Path(results["weights"]) == in_home
    assert str(in_home) in printed  # the verdict says which run
    assert str(in_home) in drawn  # so does the figure's title
    assert "untrained" not in drawn
    if experiment != "gradcam":
        assert results["trained"] is True
        # the run's own data (CIFAR-10, read from where the run recorded it), not digits
        assert results["image"].startswith("cifar10 test image")
    else:
        assert results["trained_here"] is False


@pytest.mark.parametrize("experiment", ["features", "residual"])
def test_untrained_flag_and_no_run_give_a_labelled_random_net(experiment, in_home, tmp_path,
                                                              capsys, monkeypatch):
    results, _, drawn = lab(experiment, tmp_path / "a", "--untrained", capsys=capsys)
    assert results["trained"] is False and results["found_run"] is False
    assert "untrained" in drawn and str(in_home) not in drawn
    monkeypatch.setattr(lab_runs, "RUNS_ROOT", Path("elsewhere"))  # no runs at all
    results, _, drawn = lab(experiment, tmp_path / "b", capsys=capsys)
    assert results["trained"] is False and "untrained" in drawn


def test_a_run_of_another_model_or_data_does_not_fit(in_home, tmp_path, capsys):
    results, _, _ = lab("features", tmp_path / "a", "--model", "resnet56", capsys=capsys)
    assert results["trained"] is False and results["model"] == "resnet56"
    results, _, _ = lab("features", tmp_path / "b", "--data", "digits", capsys=capsys)
    assert results["trained"] is False


def test_lookup_takes_the_newest_finished_run_and_skips_lab_and_unfinished(tmp_path):
    def fake_run(path: Path, model: str, data: str, age: float) -> None:
        path.mkdir(parents=True)
        (path / "model.json").write_text(json.dumps(
            {"model": model, "input_size": [3, 32, 32], "data": {"name": data}}))
        (path / "model.safetensors").write_bytes(b"")
        stamp = time.time() - age
        os.utime(path / "model.json", (stamp, stamp))

    root = tmp_path / "runs"
    fake_run(root / "old", "resnet20", "cifar10", age=100)
    fake_run(root / "new", "resnet20", "cifar10", age=10)
    fake_run(root / "lab" / "degradation" / "runs" / "resnet20", "resnet20", "cifar10", age=0)
    fake_run(root / "other", "resnet56", "digits", age=5)
    (root / "unfinished").mkdir()
    (root / "unfinished" / "model.json").write_text("{}")
    (root / "broken").mkdir()
    (root / "broken" / "model.json").write_text("{not json")
    (root / "broken" / "model.safetensors").write_bytes(b"")
    found = lab_runs.newest_fitting_run("resnet20", None, root)
    assert found is not None and found.path == root / "new"
    assert lab_runs.newest_fitting_run(None, None, root).path == root / "other"
    assert lab_runs.newest_fitting_run(None, "cifar10", root).path == root / "new"
    assert lab_runs.newest_fitting_run("resnet110", None, root) is None
    assert lab_runs.finished_runs(tmp_path / "nothing") == []
