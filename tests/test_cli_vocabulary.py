"""One CLI vocabulary: an option name means the same in every command that takes it.

The whole parser is walked (every sub-command, nested ones included); options that share a
name must agree on action, type, choices and meaning (the help without the command's
parenthesised note, see :func:`resnetlab.commands.options.meaning_of`). docs/cli.md's table of
shared options must list exactly the commands that take each one.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from resnetlab.cli import build_parser, main
from resnetlab.commands import options

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[
        tuple[str, argparse.ArgumentParser]]:
    """``("train", parser)``, ``("lab features", parser)``...: every (sub-)command's parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                yield path, sub
                yield from commands(sub, path)


def names(action: argparse.Action) -> list[str]:
    """How an argument is known: its option strings, or a positional's metavar."""
    return list(action.option_strings) or [str(action.metavar or action.dest)]


def signature(action: argparse.Action) -> tuple:
    """What must agree between same-named arguments."""
    choices = tuple(action.choices) if action.choices is not None else None
    return (type(action).__name__, action.type, choices, options.meaning_of(action.help))


def conflicts(parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """One line per argument name whose commands disagree on :func:`signature`."""
    seen: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for command, parser in parsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            for name in names(action):
                seen[name][signature(action)].append(command)
    return [f"{name}: " + " vs ".join(f"{cmds} {sig}" for sig, cmds in variants.items())
            for name, variants in sorted(seen.items()) if len(variants) > 1]


@pytest.fixture(scope="module")
def all_commands() -> dict[str, argparse.ArgumentParser]:
    return dict(commands(build_parser()))


def test_every_command_is_walked(all_commands):
    assert {"train", "finetune", "data info", "data export-folder", "lab gradcam",
            "lab depth", "bench", "models"} <= set(all_commands)


def test_same_option_name_means_the_same_everywhere(all_commands):
    assert conflicts(all_commands) == []


def parser_with(**arguments: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    for flag, settings in arguments.items():
        parser.add_argument(flag.replace("_", "-"), **settings)
    return parser


def test_checker_catches_a_different_help_type_or_choices():
    base = {"--seed": {"type": int, "help": "random seed (default: 0)"}}
    same = {"--seed": {"type": int, "help": "random seed (default: 1, another note)"}}
    assert conflicts({"a": parser_with(**base), "b": parser_with(**same)}) == []
    for other in ({"type": int, "help": "seed of the data split"},
                  {"type": float, "help": "random seed"},
                  {"type": int, "choices": (0, 1), "help": "random seed"},
                  {"action": "store_true", "help": "random seed"}):
        found = conflicts({"a": parser_with(**base), "b": parser_with(**{"--seed": other})})
        assert len(found) == 1 and found[0].startswith("--seed: ['a']"), found


def test_meaning_drops_only_the_trailing_note():
    assert options.meaning_of("random seed (default: 0)") == "random seed"
    nested = "fp32 (or bf16) autocast (default: (x) y)"
    assert options.meaning_of(nested) == "fp32 (or bf16) autocast"
    assert options.meaning_of("images per batch") == "images per batch"


def test_shared_options_cannot_change_their_meaning():
    parser = argparse.ArgumentParser()
    with pytest.raises(TypeError, match="only"):
        options.add(parser, "--seed", type=float)
    action = options.add(parser, "--seed", "default: 3", default=3)
    assert action.help == "random seed (default: 3)" and action.type is options.whole_number


def documented_table() -> dict[str, set[str]]:
    """docs/cli.md's shared-options table: ``{"--data": {"train", "lab *", ...}}``."""
    section = DOCS.read_text().split("\n## Shared options\n")[1].split("\n## ")[0]
    table = {}
    for line in section.splitlines():
        row = re.match(r"\|\s*`([^` ]+)[^`]*`[^|]*\|.*\|\s*([^|]+?)\s*\|\s*$", line)
        if row:
            table[row.group(1)] = {c.strip() for c in row.group(2).split(",")}
    return table


def actual_table(all_commands: dict[str, argparse.ArgumentParser]) -> dict[str, set[str]]:
    """Which commands take each shared option (``lab *``: every lab experiment does)."""
    users: dict[str, set[str]] = defaultdict(set)
    for command, parser in all_commands.items():
        for action in parser._actions:
            for name in names(action):
                if name in options.SPECS or name == "SOURCE":
                    users[name].add(command)
    for name, cmds in users.items():
        for group in ("lab", "data"):
            members = {c for c in all_commands if c.startswith(group + " ")}
            if members and members <= cmds:
                users[name] = (cmds - members) | {f"{group} *"}
                cmds = users[name]
    return dict(users)


def test_docs_table_lists_every_shared_option_and_who_takes_it(all_commands):
    assert documented_table() == actual_table(all_commands)


def test_json_dash_is_stdout_and_a_path_is_a_file(tmp_path, capsys):
    assert main(["models", "resnet18", "--json"]) == 0  # bare: stdout, JSON alone
    bare = capsys.readouterr().out
    assert main(["models", "resnet18", "--json", "-"]) == 0
    assert capsys.readouterr().out == bare and bare.lstrip().startswith("[")
    out = tmp_path / "sub" / "cards.json"
    assert main(["models", "resnet18", "--json", str(out)]) == 0
    assert "resnet18" in capsys.readouterr().out  # the table as usual ...
    assert out.read_text() == bare  # ... and the same JSON in the file
