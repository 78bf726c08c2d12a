"""Faults injected into a real training run, in-process (monkeypatched ``os``/step functions):
a full or failing disk during a checkpoint or the export, a read-only run directory, a NaN in
the loss or a weight, the data directory deleted mid-run, and starts that fail before any work.

Each must end in one ``error: ...`` line with the documented exit code, keep the last good
checkpoint loadable and the run resumable, and leave no torn or half-written file behind."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import resnetlab.train.trainer as trainer_mod
from resnetlab.cli import main
from resnetlab.train.checkpoint import load_checkpoint
from resnetlab.train.trainer import LOG_EVERY

TINY = ["--data", "digits", "--image-size", "8", "--batch-size", "64", "--threads", "1",
        "--quiet"]
STEPS_PER_EPOCH = 1438 // 64  # digits' training split at batch 64 (drop_last)


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _fd_name(fd: int) -> str:
    return os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))


def fail_writes(monkeypatch, target: str, *, skip: int = 0, code: int = errno.ENOSPC,
                where: str = "write") -> list[int]:
    """Make writes of temp files for ``target`` (``.tmp-<target>.*``) fail with ``code`` after
    ``skip`` successful ones: ``where="write"`` fails the file object's ``write`` after some
    bytes went out (a torn temp file), ``"fsync"`` the flush to disk. Returns [failures]."""
    prefix = f".tmp-{target}."
    seen, failures = {"n": 0}, [0]

    def should_fail(fd: int) -> bool:
        if not _fd_name(fd).startswith(prefix):
            return False
        seen["n"] += 1
        if seen["n"] <= skip:
            return False
        failures[0] += 1
        return True

    if where == "fsync":
        real_fsync = os.fsync

        def fsync(fd):
            if should_fail(fd):
                raise OSError(code, os.strerror(code))
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    else:
        real_fdopen = os.fdopen

        def fdopen(fd, *args, **kwargs):
            fh = real_fdopen(fd, *args, **kwargs)
            if isinstance(fd, int) and should_fail(fd):
                real_write = fh.write

                def write(data):
                    real_write(bytes(data)[:100])  # part of it reached the disk
                    raise OSError(code, os.strerror(code))

                fh.write = write
            return fh

        monkeypatch.setattr(os, "fdopen", fdopen)
    return failures


def _temps(run_dir: Path) -> list[Path]:
    return list(run_dir.rglob(".tmp-*"))


@pytest.mark.parametrize("code, where, words", [
    (errno.ENOSPC, "write", "the disk is full"),
    (errno.EIO, "fsync", "I/O error"),
])
def test_disk_error_during_a_checkpoint_keeps_the_previous_one_and_resumes(
        tmp_path, monkeypatch, capsys, code, where, words):
    out, reference = tmp_path / "run", tmp_path / "reference"
    args = [*TINY, "--epochs", "1", "--checkpoint-steps", "5", "--set", "ema=0.9"]
    failures = fail_writes(monkeypatch, "last.pt", skip=3, code=code, where=where)
    assert main(["train", *args, "--out", str(out)]) == 1
    line = _error_line(capsys)
    assert failures[0] == 1 and words in line and "last.pt" in line
    assert f"--resume {out}" in line and "Traceback" not in line
    monkeypatch.undo()
    kept = load_checkpoint(out / "checkpoints" / "last.pt")  # the previous one, intact
    assert kept["step"] == 10  # checkpoints at steps 0, 5, 10 were written; 15 failed
    assert f"(step {kept['step']})" in line
    assert not _temps(out) and not (out / "model.safetensors").exists()
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 0
    assert main(["train", *args, "--out", str(reference)]) == 0
    assert (out / "model.safetensors").read_bytes() == (
        reference / "model.safetensors").read_bytes()


def test_full_disk_during_the_export_leaves_no_half_written_model(tmp_path, monkeypatch,
                                                                  capsys):
    out = tmp_path / "run"
    failures = fail_writes(monkeypatch, "model.safetensors")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 1
    line = _error_line(capsys)
    assert failures[0] == 1 and "the disk is full" in line and "nothing was written" in line
    assert not (out / "model.safetensors").exists() and not (out / "model.json").exists()
    assert not _temps(out)
    monkeypatch.undo()
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 0
    assert set(load_file(out / "model.safetensors")) and (out / "model.json").is_file()


def test_full_disk_during_a_re_export_keeps_the_previous_pair(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    before = {n: (out / n).read_bytes() for n in ("model.safetensors", "model.json")}
    # model.json fails after the new weights were written: neither may be replaced
    fail_writes(monkeypatch, "model.json")
    assert main(["train", "--resume", str(out), "--more-epochs", "1", "--threads", "1",
                 "--quiet"]) == 1
    assert "model.safetensors and model.json are unchanged" in _error_line(capsys)
    assert {n: (out / n).read_bytes() for n in before} == before
    assert not _temps(out)


def _refuse_writes_under(monkeypatch, root: Path, code: int = errno.EROFS) -> None:
    """The file system under ``root`` is read-only (tests run as root, so chmod would not
    stop a write): creating files or directories there fails with ``code``."""
    real_open, real_mkdir = os.open, os.mkdir

    def inside(path) -> bool:
        return str(Path(os.fsdecode(path)).absolute()).startswith(str(root))

    def fake_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if inside(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)


def test_read_only_run_directory_is_one_line_before_training(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    (out / "model.safetensors").unlink()  # as if stopped before its end: resume would train
    last = (out / "checkpoints" / "last.pt").read_bytes()
    _refuse_writes_under(monkeypatch, out)
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 1
    line = _error_line(capsys)
    assert "read-only" in line and str(out) in line
    assert (out / "checkpoints" / "last.pt").read_bytes() == last
    # a new run whose --out cannot be created: one line, nothing left
    new = tmp_path / "ro" / "new"
    _refuse_writes_under(monkeypatch, tmp_path / "ro")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(new)]) == 1
    assert "read-only" in _error_line(capsys) and not new.exists()


@pytest.mark.parametrize("inject", ["loss", "weight"])
def test_nan_mid_run_stops_within_a_log_interval_and_resumes(tmp_path, monkeypatch, capsys,
                                                             inject):
    out = tmp_path / "run"
    at = STEPS_PER_EPOCH + 7  # step index (0-based) in the second epoch
    calls: list[int] = []
    real_step = trainer_mod.run_step

    def step(net, optimizer, x, y, **kwargs):
        calls.append(len(calls))
        if len(calls) - 1 == at and inject == "weight":
            with torch.no_grad():
                next(net.parameters()).view(-1)[0] = float("inf") * 0  # NaN
        loss, correct = real_step(net, optimizer, x, y, **kwargs)
        if len(calls) - 1 == at and inject == "loss":
            loss = loss * float("nan")
        return loss, correct

    monkeypatch.setattr(trainer_mod, "run_step", step)
    assert main(["train", *TINY, "--epochs", "3", "--checkpoint-steps", "5", "--out",
                 str(out)]) == 3
    line = _error_line(capsys)
    assert f"step {at + 1} " in line and "(lr " in line and "last.pt" in line
    assert len(calls) - 1 - at < LOG_EVERY  # stopped at the first read point after it
    monkeypatch.undo()
    kept = load_checkpoint(out / "checkpoints" / "last.pt")
    assert kept["step"] <= at
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())
    assert not (out / ".lock").exists()
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 0
    weights = load_file(out / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def _image_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for i in range(40):
            pixels = rng.integers(0, 128, (8, 8, 3), dtype=np.uint8) + 100 * c
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def test_data_directory_deleted_mid_run_the_run_finishes(tmp_path, monkeypatch, capsys):
    data, out = _image_folder(tmp_path / "data"), tmp_path / "run"
    real_step = trainer_mod.run_step

    def step(*args, **kwargs):
        shutil.rmtree(data, ignore_errors=True)  # gone from the first step on
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer_mod, "run_step", step)
    args = ["--data", "folder", "--data-dir", str(data), "--image-size", "8", "--batch-size",
            "16", "--epochs", "2", "--threads", "1", "--quiet"]
    assert main(["train", *args, "--out", str(out)]) == 0  # the data is in memory
    assert not data.exists() and (out / "model.safetensors").is_file()
    # resuming needs the data again: one line naming it and the fix, the run untouched
    (out / "model.safetensors").unlink()
    last = (out / "checkpoints" / "last.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 1
    line = _error_line(capsys)
    assert str(data) in line and "--data-dir" in line
    assert (out / "checkpoints" / "last.pt").read_bytes() == last


@pytest.mark.parametrize("argv, code", [
    (["--batch-size", "5000"], 2),  # larger than the data
    (["--model", "resnet_nope"], 2),
    (["--data", "cifar10", "--data-dir", "/nonexistent/cifar"], 1),
    (["--set", "no_such_field=1"], 2),
    (["--time-budget", "0"], 2),
])
@pytest.mark.parametrize("exists", [False, True])
def test_a_failed_start_leaves_no_run_directory(tmp_path, capsys, argv, code, exists):
    out = tmp_path / "run"
    if exists:
        out.mkdir()  # an empty directory the user made: kept as it was
    assert main(["train", *TINY, "--epochs", "1", *argv, "--out", str(out)]) == code
    _error_line(capsys)
    assert out.exists() == exists and (not exists or not any(out.iterdir()))
    assert list(tmp_path.iterdir()) == ([out] if exists else [])


def test_a_full_disk_at_the_first_write_leaves_no_run_directory(tmp_path, monkeypatch,
                                                               capsys):
    out = tmp_path / "run"
    fail_writes(monkeypatch, "config.json")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 1
    assert "the disk is full" in _error_line(capsys) and not out.exists()


def test_a_failed_finetune_start_leaves_no_directory(tmp_path, capsys):
    pretrained = tmp_path / "pretrained"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(pretrained)]) == 0
    out = tmp_path / "ft"
    assert main(["finetune", "--weights", str(pretrained), *TINY[:-3], "--batch-size", "5000",
                 "--epochs", "1", "--threads", "1", "--quiet", "--out", str(out)]) == 2
    assert "larger than" in _error_line(capsys)
    assert not out.exists()
