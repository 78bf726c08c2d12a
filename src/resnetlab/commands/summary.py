"""``resnetlab summary NAME``: the per-layer table of a registered model."""

from __future__ import annotations

import argparse

from resnetlab.commands import options
from resnetlab.errors import ConfigError, ResnetlabError

_FALLBACK_INPUT_SIZE = (3, 224, 224)


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab summary``."""
    parser.description = (
        "Run one dummy batch through a registered model and print every layer with its output "
        "shape, parameter count and multiply-accumulates: torchsummary's rows and numbering "
        "(each block closed by its own row, as in the course notes), torchinfo's totals.")
    parser.add_argument("name", metavar="NAME", help=options.SPECS["--model"][0])
    parser.add_argument("--input-size", nargs="+", type=options.whole_number, metavar="N",
                        help="one sample's shape without batch, e.g. 3 32 32 (default: the "
                        "model card's)")
    parser.add_argument("--num-classes", type=options.whole_number, metavar="N",
                        help="classifier outputs")
    parser.add_argument("--depth", type=options.whole_number, metavar="N",
                        help="network depth override passed to the model (e.g. 110)")
    parser.add_argument("--max-depth", type=options.whole_number, metavar="D",
                        help="show rows down to this nesting level only (1 = top-level blocks; "
                        "default: all)")
    parser.add_argument("--formula", action="store_true",
                        help="add a Calculation column: how each layer's parameter count adds "
                        "up (64 × 3 × 7 × 7, 64 × 2, 512 × 1000 + 1000)")
    options.add_json(parser, "the summary")
    parser.set_defaults(func=run)


def _default_input_size(name: str) -> tuple[int, ...]:
    """The model card's input size; the ImageNet size while cards lack one."""
    try:
        from resnetlab.models import get_card
    except ImportError:
        return _FALLBACK_INPUT_SIZE
    size = getattr(get_card(name), "input_size", None)
    return tuple(size) if size else _FALLBACK_INPUT_SIZE


def _size_text(size: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in size)


def run(args: argparse.Namespace) -> int:
    """Build the model, summarise it, print the table (and write JSON if asked)."""
    import resnetlab
    from resnetlab.analysis.summary import summary

    overrides: dict[str, int] = {}
    if args.num_classes is not None:
        if args.num_classes <= 0:
            raise ConfigError(
                f"--num-classes {args.num_classes} is not a class count: give 1 or more"
            )
        overrides["num_classes"] = args.num_classes
    if args.depth is not None:
        overrides["depth"] = args.depth
    if args.max_depth is not None and args.max_depth < 1:
        raise ConfigError(f"--max-depth {args.max_depth} is too small: give 1 or more")
    if args.input_size is not None and any(d <= 0 for d in args.input_size):
        raise ConfigError(
            f"--input-size {' '.join(map(str, args.input_size))} has a non-positive size: "
            "give positive numbers such as 3 224 224"
        )

    model = resnetlab.create_model(args.name, **overrides)
    default = _default_input_size(args.name)
    size = tuple(args.input_size) if args.input_size is not None else default
    try:
        result = summary(model, (1, *size), depth=args.max_depth)
    except ResnetlabError:
        raise
    except (RuntimeError, ValueError) as exc:
        if size == default:  # the model's own size failing is a bug, not a user error
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = (
            f"it takes {default[0]} input channels"
            if len(size) != len(default) or size[0] != default[0]
            else "use a bigger one"
        )
        raise ConfigError(
            f"input size {_size_text(size)} does not fit {args.name} ({reason}); {fix}, "
            f"e.g. --input-size {' '.join(map(str, default))}"
        ) from exc
    result.model = args.name

    if args.json != "-":
        print(result.table(formula=args.formula))
    if args.json:
        options.write_json(result.to_dict(), args.json)
    return 0
