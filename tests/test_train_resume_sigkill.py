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


# A driver that kills its own process with SIGKILL right before the ``os.replace`` that would
# put the ``nth`` new ``target`` in place: the moment of the rename, deterministically, with
# no test-only code in the library.
DRIVER = '''
import os, signal, sys
from pathlib import Path

target, nth = sys.argv[1], int(sys.argv[2])
real_replace, seen = os.replace, [0]


def replace(src, dst, *args, **kwargs):
    if Path(dst).name == target:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)


os.replace = replace
from resnetlab.cli import main
sys.exit(main(sys.argv[3:]))
'''
SHORT = ["train", "--data", "digits", "--image-size", "8", "--epochs", "1", "--batch-size",
         "64", "--seed", "3", "--set", "ema=0.9", "--checkpoint-steps", "5", "--threads", "1",
         "--quiet"]


@pytest.fixture(scope="module")
def short_reference(tmp_path_factory) -> bytes:
    """model.safetensors of the uninterrupted SHORT run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    before = torch.get_num_threads()
    assert main([*SHORT, "--out", str(out)]) == 0
    torch.set_num_threads(before)
    return (out / "model.safetensors").read_bytes()


# last.pt is written at steps 0, 5, 10...: killed at its 3rd rename, the step-5 one remains;
# killed at the export's rename, the end-of-epoch checkpoint (step 22 = 1438 // 64).
@pytest.mark.parametrize("target, nth, kept_step", [("last.pt", 3, 5),
                                                    ("model.safetensors", 1, 1438 // 64)])
def test_sigkill_at_the_rename_of_a_checkpoint_or_the_export_resumes(tmp_path, short_reference,
                                                                     target, nth, kept_step):
    killed = tmp_path / "killed"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(driver), target, str(nth), *SHORT, "--out",
                           str(killed)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    # killed between the temp file's fsync and its rename: the temp is there, the target old
    assert list(killed.rglob(f".tmp-{target}.*"))
    assert not (killed / "model.safetensors").exists()
    step = int(torch.load(killed / "checkpoints" / "last.pt", weights_only=True)["step"])
    assert step == kept_step

    assert main(["train", "--resume", str(killed), "--threads", "1", "--quiet"]) == 0
    assert (killed / "model.safetensors").read_bytes() == short_reference
    assert not list(killed.rglob(".tmp-*")), "stale temp files are removed by the resume"
