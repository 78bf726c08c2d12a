"""``benchmarks/arithmetic_bound.py``: the hand-written FMA loop really does the arithmetic it
counts, and the script's report (what share of the peak each target needs) is computed from
its own timings — at toy sizes, so the script behind docs/benchmarks.md cannot rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import arithmetic_bound  # the repository root is on sys.path (conftest)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "arithmetic_bound.py"


def _expected_checksum(rounds: int) -> float:
    """Lane 0 of fma_peak.c's 12 chains, summed: chain i starts at i and becomes ``a * m + c``
    (one rounding to float32, as an FMA) each round, replayed here in NumPy."""
    m, c = np.float64(np.float32(0.999999)), np.float64(np.float32(1e-7))
    chains = np.arange(12, dtype=np.float32)
    for _ in range(rounds):  # the float32 x float32 product is exact in float64
        chains = (chains.astype(np.float64) * m + c).astype(np.float32)
    total = chains[0]
    for value in chains[1:]:  # the kernel adds the chains one by one, in float32
        total = np.float32(total + value)
    return float(total)


@pytest.mark.parametrize("rounds", [1, 1000, 100_000])
def test_the_peak_kernel_does_every_fma_it_counts(tmp_path, rounds):
    kernel = arithmetic_bound.PeakKernel(tmp_path)
    flops = kernel.run(rounds, 2)
    # 12 chains of 8 (AVX2) or 16 (AVX-512) lanes, 2 FLOPs per FMA, per round and thread
    assert kernel.per_round in (2 * 12 * 8, 2 * 12 * 16)
    assert flops == kernel.per_round * rounds * 2
    # every thread ran the whole recurrence: the checksum is its closed form, once per thread
    assert kernel.checksum == pytest.approx(2 * _expected_checksum(rounds), rel=1e-6)
    kernel.run(rounds, 1)
    assert kernel.checksum == pytest.approx(_expected_checksum(rounds), rel=1e-6)


def test_the_report_says_what_share_of_the_peak_each_target_needs(tmp_path):
    out = tmp_path / "bound.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", "--train-models", "resnet20",
         "--train-batch", "2", "--train-size", "8", "--infer-model", "resnet20",
         "--infer-size", "8", "--infer-batch", "2", "--engines", "onnx", "--rounds", "10000",
         "--repeats", "1", "--min-seconds", "0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    rows, needs = report["rows"], report["needs"]
    assert set(rows) == {"fma peak", "train resnet20: stock eager fp32",
                         f"train resnet20: {_resnetlab_label()}",
                         "resnet20 b2: eager fp32", "resnet20 b1: eager fp32",
                         "resnet20 b2: onnx", "resnet20 b1: onnx"}
    peak = report["peak_gflops"]
    assert rows["fma peak"]["of_peak"] == pytest.approx(1.0)
    assert rows["fma peak"]["gflops"] == pytest.approx(peak)
    for row in rows.values():
        assert row["of_peak"] == pytest.approx(row["gflops"] / peak)
    # the targets: 2.6x stock training, 2.5x eager at the batch, half eager's batch-1 latency
    assert needs["train resnet20: stock eager fp32"]["of_peak"] == pytest.approx(
        2.6 * rows["train resnet20: stock eager fp32"]["of_peak"])
    assert needs["resnet20 b2: eager fp32"]["of_peak"] == pytest.approx(
        2.5 * rows["resnet20 b2: eager fp32"]["of_peak"])
    assert needs["resnet20 b1: eager fp32"]["of_peak"] == pytest.approx(
        2.0 * rows["resnet20 b1: eager fp32"]["of_peak"])
    assert set(needs) == {"train resnet20: stock eager fp32", "resnet20 b2: eager fp32",
                          "resnet20 b1: eager fp32"}
    assert "needs" in done.stdout and "% of the fp32 peak" in done.stdout


def _resnetlab_label() -> str:
    import torch

    from resnetlab.bench.training import resnetlab_path

    return resnetlab_path(torch.device("cpu")).label
