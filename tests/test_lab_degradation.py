"""lab degradation: bookkeeping (same batches, same iterations, the scaling recorded is the one
trained), verdicts that never call noise a result, and the paper's protocol resolved exactly."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from resnetlab.cli import main
from resnetlab.data.dataset import ImageDataset, stratified_split
from resnetlab.errors import ConfigError
from resnetlab.lab import run_experiment
from resnetlab.lab.noise import Comparison, FinalValue, final_value
from resnetlab.train.protocol import PAPER, check_paper_data, paper_recipe
from resnetlab.train.resume import val_size_arg
from resnetlab.train.trainer import Trainer

CIFAR_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset" / \
    "cifar-10-batches-py"
NETS = ("plain20", "plain56", "resnet20", "resnet56")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A quick run with every training step's batch fingerprinted, per trainer (= per net)."""
    steps: dict[int, list[str]] = {}
    original = Trainer.train_step

    def spy(self, x, y, epoch):
        digest = hashlib.sha256(x.float().cpu().numpy().tobytes() + y.cpu().numpy().tobytes())
        steps.setdefault(id(self), []).append(digest.hexdigest())
        return original(self, x, y, epoch)

    Trainer.train_step = spy
    try:
        out = tmp_path_factory.mktemp("degradation")
        result, out = run_experiment("degradation", out, quick=True, iterations=10, width=4,
                                     image_size=12)
    finally:
        Trainer.train_step = original
    return result, out, list(steps.values())


def test_the_four_nets_see_identical_batches_in_identical_order(recorded):
    result, _, streams = recorded
    assert len(streams) == len(NETS)
    assert all(stream == streams[0] for stream in streams)
    assert len(set(streams[0])) > 1  # batches differ from step to step: the check means something


def test_iteration_counts_are_equal_and_the_recorded(recorded):
    result, _, streams = recorded
    iterations = result.results["iterations"]
    assert iterations == 10 == result.results["scaling"]["iterations"]
    assert all(len(stream) == iterations for stream in streams)
    for name in NETS:
        assert result.results["history"][name][-1]["step"] == iterations


def test_the_recorded_scaling_is_what_was_trained(recorded):
    result, out, _ = recorded
    scaling = result.results["scaling"]
    assert scaling["image_size"] == 12 and scaling["widths"] == [4, 8, 16]
    for name in NETS:
        meta = json.loads((Path(result.results["final"][name]["run_dir"]) / "model.json")
                          .read_text())
        assert meta["input_size"][1:] == [12, 12]
        assert meta["model"] == name
        assert meta["model_kwargs"]["widths"] == scaling["widths"]
        assert meta["model_kwargs"]["stem_width"] == scaling["width"]
    saved = json.loads((out / "results.json").read_text())
    assert saved["scaling"] == scaling


def test_a_forced_tiny_budget_is_inconclusive_never_yes_or_no(recorded):
    """Quick mode logs too few points per net to measure the end-of-run noise."""
    result, _, _ = recorded
    assert result.results["deeper_plain_trains_worse"] is None
    assert result.results["deeper_residual_trains_better"] is None
    assert result.results["paper_claim_reproduced"] is False
    claims = [line for line in result.verdict if "->" in line]
    assert len(claims) == 2 and all("inconclusive" in line for line in claims)
    assert all(" yes" not in line and ": no" not in line for line in claims)


def test_a_forced_tiny_budget_plans_a_few_iterations_and_says_inconclusive(tmp_path, capsys):
    """`--budget-minutes` in quick mode goes through the planner, as `--budget-minutes 2` does
    on CIFAR-10: a few iterations, and both claims inconclusive with the time they need."""
    code = main(["lab", "degradation", "--quick", "--out", str(tmp_path), "--budget-minutes",
                 "0.05", "--threads", "1"])
    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    # planned from the budget, not quick's fixed length
    assert f"{results['iterations']} iterations fit in 0.05 min" in captured.err
    assert results["deeper_plain_trains_worse"] is None
    assert results["deeper_residual_trains_better"] is None
    assert printed.count("inconclusive at this budget") == 2
    assert "minutes needed" in printed


def test_noise_rule_answers_only_outside_the_band():
    def tight(mean):
        return FinalValue(mean, 0.01, 5)

    assert Comparison([tight(0.30)], [tight(0.20)]).answer is True
    assert Comparison([tight(0.20)], [tight(0.30)]).answer is False
    assert Comparison([tight(0.205)], [tight(0.20)]).answer is None  # inside 2·sqrt(2)·0.01
    loose = [FinalValue(0.30, None, 1)]
    assert Comparison(loose, [tight(0.10)]).answer is None  # noise unmeasurable
    # two seeds that disagree in sign: inconclusive, however large the mean difference
    assert Comparison([tight(0.50), tight(0.19)], [tight(0.20), tight(0.20)]).answer is None
    assert Comparison([tight(0.50), tight(0.40)], [tight(0.20), tight(0.20)]).answer is True


def test_final_value_is_the_mean_and_spread_of_the_last_tenth():
    steps = list(range(10, 1010, 10))  # 100 points
    values = [1.0] * 90 + [0.2, 0.4] * 5
    final = final_value(steps, values)
    assert final.points >= 10 and math.isclose(final.mean, 0.3)
    assert final.std is not None and final.std > 0.09
    assert final_value([5], [0.7]).std is None
    # a run of 20 logged points has 2 in its last tenth: too few to measure the noise
    short = final_value(list(range(1, 21)), [0.5] * 20)
    assert short.std is None and short.points == 2


def test_protocol_paper_resolves_to_section_4_2():
    recipe = paper_recipe()
    assert recipe.iterations == 64_000 and recipe.batch_size == 128
    assert [round(m * recipe.iterations) for m in recipe.milestones] == [32_000, 48_000]
    assert recipe.lr == 0.1 and recipe.gamma == 0.1 and recipe.schedule == "step"
    assert recipe.weight_decay == 1e-4 and recipe.momentum == 0.9
    assert recipe.val_size == 5000
    assert PAPER.train_images + PAPER.val_images == 50_000 and PAPER.shortcut == "A"
    full = ImageDataset(torch.zeros(50_000, 1, 1, 1, dtype=torch.uint8),
                        torch.arange(50_000) % 10, [str(i) for i in range(10)], (0.5,), (0.5,),
                        "cifar10")
    train, val = stratified_split(full, val_size_arg(recipe.val_size))  # as a run splits
    assert (len(train), len(val)) == (45_000, 5_000)
    check_paper_data("cifar10", 50_000, 10_000)  # the full dataset passes


def test_protocol_paper_refuses_the_subset_unless_forced(tmp_path, capsys):
    with pytest.raises(ConfigError, match="full CIFAR-10"):
        check_paper_data("cifar10", 4_068, 1_017)
    check_paper_data("cifar10", 4_068, 1_017, force=True)
    assert paper_recipe(train_images=4_068).val_size == pytest.approx(0.1)
    for command in (["train", "--protocol", "paper", "--data", "cifar10"],
                    ["lab", "degradation", "--protocol", "paper", "--out", str(tmp_path / "d")]):
        code = main([*command, "--data-dir", str(CIFAR_DIR)])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1 and "--force" in err and "Traceback" not in err
        assert not (tmp_path / "d").exists() and not Path("runs/resnet20-cifar10").exists()


def test_protocol_paper_refuses_options_that_change_it(capsys):
    code = main(["train", "--protocol", "paper", "--epochs", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "drop --epochs" in err
