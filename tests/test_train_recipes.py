"""Recipes are data: overridable fields, validation with one-line errors, schedule shapes."""

from __future__ import annotations

import pytest

from resnetlab.errors import ConfigError
from resnetlab.train.recipes import (
    RECIPES,
    Recipe,
    field_names,
    get_recipe,
    parse_assignments,
    with_overrides,
)
from resnetlab.train.schedule import ERROR_WINDOW, ErrorWarmup, base_lr, lr_at, weighted_depth


def test_he2016_matches_the_paper_cifar_recipe():
    r = get_recipe("he2016")
    assert (r.lr, r.momentum, r.weight_decay, r.batch_size) == (0.1, 0.9, 1e-4, 128)
    assert r.iterations == 64000 and r.epochs == 0 and r.val_size == 5000
    assert [round(m * r.iterations) for m in r.milestones] == [32000, 48000]
    assert (r.pad, r.flip, r.warmup_lr, r.warmup_until_error) == (4, True, 0.01, 0.8)


def test_he2016_lr_divides_by_ten_at_32k_and_48k():
    r, off = get_recipe("he2016"), ErrorWarmup()
    lrs = [lr_at(r, s / 64000, (s + 1) / 64000, off)
           for s in (0, 31999, 32000, 47999, 48000, 63999)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_error_warmup_holds_lr_until_training_error_below_threshold():
    r = get_recipe("he2016")
    warm = ErrorWarmup.for_recipe(r, depth=110)
    assert warm.active and lr_at(r, 0, 1 / 64000, warm) == pytest.approx(0.01)
    for _ in range(ERROR_WINDOW):
        warm.update(wrong=100, seen=128)  # 78 % error: below 80 %
    assert not warm.active and lr_at(r, 0.001, 0.002, warm) == pytest.approx(0.1)


def test_error_warmup_only_applies_to_deep_models():
    assert not ErrorWarmup.for_recipe(get_recipe("he2016"), depth=56).active


def test_weighted_depth_counts_resnet_layers_as_the_paper_does():
    from resnetlab.models import create_model

    assert weighted_depth(create_model("resnet20")) == 20
    assert weighted_depth(create_model("resnet110")) == 110


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_warmup_then_decay_peaks_at_lr_and_ends_near_final(kind):
    r = Recipe(lr=0.4, schedule=kind, warmup_frac=0.2, milestones=(), final_lr_frac=0.0)
    lrs = [base_lr(r, s, 100) for s in range(100)]
    assert max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 19
    assert all(a <= b for a, b in zip(lrs[:20], lrs[1:20], strict=False))
    assert all(a >= b for a, b in zip(lrs[19:], lrs[20:], strict=False))
    assert lrs[-1] < 0.02


def test_every_field_is_overridable_from_strings():
    r = with_overrides(get_recipe("fast"), parse_assignments(
        ["lr=0.05", "nesterov=false", "milestones=0.3,0.6", "batch_size=64", "cutout=8"]))
    assert (r.lr, r.nesterov, r.milestones, r.batch_size, r.cutout) == (
        0.05, False, (0.3, 0.6), 64, 8)


def test_setting_epochs_clears_iterations_and_vice_versa():
    assert with_overrides(get_recipe("he2016"), {"epochs": "5"}).iterations == 0
    assert with_overrides(get_recipe("fast"), {"iterations": "100"}).epochs == 0


def test_unknown_field_error_lists_valid_fields_on_one_line():
    with pytest.raises(ConfigError) as exc:
        with_overrides(get_recipe("fast"), {"learning_rate": "0.1"})
    msg = str(exc.value)
    assert "learning_rate" in msg and "\n" not in msg
    assert all(name in msg for name in field_names())


@pytest.mark.parametrize("pair, word", [
    ("batch_size=-1", "batch_size"), ("epochs=-2", "epochs"), ("lr=abc", "lr"),
    ("nesterov=maybe", "nesterov"), ("schedule=exp", "schedule"), ("ema=1.5", "ema"),
])
def test_bad_values_raise_config_error_naming_the_field(pair, word):
    with pytest.raises(ConfigError, match=word):
        with_overrides(get_recipe("fast"), parse_assignments([pair]))


def test_malformed_assignment_is_rejected():
    with pytest.raises(ConfigError, match="FIELD=VALUE"):
        parse_assignments(["lr"])


def test_unknown_recipe_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="he2016"):
        get_recipe("nope")


def test_recipes_round_trip_through_json_dicts():
    for recipe in RECIPES.values():
        assert Recipe.from_dict(recipe.to_dict()) == recipe


@pytest.mark.parametrize("pair", ["epochs=0", "iterations=0", "epochs=-1"])
def test_zero_or_negative_length_is_rejected(pair):
    with pytest.raises(ConfigError, match=">= 1"):
        with_overrides(get_recipe("fast"), parse_assignments([pair]))
