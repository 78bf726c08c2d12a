"""A CPU run killed with SIGKILL at an arbitrary moment and resumed with ``--resume`` ends with
weights bit-identical to an uninterrupted run with the same seed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from resnetlab.cli import main

# EMA on and a checkpoint after every step, so the kill lands between checkpoints, inside
# checkpoint writes or inside evaluations, wherever the random delay puts it.
ARGS = ["train", "--data", "digits", "--image-size", "8", "--epochs", "3", "--batch-size", "32",
        "--seed", "7", "--set", "ema=0.9", "--checkpoint-steps", "1", "--threads", "1",
        "--quiet"]


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _kill_mid_run(out: Path, delay: float) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-m", "resnetlab", *ARGS, "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = out / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 60
    first_mtime = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if last.is_file():
                mtime = last.stat().st_mtime_ns
                first_mtime = first_mtime or mtime
                if mtime != first_mtime:  # training steps are being checkpointed
                    break
            time.sleep(0.01)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]


@pytest.mark.parametrize("delay_seed", [0])
def test_sigkilled_run_resumes_to_bit_identical_weights(tmp_path, delay_seed):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    _kill_mid_run(killed, delay=random.Random(delay_seed).uniform(0.0, 0.8))
    assert not (killed / "model.safetensors").exists(), "the run ended before it was killed"

    assert main(["train", "--resume", str(killed), "--threads", "1", "--quiet"]) == 0
    assert main([*ARGS, "--out", str(reference)]) == 0

    a = load_file(reference / "model.safetensors")
    b = load_file(killed / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (reference / "model.safetensors").read_bytes() == (
        killed / "model.safetensors").read_bytes()
    assert not list((killed / "checkpoints").glob(".tmp-*"))
    # Per-epoch metrics agree too (timing columns aside): no lost or repeated rows.
    rows = [(d / "metrics.csv").read_text().splitlines() for d in (reference, killed)]
    assert [r.split(",")[:9] for r in rows[0]] == [r.split(",")[:9] for r in rows[1]]
