"""One rank of a small distributed training run, started by torchrun from
tests/test_distributed_torchrun.py (not a test module itself).

It trains a tiny ResNet on the 8x8 digits through :func:`resnetlab.train.train` and, outside
the run directory, leaves a report for the test: the loss of every global batch, every file
write this process made inside the run directory (seen through Python's audit hooks), the
final metrics and the final weights of this rank.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import torch

from resnetlab.data import load
from resnetlab.models import create_model
from resnetlab.train import loop
from resnetlab.train.trainer import Trainer

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Write-like audit events and the position of the path written to in their arguments.
WRITE_EVENTS = {"os.mkdir": 0, "os.rename": 1, "os.remove": 0, "os.rmdir": 0, "os.truncate": 0,
                "shutil.rmtree": 0, "shutil.copyfile": 1, "shutil.move": 1}
RECIPE = {"pad": 2, "flip": True, "cutout": 2, "lr": 0.2}


def comparable_kernels() -> None:
    """Plain convolutions instead of oneDNN's, whose algorithm (and so rounding, up to ~1e-3
    relative in gradients) changes with batch shape and thread count: with them a 1-process
    run differs from a 2-thread one as much as from a 2-process one, hiding real mistakes."""
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False


class Float64(torch.nn.Module):
    """``net`` computing in float64. In float32 a run amplifies rounding differences (ReLUs
    that flip on a last-bit change) to ~1e-3 in the loss within tens of steps, between 1- and
    2-thread single-process runs too; in float64 the 1- and 2-process runs stay together."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.double())


def tiny_model(seed: int, float64: bool = False) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8, num_classes=10,
                       in_chans=1)
    return Float64(net) if float64 else net


def train_kwargs(args) -> dict:
    """The settings shared with the one-process reference runs of the tests."""
    return dict(recipe="fast", overrides=RECIPE, epochs=args.epochs, batch_size=args.batch_size,
                seed=args.seed, deterministic=True, quiet=True,
                checkpoint_steps=args.checkpoint_steps, checkpoint_seconds=0)


def watch_writes(run_dir: Path) -> list[str]:
    """Record every write-like file operation under ``run_dir`` made by this process."""
    writes: list[str] = []
    prefix = str(run_dir)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (any(c in mode for c in "wax+") if isinstance(mode, str)
                       else bool((flags or 0) & WRITE_FLAGS))
        elif event in WRITE_EVENTS:
            path, writing = args[WRITE_EVENTS[event]], True
        else:
            return
        if writing and isinstance(path, (str, bytes, os.PathLike)):
            name = os.fsdecode(path)  # TensorBoard opens its event files by bytes paths
            if name.startswith(prefix):
                writes.append(f"{event} {name}")

    sys.addaudithook(hook)
    return writes


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--report", type=Path, required=True)
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--float64", action="store_true")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--checkpoint-steps", type=int, default=5)
    p.add_argument("--snapshot-step", type=int, default=0,
                   help="rank 0 copies the run directory to --report/snapshot at this step")
    args = p.parse_args()
    rank = int(os.environ["RANK"])
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / f"pid-{rank}-{attempt}").write_text(str(os.getpid()))

    comparable_kernels()
    bundle = load("digits", image_size=8)
    model = tiny_model(args.seed, args.float64)
    losses: list[float] = []
    original, values_of = Trainer.train_step, Trainer.step_values

    def recording_step(trainer, x, y, epoch):
        if rank == 0 and trainer.step == args.snapshot_step:
            # The checkpoint of this step is on disk: what a crash right now would leave.
            shutil.copytree(args.out, args.report / "snapshot")
        return original(trainer, x, y, epoch)

    def recording_values(trainer, stats):
        values = values_of(trainer, stats)  # the steps' global figures, read at a read point
        losses.extend(v[0] for v in values)
        return values

    Trainer.train_step = recording_step
    Trainer.step_values = recording_values
    writes = watch_writes(args.out.resolve())
    run = loop.train(model, bundle, out_dir=args.out.resolve(), sync_bn=args.sync_bn,
                     **train_kwargs(args))
    torch.save(model.state_dict(), args.report / f"weights-{rank}.pt")
    report = {"rank": rank, "attempt": attempt, "losses": losses, "writes": writes,
              "metrics": run.metrics}
    (args.report / f"report-{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
