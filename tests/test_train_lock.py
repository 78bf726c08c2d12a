"""One process per run directory: a second ``train`` on a held directory exits 2 naming the
holder, a SIGKILLed holder's lock is found stale and taken over, and the lock is released on
every way out of a run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from resnetlab.cli import main
from resnetlab.train.lock import LOCK, RunLock, RunLocked, holder, is_stale

TINY = ["--data", "digits", "--image-size", "8", "--batch-size", "64", "--threads", "1",
        "--quiet"]
SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    return env


def _start_training(out: Path, epochs: int) -> subprocess.Popen:
    """A real ``resnetlab train`` in a subprocess, returned once it holds ``out`` and has
    written its step-0 checkpoint."""
    proc = subprocess.Popen([sys.executable, "-m", "resnetlab", "train", *TINY, "--epochs",
                             str(epochs),
                             "--out", str(out)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out / "checkpoints" / "last.pt").is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(proc.communicate()[1].decode()[-2000:])
        time.sleep(0.02)
    return proc


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_second_train_on_a_running_directory_exits_2_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    proc = _start_training(out, epochs=6)  # long enough to be still running
    try:
        capsys.readouterr()
        assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 2
        line = _error_line(capsys)
        assert f"pid {proc.pid} on {socket.gethostname()} since " in line
        # --overwrite must not delete a live run's directory either
        assert main(["train", *TINY, "--epochs", "1", "--out", str(out), "--overwrite"]) == 2
        assert f"pid {proc.pid}" in _error_line(capsys)
        assert (out / "config.json").is_file() and (out / LOCK).is_file()
        assert proc.poll() is None, "the holder must be untouched by the refused runs"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_lock_of_a_sigkilled_run_is_stale_and_resume_proceeds(tmp_path, capsys):
    out = tmp_path / "run"
    proc = _start_training(out, epochs=1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert holder(out / LOCK)["pid"] == proc.pid  # left behind by the kill
    assert main(["train", "--resume", str(out), "--threads", "1", "--quiet"]) == 0
    assert (out / "model.safetensors").is_file()
    assert not (out / LOCK).exists(), "a finished run releases its lock"


def test_a_failed_run_releases_its_lock(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    assert not (out / LOCK).exists()
    # a resume that stops with an error (a lengthening that is no longer) still releases it
    assert main(["train", "--resume", str(out), "--epochs", "1", "--threads", "1"]) == 2
    assert "already trained" in _error_line(capsys)
    assert not (out / LOCK).exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(run_dir: Path, **info) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    base = {"pid": os.getpid(), "host": socket.gethostname(), "started": None,
            "since": "2026-01-01T00:00:00+0000"}
    (run_dir / LOCK).write_text(json.dumps({**base, **info}))


def test_a_live_holder_refuses_and_a_dead_or_reused_pid_is_stale(tmp_path):
    _write_lock(tmp_path)  # this very process, alive
    with pytest.raises(RunLocked, match=f"pid {os.getpid()} "):
        RunLock(tmp_path).acquire()
    assert not is_stale(holder(tmp_path / LOCK))
    _write_lock(tmp_path, pid=_dead_pid())
    assert is_stale(holder(tmp_path / LOCK))
    # a live pid whose process started at another time: the pid was reused
    _write_lock(tmp_path, started="1")
    assert is_stale(holder(tmp_path / LOCK)) == Path("/proc/self/stat").exists()
    (tmp_path / LOCK).write_text("")  # torn: locks are complete before they appear
    with RunLock(tmp_path) as lock:
        assert holder(tmp_path / LOCK) == lock.info
    assert not (tmp_path / LOCK).exists()


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    _write_lock(tmp_path, host="some-other-node", pid=_dead_pid())
    with pytest.raises(RunLocked, match="some-other-node.*delete .*\\.lock"):
        RunLock(tmp_path).acquire()
    assert holder(tmp_path / LOCK)["host"] == "some-other-node"


def test_released_on_an_exception_and_never_removes_another_runs_lock(tmp_path):
    with pytest.raises(KeyboardInterrupt), RunLock(tmp_path):
        raise KeyboardInterrupt
    assert not (tmp_path / LOCK).exists()
    lock = RunLock(tmp_path)
    lock.acquire()
    _write_lock(tmp_path, host="some-other-node")  # taken over meanwhile (stale judged)
    lock.release()
    assert holder(tmp_path / LOCK)["host"] == "some-other-node"


def test_finetune_refuses_a_held_directory_and_leaves_it_alone(tmp_path, capsys):
    pretrained, out = tmp_path / "pretrained", tmp_path / "ft"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(pretrained)]) == 0
    _write_lock(out)  # held by a live process (this one, as another run would)
    (out / "finetune.json").write_text("{}")
    capsys.readouterr()
    assert main(["finetune", "--weights", str(pretrained), "--data", "digits", "--image-size",
                 "8", "--epochs", "1", "--threads", "1", "--quiet", "--out", str(out),
                 "--overwrite"]) == 2
    assert f"pid {os.getpid()} " in _error_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == [LOCK, "finetune.json"]
