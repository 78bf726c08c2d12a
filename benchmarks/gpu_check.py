"""The GPU check: stock PyTorch against resnetlab on one CUDA device, in one timed run.

Sections (one JSON, one table each): training img/s of each model from the stock loop to
resnetlab's trainer, one lever at a time (:mod:`benchmarks.gpu.throughput`); test accuracy of
the stock recipe and resnetlab's ``fast`` after the same wall time on the CIFAR subset
(:mod:`benchmarks.gpu.accuracy`); resnet50 inference img/s at batch 1/16/256
(:mod:`benchmarks.gpu.inference`); peak GPU memory of every case; whether the training step
ever makes the host wait for the device (:mod:`benchmarks.gpu.sync`); the machine. Sized for
a device session of 15 minutes: ``--budget`` seconds in all (compilations are skipped, and
timings shortened, when they would not fit), results in docs/benchmarks.md, "GPU check"::

    python benchmarks/gpu_check.py --data-dir ../shared/data/cifar10-subset/cifar-10-batches-py \\
        --json gpu-check.json

``--device cpu --smoke`` runs every section at a tiny size in seconds, so the script is
tested where no GPU is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package


@dataclass(frozen=True)
class Settings:
    """Sizes of one run; :data:`FULL` for a GPU session, :data:`SMOKE` for a quick check."""

    mode: str = "full"
    train_models: tuple[str, ...] = ("resnet18_cifar", "resnet56")
    train_batch: int = 128
    image_size: int = 32  # CIFAR's; smoke runs resize the subset
    train_images: int | None = None  # the whole subset
    test_images: int | None = None
    infer_model: str = "resnet50"
    infer_image: int = 224
    infer_batches: tuple[int, ...] = (1, 16, 256)
    tta_model: str = "resnet20"
    tta_seconds: float = 120.0
    repeats: int = 3
    min_seconds: float = 1.0
    budget_seconds: float = 470.0  # under 8 min: a device session has 15, start and reruns in
    workers: int = 4  # the stock loader's CPU workers
    threads: int | None = None  # torch's CPU threads (None: its default)
    compile_backend: str = "inductor"


FULL = Settings()
# resnet20 at 16 px on 128 images; compile traced by dynamo only (the "eager" backend), since
# inductor's C++ build takes tens of seconds on a small CPU; one thread, because two spinning
# OpenMP threads on a shared 2-core machine ran its steps 10-60x slower (measured 2026-12-02).
SMOKE = Settings(mode="smoke", train_models=("resnet20",), train_batch=8, image_size=16,
                 train_images=128, test_images=64, infer_image=32, infer_batches=(1, 2),
                 tta_seconds=5.0, repeats=1, min_seconds=0.0, budget_seconds=300.0, workers=0,
                 threads=1, compile_backend="eager")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="CIFAR-10 batches folder (cifar-10-batches-py)")
    parser.add_argument("--json", type=Path, required=True, help="where the report goes")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu")
    parser.add_argument("--smoke", action="store_true", help="every section at a tiny size")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for the whole run (default 470; smoke 300)")
    parser.add_argument("--tta-seconds", type=float, default=None,
                        help="wall time of each time-to-accuracy run (default 120; smoke 5)")
    return parser.parse_args(argv)


def settings_for(args: argparse.Namespace) -> Settings:
    s = SMOKE if args.smoke else FULL
    if args.budget is not None:
        s = replace(s, budget_seconds=args.budget)
    if args.tta_seconds is not None:
        s = replace(s, tta_seconds=args.tta_seconds)
    return s


def check_usage(args: argparse.Namespace) -> str | None:
    """The one-line error for a run that cannot start, before anything heavy is imported."""
    if not args.data_dir.is_dir():
        return (f"data folder {args.data_dir} does not exist; pass --data-dir "
                "../shared/data/cifar10-subset/cifar-10-batches-py")
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return ("no CUDA GPU is visible; on a machine without one run "
                "--device cpu --smoke")
    if args.device == "cpu" and not args.smoke:
        return "a full run on the CPU would take hours; add --smoke (or use --device cuda)"
    return None


def load_data(data_dir: Path, s: Settings):
    """The CIFAR subset, resized and cut down to the smoke sizes where asked."""
    from resnetlab.data import DataBundle, load

    bundle = load("cifar10", data_dir, image_size=None if s.image_size == 32 else s.image_size)
    if s.train_images is None and s.test_images is None:
        return bundle
    return DataBundle(bundle.name, train=bundle.train.subset(slice(0, s.train_images)),
                      test=bundle.test.subset(slice(0, s.test_images)))


def machine(device) -> dict[str, Any]:
    import torch

    from resnetlab.bench.machine import detect

    info = detect().to_dict()
    on_cuda = device.type == "cuda"
    info.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                gpu=torch.cuda.get_device_name(device) if on_cuda else None,
                gpu_memory_bytes=torch.cuda.get_device_properties(device).total_memory
                if on_cuda else None)
    return info


def memory_section(report: dict[str, Any], device) -> dict[str, Any]:
    """Every measured case's peak, gathered from the sections (``n/a on cpu`` off CUDA)."""
    if device.type != "cuda":
        return {"status": "n/a on cpu", "cases": []}
    cases = [{"section": "training", "model": row["model"], "case": label,
              "peak_bytes": e["peak_bytes"]}
             for row in report["training"]["models"] for label, e in row["rungs"].items()
             if e.get("peak_bytes") is not None]
    inf = report["inference"]
    cases += [{"section": "inference", "model": inf["model"],
               "case": f"{engine}, batch {row['batch_size']}", "peak_bytes": e["peak_bytes"]}
              for row in inf["batches"] for engine, e in row["engines"].items()
              if e.get("peak_bytes") is not None]
    return {"status": "measured", "what": "torch.cuda.max_memory_allocated during the case's "
            "build and first calls, minus what was allocated before", "cases": cases}


def no_host_sync(name: str, setup, log) -> dict[str, Any]:
    """The sync check on the trainer ``resnetlab train`` builds by default (no compile)."""
    from benchmarks.gpu import sync, throughput
    from resnetlab.hardware import placement
    from resnetlab.models import create_model

    if setup.device.type != "cuda":
        return {"status": "n/a on cpu"}
    log(f"no-host-sync check: {name}, resnetlab trainer step")
    default = throughput.STOCK.with_levers("default", channels_last=True,
                                           precision=placement(setup.device).precision)
    model = create_model(name, num_classes=setup.bundle.num_classes)
    return {"model": name, **sync.check_trainer(throughput.trainer_for(model, default, setup),
                                                setup.device)}


def run_check(args: argparse.Namespace, log=print) -> dict[str, Any]:
    import torch

    from benchmarks.gpu import accuracy, inference, throughput
    from benchmarks.gpu.budget import Budget
    from resnetlab.hardware import placement

    s = settings_for(args)
    device = torch.device(args.device)
    if s.threads:
        torch.set_num_threads(s.threads)
    # A cold inductor compile of a CIFAR ResNet's training step: tens of seconds (a guess
    # until the first one is measured; see docs/benchmarks.md, "GPU check").
    budget = Budget(s.budget_seconds, compile_guess=45.0 if s.compile_backend == "inductor"
                    else 5.0)
    # The accuracy runs come last and take a fixed time: keep it (and a margin) aside.
    tta_keep = 2 * s.tta_seconds + 20.0
    bundle = load_data(args.data_dir, s)
    report: dict[str, Any] = {"command": " ".join(sys.argv), "device": str(device),
                              "settings": asdict(s), "machine": machine(device)}
    setup = throughput.Setup(bundle, s.train_batch, device, s.workers, s.compile_backend,
                             warmup=1 if args.smoke else 3)
    report["no_host_sync"] = no_host_sync(s.train_models[0], setup, log)
    train_budget = budget.part(0.7, keep=tta_keep)
    report["training"] = {"models": [
        throughput.bench_model(name, setup, train_budget.part(1 / (len(s.train_models) - i)),
                               repeats=s.repeats, min_seconds=s.min_seconds, log=log)
        for i, name in enumerate(s.train_models)]}
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the training cases' cached blocks, before resnet50's
    report["inference"] = inference.bench_batches(
        s.infer_model, s.infer_image, s.infer_batches, device, budget.part(1.0, keep=tta_keep),
        backend=s.compile_backend, precision=placement(device).precision, repeats=s.repeats,
        min_seconds=s.min_seconds, log=log)
    report["memory"] = memory_section(report, device)
    # What the sections before took too long for comes out of the accuracy runs, not the lease.
    tta_seconds = min(s.tta_seconds, max(5.0, (budget.left() - 10.0) / 2))
    log(f"time to accuracy: {s.tta_model}, {tta_seconds:.0f} s per recipe")
    report["time_to_accuracy"] = accuracy.compare(s.tta_model, bundle, tta_seconds, device,
                                                  workers=s.workers)
    return report


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    problem = check_usage(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from benchmarks.gpu.table import render
    from resnetlab.errors import ResnetlabError

    try:
        report = run_check(args, log=lambda line: print(
            f"[{time.perf_counter() - started:5.0f} s] {line}", flush=True))
    except ResnetlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    report["seconds"] = time.perf_counter() - started
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print()
    print(render(report))
    print(f"report: {args.json}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
