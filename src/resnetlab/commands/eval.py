"""``resnetlab eval``: top-1/top-5, per-class accuracy and a confusion matrix of a trained model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from resnetlab.errors import ConfigError


def register(subparsers) -> None:
    from resnetlab.data import DATASETS

    p = subparsers.add_parser(
        "eval", help="evaluate a trained model on a dataset split",
        description="Evaluate a run directory (or model.safetensors with model.json beside it): "
        "top-1, top-5, per-class accuracy and a confusion-matrix PNG. The data defaults to the "
        "dataset the model was trained on.")
    p.add_argument("model", metavar="RUN_DIR_OR_WEIGHTS")
    p.add_argument("--data", choices=DATASETS, help="dataset (default: the training dataset)")
    p.add_argument("--data-dir", help="dataset directory")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.add_argument("--json", metavar="OUT.json", help="also write the results as JSON")
    p.add_argument("--confusion", metavar="OUT.png",
                   help="confusion-matrix PNG (default: confusion-<split>.png beside the model)")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction,
                   help="flip test-time augmentation (default: as the recipe trained it)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.data import canonical_name, load
    from resnetlab.train.artifacts import locate, read_meta
    from resnetlab.train.evaluate import evaluate
    from resnetlab.train.resume import val_size_arg

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    weights, meta_path = locate(args.model)
    meta = read_meta(meta_path)
    trained_on = meta.get("data") or {}
    name = canonical_name(args.data or trained_on.get("name") or "digits")
    root = args.data_dir or (trained_on.get("root") if name == trained_on.get("name") else None)
    recipe = meta.get("recipe") or {}
    val_size = val_size_arg(float(recipe.get("val_size", 0))) if args.split == "val" else 0
    if args.split == "val" and not val_size:
        raise ConfigError("this model was trained without a validation split; use --split test")
    bundle = load(name, root, val_size=val_size, image_size=tuple(meta["input_size"][1:]),
                  seed=int(meta.get("seed", 0)))
    ds = getattr(bundle, args.split)
    result = evaluate(weights, ds, batch_size=args.batch_size, device=args.device,
                      tta_flip=args.tta)
    png = Path(args.confusion) if args.confusion else weights.parent / f"confusion-{args.split}.png"
    result.save_confusion_png(png, title=f"{meta['model']} on {name} {args.split}")
    tta = " (flip TTA)" if result.tta else ""
    print(f"{meta['model']} on {name}/{args.split}: top-1 {100 * result.top1:.2f}%  "
          f"top-5 {100 * result.top5:.2f}%  loss {result.loss:.4f}  n={result.n}{tta}")
    width = max(len(c) for c in result.classes)
    for cls, acc in result.per_class.items():
        print(f"  {cls:<{width}}  {100 * acc:6.2f}%")
    print(f"confusion matrix: {png}")
    if args.json:
        out = {**result.to_dict(), "model": meta["model"], "data": name, "split": args.split,
               "confusion_png": str(png)}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0
