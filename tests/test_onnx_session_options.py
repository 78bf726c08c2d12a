"""``benchmarks/onnx_session_options.py`` at toy size: every option set opens a working session
and is timed beside eager, so the figures it gave in docs/benchmarks.md can be measured again."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

from benchmarks import onnx_session_options  # noqa: E402  (the repository root: conftest)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "onnx_session_options.py"


def test_every_option_set_is_timed_beside_eager():
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", "resnet20", "--size", "32",
                           "--repeats", "1", "--min-seconds", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    fractions = {}
    for line in done.stdout.splitlines()[1:]:
        match = re.match(r"(.+?)\s+[\d.]+ ms \(.*\)\s+([\d.]+) of eager$", line)
        assert match, line
        fractions[match.group(1)] = float(match.group(2))
    assert set(fractions) == {*onnx_session_options.VARIANTS, "eager fp32"}
    assert fractions["eager fp32"] == 1.0
    assert all(f > 0 for f in fractions.values())
