"""``resnetlab finetune`` takes train's runtime, budget and checkpoint options and uses them."""

from __future__ import annotations

import json

import pytest

from resnetlab.cli import main

TINY = ["--data", "digits", "--image-size", "8", "--batch-size", "64", "--threads", "1",
        "--quiet"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "pretrained"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 0
    return out


def test_budget_precision_and_checkpoints_reach_both_phases(pretrained, tmp_path, capsys):
    out = tmp_path / "ft"
    code = main(["finetune", "--weights", str(pretrained), *TINY, "--epochs", "2",
                 "--freeze-epochs", "1", "--time-budget", "30", "--precision", "fp32",
                 "--checkpoint-steps", "5", "--checkpoint-seconds", "100", "--out", str(out)])
    assert code == 0 and "test accuracy" in capsys.readouterr().out
    assert json.loads((out / "finetune.json").read_text())["time_budget"] == 30
    shares = {}
    for phase in ("head", "full"):
        config = json.loads((out / phase / "config.json").read_text())
        assert config["checkpoint_steps"] == 5 and config["checkpoint_seconds"] == 100
        assert config["threads"] == 1 and config["precision"] == "fp32"
        shares[phase] = config["time_budget"]
    # shared in proportion to the epochs: 1 of 3 for the head, 2 of 3 for the whole net
    assert shares == pytest.approx({"head": 10.0, "full": 20.0})


def test_resume_refuses_the_new_run_options(tmp_path, capsys):
    code = main(["finetune", "--resume", str(tmp_path), "--time-budget", "5",
                 "--precision", "bf16"])
    err = capsys.readouterr().err
    assert code == 2 and "--precision" in err and "--time-budget" in err
