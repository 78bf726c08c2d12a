"""The fast recipe's length rules, and the first-epoch divergence warning."""

from __future__ import annotations

import pytest
import torch

from resnetlab.data import load
from resnetlab.models import create_model
from resnetlab.train import train
from resnetlab.train.fit import fit_batch_size, fit_recipe
from resnetlab.train.recipes import get_recipe, with_overrides

FAST = get_recipe("fast")


@pytest.mark.parametrize("images, batch", [(1003, 32), (4068, 128), (50000, 128), (300, 16)])
def test_automatic_batch_gives_enough_steps_per_epoch(images, batch):
    assert fit_batch_size(FAST, images) == batch
    assert fit_batch_size(with_overrides(FAST, {"batch_size": 96}), images) == 96


@pytest.mark.parametrize("total", [10, 35, 100, 400, 2000, 20000, 200000])
def test_the_evaluated_ema_is_never_mostly_the_initial_weights(total):
    fitted = fit_recipe(FAST, total, 31, 32, 128)
    if fitted.ema == 0:
        return
    # weight of the initial weights in the EMA after `total` updates (ModelEma's ramp included)
    weight = 1.0
    for n in range(1, total + 1):
        weight *= min(fitted.ema, (1 + n) / (10 + n))
    assert weight < 0.01


def test_short_runs_get_a_lower_peak_and_no_crop_long_runs_more():
    short = fit_recipe(FAST, 3 * 31, 31, 32, 128)
    long = fit_recipe(FAST, 100 * 31, 31, 32, 128)
    assert short.lr < long.lr and short.pad == 0 and long.pad == 4 and long.cutout == 8
    assert short.label_smoothing < long.label_smoothing and not short.adapt


def test_fields_set_by_the_user_are_pinned():
    mine = with_overrides(FAST, {"lr": 0.33, "pad": 3})
    fitted = fit_recipe(mine, 3 * 31, 31, 32, 128)
    assert (fitted.lr, fitted.pad) == (0.33, 3) and fitted.label_smoothing == 0.1


@pytest.mark.parametrize("lr, warned", [(10.0, True), (None, False)])
def test_a_rising_first_epoch_loss_prints_one_warning_line_with_the_fix(tmp_path, capsys,
                                                                        lr, warned):
    torch.manual_seed(0)
    model = create_model("resnet20", depth=8, widths=(8, 16, 32), stem_width=8, num_classes=10,
                         in_chans=1)
    bad = {"lr": lr, "warmup_frac": 0.0, "label_smoothing": 0.0} if lr else {}
    run = train(model, load("digits", image_size=8), "fast", tmp_path / "run", epochs=2,
                quiet=True, overrides=bad)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert len(lines) == int(warned)
    if warned:
        assert "first epoch" in lines[0] and "--lr 2.5" in lines[0]
        assert run.history[0]["train_loss"] > 2.3
