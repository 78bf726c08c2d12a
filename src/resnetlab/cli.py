"""The ``resnetlab`` command: one entry point, one module per sub-command.

Each module in :mod:`resnetlab.commands` exposes ``register(subparsers)``, which adds its parser
and sets ``func`` to the function that runs it. User errors (:class:`ResnetlabError`) are printed
on one line and turn into a non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from resnetlab.errors import ResnetlabError

# Order is the order of ``resnetlab --help``.
COMMANDS = (
    "models",
    "summary",
    "data",
    "export",
    "embed",
    "train",
    "finetune",
    "launch",
    "eval",
    "predict",
    "recipes",
    "lab",
    "bench",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments on one line with exit code 2 (its default code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command registered."""
    parser = _Parser(
        prog="resnetlab",
        description="Residual networks to learn, train, inspect and ship.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"resnetlab.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["launch"] and argv[1:2] not in (["-h"], ["--help"]):
        # torchrun's options pass through untouched (argparse cannot hold unknown options
        # before a REMAINDER argument), so launch parses its own arguments.
        args = argparse.Namespace(func=importlib.import_module("resnetlab.commands.launch").run,
                                  argv=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ResnetlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
