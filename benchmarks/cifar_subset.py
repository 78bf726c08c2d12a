"""Benchmark: resnet20 + the ``fast`` recipe on the shared CIFAR-10 subset, under a time budget.

Trains on the subset's 4,068 training images (4 x 1,017, no validation hold-out) and reports
top-1 on its 1,017-image test batch. Not part of CI; results go to docs/benchmarks.md::

    .venv/bin/python benchmarks/cifar_subset.py --budget 420 --out runs/bench-cifar-subset

Extra ``--set FIELD=VALUE`` pairs override recipe fields (for tuning); ``--epochs N`` trains a
fixed number of epochs instead (accuracy without the speed of the machine in the way).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"


def main() -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--budget", type=float, default=420.0, help="training budget, seconds")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train exactly this many epochs instead of filling --budget")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cifar-subset"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from resnetlab.data import load
    from resnetlab.hardware import seed_everything
    from resnetlab.models import create_model
    from resnetlab.train import get_recipe, train, with_overrides
    from resnetlab.train.recipes import parse_assignments

    recipe = with_overrides(get_recipe(args.recipe), parse_assignments(args.set))
    bundle = load("cifar10", args.data_dir, val_size=0)
    seed_everything(args.seed)
    model = create_model(args.model, num_classes=bundle.num_classes)
    t0 = time.perf_counter()
    budget = None if args.epochs else args.budget
    run = train(model, bundle, recipe, args.out, epochs=args.epochs, time_budget=budget,
                seed=args.seed, overwrite=True,
                data_spec={"name": "cifar10", "root": str(args.data_dir)})
    train_wall = time.perf_counter() - t0
    m = run.metrics
    result = {
        "model": args.model, "recipe": recipe.to_dict(), "budget_s": budget,
        "train_images": len(bundle.train), "test_images": len(bundle.test),
        "test_top1": m["test_top1"], "test_top1_no_tta": m["test_top1_no_tta"],
        "epochs": m["epochs"], "steps": m["steps"], "train_call_wall_s": train_wall,
        "total_wall_s": time.perf_counter() - started, "threads": torch.get_num_threads(),
        "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "run_dir": str(run.run_dir), "curves": str(run.run_dir / "curves.png"),
    }
    (run.run_dir / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"test top-1 {100 * m['test_top1']:.2f}% (without TTA "
          f"{100 * (m['test_top1_no_tta'] or 0):.2f}%) after {m['steps']} steps / "
          f"{m['epochs']} epochs; train() took {train_wall:.0f} s"
          + (f" of a {budget:g} s budget" if budget else ""))
    print(f"run dir: {run.run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
