"""``resnetlab finetune``: pretrained weights, a new head for a dataset, then the whole net."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError

_RUN_OPTIONS = ("model", "weights", "data", "data_dir", "val_dir", "val_size", "image_size",
                "recipe", "epochs", "freeze_epochs", "lr", "lr_decay", "batch_size", "seed",
                "out", "overwrite", "precision", "time_budget", "checkpoint_steps",
                "checkpoint_seconds")


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab finetune``."""
    parser.description = (
        "Replace the classifier of pretrained weights for the dataset's classes, train it alone "
        "with the backbone frozen for --freeze-epochs, then train everything with "
        "discriminative learning rates (lr * lr-decay ** stages-from-the-head). The result, "
        "--out, is a run directory for eval, predict and export.")
    data = options.add_data(parser, "default: folder", image_size="default: the dataset's",
                            data_dir_note="a folder: one sub-folder per class")
    data.add_argument("--val-dir", metavar="DIR", type=Path,
                      help="validation folder (default: a stratified split of the training "
                      "images, --val-size)")
    data.add_argument("--val-size", type=float, metavar="SIZE",
                      help="validation share when there is no --val-dir: a fraction or a count "
                      "(default: 0.1)")
    options.add(data, "--strict", "recorded in finetune.json, so a resume keeps it")
    options.add_model(parser, "default: the one in the model.json beside --weights",
                      "the pretrained weights; required unless --resume")
    recipe = options.add_recipe(parser, epochs_note="of the whole network; default: 10",
                                lr_note="of the head; default: 0.01")
    recipe.add_argument("--freeze-epochs", type=int, metavar="N",
                        help="epochs of the head alone first (default: 2; 0 skips the phase)")
    recipe.add_argument("--lr-decay", type=float, metavar="F",
                        help="learning-rate factor per stage away from the head (default: 0.5)")
    options.add_runtime(parser, precision=True, threads="default: one per core")
    options.add_budget(parser, "shared by the two phases in proportion to their epochs; each "
                       "takes its epochs or what fits its share, whichever is shorter")
    output = options.add_output(
        parser, "the fine-tune directory; default: runs/finetune-<model>-<time>",
        overwrite="a previous fine-tune there is deleted")
    options.add(output, "--resume", "a fine-tune directory")
    options.add(output, "--quiet")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.train.finetune import resume_finetune

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.resume:
        given = [o for o in _RUN_OPTIONS if getattr(args, o) is not None]
        if given or args.set:
            flags = ", ".join("--" + o.replace("_", "-") for o in given + ["set"] * bool(args.set))
            raise ConfigError(f"--resume takes every setting from finetune.json; drop {flags}")
        result = resume_finetune(args.resume, quiet=args.quiet, device=args.device)
    else:
        result = _new(args)
    m = result.metrics
    print(f"test accuracy: {100 * m['test_top1']:.2f}% top-1 on {m['test_n']} images")
    print(f"run dir: {result.run_dir.parent}")
    return 0


def _new(args: argparse.Namespace):
    from resnetlab.data import canonical_name
    from resnetlab.train.finetune import finetune, load_data
    from resnetlab.train.recipes import parse_assignments, resolve_recipe
    from resnetlab.train.rundir import default_run_dir

    if not args.weights:
        raise ConfigError("finetune needs pretrained weights: pass --weights SOURCE")
    data = canonical_name(args.data or "folder")
    pairs = parse_assignments(item for group in args.set for item in group)
    pairs = {"lr": str(0.01 if args.lr is None else args.lr), **pairs}
    epochs = 10 if args.epochs is None else args.epochs
    freeze = 2 if args.freeze_epochs is None else args.freeze_epochs
    recipe = resolve_recipe(args.recipe or "fast", pairs, max(1, epochs), args.batch_size)
    seed = 0 if args.seed is None else args.seed
    spec = {"name": data, "root": str(Path(args.data_dir).resolve()) if args.data_dir else None,
            "val_dir": str(Path(args.val_dir).resolve()) if args.val_dir else None,
            "val_size": 0.1 if args.val_size is None else args.val_size,
            "image_size": args.image_size, "strict": bool(args.strict)}
    if spec["val_size"] >= 1:
        spec["val_size"] = int(spec["val_size"])
    if spec["val_dir"] is None:
        del spec["val_dir"]
    bundle = load_data(spec, seed)
    out = args.out or default_run_dir(f"finetune-{args.model or 'model'}", data)
    return finetune(args.model, args.weights, bundle, recipe, out, epochs=epochs,
                    freeze_epochs=freeze, lr_decay=0.5 if args.lr_decay is None
                    else args.lr_decay, data_spec=spec, seed=seed,
                    overwrite=bool(args.overwrite), quiet=args.quiet, device=args.device,
                    precision=args.precision, time_budget=args.time_budget,
                    checkpoint_steps=args.checkpoint_steps or 0,
                    checkpoint_seconds=60.0 if args.checkpoint_seconds is None
                    else args.checkpoint_seconds)
