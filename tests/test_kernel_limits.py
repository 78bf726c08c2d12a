"""``benchmarks/kernel_limits.py`` at toy sizes: every conv of the net timed in its three passes,
every BatchNorm shape timed forward and backward, totals that add up — so the script behind
docs/benchmarks.md's kernel table cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from torch import nn

from resnetlab.models import create_model

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "kernel_limits.py"


def test_every_kernel_of_the_net_is_timed_and_the_totals_add_up(tmp_path):
    out = tmp_path / "limits.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", "resnet20", "--batch", "2",
                           "--size", "8", "--threads", "1", "--repeats", "1", "--json",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    model = create_model("resnet20", num_classes=10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    conv_rows = [r for r in report["rows"] if r["kind"] == "conv"]
    norm_rows = [r for r in report["rows"] if r["kind"] == "norm"]
    # each conv shape in its three passes, the counts covering every conv of the net once
    assert {r["pass"] for r in conv_rows} == {"forward", "input grad", "weight grad"}
    assert sum(r["count"] for r in conv_rows if r["pass"] == "forward") == len(convs)
    assert sum(r["count"] for r in norm_rows if r["pass"] == "BN+ReLU forward") == len(norms)
    assert all(r["ms"] > 0 for r in report["rows"])
    totals = report["totals_ms"]
    conv_now = sum(r["count"] * r["ms"] for r in conv_rows)
    assert abs(totals["conv now"] - conv_now) < 1e-6 * max(1.0, conv_now)
    assert 0 < totals["conv at GEMM rate"] and 0 < totals["BN+ReLU fused floor"]
    assert "per step (ms): conv now" in done.stdout
