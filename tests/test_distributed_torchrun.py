"""Real ``torchrun`` jobs on this machine (gloo, localhost, 2 CPU processes).

Two ranks with batch 32 each and --sync-bn train exactly like one process with batch 64; rank
1 writes nothing; a 2-rank checkpoint resumes on one process; a worker killed under
``--max-restarts 1`` is restarted from the last checkpoint and the job ends with the result of
an uninterrupted one; launch mistakes are one-line errors. The runs are done by
tests/distributed_worker.py, in float64 (see its ``Float64``: in float32, rounding differences
are amplified into ~1e-3 loss differences, between 1- and 2-thread one-process runs alike).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from resnetlab.data import load
from resnetlab.train import loop
from resnetlab.train.trainer import Trainer

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import distributed_worker as worker  # noqa: E402

TIMEOUT = 150
# Settings of the worker runs (they must match the one-process reference).
SETTINGS = Namespace(epochs=2, batch_size=64, seed=3, checkpoint_steps=5)
STEPS = 44  # 2 epochs of the 1438 training digits in global batches of 64
SNAPSHOT_STEP = 30


def _torchrun(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    launcher = [str(script)] if script.is_file() else [sys.executable, "-m",
                                                       "torch.distributed.run"]
    return [*launcher, "--nproc-per-node", "2", *args]


def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    src = str(TESTS.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def _worker_job(out: Path, report: Path, *extra: str) -> list[str]:
    return _torchrun(*extra, str(TESTS / "distributed_worker.py"), "--out", str(out),
                     "--report", str(report), "--sync-bn", "--float64",
                     "--checkpoint-steps", str(SETTINGS.checkpoint_steps))


def _check(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr[-3000:]


def _report(report: Path, rank: int) -> dict:
    return json.loads((report / f"report-{rank}.json").read_text())


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """An uninterrupted 2-process run; rank 0 snapshots the run directory at step 30."""
    root = tmp_path_factory.mktemp("pair")
    out, report = root / "run", root / "report"
    cmd = _worker_job(out, report) + ["--snapshot-step", str(SNAPSHOT_STEP)]
    _check(subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT))
    return out, report


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The same training in this process with the whole batch: losses and final weights."""
    threads = torch.get_num_threads()
    mkldnn = torch.backends.mkldnn.enabled
    worker.comparable_kernels()
    losses: list[float] = []
    original = Trainer.step_values

    def recording(trainer, stats):
        values = original(trainer, stats)  # the steps' global figures, read at a read point
        losses.extend(v[0] for v in values)
        return values

    Trainer.step_values = recording
    try:
        model = worker.tiny_model(SETTINGS.seed, float64=True)
        run = loop.train(model, load("digits", image_size=8),
                         out_dir=tmp_path_factory.mktemp("single") / "run",
                         **worker.train_kwargs(SETTINGS))
    finally:
        Trainer.step_values = original
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = mkldnn
    return losses, model.state_dict(), run


def _max_relative_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max() / b[k].abs().max().clamp(min=1e-12))
               for k in a if a[k].is_floating_point())


def test_two_ranks_with_sync_bn_follow_the_one_process_loss_trajectory(pair, single):
    _, report = pair
    losses, weights, run = single
    distributed = _report(report, 0)["losses"]
    assert len(losses) == len(distributed) == STEPS
    # The loss is a float32 mean (64 at once, or 2 x 32 averaged): equal to float32 rounding.
    assert max(abs(a - b) for a, b in zip(losses, distributed, strict=True)) < 2e-6
    final = torch.load(report / "weights-0.pt")
    assert _max_relative_difference(final, weights) < 1e-9
    assert _report(report, 0)["metrics"]["test_top1"] == pytest.approx(run.metrics["test_top1"])


def test_parameters_and_buffers_are_identical_across_ranks_after_training(pair):
    _, report = pair
    a, b = torch.load(report / "weights-0.pt"), torch.load(report / "weights-1.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _report(report, 0)["losses"] == _report(report, 1)["losses"]  # global, not local


def test_only_rank_zero_writes_into_the_run_directory(pair):
    out, report = pair
    assert _report(report, 1)["writes"] == []
    written = {Path(w.split(" ", 1)[1]).name for w in _report(report, 0)["writes"]}
    assert {"model.safetensors", "curves.png"} <= written
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints", "config.json", "curves.png", "metrics.csv", "model.json",
        "model.safetensors", "tensorboard"]
    assert len(list((out / "tensorboard").iterdir())) == 1
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2 and config["sync_bn"] is True


def test_a_two_rank_checkpoint_resumes_on_one_process(pair, single):
    _, report = pair
    losses, weights, _ = single
    snapshot = report / "snapshot"
    assert torch.load(snapshot / "checkpoints" / "last.pt")["step"] == SNAPSHOT_STEP
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    worker.comparable_kernels()
    try:
        model = worker.tiny_model(SETTINGS.seed, float64=True)
        run = loop.train(model, load("digits", image_size=8), out_dir=snapshot, resume=True,
                         **worker.train_kwargs(SETTINGS))
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = mkldnn
    assert run.metrics["steps"] == STEPS and len(run.history) == SETTINGS.epochs
    # Same global batches, schedule and optimizer state: it ends where one process ends.
    assert _max_relative_difference(model.state_dict(), weights) < 1e-9


def _wait_for_training_checkpoint(proc: subprocess.Popen, out: Path, deadline: float) -> None:
    """Return once last.pt has been rewritten after the step-0 checkpoint."""
    last, first = out / "checkpoints" / "last.pt", None
    while time.monotonic() < deadline and proc.poll() is None:
        if last.is_file():
            mtime = last.stat().st_mtime_ns
            first = first or mtime
            if mtime != first:
                return
        time.sleep(0.01)
    raise AssertionError(f"no training checkpoint appeared (exit code {proc.poll()})")


def test_a_killed_worker_is_restarted_from_the_checkpoint_and_the_job_ends_like_an_unbroken_one(
        pair, tmp_path):
    out, report = tmp_path / "run", tmp_path / "report"
    proc = subprocess.Popen(_worker_job(out, report, "--max-restarts", "1"), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_training_checkpoint(proc, out, time.monotonic() + TIMEOUT)
        assert not (out / "model.safetensors").exists(), "the run ended before the kill"
        os.kill(int((report / "pid-1-0").read_text()), signal.SIGKILL)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    assert _report(report, 0)["attempt"] == 1  # the second attempt finished the job
    reference_out, reference_report = pair
    assert (out / "model.safetensors").read_bytes() == (
        reference_out / "model.safetensors").read_bytes()
    assert _report(report, 0)["metrics"]["test_top1"] == _report(reference_report, 0)[
        "metrics"]["test_top1"]
    assert _report(report, 0)["metrics"]["test_loss"] == _report(reference_report, 0)[
        "metrics"]["test_loss"]
    # Per-epoch rows agree too (timing columns aside): nothing lost or repeated.
    rows = [(d / "metrics.csv").read_text().splitlines() for d in (reference_out, out)]
    assert [r.split(",")[:9] for r in rows[0]] == [r.split(",")[:9] for r in rows[1]]
    assert not list((out / "checkpoints").glob(".tmp-*"))
    final = load_file(out / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in final.values())


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_batch_the_world_size_does_not_divide_is_one_error_line(tmp_path):
    cmd = _torchrun("-m", "resnetlab", "train", "--data", "digits", "--image-size", "8",
                    "--epochs", "1", "--batch-size", "63", "--out", str(tmp_path / "run"))
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode != 0
    assert _error_lines(proc.stderr) == [
        "error: batch size 63 cannot be split evenly over 2 processes; pass --batch-size a "
        "multiple of 2 (e.g. 62 or 64)"], proc.stderr[-3000:]
    assert not [line for line in proc.stderr.splitlines() if line.startswith("[rank")]
    assert not (tmp_path / "run").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_rendezvous_is_one_error_line(tmp_path):
    # Rank 1 of 2 pointed at a port where no rank 0 listens (what a wrong endpoint does).
    env = {**_env(), "RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()),
           "RESNETLAB_DIST_TIMEOUT": "3"}
    cmd = [sys.executable, "-m", "resnetlab", "train", "--data", "digits", "--epochs", "1",
           "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: rank 1 of 2 could not join the "
                                                   "process group at 127.0.0.1:"), proc.stderr
    assert "--rdzv-endpoint" in lines[0]


def test_launch_with_an_unreachable_rendezvous_endpoint_is_one_error_line(tmp_path):
    # torchrun itself would print its agent's traceback; `resnetlab launch` prints one line.
    cmd = [sys.executable, "-m", "resnetlab", "launch", "--nnodes", "2", "--nproc-per-node", "1",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", "no-such-host.invalid:29400",
           "--rdzv-conf", "read_timeout=3,join_timeout=3",
           "train", "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("error: could not join the rendezvous at no-such-host.invalid:29400")
    assert "--rdzv-endpoint" in lines[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["--nproc-per-node", "2"], "launch needs a command to run"),
    (["--nproc-per-node", "2", "--bogus", "train"], "unrecognized arguments: --bogus"),
])
def test_launch_option_mistakes_are_one_error_line(argv, message):
    proc = subprocess.run([sys.executable, "-m", "resnetlab", "launch", *argv], env=_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr


def test_launch_passes_a_worker_error_on_as_its_only_line(tmp_path):
    cmd = [sys.executable, "-m", "resnetlab", "launch", "--nproc-per-node", "2", "train",
           "--data", "digits", "--image-size", "8", "--epochs", "1", "--batch-size", "63",
           "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: batch size 63 cannot be split evenly over 2 processes; pass --batch-size a "
        "multiple of 2 (e.g. 62 or 64)"], proc.stderr[-3000:]
    assert not (tmp_path / "run").exists()
