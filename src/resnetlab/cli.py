"""The ``resnetlab`` command: one entry point, one module per sub-command, a fast start.

The table :data:`COMMAND_HELP` names every sub-command with its one-line help, so
``resnetlab --help`` needs no sub-command module (nor torch): only the chosen command's module,
:mod:`resnetlab.commands.<name>`, is imported, and its ``register(parser)`` adds the options
(shared ones come from :mod:`resnetlab.commands.options`) and sets ``func``.

Exit codes (docs/cli.md): 0 success; 1 a data or weights problem (:class:`DataError`,
:class:`CheckpointError`); 2 a usage error or a bad value (argparse, :class:`ConfigError`,
:class:`UnknownModelError`); 3 training diverged; 130 interrupted; 141 the output pipe
closed (``| head``). User errors are printed on one line; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Sequence

from resnetlab.errors import ResnetlabError

# name -> one-line help; the order is the order of ``resnetlab --help``.
COMMAND_HELP: dict[str, str] = {
    "models": "list the registered models with params and MACs",
    "summary": "per-layer output shapes, parameters and MACs of a model",
    "data": "dataset facts, and export to image folders",
    "export": "export a model to ONNX or TorchScript (optionally BN-folded, int8)",
    "embed": "write one embedding (pooled pre-logits features) per image",
    "train": "train a model (default: resnet20 on the embedded digits)",
    "finetune": "fine-tune pretrained weights on a dataset (transfer learning)",
    "launch": "run train/finetune on several processes or machines (torchrun)",
    "eval": "evaluate a trained model on a dataset split",
    "predict": "classify image files with a trained or published model",
    "serve": "serve models over HTTP: predictions, explanations, metrics, the explorer page",
    "recipes": "list training recipes, or show one recipe's fields",
    "lab": "experiments that show what residual networks do (figures + verdict)",
    "bench": "measure training/inference speed against stock PyTorch",
    "tutorials": "the course notebooks (Spanish and English): list them, copy them as .ipynb",
}
COMMANDS = tuple(COMMAND_HELP)

_EPILOG = ("Run 'resnetlab COMMAND --help' for a command's options. Exit codes: 0 success, "
           "1 data or weights problem, 2 usage error or bad value, 3 training diverged "
           "(docs/cli.md).")
# The parser that parsed the deepest sub-command, so errors point to *its* --help.
_PARSER = "_resnetlab_parser"
_TOP_OPTIONS = ("-h", "--help", "--version")  # none takes a value


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments on one line with exit code 2, pointing to the help
    of the (sub-)command at fault and suggesting the closest choice for a typo."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # a sub-parser's defaults override its parent's, so the deepest one is what remains
        self.set_defaults(**{_PARSER: self})

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")

    def _check_value(self, action: argparse.Action, value) -> None:
        # argparse's own message lists every choice; a typo deserves the closest one first.
        if action.choices is not None and value not in action.choices:
            names = [str(c) for c in action.choices]
            close = difflib.get_close_matches(str(value), names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(names)}"
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}; {hint}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, just that command's options are registered (the other
    commands are listed by name and help, as ``resnetlab --help`` shows them)."""
    from resnetlab import __version__

    parser = _Parser(prog="resnetlab", epilog=_EPILOG,
                     description="Residual networks to learn, train, inspect and ship.")
    parser.add_argument("--version", action="version", version=f"resnetlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        command = sub.add_parser(name, help=COMMAND_HELP.get(name),
                                 description=COMMAND_HELP.get(name))
        if only is None or name == only:
            importlib.import_module(f"resnetlab.commands.{name}").register(command)
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The sub-command in ``argv``: the first word that is not an option (none of
    :data:`_TOP_OPTIONS` takes a value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _unrecognized(parser: argparse.ArgumentParser, extras: list[str]) -> None:
    """Exit on arguments the command does not take, naming the closest option of a typo."""
    known = [s for action in parser._actions for s in action.option_strings]
    first = next((e.split("=")[0] for e in extras if e.startswith("--")), None)
    # the shared '--' makes any two options look alike, hence a higher bar than difflib's 0.6
    close = difflib.get_close_matches(first, known, n=1, cutoff=0.75) if first else []
    hint = f"; did you mean {close[0]}?" if close else ""
    parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` as the CLI does, importing only the chosen command's module."""
    argv = list(argv)
    name = _command_word(argv)
    if name == "launch" and argv[:1] == ["launch"] and argv[1:2] not in (["-h"], ["--help"]):
        # torchrun's options pass through untouched (argparse cannot hold unknown options
        # before a REMAINDER argument), so launch parses its own arguments.
        run = importlib.import_module("resnetlab.commands.launch").run
        return argparse.Namespace(command="launch", func=run, argv=argv[1:])
    # an unknown word registers nothing: argparse then rejects it with a did-you-mean
    parser = build_parser(only=name if name in COMMANDS else "")
    unknown = [word for word in argv if word not in _TOP_OPTIONS]
    if name is None and unknown:
        # `resnetlab --verison`: the typo deserves a word before "COMMAND is required"
        _unrecognized(parser, unknown)
    args, extras = parser.parse_known_args(argv)
    deepest = vars(args).pop(_PARSER, parser)  # not an option: keep it out of args
    if extras:
        _unrecognized(deepest, extras)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        result = args.func(args)
        # flushed here, not at exit: a reader gone by then would still get its BrokenPipeError
        sys.stdout.flush()
    except ResnetlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `resnetlab ... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second one at exit
        return 141  # 128 + SIGPIPE, what a shell reports for a killed writer
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
