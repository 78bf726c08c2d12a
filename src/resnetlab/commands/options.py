"""The CLI's shared vocabulary: every option that several commands take, defined once.

An option's name, type, choices and *meaning* live here; a command adds it with one call and
may append a note in parentheses, usually its own default (``--seed`` is "random seed" in every
command; train notes "default: 0"). ``tests/test_cli_vocabulary.py`` walks the whole parser and
holds every same-named option to that rule, and docs/cli.md lists which command takes which.

Importing this module is cheap on purpose: dataset and recipe names (which need
:mod:`resnetlab.data` and :mod:`resnetlab.train`) are looked up only when a parser is built.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path
from typing import Any

from resnetlab.errors import ConfigError

WEIGHTS_HELP = ("run dir, .safetensors (+ model.json), torchvision/timm .pth, URL, or "
                "published tag like IMAGENET1K_V1")
EXPORTED_NOTE = ("or a .onnx / .xml written by 'resnetlab export', run on its own engine "
                 "with the class names and preprocessing stored inside")
# The --model note of the commands that take any weights source.
RAW_WEIGHTS_MODEL_NOTE = ("needed for raw weights: a .pth, URL or tag; a saved model "
                          "knows its own")


# The largest whole number an option takes: what a C ``int64`` (torch, numpy) holds. Python's
# own ints never overflow, so without this bound 10**20 reached torch and crashed there.
INT_MAX = 2**63 - 1
# More threads than this is a typo, not a machine: torch would try to start them all.
THREADS_MAX = 4096


def _bounded_int(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value > high:
        raise argparse.ArgumentTypeError(f"{value} is too large; at most {high}")
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def whole_number(text: str) -> int:
    """argparse type: a whole number that fits in 64 bits (``--epochs 1e30`` is exit 2);
    the command checks its own range (``--batch-size 0`` says why it is wrong)."""
    return _bounded_int(text, -INT_MAX - 1, INT_MAX)


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``--threads 0`` is then a usage error, exit 2)."""
    return _bounded_int(text, 1, INT_MAX)


def thread_count(text: str) -> int:
    """argparse type of ``--threads``: 1 to :data:`THREADS_MAX`."""
    return _bounded_int(text, 1, THREADS_MAX)


def finite_float(text: str) -> float:
    """argparse type: a finite number (``--lr nan``, ``--time-budget 1e999`` are exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def json_target(text: str) -> str:
    """argparse type of ``--json``: ``-`` (stdout) or a path ending in ``.json``.

    The suffix rule keeps ``resnetlab models --json 'resnet*'`` from writing a file named
    ``resnet*``: a bare ``--json`` must not swallow the next argument silently.
    """
    if text == "-" or text.endswith(".json"):
        return text
    raise argparse.ArgumentTypeError(
        f"expected '-' (stdout) or a file name ending in .json, got {text!r}; put a bare --json "
        "after the other arguments")


def dataset_name(text: str) -> str:
    """argparse type of ``--data``: the registry spelling (``CIFAR-10`` -> ``cifar10``).

    An unknown name is returned as typed, so that the choices check rejects it with a
    did-you-mean (see :mod:`resnetlab.cli`).
    """
    from resnetlab.data import canonical_name

    try:
        return canonical_name(text)
    except ConfigError:
        return text


# flag -> (meaning, argparse settings). The meaning is the help text without the command's
# note; dataset and recipe choices are filled in when a parser is built (see _settings).
SPECS: dict[str, tuple[str, dict[str, Any]]] = {
    # data
    "--data": ("dataset: %(choices)s", {"metavar": "NAME", "type": dataset_name}),
    "--data-dir": ("directory of the dataset's files", {"metavar": "DIR", "type": Path}),
    "--download": ("fetch the official archive if the files are missing (MD5-checked)",
                   {"action": "store_true"}),
    "--image-size": ("resize images to this size", {"metavar": "N", "type": whole_number}),
    "--split": ("dataset split", {"choices": ("train", "val", "test")}),
    "--strict": ("stop at the first unreadable image instead of skipping it with a warning",
                 {"action": "store_true"}),
    "--batch-size": ("images per batch", {"metavar": "N", "type": whole_number}),
    # model and weights
    "--model": ("registered model name, see 'resnetlab models'", {"metavar": "NAME"}),
    "--weights": (WEIGHTS_HELP, {"metavar": "SOURCE"}),
    # precision, device, threads
    "--precision": ("fp32, or bf16 autocast", {"choices": ("fp32", "bf16")}),
    "--device": ("cpu, cuda or cuda:N", {"metavar": "DEVICE"}),
    "--threads": ("torch CPU threads", {"metavar": "N", "type": thread_count}),
    "--compile": ("compile the training forward with torch.compile", {"action": "store_true"}),
    # Spelled out, not imported from resnetlab.deploy.engines.ENGINES (which a test holds
    # them to): importing deploy loads torch while the parser is built, too early for
    # serve's OMP_WAIT_POLICY.
    "--engine": ("what runs inference: eager PyTorch, or the model exported (and checked "
                 "against PyTorch) to ONNX for onnxruntime or to OpenVINO IR for OpenVINO, on "
                 "the CPU", {"choices": ("eager", "onnx", "openvino")}),
    # output
    "--out": ("where to write the result", {"metavar": "PATH", "type": Path}),
    "--overwrite": ("replace the results of an earlier run at the output instead of refusing",
                    {"action": "store_true"}),
    "--json": ("write the result as JSON to PATH; '-' or a bare --json: to stdout, instead of "
               "the text", {"metavar": "PATH", "nargs": "?", "const": "-", "type": json_target}),
    "--quiet": ("print only the final result", {"action": "store_true"}),
    # Not a choices= list: an unknown language is resnetlab.i18n's one-line ConfigError, the
    # same whether it came from this flag or from RESNETLAB_LANG.
    "--lang": ("language of what resnetlab writes for people: en or es (default: "
               "$RESNETLAB_LANG, else en)", {"metavar": "LANG"}),
    # training
    "--recipe": ("training recipe: %(choices)s; see 'resnetlab recipes'", {"metavar": "NAME"}),
    "--protocol": ("a paper's experiment unchanged: 'paper' is He et al. 2015 sec. 4.2 on the "
                   "full CIFAR-10 (45k/5k split, batch 128, 64k iterations, lr 0.1 /10 at 32k "
                   "and 48k, weight decay 1e-4, momentum 0.9, option A)",
                   {"choices": ("paper",)}),
    "--force": ("run --protocol on data that is not the paper's (e.g. a CIFAR-10 subset)",
                {"action": "store_true"}),
    "--epochs": ("number of epochs", {"metavar": "N", "type": whole_number}),
    "--lr": ("peak learning rate", {"type": finite_float}),
    "--set": ("override any recipe field, e.g. --set label_smoothing=0.1 ema=0.999",
              {"action": "append", "default": [], "nargs": "+", "metavar": "FIELD=VALUE"}),
    "--seed": ("random seed", {"metavar": "N", "type": whole_number}),
    "--resume": ("continue the run in DIR where it stopped", {"metavar": "DIR", "type": Path}),
    "--quick": ("tiny sizes that run in seconds: checks that it works", {"action": "store_true"}),
    # time budget and checkpoints
    "--time-budget": ("fit the schedule into this many seconds, re-planned from the measured "
                      "speed as it trains", {"metavar": "SECONDS", "type": finite_float}),
    "--checkpoint-steps": ("also checkpoint every N steps", {"metavar": "N", "type": whole_number}),
    "--checkpoint-seconds": ("checkpoint at least this often", {"metavar": "SECONDS",
                                                                "type": finite_float}),
}


def with_note(meaning: str, note: str | None) -> str:
    """``meaning (note)``: the one place that joins an option's meaning and a command's note."""
    return f"{meaning} ({note})" if note else meaning


def meaning_of(help_text: str | None) -> str:
    """``help_text`` without its trailing ``(note)``: what must agree across commands."""
    text = (help_text or "").strip()
    if text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[i], 0)
            if depth == 0:
                return text[:i].rstrip()
    return text


def _settings(flag: str) -> dict[str, Any]:
    settings = copy.deepcopy(SPECS[flag][1])  # no default list shared between parsers
    if flag == "--data":
        from resnetlab.data import DATASETS

        settings["choices"] = DATASETS
    elif flag == "--recipe":
        from resnetlab.train.recipes import RECIPES

        settings["choices"] = tuple(RECIPES)
    return settings


def add(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str,
        note: str | None = None, **settings: Any) -> argparse.Action:
    """Add shared option ``flag`` with the command's ``note``; ``settings`` may set its
    ``default``, ``required`` or ``dest``, never its type, choices or meaning."""
    allowed = {"default", "required", "dest"}
    if set(settings) - allowed:
        raise TypeError(f"{flag}: only {sorted(allowed)} may differ between commands, got "
                        f"{sorted(set(settings) - allowed)}")
    return parser.add_argument(flag, help=with_note(SPECS[flag][0], note),
                               **{**_settings(flag), **settings})


def add_weights_argument(parser: argparse.ArgumentParser, dest: str, *,
                         exported: bool = False) -> argparse.Action:
    """The positional ``SOURCE`` of eval, predict, export and embed: what --weights takes
    (``exported``: also a file written by ``resnetlab export``, which predict and eval run)."""
    return parser.add_argument(dest, metavar="SOURCE", help=with_note(
        WEIGHTS_HELP, EXPORTED_NOTE) if exported else WEIGHTS_HELP)


# --- groups: the options that travel together, each under its own --help heading -----------

def add_data(parser: argparse.ArgumentParser, note: str | None = None, *,
             data_dir_note: str | None = None, download: bool = False,
             image_size: str | None | bool = False, **settings: Any) -> argparse._ArgumentGroup:
    """``--data`` and ``--data-dir`` (and ``--download``, ``--image-size`` if asked; a string
    for image_size is its note)."""
    group = parser.add_argument_group("data")
    add(group, "--data", note, **settings)
    add(group, "--data-dir", data_dir_note)
    if download:
        add(group, "--download")
    if image_size is not False:
        add(group, "--image-size", image_size if isinstance(image_size, str) else None)
    return group


def add_model(parser: argparse.ArgumentParser, model_note: str | None,
              weights_note: str | None = None, *, weights: bool = True
              ) -> argparse._ArgumentGroup:
    """``--model NAME`` and ``--weights SOURCE``."""
    group = parser.add_argument_group("model and weights")
    add(group, "--model", model_note)
    if weights:
        add(group, "--weights", weights_note)
    return group


def add_recipe(parser: argparse.ArgumentParser, *, epochs_note: str | None,
               lr_note: str = "default: the recipe's") -> argparse._ArgumentGroup:
    """The recipe options of train and finetune: ``--recipe``, ``--epochs``, ``--batch-size``,
    ``--lr``, ``--set``, ``--seed``; the command adds its own to the group it returns."""
    group = parser.add_argument_group("recipe")
    add(group, "--recipe", "default: fast")
    add(group, "--epochs", epochs_note)
    add(group, "--batch-size", "default: the recipe's")
    add(group, "--lr", lr_note)
    add(group, "--set")
    add(group, "--seed", "default: 0")
    return group


def add_runtime(parser: argparse.ArgumentParser, *, precision: bool = False,
                device: bool = True, threads: str | None | bool = False
                ) -> argparse._ArgumentGroup:
    """``--precision``, ``--device``, ``--threads`` (a string for threads is its note)."""
    group = parser.add_argument_group("precision, device and threads")
    if precision:
        add(group, "--precision", "default: bf16 on CUDA and on CPUs with native bf16, i.e. "
            "AVX512-BF16 or AMX; fp32 elsewhere")
    if device:
        add(group, "--device", "default: cuda if available")
    if threads is not False:
        add(group, "--threads", threads if isinstance(threads, str) else "default: one per core")
    return group


def add_output(parser: argparse.ArgumentParser, out_note: str | None, *,
               overwrite: str | None | bool = False, **settings: Any) -> argparse._ArgumentGroup:
    """``--out PATH`` and, if asked, ``--overwrite`` (a string is its note)."""
    group = parser.add_argument_group("output")
    add(group, "--out", out_note, **settings)
    if overwrite is not False:
        add(group, "--overwrite", overwrite if isinstance(overwrite, str) else None,
            default=None)
    return group


def refuse_existing(paths: list[Path], overwrite: bool | None) -> None:
    """The one rule for earlier results: a file already at ``paths`` is replaced only with
    ``--overwrite``; without it, a ConfigError (exit 2) before any work is done."""
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise ConfigError(f"{' and '.join(existing)} already exist{'s' * (len(existing) == 1)}; "
                          "pass --overwrite to replace, or another --out")


def add_budget(parser: argparse.ArgumentParser, budget_note: str) -> argparse._ArgumentGroup:
    """``--time-budget`` and the checkpoint options of the training commands."""
    group = parser.add_argument_group("time budget and checkpoints")
    add(group, "--time-budget", budget_note)
    add(group, "--checkpoint-steps", "default: every epoch and every --checkpoint-seconds")
    add(group, "--checkpoint-seconds", "default: 60")
    return group


def add_json(parser: argparse.ArgumentParser, note: str | None = None) -> argparse.Action:
    """``--json [PATH]``: one meaning in every command (see :func:`write_json`)."""
    return add(parser, "--json", note)


def write_json(data: Any, target: str) -> Path | None:
    """Honour ``--json TARGET``: ``-`` prints ``data`` to stdout (the caller prints no text),
    a path gets the file (parent folders made); returns that path, or None for stdout."""
    text = json.dumps(data, indent=2, default=str) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return None
    from resnetlab.files import atomic_write_text

    path = Path(target).expanduser()
    try:  # atomic: a full disk leaves the earlier file whole, never a torn one
        atomic_write_text(path, text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path} ({exc.strerror}); pass a writable path to "
                          "--json") from exc
    return path
