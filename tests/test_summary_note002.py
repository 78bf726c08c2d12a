"""``resnetlab summary resnet18`` row for row against the table of the course notes (note 002).

The rows below are transcribed by hand from ``source-notes/002`` ("Arquitectura ResNet-18"):
torchsummary's label (type and number), output shape with batch -1, the note's calculation and
parameter count. The summary must reproduce every one of them, in order, and nothing else.
"""

from __future__ import annotations

import pytest

from resnetlab.analysis.formulas import evaluate_formula
from resnetlab.analysis.summary import summary
from resnetlab.cli import main
from resnetlab.models import create_model

# (label, output shape, calculation ("" for "-"), params) — note 002, rows 1..68.
NOTE_002 = [
    ("Conv2d-1", "[-1, 64, 112, 112]", "64 × 3 × 7 × 7", "9,408"),
    ("BatchNorm2d-2", "[-1, 64, 112, 112]", "64 × 2", "128"),
    ("ReLU-3", "[-1, 64, 112, 112]", "", "0"),
    ("MaxPool2d-4", "[-1, 64, 56, 56]", "", "0"),
    ("Conv2d-5", "[-1, 64, 56, 56]", "64 × 64 × 3 × 3", "36,864"),
    ("BatchNorm2d-6", "[-1, 64, 56, 56]", "64 × 2", "128"),
    ("ReLU-7", "[-1, 64, 56, 56]", "", "0"),
    ("Conv2d-8", "[-1, 64, 56, 56]", "64 × 64 × 3 × 3", "36,864"),
    ("BatchNorm2d-9", "[-1, 64, 56, 56]", "64 × 2", "128"),
    ("ReLU-10", "[-1, 64, 56, 56]", "", "0"),
    ("BasicBlock-11", "[-1, 64, 56, 56]", "", "0"),
    ("Conv2d-12", "[-1, 64, 56, 56]", "64 × 64 × 3 × 3", "36,864"),
    ("BatchNorm2d-13", "[-1, 64, 56, 56]", "64 × 2", "128"),
    ("ReLU-14", "[-1, 64, 56, 56]", "", "0"),
    ("Conv2d-15", "[-1, 64, 56, 56]", "64 × 64 × 3 × 3", "36,864"),
    ("BatchNorm2d-16", "[-1, 64, 56, 56]", "64 × 2", "128"),
    ("ReLU-17", "[-1, 64, 56, 56]", "", "0"),
    ("BasicBlock-18", "[-1, 64, 56, 56]", "", "0"),
    ("Conv2d-19", "[-1, 128, 28, 28]", "128 × 64 × 3 × 3", "73,728"),
    ("BatchNorm2d-20", "[-1, 128, 28, 28]", "128 × 2", "256"),
    ("ReLU-21", "[-1, 128, 28, 28]", "", "0"),
    ("Conv2d-22", "[-1, 128, 28, 28]", "128 × 128 × 3 × 3", "147,456"),
    ("BatchNorm2d-23", "[-1, 128, 28, 28]", "128 × 2", "256"),
    ("Conv2d-24", "[-1, 128, 28, 28]", "128 × 64 × 1 × 1", "8,192"),
    ("BatchNorm2d-25", "[-1, 128, 28, 28]", "128 × 2", "256"),
    ("ReLU-26", "[-1, 128, 28, 28]", "", "0"),
    ("BasicBlock-27", "[-1, 128, 28, 28]", "", "0"),
    ("Conv2d-28", "[-1, 128, 28, 28]", "128 × 128 × 3 × 3", "147,456"),
    ("BatchNorm2d-29", "[-1, 128, 28, 28]", "128 × 2", "256"),
    ("ReLU-30", "[-1, 128, 28, 28]", "", "0"),
    ("Conv2d-31", "[-1, 128, 28, 28]", "128 × 128 × 3 × 3", "147,456"),
    ("BatchNorm2d-32", "[-1, 128, 28, 28]", "128 × 2", "256"),
    ("ReLU-33", "[-1, 128, 28, 28]", "", "0"),
    ("BasicBlock-34", "[-1, 128, 28, 28]", "", "0"),
    ("Conv2d-35", "[-1, 256, 14, 14]", "256 × 128 × 3 × 3", "294,912"),
    ("BatchNorm2d-36", "[-1, 256, 14, 14]", "256 × 2", "512"),
    ("ReLU-37", "[-1, 256, 14, 14]", "", "0"),
    ("Conv2d-38", "[-1, 256, 14, 14]", "256 × 256 × 3 × 3", "589,824"),
    ("BatchNorm2d-39", "[-1, 256, 14, 14]", "256 × 2", "512"),
    ("Conv2d-40", "[-1, 256, 14, 14]", "256 × 128 × 1 × 1", "32,768"),
    ("BatchNorm2d-41", "[-1, 256, 14, 14]", "256 × 2", "512"),
    ("ReLU-42", "[-1, 256, 14, 14]", "", "0"),
    ("BasicBlock-43", "[-1, 256, 14, 14]", "", "0"),
    ("Conv2d-44", "[-1, 256, 14, 14]", "256 × 256 × 3 × 3", "589,824"),
    ("BatchNorm2d-45", "[-1, 256, 14, 14]", "256 × 2", "512"),
    ("ReLU-46", "[-1, 256, 14, 14]", "", "0"),
    ("Conv2d-47", "[-1, 256, 14, 14]", "256 × 256 × 3 × 3", "589,824"),
    ("BatchNorm2d-48", "[-1, 256, 14, 14]", "256 × 2", "512"),
    ("ReLU-49", "[-1, 256, 14, 14]", "", "0"),
    ("BasicBlock-50", "[-1, 256, 14, 14]", "", "0"),
    ("Conv2d-51", "[-1, 512, 7, 7]", "512 × 256 × 3 × 3", "1,179,648"),
    ("BatchNorm2d-52", "[-1, 512, 7, 7]", "512 × 2", "1,024"),
    ("ReLU-53", "[-1, 512, 7, 7]", "", "0"),
    ("Conv2d-54", "[-1, 512, 7, 7]", "512 × 512 × 3 × 3", "2,359,296"),
    ("BatchNorm2d-55", "[-1, 512, 7, 7]", "512 × 2", "1,024"),
    ("Conv2d-56", "[-1, 512, 7, 7]", "512 × 256 × 1 × 1", "131,072"),
    ("BatchNorm2d-57", "[-1, 512, 7, 7]", "512 × 2", "1,024"),
    ("ReLU-58", "[-1, 512, 7, 7]", "", "0"),
    ("BasicBlock-59", "[-1, 512, 7, 7]", "", "0"),
    ("Conv2d-60", "[-1, 512, 7, 7]", "512 × 512 × 3 × 3", "2,359,296"),
    ("BatchNorm2d-61", "[-1, 512, 7, 7]", "512 × 2", "1,024"),
    ("ReLU-62", "[-1, 512, 7, 7]", "", "0"),
    ("Conv2d-63", "[-1, 512, 7, 7]", "512 × 512 × 3 × 3", "2,359,296"),
    ("BatchNorm2d-64", "[-1, 512, 7, 7]", "512 × 2", "1,024"),
    ("ReLU-65", "[-1, 512, 7, 7]", "", "0"),
    ("BasicBlock-66", "[-1, 512, 7, 7]", "", "0"),
    ("AdaptiveAvgPool2d-67", "[-1, 512, 1, 1]", "", "0"),
    ("Linear-68", "[-1, 1000]", "512 × 1000 + 1000", "513,000"),
]
NOTE_002_TOTAL = "11,689,512"


@pytest.fixture(scope="module")
def rows():
    return summary(create_model("resnet18"), (1, 3, 224, 224)).rows


def test_every_row_matches_note_002(rows):
    ours = [(r.label, str([-1, *r.output_shape[1:]]), r.formula, f"{r.params:,}") for r in rows]
    assert len(ours) == len(NOTE_002)
    for got, want in zip(ours, NOTE_002, strict=True):
        assert got == want


def test_note_002_calculations_add_up_to_its_total(rows):
    total = sum(evaluate_formula(calc) for _, _, calc, _ in NOTE_002 if calc)
    assert f"{total:,}" == NOTE_002_TOTAL
    assert sum(r.params for r in rows) == total


def test_block_rows_close_their_layers(rows):
    blocks = [r for r in rows if r.container]
    assert [r.name for r in blocks] == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    for block in blocks:
        i = rows.index(block)
        assert rows[i - 1].name.startswith(block.name + ".")  # its last layer ran just before
        assert (block.params, block.macs, block.formula) == (0, 0, "")


def test_cli_table_prints_the_notes_rows_and_the_calculation_column(capsys):
    assert main(["summary", "resnet18", "--formula"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    assert header[:2] == ["Layer", "(type)"] and "Calculation" in header
    body = [line for line in lines[3:] if line.split() and line.split()[0][-1].isdigit()]
    assert [line.split()[0] for line in body[: len(NOTE_002)]] == [r[0] for r in NOTE_002]
    for line, (label, shape, calc, params) in zip(body, NOTE_002, strict=False):
        assert line.startswith(label) and shape in line and line.rstrip().split()[-2] == params
        assert (calc or "-") in line
        assert "Identity" not in line  # the unused dropout placeholder is hidden
