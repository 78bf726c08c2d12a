"""Kill one worker of a ``torchrun --max-restarts 1`` job and show that the job finishes from
its last checkpoint with exactly the result of an uninterrupted job (docs/distributed.md).

    .venv/bin/python scripts/torchrun_restart_demo.py [--out runs/restart-demo]

Runs ``resnetlab train`` twice with 2 CPU processes (gloo) on the embedded digits: once
uninterrupted, once with one worker SIGKILLed after its first training checkpoint. Linux only
(it finds the workers with ``pgrep``). Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

TRAIN = ["train", "--data", "digits", "--image-size", "8", "--epochs", "3", "--batch-size", "64",
         "--sync-bn", "--seed", "1", "--checkpoint-steps", "5"]


def torchrun(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    launcher = [str(script)] if script.is_file() else [sys.executable, "-m",
                                                       "torch.distributed.run"]
    return [*launcher, "--nproc-per-node", "2", *args, "-m", "resnetlab", *TRAIN]


def kill_a_worker_after_a_checkpoint(job: subprocess.Popen, run_dir: Path) -> None:
    last, first = run_dir / "checkpoints" / "last.pt", None
    while job.poll() is None:
        if last.is_file():
            first = first or last.stat().st_mtime_ns
            if last.stat().st_mtime_ns != first:  # a checkpoint after step 0
                break
        time.sleep(0.01)
    workers = subprocess.run(["pgrep", "-P", str(job.pid)], capture_output=True, text=True)
    victim = max(int(pid) for pid in workers.stdout.split())
    print(f"[demo] SIGKILL worker pid {victim} ({last} exists)", flush=True)
    os.kill(victim, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/restart-demo"))
    out = parser.parse_args().out
    shutil.rmtree(out, ignore_errors=True)
    reference, killed = out / "reference", out / "killed"

    print("[demo] uninterrupted job", flush=True)
    subprocess.run(torchrun() + ["--out", str(reference)], check=True)

    print("[demo] job with --max-restarts 1, one worker killed mid-run", flush=True)
    job = subprocess.Popen(torchrun("--max-restarts", "1") + ["--out", str(killed)])
    kill_a_worker_after_a_checkpoint(job, killed)
    if job.wait() != 0:
        print(f"[demo] the restarted job failed (exit code {job.returncode})")
        return 1

    same_weights = ((reference / "model.safetensors").read_bytes()
                    == (killed / "model.safetensors").read_bytes())
    rows = [[",".join(line.split(",")[:9]) for line in (d / "metrics.csv").read_text().split()]
            for d in (reference, killed)]
    print(f"[demo] model.safetensors identical: {same_weights}")
    print(f"[demo] metrics.csv identical (timing columns aside): {rows[0] == rows[1]}")
    for line in rows[1]:
        print(f"[demo]   {line}")
    return 0 if same_weights and rows[0] == rows[1] else 1


if __name__ == "__main__":
    sys.exit(main())
