"""Exit codes and error lines: one meaning each, in CLI terms, pointing to the right --help.

2 usage or bad value, 1 data or weights problem, 3 divergence (docs/cli.md).
"""

from __future__ import annotations

import pytest

from resnetlab.cli import main
from resnetlab.commands import models as models_command
from resnetlab.errors import CheckpointError, ConfigError, DataError, UnknownModelError
from resnetlab.train.trainer import TrainingDiverged


def error_line(capsys, argv: list[str], code: int) -> str:
    """Run ``argv`` (argparse errors exit, user errors return); the one ``error:`` line."""
    capsys.readouterr()
    try:
        got = main(argv)
    except SystemExit as exc:
        got = exc.code
    err = capsys.readouterr().err.strip()
    assert got == code, (argv, got, err)
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize(("error", "code"), [
    (ConfigError("bad value"), 2), (UnknownModelError("unknown model 'x'"), 2),
    (DataError("no data"), 1), (CheckpointError("corrupt"), 1),
    (TrainingDiverged("loss is nan"), 3),
])
def test_each_kind_of_error_has_its_exit_code(monkeypatch, capsys, error, code):
    def fail(args):
        raise error

    monkeypatch.setattr(models_command, "run", fail)  # register() binds it when main runs
    assert str(error) in error_line(capsys, ["models"], code)


def test_unknown_option_points_to_the_sub_command_help(capsys):
    err = error_line(capsys, ["train", "--epohcs", "3"], 2)
    assert "see 'resnetlab train --help'" in err and "did you mean --epochs?" in err


def test_unknown_option_of_a_nested_command_points_to_its_help(capsys):
    err = error_line(capsys, ["lab", "features", "--bogus"], 2)
    assert "see 'resnetlab lab features --help'" in err and "did you mean" not in err


def test_mistyped_sub_command_gets_did_you_mean(capsys):
    err = error_line(capsys, ["trian"], 2)
    assert "did you mean 'train'?" in err and "see 'resnetlab --help'" in err
    err = error_line(capsys, ["data", "inf"], 2)
    assert "did you mean 'info'?" in err and "see 'resnetlab data --help'" in err


def test_mistyped_top_level_option_gets_did_you_mean(capsys):
    err = error_line(capsys, ["--verison"], 2)
    assert "did you mean --version?" in err and "see 'resnetlab --help'" in err


def test_mistyped_choice_gets_did_you_mean(capsys):
    err = error_line(capsys, ["train", "--data", "cifar"], 2)
    assert "did you mean 'cifar10'?" in err


def test_bad_values_are_usage_errors(capsys):
    assert "--threads" in error_line(capsys, ["train", "--threads", "0"], 2)
    assert "--epochs" in error_line(capsys, ["train", "--epochs", "ten"], 2)
    # a bare --json must not take the next word as a file name
    assert ".json" in error_line(capsys, ["models", "--json", "resnet*"], 2)


def test_config_and_unknown_model_errors_exit_2(capsys):
    assert "resnetlab models" in error_line(capsys, ["models", "zzz*"], 2)
    assert "did you mean: resnet18?" in error_line(capsys, ["summary", "resnet19"], 2)


def test_missing_data_exits_1_and_names_the_cli_fix(capsys, tmp_path):
    err = error_line(capsys, ["data", "info", "--data", "cifar10", "--data-dir", str(tmp_path)], 1)
    assert "--download" in err and "download=True)" not in err


def test_missing_weights_exit_1(capsys, tmp_path):
    assert str(tmp_path) in error_line(capsys, ["eval", str(tmp_path / "missing")], 1)


def test_dataset_names_are_forgiven_as_the_library_forgives_them(capsys, tmp_path):
    # --data CIFAR-10 is cifar10: the error is about the files, not the name
    err = error_line(capsys, ["data", "info", "--data", "CIFAR-10", "--data-dir",
                              str(tmp_path)], 1)
    assert "CIFAR-10 not found" in err
