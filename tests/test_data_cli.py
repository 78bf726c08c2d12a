"""``resnetlab data``: info output and the PNG export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnetlab import cli
from resnetlab.commands.data import folder_name
from resnetlab.data import load, load_image_folder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_ROOT = SHARED / "cifar10-subset"
REGISTERED_COMMANDS = cli.COMMANDS  # read before the fixture below narrows it


@pytest.fixture(autouse=True)
def only_data_command(monkeypatch):
    # Other sub-commands are written concurrently; these tests need only this one.
    monkeypatch.setattr(cli, "COMMANDS", ("data",))


def test_data_is_a_registered_cli_command():
    assert "data" in REGISTERED_COMMANDS


def test_export_two_classes_round_trips_through_folder_loading(tmp_path, capsys):
    out = tmp_path / "png"
    code = cli.main(["data", "export-folder", "--data", "cifar10", "--data-dir", str(CIFAR_ROOT),
                     "--out", str(out), "--classes", "0", "ship", "--split", "test"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    original = load("cifar10", CIFAR_ROOT).test
    back = load_image_folder(out)
    assert back.classes == ["airplane", "ship"]
    for new_label, name in enumerate(back.classes):
        expected = original.images[original.labels == original.classes.index(name)]
        assert torch.equal(back.images[back.labels == new_label], expected)


def test_export_refuses_a_non_empty_directory_without_overwrite(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    args = ["data", "export-folder", "--data", "digits", "--out", str(tmp_path),
            "--classes", "3", "--max-per-class", "2"]
    assert cli.main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main([*args, "--overwrite"]) == 0
    assert len(list((tmp_path / "3").glob("*.png"))) == 2
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_export_rejects_unknown_class_with_the_valid_names(tmp_path, capsys):
    args = ["data", "export-folder", "--data", "digits", "--out", str(tmp_path / "o"),
            "--classes", "eleven"]
    assert cli.main(args) == 2
    assert "0, 1, 2" in capsys.readouterr().err


def test_class_names_become_portable_folder_names():
    assert folder_name("T-shirt/top") == "T-shirt_top"


def test_info_prints_sizes_classes_and_stats(capsys):
    assert cli.main(["data", "info", "--data", "digits"]) == 0
    text = capsys.readouterr().out
    bundle = load("digits")
    assert f"{len(bundle.train)} images" in text and f"{len(bundle.test)} images" in text
    assert "1 x 8 x 8" in text and f"{bundle.mean[0]:.4f}" in text


def test_info_without_data_dir_fails_on_one_line(capsys):
    assert cli.main(["data", "info", "--data", "cifar10"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--data-dir" in err
