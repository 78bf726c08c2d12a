"""Benchmark: does fine-tuning beat training from scratch on the shared CIFAR-10 subset?

Pre-trains resnet20 on classes 0-4 (airplane..deer), then trains on classes 5-9 (dog..truck)
twice with the same number of epochs: ``resnetlab finetune`` from the pre-trained run
(head-only epochs + full epochs) and ``resnetlab train`` from random weights. Both are scored
on the test batch's images of classes 5-9. Not part of CI; results go to docs/benchmarks.md::

    .venv/bin/python benchmarks/transfer.py --out runs/bench-transfer
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_DATA = (Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"
                / "cifar-10-batches-py")


def _cli(*argv: str) -> None:
    from resnetlab.cli import main

    code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"'resnetlab {' '.join(map(str, argv))}' failed with code {code}")


def _export(data_dir: Path, out: Path, classes: list[str]) -> Path:
    """``out/train`` and ``out/test`` image folders of ``classes`` (class indices)."""
    for split in ("train", "test"):
        _cli("data", "export-folder", "--data", "cifar10", "--data-dir", data_dir, "--out",
             out / split, "--split", split, "--classes", *classes, "--overwrite")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-transfer"))
    parser.add_argument("--pretrain-epochs", type=int, default=15)
    parser.add_argument("--freeze-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10,
                        help="full fine-tune epochs; scratch gets these + --freeze-epochs")
    parser.add_argument("--lr", type=float, default=0.05, help="fine-tune peak lr")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default torch's; 1 is faster on a busy machine)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    out = args.out
    t0 = time.perf_counter()
    source = _export(args.data_dir, out / "data-0-4", ["0", "1", "2", "3", "4"])
    target = _export(args.data_dir, out / "data-5-9", ["5", "6", "7", "8", "9"])
    common = ("--device", args.device, "--quiet", "--overwrite")
    _cli("train", "--model", "resnet20", "--data", "folder", "--data-dir", source,
         "--epochs", args.pretrain_epochs, "--out", out / "pretrain", *common)
    t1 = time.perf_counter()
    _cli("finetune", "--weights", out / "pretrain", "--data", "folder", "--data-dir", target,
         "--epochs", args.epochs, "--freeze-epochs", args.freeze_epochs, "--lr", args.lr,
         "--val-size", "0", "--out", out / "finetune", *common)
    t2 = time.perf_counter()
    # From scratch twice: at the recipe's own peak lr, and at the fine-tune's lr (so neither
    # comparison is won by a learning rate alone).
    scratch_epochs = ("--epochs", args.epochs + args.freeze_epochs)
    _cli("train", "--model", "resnet20", "--data", "folder", "--data-dir", target,
         *scratch_epochs, "--out", out / "scratch", *common)
    t3 = time.perf_counter()
    _cli("train", "--model", "resnet20", "--data", "folder", "--data-dir", target,
         *scratch_epochs, "--lr", args.lr, "--out", out / "scratch-same-lr", *common)

    def top1(run: Path) -> float:
        return json.loads((run / "model.json").read_text())["metrics"]["test_top1"]

    result = {
        "pretrain_top1_classes_0_4": top1(out / "pretrain"),
        "finetune_top1_classes_5_9": top1(out / "finetune"),
        "scratch_top1_classes_5_9": top1(out / "scratch"),
        "scratch_same_lr_top1_classes_5_9": top1(out / "scratch-same-lr"),
        "epochs_on_5_9": args.epochs + args.freeze_epochs,
        "threads": torch.get_num_threads(),
        "seconds": {"pretrain": t1 - t0, "finetune": t2 - t1, "scratch": t3 - t2,
                    "scratch_same_lr": time.perf_counter() - t3},
    }
    print(json.dumps(result, indent=2))
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
