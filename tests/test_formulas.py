"""The per-layer parameter formulas add up to the summary's ``params``, row by row."""

from __future__ import annotations

import pytest
from torch import nn
from torch.nn.utils import prune

import resnetlab as rl
from resnetlab.analysis.formulas import evaluate_formula, param_formula
from resnetlab.analysis.summary import summary


@pytest.mark.parametrize("name, size", [("resnet18", (1, 3, 224, 224)),
                                        ("resnet20", (1, 3, 32, 32))])
def test_every_row_formula_gives_its_params(name, size):
    model = rl.create_model(name)
    rows = summary(model, size).rows
    assert rows
    for row in rows:
        if row.container:  # a block row: its layers' rows carry its parameters
            assert (row.params, row.formula) == (0, ""), row
            continue
        formula = param_formula(model.get_submodule(row.name))
        assert formula.partition(" = ")[0] == row.formula, row
        if row.params == 0:
            assert formula == "", row
            continue
        assert formula.endswith(f"= {row.params:,}"), (row.name, formula)
        assert evaluate_formula(formula) == row.params, (row.name, formula)


def test_textbook_forms():
    assert param_formula(nn.Conv2d(3, 64, 7, bias=False)) == "64 × 3 × 7 × 7 = 9,408"
    assert param_formula(nn.Conv2d(8, 16, 3, groups=4)) == "16 × 2 × 3 × 3 + 16 = 304"
    assert param_formula(nn.BatchNorm2d(64)) == "64 × 2 = 128"
    assert param_formula(nn.Linear(512, 1000)) == "512 × 1000 + 1000 = 513,000"
    assert param_formula(nn.ReLU()) == ""
    assert param_formula(nn.LayerNorm(10)) == "10 + 10 = 20"  # other layers: their tensors


def test_pruned_weights_are_subtracted():
    conv = nn.Conv2d(2, 4, 3, bias=False)
    prune.l1_unstructured(conv, "weight", amount=0.5)
    formula = param_formula(conv)
    assert formula == "4 × 2 × 3 × 3 − 36 pruned = 36"
    assert evaluate_formula(formula) == 36
