"""``resnetlab finetune``: pretrained weights, a new head for a dataset, then the whole net."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.errors import ConfigError

_RUN_OPTIONS = ("model", "weights", "data", "data_dir", "val_dir", "val_size", "image_size",
                "recipe", "epochs", "freeze_epochs", "lr", "lr_decay", "batch_size", "seed",
                "out", "overwrite")


def register(subparsers) -> None:
    from resnetlab.data import DATASETS
    from resnetlab.train.recipes import RECIPES

    p = subparsers.add_parser(
        "finetune", help="fine-tune pretrained weights on a dataset (transfer learning)",
        description="Replace the classifier of pretrained weights for the dataset's classes, "
        "train it alone with the backbone frozen for --freeze-epochs, then train everything "
        "with discriminative learning rates (lr * lr-decay ** stages-from-the-head). The "
        "result, --out, is a run directory for eval, predict and export.")
    p.add_argument("--model", help="architecture (default: the one in the model.json beside "
                   "--weights)")
    p.add_argument("--weights", help="pretrained weights: a .safetensors/.pth file or a "
                   "finished run directory")
    p.add_argument("--data", choices=DATASETS, default=None, help="dataset (default: folder)")
    p.add_argument("--data-dir", help="dataset directory (a folder: one sub-folder per class)")
    p.add_argument("--val-dir", help="validation folder (default: a stratified split of the "
                   "training images, --val-size)")
    p.add_argument("--val-size", type=float, help="validation share when there is no "
                   "--val-dir: a fraction or a count (default: 0.1)")
    p.add_argument("--image-size", type=int, help="resize images to this size")
    p.add_argument("--recipe", choices=tuple(RECIPES), help="training recipe (default: fast)")
    p.add_argument("--epochs", type=int, help="epochs of the whole network (default: 10)")
    p.add_argument("--freeze-epochs", type=int, help="epochs of the head alone first "
                   "(default: 2; 0 skips the phase)")
    p.add_argument("--lr", type=float, help="peak learning rate of the head (default: 0.01)")
    p.add_argument("--lr-decay", type=float, help="learning-rate factor per stage away from "
                   "the head (default: 0.5)")
    p.add_argument("--batch-size", type=int, help="batch size")
    p.add_argument("--set", action="append", default=[], nargs="+", metavar="FIELD=VALUE",
                   help="override any recipe field")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda if available)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--out", help="fine-tune directory (default: runs/finetune-<model>-<time>)")
    p.add_argument("--resume", metavar="DIR", help="continue the fine-tune in DIR")
    p.add_argument("--overwrite", action="store_true", default=None,
                   help="replace an existing directory")
    p.add_argument("--quiet", action="store_true", help="print only the final result")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.train.finetune import resume_finetune

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
        raise ConfigError("finetune needs pretrained weights: pass --weights FILE_OR_RUN_DIR")
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
            "image_size": args.image_size}
    if spec["val_size"] >= 1:
        spec["val_size"] = int(spec["val_size"])
    if spec["val_dir"] is None:
        del spec["val_dir"]
    bundle = load_data(spec, seed)
    out = args.out or default_run_dir(f"finetune-{args.model or 'model'}", data)
    return finetune(args.model, args.weights, bundle, recipe, out, epochs=epochs,
                    freeze_epochs=freeze, lr_decay=0.5 if args.lr_decay is None
                    else args.lr_decay, data_spec=spec, seed=seed,
                    overwrite=bool(args.overwrite), quiet=args.quiet, device=args.device)
