"""``resnetlab models [PATTERN]``: the registry as a table (params, MACs, input size, paper)."""

from __future__ import annotations

import argparse

from resnetlab.commands import options
from resnetlab.errors import ConfigError
from resnetlab.models import get_card, list_models


def _short_macs(macs: int) -> str:
    return f"{macs / 1e9:.2f} G" if macs >= 1e9 else f"{macs / 1e6:.1f} M"


def render_table(names: list[str]) -> str:
    """One row per model: name, exact params, MACs at its input size, input size, source."""
    header = ("model", "params", "MACs", "input", "paper / reported")
    rows = []
    for name in names:
        card = get_card(name)
        rows.append((name, f"{card.params:,}", _short_macs(card.macs),
                     "x".join(map(str, card.input_size)),
                     f"{card.paper.split(',')[0]}; {card.reported}"))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].rjust(widths[2]),
                 row[3].ljust(widths[3]), row[4]]
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    if not names:
        raise ConfigError(f"no model matches {args.pattern!r}; try 'resnetlab models' for all")
    if args.json:
        options.write_json([get_card(n).to_dict() for n in names], args.json)
    if args.json != "-":
        print(render_table(names))
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab models``."""
    parser.description = ("List registered models: exact parameter count, MACs at the default "
                          "input size, input size, source paper and its reported accuracy.")
    parser.add_argument("pattern", nargs="?", default="*", metavar="PATTERN",
                        help="shell-style filter, e.g. 'resnet*' or '*cifar' (default: all)")
    options.add_json(parser, "the model cards")
    parser.set_defaults(func=run)
