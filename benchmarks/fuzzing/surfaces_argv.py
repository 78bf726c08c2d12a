"""CLI argv built from the real option names (read from resnetlab's own parser) and odd values.

Output options always point inside the case's ``out/`` (writing where the user said is no bug);
everything else gets odd values, hostile paths or valid ones. Training is bounded to one epoch
of the embedded digits so that a valid combination finishes well inside the 30 s limit.
"""

from __future__ import annotations

import argparse
import random
from functools import cache

from benchmarks.fuzzing.case import Case
from benchmarks.fuzzing.hostile import ODD_VALUES
from benchmarks.fuzzing.seeds import Seeds

# command -> options never fuzzed (they decide the run's length, or start a server)
_BOUNDED = {"--epochs", "--more-epochs", "--time-budget", "--checkpoint-seconds", "--resume",
            "--resume-if-exists", "--download", "--compile", "--help", "-h", "--data-dir",
            "--checkpoint-steps"}
_OUTPUTS = {"--out", "--json", "--confusion"}
_WEIGHTS_ARGV = ("predict", "embed", "eval")
_COMMANDS = ("models", "summary", "recipes", "predict", "embed", "eval", "data", "train",
             "tutorials")


@cache
def options_of(command: str) -> tuple[tuple[str, object], ...]:
    """``(flag, action)`` of every option of ``resnetlab COMMAND`` (from the real parser)."""
    from resnetlab.cli import build_parser

    parser = build_parser(only=command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for action in sub.choices[command]._actions:
        found += [(flag, action) for flag in action.option_strings if flag.startswith("--")]
    return tuple(found)


def _value(rng: random.Random, flag: str, action, case: Case, seeds: Seeds) -> list[str]:
    if flag in _OUTPUTS:
        return [str(case.directory / "out" / rng.choice(["res.json", "o.npy", "c.png", "run"]))]
    if action.nargs == 0:
        return []
    if action.choices and rng.random() < 0.5:
        return [str(rng.choice(list(action.choices)))]
    pool = [*ODD_VALUES, "1", "2", "16", str(seeds.run), str(case.inputs / "missing"),
            str(seeds.run / "model.json"), "resnet20", "digits", "IMAGENET1K_V1"]
    count = rng.choice([1, 1, 1, 2]) if action.nargs in ("+", "*") else 1
    return [rng.choice(pool) for _ in range(count)]


def _positionals(rng: random.Random, command: str, case: Case, seeds: Seeds) -> list[str]:
    image = case.inputs / "digit.png"
    image.write_bytes(seeds.images[rng.choice(["grey.png", "rgb.jpg", "text.jpg", "bomb.png"])])
    source = rng.choice([str(seeds.run), str(seeds.root / "weights.pth"), str(image),
                         str(case.inputs), "untrained:resnet20", "nope"])
    if command == "predict":
        return [source, rng.choice([str(image), str(case.inputs), str(case.inputs / "gone.png")])]
    if command == "embed":
        return [source, rng.choice([str(case.inputs), str(image)])]
    if command == "eval":
        return [source]
    if command == "summary":
        return [rng.choice(["resnet20", "resnet18", "resnet9999", "", "untrained:resnet20"])]
    if command == "data":
        return [rng.choice(["info", "export", "bogus"])]
    if command == "tutorials":
        return [rng.choice(["list", "copy", "x"])]
    return [rng.choice(["*", "resnet2*", "fast", "", "[", "é"])] if rng.random() < 0.5 else []


def argv(rng: random.Random, seeds: Seeds, case: Case) -> None:
    command = rng.choices(_COMMANDS, weights=(2, 3, 2, 4, 2, 2, 2, 1, 1))[0]
    args = [command, *_positionals(rng, command, case, seeds)]
    # bf16 autocast trains 16x slower on a CPU without bf16 units (45 vs 724 img/s here): one
    # epoch would pass the 30 s limit while working as designed
    bounded = _BOUNDED | ({"--precision"} if command == "train" else set())
    flags = [(f, a) for f, a in options_of(command) if f not in bounded]
    for flag, action in rng.sample(flags, min(len(flags), rng.randint(0, 4))):
        args += [flag, *_value(rng, flag, action, case, seeds)]
    if command in ("train", "data", "eval") and "--data" not in args:
        args += ["--data", "digits"]
    if command == "eval" and "--confusion" not in args:  # default: beside the model (docs)
        args += ["--confusion", str(case.directory / "out" / "confusion.png")]
    if command == "train":
        args += ["--epochs", "1", "--threads", "1"]
        if "--out" not in args:
            args += ["--out", str(case.directory / "out" / "run")]
    if rng.random() < 0.2:  # an existing result that must survive unless --overwrite
        keep = case.directory / "out" / "keep.txt"
        keep.write_text("earlier results\n")
        if "--overwrite" not in args:
            case.keep.append(keep)
    if rng.random() < 0.05:
        args.insert(rng.randrange(len(args) + 1), rng.choice(ODD_VALUES))
    case.target, case.args, case.note = "cli", args, command
