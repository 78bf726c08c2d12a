"""``resnetlab eval``: top-1/top-5, per-class accuracy and a confusion matrix of a trained model."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab eval``."""
    parser.description = (
        "Evaluate a run directory (or model.safetensors with model.json beside it, or a .onnx / "
        ".xml written by 'resnetlab export'): top-1, top-5, per-class accuracy and a "
        "confusion-matrix PNG. The data defaults to the dataset the model was trained on.")
    options.add_data(parser, "default: the one the model was trained on")
    options.add_weights_argument(parser, "model", exported=True)
    options.add(parser, "--split", "default: test", default="test")
    options.add(parser, "--batch-size", "default: 500", default=500)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction,
                        help="flip test-time augmentation (default: as the recipe trained it)")
    options.add_json(parser, "the metrics")
    parser.add_argument("--confusion", metavar="OUT.png",
                        help="confusion-matrix PNG (default: confusion-<split>.png beside the "
                        "model)")
    options.add(parser, "--strict", "--data folder; other datasets are files, never skipped")
    options.add_runtime(parser)
    options.add(parser, "--engine", "default: eager", default="eager")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.deploy.engines import cpu_engine_device, model_runner

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {args.batch_size}")
    args.device = cpu_engine_device(args.model, args.engine, args.device)
    with model_runner(args.model, engine=args.engine, device=args.device or "cpu"
                      ) as (runner, meta):
        return _evaluate(args, runner, meta)


def _evaluate(args: argparse.Namespace, runner, meta: dict) -> int:
    from resnetlab.data import canonical_name, load
    from resnetlab.train.evaluate import evaluate
    from resnetlab.train.resume import val_size_arg

    trained_on = meta.get("data") or {}
    name = canonical_name(args.data or trained_on.get("name") or "digits")
    root = args.data_dir or (trained_on.get("root") if name == trained_on.get("name") else None)
    # The split as the data recorded it (an exported file carries only that); older runs
    # recorded it in the recipe and the run's seed.
    recipe = meta.get("recipe") or {}
    held_out = trained_on.get("val_size", recipe.get("val_size")) or 0
    val_size = val_size_arg(float(held_out)) if args.split == "val" else 0
    if args.split == "val" and not val_size:
        raise ConfigError("this model was trained without a validation split; use --split test")
    bundle = load(name, root, val_size=val_size, image_size=tuple(meta["input_size"][1:]),
                  seed=int(trained_on.get("seed", meta.get("seed", 0))), strict=args.strict)
    ds = getattr(bundle, args.split)
    result = evaluate(runner, ds, meta=meta, batch_size=args.batch_size, device=args.device,
                      tta_flip=args.tta)
    source = Path(args.model).expanduser()
    beside = source if source.is_dir() else source.parent if source.exists() else Path.cwd()
    png = Path(args.confusion) if args.confusion else beside / f"confusion-{args.split}.png"
    result.save_confusion_png(png, title=f"{meta['model']} on {name} {args.split}")
    tta = " (flip TTA)" if result.tta else ""
    if args.json != "-":  # with --json -, stdout is the JSON alone
        print(f"{meta['model']} on {name}/{args.split}: top-1 {100 * result.top1:.2f}%  "
              f"top-5 {100 * result.top5:.2f}%  loss {result.loss:.4f}  n={result.n}{tta}")
        width = max(len(c) for c in result.classes)
        for cls, acc in result.per_class.items():
            print(f"  {cls:<{width}}  {100 * acc:6.2f}%")
        print(f"confusion matrix: {png}")
    if args.json:
        options.write_json({**result.to_dict(), "model": meta["model"], "data": name,
                            "split": args.split, "confusion_png": str(png)}, args.json)
    return 0
