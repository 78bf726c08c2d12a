"""Runs resume from their directory alone, finished runs can be lengthened, and resuming a
finished run without lengthening it changes nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import resnetlab
from resnetlab.cli import main
from resnetlab.data import load
from resnetlab.models import create_model
from resnetlab.train.checkpoint import load_checkpoint

KW = dict(recipe="fast", batch_size=16, quiet=True, epochs=2)


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed: int = 0, classes: int = 10) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8,
                        num_classes=classes, in_chans=3 if classes == 2 else 1)


def _folder(root: Path) -> Path:
    """Two classes of 8x8 colour images told apart by their red channel."""
    g = torch.Generator().manual_seed(0)
    for c, name in enumerate(("blue", "red")):
        (root / name).mkdir(parents=True)
        for i in range(24):
            x = torch.rand(8, 8, 3, generator=g) * 0.5
            x[..., 0] += 0.5 * c
            Image.fromarray((x * 255).byte().numpy()).save(root / name / f"{i}.png")
    return root


def _snapshot(run_dir: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(run_dir)): (p.stat().st_mtime_ns,
                                          hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_resume_from_a_new_process_needs_no_data_arguments(tmp_path):
    data = _folder(tmp_path / "photos")
    bundle = load("folder", data)
    assert bundle.source["root"] == str(data.resolve())
    run_dir = tmp_path / "run"
    resnetlab.train(tiny(classes=2), bundle, out_dir=run_dir, checkpoint_steps=1, **KW)
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    steps = state["step"]
    code = ("import resnetlab, sys; r = resnetlab.resume(sys.argv[1], quiet=True); "
            "print(r.metrics['steps'], r.already_finished)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    # A finished run: a new process reads everything from the run directory and changes nothing.
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(steps), "True"]
    # Lengthened from a new process, with no data argument: it must find the folder itself.
    code = ("import resnetlab, sys; r = resnetlab.resume(sys.argv[1], quiet=True, "
            "more_epochs=1); print(r.metrics['steps'])")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) == steps + steps // 2


def test_moved_data_is_found_with_data_dir(tmp_path, capsys):
    data = _folder(tmp_path / "photos")
    run_dir = tmp_path / "run"
    resnetlab.train(tiny(classes=2), load("folder", data), out_dir=run_dir, **KW)
    data.rename(tmp_path / "moved")
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--more-epochs", "1"]) != 0
    err = capsys.readouterr().err
    assert "--data-dir" in err and str(data.resolve()) in err and "Traceback" not in err
    assert main(["train", "--resume", str(run_dir), "--more-epochs", "1", "--quiet",
                 "--data-dir", str(tmp_path / "moved")]) == 0


def test_a_finished_run_is_extended_by_k_epochs_with_a_new_decay(tmp_path):
    digits = load("digits", image_size=8)
    run_dir = tmp_path / "run"
    first = resnetlab.train(tiny(), digits, out_dir=run_dir, **KW)
    before = load_file(first.final)
    spe = load_checkpoint(first.last)["plan"]["steps_per_epoch"]
    more = resnetlab.resume(run_dir, quiet=True, more_epochs=3)
    assert not more.already_finished
    assert more.metrics["steps"] == first.metrics["steps"] + 3 * spe
    assert [r["epoch"] for r in more.history] == [1, 2, 3, 4, 5]
    plan = load_checkpoint(more.last)["plan"]
    assert plan["segment"] == 1 and plan["segment_start"] == first.metrics["steps"]
    # a new warm-up and decay: the learning rate rose again, then fell to (near) zero
    lrs = [r["lr"] for r in more.history]
    assert lrs[2] > lrs[1] and lrs[-1] < 0.05 * max(lrs[2:])
    after = load_file(more.final)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 1 + 5
    # --epochs N from the CLI is the new total
    assert main(["train", "--resume", str(run_dir), "--epochs", "6", "--quiet"]) == 0
    assert load_checkpoint(more.last)["step"] == 6 * spe


def test_resuming_a_finished_run_changes_no_file(tmp_path, capsys):
    digits = load("digits", image_size=8)
    run_dir = tmp_path / "run"
    resnetlab.train(tiny(), digits, out_dir=run_dir, **KW)
    before = _snapshot(run_dir)
    run = resnetlab.train(tiny(seed=3), digits, out_dir=run_dir, resume=True, **KW)
    assert run.already_finished and run.metrics["test_top1"] is not None
    assert _snapshot(run_dir) == before
    # A run made through the CLI resumes through the CLI (its model is a registered one).
    cli_dir = tmp_path / "cli"
    assert main(["train", "--epochs", "1", "--image-size", "8", "--out", str(cli_dir),
                 "--quiet", "--set", "batch_size=64"]) == 0
    before = _snapshot(cli_dir)
    capsys.readouterr()
    assert main(["train", "--resume", str(cli_dir)]) == 0
    out = capsys.readouterr().out
    assert "already finished" in out and "--more-epochs" in out
    assert _snapshot(cli_dir) == before


def test_lengthening_to_fewer_epochs_than_done_is_one_line(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--image-size", "8", "--out", str(run_dir),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already trained 2 epochs" in err[0]
    assert main(["train", "--more-epochs", "2", "--quiet"]) == 2


def test_python_defaults_match_the_cli(tmp_path):
    cli_dir, py_dir = tmp_path / "cli", tmp_path / "py"
    assert main(["train", "--epochs", "1", "--out", str(cli_dir), "--quiet"]) == 0
    torch.manual_seed(0)
    resnetlab.train("resnet20", load("digits", image_size=16), out_dir=py_dir, epochs=1,
                    quiet=True)
    import json

    cli = json.loads((cli_dir / "config.json").read_text())
    py = json.loads((py_dir / "config.json").read_text())
    assert py["recipe"] == cli["recipe"] and py["recipe"]["name"] == "fast"
    assert py["data"] == cli["data"]


def test_a_run_killed_during_its_final_export_is_finished_on_resume(tmp_path):
    digits = load("digits", image_size=8)
    run_dir = tmp_path / "run"
    first = resnetlab.train(tiny(), digits, out_dir=run_dir, **KW)
    exported = load_file(first.final)
    (run_dir / "model.safetensors").unlink()  # every step done, the export not
    again = resnetlab.train(tiny(seed=3), digits, out_dir=run_dir, resume=True, **KW)
    assert not again.already_finished and again.metrics["steps"] == first.metrics["steps"]
    redone = load_file(again.final)
    assert exported.keys() == redone.keys()
    assert all(torch.equal(exported[k], redone[k]) for k in exported)
