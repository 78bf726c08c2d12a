"""lab degradation: bookkeeping (same batches, same iterations, the scaling recorded is the one
trained), verdicts that never call noise a result, and the paper's protocol resolved exactly."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from resnetlab.cli import main
from resnetlab.data.dataset import ImageDataset, stratified_split
from resnetlab.errors import ConfigError
from resnetlab.lab import run_experiment
from resnetlab.lab.degradation import scaled_pad
from resnetlab.lab.degradation_schedule import makespan, measure
from resnetlab.lab.inputs import load_lab_data
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
        config = json.loads((Path(result.results["final"][name]["run_dir"]) / "config.json")
                            .read_text())
        assert config["recipe"]["pad"] == scaling["pad"]
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


def test_the_crop_padding_scales_with_the_image():
    """The paper pads 32-pixel images by 4; the scaled experiment keeps that proportion."""
    assert [scaled_pad(side) for side in (32, 16, 12, 8, 4, 64)] == [4, 2, 2, 1, 1, 8]


def test_nets_trained_side_by_side_in_workers_learn_exactly_what_they_learn_one_by_one(tmp_path):
    """``jobs=2`` trains two nets at once in worker processes; each net's curve must be the
    one it has when the four are trained one after the other here (same seed, one thread)."""
    options = dict(quick=True, iterations=10, width=4, image_size=12, threads=1)
    alone, _ = run_experiment("degradation", tmp_path / "alone", jobs=1, **options)
    together, _ = run_experiment("degradation", tmp_path / "together", jobs=2, **options)
    assert alone.results["jobs"] == 1 and together.results["jobs"] == 2
    assert together.results["histories"] == alone.results["histories"]
    assert len({h[-1]["train_loss"] for h in alone.results["history"].values()}) == 4


def test_the_planner_keeps_the_faster_of_one_by_one_and_side_by_side():
    bundle = load_lab_data("digits", None, True, image_size=12).bundle
    recipe = {"val_size": 0, "batch_size": 32, "warmup_min_depth": 0, "pad": 1, "flip": False}
    before = torch.get_num_threads()
    try:
        schedule = measure(bundle, recipe, torch.device("cpu"), 4, threads=None, jobs=2)
    finally:
        torch.set_num_threads(before)
    try:
        assert schedule.serial > 0 and schedule.parallel > 0
        assert schedule.per_iteration == min(schedule.serial, schedule.parallel)
        assert schedule.jobs == (2 if schedule.parallel < schedule.serial else 1)
        assert (schedule.pool is not None) == (schedule.jobs == 2)
        assert sorted(schedule.order) == sorted(NETS)
    finally:
        schedule.close()


def test_makespan_hands_the_longest_nets_out_first():
    seconds = {"plain20": 1.0, "plain56": 3.0, "resnet20": 1.0, "resnet56": 3.0}
    assert makespan(seconds, 1) == 8.0
    assert makespan(seconds, 2) == 4.0  # 3 + 1 on each worker
    assert makespan(seconds, 4) == 3.0
    assert makespan({"a": 5.0, "b": 2.0, "c": 2.0, "d": 1.0}, 2) == 5.0


def test_a_script_without_a_main_guard_gets_a_one_line_fix_not_a_broken_pool(tmp_path):
    """Worker processes import the calling script again: unguarded, each would start the lab
    once more. The user sees which line to add, not ``BrokenProcessPool``."""
    script = tmp_path / "unguarded.py"
    script.write_text("from resnetlab.lab import run_experiment\n"
                      f"run_experiment('degradation', {str(tmp_path / 'out')!r}, quick=True, "
                      "iterations=2, width=4, image_size=12, threads=1, jobs=2)\n")
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("resnetlab.errors.ConfigError: a worker process stopped")
    assert 'if __name__ == "__main__":' in last and "--jobs 1" in last
    assert not (tmp_path / "out" / "results.json").exists()
