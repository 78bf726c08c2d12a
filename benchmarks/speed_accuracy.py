"""Same-epoch test accuracy and real training-loop speed: resnetlab's fast path vs stock fp32.

Trains a model twice on the shared CIFAR-10 subset with the same recipe, seed and epochs:
once as stock PyTorch would (fp32, NCHW: ``--precision fp32 --no-channels-last``) and once
with resnetlab's per-device defaults (what ``resnetlab train`` picks; ``--precision`` forces
one). With ``--repeats`` > 1 the order of the two flips every repeat, so load drift on a shared
machine hits both alike. Reports test top-1 after every epoch and the loop's own images/s
(augmentation included). Repeat ``r`` trains both paths with seed ``--seed + r``, so
``--repeats 3`` also shows the seed-to-seed spread. Not part of CI; results go to
docs/benchmarks.md::

    .venv/bin/python benchmarks/speed_accuracy.py --epochs 30 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"


def one_run(bundle, args, *, channels_last: bool | None, precision: str | None,
            out: Path, seed: int) -> dict:
    from resnetlab.train import train

    run = train(args.model, bundle, recipe=args.recipe, out_dir=out, epochs=args.epochs,
                seed=seed, channels_last=channels_last, precision=precision,
                overwrite=True, quiet=True)
    history = run.history
    return {"test_acc": [row["test_acc"] for row in history],
            "images_per_second": statistics.median(row["images_per_second"]
                                                   for row in history[1:] or history),
            "final_top1": run.metrics["test_top1"],
            "train_seconds": run.metrics["train_seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--recipe", default="fast")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--precision", choices=("fp32", "bf16"),
                        help="force the fast path's precision (default: resnetlab's choice)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from resnetlab.data import load
    from resnetlab.hardware import placement

    bundle = load("cifar10", args.data_dir)
    fast = placement("cpu", args.precision)
    paths = {"stock fp32 NCHW": {"channels_last": False, "precision": "fp32"},
             f"resnetlab ({fast.precision}, channels_last={fast.channels_last})":
                 {"channels_last": None, "precision": args.precision}}
    results: dict[str, list[dict]] = {name: [] for name in paths}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            order = list(paths) if r % 2 == 0 else list(reversed(paths))
            for name in order:
                started = time.perf_counter()
                # Repeat r uses seed + r for both paths: the spread over seeds shows how
                # much of a difference is noise.
                results[name].append(one_run(bundle, args, out=Path(tmp) / f"run{r}",
                                             seed=args.seed + r, **paths[name]))
                res = results[name][-1]
                print(f"{name}: epoch test top-1 "
                      + " ".join(f"{100 * a:.1f}" for a in res["test_acc"])
                      + f"; final (TTA) {100 * res['final_top1']:.2f} %; "
                      f"{res['images_per_second']:.0f} img/s in the loop; "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
    names = list(paths)
    diffs = [100 * (b["test_acc"][-1] - a["test_acc"][-1])
             for a, b in zip(results[names[0]], results[names[1]], strict=True)]
    speed = [b["images_per_second"] / a["images_per_second"]
             for a, b in zip(results[names[0]], results[names[1]], strict=True)]
    print(f"same-epoch ({args.epochs}) test top-1, fast - stock: "
          + ", ".join(f"{d:+.2f}" for d in diffs) + " points; loop speed ratio "
          + ", ".join(f"{s:.2f}x" for s in speed))
    if args.repeats > 1:
        for name in names:
            finals = [100 * run["test_acc"][-1] for run in results[name]]
            print(f"{name}: last-epoch top-1 over seeds {args.seed}..{args.seed + args.repeats - 1}"
                  f": mean {statistics.mean(finals):.2f}, sd {statistics.stdev(finals):.2f}")
        print(f"mean difference {statistics.mean(diffs):+.2f} points "
              f"(sd of the paired differences {statistics.stdev(diffs):.2f})")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "results": results, "top1_diff_points": diffs,
                                         "speed_ratio": speed, "torch": torch.__version__},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
