"""A fast start: ``import resnetlab.cli``, ``resnetlab --help`` and ``resnetlab models`` need no
torch.

Checked by what gets imported (in a fresh interpreter), not by timing, so the tests hold on a
busy machine; docs/cli.md has the measured times.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import resnetlab
from resnetlab import cli

COMMANDS_DIR = Path(cli.__file__).parent / "commands"


def modules_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; what it printed as JSON (last line)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_does_not_import_torch():
    seen = modules_after("""
        import json, sys
        import resnetlab.cli
        print(json.dumps({"torch": "torch" in sys.modules}))
    """)
    assert seen == {"torch": False}


def test_models_command_runs_without_torch():
    seen = modules_after("""
        import contextlib, io, json, sys
        from resnetlab.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            codes = [main(["models"]), main(["models", "resnet1*", "--json", "-"])]
        print(json.dumps({"codes": codes, "torch": "torch" in sys.modules,
                          "rows": out.getvalue().count("resnet18")}))
    """)
    assert seen["codes"] == [0, 0] and seen["rows"] >= 2
    assert seen["torch"] is False


def test_top_level_help_imports_no_command_module():
    seen = modules_after("""
        import contextlib, io, json, sys
        from resnetlab.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                main(["--help"])
            except SystemExit as exc:
                code = exc.code
        loaded = sorted(m for m in sys.modules if m.startswith("resnetlab.commands."))
        print(json.dumps({"code": code, "loaded": loaded, "torch": "torch" in sys.modules,
                          "help": out.getvalue()}))
    """)
    assert seen["code"] == 0 and seen["torch"] is False
    assert seen["loaded"] == []  # the table in cli.py is enough to list them
    for name, line in cli.COMMAND_HELP.items():
        assert name in seen["help"] and line.split()[0] in seen["help"]


def test_every_command_module_is_in_the_table():
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py")} - {"__init__", "options"}
    assert modules == set(cli.COMMANDS)


def test_a_chosen_command_imports_only_its_own_module():
    seen = modules_after("""
        import contextlib, io, json, sys
        from resnetlab.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            main(["recipes"])
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("resnetlab.commands."))))
    """)
    assert seen == ["resnetlab.commands.options", "resnetlab.commands.recipes"]


def test_importing_resnetlab_is_lazy_and_every_public_name_still_works():
    seen = modules_after("""
        import json, sys
        import resnetlab as rl
        before = "torch" in sys.modules
        names = {n: type(getattr(rl, n)).__name__ for n in rl.__all__}
        print(json.dumps({"before": before, "names": names, "train": callable(rl.train)}))
    """)
    assert seen["before"] is False
    assert seen["train"] is True  # resnetlab.train is a package and callable
    kinds = seen["names"]
    assert kinds["data"] == "module" and kinds["__version__"] == "str"
    for name in ("create_model", "summary", "evaluate", "resume", "get_card", "list_models",
                 "load_model", "load_weights", "save_weights"):
        assert kinds[name] == "function", name
    for name in ("ModelCard", "ResNet", "ResnetlabError"):
        assert kinds[name] == "type", name


def test_lazy_names_are_the_real_objects():
    from resnetlab.models.hub.weights import load_weights
    from resnetlab.train.loop import train

    assert resnetlab.load_weights is load_weights
    assert "load_weights" in dir(resnetlab)
    model = resnetlab.create_model("resnet20")
    assert isinstance(model, resnetlab.ResNet)
    assert resnetlab.train.train is train
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        resnetlab.nope  # noqa: B018


def test_version_is_the_installed_one(capsys):
    assert resnetlab.__version__ == importlib.metadata.version("resnetlab")
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"resnetlab {resnetlab.__version__}"
