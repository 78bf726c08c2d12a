"""``resnetlab train``: train a model on a dataset with a recipe; resumable with ``--resume``."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError

# Options that describe a new run; with --resume the run's config.json decides them
# (--data-dir, --epochs and --more-epochs are the exceptions: data moved, a longer run).
_RUN_OPTIONS = ("model", "data", "recipe", "protocol", "time_budget", "batch_size",
                "lr", "weights", "precision", "channels_last", "compile", "seed", "out",
                "overwrite", "image_size", "strict", "checkpoint_steps", "checkpoint_seconds",
                "deterministic", "sync_bn", "resume_if_exists")


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab train``."""
    parser.description = (
        "Train a model with a recipe. With no arguments: the Quickstart (resnet20 on the "
        "embedded digits, about a minute on a laptop CPU). Every recipe field can be changed "
        "with --set FIELD=VALUE (see 'resnetlab recipes RECIPE').")
    data = options.add_data(
        parser, "default: digits, embedded", image_size="default: the recipe's, else the "
        "dataset's", data_dir_note="all datasets but digits; with --resume, where the run's "
        "data is now if it moved")
    options.add(data, "--strict", "--data folder; recorded in config.json, so a resume keeps it",
                default=None)
    options.add_model(
        parser, "default: one that suits the data", "start from them; a classifier of another "
        "size starts fresh. To adapt a pretrained net to new classes, 'resnetlab finetune' "
        "does more")
    recipe = options.add_recipe(
        parser, epochs_note="replaces the recipe's length; with --resume, the new total of a run "
        "to lengthen")
    recipe.add_argument("--more-epochs", type=int, metavar="K",
                        help="with --resume: train K more epochs (a finished run gets a new "
                        "warm-up and decay phase)")
    options.add(recipe, "--protocol", "fixes the recipe, length and split; refuses other "
                "data than the full CIFAR-10")
    options.add(recipe, "--force")
    recipe.add_argument("--deterministic", action="store_true", default=None,
                        help="deterministic kernels (bitwise repeatable on GPU; slower)")
    options.add_runtime(parser, precision=True, threads="default: one per core; 1 for digits; "
                        "a resumed run uses the run's own")
    speed = parser.add_argument_group("speed")
    speed.add_argument("--channels-last", action=argparse.BooleanOptionalAction,
                       help="NHWC memory format (default: on, it is faster on CPU and GPU)")
    options.add(speed, "--compile", "off by default: on CPU it added nothing to bf16 + "
                "channels_last, docs/benchmarks.md", default=None)
    speed.add_argument("--sync-bn", action="store_true", default=None,
                       help="under torchrun: BatchNorm statistics over the global batch "
                       "(SyncBatchNorm; a gloo all-reduce on CPU)")
    options.add_budget(parser, "alone, it sets the length: the run ends between 95 and 100 %% "
                       "of them; with --epochs, whichever is shorter")
    output = options.add_output(parser, "the run directory; default: runs/<model>-<data>-<time>",
                                overwrite="a previous run there is deleted")
    options.add(output, "--resume", "a run directory")
    output.add_argument("--resume-if-exists", action="store_true", default=None,
                        help="continue --out if it has a checkpoint, else start it (for "
                        "requeued jobs; torchrun restarts do this by themselves)")
    options.add(output, "--quiet")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from resnetlab.errors import ResnetlabError
    from resnetlab.train.distributed import leave_error_to_rank_zero

    try:
        return _run(args)
    except ResnetlabError as exc:
        leave_error_to_rank_zero(exc)  # under torchrun, rank 0 alone reports the error
        raise


def _run(args: argparse.Namespace) -> int:
    from resnetlab.train.distributed import is_main_process
    from resnetlab.train.recipes import parse_assignments

    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.resume:
        given = [o for o in _RUN_OPTIONS if getattr(args, o) is not None] + (
            ["set"] if args.set else [])
        if given:
            flags = ", ".join("--" + o.replace("_", "-") for o in given)
            raise ConfigError(f"--resume takes every setting from the run's config.json; drop "
                              f"{flags}")
        from resnetlab.train.resume import resume

        result = resume(args.resume, quiet=args.quiet, device=args.device, threads=args.threads,
                        data_dir=args.data_dir, epochs=args.epochs, more_epochs=args.more_epochs)
    else:
        if args.more_epochs is not None:
            raise ConfigError("--more-epochs lengthens an existing run: use it with --resume "
                              "RUN_DIR (for a new run, pass --epochs N)")
        pairs = parse_assignments(item for group in args.set for item in group)
        result = _train_new(args, pairs)
    if is_main_process():
        _report(result)
    return 0


def _train_new(args: argparse.Namespace, pairs: dict[str, str]):
    from resnetlab.data import canonical_name
    from resnetlab.hardware import seed_everything
    from resnetlab.models import create_model
    from resnetlab.train.defaults import defaults_for, resolve_for_data
    from resnetlab.train.loop import train
    from resnetlab.train.resume import load_bundle

    data = canonical_name(args.data or "digits")
    defaults = defaults_for(data)
    if args.threads is None and defaults.threads:
        import torch

        torch.set_num_threads(defaults.threads)
    if args.lr is not None:
        pairs = {"lr": str(args.lr), **pairs}
    if args.protocol is not None:
        recipe, epochs, budget = _protocol_recipe(args, pairs), None, None
    else:
        # the same choice as resnetlab.train(); fails on a bad value before loading data
        recipe, epochs, budget = resolve_for_data(data, args.recipe, pairs, args.epochs,
                                                  args.batch_size, args.time_budget)
    seed = 0 if args.seed is None else args.seed
    if args.checkpoint_steps is not None and args.checkpoint_steps < 0:
        raise ConfigError(f"--checkpoint-steps must be >= 0, got {args.checkpoint_steps}")
    image_size = args.image_size or recipe.image_size or defaults.image_size
    data_spec = {"name": data, "root": str(Path(args.data_dir).resolve()) if args.data_dir
                 else None, "image_size": image_size, "strict": bool(args.strict)}
    if args.protocol is not None:
        recipe = _checked_protocol_data(args, data, data_spec, recipe, seed)
    bundle = load_bundle(data_spec, recipe, seed)  # bundle.source is what the run records
    seed_everything(seed)  # the model's initial weights depend on the seed only
    model = create_model(args.model or defaults.model, num_classes=bundle.num_classes,
                         in_chans=bundle.input_size[0])
    if args.protocol is not None:
        from resnetlab.train.protocol import check_paper_model

        check_paper_model(model.config.shortcut, force=args.force)
    if args.weights:
        _load_initial_weights(model, args.weights)
    return train(
        model, bundle, recipe, args.out, epochs=epochs, time_budget=budget, device=args.device,
        precision=args.precision, channels_last=args.channels_last,
        compile=bool(args.compile), seed=seed,
        deterministic=bool(args.deterministic), overwrite=bool(args.overwrite),
        checkpoint_steps=args.checkpoint_steps or 0,
        checkpoint_seconds=60.0 if args.checkpoint_seconds is None else args.checkpoint_seconds,
        quiet=args.quiet, sync_bn=bool(args.sync_bn),
        resume_if_exists=bool(args.resume_if_exists),
    )


def _protocol_recipe(args: argparse.Namespace, pairs: dict[str, str]):
    """The recipe of ``--protocol``; options that would change it are refused, not ignored."""
    from resnetlab.train.protocol import paper_recipe, resolve_protocol

    plan = resolve_protocol(args.protocol)
    clashes = [flag for flag, value in (("--recipe", args.recipe), ("--epochs", args.epochs),
                                        ("--batch-size", args.batch_size),
                                        ("--time-budget", args.time_budget),
                                        ("--image-size", args.image_size),
                                        ("--lr/--set", pairs or None)) if value is not None]
    if clashes:
        raise ConfigError(f"--protocol {args.protocol} fixes the schedule; drop "
                          f"{', '.join(clashes)} (or train with --recipe {plan.recipe} and "
                          "change what you like)")
    return paper_recipe(plan)


def _checked_protocol_data(args: argparse.Namespace, data: str, data_spec: dict, recipe,
                           seed: int):
    """Refuse data that is not the paper's before anything is split or trained; with
    ``--force`` the recipe holds out the paper's share of it instead of 5,000 images."""
    from resnetlab.train.protocol import check_paper_data, paper_recipe, resolve_protocol
    from resnetlab.train.resume import load_bundle

    whole = load_bundle({**data_spec, "val_size": 0}, recipe, seed)  # counted before the split
    check_paper_data(data, len(whole.train), len(whole.test), force=args.force)
    return paper_recipe(resolve_protocol(args.protocol), len(whole.train))


def _load_initial_weights(model, source: str) -> None:
    """Load ``source`` into ``model``; only the classifier may differ (then it stays fresh)."""
    from resnetlab.models.hub.weights import load_weights

    if load_weights(model, source, new_head=True).fresh_head:
        print(f"note: --weights {source}: the classifier does not fit "
              f"{model.fc.out_features} classes and starts fresh", flush=True)


def _report(result) -> None:
    m = result.metrics
    if result.already_finished:
        done = f" ({m['epochs']} epochs, test accuracy {100 * m['test_top1']:.2f}%)" if (
            "test_top1" in m and "epochs" in m) else ""
        print(f"run {result.run_dir} already finished{done}; nothing changed. To train it "
              f"longer: resnetlab train --resume {result.run_dir} --more-epochs K")
        return
    tta = " with flip TTA" if m.get("tta_flip") else ""
    print(f"test accuracy: {100 * m['test_top1']:.2f}% top-1{tta}, "
          f"{100 * m['test_top5']:.2f}% top-5 on {m['test_n']} images "
          f"({m['steps']} steps, {m['train_seconds']:.0f} s)")
    print(f"run dir: {result.run_dir}")
